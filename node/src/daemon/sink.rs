//! The recipient's chunk sink: stores and verifies a dossier's chunks on a
//! blocking thread while the session goes on receiving the next ones.
//!
//! ```text
//! session task                          sink thread
//! ChunkSink::start ── stored chunks ──▶ opened in order (a resumed transfer);
//!                                        the first that does not open is where
//!                                        the transfer resumes
//! Resume { next }
//! Chunk × n ── push ─── (bounded) ────▶ stored, opened, checked against the
//!                                        manifest; a flush asked of the
//!                                        store's flusher every CHUNKS_PER_FLUSH
//! finish ◀──────────────────────────── flushed; manifest and content summary
//! ```
//!
//! Storing, opening (AES-GCM) and hashing a chunk take about as long as
//! receiving it, so the two run side by side. The queue between them holds
//! [`QUEUE`] chunks: memory stays bounded, and a sink that falls behind
//! slows the sender through the session's flow control. The sink stops at
//! the first error, which [`ChunkSink::finish`] reports.

use confrere_protocol::dossier::{
    ContentEvent, ContentOpener, ContentSummary, DossierId, DossierKey, Manifest, OpenError,
};
use tokio::sync::mpsc;

use crate::store::{Flusher, Store, StoreError};

/// Chunks queued between the session and the sink (about 1 MiB).
const QUEUE: usize = 16;

/// Why the sink stopped.
#[derive(Debug)]
pub(super) enum SinkError {
    /// The store refused (disk full, I/O): keep what is stored, resume later.
    Store(StoreError),
    /// The content does not verify (manifest, document hash, order, seal).
    Content(String),
}

/// What the sink established once the last chunk was stored.
pub(super) struct Verified {
    pub manifest: Manifest,
    pub summary: ContentSummary,
}

struct Chunk {
    index: u64,
    last: bool,
    /// The whole Chunk message; the sealed bytes start at `offset`.
    message: Vec<u8>,
    offset: usize,
}

impl Chunk {
    fn sealed(&self) -> &[u8] {
        self.message.get(self.offset..).unwrap_or_default()
    }
}

/// The sink of one transfer; see the module documentation.
pub(super) struct ChunkSink {
    tx: Option<mpsc::Sender<Chunk>>,
    task: tokio::task::JoinHandle<Result<Verified, SinkError>>,
}

/// The opener and manifest after the chunks already stored were read.
struct Resumed {
    opener: ContentOpener,
    manifest: Option<Manifest>,
    next: u64,
}

impl ChunkSink {
    /// Opens the chunks already stored for dossier `id` (a transfer that
    /// resumes), then starts the sink. Returns it with the index the
    /// transfer resumes at.
    pub(super) async fn start(
        store: Store,
        key: DossierKey,
        id: DossierId,
        chunk_count: u64,
        content_len: u64,
    ) -> Result<(ChunkSink, u64), SinkError> {
        let st = store.clone();
        let resumed = tokio::task::spawn_blocking(move || {
            reopen_stored(&st, &key, id, chunk_count, content_len)
        })
        .await
        .map_err(|e| SinkError::Content(format!("the sink failed: {e}")))??;
        let next = resumed.next;
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::task::spawn_blocking(move || run(&store, id, chunk_count, resumed, rx));
        Ok((ChunkSink { tx: Some(tx), task }, next))
    }

    /// Hands a chunk to the sink: the Chunk message as received, whose
    /// sealed bytes start at `offset` (no copy). `false` when the sink has
    /// stopped: [`ChunkSink::finish`] says why.
    pub(super) async fn push(
        &mut self,
        index: u64,
        last: bool,
        message: Vec<u8>,
        offset: usize,
    ) -> bool {
        let Some(tx) = &self.tx else { return false };
        let chunk = Chunk {
            index,
            last,
            message,
            offset,
        };
        tx.send(chunk).await.is_ok()
    }

    /// Waits for the sink to store, flush and check what it was given.
    pub(super) async fn finish(mut self) -> Result<Verified, SinkError> {
        self.tx = None;
        (&mut self.task)
            .await
            .map_err(|e| SinkError::Content(format!("the sink failed: {e}")))?
    }
}

fn content(e: impl std::fmt::Display) -> SinkError {
    SinkError::Content(e.to_string())
}

/// Feeds `opener` one chunk; keeps the manifest when it comes.
fn feed(
    opener: &mut ContentOpener,
    manifest: &mut Option<Manifest>,
    id: DossierId,
    index: u64,
    last: bool,
    sealed: &[u8],
) -> Result<(), OpenError> {
    for ev in opener.push_chunk(index, last, sealed)? {
        if let ContentEvent::Manifest(m) = ev {
            if m.dossier_id != id {
                return Err(OpenError::WrongDossier);
            }
            *manifest = Some(*m);
        }
    }
    Ok(())
}

fn reopen_stored(
    store: &Store,
    key: &DossierKey,
    id: DossierId,
    chunk_count: u64,
    content_len: u64,
) -> Result<Resumed, SinkError> {
    let mut opener = ContentOpener::new(key, id).expecting_len(content_len);
    let mut manifest = None;
    let held = store
        .chunk_count_contiguous(id.as_bytes())
        .map_err(SinkError::Store)?
        .min(chunk_count);
    let mut next = 0;
    let mut reader = match held {
        0 => None,
        _ => store
            .chunk_reader(id.as_bytes(), 0)
            .map_err(SinkError::Store)?,
    };
    while next < held {
        let Some((_, sealed)) = reader
            .as_mut()
            .map(|r| r.next_chunk())
            .transpose()
            .map_err(SinkError::Store)?
            .flatten()
        else {
            break;
        };
        let last = next + 1 == chunk_count;
        match feed(&mut opener, &mut manifest, id, next, last, sealed) {
            Ok(()) => next += 1,
            // Damaged on disk (e.g. cut by a crash): received again from here.
            Err(OpenError::Chunk(_)) => break,
            Err(e) => return Err(content(e)),
        }
    }
    Ok(Resumed {
        opener,
        manifest,
        next,
    })
}

fn run(
    store: &Store,
    id: DossierId,
    chunk_count: u64,
    resumed: Resumed,
    mut rx: mpsc::Receiver<Chunk>,
) -> Result<Verified, SinkError> {
    let Resumed {
        mut opener,
        mut manifest,
        mut next,
    } = resumed;
    // The disk writes back what was stored while the next chunks come.
    let mut flusher = Flusher::start(store);
    let mut stream = store
        .chunk_stream(id.as_bytes(), next, true)
        .map_err(SinkError::Store)?;
    let received = (|| {
        while next < chunk_count {
            let Some(chunk) = rx.blocking_recv() else {
                return Err(content(format!(
                    "the transfer stopped at chunk {next} of {chunk_count}"
                )));
            };
            if chunk.index != next {
                return Err(content(format!(
                    "chunk {} came while chunk {next} was expected",
                    chunk.index
                )));
            }
            // Checked before it is stored: a chunk that does not open is not kept.
            feed(
                &mut opener,
                &mut manifest,
                id,
                chunk.index,
                chunk.last,
                chunk.sealed(),
            )
            .map_err(content)?;
            stream
                .push(chunk.index, chunk.sealed())
                .map_err(SinkError::Store)?;
            next += 1;
            flusher.chunk_written().map_err(SinkError::Store)?;
        }
        Ok(())
    })();
    // What was received and checked is kept and flushed, also when the
    // transfer stopped early: it resumes after it.
    let kept = stream
        .write_out()
        .and_then(|()| flusher.finish())
        .map_err(SinkError::Store);
    received?;
    kept?;
    let summary = opener.finish().map_err(content)?;
    let manifest = manifest.ok_or_else(|| content("the content holds no manifest"))?;
    Ok(Verified { manifest, summary })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreKeySource;
    use confrere_protocol::dossier::manifest::MANIFEST_VERSION;
    use confrere_protocol::dossier::{
        BirthDate, ContentSealer, DocumentEntry, Ins, Patient, Referral, SealedChunk, Sex,
    };
    use confrere_protocol::UnixTime;

    const ID: DossierId = DossierId([0x51; 16]);

    fn sealed(key: &DossierKey, doc: &[u8]) -> (Vec<SealedChunk>, ContentSummary) {
        let m = Manifest {
            version: MANIFEST_VERSION,
            dossier_id: ID,
            from: "810001000016".into(),
            to: "810001000024".into(),
            created_at: UnixTime::from_secs(1_709_251_200),
            patient: Patient {
                ins: Ins::parse("2 69 05 49 588 157 80").expect("INS"),
                family: "DUPONT".into(),
                given: "MARIE".into(),
                birth_date: BirthDate::parse("1969-05-14").expect("date"),
                sex: Sex::F,
            },
            referral: Referral {
                reason: "ECG".into(),
                urgent: false,
                letter: String::new(),
            },
            in_reply_to: None,
            documents: vec![DocumentEntry {
                name: "scan.bin".into(),
                media_type: "application/octet-stream".into(),
                size: doc.len() as u64,
                sha256: [0; 32],
            }],
        };
        let mut s = ContentSealer::new(key, &m).expect("sealer");
        let mut chunks = s.write(doc).expect("write");
        chunks.extend(s.end_document().expect("end"));
        let (tail, summary) = s.finish().expect("finish");
        chunks.extend(tail);
        chunks.sort_by_key(|c| c.index);
        (chunks, summary)
    }

    async fn sink_for(
        store: &Store,
        key: &DossierKey,
        summary: &ContentSummary,
    ) -> Result<(ChunkSink, u64), SinkError> {
        ChunkSink::start(
            store.clone(),
            key.clone(),
            ID,
            summary.chunk_count,
            summary.content_len,
        )
        .await
    }

    #[tokio::test]
    async fn stores_checks_and_resumes_after_the_last_good_chunk() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open(home.path(), StoreKeySource::KeyFile).expect("open");
        let key = DossierKey::generate().expect("key");
        let doc: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let (chunks, summary) = sealed(&key, &doc);
        assert_eq!(chunks.len(), 5);

        // A first attempt stores three chunks, then the session ends.
        let (mut sink, next) = sink_for(&store, &key, &summary).await.expect("start");
        assert_eq!(next, 0);
        for c in &chunks[..3] {
            assert!(sink.push(c.index, c.last, c.sealed.clone(), 0).await);
        }
        assert!(matches!(sink.finish().await, Err(SinkError::Content(_))));

        // Chunk 2 was damaged on disk: the transfer resumes there.
        let mut bad = chunks[2].sealed.clone();
        bad[100] ^= 1;
        store.put_chunk(ID.as_bytes(), 2, &bad).expect("damage");
        let (mut sink, next) = sink_for(&store, &key, &summary).await.expect("restart");
        assert_eq!(next, 2);
        for c in &chunks[2..] {
            assert!(sink.push(c.index, c.last, c.sealed.clone(), 0).await);
        }
        let verified = sink.finish().await.expect("verifies");
        assert_eq!(verified.summary, summary);
        assert_eq!(verified.manifest.documents[0].size, doc.len() as u64);
        assert_eq!(
            store.chunk_count_contiguous(ID.as_bytes()).expect("count"),
            4,
            "the short last chunk is stored after four full ones"
        );
    }

    #[tokio::test]
    async fn a_chunk_that_does_not_open_stops_the_sink_and_is_not_stored() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open(home.path(), StoreKeySource::KeyFile).expect("open");
        let key = DossierKey::generate().expect("key");
        let (chunks, summary) = sealed(&key, &[7u8; 200_000]);
        let (mut sink, _) = sink_for(&store, &key, &summary).await.expect("start");
        assert!(sink.push(0, false, chunks[0].sealed.clone(), 0).await);
        let mut forged = chunks[1].sealed.clone();
        forged[0] ^= 1;
        let _ = sink.push(1, false, forged, 0).await;
        // The sink stops; later pushes fail sooner or later, finish says why.
        for c in &chunks[2..] {
            if !sink.push(c.index, c.last, c.sealed.clone(), 0).await {
                break;
            }
        }
        assert!(matches!(sink.finish().await, Err(SinkError::Content(_))));
        assert_eq!(
            store.chunk_count_contiguous(ID.as_bytes()).expect("count"),
            1
        );
    }
}
