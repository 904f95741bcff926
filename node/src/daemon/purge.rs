//! Retention: dossiers are kept a number of years (config `[retention]
//! years`, 20 by default, read again at each purge) after the last event about them; `purge` erases
//! those past it (key first, then chunks) and records each purge in the
//! ledger. The records stay, marked, so the journal still tells the story.

use std::collections::HashMap;

use confrere_protocol::dossier::{DossierId, Ins};
use confrere_protocol::ledger::EntryKind;

use super::common::{internal, now, rfc3339, store_err};
use super::engine::Engine;
use super::records::{InboxRecord, InboxStatus};
use crate::api::model::ApiError;
use crate::api::purge_model::{PurgeReport, PurgeRequest, PurgedDossier};
use crate::store::Tree;

const SECS_PER_YEAR: i64 = 365 * 24 * 3600 + 6 * 3600;

pub(crate) async fn purge(engine: &Engine, req: PurgeRequest) -> Result<PurgeReport, ApiError> {
    // Read again, so that a change applies without a restart; a file that
    // has become invalid refuses the purge, never falls back to a default.
    let years = crate::config::Config::load(&engine.home.dir)
        .map_err(|e| ApiError::new("refused", e.to_string(), e.hint()))?
        .retention
        .years;
    let cutoff = now().as_secs() - i64::from(years) * SECS_PER_YEAR;
    // The last event about each dossier, from the ledger.
    let ledger = engine.ledger.clone();
    let entries = tokio::task::spawn_blocking(move || ledger.entries(None))
        .await
        .map_err(internal)?
        .map_err(ApiError::from)?;
    let mut last: HashMap<DossierId, i64> = HashMap::new();
    let mut purged_already: Vec<DossierId> = Vec::new();
    for e in &entries {
        if let Some(d) = e.kind.dossier_id() {
            let t = last.entry(d).or_insert(i64::MIN);
            *t = (*t).max(e.time.as_secs());
            if matches!(e.kind, EntryKind::RetentionPurge { .. }) {
                purged_already.push(d);
            }
        }
    }
    let mut report = PurgeReport {
        retention_years: years,
        dossiers: Vec::new(),
    };
    let mut candidates: Vec<(DossierId, String, Option<Ins>)> = Vec::new();
    for r in engine.inbox_records()? {
        if let Ok(d) = DossierId::parse_hex(&r.id) {
            candidates.push((d, "inbox".into(), Ins::parse(&r.ins).ok()));
        }
    }
    for r in engine.outbox_records()? {
        if let Ok(d) = DossierId::parse_hex(&r.id) {
            candidates.push((d, "outbox".into(), None));
        }
    }
    for (d, box_name, ins) in candidates {
        if purged_already.contains(&d) {
            continue;
        }
        let Some(&t) = last.get(&d) else { continue };
        if t > cutoff {
            continue;
        }
        let mut erased = false;
        if !req.dry_run {
            let _ = engine.store.destroy_key(d.as_bytes());
            let _ = engine.store.remove_chunks(d.as_bytes());
            if let Ok(Some(mut rec)) = engine.store.get::<InboxRecord>(Tree::Inbox, d.as_bytes()) {
                rec.status = InboxStatus::Revoked;
                rec.decline_reason = Some("purged at the end of its retention period".into());
                engine
                    .store
                    .put(Tree::Inbox, d.as_bytes(), &rec)
                    .map_err(store_err)?;
            }
            let patient_ins = match ins {
                Some(i) => i,
                None => patient_of(&entries, &d)
                    .ok_or_else(|| internal("a dossier without a patient"))?,
            };
            engine
                .record(EntryKind::RetentionPurge {
                    dossier_id: d,
                    patient_ins,
                })
                .await?;
            erased = true;
        }
        report.dossiers.push(PurgedDossier {
            dossier_id: d.to_string(),
            box_name,
            last_event: rfc3339(t),
            erased,
        });
    }
    engine.flush().await.map_err(store_err)?;
    Ok(report)
}

fn patient_of(entries: &[confrere_protocol::ledger::LedgerEntry], d: &DossierId) -> Option<Ins> {
    entries
        .iter()
        .filter(|e| e.kind.dossier_id().as_ref() == Some(d))
        .find_map(|e| e.kind.patient_ins().cloned())
}
