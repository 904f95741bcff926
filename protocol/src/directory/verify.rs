//! Checking a directory record before it is stored, served or used.

use std::fmt;

use super::record::check_times;
use super::{directory_key, DirectoryError, DirectoryRecord, MAX_CLOCK_SKEW};
use crate::credential::verify_credential_alone;
use crate::identity::PractitionerIdentity;
use crate::time::UnixTime;
use crate::verify::{TrustStore, VerifyOptions};

/// A record that verified: the practitioner, as the card chain names them,
/// and the node's addresses. Only [`verify_record`] makes one.
#[derive(Clone)]
pub struct VerifiedRecord {
    identity: PractitionerIdentity,
    peer_id: Vec<u8>,
    addresses: Vec<Vec<u8>>,
    sequence: u64,
    published_at: UnixTime,
    expires_at: UnixTime,
    encoded: Vec<u8>,
}

impl fmt::Debug for VerifiedRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedRecord")
            .field("addresses", &self.addresses.len())
            .field("sequence", &self.sequence)
            .field("published_at", &self.published_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl VerifiedRecord {
    /// The practitioner the publishing node speaks for, from the
    /// certificate its credential carries (national id, names, profession).
    pub fn identity(&self) -> &PractitionerIdentity {
        &self.identity
    }

    /// The publishing node's PeerId, as bytes (the credential's).
    pub fn peer_id(&self) -> &[u8] {
        &self.peer_id
    }

    /// The node's addresses: multiaddrs, as bytes, as the node gave them.
    pub fn addresses(&self) -> &[Vec<u8>] {
        &self.addresses
    }

    /// The record's sequence number.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// When the node signed the record, by its clock.
    pub fn published_at(&self) -> UnixTime {
        self.published_at
    }

    /// When the record stops being valid.
    pub fn expires_at(&self) -> UnixTime {
        self.expires_at
    }

    /// Whether the record has expired at `now`: such a record is neither
    /// served nor used, and may be dropped.
    pub fn is_expired(&self, now: UnixTime) -> bool {
        now >= self.expires_at
    }

    /// The record's bytes, exactly as signed and received: what a node
    /// stores and serves.
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }
}

/// Verifies a directory record found (or to be stored) under `key`.
///
/// `opts.at` is the verifier's clock: the record's times, the node
/// credential and the practitioner's certificate chain are all checked at
/// that instant, against `trust` (the verifier's own anchors and CRLs),
/// with revocation and purpose as `opts` says (the node uses the same
/// options as for its sessions).
///
/// Checks, cheapest first: the size ([`MAX_RECORD_LEN`](super::MAX_RECORD_LEN))
/// before anything is decoded; the encoding; that `key` is
/// [`directory_key`] of the record's national id; that `published_at` is no
/// more than [`MAX_CLOCK_SKEW`] ahead, that the record has not expired, that
/// its validity is not empty nor longer than
/// [`MAX_RECORD_VALIDITY`](super::MAX_RECORD_VALIDITY) and ends no later than
/// the credential; the Ed25519 signature under the key of the PeerId the
/// credential binds; the credential
/// ([`verify_credential_alone`]); and that the record's national id is the
/// credential's practitioner's.
pub fn verify_record(
    bytes: &[u8],
    key: &[u8],
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> Result<VerifiedRecord, DirectoryError> {
    let record = DirectoryRecord::decode(bytes)?;
    if key != directory_key(&record.national_id).as_slice() {
        return Err(DirectoryError::WrongKey);
    }
    let now = opts.at;
    if record.published_at > now.add_secs(MAX_CLOCK_SKEW) {
        return Err(DirectoryError::FromTheFuture {
            published_at: record.published_at,
        });
    }
    if now >= record.expires_at {
        return Err(DirectoryError::Expired {
            expires_at: record.expires_at,
        });
    }
    check_times(record.published_at, record.expires_at, &record.credential)?;
    record.check_signature()?;
    let peer = verify_credential_alone(&record.credential, trust, opts)
        .map_err(DirectoryError::Credential)?;
    if peer.identity().national_id != record.national_id {
        return Err(DirectoryError::OtherPractitioner);
    }
    Ok(VerifiedRecord {
        identity: peer.identity().clone(),
        peer_id: peer.peer_id().to_vec(),
        addresses: record.addresses,
        sequence: record.sequence,
        published_at: record.published_at,
        expires_at: record.expires_at,
        encoded: bytes.to_vec(),
    })
}

#[cfg(test)]
impl VerifiedRecord {
    /// A record as if verified, for the selection tests.
    pub(super) fn for_test(
        national_id: &str,
        peer: u8,
        sequence: u64,
        published_at: i64,
        tag: u8,
    ) -> Self {
        use crate::identity::NationalId;
        VerifiedRecord {
            identity: PractitionerIdentity {
                national_id: NationalId::parse(national_id).expect("national id"),
                given_name: String::new(),
                surname: String::new(),
                profession_code: None,
                profession: None,
            },
            peer_id: vec![peer; 38],
            addresses: Vec::new(),
            sequence,
            published_at: UnixTime::from_secs(published_at),
            expires_at: UnixTime::from_secs(published_at + 3600),
            encoded: vec![peer, tag, sequence.to_be_bytes()[7]],
        }
    }
}
