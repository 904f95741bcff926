//! The patient's access journal: every event of this node's ledger about a
//! patient's dossiers, with who acted, what, when, on which dossier, on
//! which node, and the hash of the ledger entry so each line can be checked.

use confrere_protocol::dossier::{DossierId, Ins, InsError};
use confrere_protocol::ledger::{EntryKind, LedgerEntry};
use confrere_protocol::UnixTime;

use super::engine::Engine;
use crate::fault::{Code, Fault};
use crate::ledger::LedgerError;

/// Why the journal could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum JournalError {
    /// The patient's INS is not valid.
    #[error("the patient's INS is invalid: {0}")]
    Ins(#[from] InsError),
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl Fault for JournalError {
    fn code(&self) -> Code {
        match self {
            JournalError::Ins(_) => Code::Invalid,
            JournalError::Ledger(e) => e.code(),
        }
    }

    fn hint(&self) -> String {
        match self {
            JournalError::Ins(_) => "the INS is 13 digits and a 2-digit key".into(),
            JournalError::Ledger(e) => Fault::hint(e),
        }
    }
}

/// One event about a patient's dossiers, from this node's ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JournalEvent {
    /// Ledger sequence number.
    pub seq: u64,
    /// When.
    pub time: UnixTime,
    /// Ledger kind name (`dossier_sent`, `dossier_opened` …).
    pub kind: &'static str,
    /// What happened, in words.
    pub what: String,
    /// National id of the practitioner who acted.
    pub who: String,
    /// Their name, if known.
    pub who_name: Option<String>,
    /// The dossier concerned, if any.
    pub dossier_id: Option<DossierId>,
    /// The consent concerned, if any.
    pub consent_id: Option<[u8; 16]>,
    /// The node that recorded it: its practitioner's national id.
    pub node: String,
    /// The node's PeerId, base58.
    pub node_peer_id: String,
    /// SHA-256 of the ledger entry.
    pub entry_hash: [u8; 32],
}

/// Who acted and what they did, from one entry.
fn describe(kind: &EntryKind, own: &str) -> (String, String) {
    match kind {
        EntryKind::Genesis { .. } => (own.into(), "started this node's ledger".into()),
        EntryKind::ConsentGranted { recipients, .. } => (
            own.into(),
            format!(
                "recorded the patient's consent to share with {}",
                recipients.join(", ")
            ),
        ),
        EntryKind::ConsentRevoked { .. } => {
            (own.into(), "recorded the withdrawal of consent".into())
        }
        EntryKind::CareTeamRecorded {
            recipients,
            informed_on,
            ..
        } => (
            own.into(),
            format!(
                "recorded a care-team exchange with {} (patient informed on {informed_on})",
                recipients.join(", ")
            ),
        ),
        EntryKind::DossierSent { to, .. } => (own.into(), format!("sent the dossier to {to}")),
        EntryKind::DossierDelivered { to, .. } => (
            to.clone(),
            "received the dossier (signed delivery receipt)".into(),
        ),
        EntryKind::DossierReceived { from, .. } => {
            (own.into(), format!("received the dossier from {from}"))
        }
        EntryKind::DossierOpened { by, .. } => (by.clone(), "opened the dossier".into()),
        EntryKind::DossierExported { files, .. } => (
            own.into(),
            format!("exported {files} document(s) of the dossier"),
        ),
        EntryKind::DossierErased { reason, .. } => {
            (own.into(), format!("erased the dossier ({reason})"))
        }
        EntryKind::RevocationSent { to, .. } => (
            own.into(),
            format!("told {to} to erase the dossier (consent withdrawn)"),
        ),
        EntryKind::RevocationReceived { from, .. } => (
            own.into(),
            format!("was told by {from} that consent was withdrawn"),
        ),
        EntryKind::ErasureReceiptReceived { from, .. } => (
            from.clone(),
            "erased the dossier (signed erasure receipt)".into(),
        ),
        EntryKind::RetentionPurge { .. } => (
            own.into(),
            "purged the dossier at the end of its retention period".into(),
        ),
        other => (own.into(), other.name().replace('_', " ")),
    }
}

fn event(engine: &Engine, e: &LedgerEntry, names: &dyn Fn(&str) -> Option<String>) -> JournalEvent {
    let own = engine.identity.national_id.to_string();
    let (who, what) = describe(&e.kind, &own);
    JournalEvent {
        seq: e.seq,
        time: e.time,
        kind: e.kind.name(),
        what,
        who_name: if who == own {
            Some(engine.identity.display_name())
        } else {
            names(&who)
        },
        who,
        dossier_id: e.kind.dossier_id(),
        consent_id: e.kind.consent_id(),
        node: own,
        node_peer_id: engine.net.local_peer_id().to_base58(),
        entry_hash: e.hash(),
    }
}

/// The journal of a patient, oldest first.
pub(crate) async fn journal(
    engine: &Engine,
    patient_ins: &str,
) -> Result<Vec<JournalEvent>, JournalError> {
    let ins = Ins::parse(patient_ins)?;
    let ledger = engine.ledger.clone();
    let entries = tokio::task::spawn_blocking(move || ledger.by_patient(&ins))
        .await
        .map_err(|e| LedgerError::Task(e.to_string()))??;
    let book = engine.book.lock().await;
    let names = |id: &str| book.find_by_national_id(id).and_then(|e| e.name);
    Ok(entries.iter().map(|e| event(engine, e, &names)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_ins_is_invalid_and_not_repeated() {
        let e = JournalError::from(Ins::parse("269054958815781").expect_err("bad key"));
        assert_eq!(e.code(), Code::Invalid);
        assert!(
            e.to_string().starts_with("the patient's INS is invalid: "),
            "{e}"
        );
        assert!(!e.to_string().contains("269054958815781"), "{e}");
        assert_eq!(e.hint(), "the INS is 13 digits and a 2-digit key");
        let e = JournalError::from(LedgerError::Task("cancelled".into()));
        assert_eq!(e.code(), Code::Internal);
    }
}
