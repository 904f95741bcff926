//! The patient's access journal: every event of this node's ledger about a
//! patient's dossiers, with who acted, what, when, on which dossier, on
//! which node, and the hash of the ledger entry so each line can be checked.

use confrere_protocol::dossier::Ins;
use confrere_protocol::ledger::{EntryKind, LedgerEntry};

use super::common::internal;
use super::engine::Engine;
use crate::api::journal_model::JournalLine;
use crate::api::model::ApiError;

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

fn line(engine: &Engine, e: &LedgerEntry, names: &dyn Fn(&str) -> Option<String>) -> JournalLine {
    let own = engine.identity.national_id.to_string();
    let (who, what) = describe(&e.kind, &own);
    JournalLine {
        seq: e.seq,
        time: e.time.to_rfc3339(),
        kind: e.kind.name().to_owned(),
        what,
        who_name: if who == own {
            Some(engine.identity.display_name())
        } else {
            names(&who)
        },
        who,
        dossier_id: e.kind.dossier_id().map(|d| d.to_string()),
        consent_id: e.kind.consent_id().map(hex::encode),
        node: own,
        node_peer_id: engine.net.local_peer_id().to_base58(),
        entry_hash: hex::encode(e.hash()),
    }
}

/// The journal of a patient, oldest first.
pub(crate) async fn journal(
    engine: &Engine,
    patient_ins: &str,
) -> Result<Vec<JournalLine>, ApiError> {
    let ins = Ins::parse(patient_ins).map_err(|e| {
        ApiError::new(
            "invalid",
            format!("the patient's INS is invalid: {e}"),
            "the INS is 13 digits and a 2-digit key",
        )
    })?;
    let ledger = engine.ledger.clone();
    let entries = tokio::task::spawn_blocking(move || ledger.by_patient(&ins))
        .await
        .map_err(internal)?
        .map_err(ApiError::from)?;
    let book = engine.book.lock().await;
    let names = |id: &str| book.find_by_national_id(id).and_then(|e| e.name);
    Ok(entries.iter().map(|e| line(engine, e, &names)).collect())
}
