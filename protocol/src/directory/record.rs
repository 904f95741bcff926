//! The directory record on the wire, and its signing.

use std::fmt;

use ring::signature::{UnparsedPublicKey, ED25519};

use super::{
    DirectoryError, MAX_ADDRESSES, MAX_ADDRESS_LEN, MAX_RECORD_LEN, MAX_RECORD_VALIDITY,
    RECORD_DOMAIN, RECORD_VERSION,
};
use crate::certificate::Certificate;
use crate::codec::{DecodeError, Reader, Writer};
use crate::credential::{CredentialError, NodeCredential};
use crate::identity::NationalId;
use crate::receipt::{ed25519_key_from_peer_id, NodeSigner, SIGNATURE_LEN};
use crate::time::UnixTime;

/// Longest national id on the wire.
const MAX_NATIONAL_ID_LEN: usize = 32;

/// A node's signed statement of where it can be reached, published under
/// its practitioner's national id. Decoding checks the encoding only;
/// [`verify_record`](super::verify_record) checks the rest.
#[derive(Clone, PartialEq, Eq)]
pub struct DirectoryRecord {
    /// The practitioner's national id (the credential's).
    pub national_id: NationalId,
    /// The publishing node's credential; its PeerId's key signs the record.
    pub credential: NodeCredential,
    /// The node's addresses: multiaddrs, as bytes.
    pub addresses: Vec<Vec<u8>>,
    /// Grows with every record the node publishes.
    pub sequence: u64,
    /// When the node signed the record, by its clock.
    pub published_at: UnixTime,
    /// When the record stops being valid.
    pub expires_at: UnixTime,
    /// Ed25519 signature over [`RECORD_DOMAIN`] and the body.
    pub signature: [u8; SIGNATURE_LEN],
}

impl fmt::Debug for DirectoryRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectoryRecord")
            .field("addresses", &self.addresses.len())
            .field("sequence", &self.sequence)
            .field("published_at", &self.published_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

fn check_addresses(addresses: &[Vec<u8>]) -> Result<(), DirectoryError> {
    if addresses.len() > MAX_ADDRESSES
        || addresses
            .iter()
            .any(|a| a.is_empty() || a.len() > MAX_ADDRESS_LEN)
    {
        return Err(DirectoryError::Addresses);
    }
    Ok(())
}

impl DirectoryRecord {
    fn body(&self) -> Writer {
        let mut w = Writer::new();
        w.u8(RECORD_VERSION)
            .bytes8(self.national_id.as_str().as_bytes())
            .bytes16(&self.credential.encode())
            .raw(&self.sequence.to_be_bytes())
            .i64(self.published_at.as_secs())
            .i64(self.expires_at.as_secs())
            .u8(u8::try_from(self.addresses.len()).unwrap_or(u8::MAX));
        for a in &self.addresses {
            w.bytes16(a);
        }
        w
    }

    /// What the node key signs: [`RECORD_DOMAIN`] and the body.
    pub fn signed_message(&self) -> Vec<u8> {
        [RECORD_DOMAIN, &self.body().finish()].concat()
    }

    /// Wire encoding. A record out of bounds (addresses, size) is refused.
    pub fn encode(&self) -> Result<Vec<u8>, DirectoryError> {
        check_addresses(&self.addresses)?;
        let mut w = self.body();
        w.raw(&self.signature);
        let bytes = w.finish();
        if bytes.len() > MAX_RECORD_LEN {
            return Err(DirectoryError::TooLarge { len: bytes.len() });
        }
        Ok(bytes)
    }

    /// Decodes a record (nothing but the encoding checked: see
    /// [`verify_record`](super::verify_record)). Larger input than
    /// [`MAX_RECORD_LEN`] is refused before it is read.
    pub fn decode(bytes: &[u8]) -> Result<Self, DirectoryError> {
        if bytes.len() > MAX_RECORD_LEN {
            return Err(DirectoryError::TooLarge { len: bytes.len() });
        }
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != RECORD_VERSION {
            return Err(DecodeError::Version(version).into());
        }
        let national_id = std::str::from_utf8(r.bytes8(MAX_NATIONAL_ID_LEN)?)
            .ok()
            .and_then(|s| NationalId::parse(s).ok())
            .ok_or(DecodeError::Invalid("national id"))?;
        let credential = NodeCredential::decode(r.bytes16(MAX_RECORD_LEN)?)?;
        let sequence = u64::from_be_bytes(r.array()?);
        let published_at = UnixTime::from_secs(r.i64()?);
        let expires_at = UnixTime::from_secs(r.i64()?);
        let count = usize::from(r.u8()?);
        if count > MAX_ADDRESSES {
            return Err(DecodeError::Invalid("address count").into());
        }
        let mut addresses = Vec::with_capacity(count);
        for _ in 0..count {
            let a = r.bytes16(MAX_ADDRESS_LEN)?;
            if a.is_empty() {
                return Err(DecodeError::Invalid("empty address").into());
            }
            addresses.push(a.to_vec());
        }
        let signature = r.array()?;
        r.finish()?;
        Ok(DirectoryRecord {
            national_id,
            credential,
            addresses,
            sequence,
            published_at,
            expires_at,
            signature,
        })
    }

    /// Checks the signature under the key of the credential's PeerId.
    pub(super) fn check_signature(&self) -> Result<(), DirectoryError> {
        let key = ed25519_key_from_peer_id(self.credential.peer_id())
            .ok_or(DirectoryError::NotEd25519PeerId)?;
        UnparsedPublicKey::new(&ED25519, key)
            .verify(&self.signed_message(), &self.signature)
            .map_err(|_| DirectoryError::BadSignature)
    }
}

/// Signs a record of the node's addresses with its libp2p Ed25519 key.
///
/// The national id is read from the credential's practitioner
/// certificate. Refused: a signer whose PeerId is not the credential's,
/// more than [`MAX_ADDRESSES`] addresses or one empty or longer than
/// [`MAX_ADDRESS_LEN`], an empty validity or one longer than
/// [`MAX_RECORD_VALIDITY`], a validity past the credential's end, and a
/// record larger than [`MAX_RECORD_LEN`]. The signature is checked under
/// the credential's PeerId before the record is returned. The credential
/// itself is not verified here: the node checks its own credential when it
/// starts ([`check_own_credential`](crate::credential::check_own_credential)).
pub fn sign_record(
    signer: &dyn NodeSigner,
    credential: &NodeCredential,
    addresses: Vec<Vec<u8>>,
    sequence: u64,
    published_at: UnixTime,
    expires_at: UnixTime,
) -> Result<DirectoryRecord, DirectoryError> {
    if signer.peer_id() != credential.peer_id() {
        return Err(DirectoryError::NotCredentialKey);
    }
    check_addresses(&addresses)?;
    check_times(published_at, expires_at, credential)?;
    let leaf = credential
        .certificates()
        .first()
        .ok_or(DecodeError::Invalid("certificate count"))?;
    let national_id = Certificate::from_der(leaf)
        .and_then(|c| c.practitioner())
        .map_err(|e| DirectoryError::Credential(CredentialError::Certificate(e)))?
        .national_id;
    let mut record = DirectoryRecord {
        national_id,
        credential: credential.clone(),
        addresses,
        sequence,
        published_at,
        expires_at,
        signature: [0; SIGNATURE_LEN],
    };
    let signature = signer
        .sign(&record.signed_message())
        .map_err(|_| DirectoryError::SignerFailed)?;
    record.signature = signature
        .as_slice()
        .try_into()
        .map_err(|_| DirectoryError::NotCredentialKey)?;
    record.check_signature().map_err(|e| match e {
        DirectoryError::BadSignature => DirectoryError::NotCredentialKey,
        other => other,
    })?;
    record.encode()?;
    Ok(record)
}

/// The checks on a record's times that do not depend on the clock.
pub(super) fn check_times(
    published_at: UnixTime,
    expires_at: UnixTime,
    credential: &NodeCredential,
) -> Result<(), DirectoryError> {
    if expires_at <= published_at {
        return Err(DirectoryError::EmptyValidity);
    }
    let validity = expires_at
        .as_secs()
        .checked_sub(published_at.as_secs())
        .unwrap_or(i64::MAX);
    if validity > MAX_RECORD_VALIDITY {
        return Err(DirectoryError::ValidityTooLong);
    }
    if expires_at > credential.not_after() {
        return Err(DirectoryError::OutlivesCredential);
    }
    Ok(())
}
