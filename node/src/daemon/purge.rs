//! Retention: dossiers are kept a number of years (config `[retention]
//! years`, 20 by default, read again at each purge) after the last event about them; `purge` erases
//! those past it (key first, then chunks) and records each purge in the
//! ledger. The records stay, marked, so the journal still tells the story.

use std::collections::HashMap;

use confrere_protocol::dossier::{DossierId, Ins};
use confrere_protocol::ledger::EntryKind;
use confrere_protocol::UnixTime;

use super::common::now;
use super::engine::Engine;
use super::records::{InboxRecord, InboxStatus, OutboxRecord};
use crate::config::ConfigError;
use crate::fault::{Code, Fault};
use crate::ledger::LedgerError;
use crate::store::{StoreError, Tree};

const SECS_PER_YEAR: i64 = 365 * 24 * 3600 + 6 * 3600;

/// Why a purge failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum PurgeError {
    /// config.toml cannot be read or is invalid: the retention period is
    /// not known, so nothing is purged.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The ledger names a dossier without its patient.
    #[error("a dossier without a patient")]
    NoPatient,
}

impl Fault for PurgeError {
    fn code(&self) -> Code {
        match self {
            PurgeError::Config(_) => Code::Refused,
            PurgeError::Store(e) => e.code(),
            PurgeError::Ledger(e) => e.code(),
            PurgeError::NoPatient => Code::Internal,
        }
    }

    fn hint(&self) -> String {
        match self {
            PurgeError::Config(e) => e.hint(),
            PurgeError::Store(e) => Fault::hint(e),
            PurgeError::Ledger(e) => Fault::hint(e),
            PurgeError::NoPatient => {
                "see the daemon's log; if it persists, restart the daemon".into()
            }
        }
    }
}

/// One dossier past its retention period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PurgedDossier {
    /// The dossier.
    pub dossier_id: DossierId,
    /// `inbox` or `outbox`.
    pub box_name: &'static str,
    /// The last event about it.
    pub last_event: UnixTime,
    /// Whether it was erased (false in a dry run).
    pub erased: bool,
}

/// What a purge did, or would do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Purged {
    /// The retention period applied, in years.
    pub retention_years: u32,
    /// The dossiers past it.
    pub dossiers: Vec<PurgedDossier>,
}

/// Erases the dossiers past their retention period (only lists them if
/// `dry_run`).
pub(crate) async fn purge(engine: &Engine, dry_run: bool) -> Result<Purged, PurgeError> {
    // Read again, so that a change applies without a restart; a file that
    // has become invalid refuses the purge, never falls back to a default.
    let years = crate::config::Config::load(&engine.home.dir)?
        .retention
        .years;
    let cutoff = now().as_secs() - i64::from(years) * SECS_PER_YEAR;
    // The last event about each dossier, from the ledger.
    let ledger = engine.ledger.clone();
    let entries = tokio::task::spawn_blocking(move || ledger.entries(None))
        .await
        .map_err(|e| LedgerError::Task(e.to_string()))??;
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
    let mut report = Purged {
        retention_years: years,
        dossiers: Vec::new(),
    };
    let mut candidates: Vec<(DossierId, &'static str, Option<Ins>)> = Vec::new();
    for (_, r) in engine.store.scan::<InboxRecord>(Tree::Inbox)? {
        if let Ok(d) = DossierId::parse_hex(&r.id) {
            candidates.push((d, "inbox", Ins::parse(&r.ins).ok()));
        }
    }
    for (_, r) in engine.store.scan::<OutboxRecord>(Tree::Outbox)? {
        if let Ok(d) = DossierId::parse_hex(&r.id) {
            candidates.push((d, "outbox", None));
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
        if !dry_run {
            let _ = engine.store.destroy_key(d.as_bytes());
            let _ = engine.store.remove_chunks(d.as_bytes());
            if let Ok(Some(mut rec)) = engine.store.get::<InboxRecord>(Tree::Inbox, d.as_bytes()) {
                rec.status = InboxStatus::Revoked;
                rec.decline_reason = Some("purged at the end of its retention period".into());
                engine.store.put(Tree::Inbox, d.as_bytes(), &rec)?;
            }
            let patient_ins = match ins {
                Some(i) => i,
                None => patient_of(&entries, &d).ok_or(PurgeError::NoPatient)?,
            };
            engine
                .ledger
                .append_async(
                    EntryKind::RetentionPurge {
                        dossier_id: d,
                        patient_ins,
                    },
                    now(),
                )
                .await?;
            erased = true;
        }
        report.dossiers.push(PurgedDossier {
            dossier_id: d,
            box_name,
            last_event: UnixTime::from_secs(t),
            erased,
        });
    }
    engine.flush().await?;
    Ok(report)
}

fn patient_of(entries: &[confrere_protocol::ledger::LedgerEntry], d: &DossierId) -> Option<Ins> {
    entries
        .iter()
        .filter(|e| e.kind.dossier_id().as_ref() == Some(d))
        .find_map(|e| e.kind.patient_ins().cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_keeps_its_code_and_hint() {
        let full = PurgeError::from(StoreError::NoSpace);
        assert_eq!(full.code(), Code::Unavailable);
        assert_eq!(full.hint(), StoreError::NoSpace.hint());
        let task = PurgeError::from(LedgerError::Task("cancelled".into()));
        assert_eq!(task.code(), Code::Internal);
        assert_eq!(PurgeError::NoPatient.code(), Code::Internal);
        assert!(PurgeError::NoPatient.hint().contains("daemon's log"));
    }
}
