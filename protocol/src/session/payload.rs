//! The payloads Noise carries in the handshake.
//!
//! ```text
//! msg1 payload      = version:u8 (=1)
//! HandshakePayload  = version:u8 (=1) | credential:bytes16 (1..=65,436)
//! ```
//!
//! msg1's payload travels in clear (nothing is keyed yet) and is only the
//! version; the handshake hash authenticates it after the fact. msg2 and msg3
//! carry a [`HandshakePayload`] with the sender's encoded
//! [`NodeCredential`](crate::credential::NodeCredential), encrypted.

use crate::codec::{DecodeError, Reader, Writer};

use super::{MAX_CREDENTIAL_LEN, SESSION_VERSION};

/// Bytes a [`HandshakePayload`] adds to the credential it carries.
pub(crate) const HANDSHAKE_PAYLOAD_OVERHEAD: usize = 1 + 2;

/// msg1's payload.
pub(crate) fn encode_hello() -> [u8; 1] {
    [SESSION_VERSION]
}

/// Decodes msg1's payload. The version is read first so that a later
/// version's longer hello is reported as a version mismatch.
pub(crate) fn decode_hello(payload: &[u8]) -> Result<(), DecodeError> {
    let mut r = Reader::new(payload);
    let version = r.u8()?;
    if version != SESSION_VERSION {
        return Err(DecodeError::Version(version));
    }
    r.finish()
}

/// What msg2 (responder) and msg3 (initiator) carry: the sender's node
/// credential, encoded, under a version byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakePayload {
    credential: Vec<u8>,
}

impl HandshakePayload {
    /// A payload carrying an encoded credential of 1 to
    /// [`MAX_CREDENTIAL_LEN`] bytes.
    pub fn new(credential: Vec<u8>) -> Result<Self, DecodeError> {
        if credential.is_empty() {
            return Err(DecodeError::Invalid("empty credential"));
        }
        if credential.len() > MAX_CREDENTIAL_LEN {
            return Err(DecodeError::TooLong);
        }
        Ok(HandshakePayload { credential })
    }

    /// The session version ([`SESSION_VERSION`]).
    pub fn version(&self) -> u8 {
        SESSION_VERSION
    }

    /// The encoded credential.
    pub fn credential(&self) -> &[u8] {
        &self.credential
    }

    /// Wire encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(SESSION_VERSION).bytes16(&self.credential);
        w.finish()
    }

    /// Decodes a payload; another version is [`DecodeError::Version`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != SESSION_VERSION {
            return Err(DecodeError::Version(version));
        }
        let credential = r.bytes16(MAX_CREDENTIAL_LEN)?;
        r.finish()?;
        HandshakePayload::new(credential.to_vec())
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    #[test]
    fn hello_is_the_version_alone() {
        assert_eq!(encode_hello(), [2]);
        assert_eq!(decode_hello(&[2]), Ok(()));
        assert_eq!(decode_hello(&[]), Err(DecodeError::Truncated));
        assert_eq!(decode_hello(&[2, 0]), Err(DecodeError::Trailing));
        // Version 1 (no attachments) and a later version with a longer
        // hello are version mismatches.
        assert_eq!(decode_hello(&[1]), Err(DecodeError::Version(1)));
        assert_eq!(decode_hello(&[3, 0, 0]), Err(DecodeError::Version(3)));
    }

    #[test]
    fn credential_bounds() {
        assert_eq!(MAX_CREDENTIAL_LEN, 65_436);
        assert!(HandshakePayload::new(vec![0; MAX_CREDENTIAL_LEN]).is_ok());
        assert_eq!(
            HandshakePayload::new(vec![0; MAX_CREDENTIAL_LEN + 1]),
            Err(DecodeError::TooLong)
        );
        assert_eq!(
            HandshakePayload::new(Vec::new()),
            Err(DecodeError::Invalid("empty credential"))
        );
    }
}
