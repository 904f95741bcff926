//! The sender's side: a streaming sealer fed the manifest, then each
//! document's bytes, that hands back sealed chunks as they fill.
//!
//! ```text
//! let mut sealer = ContentSealer::new(&key, &manifest)?;   // offer: chunk_count(), content_len()
//! for each document:
//!     for each slice read from the file:  outbox.put(sealer.write(slice)?)
//!     outbox.put(sealer.end_document()?)                    // size checked, SHA-256 computed
//! let (head_and_last, summary) = sealer.finish()?;         // the chunks held back
//! ```
//!
//! Each document is read once. The manifest at the head of the content
//! declares every document's SHA-256, which is known only once the
//! document was fed: the sealer computes it as the bytes go by, and holds
//! back the plaintext of the chunks that carry the manifest (the first
//! one, or a few for a long letter) until [`ContentSealer::finish`], which
//! writes the hashes into the manifest and seals those chunks, and the
//! last. Chunks therefore come out of order: indices `head..` as they
//! fill, then `0..head` and the last from `finish`. The SHA-256 fields of
//! the manifest given to [`ContentSealer::new`] are ignored.
//!
//! Any error means the dossier must be discarded (chunks already handed
//! out included): the node sealed something other than what the manifest
//! declares.

use std::fmt;

use ring::digest::{Context, SHA256};

use super::{chunk_count, content_len, head_digest, ContentSummary, MANIFEST_LEN_PREFIX};
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
    /// The manifest with the documents' hashes filled in no longer encodes
    /// to the length it had (cannot happen: hashes are fixed-size).
    #[error("the manifest changed length when its hashes were filled in")]
    ManifestLength,
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
    /// The manifest; its documents' hashes are filled in as they end.
    manifest: Manifest,
    /// Length of the encoded manifest at the head of the content.
    manifest_len: usize,
    content_len: u64,
    chunk_count: u64,
    /// Chunks `0..head_chunks` carry the manifest and are held back.
    head_chunks: u64,
    /// Plaintext of the full chunks held back, in order.
    held: Vec<Vec<u8>>,
    /// The plaintext of the chunk being filled (capacity for its tag).
    pending: Vec<u8>,
    next_index: u64,
    ready: Vec<SealedChunk>,
    /// The document being fed and how much of it was.
    current: usize,
    written: u64,
    document_hash: Context,
}

impl fmt::Debug for ContentSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContentSealer")
            .field("dossier_id", &self.manifest.dossier_id)
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
        let head_len = (MANIFEST_LEN_PREFIX + encoded.len()) as u64;
        let mut sealer = ContentSealer {
            cipher: ChunkCipher::new(key, &manifest.dossier_id),
            manifest: manifest.clone(),
            manifest_len: encoded.len(),
            content_len: len,
            chunk_count: chunk_count(len),
            head_chunks: head_len.div_ceil(CHUNK_PLAINTEXT_LEN as u64),
            held: Vec::new(),
            pending: new_pending(),
            next_index: 0,
            ready: Vec::new(),
            current: 0,
            written: 0,
            document_hash: Context::new(&SHA256),
        };
        // The manifest's bytes are written again by `finish`, hashes filled in.
        sealer.absorb(&prefix.to_be_bytes())?;
        sealer.absorb(&encoded)?;
        Ok(sealer)
    }

    /// The dossier being sealed.
    pub fn dossier_id(&self) -> DossierId {
        self.manifest.dossier_id
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
        (self.current < self.manifest.documents.len()).then_some(self.current)
    }

    /// Feeds bytes of the current document; returns the chunks that
    /// filled (possibly none). Feed slices of any size; the sealer keeps at
    /// most one chunk of plaintext.
    pub fn write(&mut self, data: &[u8]) -> Result<Vec<SealedChunk>, SealError> {
        let declared = self
            .manifest
            .documents
            .get(self.current)
            .ok_or(SealError::NoDocumentOpen)?
            .size;
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

    /// Ends the current document: checks its size against its manifest
    /// entry and records its SHA-256 there. Returns chunks that filled
    /// earlier and were not yet handed out.
    pub fn end_document(&mut self) -> Result<Vec<SealedChunk>, SealError> {
        let current = self.current;
        let entry = self
            .manifest
            .documents
            .get_mut(current)
            .ok_or(SealError::NoDocumentOpen)?;
        if self.written != entry.size {
            return Err(SealError::DocumentTooShort {
                document: current,
                declared: entry.size,
                written: self.written,
            });
        }
        let hash = std::mem::replace(&mut self.document_hash, Context::new(&SHA256)).finish();
        entry.sha256.copy_from_slice(hash.as_ref());
        self.current += 1;
        self.written = 0;
        Ok(std::mem::take(&mut self.ready))
    }

    /// Ends the content: every document must have been fed and ended.
    /// Returns the chunks not yet handed out (those that carry the
    /// manifest, now with every document's SHA-256, and the last one,
    /// flagged last), and the summary of the whole content.
    pub fn finish(mut self) -> Result<(Vec<SealedChunk>, ContentSummary), SealError> {
        if self.current < self.manifest.documents.len() {
            return Err(SealError::DocumentsMissing {
                remaining: self.manifest.documents.len() - self.current,
            });
        }
        let encoded = self.manifest.encode()?;
        if encoded.len() != self.manifest_len {
            return Err(SealError::ManifestLength);
        }
        let content_digest = head_digest(&encoded);
        // The head again, over the bytes held back: the held full chunks,
        // then the pending (last) chunk if the head reaches into it.
        let mut head = Vec::with_capacity(MANIFEST_LEN_PREFIX + encoded.len());
        head.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
        head.extend_from_slice(&encoded);
        let mut rest = head.as_slice();
        for chunk in self
            .held
            .iter_mut()
            .chain(std::iter::once(&mut self.pending))
        {
            let n = rest.len().min(chunk.len());
            chunk[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
        let mut chunks = std::mem::take(&mut self.ready);
        for (index, mut sealed) in (0u64..).zip(std::mem::take(&mut self.held)) {
            self.cipher.seal_in_place(index, false, &mut sealed)?;
            chunks.push(SealedChunk {
                index,
                last: false,
                sealed,
            });
        }
        let index = self.next_index;
        let mut sealed = std::mem::take(&mut self.pending);
        self.cipher.seal_in_place(index, true, &mut sealed)?;
        chunks.push(SealedChunk {
            index,
            last: true,
            sealed,
        });
        Ok((
            chunks,
            ContentSummary {
                content_len: self.content_len,
                chunk_count: index + 1,
                content_digest,
            },
        ))
    }

    /// Appends plaintext, sealing each chunk that fills and is not the
    /// last (the last waits for [`ContentSealer::finish`]).
    fn absorb(&mut self, mut data: &[u8]) -> Result<(), SealError> {
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
                let full = std::mem::replace(&mut self.pending, new_pending());
                if self.next_index < self.head_chunks {
                    // It carries the manifest: sealed by `finish`.
                    self.held.push(full);
                    self.next_index += 1;
                    continue;
                }
                let mut sealed = full;
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
