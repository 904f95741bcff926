//! `confrere journal`: the patient's access journal, as text, JSON, CSV or
//! a FHIR R4 Bundle of AuditEvent resources.

use std::process::ExitCode;

use confrere_node::api::journal_model::JournalLine;
use serde_json::{json, Value};

use crate::cli::{JournalArgs, JournalFormat};
use crate::client::Client;
use crate::error::{CliError, EXIT_OK};

/// Runs `journal`.
pub(crate) fn run(args: &JournalArgs) -> Result<ExitCode, CliError> {
    let client = Client::connect(&args.home.home)?;
    let lines = client.journal(args.patient_ins.trim())?;
    match args.format {
        JournalFormat::Text => print_text(&lines),
        JournalFormat::Json => outln!("{}", to_pretty(&json!(lines))),
        JournalFormat::Csv => out!("{}", to_csv(&lines)),
        JournalFormat::Fhir => outln!("{}", to_pretty(&to_fhir(&lines))),
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// Runs `purge`.
pub(crate) fn purge(args: &crate::cli::PurgeArgs) -> Result<ExitCode, CliError> {
    let client = Client::connect(&args.home.home)?;
    let report = client.purge(args.dry_run)?;
    if args.json {
        outln!("{}", to_pretty(&json!(report)));
        return Ok(ExitCode::from(EXIT_OK));
    }
    if report.dossiers.is_empty() {
        outln!(
            "No dossier is past its retention period ({} years after the last event).",
            report.retention_years
        );
    }
    for d in &report.dossiers {
        outln!(
            "{} {}  {}  last event {}",
            if d.erased { "erased" } else { "would erase" },
            clean(d.dossier_id.get(..12).unwrap_or(&d.dossier_id)),
            clean(&d.box_name),
            clean(&d.last_event)
        );
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn to_pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Strips control characters from text that came from the daemon.
fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

fn print_text(lines: &[JournalLine]) {
    if lines.is_empty() {
        outln!("No event about this patient is recorded on this node.");
        return;
    }
    for l in lines {
        let who = match &l.who_name {
            Some(n) => format!("{} ({})", clean(n), clean(&l.who)),
            None => clean(&l.who),
        };
        let dossier = l
            .dossier_id
            .as_deref()
            .map(|d| format!(" [dossier {}]", clean(d.get(..12).unwrap_or(d))))
            .unwrap_or_default();
        outln!(
            "{}  {}  {}{}  #{} {}",
            clean(&l.time),
            who,
            clean(&l.what),
            dossier,
            l.seq,
            clean(l.entry_hash.get(..16).unwrap_or(&l.entry_hash))
        );
    }
    outln!(
        "Recorded on node {} ({}).",
        clean(&lines[0].node),
        clean(&lines[0].node_peer_id)
    );
}

fn csv_field(s: &str) -> String {
    let s = clean(s);
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// CSV with a header line.
pub(crate) fn to_csv(lines: &[JournalLine]) -> String {
    let mut out = String::from(
        "seq,time,who,who_name,kind,what,dossier_id,consent_id,node,node_peer_id,entry_hash\n",
    );
    for l in lines {
        let fields = [
            l.seq.to_string(),
            l.time.clone(),
            l.who.clone(),
            l.who_name.clone().unwrap_or_default(),
            l.kind.clone(),
            l.what.clone(),
            l.dossier_id.clone().unwrap_or_default(),
            l.consent_id.clone().unwrap_or_default(),
            l.node.clone(),
            l.node_peer_id.clone(),
            l.entry_hash.clone(),
        ];
        out.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

/// The DICOM audit event type and FHIR action of a ledger kind.
fn event_type(kind: &str) -> (&'static str, &'static str, &'static str) {
    match kind {
        "dossier_sent" | "dossier_exported" => ("110106", "Export", "R"),
        "dossier_received" | "dossier_delivered" => ("110107", "Import", "C"),
        "dossier_opened" => ("110110", "Patient Record", "R"),
        "dossier_erased" | "retention_purge" | "erasure_receipt_received" => {
            ("110110", "Patient Record", "D")
        }
        _ => ("110110", "Patient Record", "E"),
    }
}

/// A FHIR R4 Bundle (type collection) of AuditEvent resources.
pub(crate) fn to_fhir(lines: &[JournalLine]) -> Value {
    let entries: Vec<Value> = lines
        .iter()
        .map(|l| {
            let (code, display, action) = event_type(&l.kind);
            let mut entity = vec![json!({
                "what": { "identifier": { "system": "urn:confrere:ledger-entry-sha256", "value": l.entry_hash } },
                "name": "ledger entry",
                "description": format!("ledger entry {} of node {}", l.seq, l.node_peer_id),
            })];
            if let Some(d) = &l.dossier_id {
                entity.push(json!({
                    "what": { "identifier": { "system": "urn:confrere:dossier", "value": d } },
                    "name": "dossier",
                }));
            }
            json!({
                "fullUrl": format!("urn:confrere:ledger:{}:{}", l.node_peer_id, l.seq),
                "resource": {
                    "resourceType": "AuditEvent",
                    "type": {
                        "system": "http://dicom.nema.org/resources/ontology/DCM",
                        "code": code,
                        "display": display,
                    },
                    "subtype": [{ "system": "urn:confrere:ledger-kind", "code": l.kind }],
                    "action": action,
                    "recorded": l.time,
                    "outcome": "0",
                    "outcomeDesc": l.what,
                    "agent": [{
                        "who": {
                            "identifier": { "system": "urn:oid:1.2.250.1.71.4.2.1", "value": l.who },
                            "display": l.who_name.clone().unwrap_or_else(|| l.who.clone()),
                        },
                        "requestor": true,
                    }],
                    "source": {
                        "observer": { "display": format!("Confrère node of {} ({})", l.node, l.node_peer_id) },
                    },
                    "entity": entity,
                }
            })
        })
        .collect();
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "total": entries.len(),
        "entry": entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> JournalLine {
        JournalLine {
            seq: 3,
            time: "2026-01-02T03:04:05Z".into(),
            kind: "dossier_opened".into(),
            what: "opened the dossier".into(),
            who: "810001000024".into(),
            who_name: Some("PAUL, \"DR\" LEROY".into()),
            dossier_id: Some("ab".repeat(16)),
            consent_id: None,
            node: "810001000024".into(),
            node_peer_id: "12D3KooWtest".into(),
            entry_hash: "cd".repeat(32),
        }
    }

    #[test]
    fn csv_quotes_fields() {
        let csv = to_csv(&[sample()]);
        let mut lines = csv.lines();
        assert!(lines.next().unwrap_or("").starts_with("seq,time,who"));
        let row = lines.next().unwrap_or("");
        assert!(row.contains("\"PAUL, \"\"DR\"\" LEROY\""), "{row}");
        assert!(row.ends_with(&"cd".repeat(32)));
    }

    #[test]
    fn fhir_bundle_has_audit_events() {
        let b = to_fhir(&[sample()]);
        assert_eq!(b["resourceType"], "Bundle");
        assert_eq!(b["total"], 1);
        let ev = &b["entry"][0]["resource"];
        assert_eq!(ev["resourceType"], "AuditEvent");
        assert_eq!(ev["type"]["code"], "110110");
        assert_eq!(ev["recorded"], "2026-01-02T03:04:05Z");
        assert_eq!(ev["agent"][0]["who"]["identifier"]["value"], "810001000024");
        assert_eq!(
            ev["entity"][0]["what"]["identifier"]["value"],
            "cd".repeat(32)
        );
    }
}
