//! The head checkpoint: the node's signed statement of the last entry of
//! its ledger, kept apart from the entries.
//!
//! A chain of hashes shows that no entry was changed, removed or moved,
//! except at the end: cutting the last entries leaves a shorter chain that
//! is just as valid. The checkpoint closes that gap. The node rewrites it
//! (signed) with every durable append, and
//! [`verify_chain`](super::verify_chain) takes it as the head the chain
//! must reach.
//!
//! Encoding (integers big-endian):
//!
//! ```text
//! body       = version:u8 (=1) | seq:u64 | hash:[32]
//! checkpoint = body | signature:[64]
//! signed     = "confrere/ledger-head/v1\0" | body
//! ```
//!
//! What it cannot do: an attacker who holds an older, validly signed
//! checkpoint and the store key can put back the older checkpoint with the
//! entries that match it. Only a copy of the head kept elsewhere (a
//! backup, a peer) detects that rollback.

use ring::signature::{UnparsedPublicKey, ED25519};

use super::chain::ChainError;
use super::entry::EntryError;
use crate::codec::{DecodeError, Reader, Writer};
use crate::receipt::{ed25519_key_from_peer_id, NodeSigner};

/// Domain-separation string prefixed to the signed body.
pub const CHECKPOINT_DOMAIN: &[u8] = b"confrere/ledger-head/v1\0";
/// The checkpoint format version.
pub const CHECKPOINT_VERSION: u8 = 1;
/// Length of an encoded checkpoint.
pub const CHECKPOINT_LEN: usize = 1 + 8 + 32 + 64;

/// The node's signed record of its ledger's last entry.
#[derive(Clone, PartialEq, Eq)]
pub struct HeadCheckpoint {
    /// The last entry's sequence number.
    pub seq: u64,
    /// The last entry's hash.
    pub hash: [u8; 32],
    /// The node's Ed25519 signature over [`CHECKPOINT_DOMAIN`] and the body.
    pub signature: [u8; 64],
}

impl std::fmt::Debug for HeadCheckpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hash: String = self.hash[..6].iter().map(|b| format!("{b:02x}")).collect();
        f.debug_struct("HeadCheckpoint")
            .field("seq", &self.seq)
            .field("hash", &format_args!("{hash}…"))
            .finish_non_exhaustive()
    }
}

fn body(seq: u64, hash: &[u8; 32]) -> Writer {
    let mut w = Writer::new();
    w.u8(CHECKPOINT_VERSION).raw(&seq.to_be_bytes()).raw(hash);
    w
}

fn signed_message(seq: u64, hash: &[u8; 32]) -> Vec<u8> {
    [CHECKPOINT_DOMAIN, &body(seq, hash).finish()].concat()
}

impl HeadCheckpoint {
    /// Has the node key sign a checkpoint of the entry `seq` whose hash is
    /// `hash`. The signature is checked under the signer's PeerId, so a
    /// signer holding another key is caught here.
    pub fn sign(
        signer: &dyn NodeSigner,
        seq: u64,
        hash: [u8; 32],
    ) -> Result<HeadCheckpoint, EntryError> {
        let checkpoint = Self::sign_unchecked(signer, seq, hash)?;
        checkpoint
            .verify(&signer.peer_id())
            .map_err(|_| EntryError::OtherNode)?;
        Ok(checkpoint)
    }

    /// [`sign`](HeadCheckpoint::sign) without checking the signature: for
    /// a signer already checked (by a checkpoint made with `sign`), as
    /// [`append`](super::append) does for entries. Verifying an Ed25519
    /// signature costs twice what making it does, on every durable append.
    pub fn sign_unchecked(
        signer: &dyn NodeSigner,
        seq: u64,
        hash: [u8; 32],
    ) -> Result<HeadCheckpoint, EntryError> {
        let signature = signer
            .sign(&signed_message(seq, &hash))
            .map_err(EntryError::Signer)?;
        let signature: [u8; 64] = signature
            .as_slice()
            .try_into()
            .map_err(|_| EntryError::SignatureLength(signature.len()))?;
        Ok(HeadCheckpoint {
            seq,
            hash,
            signature,
        })
    }

    /// Checks the signature under the key the node's PeerId carries.
    pub fn verify(&self, node_peer_id: &[u8]) -> Result<(), ChainError> {
        let key = ed25519_key_from_peer_id(node_peer_id).ok_or(ChainError::NotEd25519PeerId)?;
        UnparsedPublicKey::new(&ED25519, key)
            .verify(&signed_message(self.seq, &self.hash), &self.signature)
            .map_err(|_| ChainError::BadCheckpoint)
    }

    /// Wire encoding ([`CHECKPOINT_LEN`] bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = body(self.seq, &self.hash);
        w.raw(&self.signature);
        w.finish()
    }

    /// Decodes a checkpoint (signature not checked: see [`verify`](HeadCheckpoint::verify)).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != CHECKPOINT_VERSION {
            return Err(DecodeError::Version(version));
        }
        let seq = u64::from_be_bytes(r.array()?);
        let hash = r.array()?;
        let signature = r.array()?;
        r.finish()?;
        Ok(HeadCheckpoint {
            seq,
            hash,
            signature,
        })
    }
}
