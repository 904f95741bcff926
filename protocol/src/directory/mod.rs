//! The directory: where a practitioner's nodes say how to reach them.
//!
//! Flow:
//!
//! 1. **Publish.** Each node signs a [`DirectoryRecord`] with [`sign_record`]
//!    and its libp2p Ed25519 identity key (behind
//!    [`NodeSigner`](crate::receipt::NodeSigner)): its node credential, its
//!    practitioner's national id (the credential's), its current addresses
//!    (direct and relayed multiaddrs, as bytes), a sequence number that
//!    grows with every new record, and a validity of at most
//!    [`MAX_RECORD_VALIDITY`] that does not outlive the credential. It
//!    checks its own record with [`verify_record`] and puts it, as a set of
//!    one ([`encode_record_set`]), under [`directory_key`] of the national
//!    id; again before the record expires and whenever its addresses
//!    change, each time with a higher sequence number.
//! 2. **Store.** Kademlia holds one value per key and a practitioner may
//!    run several nodes, so the value under a key is a set of records. A
//!    node asked to store a set under a key calls [`verify_record_set`] with
//!    that key, its own trust anchors and CRLs and its clock: every record
//!    is checked by [`verify_record`], and those that fail are dropped. It
//!    merges the [`VerifiedRecord`]s into those it holds for the key with
//!    [`merge_record`] ([`select_records`] decides).
//! 3. **Serve.** A node answering a lookup serves, as one set, only records
//!    it holds as verified and not yet expired
//!    (see [`VerifiedRecord::is_expired`]).
//! 4. **Use.** A node looking a practitioner up calls [`verify_record_set`]
//!    again on every set it receives, with the key it asked for: it trusts
//!    no directory node, only the card chain under its own anchors and the
//!    node key's signature. It merges the answers with [`merge_record`] and
//!    dials the addresses of what is left.
//!
//! What [`verify_record`] checks: the record's size; its encoding; that the
//! key it was found under is [`directory_key`] of its national id; its times
//! (published no later than [`MAX_CLOCK_SKEW`] ahead of the verifier's
//! clock, not expired, valid for at most [`MAX_RECORD_VALIDITY`], not after
//! the credential's end); its Ed25519 signature under the key of the PeerId
//! the credential binds; the credential itself, under the verifier's trust
//! anchors and CRLs ([`verify_credential_alone`](crate::credential::verify_credential_alone));
//! and that the record's national id is the one the credential's certificate
//! names.
//!
//! What wins ([`select_records`]): from one node (one PeerId), the record
//! with the highest sequence number (ties broken by the later
//! `published_at`, then by the encoding's bytes, so every node keeps the
//! same one). Records of different nodes of one practitioner (two sites)
//! are all kept, up to [`MAX_RECORDS_PER_ID`] per national id; past that the
//! oldest-published is dropped.
//!
//! Encoding (integers big-endian):
//!
//! ```text
//! body   = version:u8 (=1) | national_id:bytes8 (1..=32)
//!        | credential:bytes16 (a NodeCredential encoding)
//!        | sequence:u64 | published_at:i64 | expires_at:i64
//!        | address_count:u8 (0..=16) | address:bytes16 (1..=256) × address_count
//! record = body | signature:[64]
//! signed = "confrere/directory-record/v1\0" | body
//! key    = "/confrere/dir/v1/" | national_id
//! set    = count:u8 (0..=8) | record:bytes16 (≤ 16384) × count
//! ```
//!
//! A whole record is at most [`MAX_RECORD_LEN`] bytes, a set at most
//! [`MAX_SET_LEN`].

mod record;
mod select;
mod set;
mod verify;

pub use record::{sign_record, DirectoryRecord};
pub use select::{merge_record, select_records, Decision, Ignored};
pub use set::{decode_record_set, encode_record_set, verify_record_set, VerifiedSet, MAX_SET_LEN};
pub use verify::{verify_record, VerifiedRecord};

use crate::codec::DecodeError;
use crate::credential::CredentialError;
use crate::identity::NationalId;
use crate::time::UnixTime;

/// Domain-separation string prefixed to the signed body.
pub const RECORD_DOMAIN: &[u8] = b"confrere/directory-record/v1\0";
/// The record format version.
pub const RECORD_VERSION: u8 = 1;
/// Prefix of every directory key; the national id follows.
pub const KEY_PREFIX: &[u8] = b"/confrere/dir/v1/";
/// Largest encoded record accepted (16 KiB): a credential with a two- or
/// three-certificate RSA-4096 chain and [`MAX_ADDRESSES`] long addresses
/// fit with room to spare. Checked before anything is decoded.
pub const MAX_RECORD_LEN: usize = 16 * 1024;
/// Most addresses a record carries.
pub const MAX_ADDRESSES: usize = 16;
/// Longest address (a multiaddr's bytes) accepted.
pub const MAX_ADDRESS_LEN: usize = 256;
/// Longest a record may be valid, from `published_at` to `expires_at`
/// (48 hours): a node that stops publishing drops out of the directory
/// within two days.
pub const MAX_RECORD_VALIDITY: i64 = 48 * 3600;
/// How far ahead of the verifier's clock a record's `published_at` may be
/// (5 minutes), for clocks that disagree a little.
pub const MAX_CLOCK_SKEW: i64 = 5 * 60;
/// Most records kept per national id, one per node of the practitioner.
pub const MAX_RECORDS_PER_ID: usize = 8;

/// The Kademlia key under which a practitioner's records are published:
/// [`KEY_PREFIX`] followed by the national id's ASCII characters, e.g.
/// `/confrere/dir/v1/810001000016`. The national id is checked
/// ([`NationalId::parse`]) so the key is at most 49 bytes.
pub fn directory_key(national_id: &NationalId) -> Vec<u8> {
    [KEY_PREFIX, national_id.as_str().as_bytes()].concat()
}

/// Why a directory record is refused or could not be made. The messages
/// say whose fault it is (the node that published the record, the node
/// that served it, a clock) and name no address or national id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// Larger than [`MAX_RECORD_LEN`]; nothing was decoded.
    #[error(
        "the directory record is {len} bytes, more than the {max} accepted; the node that sent it is faulty or hostile",
        max = MAX_RECORD_LEN
    )]
    TooLarge {
        /// The size received.
        len: usize,
    },
    /// The bytes are not a record, or a field is out of its domain.
    #[error("malformed directory record ({0}); the node that sent it runs an incompatible version or is faulty")]
    Malformed(#[from] DecodeError),
    /// Found under another key than [`directory_key`] of its national id.
    #[error("the directory record was stored under another practitioner's key; the directory node that served it is faulty or hostile")]
    WrongKey,
    /// `published_at` is ahead of the verifier's clock by more than
    /// [`MAX_CLOCK_SKEW`].
    #[error(
        "the directory record says it was published at {published_at}, ahead of this node's clock; check both nodes' clocks"
    )]
    FromTheFuture {
        /// When the record says it was published.
        published_at: UnixTime,
    },
    /// The record's validity has ended.
    #[error("the directory record expired at {expires_at}; its node publishes a fresh one while it runs")]
    Expired {
        /// End of validity.
        expires_at: UnixTime,
    },
    /// `expires_at` is not after `published_at`.
    #[error(
        "the directory record expires before it is published; the node that signed it is faulty"
    )]
    EmptyValidity,
    /// Valid for longer than [`MAX_RECORD_VALIDITY`].
    #[error(
        "the directory record is valid for longer than the {hours} hours accepted; the node that signed it is faulty",
        hours = MAX_RECORD_VALIDITY / 3600
    )]
    ValidityTooLong,
    /// Valid past the end of the node credential it carries.
    #[error("the directory record outlives the node credential it carries; the node that signed it is faulty")]
    OutlivesCredential,
    /// The credential's PeerId does not hold an Ed25519 key.
    #[error("the node credential in the directory record binds a PeerId without an Ed25519 key")]
    NotEd25519PeerId,
    /// The signature does not verify under the credential's PeerId key.
    #[error("the directory record's signature does not verify under the node key its credential binds: it was altered or forged")]
    BadSignature,
    /// The node credential the record carries is refused.
    #[error("the node credential in the directory record is refused: {0}")]
    Credential(CredentialError),
    /// The record's national id is not the credential's practitioner's.
    #[error(
        "the directory record names another practitioner than its node credential: it was forged"
    )]
    OtherPractitioner,
    /// More than [`MAX_ADDRESSES`] addresses, or one empty or longer than
    /// [`MAX_ADDRESS_LEN`] (when signing).
    #[error(
        "a directory record holds at most {n} addresses of 1 to {len} bytes each",
        n = MAX_ADDRESSES,
        len = MAX_ADDRESS_LEN
    )]
    Addresses,
    /// The node key signing is not the one its credential binds.
    #[error("the node key is not the one the node credential binds; enroll the node again")]
    NotCredentialKey,
    /// The node key could not sign.
    #[error("the node key could not sign the directory record")]
    SignerFailed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_the_prefix_and_the_national_id() {
        let id = NationalId::parse("810001000016").expect("national id");
        assert_eq!(
            directory_key(&id),
            b"/confrere/dir/v1/810001000016".to_vec()
        );
        let longest = NationalId::parse(&"3".repeat(32)).expect("national id");
        assert_eq!(directory_key(&longest).len(), KEY_PREFIX.len() + 32);
    }
}
