//! The sender's side: sealing a dossier into the outbox, and the outbox
//! worker that delivers it, resuming where the recipient stands.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use confrere_protocol::dossier::manifest::MANIFEST_VERSION;
use confrere_protocol::dossier::names::sanitize_document_name;
use confrere_protocol::dossier::{
    BirthDate, ContentSealer, ContentSummary, DocumentEntry, DossierId, DossierKey, Ins,
    InsAgreement, Manifest, Patient, Referral, SealedChunk, Sex,
};
use confrere_protocol::receipt::{verify_receipt, DeliveryReceipt};
use confrere_protocol::transfer::{
    encode_chunk, Offer, RefuseReason, TransferMessage, CHUNK_HEADER_LEN,
};
use confrere_protocol::NationalId;

use super::documents::{scan, READ_BLOCK};
use super::engine::{internal, now, rfc3339, store_err, Engine};
use super::records::{OutboxRecord, OutboxState};
use crate::api::model::{ApiError, OutboxItem, SendRequest, Sent};
use crate::net::SecureChannel;
use crate::store::{Store, StoreError, Tree};

/// Longest wait between two delivery attempts.
const MAX_BACKOFF_SECS: i64 = 60;
/// Chunks between two looks for a refusal from the recipient.
const CHECK_EVERY: u64 = 16;
/// Batches of sealed chunks queued for the writer thread while sealing
/// (a batch is what one 256 KiB read fills: about 4 chunks).
const WRITE_QUEUE: usize = 8;
/// Chunk messages read ahead of the session while delivering.
const READ_AHEAD: usize = 8;
/// Deliveries under way at once.
const MAX_CONCURRENT: usize = 4;

fn invalid(msg: impl Into<String>, hint: &str) -> ApiError {
    ApiError::new("invalid", msg, hint)
}

/// The outbox item as the API shows it.
pub(super) fn outbox_item(r: &OutboxRecord, in_flight: Option<u64>) -> OutboxItem {
    let acked = r
        .acked_chunks
        .saturating_mul(confrere_protocol::dossier::SEALED_CHUNK_LEN as u64)
        .min(r.total_bytes);
    let sent = match r.state {
        OutboxState::Delivered => r.total_bytes,
        _ => in_flight.unwrap_or(acked).max(acked),
    };
    OutboxItem {
        id: r.id.clone(),
        to: r.to.clone(),
        state: r.state.as_str().to_owned(),
        last_error: r.last_error.clone(),
        created_at: rfc3339(r.created_at),
        delivered_at: r.delivered_at.map(rfc3339),
        sent_bytes: sent,
        total_bytes: r.total_bytes,
        attempts: r.attempts,
        in_reply_to: r.in_reply_to.clone(),
    }
}

/// Checks a send request, seals the dossier into the store and queues it.
pub(super) async fn send(
    engine: &Engine,
    req: SendRequest,
    in_reply_to: Option<DossierId>,
) -> Result<Sent, ApiError> {
    let to = NationalId::parse(req.to.trim()).map_err(|e| {
        invalid(
            format!("the recipient's national id is invalid: {e}"),
            "give the colleague's RPPS (8 + 11 digits) or ADELI (0 + 9 characters) id",
        )
    })?;
    if to == engine.identity.national_id {
        return Err(invalid(
            "the recipient is this node's own practitioner",
            "give a colleague's national id",
        ));
    }
    {
        let book = engine.book.lock().await;
        if book.find_by_national_id(to.as_str()).is_none() {
            return Err(ApiError::new(
                "unknown_recipient",
                format!("no known node serves {to}"),
                "add the colleague's node first: `confrere peers add /ip4/ADDRESS/tcp/PORT/p2p/PEER_ID` (the colleague's `confrere status` prints it)",
            ));
        }
    }
    let created_at = now();
    let ins = Ins::parse(&req.patient.ins).map_err(|e| {
        invalid(
            format!("the patient's INS is invalid: {e}"),
            "the INS is 13 digits and a 2-digit key, as on the patient's carte Vitale or INS record",
        )
    })?;
    // The record that allows this share (art. L1110-4). A reply goes back
    // to the referrer and cites none, unless the user gives one.
    let basis = if in_reply_to.is_none() || req.consent.is_some() || req.care_team.is_some() {
        Some(crate::consent::check_send(
            &engine.store,
            req.consent.as_deref(),
            req.care_team.as_deref(),
            &ins,
            &to,
            created_at,
        )?)
    } else {
        None
    };
    let birth_date = BirthDate::parse(&req.patient.birth_date).map_err(|e| {
        invalid(
            format!("the birth date is invalid: {e}"),
            "give the birth date as on the patient's INS record, written YYYY-MM-DD (e.g. 1985-02-28)",
        )
    })?;
    let sex = match req.patient.sex.trim() {
        "F" | "f" => Sex::F,
        "M" | "m" => Sex::M,
        "U" | "u" => Sex::U,
        _ => return Err(invalid("the sex must be F, M or U", "use --sex F, M or U")),
    };
    let patient_ins_for_ledger = ins.clone();
    let patient = Patient {
        ins,
        family: req.patient.family.trim().to_owned(),
        given: req.patient.given.trim().to_owned(),
        birth_date,
        sex,
    };
    patient.validate(created_at).map_err(|e| {
        invalid(
            format!("the patient is invalid: {e}"),
            "check the patient's details",
        )
    })?;
    let mut warnings = Vec::new();
    match patient.ins_agreement() {
        Ok(InsAgreement::MonthUnknown) => warnings.push(
            "the patient's INS carries a code for an unknown month of birth: only the sex and year of birth could be checked against it".to_owned(),
        ),
        Ok(_) => {}
        Err(e) => {
            return Err(invalid(
                e.to_string(),
                "check the INS, --sex and --birth-date against the patient's carte Vitale or INS record; one of them is mistyped",
            ))
        }
    }
    let id = DossierId::random().map_err(internal)?;
    let from = engine.identity.national_id.to_string();
    let store = engine.store.clone();
    let files = req.files.clone();
    // Size each file; the sealer reads it once and hashes it on the way.
    let scanned = tokio::task::spawn_blocking(move || {
        files.iter().map(|p| scan(p)).collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(internal)?
    .map_err(|e| invalid(e.to_string(), "check that the file exists and is readable"))?;
    let mut documents = Vec::with_capacity(scanned.len());
    for s in &scanned {
        let name = sanitize_document_name(&s.file_name).map_err(|e| {
            invalid(
                format!(
                    "the document name of {} cannot be used: {e}",
                    s.path.display()
                ),
                "rename the file",
            )
        })?;
        documents.push(DocumentEntry {
            name,
            media_type: s.media_type.clone(),
            size: s.size,
            // Computed by the sealer as the file is read.
            sha256: [0; 32],
        });
    }
    let manifest = Manifest {
        version: MANIFEST_VERSION,
        dossier_id: id,
        from,
        to: to.to_string(),
        created_at,
        patient,
        referral: Referral {
            reason: req.reason.clone(),
            urgent: req.urgent,
            letter: req.letter.clone().unwrap_or_default(),
        },
        in_reply_to,
        documents,
    };
    manifest.validate().map_err(|e| {
        invalid(
            format!("the dossier is invalid: {e}"),
            "check the reason, letter and files",
        )
    })?;
    let key = DossierKey::generate().map_err(internal)?;
    let wrapped = engine.wrap_key(&id, &key)?;
    // One pass: read, hash and seal into the store.
    let summary = tokio::task::spawn_blocking(move || {
        seal_into_store(&store, &key, &manifest, &scanned, &wrapped)
    })
    .await
    .map_err(internal)??;
    let total_bytes = engine.store.chunk_bytes(id.as_bytes()).map_err(store_err)?;
    let rec = OutboxRecord {
        id: id.to_string(),
        to: to.to_string(),
        state: OutboxState::Queued,
        last_error: None,
        created_at: created_at.as_secs(),
        delivered_at: None,
        chunk_count: summary.chunk_count,
        content_len: summary.content_len,
        total_bytes,
        acked_chunks: 0,
        attempts: 0,
        next_attempt: 0,
        in_reply_to: in_reply_to.map(|d| d.to_string()),
        content_digest: hex::encode(summary.content_digest),
        receipt: None,
        basis,
    };
    let ledger_basis = match (&rec.basis, in_reply_to) {
        (Some(b), _) if b.kind == crate::consent::BasisKind::CareTeam => {
            confrere_protocol::ledger::ShareBasis::CareTeam(b.id.0)
        }
        (Some(b), _) => confrere_protocol::ledger::ShareBasis::Consent(b.id.0),
        (None, Some(r)) => confrere_protocol::ledger::ShareBasis::Reply(r),
        (None, None) => return Err(internal("a send without a basis")),
    };
    engine
        .record(confrere_protocol::ledger::EntryKind::DossierSent {
            dossier_id: id,
            patient_ins: patient_ins_for_ledger,
            to: to.to_string(),
            basis: ledger_basis,
        })
        .await?;
    engine
        .store
        .put(Tree::Outbox, id.as_bytes(), &rec)
        .map_err(store_err)?;
    engine.flush().await.map_err(store_err)?;
    engine.wake.notify_one();
    Ok(Sent {
        id: id.to_string(),
        state: "queued".into(),
        warnings,
    })
}

fn seal_into_store(
    store: &Store,
    key: &DossierKey,
    manifest: &Manifest,
    files: &[super::documents::ScannedFile],
    wrapped: &[u8],
) -> Result<confrere_protocol::dossier::ContentSummary, ApiError> {
    let id = manifest.dossier_id;
    let fail = |e: &dyn std::fmt::Display| {
        let _ = store.remove_chunks(id.as_bytes());
        invalid(
            format!("the dossier could not be sealed: {e}"),
            "a file changed while it was being read; send again",
        )
    };
    store
        .put_wrapped_key(id.as_bytes(), wrapped)
        .map_err(store_err)?;
    let mut sealer = ContentSealer::new(key, manifest).map_err(|e| fail(&e))?;
    // Reading, hashing and sealing on this thread; writing the sealed
    // chunks to the store on another, so that both cores work. The sealer
    // hands out the chunks that carry the manifest last.
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<SealedChunk>>(WRITE_QUEUE);
        let writer = scope.spawn(move || -> Result<(), StoreError> {
            // The disk writes back what was written while sealing goes on;
            // the send's own flush then has little left to wait for.
            let mut flusher = crate::store::Flusher::start(store);
            // The document chunks come in order and go past the page
            // cache; the ones that carry the manifest come last, at the
            // start of the file.
            let mut stream: Option<crate::store::ChunkStream> = None;
            for chunks in rx {
                for c in chunks {
                    match &mut stream {
                        Some(s) if s.next_index() == c.index => s.push(c.index, &c.sealed)?,
                        Some(_) => store.put_chunk_at(id.as_bytes(), c.index, &c.sealed)?,
                        None => {
                            let mut s = store.chunk_stream(id.as_bytes(), c.index, false)?;
                            s.push(c.index, &c.sealed)?;
                            stream = Some(s);
                        }
                    }
                    flusher.chunk_written()?;
                }
            }
            if let Some(mut s) = stream {
                s.write_out()?;
            }
            flusher.finish()
        });
        // `None`: the writer stopped; it says why.
        let sealed = (|| -> Result<Option<ContentSummary>, ApiError> {
            let mut buf = vec![0u8; READ_BLOCK];
            for f in files {
                let mut file = std::fs::File::open(&f.path).map_err(|e| fail(&e))?;
                loop {
                    let n = file.read(&mut buf).map_err(|e| fail(&e))?;
                    if n == 0 {
                        break;
                    }
                    let chunks = sealer.write(&buf[..n]).map_err(|e| fail(&e))?;
                    if !chunks.is_empty() && tx.send(chunks).is_err() {
                        return Ok(None);
                    }
                }
                let chunks = sealer.end_document().map_err(|e| fail(&e))?;
                if !chunks.is_empty() && tx.send(chunks).is_err() {
                    return Ok(None);
                }
            }
            let (chunks, summary) = sealer.finish().map_err(|e| fail(&e))?;
            Ok(tx.send(chunks).is_ok().then_some(summary))
        })();
        drop(tx);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(StoreError::Internal("the chunk writer failed".into())));
        match (sealed, written) {
            (Err(e), _) => {
                // Written after `fail` removed them, perhaps.
                let _ = store.remove_chunks(id.as_bytes());
                Err(e)
            }
            (Ok(_), Err(e)) => {
                let _ = store.remove_chunks(id.as_bytes());
                Err(store_err(e))
            }
            (Ok(Some(summary)), Ok(())) => Ok(summary),
            (Ok(None), Ok(())) => Err(internal("the chunk writer stopped early")),
        }
    })
}

/// Delivers queued dossiers, with backoff, until the daemon stops.
pub(super) async fn outbox_worker(engine: Arc<Engine>) {
    let running: Arc<std::sync::Mutex<std::collections::HashSet<String>>> = Arc::default();
    let revoking: Arc<std::sync::atomic::AtomicBool> = Arc::default();
    while !engine.is_stopping() {
        let due: Vec<OutboxRecord> = match engine.outbox_records() {
            Ok(recs) => recs
                .into_iter()
                .filter(|r| {
                    matches!(r.state, OutboxState::Queued | OutboxState::Sending)
                        && r.next_attempt <= now().as_secs()
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e.error, "cannot read the outbox");
                Vec::new()
            }
        };
        for rec in due {
            let mut set = running.lock().unwrap_or_else(|p| p.into_inner());
            if set.len() >= MAX_CONCURRENT || set.contains(&rec.id) {
                continue;
            }
            set.insert(rec.id.clone());
            drop(set);
            let engine = engine.clone();
            let running = running.clone();
            tokio::spawn(async move {
                let id = rec.id.clone();
                deliver(&engine, rec).await;
                running
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
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
        let _ = tokio::time::timeout(Duration::from_secs(1), engine.wake.notified()).await;
    }
}

fn save(engine: &Engine, rec: &OutboxRecord) {
    if let Ok(id) = DossierId::parse_hex(&rec.id) {
        if let Err(e) = engine.store.put(Tree::Outbox, id.as_bytes(), rec) {
            tracing::warn!(error = %e, "cannot update the outbox");
        }
    }
}

async fn deliver(engine: &Engine, mut rec: OutboxRecord) {
    rec.attempts = rec.attempts.saturating_add(1);
    match try_deliver(engine, &mut rec).await {
        Ok(()) => {}
        Err(Outcome::Retry(msg)) => {
            let backoff = 1i64 << rec.attempts.min(6);
            rec.state = OutboxState::Queued;
            rec.next_attempt = now().as_secs() + backoff.min(MAX_BACKOFF_SECS);
            tracing::info!(dossier = %&rec.id[..8.min(rec.id.len())], error = %msg, "delivery will be retried");
            rec.last_error = Some(msg);
        }
        Err(Outcome::Failed(msg)) => {
            rec.state = OutboxState::Failed;
            rec.last_error = Some(msg);
        }
    }
    if let Ok(mut p) = engine.progress.lock() {
        p.remove(&rec.id);
    }
    save(engine, &rec);
    let _ = engine.flush().await;
    if matches!(rec.state, OutboxState::Delivered | OutboxState::Failed) {
        drop_sealed_copy(engine, &rec).await;
    }
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
        tracing::warn!(dossier = %&rec.id[..8.min(rec.id.len())], "the sealed copy of a sent dossier could not be removed");
    }
}

enum Outcome {
    Retry(String),
    Failed(String),
}

async fn try_deliver(engine: &Engine, rec: &mut OutboxRecord) -> Result<(), Outcome> {
    let id = DossierId::parse_hex(&rec.id).map_err(|e| Outcome::Failed(e.to_string()))?;
    if let Some(basis) = &rec.basis {
        crate::consent::still_allows(&engine.store, basis, now()).map_err(|e| match e.code() {
            "refused" | "not_found" => Outcome::Failed(e.to_string()),
            _ => Outcome::Retry(e.to_string()),
        })?;
    }
    let mut ch = engine
        .open_channel_to(&rec.to)
        .await
        .map_err(Outcome::Retry)?;
    let key = engine
        .unwrap_key(&id)
        .map_err(|e| Outcome::Failed(e.error))?;
    rec.state = OutboxState::Sending;
    save(engine, rec);
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
    save(engine, rec);
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
        .map_err(|e| Outcome::Retry(format!("the delivery could not be recorded: {}", e.error)))
}

/// What a refusal reason means to the user.
pub(super) fn reason_text(reason: RefuseReason) -> &'static str {
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
