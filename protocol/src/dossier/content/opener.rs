//! The recipient's side: a push-based opener fed the sealed chunks in
//! order, which checks the stream and the content and yields events.
//!
//! ```text
//! let mut opener = ContentOpener::new(&key, dossier_id).expecting_len(offer.content_len);
//! for each chunk (index, last, sealed), in order:
//!     for event in opener.push_chunk(index, last, &sealed)? {
//!         Manifest(m)                  → check it is for us, show it in the inbox
//!         Data { document, bytes }     → export, display, or ignore (hashes are checked here)
//!         DocumentDone { document }    → that document's size and SHA-256 verified
//!         Finished(summary)            → the whole dossier verified
//!     }
//! opener.finish()?                     // Incomplete if the last chunk never came
//! ```
//!
//! Errors in a chunk's place or seal (index, length, authentication) leave
//! the opener as it was: the right chunk may still be fed. Errors in the
//! content (manifest, document hash, length, trailing bytes) are final:
//! every later call returns [`OpenError::Failed`].

use std::fmt;
use std::ops::Range;

use ring::digest::{Context, SHA256};

use super::{chunk_count, content_len, head_digest, ContentSummary, MANIFEST_LEN_PREFIX};
use crate::dossier::manifest::{DossierId, Manifest, ManifestError, MAX_MANIFEST_LEN};
use crate::dossier::seal::{ChunkCipher, ChunkError, DossierKey, SEALED_CHUNK_LEN};

/// What one chunk revealed, in content order.
#[derive(Debug, PartialEq, Eq)]
pub enum ContentEvent<'a> {
    /// The manifest, decoded and validated, naming this dossier.
    Manifest(Box<Manifest>),
    /// Bytes of a document, in order.
    Data {
        /// Position in the manifest, from 0.
        document: usize,
        /// The bytes (borrowed from the opener until the next chunk).
        bytes: &'a [u8],
    },
    /// A document ended with its declared size and SHA-256.
    DocumentDone {
        /// Position in the manifest, from 0.
        document: usize,
    },
    /// The content ended on the last chunk, complete and verified.
    Finished(ContentSummary),
}

/// Why the opener refuses a chunk or the stream. No variant carries
/// patient data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The chunk does not open (length, or authentication).
    #[error("{0}")]
    Chunk(#[from] ChunkError),
    /// A chunk ahead of the expected one: a chunk was dropped or moved.
    #[error("chunk {got} came while chunk {expected} was expected (a chunk is missing)")]
    Gap {
        /// The index expected.
        expected: u64,
        /// The index received.
        got: u64,
    },
    /// A chunk behind the expected one: repeated or moved.
    #[error("chunk {got} came again while chunk {expected} was expected")]
    Repeated {
        /// The index expected.
        expected: u64,
        /// The index received.
        got: u64,
    },
    /// A chunk after the one flagged last.
    #[error("chunk {index} came after the last chunk")]
    AfterEnd {
        /// The index received.
        index: u64,
    },
    /// The manifest length prefix exceeds [`MAX_MANIFEST_LEN`].
    #[error("the manifest claims {len} bytes, more than a manifest may hold")]
    ManifestTooLong {
        /// The length claimed.
        len: u32,
    },
    /// The manifest does not decode or validate.
    #[error("the manifest is refused: {0}")]
    Manifest(ManifestError),
    /// The manifest names another dossier than the one the chunks are
    /// sealed for.
    #[error("the manifest names another dossier than the one sealed")]
    WrongDossier,
    /// The content's length is not the one announced (transfer offer).
    #[error("the content holds {actual} bytes, not the {announced} announced")]
    LengthMismatch {
        /// Announced.
        announced: u64,
        /// From the manifest.
        actual: u64,
    },
    /// A document's bytes do not hash to its manifest entry.
    #[error("document {document} does not match its manifest entry (SHA-256 differs)")]
    DocumentHash {
        /// Position in the manifest, from 0.
        document: usize,
    },
    /// Bytes after the last document.
    #[error("chunk {index} holds bytes after the last document")]
    TrailingBytes {
        /// The chunk holding them.
        index: u64,
    },
    /// A chunk flagged last before the content was complete.
    #[error("the stream ended at chunk {index} before the content was complete")]
    EndedEarly {
        /// The chunk flagged last.
        index: u64,
    },
    /// The content ended in a chunk not flagged last.
    #[error("the content ended in chunk {index}, which is not flagged last")]
    LastFlagMissing {
        /// The chunk.
        index: u64,
    },
    /// [`ContentOpener::finish`] before the last chunk.
    #[error("the stream is incomplete: {received} chunk(s) received, the last one missing")]
    Incomplete {
        /// Chunks received.
        received: u64,
    },
    /// An earlier content error ended the stream.
    #[error("the dossier was already refused")]
    Failed,
}

enum State {
    /// Reading the 4-byte manifest length.
    Prefix { bytes: [u8; 4], got: usize },
    /// Reading the manifest.
    Manifest { len: usize, bytes: Vec<u8> },
    /// Reading a document.
    Document { index: usize, remaining: u64 },
    /// All documents read.
    Done,
}

/// An event before the plaintext it points into is lent out.
enum Pending {
    Manifest(Box<Manifest>),
    Data {
        document: usize,
        range: Range<usize>,
    },
    DocumentDone {
        document: usize,
    },
    Finished(ContentSummary),
}

/// Opens a dossier's sealed chunks in order; see the module documentation.
pub struct ContentOpener {
    cipher: ChunkCipher,
    dossier_id: DossierId,
    announced_len: Option<u64>,
    next_index: u64,
    ended: bool,
    failed: bool,
    /// The chunk being opened, in place.
    buf: Vec<u8>,
    state: State,
    /// The content digest, once the manifest was read.
    content_digest: Option<[u8; 32]>,
    /// The hash of the document being read.
    document_hash: Context,
    /// Known once the manifest is read.
    content_len: Option<u64>,
    /// Declared (size, SHA-256) of each document.
    documents: Vec<(u64, [u8; 32])>,
}

impl fmt::Debug for ContentOpener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContentOpener")
            .field("dossier_id", &self.dossier_id)
            .field("next_index", &self.next_index)
            .field("content_len", &self.content_len)
            .field("ended", &self.ended)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl ContentOpener {
    /// An opener for the chunks of dossier `dossier_id` sealed under `key`.
    pub fn new(key: &DossierKey, dossier_id: DossierId) -> Self {
        ContentOpener {
            cipher: ChunkCipher::new(key, &dossier_id),
            dossier_id,
            announced_len: None,
            next_index: 0,
            ended: false,
            failed: false,
            buf: Vec::with_capacity(SEALED_CHUNK_LEN),
            state: State::Prefix {
                bytes: [0; 4],
                got: 0,
            },
            content_digest: None,
            document_hash: Context::new(&SHA256),
            content_len: None,
            documents: Vec::new(),
        }
    }

    /// Also requires the content to be `content_len` bytes long (as the
    /// transfer offer announced).
    pub fn expecting_len(mut self, content_len: u64) -> Self {
        self.announced_len = Some(content_len);
        self
    }

    /// The index of the next chunk expected.
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// Whether the last chunk was opened and the content verified.
    pub fn is_finished(&self) -> bool {
        self.ended
    }

    /// Opens the next chunk and reads the content it carries.
    pub fn push_chunk(
        &mut self,
        index: u64,
        last: bool,
        sealed: &[u8],
    ) -> Result<Vec<ContentEvent<'_>>, OpenError> {
        if self.failed {
            return Err(OpenError::Failed);
        }
        if self.ended {
            return Err(OpenError::AfterEnd { index });
        }
        if index > self.next_index {
            return Err(OpenError::Gap {
                expected: self.next_index,
                got: index,
            });
        }
        if index < self.next_index {
            return Err(OpenError::Repeated {
                expected: self.next_index,
                got: index,
            });
        }
        ChunkCipher::check_length(index, last, sealed.len())?;
        self.buf.clear();
        self.buf.extend_from_slice(sealed);
        let len = self.cipher.open_in_place(index, last, &mut self.buf)?.len();
        self.buf.truncate(len);

        let pending = match self.read_content(index, last) {
            Ok(p) => p,
            Err(e) => {
                self.failed = true;
                return Err(e);
            }
        };
        self.next_index += 1;
        let buf = &self.buf;
        Ok(pending
            .into_iter()
            .map(|p| match p {
                Pending::Manifest(m) => ContentEvent::Manifest(m),
                Pending::Data { document, range } => ContentEvent::Data {
                    document,
                    bytes: &buf[range],
                },
                Pending::DocumentDone { document } => ContentEvent::DocumentDone { document },
                Pending::Finished(s) => ContentEvent::Finished(s),
            })
            .collect())
    }

    /// The summary of the content once its last chunk was opened;
    /// otherwise why not.
    pub fn finish(&mut self) -> Result<ContentSummary, OpenError> {
        if self.failed {
            return Err(OpenError::Failed);
        }
        match (self.ended, self.content_len, self.content_digest) {
            (true, Some(content_len), Some(content_digest)) => Ok(ContentSummary {
                content_len,
                chunk_count: self.next_index,
                content_digest,
            }),
            _ => Err(OpenError::Incomplete {
                received: self.next_index,
            }),
        }
    }

    /// Reads the plaintext now in `buf` (chunk `index`).
    fn read_content(&mut self, index: u64, last: bool) -> Result<Vec<Pending>, OpenError> {
        let mut events = Vec::new();
        let mut pos = 0usize;
        let end = self.buf.len();
        while pos < end {
            let rest = end - pos;
            match &mut self.state {
                State::Prefix { bytes, got } => {
                    let take = (MANIFEST_LEN_PREFIX - *got).min(rest);
                    bytes[*got..*got + take].copy_from_slice(&self.buf[pos..pos + take]);
                    *got += take;
                    pos += take;
                    if *got == MANIFEST_LEN_PREFIX {
                        let len = u32::from_be_bytes(*bytes);
                        if len as usize > MAX_MANIFEST_LEN {
                            return Err(OpenError::ManifestTooLong { len });
                        }
                        let len = len as usize;
                        self.state = State::Manifest {
                            len,
                            bytes: Vec::with_capacity(len.min(SEALED_CHUNK_LEN)),
                        };
                    }
                }
                State::Manifest { len, bytes } => {
                    let take = (*len - bytes.len()).min(rest);
                    bytes.extend_from_slice(&self.buf[pos..pos + take]);
                    pos += take;
                    if bytes.len() == *len {
                        let manifest = self.read_manifest(index)?;
                        events.push(Pending::Manifest(manifest));
                        self.enter_document(0, &mut events)?;
                    }
                }
                State::Document {
                    index: document,
                    remaining,
                } => {
                    let take = usize::try_from(*remaining).map_or(rest, |r| r.min(rest));
                    self.document_hash.update(&self.buf[pos..pos + take]);
                    events.push(Pending::Data {
                        document: *document,
                        range: pos..pos + take,
                    });
                    pos += take;
                    *remaining -= take as u64;
                    if *remaining == 0 {
                        let document = *document;
                        self.end_document(document, &mut events)?;
                    }
                }
                State::Done => return Err(OpenError::TrailingBytes { index }),
            }
        }
        // The manifest tells where the content ends: the chunk holding its
        // end and the chunk flagged last must be the same.
        let complete = matches!(self.state, State::Done);
        match (complete, last) {
            (true, true) => {
                self.ended = true;
                events.push(Pending::Finished(ContentSummary {
                    content_len: self.content_len.unwrap_or_default(),
                    chunk_count: index + 1,
                    content_digest: self.content_digest.unwrap_or_default(),
                }));
            }
            (false, true) => return Err(OpenError::EndedEarly { index }),
            (true, false) => return Err(OpenError::LastFlagMissing { index }),
            (false, false) => {}
        }
        Ok(events)
    }

    /// Decodes the manifest just read and checks it against the stream.
    fn read_manifest(&mut self, index: u64) -> Result<Box<Manifest>, OpenError> {
        let bytes = match std::mem::replace(&mut self.state, State::Done) {
            State::Manifest { bytes, .. } => bytes,
            _ => Vec::new(),
        };
        let manifest = Manifest::decode(&bytes).map_err(OpenError::Manifest)?;
        if manifest.dossier_id != self.dossier_id {
            return Err(OpenError::WrongDossier);
        }
        let actual = content_len(bytes.len(), &manifest.documents)
            .ok_or(OpenError::Manifest(ManifestError::ContentTooLong))?;
        if let Some(announced) = self.announced_len {
            if announced != actual {
                return Err(OpenError::LengthMismatch { announced, actual });
            }
        }
        // The chunk holding the manifest's end must be within the count.
        if index >= chunk_count(actual) {
            return Err(OpenError::TrailingBytes { index });
        }
        self.content_len = Some(actual);
        self.content_digest = Some(head_digest(&bytes));
        self.documents = manifest
            .documents
            .iter()
            .map(|d| (d.size, d.sha256))
            .collect();
        Ok(Box::new(manifest))
    }

    /// Moves to document `document`, ending at once the empty ones.
    fn enter_document(
        &mut self,
        mut document: usize,
        events: &mut Vec<Pending>,
    ) -> Result<(), OpenError> {
        while let Some(&(size, sha256)) = self.documents.get(document) {
            if size > 0 {
                self.state = State::Document {
                    index: document,
                    remaining: size,
                };
                self.document_hash = Context::new(&SHA256);
                return Ok(());
            }
            // An empty document: its hash must be the empty string's.
            if ring::digest::digest(&SHA256, b"").as_ref() != sha256.as_slice() {
                return Err(OpenError::DocumentHash { document });
            }
            events.push(Pending::DocumentDone { document });
            document += 1;
        }
        self.state = State::Done;
        Ok(())
    }

    /// Ends document `document` (all its bytes read): checks its hash.
    fn end_document(
        &mut self,
        document: usize,
        events: &mut Vec<Pending>,
    ) -> Result<(), OpenError> {
        self.state = State::Done;
        let hash = std::mem::replace(&mut self.document_hash, Context::new(&SHA256)).finish();
        let declared = self.documents.get(document).map(|d| d.1);
        if declared.as_ref().map(|d| d.as_slice()) != Some(hash.as_ref()) {
            return Err(OpenError::DocumentHash { document });
        }
        events.push(Pending::DocumentDone { document });
        self.enter_document(document + 1, events)
    }
}
