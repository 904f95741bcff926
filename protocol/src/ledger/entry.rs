//! One ledger entry: its encoding, its hash, its signature, and how the
//! next one is made.
//!
//! Encoding (integers big-endian):
//!
//! ```text
//! body   = version:u8 (=1) | seq:u64 | time:i64 | prev_hash:[32] | kind
//! entry  = body | signature:[64]
//! hash   = SHA-256("confrere/ledger-entry/v1\0" | body)
//! signed = "confrere/ledger-signature/v1\0" | hash
//! ```
//!
//! `kind` is described in [`super::kind`]. The signature is the node's
//! Ed25519 signature (its libp2p identity key) and covers the hash, which
//! covers every other field, the previous entry's hash included.

use std::fmt;

use ring::digest::{Context, SHA256};
use ring::signature::{UnparsedPublicKey, ED25519};

use super::kind::EntryKind;
use crate::codec::{DecodeError, Reader, Writer};
use crate::receipt::{NodeSigner, ReceiptError};
use crate::time::UnixTime;

/// Domain-separation string prefixed to an entry's body before hashing.
pub const ENTRY_DOMAIN: &[u8] = b"confrere/ledger-entry/v1\0";
/// Domain-separation string prefixed to an entry's hash before signing.
pub const SIGNATURE_DOMAIN: &[u8] = b"confrere/ledger-signature/v1\0";
/// The entry format version.
pub const ENTRY_VERSION: u8 = 1;
/// Longest encoded entry (the largest kinds hold a receipt of
/// [`MAX_ENTRY_RECEIPT_LEN`](super::kind::MAX_ENTRY_RECEIPT_LEN) bytes, or
/// a consent's recipients and purpose).
pub const MAX_ENTRY_LEN: usize = 8 * 1024;

/// Why an entry could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// A field is out of its domain or bounds (a bug of the caller, or
    /// input it did not check).
    #[error("the ledger entry is invalid: {0}; check the values before recording them")]
    Invalid(#[from] DecodeError),
    /// A genesis entry was appended after the first entry, or the first
    /// entry is not a genesis entry.
    #[error("a ledger starts with its genesis entry, and has only one")]
    Misplaced,
    /// The genesis entry names another node than the signer's.
    #[error("the genesis entry names another node than the one whose key signs the ledger")]
    OtherNode,
    /// The sequence numbers are exhausted.
    #[error("the ledger is full (sequence numbers exhausted)")]
    Full,
    /// The node key could not sign.
    #[error("the node key could not sign the ledger entry: {0}")]
    Signer(ReceiptError),
    /// The node key returned something that is not an Ed25519 signature.
    #[error("the node key returned a signature of {0} bytes instead of 64")]
    SignatureLength(usize),
}

/// An entry of a node's ledger. `hash` covers every field but the
/// signature; the signature covers the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Position in the chain: 0 for the genesis entry, then one more each time.
    pub seq: u64,
    /// When the node recorded it, by its clock.
    pub time: UnixTime,
    /// The previous entry's [`hash`](LedgerEntry::hash); zeros for the genesis entry.
    pub prev_hash: [u8; 32],
    /// What happened.
    pub kind: EntryKind,
    /// The node's Ed25519 signature over [`SIGNATURE_DOMAIN`] and the hash.
    pub signature: [u8; 64],
}

impl fmt::Debug for LedgerEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hash: String = self.hash()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        f.debug_struct("LedgerEntry")
            .field("seq", &self.seq)
            .field("time", &self.time)
            .field("kind", &self.kind)
            .field("hash", &format_args!("{hash}…"))
            .finish_non_exhaustive()
    }
}

impl LedgerEntry {
    fn body(&self) -> Writer {
        let mut w = Writer::new();
        w.u8(ENTRY_VERSION)
            .raw(&self.seq.to_be_bytes())
            .i64(self.time.as_secs())
            .raw(&self.prev_hash);
        self.kind.write(&mut w);
        w
    }

    /// SHA-256 of [`ENTRY_DOMAIN`] and the body: every field but the
    /// signature. The fields are assumed in bounds (they are in any entry
    /// made by [`append`] or decoded).
    pub fn hash(&self) -> [u8; 32] {
        hash_body(&self.body().finish())
    }

    /// What the node key signs: [`SIGNATURE_DOMAIN`] and `hash`.
    pub fn signed_message(hash: &[u8; 32]) -> Vec<u8> {
        signed_message_array(hash).to_vec()
    }

    /// Whether the signature verifies under `key` for the hash `hash`
    /// (the entry's own, computed once by the caller).
    pub fn signature_verifies(&self, key: &[u8; 32], hash: &[u8; 32]) -> bool {
        signature_verifies(key, hash, &self.signature)
    }

    /// Wire encoding. Fields out of their domain are refused.
    pub fn encode(&self) -> Result<Vec<u8>, EntryError> {
        self.kind.check()?;
        let mut w = self.body();
        w.raw(&self.signature);
        Ok(w.finish())
    }

    /// Decodes an entry, checking every field (the signature and the chain
    /// are checked by [`verify_chain`](super::verify_chain)).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(DecodeError::TooLong);
        }
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != ENTRY_VERSION {
            return Err(DecodeError::Version(version));
        }
        let seq = u64::from_be_bytes(r.array()?);
        let time = UnixTime::from_secs(r.i64()?);
        let prev_hash = r.array()?;
        let kind = EntryKind::read(&mut r)?;
        let signature = r.array()?;
        r.finish()?;
        Ok(LedgerEntry {
            seq,
            time,
            prev_hash,
            kind,
            signature,
        })
    }

    /// [`decode`](LedgerEntry::decode), with the entry's
    /// [`hash`](LedgerEntry::hash) computed over the bytes as they are.
    ///
    /// The encoding is canonical (every field is kept as read, and
    /// nothing may follow the signature), so the bytes before the
    /// signature are exactly the body the entry encodes to: hashing them
    /// spares encoding the entry again.
    pub fn decode_hashed(bytes: &[u8]) -> Result<(Self, [u8; 32]), DecodeError> {
        let entry = Self::decode(bytes)?;
        let body = bytes
            .len()
            .checked_sub(SIGNATURE_LEN)
            .and_then(|end| bytes.get(..end))
            .ok_or(DecodeError::Truncated)?;
        Ok((entry, hash_body(body)))
    }
}

/// Length of an entry's signature, the last field of its encoding.
const SIGNATURE_LEN: usize = 64;

/// Length of [`LedgerEntry::signed_message`].
const SIGNED_LEN: usize = SIGNATURE_DOMAIN.len() + 32;

/// SHA-256 of [`ENTRY_DOMAIN`] and an encoded body.
fn hash_body(body: &[u8]) -> [u8; 32] {
    let mut ctx = Context::new(&SHA256);
    ctx.update(ENTRY_DOMAIN);
    ctx.update(body);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// [`LedgerEntry::signed_message`] without allocating.
fn signed_message_array(hash: &[u8; 32]) -> [u8; SIGNED_LEN] {
    let mut out = [0u8; SIGNED_LEN];
    let (domain, rest) = out.split_at_mut(SIGNATURE_DOMAIN.len());
    domain.copy_from_slice(SIGNATURE_DOMAIN);
    rest.copy_from_slice(hash);
    out
}

/// Whether `signature` is the node key `key`'s signature of an entry
/// whose hash is `hash`.
pub(crate) fn signature_verifies(key: &[u8; 32], hash: &[u8; 32], signature: &[u8; 64]) -> bool {
    UnparsedPublicKey::new(&ED25519, key)
        .verify(&signed_message_array(hash), signature)
        .is_ok()
}

/// An entry just made by [`append_encoded`], with what storing it takes.
#[derive(Clone, Debug)]
pub struct AppendedEntry {
    /// The entry.
    pub entry: LedgerEntry,
    /// Its [`hash`](LedgerEntry::hash).
    pub hash: [u8; 32],
    /// Its [`encode`](LedgerEntry::encode)d bytes.
    pub encoded: Vec<u8>,
}

/// Makes and signs the entry that follows `prev` (or, with `None`, the
/// genesis entry, whose kind must be [`EntryKind::Genesis`] naming the
/// signer's PeerId).
///
/// The signature is not verified here (that would double the cost of an
/// append): check the signer once, for instance by verifying the genesis
/// entry or a [`HeadCheckpoint`](super::HeadCheckpoint) it signs.
pub fn append(
    prev: Option<&LedgerEntry>,
    time: UnixTime,
    kind: EntryKind,
    signer: &dyn NodeSigner,
) -> Result<LedgerEntry, EntryError> {
    match prev {
        None => {
            let EntryKind::Genesis { peer_id, .. } = &kind else {
                return Err(EntryError::Misplaced);
            };
            if *peer_id != signer.peer_id() {
                return Err(EntryError::OtherNode);
            }
            append_after(None, time, kind, signer)
        }
        Some(p) => append_after(Some((p.seq, p.hash())), time, kind, signer),
    }
}

/// [`append`] when the caller keeps the head's sequence number and hash:
/// makes and signs the entry after `head` (`None`: the genesis entry).
pub fn append_after(
    head: Option<(u64, [u8; 32])>,
    time: UnixTime,
    kind: EntryKind,
    signer: &dyn NodeSigner,
) -> Result<LedgerEntry, EntryError> {
    append_encoded(head, time, kind, signer).map(|a| a.entry)
}

/// [`append_after`], returning the entry with its hash and its encoding,
/// each computed once (what a node stores on every append).
pub fn append_encoded(
    head: Option<(u64, [u8; 32])>,
    time: UnixTime,
    kind: EntryKind,
    signer: &dyn NodeSigner,
) -> Result<AppendedEntry, EntryError> {
    let genesis = matches!(kind, EntryKind::Genesis { .. });
    let (seq, prev_hash) = match head {
        None if genesis => (0, [0u8; 32]),
        Some((seq, hash)) if !genesis => (seq.checked_add(1).ok_or(EntryError::Full)?, hash),
        _ => return Err(EntryError::Misplaced),
    };
    kind.check()?;
    let mut entry = LedgerEntry {
        seq,
        time,
        prev_hash,
        kind,
        signature: [0; 64],
    };
    let mut encoded = entry.body().finish();
    let hash = hash_body(&encoded);
    let signature = signer
        .sign(&signed_message_array(&hash))
        .map_err(EntryError::Signer)?;
    entry.signature = signature
        .as_slice()
        .try_into()
        .map_err(|_| EntryError::SignatureLength(signature.len()))?;
    encoded.extend_from_slice(&entry.signature);
    Ok(AppendedEntry {
        entry,
        hash,
        encoded,
    })
}
