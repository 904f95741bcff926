//! The sender's side: a streaming sealer fed the manifest, then each
//! document's bytes, that hands back sealed chunks as they fill.
//!
//! ```text
//! let mut sealer = ContentSealer::new(&key, &manifest)?;   // offer: chunk_count(), content_len()
//! for each document:
//!     for each slice read from the file:  outbox.put(sealer.write(slice)?)
//!     outbox.put(sealer.end_document()?)                    // size and SHA-256 checked
//! let (last, summary) = sealer.finish()?;                  // the chunk flagged last
//! ```
//!
//! Any error means the dossier must be discarded (chunks already handed
//! out included): the node sealed something other than what the manifest
//! declares.

use std::fmt;

use ring::digest::{Context, SHA256};

use super::{chunk_count, content_len, ContentSummary};
use crate::dossier::manifest::{DossierId, Manifest, ManifestError, MAX_MANIFEST_LEN};
use crate::dossier::seal::{
    ChunkCipher, ChunkError, DossierKey, CHUNK_PLAINTEXT_LEN, CHUNK_TAG_LEN,
};

/// One sealed chunk with its place in the stream.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedChunk {
    /// Position, from 0.
    pub index: u64,
    /// Whether it is the last chunk.
    pub last: bool,
    /// Ciphertext and tag.
    pub sealed: Vec<u8>,
}

impl fmt::Debug for SealedChunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedChunk")
            .field("index", &self.index)
            .field("last", &self.last)
            .field("len", &self.sealed.len())
            .finish()
    }
}

/// Why sealing stopped. No variant carries patient data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The manifest does not validate.
    #[error("the manifest is refused: {0}")]
    Manifest(#[from] ManifestError),
    /// Bytes or an end of document after every document was fed.
    #[error("every document declared in the manifest has been fed already")]
    NoDocumentOpen,
    /// More bytes than the manifest declares for the document.
    #[error("document {document} is longer than the {declared} bytes its manifest entry declares")]
    DocumentTooLong {
        /// Position in the manifest, from 0.
        document: usize,
        /// Its declared size.
        declared: u64,
    },
    /// The document ended before its declared size.
    #[error("document {document} ended after {written} of its {declared} declared bytes")]
    DocumentTooShort {
        /// Position in the manifest, from 0.
        document: usize,
        /// Its declared size.
        declared: u64,
        /// Bytes fed.
        written: u64,
    },
    /// The document's SHA-256 is not the one its manifest entry declares.
    #[error("document {document} changed since its manifest entry was made (SHA-256 differs)")]
    DocumentHash {
        /// Position in the manifest, from 0.
        document: usize,
    },
    /// [`ContentSealer::finish`] before every document was fed.
    #[error("{remaining} declared document(s) were not fed")]
    DocumentsMissing {
        /// Documents not fed.
        remaining: usize,
    },
    /// A chunk could not be sealed (cannot happen with the lengths the
    /// sealer keeps to).
    #[error("a chunk could not be sealed: {0}")]
    Chunk(#[from] ChunkError),
}

/// Seals a dossier's content as it is fed; see the module documentation.
pub struct ContentSealer {
    cipher: ChunkCipher,
    dossier_id: DossierId,
    /// Declared (size, SHA-256) of each document.
    documents: Vec<(u64, [u8; 32])>,
    content_len: u64,
    chunk_count: u64,
    /// The plaintext of the chunk being filled (capacity for its tag).
    pending: Vec<u8>,
    next_index: u64,
    ready: Vec<SealedChunk>,
    /// The document being fed and how much of it was.
    current: usize,
    written: u64,
    document_hash: Context,
    content_hash: Context,
}

impl fmt::Debug for ContentSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContentSealer")
            .field("dossier_id", &self.dossier_id)
            .field("content_len", &self.content_len)
            .field("chunk_count", &self.chunk_count)
            .field("next_index", &self.next_index)
            .field("current_document", &self.current)
            .finish_non_exhaustive()
    }
}

fn new_pending() -> Vec<u8> {
    Vec::with_capacity(CHUNK_PLAINTEXT_LEN + CHUNK_TAG_LEN)
}

impl ContentSealer {
    /// Starts sealing the content of `manifest` under `key`. The manifest
    /// is validated and encoded at the head of the content; its chunks come
    /// out of the next call that returns chunks.
    pub fn new(key: &DossierKey, manifest: &Manifest) -> Result<Self, SealError> {
        let encoded = manifest.encode()?;
        // `encode` validated the bounds; these cannot fail.
        let prefix = u32::try_from(encoded.len())
            .ok()
            .filter(|&n| n as usize <= MAX_MANIFEST_LEN)
            .ok_or(ManifestError::ContentTooLong)?;
        let len =
            content_len(encoded.len(), &manifest.documents).ok_or(ManifestError::ContentTooLong)?;
        let mut sealer = ContentSealer {
            cipher: ChunkCipher::new(key, &manifest.dossier_id),
            dossier_id: manifest.dossier_id,
            documents: manifest
                .documents
                .iter()
                .map(|d| (d.size, d.sha256))
                .collect(),
            content_len: len,
            chunk_count: chunk_count(len),
            pending: new_pending(),
            next_index: 0,
            ready: Vec::new(),
            current: 0,
            written: 0,
            document_hash: Context::new(&SHA256),
            content_hash: Context::new(&SHA256),
        };
        sealer.absorb(&prefix.to_be_bytes())?;
        sealer.absorb(&encoded)?;
        Ok(sealer)
    }

    /// The dossier being sealed.
    pub fn dossier_id(&self) -> DossierId {
        self.dossier_id
    }

    /// Bytes of plaintext content the dossier will hold.
    pub fn content_len(&self) -> u64 {
        self.content_len
    }

    /// Chunks the dossier will be sealed into.
    pub fn chunk_count(&self) -> u64 {
        self.chunk_count
    }

    /// The document the next bytes belong to (from 0), or `None` once all
    /// were fed.
    pub fn current_document(&self) -> Option<usize> {
        (self.current < self.documents.len()).then_some(self.current)
    }

    /// Feeds bytes of the current document; returns the chunks that
    /// filled (possibly none). Feed slices of any size; the sealer keeps at
    /// most one chunk of plaintext.
    pub fn write(&mut self, data: &[u8]) -> Result<Vec<SealedChunk>, SealError> {
        let &(declared, _) = self
            .documents
            .get(self.current)
            .ok_or(SealError::NoDocumentOpen)?;
        let within = u64::try_from(data.len())
            .ok()
            .and_then(|n| self.written.checked_add(n))
            .is_some_and(|total| total <= declared);
        if !within {
            return Err(SealError::DocumentTooLong {
                document: self.current,
                declared,
            });
        }
        self.document_hash.update(data);
        self.written += data.len() as u64;
        self.absorb(data)?;
        Ok(std::mem::take(&mut self.ready))
    }

    /// Ends the current document: checks its size and SHA-256 against its
    /// manifest entry. Returns chunks that filled earlier and were not yet
    /// handed out (the manifest's, for a dossier whose first documents are
    /// empty).
    pub fn end_document(&mut self) -> Result<Vec<SealedChunk>, SealError> {
        let &(declared, sha256) = self
            .documents
            .get(self.current)
            .ok_or(SealError::NoDocumentOpen)?;
        if self.written != declared {
            return Err(SealError::DocumentTooShort {
                document: self.current,
                declared,
                written: self.written,
            });
        }
        let hash = std::mem::replace(&mut self.document_hash, Context::new(&SHA256)).finish();
        if hash.as_ref() != sha256.as_slice() {
            return Err(SealError::DocumentHash {
                document: self.current,
            });
        }
        self.current += 1;
        self.written = 0;
        Ok(std::mem::take(&mut self.ready))
    }

    /// Ends the content: every document must have been fed and ended.
    /// Returns the chunks not yet handed out, the last one flagged last,
    /// and the summary of the whole content.
    pub fn finish(mut self) -> Result<(Vec<SealedChunk>, ContentSummary), SealError> {
        if self.current < self.documents.len() {
            return Err(SealError::DocumentsMissing {
                remaining: self.documents.len() - self.current,
            });
        }
        let index = self.next_index;
        let mut sealed = std::mem::take(&mut self.pending);
        self.cipher.seal_in_place(index, true, &mut sealed)?;
        let mut chunks = std::mem::take(&mut self.ready);
        chunks.push(SealedChunk {
            index,
            last: true,
            sealed,
        });
        let mut content_sha256 = [0u8; 32];
        content_sha256.copy_from_slice(self.content_hash.finish().as_ref());
        Ok((
            chunks,
            ContentSummary {
                content_len: self.content_len,
                chunk_count: index + 1,
                content_sha256,
            },
        ))
    }

    /// Appends plaintext, sealing each chunk that fills and is not the
    /// last (the last waits for [`ContentSealer::finish`]).
    fn absorb(&mut self, mut data: &[u8]) -> Result<(), SealError> {
        self.content_hash.update(data);
        while !data.is_empty() {
            if self.pending.len() == CHUNK_PLAINTEXT_LEN {
                // Only the last chunk can be full here, and the declared
                // sizes leave nothing after it.
                return Err(ChunkError::Length {
                    min: CHUNK_TAG_LEN,
                    len: CHUNK_PLAINTEXT_LEN + data.len() + CHUNK_TAG_LEN,
                }
                .into());
            }
            let take = (CHUNK_PLAINTEXT_LEN - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == CHUNK_PLAINTEXT_LEN && self.next_index + 1 < self.chunk_count {
                let mut sealed = std::mem::replace(&mut self.pending, new_pending());
                self.cipher
                    .seal_in_place(self.next_index, false, &mut sealed)?;
                self.ready.push(SealedChunk {
                    index: self.next_index,
                    last: false,
                    sealed,
                });
                self.next_index += 1;
            }
        }
        Ok(())
    }
}
