//! The sender's side: the outbox worker that delivers sealed dossiers,
//! resuming where the recipient stands (sealing is in `sealing`, the
//! index of due items and the checked record changes in `outbox`).

use std::sync::Arc;
use std::time::Duration;

use confrere_protocol::dossier::DossierId;
use confrere_protocol::receipt::{verify_receipt, DeliveryReceipt};
use confrere_protocol::transfer::{
    encode_chunk, Offer, RefuseReason, TransferMessage, CHUNK_HEADER_LEN,
};

use super::common::now;
use super::engine::Engine;
use super::outbox::short;
use super::records::{OutboxRecord, OutboxState};
use crate::net::SecureChannel;
use crate::store::Store;

/// Sealing lives in `sealing`; callers send through here.
pub(crate) use super::sealing::send;

/// Longest wait between two delivery attempts.
const MAX_BACKOFF_SECS: i64 = 60;
/// Longest sleep of the worker between two looks at the outbox (and at
/// the revocation notices to deliver).
const IDLE_WAKE: Duration = Duration::from_secs(1);
/// Chunks between two looks for a refusal from the recipient.
const CHECK_EVERY: u64 = 16;
/// Chunk messages read ahead of the session while delivering.
const READ_AHEAD: usize = 8;
/// Deliveries under way at once.
const MAX_CONCURRENT: usize = 4;

/// Delivers queued dossiers, with backoff, until the daemon stops. Only
/// the items the outbox's index says are due are read from the store.
pub(crate) async fn outbox_worker(engine: Arc<Engine>) {
    let revoking: Arc<std::sync::atomic::AtomicBool> = Arc::default();
    while !engine.is_stopping() {
        for rec in engine.outbox.claim_due(now().as_secs(), MAX_CONCURRENT) {
            let engine = engine.clone();
            tokio::spawn(async move {
                let id = rec.id.clone();
                deliver(&engine, rec).await;
                engine.outbox.release(&id);
                engine.wake.notify_one();
            });
        }
        if !revoking.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let engine = engine.clone();
            let revoking = revoking.clone();
            tokio::spawn(async move {
                super::revocation::deliver_due(&engine).await;
                revoking.store(false, std::sync::atomic::Ordering::SeqCst);
            });
        }
        let _ = tokio::time::timeout(IDLE_WAKE, engine.wake.notified()).await;
    }
}

/// Writes the record of the delivery under way, unless the item was
/// settled meanwhile (then the delivery stops).
fn save(engine: &Engine, rec: &OutboxRecord) -> Result<(), Outcome> {
    engine.outbox.save(rec, false).map_err(|e| match e {
        super::outbox::Refused::Settled(_) => Outcome::Settled,
        super::outbox::Refused::Store(e) => {
            Outcome::Retry(format!("cannot update the outbox: {e}"))
        }
    })
}

/// One attempt at delivering a claimed item (its attempt already counted).
async fn deliver(engine: &Engine, mut rec: OutboxRecord) {
    let mut waiting_for_peer = false;
    match try_deliver(engine, &mut rec).await {
        Ok(()) => {}
        Err(Outcome::Settled) => {
            if let Ok(mut p) = engine.progress.lock() {
                p.remove(&rec.id);
            }
            return;
        }
        Err(Outcome::Retry(msg)) => retry_later(&mut rec, msg),
        Err(Outcome::Unreachable(msg)) => {
            waiting_for_peer = true;
            retry_later(&mut rec, msg);
        }
        Err(Outcome::Failed(msg)) => {
            rec.state = OutboxState::Failed;
            rec.last_error = Some(msg);
        }
    }
    if let Ok(mut p) = engine.progress.lock() {
        p.remove(&rec.id);
    }
    if let Err(e) = engine.outbox.save(&rec, waiting_for_peer) {
        tracing::warn!(dossier = %short(&rec.id), error = %e, "the outcome of a delivery was not recorded");
        return;
    }
    let _ = engine.flush().await;
    if rec.state.is_final() {
        drop_sealed_copy(engine, &rec).await;
    }
}

/// Puts an item back in the queue after a failed attempt, with backoff.
fn retry_later(rec: &mut OutboxRecord, msg: String) {
    let backoff = 1i64 << rec.attempts.min(6);
    rec.state = OutboxState::Queued;
    rec.next_attempt = now().as_secs() + backoff.min(MAX_BACKOFF_SECS);
    tracing::info!(dossier = %short(&rec.id), error = %msg, "delivery will be retried");
    rec.last_error = Some(msg);
}

/// Once a dossier is delivered (its receipt in the ledger) or refused for
/// good, the outbox no longer needs its sealed copy: the key is destroyed
/// and the chunks removed, so that sent dossiers do not pile up on disk.
async fn drop_sealed_copy(engine: &Engine, rec: &OutboxRecord) {
    let Ok(id) = DossierId::parse_hex(&rec.id) else {
        return;
    };
    let store = engine.store.clone();
    let dropped = tokio::task::spawn_blocking(move || {
        store.destroy_key(id.as_bytes())?;
        store.remove_chunks(id.as_bytes())
    })
    .await;
    if !matches!(dropped, Ok(Ok(_))) {
        tracing::warn!(dossier = %short(&rec.id), "the sealed copy of a sent dossier could not be removed; it goes at the next start");
    }
}

enum Outcome {
    /// Try again after the backoff.
    Retry(String),
    /// The recipient could not be reached: try again after the backoff, or
    /// as soon as it is seen again.
    Unreachable(String),
    /// Refused for good.
    Failed(String),
    /// The item was settled by someone else meanwhile (a revocation, a
    /// purge): its record is left as it is.
    Settled,
}

async fn try_deliver(engine: &Engine, rec: &mut OutboxRecord) -> Result<(), Outcome> {
    let id = DossierId::parse_hex(&rec.id).map_err(|e| Outcome::Failed(e.to_string()))?;
    if let Some(basis) = &rec.basis {
        crate::consent::still_allows(&engine.store, basis, now()).map_err(|e| {
            match crate::fault::Fault::code(&e) {
                crate::fault::Code::Refused | crate::fault::Code::NotFound => {
                    Outcome::Failed(e.to_string())
                }
                _ => Outcome::Retry(e.to_string()),
            }
        })?;
    }
    let mut ch = engine
        .open_channel_to(&rec.to)
        .await
        .map_err(Outcome::Unreachable)?;
    rec.path = ch.path().map(|p| p.as_str().to_owned());
    let key = engine
        .unwrap_key(&id)
        .map_err(|e| Outcome::Failed(e.to_string()))?;
    rec.state = OutboxState::Sending;
    save(engine, rec)?;
    let offer = Offer::new(id, key, rec.content_len);
    if offer.chunk_count != rec.chunk_count {
        return Err(Outcome::Failed(
            "the outbox record is inconsistent with its dossier".into(),
        ));
    }
    send_msg(&mut ch, &TransferMessage::Offer(offer)).await?;
    let next = match recv_msg(&mut ch).await? {
        TransferMessage::Resume { next_index, .. } if next_index <= rec.chunk_count => next_index,
        TransferMessage::Complete { receipt } => {
            return finish_recorded(engine, rec, ch.remote_peer_id().to_bytes(), receipt).await
        }
        TransferMessage::Refuse { reason, .. } => return Err(refused(reason)),
        _ => {
            return Err(Outcome::Retry(
                "the recipient answered the offer out of turn".into(),
            ))
        }
    };
    rec.acked_chunks = next;
    save(engine, rec)?;
    let chunk_len = confrere_protocol::dossier::SEALED_CHUNK_LEN as u64;
    let mut chunks = read_chunks(engine.store.clone(), id, next, rec.chunk_count);
    for index in next..rec.chunk_count {
        if engine.is_stopping() {
            return Err(Outcome::Retry("the daemon is stopping".into()));
        }
        let msg = chunks
            .recv()
            .await
            .unwrap_or_else(|| Err(Outcome::Retry("the chunk reader stopped early".into())))?;
        // The sealed chunk goes as the message's attachment: sealed under
        // the dossier's key, it is not encrypted again.
        ch.send_attached(&msg, CHUNK_HEADER_LEN)
            .await
            .map_err(|e| Outcome::Retry(format!("the session broke: {e}")))?;
        // The recipient may refuse mid-way (a full disk): look for its
        // answer now and then without waiting.
        if index % CHECK_EVERY == CHECK_EVERY - 1 {
            if !super::revocation::outbox_still_allowed(rec, engine) {
                return Err(Outcome::Failed(
                    "the consent was revoked during the transfer".into(),
                ));
            }
            if let Ok(answer) = tokio::time::timeout(Duration::ZERO, ch.recv()).await {
                return Err(match answer {
                    Ok(Some(bytes)) => match TransferMessage::decode(&bytes) {
                        Ok(TransferMessage::Refuse { reason, .. }) => refused(reason),
                        _ => Outcome::Retry("the recipient answered out of turn".into()),
                    },
                    Ok(None) => Outcome::Retry("the recipient closed the session".into()),
                    Err(e) => Outcome::Retry(format!("the session broke: {e}")),
                });
            }
        }
        if let Ok(mut p) = engine.progress.lock() {
            p.insert(
                rec.id.clone(),
                ((index + 1) * chunk_len).min(rec.total_bytes),
            );
        }
    }
    ch.flush()
        .await
        .map_err(|e| Outcome::Retry(e.to_string()))?;
    match recv_msg(&mut ch).await? {
        TransferMessage::Complete { receipt } => {
            finish_recorded(engine, rec, ch.remote_peer_id().to_bytes(), receipt).await
        }
        TransferMessage::Refuse { reason, .. } => Err(refused(reason)),
        _ => Err(Outcome::Retry("the recipient answered out of turn".into())),
    }
}

/// Reads chunks `first..count` of dossier `id` on a blocking thread and
/// hands them out as Chunk messages, a few ahead of the session. The
/// reader stops when the receiver is dropped.
fn read_chunks(
    store: Store,
    id: DossierId,
    first: u64,
    count: u64,
) -> tokio::sync::mpsc::Receiver<Result<Vec<u8>, Outcome>> {
    let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let missing = |index: u64| {
            Outcome::Failed(format!(
                "chunk {index} of the dossier is missing from the store"
            ))
        };
        let mut reader = match store.chunk_reader(id.as_bytes(), first) {
            Ok(Some(r)) => r,
            Ok(None) => {
                let _ = tx.blocking_send(Err(missing(first)));
                return;
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(Outcome::Retry(e.to_string())));
                return;
            }
        };
        for index in first..count {
            let msg = match reader.next_chunk() {
                Ok(Some((at, sealed))) if at == index => {
                    encode_chunk(index, index + 1 == count, sealed).map_err(|e| {
                        Outcome::Failed(format!("chunk {index} in the store is damaged: {e}"))
                    })
                }
                Ok(_) => Err(missing(index)),
                Err(e) => Err(Outcome::Retry(e.to_string())),
            };
            let failed = msg.is_err();
            if tx.blocking_send(msg).is_err() || failed {
                return;
            }
        }
    });
    rx
}

/// Checks the receipt, then records the delivery in the ledger.
async fn finish_recorded(
    engine: &Engine,
    rec: &mut OutboxRecord,
    peer: Vec<u8>,
    receipt: DeliveryReceipt,
) -> Result<(), Outcome> {
    let bytes = receipt.encode().unwrap_or_default();
    finish(rec, &peer, receipt)?;
    let id = DossierId::parse_hex(&rec.id).map_err(|e| Outcome::Failed(e.to_string()))?;
    engine
        .record(confrere_protocol::ledger::EntryKind::DossierDelivered {
            dossier_id: id,
            to: rec.to.clone(),
            receipt: bytes,
        })
        .await
        .map_err(|e| Outcome::Retry(format!("the delivery could not be recorded: {e}")))
}

/// What a refusal reason means to the user.
pub(crate) fn reason_text(reason: RefuseReason) -> &'static str {
    match reason {
        RefuseReason::NotForMe => "the dossier is addressed to another practitioner",
        RefuseReason::NoSpace => "its disk is full (the transfer resumes later)",
        RefuseReason::TooLarge => "the dossier is larger than it accepts",
        RefuseReason::Busy => "it is busy (the transfer resumes later)",
        RefuseReason::Revoked => "the consent or the sender is refused",
        RefuseReason::OverQuota => "it holds as many unfinished transfers, or bytes in them, from this practitioner as it allows (the transfer resumes later)",
        _ => "it could not store or verify the dossier",
    }
}

fn refused(reason: RefuseReason) -> Outcome {
    let text = reason_text(reason);
    if reason.is_temporary() {
        Outcome::Retry(format!("the recipient cannot take the dossier now: {text}"))
    } else {
        Outcome::Failed(format!("the recipient refused the dossier: {text}"))
    }
}

fn finish(rec: &mut OutboxRecord, peer: &[u8], receipt: DeliveryReceipt) -> Result<(), Outcome> {
    let id = DossierId::parse_hex(&rec.id).map_err(|e| Outcome::Failed(e.to_string()))?;
    let mut hash = [0u8; 32];
    hex::decode_to_slice(&rec.content_digest, &mut hash)
        .map_err(|e| Outcome::Failed(e.to_string()))?;
    verify_receipt(&receipt, &id, peer, &hash)
        .map_err(|e| Outcome::Retry(format!("the recipient's receipt does not verify: {e}")))?;
    rec.state = OutboxState::Delivered;
    rec.delivered_at = Some(now().as_secs());
    rec.acked_chunks = rec.chunk_count;
    rec.last_error = None;
    rec.receipt = receipt.encode().ok().map(hex::encode);
    Ok(())
}

async fn send_msg(ch: &mut SecureChannel, msg: &TransferMessage) -> Result<(), Outcome> {
    let bytes = msg
        .encode()
        .map_err(|e| Outcome::Failed(format!("cannot encode a {}: {e}", msg.kind())))?;
    ch.send(&bytes)
        .await
        .map_err(|e| Outcome::Retry(format!("the session broke: {e}")))
}

async fn recv_msg(ch: &mut SecureChannel) -> Result<TransferMessage, Outcome> {
    ch.flush()
        .await
        .map_err(|e| Outcome::Retry(format!("the session broke: {e}")))?;
    let bytes = ch
        .recv()
        .await
        .map_err(|e| Outcome::Retry(format!("the session broke: {e}")))?
        .ok_or_else(|| Outcome::Retry("the recipient closed the session".into()))?;
    TransferMessage::decode(&bytes)
        .map_err(|e| Outcome::Retry(format!("the recipient sent a malformed message: {e}")))
}
