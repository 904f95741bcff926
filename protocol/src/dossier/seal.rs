//! The dossier's chunked AEAD stream: a dossier is sealed once, by its
//! sender, under its own key, and stays sealed in the sender's outbox, on
//! the wire and in the recipient's store.
//!
//! Flow:
//!
//! 1. The sender's node draws a fresh [`DossierKey`] for the dossier and
//!    seals the content ([`ContentSealer`](super::ContentSealer)) into
//!    chunks of [`CHUNK_PLAINTEXT_LEN`] bytes, the last one shorter and
//!    flagged last.
//! 2. The chunks go to the outbox and, chunk by chunk, over the session;
//!    the key travels only inside the Noise session (transfer `Offer`).
//! 3. The recipient stores the sealed chunks as they come, opens them in
//!    order ([`ContentOpener`](super::ContentOpener)) to check the dossier
//!    against its manifest, and keeps the key wrapped under its store key
//!    ([`keywrap`](super::keywrap)). Destroying the key erases the dossier.
//!
//! Construction: AES-256-GCM, one key per dossier, with
//!
//! ```text
//! nonce = chunk_index:u64 (big-endian) | last:u8 (1 on the last chunk, else 0) | 0:[3]
//! aad   = "confrere/dossier-chunk/v1\0" | dossier_id:[16]
//! chunk = ciphertext | tag:[16]
//! ```
//!
//! Each nonce is used once under a key that is used for one dossier only,
//! so nonces are derived, not drawn. A chunk opened at another index,
//! under another dossier id, or with its last flag moved fails
//! authentication: chunks cannot be reordered, dropped, duplicated or the
//! stream truncated unnoticed, as long as the reader checks the indices
//! follow each other and the stream ends on a chunk flagged last.
//!
//! Lengths are canonical: every chunk but the last holds exactly
//! [`CHUNK_PLAINTEXT_LEN`] bytes, the last holds 1 to
//! [`CHUNK_PLAINTEXT_LEN`] (0 only when it is also the first, for an empty
//! stream). AES-GCM cannot tell a wrong key from a damaged chunk: both are
//! [`ChunkError::Authentication`].

use std::fmt;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::manifest::DossierId;
use super::RandomError;

/// Domain-separation string at the head of every chunk's associated data.
pub const CHUNK_DOMAIN: &[u8] = b"confrere/dossier-chunk/v1\0";
/// Plaintext bytes in every chunk but the last.
pub const CHUNK_PLAINTEXT_LEN: usize = 65_280;
/// The AES-GCM tag each sealed chunk carries.
pub const CHUNK_TAG_LEN: usize = 16;
/// Bytes of a full sealed chunk: 65,296.
pub const SEALED_CHUNK_LEN: usize = CHUNK_PLAINTEXT_LEN + CHUNK_TAG_LEN;

// A sealed chunk and its transfer header fit one session message.
const _: () = assert!(
    SEALED_CHUNK_LEN + crate::transfer::CHUNK_HEADER_LEN <= crate::session::MAX_PLAINTEXT_LEN
);

/// A dossier's 32-byte AES-256-GCM key. Wiped from memory on drop;
/// `Debug` prints nothing of it.
#[derive(Clone)]
pub struct DossierKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for DossierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DossierKey(..)")
    }
}

impl PartialEq for DossierKey {
    /// Constant-time comparison.
    fn eq(&self, other: &Self) -> bool {
        let diff = self
            .0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        diff == 0
    }
}

impl Eq for DossierKey {}

impl DossierKey {
    /// A fresh key from the system random generator.
    pub fn generate() -> Result<Self, RandomError> {
        let mut key = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(key.as_mut())
            .map_err(|_| RandomError)?;
        Ok(DossierKey(key))
    }

    /// A key from its bytes (unwrapped from the store, or from an `Offer`).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        DossierKey(Zeroizing::new(bytes))
    }

    /// The key bytes, to wrap or to send inside the session.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Why a sealed chunk does not open.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkError {
    /// Shorter than a tag, or longer than a full sealed chunk.
    #[error("a sealed chunk is {min} to {SEALED_CHUNK_LEN} bytes; this one is {len}")]
    Length {
        /// The shortest acceptable length here.
        min: usize,
        /// The length received.
        len: usize,
    },
    /// A chunk other than the last is not full.
    #[error("chunk {index} is not the last but is not full ({len} bytes sealed)")]
    ShortChunk {
        /// The chunk's index.
        index: u64,
        /// Its sealed length.
        len: usize,
    },
    /// The tag does not verify: another key, another dossier, another index
    /// or last flag, or damaged bytes.
    #[error("chunk {index} does not authenticate (wrong key or dossier, moved, or damaged)")]
    Authentication {
        /// The index it was opened at.
        index: u64,
    },
}

/// The AES-256-GCM key of one dossier, expanded once, with the dossier id
/// it binds. Seals and opens chunks in place.
pub struct ChunkCipher {
    key: LessSafeKey,
    aad: [u8; CHUNK_DOMAIN.len() + 16],
}

impl fmt::Debug for ChunkCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkCipher").finish_non_exhaustive()
    }
}

fn nonce(index: u64, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&index.to_be_bytes());
    n[8] = u8::from(last);
    Nonce::assume_unique_for_key(n)
}

impl ChunkCipher {
    /// The cipher for one dossier.
    pub fn new(key: &DossierKey, id: &DossierId) -> Self {
        let mut aad = [0u8; CHUNK_DOMAIN.len() + 16];
        aad[..CHUNK_DOMAIN.len()].copy_from_slice(CHUNK_DOMAIN);
        aad[CHUNK_DOMAIN.len()..].copy_from_slice(id.as_bytes());
        // AES-256 takes any 32-byte key: this cannot fail.
        let Ok(unbound) = UnboundKey::new(&AES_256_GCM, key.as_bytes()) else {
            unreachable!("AES-256-GCM accepts every 32-byte key")
        };
        ChunkCipher {
            key: LessSafeKey::new(unbound),
            aad,
        }
    }

    /// Seals `buf` (the chunk's plaintext) in place and appends the tag.
    /// The plaintext must have its length for its place in the stream
    /// (module documentation): a chunk that could not open is not sealed.
    pub fn seal_in_place(
        &self,
        index: u64,
        last: bool,
        buf: &mut Vec<u8>,
    ) -> Result<(), ChunkError> {
        Self::check_length(index, last, buf.len().saturating_add(CHUNK_TAG_LEN))?;
        self.key
            .seal_in_place_append_tag(nonce(index, last), Aad::from(&self.aad[..]), buf)
            // ring refuses only inputs past the AES-GCM limit (64 GiB).
            .map_err(|_| ChunkError::Length {
                min: CHUNK_TAG_LEN,
                len: buf.len(),
            })
    }

    /// Checks a sealed chunk's length for its place in the stream.
    pub fn check_length(index: u64, last: bool, len: usize) -> Result<(), ChunkError> {
        let min = if last && index > 0 {
            CHUNK_TAG_LEN + 1
        } else {
            CHUNK_TAG_LEN
        };
        if len < min || len > SEALED_CHUNK_LEN {
            return Err(ChunkError::Length { min, len });
        }
        if !last && len != SEALED_CHUNK_LEN {
            return Err(ChunkError::ShortChunk { index, len });
        }
        Ok(())
    }

    /// Opens a sealed chunk in place; returns the plaintext, a prefix of
    /// `buf`.
    pub fn open_in_place<'b>(
        &self,
        index: u64,
        last: bool,
        buf: &'b mut [u8],
    ) -> Result<&'b mut [u8], ChunkError> {
        Self::check_length(index, last, buf.len())?;
        self.key
            .open_in_place(nonce(index, last), Aad::from(&self.aad[..]), buf)
            .map_err(|_| ChunkError::Authentication { index })
    }
}

/// Seals one chunk's plaintext. Its length must suit its place (module
/// documentation: a chunk other than the last is full; a last chunk other
/// than the first is not empty); otherwise [`ChunkError::Length`] or
/// [`ChunkError::ShortChunk`], as opening would say.
pub fn seal_chunk(
    key: &DossierKey,
    id: &DossierId,
    index: u64,
    last: bool,
    plaintext: &[u8],
) -> Result<Vec<u8>, ChunkError> {
    let mut buf = Vec::with_capacity(plaintext.len() + CHUNK_TAG_LEN);
    buf.extend_from_slice(plaintext);
    ChunkCipher::new(key, id).seal_in_place(index, last, &mut buf)?;
    Ok(buf)
}

/// Opens one sealed chunk.
pub fn open_chunk(
    key: &DossierKey,
    id: &DossierId,
    index: u64,
    last: bool,
    sealed: &[u8],
) -> Result<Vec<u8>, ChunkError> {
    ChunkCipher::check_length(index, last, sealed.len())?;
    let mut buf = sealed.to_vec();
    let len = ChunkCipher::new(key, id)
        .open_in_place(index, last, &mut buf)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    const ID: DossierId = DossierId([7; 16]);

    #[test]
    fn the_chunk_fits_a_session_message() {
        assert_eq!(SEALED_CHUNK_LEN, 65_296);
        assert_eq!(CHUNK_DOMAIN.len(), 26);
    }

    #[test]
    fn round_trip_and_fixed_layout() {
        let key = DossierKey::from_bytes([1; 32]);
        let sealed = seal_chunk(&key, &ID, 0, true, b"hello").unwrap();
        assert_eq!(sealed.len(), 5 + CHUNK_TAG_LEN);
        assert_eq!(open_chunk(&key, &ID, 0, true, &sealed).unwrap(), b"hello");
        // Independently: ring with the documented nonce and AAD.
        let mut expected = b"hello".to_vec();
        let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[1; 32]).unwrap());
        let mut n = [0u8; 12];
        n[8] = 1;
        let aad = [CHUNK_DOMAIN, &[7; 16]].concat();
        k.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(n),
            Aad::from(&aad[..]),
            &mut expected,
        )
        .unwrap();
        assert_eq!(sealed, expected);
    }

    #[test]
    fn every_binding_is_checked() {
        let key = DossierKey::from_bytes([1; 32]);
        let full = vec![9u8; CHUNK_PLAINTEXT_LEN];
        let sealed = seal_chunk(&key, &ID, 3, false, &full).unwrap();
        assert_eq!(sealed.len(), SEALED_CHUNK_LEN);
        assert_eq!(open_chunk(&key, &ID, 3, false, &sealed).unwrap(), full);
        let auth = |r: Result<Vec<u8>, ChunkError>| r.unwrap_err();
        assert_eq!(
            auth(open_chunk(&key, &ID, 4, false, &sealed)),
            ChunkError::Authentication { index: 4 }
        );
        assert_eq!(
            auth(open_chunk(&key, &ID, 3, true, &sealed)),
            ChunkError::Authentication { index: 3 }
        );
        assert_eq!(
            auth(open_chunk(&key, &DossierId([8; 16]), 3, false, &sealed)),
            ChunkError::Authentication { index: 3 }
        );
        assert_eq!(
            auth(open_chunk(
                &DossierKey::from_bytes([2; 32]),
                &ID,
                3,
                false,
                &sealed
            )),
            ChunkError::Authentication { index: 3 }
        );
    }

    #[test]
    fn lengths_are_checked_before_decrypting() {
        let key = DossierKey::from_bytes([1; 32]);
        assert_eq!(
            open_chunk(&key, &ID, 0, true, &[0; 15]),
            Err(ChunkError::Length { min: 16, len: 15 })
        );
        assert_eq!(
            open_chunk(&key, &ID, 1, true, &[0; 16]),
            Err(ChunkError::Length { min: 17, len: 16 })
        );
        assert_eq!(
            open_chunk(&key, &ID, 0, true, &vec![0; SEALED_CHUNK_LEN + 1]),
            Err(ChunkError::Length {
                min: 16,
                len: SEALED_CHUNK_LEN + 1
            })
        );
        assert_eq!(
            open_chunk(&key, &ID, 2, false, &[0; 100]),
            Err(ChunkError::ShortChunk { index: 2, len: 100 })
        );
        // Sealing refuses what opening would.
        assert_eq!(
            seal_chunk(&key, &ID, 2, false, &[0; 84]),
            Err(ChunkError::ShortChunk { index: 2, len: 100 })
        );
        assert_eq!(
            seal_chunk(&key, &ID, 1, true, &[]),
            Err(ChunkError::Length { min: 17, len: 16 })
        );
        assert_eq!(
            seal_chunk(&key, &ID, 0, true, &vec![0; CHUNK_PLAINTEXT_LEN + 1]),
            Err(ChunkError::Length {
                min: 16,
                len: SEALED_CHUNK_LEN + 1
            })
        );
        // The empty stream: one empty chunk, first and last.
        let empty = seal_chunk(&key, &ID, 0, true, &[]).unwrap();
        assert_eq!(open_chunk(&key, &ID, 0, true, &empty).unwrap(), b"");
    }

    #[test]
    fn keys() {
        let a = DossierKey::generate().unwrap();
        let b = DossierKey::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a, DossierKey::from_bytes(*a.as_bytes()));
        assert_eq!(format!("{a:?}"), "DossierKey(..)");
        let c = ChunkCipher::new(&a, &ID);
        assert_eq!(format!("{c:?}"), "ChunkCipher { .. }");
    }
}
