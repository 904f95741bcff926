//! The referral inbox: listing, showing, opening (writing the documents
//! out), accepting, declining and replying.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use confrere_protocol::dossier::names::{sanitize_document_name, unique_name};
use confrere_protocol::dossier::{ContentEvent, ContentOpener, DossierId};

use super::engine::Engine;
use super::error::OpError;
use super::grounds::ReplyTo;
use super::outgoing::{Outgoing, Queued, TypedPatient};
use super::records::{InboxRecord, InboxStatus};
use super::sending;
use crate::store::Tree;

fn not_found(id: &str) -> OpError {
    OpError::NoInboxItem(id.to_owned())
}

fn parse_id(id: &str) -> Result<DossierId, OpError> {
    DossierId::parse_hex(id.trim()).map_err(|_| not_found(id))
}

/// Urgent first, then newest.
pub(crate) fn list(engine: &Engine) -> Result<Vec<InboxRecord>, OpError> {
    let mut recs = engine.inbox_records()?;
    recs.sort_by(|a, b| {
        b.urgent
            .cmp(&a.urgent)
            .then(b.received_at.cmp(&a.received_at))
            .then(b.id.cmp(&a.id))
    });
    Ok(recs)
}

fn get(engine: &Engine, id: &str) -> Result<(DossierId, InboxRecord), OpError> {
    let did = parse_id(id)?;
    let rec = engine
        .store
        .get::<InboxRecord>(Tree::Inbox, did.as_bytes())?
        .ok_or_else(|| not_found(id))?;
    Ok((did, rec))
}

/// One item, read: its opening is logged (unless it was erased).
pub(crate) async fn show(engine: &Engine, id: &str) -> Result<InboxRecord, OpError> {
    let (did, rec) = get(engine, id)?;
    // Reading the referral (its patient, reason and letter) is an opening;
    // an erased one holds none of them any more.
    if rec.status != InboxStatus::Revoked {
        record_opened(engine, did, &rec).await?;
    }
    Ok(rec)
}

async fn record_opened(engine: &Engine, did: DossierId, rec: &InboxRecord) -> Result<(), OpError> {
    let ins = confrere_protocol::dossier::Ins::parse(&rec.ins).map_err(OpError::internal)?;
    engine
        .record(confrere_protocol::ledger::EntryKind::DossierOpened {
            dossier_id: did,
            patient_ins: ins,
            by: engine.identity.national_id.to_string(),
        })
        .await
}

pub(crate) async fn set_status(
    engine: &Engine,
    id: &str,
    status: InboxStatus,
    reason: Option<String>,
) -> Result<InboxRecord, OpError> {
    let (did, mut rec) = get(engine, id)?;
    rec.status
        .can_become(status)
        .map_err(|why| refused_move(rec.status, status, why))?;
    rec.status = status;
    if reason.is_some() {
        rec.decline_reason = reason;
    }
    engine.store.put(Tree::Inbox, did.as_bytes(), &rec)?;
    engine.flush().await?;
    Ok(rec)
}

/// Why an item in status `from` cannot move to `to`.
fn refused_move(from: InboxStatus, to: InboxStatus, why: &'static str) -> OpError {
    let what = match to {
        InboxStatus::Accepted => "accepted",
        InboxStatus::Declined => "declined",
        _ => "answered",
    };
    OpError::RefusedMove {
        why,
        what,
        erased: from == InboxStatus::Revoked,
    }
}

/// Sends a dossier back to the referrer of item `id`, linked to it: the
/// patient and the reason are the referral's.
pub(crate) async fn reply(
    engine: &Engine,
    id: &str,
    letter: Option<String>,
    files: Vec<PathBuf>,
) -> Result<Queued, OpError> {
    let (did, rec) = get(engine, id)?;
    rec.status
        .can_become(InboxStatus::Answered)
        .map_err(|why| refused_move(rec.status, InboxStatus::Answered, why))?;
    let send = Outgoing {
        to: rec.from.clone(),
        patient: TypedPatient {
            ins: rec.ins.clone(),
            family: rec.family.clone(),
            given: rec.given.clone(),
            birth_date: rec.birth_date.clone(),
            sex: rec.sex.clone(),
        },
        reason: format!("Reply: {}", rec.reason),
        urgent: rec.urgent,
        letter,
        files,
        // A reply goes back to the referrer: it cites no record.
        consent: None,
        care_team: None,
    };
    let reply = ReplyTo::referral(did, &rec)?;
    let sent = sending::send(engine, send, Some(reply)).await?;
    set_status(engine, id, InboxStatus::Answered, None).await?;
    Ok(sent)
}

/// Writes the documents into `out_dir`, under sanitised, de-duplicated
/// names; nothing is written outside it and nothing existing is overwritten.
pub(crate) async fn open(
    engine: &Engine,
    id: &str,
    out_dir: &Path,
) -> Result<Vec<PathBuf>, OpError> {
    let (did, mut rec) = get(engine, id)?;
    if rec.status == InboxStatus::Revoked {
        return Err(OpError::ErasedItem {
            id: rec.id.chars().take(12).collect(),
            reason: rec
                .decline_reason
                .clone()
                .unwrap_or_else(|| "the patient withdrew consent".to_owned()),
        });
    }
    let key = engine.unwrap_key(&did)?;
    let store = engine.store.clone();
    let out = out_dir.to_path_buf();
    let chunk_count = rec.chunk_count;
    let files = tokio::task::spawn_blocking(move || -> Result<Vec<PathBuf>, OpError> {
        write_documents(&store, &key, did, chunk_count, &out)
    })
    .await
    .map_err(OpError::internal)??;
    let ins = confrere_protocol::dossier::Ins::parse(&rec.ins).map_err(OpError::internal)?;
    if rec.status == InboxStatus::New {
        record_opened(engine, did, &rec).await?;
    }
    engine
        .record(confrere_protocol::ledger::EntryKind::DossierExported {
            dossier_id: did,
            patient_ins: ins,
            files: u32::try_from(files.len()).unwrap_or(u32::MAX),
        })
        .await?;
    if rec.status == InboxStatus::New {
        rec.status = InboxStatus::Opened;
        engine.store.put(Tree::Inbox, did.as_bytes(), &rec)?;
        engine.flush().await?;
    }
    Ok(files)
}

fn out_err(dir: &Path, e: impl std::fmt::Display) -> OpError {
    OpError::CannotWrite {
        dir: dir.to_path_buf(),
        reason: e.to_string(),
    }
}

fn write_documents(
    store: &crate::store::Store,
    key: &confrere_protocol::dossier::DossierKey,
    id: DossierId,
    chunk_count: u64,
    out: &Path,
) -> Result<Vec<PathBuf>, OpError> {
    if !out.is_absolute() {
        return Err(OpError::OutDirNotAbsolute);
    }
    fs::create_dir_all(out).map_err(|e| out_err(out, e))?;
    let out = out.canonicalize().map_err(|e| out_err(out, e))?;
    let mut opener = ContentOpener::new(key, id);
    let mut files = Exported {
        out: out.clone(),
        names: Vec::new(),
        written: Vec::new(),
    };
    let mut current: Option<(usize, fs::File)> = None;
    let mut doc_names: Vec<String> = Vec::new();
    let result = (|| -> Result<(), OpError> {
        let missing =
            |index: u64| OpError::internal(format!("chunk {index} of the dossier is missing"));
        let mut reader = store
            .chunk_reader(id.as_bytes(), 0)?
            .ok_or_else(|| missing(0))?;
        for index in 0..chunk_count {
            let (_, sealed) = reader.next_chunk()?.ok_or_else(|| missing(index))?;
            let events = opener
                .push_chunk(index, index + 1 == chunk_count, sealed)
                .map_err(|e| OpError::internal(format!("the stored dossier does not open: {e}")))?;
            for ev in events {
                match ev {
                    ContentEvent::Manifest(m) => {
                        doc_names = m.documents.iter().map(|d| d.name.clone()).collect();
                    }
                    ContentEvent::Data { document, bytes } => {
                        if current.as_ref().map(|c| c.0) != Some(document) {
                            let f = files.create(doc_names.get(document), document)?;
                            current = Some((document, f));
                        }
                        if let Some((_, f)) = current.as_mut() {
                            f.write_all(bytes).map_err(|e| out_err(&out, e))?;
                        }
                    }
                    ContentEvent::DocumentDone { document } => {
                        match current.take() {
                            Some((d, f)) if d == document => {
                                f.sync_all().map_err(|e| out_err(&out, e))?;
                            }
                            // An empty document: no Data event came.
                            _ => {
                                files.create(doc_names.get(document), document)?;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        opener
            .finish()
            .map_err(|e| OpError::internal(format!("the stored dossier is incomplete: {e}")))?;
        Ok(())
    })();
    if let Err(e) = result {
        // Leave no half-written documents behind.
        for p in &files.written {
            let _ = fs::remove_file(p);
        }
        return Err(e);
    }
    Ok(files.written)
}

/// The documents an opening writes into its output directory.
struct Exported {
    out: PathBuf,
    /// Names taken so far.
    names: Vec<String>,
    /// Files created so far (removed again if the opening fails).
    written: Vec<PathBuf>,
}

impl Exported {
    /// Creates the file of document `document` (position in the manifest)
    /// under its sanitised name made unique, never outside the directory
    /// and never over an existing file.
    fn create(&mut self, raw: Option<&String>, document: usize) -> Result<fs::File, OpError> {
        let out = &self.out;
        let safe = sanitize_document_name(raw.map_or("", String::as_str))
            .unwrap_or_else(|_| format!("document-{}", document + 1));
        let names = &self.names;
        let name = unique_name(&safe, &|n: &str| {
            names.iter().any(|x| x == n) || out.join(n).exists()
        })
        .map_err(|e| out_err(out, e))?;
        let path = out.join(&name);
        if path.parent() != Some(out.as_path()) {
            return Err(out_err(out, "a document name escapes the directory"));
        }
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| out_err(out, e))?;
        self.names.push(name);
        self.written.push(path);
        Ok(f)
    }
}
