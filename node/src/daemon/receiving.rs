//! The recipient's side: an inbound session offers a dossier; the node
//! checks the id against what it holds and who sent it (the protocol's
//! `custody`) and a new transfer against the sender's quota (the
//! [`unfinished`](super::unfinished) module), resumes from the chunks it
//! already holds, stores and checks the sealed chunks as they come (the
//! [`sink`](super::sink), beside the session), and once the whole dossier
//! verified against its manifest and is durable, records it in the inbox
//! and only then signs and returns the receipt.

use std::sync::Arc;

use confrere_protocol::custody::{answer_offer, OfferAnswer};
use confrere_protocol::dossier::{DossierId, DossierKey, SEALED_CHUNK_LEN};
use confrere_protocol::receipt::{sign_receipt, DeliveryReceipt, NodeSigner, ReceiptError};
use confrere_protocol::transfer::{ChunkView, RefuseReason, TransferMessage};

use super::common::now;
use super::engine::Engine;
use super::records::{DocumentRecord, InboxRecord, InboxStatus};
use super::sink::{ChunkSink, SinkError};
use super::unfinished;
use crate::net::{short_peer, SecureChannel};
use crate::store::{StoreError, Tree};

/// Largest dossier accepted (sealed bytes).
pub(crate) const MAX_DOSSIER_BYTES: u64 = 64 * 1024 * 1024 * 1024;

/// Serves one inbound session until the peer closes it.
pub(super) async fn serve_inbound(engine: Arc<Engine>, mut ch: SecureChannel) {
    let peer = short_peer(&ch.remote_peer_id());
    loop {
        let msg = match ch.recv().await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => break,
            Err(e) => {
                tracing::info!(%peer, error = %e, "inbound session ended");
                break;
            }
        };
        let msg = match TransferMessage::decode(&msg) {
            Ok(m) => m,
            Err(confrere_protocol::codec::DecodeError::UnknownTag(_)) => {
                match confrere_protocol::revocation::RevocationMessage::decode(&msg) {
                    Ok(confrere_protocol::revocation::RevocationMessage::Notice(n)) => {
                        if let Err(e) = super::revocation::on_notice(&engine, &mut ch, n).await {
                            tracing::warn!(%peer, error = %e, "revocation notice not honoured");
                        }
                    }
                    _ => tracing::warn!(%peer, "unexpected message; closing the session"),
                }
                break;
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "malformed message; closing the session");
                break;
            }
        };
        match msg {
            TransferMessage::Offer(offer) => {
                let dossier_id = offer.dossier_id;
                if offer.check().is_err() {
                    tracing::warn!(%peer, "inconsistent offer; closing the session");
                    break;
                }
                if let Err(e) = receive(
                    &engine,
                    &mut ch,
                    dossier_id,
                    offer.key,
                    offer.chunk_count,
                    offer.content_len,
                )
                .await
                {
                    tracing::warn!(%peer, dossier = %short_id(&dossier_id), error = %e, "transfer stopped");
                    break;
                }
            }
            _ => {
                tracing::warn!(%peer, "unexpected message; closing the session");
                break;
            }
        }
    }
    let _ = ch.close().await;
}

fn short_id(id: &DossierId) -> String {
    id.to_string().chars().take(8).collect()
}

async fn reply(ch: &mut SecureChannel, msg: TransferMessage) -> Result<(), String> {
    let bytes = msg.encode().map_err(|e| e.to_string())?;
    ch.send(&bytes).await.map_err(|e| e.to_string())?;
    ch.flush().await.map_err(|e| e.to_string())
}

async fn refuse(ch: &mut SecureChannel, id: DossierId, reason: RefuseReason) -> String {
    let text = super::sending::reason_text(reason).to_owned();
    let _ = reply(
        ch,
        TransferMessage::Refuse {
            dossier_id: id,
            reason,
        },
    )
    .await;
    text
}

async fn receive(
    engine: &Arc<Engine>,
    ch: &mut SecureChannel,
    id: DossierId,
    key: DossierKey,
    chunk_count: u64,
    content_len: u64,
) -> Result<(), String> {
    let from = ch.peer().identity().national_id.to_string();
    let from_name = ch.peer().identity().display_name();
    let held = match unfinished::held(&engine.store, &id) {
        Ok(h) => h,
        Err(e) => return Err(store_refusal(ch, id, e).await),
    };
    // Only the sender may resume a transfer or get a receipt again; an id
    // of this node's own outgoing dossiers is never taken.
    let answer = match answer_offer(&held, &from, chunk_count) {
        Ok(a) => a,
        Err(e) => {
            let _ = refuse(ch, id, RefuseReason::Other).await;
            return Err(format!("offer refused: {e}"));
        }
    };
    // Delivered before: the same receipt again, exactly once in the inbox.
    if answer == OfferAnswer::AlreadyReceived {
        return match engine.store.get::<InboxRecord>(Tree::Inbox, id.as_bytes()) {
            Ok(Some(done)) => match hex::decode(&done.receipt)
                .ok()
                .and_then(|b| DeliveryReceipt::decode(&b).ok())
            {
                Some(receipt) => reply(ch, TransferMessage::Complete { receipt }).await,
                None => Err(refuse(ch, id, RefuseReason::Other).await),
            },
            Ok(None) => Err(refuse(ch, id, RefuseReason::Busy).await),
            Err(e) => Err(store_refusal(ch, id, e).await),
        };
    }
    if chunk_count == 0 || chunk_count.saturating_mul(SEALED_CHUNK_LEN as u64) > MAX_DOSSIER_BYTES {
        return Err(refuse(ch, id, RefuseReason::TooLarge).await);
    }
    let begun = if answer == OfferAnswer::Resume {
        unfinished::resume(&id)
    } else {
        unfinished::start(engine, &id, &from, &key, chunk_count, content_len)
    };
    // Marked under way until this function returns: the sweep spares it.
    let _under_way = match begun {
        Ok(u) => u,
        Err(unfinished::NotNow(reason, why)) => {
            let _ = refuse(ch, id, reason).await;
            return Err(why);
        }
    };
    // The chunks already held are checked first; the sink then stores and
    // checks each new chunk beside the session.
    let key_for_check = engine.unwrap_key(&id).map_err(|e| e.to_string())?;
    let started = ChunkSink::start(
        engine.store.clone(),
        key_for_check,
        id,
        chunk_count,
        content_len,
    )
    .await;
    let (mut sink, next) = match started {
        Ok(s) => s,
        Err(e) => return Err(sink_failed(engine, ch, id, e).await),
    };
    if next > 0 {
        tracing::info!(dossier = %short_id(&id), chunk = next, of = chunk_count, "resuming a transfer");
    }
    reply(
        ch,
        TransferMessage::Resume {
            dossier_id: id,
            next_index: next,
        },
    )
    .await?;
    let mut expected = next;
    while expected < chunk_count {
        let bytes = ch
            .recv()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the sender closed the session mid-transfer")?;
        // The sealed bytes end the message (nothing may follow them).
        let (index, last, offset) = match ChunkView::decode(&bytes) {
            Ok(v) => (v.index, v.last, bytes.len() - v.sealed.len()),
            Err(_) => return Err("expected a chunk".into()),
        };
        if index != expected || last != (index + 1 == chunk_count) {
            return Err(refuse(ch, id, RefuseReason::Other).await);
        }
        if !sink.push(index, last, bytes, offset).await {
            break;
        }
        expected += 1;
    }
    // The whole dossier, stored and checked against its manifest.
    let (manifest, summary) = match sink.finish().await {
        Ok(v) => (v.manifest, v.summary),
        Err(e) => return Err(sink_failed(engine, ch, id, e).await),
    };
    let own = engine.identity.national_id.to_string();
    if manifest.from != from || manifest.to != own {
        discard(engine, &id);
        return Err(refuse(ch, id, RefuseReason::NotForMe).await);
    }
    let received_at = now();
    let receipt = sign_receipt(
        &Libp2pSigner(&engine.home.libp2p),
        id,
        &manifest.from,
        &own,
        summary.content_digest,
        received_at,
    )
    .map_err(|e| e.to_string())?;
    let receipt_bytes = receipt.encode().map_err(|e| e.to_string())?;
    let rec = InboxRecord {
        id: id.to_string(),
        from: from.clone(),
        from_name,
        ins: manifest.patient.ins.as_str().to_owned(),
        family: manifest.patient.family.clone(),
        given: manifest.patient.given.clone(),
        birth_date: manifest.patient.birth_date.to_iso(),
        sex: char::from(manifest.patient.sex.code()).to_string(),
        reason: manifest.referral.reason.clone(),
        urgent: manifest.referral.urgent,
        letter: manifest.referral.letter.clone(),
        status: InboxStatus::New,
        received_at: received_at.as_secs(),
        documents: manifest
            .documents
            .iter()
            .map(|d| DocumentRecord {
                name: d.name.clone(),
                media_type: d.media_type.clone(),
                size: d.size,
                sha256: hex::encode(d.sha256),
            })
            .collect(),
        in_reply_to: manifest.in_reply_to.map(|d| d.to_string()),
        decline_reason: None,
        chunk_count,
        receipt: hex::encode(receipt_bytes),
    };
    // Durable in the ledger before the peer is told.
    engine
        .record(confrere_protocol::ledger::EntryKind::DossierReceived {
            dossier_id: id,
            patient_ins: manifest.patient.ins.clone(),
            from: from.clone(),
            from_name: rec.from_name.clone(),
        })
        .await
        .map_err(|e| e.to_string())?;
    let stored = engine
        .store
        .put(Tree::Inbox, id.as_bytes(), &rec)
        .and_then(|()| {
            engine
                .store
                .remove(Tree::Transfers, id.as_bytes())
                .map(|_| ())
        });
    if let Err(e) = stored {
        return Err(store_refusal(ch, id, e).await);
    }
    if let Err(e) = engine.flush().await {
        return Err(store_refusal(ch, id, e).await);
    }
    tracing::info!(dossier = %short_id(&id), "dossier received");
    reply(ch, TransferMessage::Complete { receipt }).await
}

/// After refusing mid-transfer, reads (and drops) what the sender still
/// sends until it stops, so that it is not left blocked on flow control and
/// reads the refusal; bounded in time and count.
async fn drain(ch: &mut SecureChannel) {
    for _ in 0..4096 {
        match tokio::time::timeout(std::time::Duration::from_secs(5), ch.recv()).await {
            Ok(Ok(Some(_))) => continue,
            _ => break,
        }
    }
}

/// Drops a received dossier that cannot be kept (it does not verify, or is
/// not for this node), so that a new attempt starts clean. Best effort: the
/// sender is refused either way.
fn discard(engine: &Engine, id: &DossierId) {
    let _ = engine.store.remove_chunks(id.as_bytes());
    let _ = engine.store.remove(Tree::Transfers, id.as_bytes());
    let _ = engine.store.destroy_key(id.as_bytes());
}

async fn store_refusal(ch: &mut SecureChannel, id: DossierId, e: StoreError) -> String {
    let reason = if matches!(e, StoreError::NoSpace) {
        RefuseReason::NoSpace
    } else {
        RefuseReason::Busy
    };
    let _ = refuse(ch, id, reason).await;
    e.to_string()
}

/// Answers a transfer whose sink stopped: a store error (disk full) keeps
/// what is stored, for a later resume; a dossier that does not verify is
/// dropped, so that a new attempt starts clean.
async fn sink_failed(
    engine: &Engine,
    ch: &mut SecureChannel,
    id: DossierId,
    e: SinkError,
) -> String {
    match e {
        SinkError::Store(e) => {
            let msg = store_refusal(ch, id, e).await;
            drain(ch).await;
            msg
        }
        SinkError::Content(e) => {
            discard(engine, &id);
            let _ = refuse(ch, id, RefuseReason::Other).await;
            format!("the dossier does not verify: {e}")
        }
    }
}

/// The node's libp2p identity key signs receipts.
struct Libp2pSigner<'a>(&'a libp2p::identity::Keypair);

impl NodeSigner for Libp2pSigner<'_> {
    fn peer_id(&self) -> Vec<u8> {
        self.0.public().to_peer_id().to_bytes()
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ReceiptError> {
        self.0
            .sign(msg)
            .map_err(|_| ReceiptError::SignerKeyMismatch)
    }
}
