//! Consent withdrawal that reaches recipients.
//!
//! Sharer's side: revoking a consent stops new sends under it, fails the
//! dossiers still queued, and queues a signed revocation notice for every
//! dossier shared under it; a worker delivers each notice (with backoff,
//! across restarts) and keeps the recipient's signed erasure receipt.
//!
//! Recipient's side: a notice is accepted only from the node of the
//! practitioner who shared the dossier (the protocol's `revocation_scope`
//! and `verify_notice` decide); the node destroys the dossier's key and
//! chunks, records the erasure in its ledger, shows the item as `revoked`,
//! and returns a signed erasure receipt. A notice for a dossier it does
//! not hold (never received, already erased, or an id of its own outgoing
//! dossiers, which stay untouched) gets a receipt saying so.

use std::sync::Arc;

use confrere_protocol::custody::{revocation_scope, Erasure};
use confrere_protocol::dossier::DossierId;
use confrere_protocol::ledger::EntryKind;
use confrere_protocol::revocation::{
    sign_erasure, sign_notice, verify_erasure, verify_notice, RevocationMessage, RevocationNotice,
};
use serde::{Deserialize, Serialize};

use super::common::now;
use super::engine::Engine;
use super::records::{InboxRecord, InboxStatus, OutboxRecord, OutboxState};
use crate::fault::{Code, Fault};
use crate::ledger::{LedgerError, Libp2pNodeSigner};
use crate::net::SecureChannel;
use crate::store::{StoreError, Tree};

const PREFIX: &str = "revocation/";

/// A revocation notice to deliver, and its outcome.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RevocationTask {
    /// Consent id, hex.
    pub consent_id: String,
    /// Dossier id, hex.
    pub dossier_id: String,
    /// Recipient's national id.
    pub to: String,
    /// Revocation time (Unix seconds).
    pub revoked_at: i64,
    /// The reason given.
    pub reason: String,
    /// Receipt time (Unix seconds), once in.
    pub erased_at: Option<i64>,
    /// Whether the recipient held the dossier.
    pub held: Option<bool>,
    /// The signed erasure receipt, encoded, hex.
    pub receipt: Option<String>,
    /// Attempts so far.
    pub attempts: u32,
    /// Not before this instant (Unix seconds).
    pub next_attempt: i64,
    /// Last error.
    pub last_error: Option<String>,
}

/// Why a revocation could not be carried out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum RevocationError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// An outbox record holds an id that is not a dossier id.
    #[error("{0}")]
    BadRecord(String),
}

impl Fault for RevocationError {
    fn code(&self) -> Code {
        match self {
            RevocationError::Store(e) => e.code(),
            RevocationError::Ledger(e) => e.code(),
            RevocationError::BadRecord(_) => Code::Internal,
        }
    }

    fn hint(&self) -> String {
        match self {
            RevocationError::Store(e) => Fault::hint(e),
            RevocationError::Ledger(e) => Fault::hint(e),
            RevocationError::BadRecord(_) => {
                "see the daemon's log; if it persists, restart the daemon".into()
            }
        }
    }
}

/// Where the erasure of a dossier shared under a consent stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErasureState {
    /// The consent is active: nothing to erase.
    Shared,
    /// The revocation notice is not acknowledged yet.
    Pending,
    /// The recipient's signed erasure receipt is in.
    Erased,
}

impl ErasureState {
    /// `shared`, `pending` or `erased` (the API's spelling).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ErasureState::Shared => "shared",
            ErasureState::Pending => "pending",
            ErasureState::Erased => "erased",
        }
    }
}

/// A dossier shared under a consent, and where its erasure stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SharedDossier {
    /// The recipient's national id.
    pub national_id: String,
    /// The dossier, hex.
    pub dossier_id: String,
    /// Where its erasure stands.
    pub state: ErasureState,
    /// When the erasure receipt arrived (Unix seconds).
    pub receipt_at: Option<i64>,
    /// Whether the recipient held the dossier (false: never completed).
    pub held: Option<bool>,
    /// Why the notice has not reached it yet, if it tried.
    pub last_error: Option<String>,
}

fn key(dossier: &str) -> Vec<u8> {
    format!("{PREFIX}{dossier}").into_bytes()
}

fn tasks(engine: &Engine) -> Result<Vec<RevocationTask>, StoreError> {
    Ok(engine
        .store
        .scan_prefix::<RevocationTask>(Tree::Meta, PREFIX.as_bytes())?
        .into_iter()
        .map(|(_, t)| t)
        .collect())
}

/// Whether an outbox dossier was shared under this consent.
fn shared_under(rec: &OutboxRecord, consent: &confrere_protocol::consent::RecordId) -> bool {
    rec.basis
        .as_ref()
        .is_some_and(|b| b.kind() == crate::consent::BasisKind::Consent && b.id() == *consent)
}

fn consent_hex(id: &[u8; 16]) -> String {
    hex::encode(id)
}

fn outbox_records(engine: &Engine) -> Result<Vec<OutboxRecord>, StoreError> {
    Ok(engine
        .store
        .scan::<OutboxRecord>(Tree::Outbox)?
        .into_iter()
        .map(|(_, r)| r)
        .collect())
}

/// Dossiers shared under a consent, with their erasure state.
pub(crate) fn recipient_states(engine: &Engine, consent_id: &str) -> Vec<SharedDossier> {
    let (Ok(outbox), Ok(consent)) = (
        outbox_records(engine),
        confrere_protocol::consent::RecordId::parse_hex(consent_id),
    ) else {
        return Vec::new();
    };
    let tasks = tasks(engine).unwrap_or_default();
    outbox
        .iter()
        .filter(|r| shared_under(r, &consent))
        .map(|r| {
            let task = tasks.iter().find(|t| t.dossier_id == r.id);
            SharedDossier {
                national_id: r.to.clone(),
                dossier_id: r.id.clone(),
                state: match task {
                    None => ErasureState::Shared,
                    Some(t) if t.erased_at.is_some() => ErasureState::Erased,
                    Some(_) => ErasureState::Pending,
                },
                receipt_at: task.and_then(|t| t.erased_at),
                held: task.and_then(|t| t.held),
                last_error: task.and_then(|t| t.last_error.clone()),
            }
        })
        .collect()
}

/// After a consent is revoked: fail what is still queued under it and queue
/// a notice for every dossier shared under it.
pub(crate) async fn fan_out(
    engine: &Engine,
    consent_id: [u8; 16],
    reason: &str,
) -> Result<(), RevocationError> {
    let cid = consent_hex(&consent_id);
    let revoked_at = now().as_secs();
    for rec in outbox_records(engine)? {
        if !shared_under(&rec, &confrere_protocol::consent::RecordId(consent_id)) {
            continue;
        }
        if matches!(rec.state, OutboxState::Queued | OutboxState::Sending) {
            // Checked against the stored record: a delivery that finished
            // since the read above stays delivered.
            engine
                .outbox
                .fail_if_open(&rec.id, "the consent was revoked before delivery")?;
        }
        let task = RevocationTask {
            consent_id: cid.clone(),
            dossier_id: rec.id.clone(),
            to: rec.to.clone(),
            revoked_at,
            reason: reason.to_owned(),
            erased_at: None,
            held: None,
            receipt: None,
            attempts: 0,
            next_attempt: 0,
            last_error: None,
        };
        engine.store.put(Tree::Meta, &key(&rec.id), &task)?;
        let did =
            DossierId::parse_hex(&rec.id).map_err(|e| RevocationError::BadRecord(e.to_string()))?;
        record(
            engine,
            EntryKind::RevocationSent {
                consent_id,
                dossier_id: did,
                to: rec.to.clone(),
            },
        )
        .await?;
    }
    engine.flush().await?;
    engine.wake.notify_one();
    Ok(())
}

/// Appends an entry to the ledger; durable when it returns.
async fn record(engine: &Engine, kind: EntryKind) -> Result<(), LedgerError> {
    engine.ledger.append_async(kind, now()).await.map(|_| ())
}

/// Delivers the notices that are due; called by the outbox worker.
pub(crate) async fn deliver_due(engine: &Arc<Engine>) {
    let due: Vec<RevocationTask> = match tasks(engine) {
        Ok(t) => t
            .into_iter()
            .filter(|t| t.erased_at.is_none() && t.next_attempt <= now().as_secs())
            .collect(),
        Err(_) => return,
    };
    for mut task in due {
        if engine.is_stopping() {
            return;
        }
        task.attempts = task.attempts.saturating_add(1);
        match deliver(engine, &task).await {
            Ok((receipt_hex, held)) => {
                task.erased_at = Some(now().as_secs());
                task.held = Some(held);
                task.receipt = Some(receipt_hex);
                task.last_error = None;
            }
            Err(e) => {
                let backoff = 1i64 << task.attempts.min(6);
                task.next_attempt = now().as_secs() + backoff.min(60);
                task.last_error = Some(e);
            }
        }
        if let Err(e) = engine.store.put(Tree::Meta, &key(&task.dossier_id), &task) {
            tracing::warn!(error = %e, "cannot update a revocation");
        }
        let _ = engine.flush().await;
    }
}

async fn deliver(engine: &Engine, task: &RevocationTask) -> Result<(String, bool), String> {
    let did = DossierId::parse_hex(&task.dossier_id).map_err(|e| e.to_string())?;
    let mut consent_id = [0u8; 16];
    hex::decode_to_slice(&task.consent_id, &mut consent_id).map_err(|e| e.to_string())?;
    let mut ch = engine.open_channel_to(&task.to).await?;
    let signer = Libp2pNodeSigner::new(engine.home.libp2p.clone());
    let notice = sign_notice(
        &signer,
        consent_id,
        did,
        engine.identity.national_id.as_str(),
        &task.to,
        confrere_protocol::UnixTime::from_secs(task.revoked_at),
        &task.reason,
    )
    .map_err(|e| e.to_string())?;
    let bytes = RevocationMessage::Notice(notice)
        .encode()
        .map_err(|e| e.to_string())?;
    ch.send(&bytes).await.map_err(|e| e.to_string())?;
    let answer = ch
        .recv()
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the recipient closed the session")?;
    let Ok(RevocationMessage::Erased(receipt)) = RevocationMessage::decode(&answer) else {
        return Err("the recipient did not answer with an erasure receipt".into());
    };
    verify_erasure(&receipt, &did, &consent_id, &ch.remote_peer_id().to_bytes())
        .map_err(|e| format!("the erasure receipt does not verify: {e}"))?;
    let _ = ch.close().await;
    let encoded = RevocationMessage::Erased(receipt.clone())
        .encode()
        .map_err(|e| e.to_string())?;
    record(
        engine,
        EntryKind::ErasureReceiptReceived {
            dossier_id: did,
            from: task.to.clone(),
            receipt: encoded.clone(),
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok((hex::encode(encoded), receipt.held))
}

/// Recipient's side: a notice arrived on an inbound session.
pub(crate) async fn on_notice(
    engine: &Engine,
    ch: &mut SecureChannel,
    notice: RevocationNotice,
) -> Result<(), String> {
    let did = notice.dossier_id;
    let own = engine.identity.national_id.to_string();
    let peer_bytes = ch.remote_peer_id().to_bytes();
    let notifier = ch.peer().identity().national_id.to_string();
    let held = super::unfinished::held(&engine.store, &did).map_err(|e| e.to_string())?;
    // Only what this node received from the notifier is erased; for an id
    // it did not receive (its own outgoing dossiers included) nothing is.
    let scope = revocation_scope(&held, &notifier)
        .map_err(|e| format!("revocation notice refused: {e}"))?;
    verify_notice(
        &notice,
        &peer_bytes,
        &notifier,
        &own,
        (scope != Erasure::NotHeld).then_some(&did),
    )
    .map_err(|e| format!("revocation notice refused: {e}"))?;
    let inbox = match scope {
        Erasure::Received => engine
            .store
            .get::<InboxRecord>(Tree::Inbox, did.as_bytes())
            .map_err(|e| e.to_string())?,
        _ => None,
    };
    let held = inbox
        .as_ref()
        .is_some_and(|r| r.status != InboxStatus::Revoked);
    if scope != Erasure::NotHeld {
        // Erase: the key first (crypto-shredding), then the chunks.
        // No receipt unless the erasure really happened.
        let store = engine.store.clone();
        tokio::task::spawn_blocking(move || {
            store.destroy_key(did.as_bytes())?;
            store.remove_chunks(did.as_bytes())?;
            store.remove(Tree::Transfers, did.as_bytes())
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("the dossier could not be erased: {e}"))?;
    }
    if let Some(mut rec) = inbox {
        if rec.status != InboxStatus::Revoked {
            rec.erase();
            engine
                .store
                .put(Tree::Inbox, did.as_bytes(), &rec)
                .map_err(|e| e.to_string())?;
            if let Ok(ins) = confrere_protocol::dossier::Ins::parse(&rec.ins) {
                record(
                    engine,
                    EntryKind::RevocationReceived {
                        consent_id: notice.consent_id,
                        dossier_id: did,
                        from: notifier.clone(),
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
                record(
                    engine,
                    EntryKind::DossierErased {
                        dossier_id: did,
                        patient_ins: ins,
                        reason: "the patient withdrew consent".into(),
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            }
        }
    }
    engine.flush().await.map_err(|e| e.to_string())?;
    let signer = Libp2pNodeSigner::new(engine.home.libp2p.clone());
    let receipt = sign_erasure(&signer, notice.consent_id, did, &own, now(), held)
        .map_err(|e| e.to_string())?;
    let bytes = RevocationMessage::Erased(receipt)
        .encode()
        .map_err(|e| e.to_string())?;
    ch.send(&bytes).await.map_err(|e| e.to_string())?;
    ch.flush().await.map_err(|e| e.to_string())?;
    tracing::info!(dossier = %did.to_string().get(..8).unwrap_or(""), "dossier erased on consent withdrawal");
    Ok(())
}

/// Whether a revocation stops a delivery under way.
pub(crate) fn outbox_still_allowed(rec: &OutboxRecord, engine: &Engine) -> bool {
    match &rec.basis {
        Some(b) => crate::consent::still_allows(&engine.store, b, now()).is_ok(),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes the local API answered before: a full disk `unavailable`,
    /// a damaged record `internal`, each with what to do.
    #[test]
    fn each_failure_keeps_its_code_and_hint() {
        let full = RevocationError::from(StoreError::NoSpace);
        assert_eq!(full.code(), Code::Unavailable);
        assert_eq!(full.hint(), StoreError::NoSpace.hint());
        let broken = RevocationError::from(LedgerError::Broken(
            confrere_protocol::ledger::ChainError::BadGenesis,
        ));
        assert_eq!(broken.code(), Code::Refused);
        let bad = RevocationError::BadRecord("not a dossier id".into());
        assert_eq!(bad.code(), Code::Internal);
        assert_eq!(bad.to_string(), "not a dossier id");
        assert!(bad.hint().contains("daemon's log"));
        assert_eq!(ErasureState::Pending.as_str(), "pending");
    }
}
