//! Sealing a dossier into the outbox: the send request checked, each file
//! read once, hashed and sealed into the store under a fresh key, then the
//! outbox record written.
//!
//! The key and the chunks are written before the record. If sealing or
//! queueing fails, both are destroyed (key first) and the store is swept
//! for any other dossier files without a record; a crash in between is
//! swept at the next start ([`sweep_at_start`]).

use std::io::Read;

use confrere_protocol::dossier::manifest::MANIFEST_VERSION;
use confrere_protocol::dossier::names::sanitize_document_name;
use confrere_protocol::dossier::{
    BirthDate, ContentSealer, ContentSummary, DocumentEntry, DossierId, DossierKey, Ins,
    InsAgreement, Manifest, Patient, Referral, SealedChunk, Sex,
};
use confrere_protocol::NationalId;

use super::common::now;
use super::documents::{scan, READ_BLOCK};
use super::engine::Engine;
use super::error::OpError;
use super::grounds::{Grounds, ReplyTo};
use super::outbox::short;
use super::outgoing::{Outgoing, Queued};
use super::records::{OutboxRecord, OutboxState};
use crate::store::{Store, StoreError, Tree};

/// Batches of sealed chunks queued for the writer thread while sealing
/// (a batch is what one 256 KiB read fills: about 4 chunks).
const WRITE_QUEUE: usize = 8;

/// The trees whose records account for a dossier's files.
const RECORD_TREES: [Tree; 3] = [Tree::Outbox, Tree::Inbox, Tree::Transfers];

/// A store error of a send: nothing was queued.
fn not_queued(e: StoreError) -> OpError {
    if e.is_no_space() {
        OpError::DiskFull
    } else {
        OpError::NotQueued(e)
    }
}

/// Checks a dossier to send, seals it into the store and queues it; a
/// reply names the referral it answers.
pub(crate) async fn send(
    engine: &Engine,
    req: Outgoing,
    reply: Option<ReplyTo>,
) -> Result<Queued, OpError> {
    let in_reply_to = reply.as_ref().map(ReplyTo::referral_id);
    let to = NationalId::parse(req.to.trim()).map_err(|e| OpError::BadRecipient(e.to_string()))?;
    if to == engine.identity.national_id {
        return Err(OpError::SelfRecipient);
    }
    let known = engine
        .book
        .lock()
        .await
        .find_by_national_id(to.as_str())
        .is_some();
    if !known {
        // Not met yet: the directory may list it.
        let found = engine
            .net
            .find(&to)
            .await
            .map_err(|e| OpError::RecipientLookup {
                to: to.clone(),
                reason: e.to_string(),
            })?;
        if found.is_empty() {
            return Err(OpError::UnknownRecipient { to });
        }
    }
    let created_at = now();
    let ins = Ins::parse(&req.patient.ins).map_err(|e| OpError::BadIns(e.to_string()))?;
    // The record that allows this share (art. L1110-4). A reply goes back
    // to the referrer and cites none, unless the user gives one.
    let grounds = match reply {
        Some(reply) if req.consent.is_none() && req.care_team.is_none() => {
            Grounds::reply(reply, &to, &ins)?
        }
        _ => Grounds::Checked(crate::consent::check_send(
            &engine.store,
            req.consent.as_deref(),
            req.care_team.as_deref(),
            &ins,
            &to,
            created_at,
        )?),
    };
    let birth_date = BirthDate::parse(&req.patient.birth_date)
        .map_err(|e| OpError::BadBirthDate(e.to_string()))?;
    let sex = match req.patient.sex.trim() {
        "F" | "f" => Sex::F,
        "M" | "m" => Sex::M,
        "U" | "u" => Sex::U,
        _ => return Err(OpError::BadSex),
    };
    let patient_ins_for_ledger = ins.clone();
    let patient = Patient {
        ins,
        family: req.patient.family.trim().to_owned(),
        given: req.patient.given.trim().to_owned(),
        birth_date,
        sex,
    };
    patient
        .validate(created_at)
        .map_err(|e| OpError::BadPatient(e.to_string()))?;
    let mut warnings = Vec::new();
    match patient.ins_agreement() {
        Ok(InsAgreement::MonthUnknown) => warnings.push(
            "the patient's INS carries a code for an unknown month of birth: only the sex and year of birth could be checked against it".to_owned(),
        ),
        Ok(_) => {}
        Err(e) => return Err(OpError::InsMismatch(e.to_string())),
    }
    let id = DossierId::random().map_err(OpError::internal)?;
    let from = engine.identity.national_id.to_string();
    let store = engine.store.clone();
    let files = req.files.clone();
    // Size each file; the sealer reads it once and hashes it on the way.
    let scanned = tokio::task::spawn_blocking(move || {
        files.iter().map(|p| scan(p)).collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(OpError::internal)?
    .map_err(|e| OpError::UnreadableDocument(e.to_string()))?;
    let mut documents = Vec::with_capacity(scanned.len());
    for s in &scanned {
        let name = sanitize_document_name(&s.file_name).map_err(|e| OpError::BadDocumentName {
            path: s.path.clone(),
            reason: e.to_string(),
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
    manifest
        .validate()
        .map_err(|e| OpError::BadDossier(e.to_string()))?;
    let key = DossierKey::generate().map_err(OpError::internal)?;
    let wrapped = engine.wrap_key(&id, &key)?;
    // One pass: read, hash and seal into the store.
    let sealed = tokio::task::spawn_blocking(move || {
        seal_or_discard(&store, &key, &manifest, &scanned, &wrapped)
    })
    .await;
    let summary = match sealed {
        Ok(Ok(summary)) => summary,
        // Discarded already.
        Ok(Err(e)) => return Err(e),
        Err(e) => {
            give_up(engine, id).await;
            return Err(OpError::internal(e));
        }
    };
    let queued = queue(
        engine,
        id,
        to,
        created_at,
        summary,
        grounds,
        in_reply_to,
        patient_ins_for_ledger,
    )
    .await;
    match queued {
        Ok(()) => {
            engine.store.let_go(id.as_bytes());
            engine.wake.notify_one();
            Ok(Queued { id, warnings })
        }
        Err(e) => {
            give_up(engine, id).await;
            Err(e)
        }
    }
}

/// Writes the ledger entry and the outbox record of a sealed dossier.
#[allow(
    clippy::too_many_arguments,
    reason = "each argument is one part of the entry and record written together; a struct would only rename them"
)]
async fn queue(
    engine: &Engine,
    id: DossierId,
    to: NationalId,
    created_at: confrere_protocol::UnixTime,
    summary: ContentSummary,
    grounds: Grounds,
    in_reply_to: Option<DossierId>,
    patient_ins: Ins,
) -> Result<(), OpError> {
    let total_bytes = engine
        .store
        .chunk_bytes(id.as_bytes())
        .map_err(not_queued)?;
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
        basis: grounds.queued(),
        path: None,
    };
    let ledger_basis = grounds.ledger_basis();
    engine
        .record(confrere_protocol::ledger::EntryKind::DossierSent {
            dossier_id: id,
            patient_ins,
            to: to.to_string(),
            basis: ledger_basis,
        })
        .await
        .map_err(|e| match e {
            OpError::Ledger(crate::ledger::LedgerError::Store(StoreError::NoSpace)) => {
                not_queued(StoreError::NoSpace)
            }
            OpError::Ledger(e) => OpError::NotLogged(e),
            e => e,
        })?;
    engine.outbox.create(&rec).map_err(not_queued)?;
    engine
        .flush()
        .await
        .map_err(|source| OpError::QueuedNotDurable {
            id: id.to_string(),
            source,
        })
}

/// After a failed seal or queueing: the dossier's key is destroyed, then
/// its chunks, and the store is swept for other dossier files without a
/// record (logged).
async fn give_up(engine: &Engine, id: DossierId) {
    let store = engine.store.clone();
    if let Err(e) = tokio::task::spawn_blocking(move || discard(&store, id)).await {
        tracing::warn!(error = %e, "the clean-up after a failed send did not run");
    }
}

/// Seals a dossier into the store; if that fails, destroys what it wrote
/// (see [`discard`]).
fn seal_or_discard(
    store: &Store,
    key: &DossierKey,
    manifest: &Manifest,
    files: &[super::documents::ScannedFile],
    wrapped: &[u8],
) -> Result<ContentSummary, OpError> {
    let sealed = seal_into_store(store, key, manifest, files, wrapped);
    if sealed.is_err() {
        discard(store, manifest.dossier_id);
    }
    sealed
}

/// Destroys the key, then the chunks, of a dossier whose send failed
/// (unless its record was written: then the outbox has it), and sweeps the
/// store for other dossier files without a record. Blocking; logs what
/// it did.
fn discard(store: &Store, id: DossierId) {
    let done = (|| -> Result<Vec<[u8; 16]>, StoreError> {
        if store.contains(Tree::Outbox, id.as_bytes())? {
            store.let_go(id.as_bytes());
        } else {
            store.destroy_key(id.as_bytes())?;
            store.remove_chunks(id.as_bytes())?;
        }
        store.sweep_orphans(&RECORD_TREES)
    })();
    match done {
        Ok(swept) => log_swept(&swept, "after a failed send"),
        Err(e) => tracing::warn!(
            dossier = %short(&id.to_string()),
            error = %e,
            "the files of a dossier that could not be sent could not all be destroyed; they go at the next start"
        ),
    }
}

fn log_swept(swept: &[[u8; 16]], when: &str) {
    if swept.is_empty() {
        return;
    }
    let ids: Vec<String> = swept.iter().map(|id| short(&hex::encode(id))).collect();
    tracing::warn!(
        count = swept.len(),
        dossiers = %ids.join(","),
        "destroyed the files of dossiers that no record accounts for ({when}): a sealed copy left by a crash or a failed send"
    );
}

/// At start, before the node takes work: destroys the dossier files no
/// record accounts for, and the sealed copies of outbox items already
/// delivered or failed that a crash left behind.
pub(crate) async fn sweep_at_start(engine: &Engine) {
    let settled = std::mem::take(
        &mut *engine
            .settled_at_start
            .lock()
            .unwrap_or_else(|p| p.into_inner()),
    );
    let store = engine.store.clone();
    let done =
        tokio::task::spawn_blocking(move || -> Result<(Vec<[u8; 16]>, usize), StoreError> {
            let mut dropped = 0;
            for id in &settled {
                if store.has_files(id)? {
                    store.destroy_key(id)?;
                    store.remove_chunks(id)?;
                    dropped += 1;
                }
            }
            Ok((store.sweep_orphans(&RECORD_TREES)?, dropped))
        })
        .await;
    match done {
        Ok(Ok((swept, dropped))) => {
            log_swept(&swept, "at start");
            if dropped > 0 {
                tracing::info!(
                    count = dropped,
                    "removed the sealed copies of sent dossiers left by an interrupted clean-up"
                );
            }
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the dossier files without a record could not all be destroyed")
        }
        Err(e) => {
            tracing::warn!(error = %e, "the sweep of dossier files without a record did not run")
        }
    }
}

fn seal_into_store(
    store: &Store,
    key: &DossierKey,
    manifest: &Manifest,
    files: &[super::documents::ScannedFile],
    wrapped: &[u8],
) -> Result<confrere_protocol::dossier::ContentSummary, OpError> {
    let id = manifest.dossier_id;
    // What is written so far is destroyed by `seal_or_discard`.
    let fail = |e: &dyn std::fmt::Display| OpError::SealFailed(e.to_string());
    let read_fail = OpError::DocumentReadFailed;
    store
        .put_wrapped_key(id.as_bytes(), wrapped)
        .map_err(not_queued)?;
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
        let sealed = (|| -> Result<Option<ContentSummary>, OpError> {
            let mut buf = vec![0u8; READ_BLOCK];
            for f in files {
                let mut file = std::fs::File::open(&f.path).map_err(read_fail)?;
                loop {
                    let n = file.read(&mut buf).map_err(read_fail)?;
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
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(not_queued(e)),
            (Ok(Some(summary)), Ok(())) => Ok(summary),
            (Ok(None), Ok(())) => Err(OpError::internal("the chunk writer stopped early")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{Code, Fault};
    use crate::store::StoreKeySource;

    fn manifest(size: u64) -> Manifest {
        Manifest {
            version: MANIFEST_VERSION,
            dossier_id: DossierId::random().expect("id"),
            from: "810001000016".into(),
            to: "810001000024".into(),
            created_at: confrere_protocol::UnixTime::from_secs(1_750_000_000),
            patient: Patient {
                ins: Ins::parse("285057512345623").expect("ins"),
                family: "ZQWXYTEST".into(),
                given: "Hortensia".into(),
                birth_date: BirthDate::parse("1985-05-12").expect("date"),
                sex: Sex::F,
            },
            referral: Referral {
                reason: "test".into(),
                urgent: false,
                letter: String::new(),
            },
            in_reply_to: None,
            documents: vec![DocumentEntry {
                name: "doc.bin".into(),
                media_type: "application/octet-stream".into(),
                size,
                sha256: [0; 32],
            }],
        }
    }

    /// A file that grew between its scan and its sealing: the seal fails,
    /// and neither the chunks written so far nor the key stay.
    #[test]
    fn a_failed_seal_leaves_neither_chunks_nor_key() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open(home.path(), StoreKeySource::KeyFile).expect("open");
        let doc = home.path().join("doc.bin");
        std::fs::write(&doc, vec![7u8; 3 * READ_BLOCK]).expect("write");
        let scanned = scan(&doc).expect("scan");
        std::fs::write(&doc, vec![7u8; 5 * READ_BLOCK]).expect("grow");
        let manifest = manifest(scanned.size);
        let id = manifest.dossier_id;
        let key = DossierKey::generate().expect("key");
        let err = seal_or_discard(&store, &key, &manifest, &[scanned], b"wrapped")
            .expect_err("the file changed");
        assert!(err.to_string().contains("nothing was queued"), "{err}");
        assert!(!store.has_files(id.as_bytes()).expect("files"));
        assert_eq!(store.get_wrapped_key(id.as_bytes()).expect("key"), None);
        let left: Vec<_> = std::fs::read_dir(home.path().join("blobs"))
            .expect("list")
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_good_seal_is_held_until_its_record_exists() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open(home.path(), StoreKeySource::KeyFile).expect("open");
        let doc = home.path().join("doc.bin");
        std::fs::write(&doc, vec![7u8; READ_BLOCK + 5]).expect("write");
        let scanned = scan(&doc).expect("scan");
        let manifest = manifest(scanned.size);
        let id = manifest.dossier_id;
        let key = DossierKey::generate().expect("key");
        seal_or_discard(&store, &key, &manifest, &[scanned], b"wrapped").expect("seal");
        // Another send failing meanwhile sweeps: this one is left alone.
        assert!(store
            .sweep_orphans(&RECORD_TREES)
            .expect("sweep")
            .is_empty());
        assert!(store.has_files(id.as_bytes()).expect("files"));
        // Its send then fails before the record: discarded.
        discard(&store, id);
        assert!(!store.has_files(id.as_bytes()).expect("files"));
    }

    /// A full disk before anything was queued: the send says so, and what
    /// to do; it does not promise that a transfer resumes.
    #[test]
    fn a_full_disk_during_a_send_says_nothing_was_queued() {
        let full = StoreError::io(
            "writing a chunk",
            std::io::Error::from(std::io::ErrorKind::StorageFull),
        );
        let e = not_queued(full);
        assert_eq!(e.code(), Code::Unavailable);
        assert!(e.to_string().contains("nothing was queued"), "{e}");
        assert!(!e.to_string().contains("resume"), "{e}");
        let hint = e.hint();
        assert!(hint.contains("free space") && hint.contains("send the dossier again"));
        let other = not_queued(StoreError::Internal("x".into()));
        assert!(
            other.to_string().ends_with("; nothing was queued"),
            "{other}"
        );
        assert_eq!(other.code(), Code::Internal);
    }
}
