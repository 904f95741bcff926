//! The referral inbox: listing, showing, opening (writing the documents
//! out), accepting, declining and replying.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use confrere_protocol::dossier::names::{sanitize_document_name, unique_name};
use confrere_protocol::dossier::{ContentEvent, ContentOpener, DossierId};

use super::common::{internal, rfc3339, store_err};
use super::engine::Engine;
use super::records::{InboxRecord, InboxStatus};
use super::sending;
use crate::api::model::*;
use crate::store::Tree;

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        "not_found",
        format!("no inbox item {id}"),
        "list the inbox with `confrere inbox` to see the ids",
    )
}

fn parse_id(id: &str) -> Result<DossierId, ApiError> {
    DossierId::parse_hex(id.trim()).map_err(|_| not_found(id))
}

pub(crate) fn item(r: &InboxRecord, with_letter: bool) -> InboxItem {
    InboxItem {
        id: r.id.clone(),
        from: r.from.clone(),
        from_name: r.from_name.clone(),
        patient: PatientSummary {
            ins: r.ins.clone(),
            family: r.family.clone(),
            given: r.given.clone(),
            birth_date: r.birth_date.clone(),
        },
        reason: r.reason.clone(),
        urgent: r.urgent,
        status: r.status.as_str().to_owned(),
        received_at: rfc3339(r.received_at),
        documents: r
            .documents
            .iter()
            .map(|d| DocumentInfo {
                name: d.name.clone(),
                media_type: d.media_type.clone(),
                size: d.size,
                sha256: d.sha256.clone(),
            })
            .collect(),
        in_reply_to: r.in_reply_to.clone(),
        letter: (with_letter && !r.letter.is_empty()).then(|| r.letter.clone()),
        decline_reason: r.decline_reason.clone(),
    }
}

/// Urgent first, then newest.
pub(crate) fn list(engine: &Engine) -> Result<Vec<InboxItem>, ApiError> {
    let mut recs = engine.inbox_records()?;
    recs.sort_by(|a, b| {
        b.urgent
            .cmp(&a.urgent)
            .then(b.received_at.cmp(&a.received_at))
            .then(b.id.cmp(&a.id))
    });
    Ok(recs.iter().map(|r| item(r, false)).collect())
}

fn get(engine: &Engine, id: &str) -> Result<(DossierId, InboxRecord), ApiError> {
    let did = parse_id(id)?;
    let rec = engine
        .store
        .get::<InboxRecord>(Tree::Inbox, did.as_bytes())
        .map_err(store_err)?
        .ok_or_else(|| not_found(id))?;
    Ok((did, rec))
}

pub(crate) async fn show(engine: &Engine, id: &str) -> Result<InboxItem, ApiError> {
    let (did, rec) = get(engine, id)?;
    // Reading the referral (its patient, reason and letter) is an opening;
    // an erased one holds none of them any more.
    if rec.status != InboxStatus::Revoked {
        record_opened(engine, did, &rec).await?;
    }
    Ok(item(&rec, true))
}

async fn record_opened(engine: &Engine, did: DossierId, rec: &InboxRecord) -> Result<(), ApiError> {
    let ins = confrere_protocol::dossier::Ins::parse(&rec.ins).map_err(internal)?;
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
) -> Result<InboxItem, ApiError> {
    let (did, mut rec) = get(engine, id)?;
    rec.status
        .can_become(status)
        .map_err(|why| refused_move(rec.status, status, why))?;
    rec.status = status;
    if reason.is_some() {
        rec.decline_reason = reason;
    }
    engine
        .store
        .put(Tree::Inbox, did.as_bytes(), &rec)
        .map_err(store_err)?;
    engine.flush().await.map_err(store_err)?;
    Ok(item(&rec, false))
}

/// Why an item in status `from` cannot move to `to`.
fn refused_move(from: InboxStatus, to: InboxStatus, why: &str) -> ApiError {
    let what = match to {
        InboxStatus::Accepted => "accepted",
        InboxStatus::Declined => "declined",
        _ => "answered",
    };
    ApiError::new(
        "refused",
        format!("{why}: it cannot be {what}"),
        if from == InboxStatus::Revoked {
            "nothing more may be shared about it; only a new consent from the patient allows a new share"
        } else {
            "see its status with `confrere inbox show ID`; a new referral needs a new dossier"
        },
    )
}

pub(crate) async fn reply(engine: &Engine, id: &str, req: ReplyRequest) -> Result<Sent, ApiError> {
    let (did, rec) = get(engine, id)?;
    rec.status
        .can_become(InboxStatus::Answered)
        .map_err(|why| refused_move(rec.status, InboxStatus::Answered, why))?;
    let send = SendRequest {
        to: rec.from.clone(),
        patient: Patient {
            ins: rec.ins.clone(),
            family: rec.family.clone(),
            given: rec.given.clone(),
            birth_date: rec.birth_date.clone(),
            sex: rec.sex.clone(),
        },
        reason: format!("Reply: {}", rec.reason),
        urgent: rec.urgent,
        letter: req.letter,
        files: req.files,
        // A reply goes back to the referrer: it cites no record.
        consent: None,
        care_team: None,
    };
    let sent = sending::send(engine, send, Some(did)).await?;
    set_status(engine, id, InboxStatus::Answered, None).await?;
    Ok(sent)
}

/// Writes the documents into `out_dir`, under sanitised, de-duplicated
/// names; nothing is written outside it and nothing existing is overwritten.
pub(crate) async fn open(engine: &Engine, id: &str, req: OpenRequest) -> Result<Opened, ApiError> {
    let (did, mut rec) = get(engine, id)?;
    if rec.status == InboxStatus::Revoked {
        return Err(ApiError::new(
            "refused",
            format!(
                "dossier {} was erased: {}",
                &rec.id[..12.min(rec.id.len())],
                rec.decline_reason
                    .as_deref()
                    .unwrap_or("the patient withdrew consent")
            ),
            "its documents can no longer be opened; ask the referring practitioner if care requires them",
        ));
    }
    let key = engine.unwrap_key(&did)?;
    let store = engine.store.clone();
    let out = req.out_dir.clone();
    let chunk_count = rec.chunk_count;
    let files = tokio::task::spawn_blocking(move || -> Result<Vec<PathBuf>, ApiError> {
        write_documents(&store, &key, did, chunk_count, &out)
    })
    .await
    .map_err(internal)??;
    let ins = confrere_protocol::dossier::Ins::parse(&rec.ins).map_err(internal)?;
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
        engine
            .store
            .put(Tree::Inbox, did.as_bytes(), &rec)
            .map_err(store_err)?;
        engine.flush().await.map_err(store_err)?;
    }
    Ok(Opened { files })
}

fn out_err(dir: &Path, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        "invalid",
        format!("cannot write into {}: {e}", dir.display()),
        "choose a directory you can write to, with enough free space",
    )
}

fn write_documents(
    store: &crate::store::Store,
    key: &confrere_protocol::dossier::DossierKey,
    id: DossierId,
    chunk_count: u64,
    out: &Path,
) -> Result<Vec<PathBuf>, ApiError> {
    if !out.is_absolute() {
        return Err(ApiError::new(
            "invalid",
            "the output directory must be an absolute path",
            "give --out as a full path",
        ));
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
    let result = (|| -> Result<(), ApiError> {
        let missing = |index: u64| internal(format!("chunk {index} of the dossier is missing"));
        let mut reader = store
            .chunk_reader(id.as_bytes(), 0)
            .map_err(store_err)?
            .ok_or_else(|| missing(0))?;
        for index in 0..chunk_count {
            let (_, sealed) = reader
                .next_chunk()
                .map_err(store_err)?
                .ok_or_else(|| missing(index))?;
            let events = opener
                .push_chunk(index, index + 1 == chunk_count, sealed)
                .map_err(|e| internal(format!("the stored dossier does not open: {e}")))?;
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
            .map_err(|e| internal(format!("the stored dossier is incomplete: {e}")))?;
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
    fn create(&mut self, raw: Option<&String>, document: usize) -> Result<fs::File, ApiError> {
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
