//! Why a session step failed, and whose fault it is.
//!
//! The errors are for the local node (logs, the user); the session sends
//! nothing back to the peer when it fails, so the peer learns no more than
//! that the stream was closed. Messages carry no key material.

use crate::codec::DecodeError;
use crate::credential::CredentialError;
use crate::time::UnixTime;

use super::frame::FrameError;
use super::{MAX_ATTACHMENT_LEN, MAX_CREDENTIAL_LEN, MAX_PLAINTEXT_LEN, SESSION_VERSION};

/// Who is at fault for a [`SessionError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The peer (or the network) sent bytes that break the protocol:
    /// malformed, truncated, oversized, altered, replayed or out of order.
    Peer,
    /// The peer followed the protocol but its identity is refused: its
    /// credential, certificate or static key does not verify.
    PeerIdentity,
    /// This node: misconfiguration or misuse of the API.
    Local,
}

/// A failed handshake step or transport message. Any error ends the
/// handshake; in an [`Established`](super::Established) session, any error
/// but [`SessionError::PlaintextTooLong`] and
/// [`SessionError::AttachmentTooLong`] closes it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A frame or message breaks the framing rules (empty, too long,
    /// cut short at the end of the stream).
    #[error("bad frame from the peer: {0}")]
    Frame(#[from] FrameError),
    /// A handshake message that is not a Noise message of the expected
    /// shape (too short for its keys).
    #[error("the peer sent a malformed handshake message")]
    MalformedHandshake,
    /// A handshake payload that does not decode.
    #[error("the peer's handshake payload is malformed: {0}")]
    MalformedPayload(DecodeError),
    /// The peer speaks another version of the session protocol.
    #[error("the peer speaks session version {0}; this node speaks version {SESSION_VERSION}")]
    UnsupportedVersion(u8),
    /// A message failed authentication: altered, replayed, reordered, cut,
    /// from another session, or from a peer using another protocol version
    /// or prologue.
    #[error("a message from the peer failed authentication (altered, replayed or out of order)")]
    Decrypt,
    /// The peer's credential is refused.
    #[error("the peer's node credential is refused: {0}")]
    Credential(#[from] CredentialError),
    /// This node's own configuration is unusable.
    #[error("this node's session configuration is unusable: {0}")]
    Config(#[from] ConfigError),
    /// A plaintext longer than one message may carry; the session stays
    /// open.
    #[error("a message of {len} bytes exceeds the limit of {MAX_PLAINTEXT_LEN} bytes per message")]
    PlaintextTooLong {
        /// The plaintext's length.
        len: usize,
    },
    /// An attachment longer than [`MAX_ATTACHMENT_LEN`] was to be sent; the
    /// session stays usable.
    #[error("an attachment of {len} bytes exceeds the limit of {MAX_ATTACHMENT_LEN} bytes")]
    AttachmentTooLong {
        /// The attachment's length.
        len: usize,
    },
    /// The peer's message announced an attachment over the limit, or one
    /// where none is allowed, or its plaintext is too short to say.
    #[error("the peer sent a message with a malformed or unexpected attachment")]
    MalformedAttachment,
    /// The session failed earlier and is closed.
    #[error("the session is closed after an earlier error")]
    Closed,
    /// Noise reported an error that a correct caller cannot cause (nonce
    /// space exhausted, broken state).
    #[error("internal Noise error")]
    Internal,
}

impl SessionError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            SessionError::Frame(_)
            | SessionError::MalformedHandshake
            | SessionError::MalformedPayload(_)
            | SessionError::UnsupportedVersion(_)
            | SessionError::MalformedAttachment
            | SessionError::Decrypt => Fault::Peer,
            SessionError::Credential(_) => Fault::PeerIdentity,
            SessionError::Config(_)
            | SessionError::PlaintextTooLong { .. }
            | SessionError::AttachmentTooLong { .. }
            | SessionError::Closed
            | SessionError::Internal => Fault::Local,
        }
    }

    /// Maps a Noise error met while reading a peer's message.
    pub(crate) fn from_noise_read(e: snow::Error) -> Self {
        match e {
            snow::Error::Decrypt => SessionError::Decrypt,
            snow::Error::Input | snow::Error::Dh => SessionError::MalformedHandshake,
            _ => SessionError::Internal,
        }
    }
}

/// Why this node's [`SessionConfig`](super::SessionConfig) cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The credential binds another Noise key than the configured one:
    /// every peer would refuse it.
    #[error("the node credential binds another Noise static key than the node's own; enroll the node again")]
    CredentialKeyMismatch,
    /// The encoded credential does not fit in a handshake message.
    #[error("the node credential is {len} bytes; a handshake message carries at most {MAX_CREDENTIAL_LEN}")]
    CredentialTooLarge {
        /// Its encoded length.
        len: usize,
    },
    /// The node's own credential has expired: peers would refuse it.
    #[error("this node's credential expired on {not_after}; enroll the node again")]
    OwnCredentialExpired {
        /// End of validity.
        not_after: UnixTime,
    },
    /// The node's own credential is not valid yet: peers would refuse it.
    #[error("this node's credential is not valid before {not_before}; check the clock")]
    OwnCredentialNotYetValid {
        /// Start of validity.
        not_before: UnixTime,
    },
    /// Noise could not be set up.
    #[error("the Noise handshake could not be set up")]
    Noise,
}
