//! The pages' templates (askama, compiled with the node: a template that
//! names a missing field does not build) and the rows they show.

use askama::Template;

use super::i18n::Tr;
use crate::api::model::{DocumentInfo, InboxItem, Status};

/// Every template's source, for the catalogue's test.
#[cfg(test)]
pub(super) const TEMPLATE_SOURCES: &[&str] = &[
    include_str!("templates/layout.html"),
    include_str!("templates/error.html"),
    include_str!("templates/inbox.html"),
    include_str!("templates/dossier.html"),
    include_str!("templates/node.html"),
];

/// An error page: what happened and what to do.
#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage<'a> {
    pub(crate) tr: Tr,
    /// The session's CSRF token, empty without a session (no navigation).
    pub(crate) csrf: &'a str,
    pub(crate) message: &'a str,
    pub(crate) hint: &'a str,
}

/// One line of the inbox.
pub(crate) struct InboxRow {
    pub(crate) id: String,
    pub(crate) status: String,
    pub(crate) urgent: bool,
    pub(crate) patient: String,
    pub(crate) birth_date: String,
    pub(crate) reason: String,
    pub(crate) from_name: String,
    pub(crate) from: String,
    pub(crate) received_at: String,
}

/// The inbox.
#[derive(Template)]
#[template(path = "inbox.html")]
pub(crate) struct InboxPage<'a> {
    pub(crate) tr: Tr,
    pub(crate) csrf: &'a str,
    pub(crate) rows: Vec<InboxRow>,
    pub(crate) new_count: usize,
}

impl<'a> InboxPage<'a> {
    /// The page of `items`: urgent first, then newest.
    pub(crate) fn new(tr: Tr, csrf: &'a str, mut items: Vec<InboxItem>) -> Self {
        order(&mut items);
        let new_count = items.iter().filter(|i| i.status == "new").count();
        let rows = items
            .into_iter()
            .map(|i| InboxRow {
                patient: format!("{} {}", i.patient.family, i.patient.given),
                birth_date: i.patient.birth_date,
                id: i.id,
                status: i.status,
                urgent: i.urgent,
                reason: i.reason,
                from_name: i.from_name,
                from: i.from,
                received_at: i.received_at,
            })
            .collect();
        InboxPage {
            tr,
            csrf,
            rows,
            new_count,
        }
    }
}

/// Urgent first, then newest (RFC 3339 times of one format sort as text).
pub(crate) fn order(items: &mut [InboxItem]) {
    items.sort_by(|a, b| {
        b.urgent
            .cmp(&a.urgent)
            .then_with(|| b.received_at.cmp(&a.received_at))
    });
}

/// A document's line.
pub(crate) struct DocRow {
    pub(crate) name: String,
    pub(crate) media_type: String,
    /// Human size (`1.5 MiB`).
    pub(crate) size: String,
    pub(crate) bytes: u64,
}

/// One dossier.
#[derive(Template)]
#[template(path = "dossier.html")]
pub(crate) struct DossierPage<'a> {
    pub(crate) tr: Tr,
    pub(crate) csrf: &'a str,
    pub(crate) short_id: String,
    pub(crate) docs: Vec<DocRow>,
    /// Accept and decline are offered (a new or opened referral).
    pub(crate) can_decide: bool,
    pub(crate) item: InboxItem,
}

impl<'a> DossierPage<'a> {
    /// The page of one item.
    pub(crate) fn new(tr: Tr, csrf: &'a str, item: InboxItem) -> Self {
        let docs = item.documents.iter().map(doc_row).collect();
        DossierPage {
            tr,
            csrf,
            short_id: item.id.chars().take(12).collect(),
            docs,
            can_decide: matches!(item.status.as_str(), "new" | "opened")
                && item.in_reply_to.is_none(),
            item,
        }
    }
}

fn doc_row(d: &DocumentInfo) -> DocRow {
    DocRow {
        name: d.name.clone(),
        media_type: d.media_type.clone(),
        size: human_size(d.size),
        bytes: d.size,
    }
}

/// `512 B`, `1.5 KiB`, `20.0 MiB`, `1.2 GiB`.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The node page.
#[derive(Template)]
#[template(path = "node.html")]
pub(crate) struct NodePage<'a> {
    pub(crate) tr: Tr,
    pub(crate) csrf: &'a str,
    pub(crate) status: Status,
    pub(crate) peers: usize,
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;
    use crate::api::model::PatientSummary;

    fn item(id: &str, urgent: bool, at: &str) -> InboxItem {
        InboxItem {
            id: id.into(),
            from: "810000000001".into(),
            from_name: "Jeanne <Martin>".into(),
            patient: PatientSummary {
                ins: "1".into(),
                family: "Dupont".into(),
                given: "Marie".into(),
                birth_date: "1960-01-01".into(),
                sex: "F".into(),
            },
            reason: "<script>alert(1)</script>".into(),
            urgent,
            status: "new".into(),
            received_at: at.into(),
            documents: vec![],
            in_reply_to: None,
            letter: None,
            decline_reason: None,
        }
    }

    #[test]
    fn urgent_first_then_newest() {
        let mut items = vec![
            item("old", false, "2026-01-01T00:00:00Z"),
            item("new", false, "2026-03-01T00:00:00Z"),
            item("urgent-old", true, "2025-01-01T00:00:00Z"),
        ];
        order(&mut items);
        let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["urgent-old", "new", "old"]);
    }

    #[test]
    fn what_a_colleague_typed_is_escaped() {
        let page = InboxPage::new(
            Tr(super::super::i18n::Lang::Fr),
            "t",
            vec![item("a", false, "2026-01-01T00:00:00Z")],
        );
        let html = page.render().unwrap();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("alert(1)"));
        assert!(html.contains("1 nouveau"));
    }

    #[test]
    fn sizes_read_as_people_read_them() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(20 * 1024 * 1024), "20.0 MiB");
    }
}
