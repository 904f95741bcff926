//! The plaintext a dossier's chunks carry, and the streaming sealer and
//! opener that produce and check it without ever holding a whole dossier.
//!
//! Flow:
//!
//! 1. Sender: the node sizes each attached file for its [`DocumentEntry`]
//!    and builds the [`Manifest`].
//! 2. Sender, one pass over the bytes: [`ContentSealer::new`] takes the key
//!    and the manifest; the node feeds each document's bytes as it reads
//!    them ([`ContentSealer::write`], then [`ContentSealer::end_document`],
//!    which records the document's SHA-256 in the manifest) and stores the
//!    sealed chunks it gets back in the outbox; [`ContentSealer::finish`]
//!    checks every document was fed whole and returns the chunks it held
//!    back (those carrying the manifest, and the last) and the
//!    [`ContentSummary`] (chunk count, length, and the content digest,
//!    which the delivery receipt binds). The sealer refuses a document
//!    longer or shorter than declared.
//! 3. Recipient: [`ContentOpener::push_chunk`] takes the sealed chunks in
//!    order and yields [`ContentEvent`]s: the manifest, each document's
//!    bytes, each document's end (its size and SHA-256 verified), and the
//!    end of the content.
//!
//! Layout of the content (before sealing):
//!
//! ```text
//! content = manifest_len:u32 (≤ MAX_MANIFEST_LEN) | manifest | document 1 | document 2 | …
//! ```
//!
//! with the documents' bytes in manifest order, each exactly its declared
//! size, and nothing after the last. The content is cut into chunks of
//! [`CHUNK_PLAINTEXT_LEN`] bytes, the last one holding the rest
//! ([`chunk_count`]).

mod opener;
mod sealer;

pub use opener::{ContentEvent, ContentOpener, OpenError};
pub use sealer::{ContentSealer, SealError, SealedChunk};

use super::manifest::{DocumentEntry, Manifest};
use super::seal::{CHUNK_PLAINTEXT_LEN, CHUNK_TAG_LEN};

/// Bytes of the manifest length prefix.
pub const MANIFEST_LEN_PREFIX: usize = 4;

/// What sealing or opening a whole content established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentSummary {
    /// Plaintext bytes in the content (prefix, manifest, documents).
    pub content_len: u64,
    /// Chunks the content was sealed into.
    pub chunk_count: u64,
    /// The content digest the delivery receipt binds: SHA-256 of the
    /// content's head (the length prefix and the manifest). The manifest
    /// declares every document's size and SHA-256 and the opener checks
    /// each document against it, so the digest binds the whole content
    /// while each byte of a document is hashed once.
    pub content_digest: [u8; 32],
}

/// Domain separation of the content digest.
pub const CONTENT_DIGEST_CONTEXT: &[u8] = b"confrere/content-digest/v1\0";

/// The content digest of a content whose manifest encodes to `manifest`:
/// SHA-256 of [`CONTENT_DIGEST_CONTEXT`], the 4-byte length prefix and
/// the manifest.
pub fn head_digest(manifest: &[u8]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(CONTENT_DIGEST_CONTEXT);
    ctx.update(&(manifest.len() as u32).to_be_bytes());
    ctx.update(manifest);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Bytes in the content of a dossier whose encoded manifest is
/// `manifest_len` bytes long; `None` if it exceeds `u64`.
pub fn content_len(manifest_len: usize, documents: &[DocumentEntry]) -> Option<u64> {
    let head = u64::try_from(manifest_len)
        .ok()?
        .checked_add(MANIFEST_LEN_PREFIX as u64)?;
    documents
        .iter()
        .try_fold(head, |total, d| total.checked_add(d.size))
}

/// Bytes in the content of `manifest` (`None` if it does not encode or
/// its size exceeds `u64`).
pub fn manifest_content_len(manifest: &Manifest) -> Option<u64> {
    let encoded = manifest.encode().ok()?;
    content_len(encoded.len(), &manifest.documents)
}

/// Chunks a content of `content_len` bytes is sealed into: at least one,
/// every one full but the last.
pub fn chunk_count(content_len: u64) -> u64 {
    let full = CHUNK_PLAINTEXT_LEN as u64;
    content_len.div_ceil(full).max(1)
}

/// Plaintext bytes chunk `index` holds in a content of `content_len`
/// bytes; `None` past the last chunk.
pub fn chunk_plaintext_len(content_len: u64, index: u64) -> Option<usize> {
    let count = chunk_count(content_len);
    if index >= count {
        return None;
    }
    if index + 1 < count {
        return Some(CHUNK_PLAINTEXT_LEN);
    }
    let before = index * CHUNK_PLAINTEXT_LEN as u64;
    usize::try_from(content_len - before).ok()
}

/// Sealed bytes of chunk `index` in a content of `content_len` bytes;
/// `None` past the last chunk.
pub fn sealed_chunk_len(content_len: u64, index: u64) -> Option<usize> {
    chunk_plaintext_len(content_len, index).map(|n| n + CHUNK_TAG_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(size: u64) -> DocumentEntry {
        DocumentEntry {
            name: "d".into(),
            media_type: "a/b".into(),
            size,
            sha256: [0; 32],
        }
    }

    #[test]
    fn lengths_and_counts() {
        let c = CHUNK_PLAINTEXT_LEN as u64;
        assert_eq!(content_len(100, &[]), Some(104));
        assert_eq!(content_len(100, &[doc(1), doc(0), doc(5)]), Some(110));
        assert_eq!(content_len(100, &[doc(u64::MAX)]), None);
        assert_eq!(chunk_count(0), 1);
        assert_eq!(chunk_count(1), 1);
        assert_eq!(chunk_count(c), 1);
        assert_eq!(chunk_count(c + 1), 2);
        assert_eq!(chunk_count(3 * c + 5), 4);
        assert_eq!(chunk_count(u64::MAX), u64::MAX.div_ceil(c));
        assert_eq!(chunk_plaintext_len(0, 0), Some(0));
        assert_eq!(chunk_plaintext_len(0, 1), None);
        assert_eq!(chunk_plaintext_len(c, 0), Some(CHUNK_PLAINTEXT_LEN));
        assert_eq!(chunk_plaintext_len(c + 1, 0), Some(CHUNK_PLAINTEXT_LEN));
        assert_eq!(chunk_plaintext_len(c + 1, 1), Some(1));
        assert_eq!(sealed_chunk_len(3 * c + 5, 3), Some(5 + CHUNK_TAG_LEN));
        assert_eq!(sealed_chunk_len(3 * c + 5, 4), None);
        let last = chunk_count(u64::MAX) - 1;
        assert!(chunk_plaintext_len(u64::MAX, last).is_some());
    }
}
