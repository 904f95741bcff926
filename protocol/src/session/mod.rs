//! The Confrère session: a Noise XX handshake in which each node proves, with
//! its node credential, which practitioner it speaks for; then an encrypted,
//! framed, periodically rekeyed channel.
//!
//! ```text
//! initiator (I)                                   responder (R)
//!
//! msg1  -> e, payload = version:u8 (=1)
//!          R checks the version.
//! msg2  <- e, ee, s, es, payload = HandshakePayload { version, R's credential }
//!          I checks: the static key Noise authenticated for R (`s`) is the
//!          key R's credential binds; the credential verifies at I's `now`
//!          (card signature, validity, certificate chain to I's trust
//!          anchors, revocation, key usage for authentication).
//!          Only then does I reveal itself:
//! msg3  -> s, se, payload = HandshakePayload { version, I's credential }
//!          R makes the same checks on I's credential and static key.
//!
//! both  <-> transport messages, each one Noise message whose plaintext
//!          is `message | attached:u32` (big-endian), at most 65,519 bytes
//!          (+ 16-byte tag); both directions are rekeyed after the same
//!          volume on both sides. When `attached` is not zero, that many
//!          raw bytes follow the frame on the stream: an attachment.
//! ```
//!
//! **Attachments** carry bytes that are already sealed under a key of
//! their own, so that nobody encrypts them twice: the dossier chunks,
//! sealed under their dossier's key (whose AEAD binds each chunk's index
//! and last flag). The session authenticates the message and the length of
//! its attachment, not the attachment's bytes: whoever uses one checks it
//! with its own key, and a message that expects none refuses one
//! ([`Established::open`]). An attachment is at most
//! [`MAX_ATTACHMENT_LEN`] bytes.
//!
//! Protocol: `Noise_XX_25519_AESGCM_SHA256` with the prologue
//! [`PROLOGUE`] (`confrere/session/v2`), which binds the session version
//! into the handshake hash: a peer speaking another version or another
//! protocol fails to decrypt the first encrypted field it receives. The
//! session signs nothing itself: Noise authenticates the static keys and the
//! node credential (signed under its own domain-separation string, see
//! [`crate::credential::CREDENTIAL_DOMAIN`]) binds them to a practitioner.
//!
//! Framing: on the byte stream, every Noise message (handshake or
//! transport) travels as `length:u16 (big-endian) | message`, with
//! `1 <= length <= 65535`, followed by its attachment if it announces one;
//! see [`frame`].
//!
//! The module is sans-IO, like `quinn-proto` or `rustls`: functions take
//! bytes and the current time, return bytes, values and errors, and never
//! read a clock, a socket or a random source other than the one Noise uses
//! for ephemeral keys. Each handshake state is its own type, consumed by its
//! transition ([`Initiator`] → [`InitiatorAwaitingResponse`] →
//! [`Established`]; [`Responder`] → [`ResponderAwaitingFinish`] →
//! [`Established`]), so a message cannot be processed twice or out of
//! order by the local side, and a failed step leaves nothing to reuse: any
//! error ends the handshake. Only a completed handshake whose remote
//! credential verified yields an [`Established`] session, which carries the
//! [`VerifiedPeer`](crate::credential::VerifiedPeer).

use std::fmt;
use std::sync::Arc;

use crate::credential::NodeCredential;
use crate::keys::NoiseKeypair;
use crate::verify::{RevocationCheck, TrustStore};

mod error;
pub mod frame;
mod handshake;
mod payload;
mod transport;

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests;

pub use error::{ConfigError, Fault, SessionError};
pub use frame::{encode_frame, FrameDecoder, FrameError};
pub use handshake::{Initiator, InitiatorAwaitingResponse, Responder, ResponderAwaitingFinish};
pub use payload::HandshakePayload;
pub use transport::{Established, SessionStats};

/// The session protocol version, carried in msg1 and in every
/// [`HandshakePayload`].
pub const SESSION_VERSION: u8 = 2;

/// The Noise prologue: a versioned domain-separation string hashed into the
/// handshake by both sides.
pub const PROLOGUE: &[u8] = b"confrere/session/v2";

/// The Noise protocol name.
pub const NOISE_PARAMS: &str = crate::keys::NOISE_PATTERN;

/// Largest Noise message, handshake or transport (Noise spec, section 3).
pub const MAX_NOISE_MESSAGE_LEN: usize = 65_535;

/// The AES-GCM authentication tag appended to every encrypted field.
pub const TAG_LEN: usize = 16;

/// Bytes of a transport message's plaintext that give the length of its
/// attachment.
pub const ATTACHED_LEN_LEN: usize = 4;

/// Largest message one transport message carries: 65,535 − 16 − 4 = 65,515
/// bytes. [`Established::seal`] refuses more.
pub const MAX_PLAINTEXT_LEN: usize = MAX_NOISE_MESSAGE_LEN - TAG_LEN - ATTACHED_LEN_LEN;

/// Largest attachment a transport message may announce (1 MiB).
pub const MAX_ATTACHMENT_LEN: usize = 1 << 20;

/// X25519 public key length.
const DH_LEN: usize = 32;

/// Bytes of msg2 that are not its payload: `e`, encrypted `s`, payload tag.
const MSG2_OVERHEAD: usize = DH_LEN + (DH_LEN + TAG_LEN) + TAG_LEN;

/// Largest encoded node credential a [`HandshakePayload`] can carry so that
/// msg2 (the larger of the two messages carrying one) stays within
/// [`MAX_NOISE_MESSAGE_LEN`]: 65,535 − 96 − 3 = 65,436 bytes.
pub const MAX_CREDENTIAL_LEN: usize =
    MAX_NOISE_MESSAGE_LEN - MSG2_OVERHEAD - payload::HANDSHAKE_PAYLOAD_OVERHEAD;

/// Each direction is rekeyed (Noise `REKEY`, section 11.3) after this many
/// messages since its last rekey…
pub const REKEY_AFTER_MESSAGES: u64 = 1 << 20;

/// …or after this many bytes of plaintext (1 GiB), whichever comes first.
/// Both sides count the same messages and lengths, so they rekey at the same
/// message boundary without exchanging anything.
pub const REKEY_AFTER_BYTES: u64 = 1 << 30;

/// What a node needs to run sessions: its keys, its credential and what it
/// trusts. One configuration serves any number of sessions.
pub struct SessionConfig {
    /// The node's Noise static key pair; the credential must bind its
    /// public half.
    pub noise_key: NoiseKeypair,
    /// The node's credential, sent to every peer.
    pub credential: NodeCredential,
    /// Trust anchors, known intermediates and CRLs used to verify peers.
    pub trust: Arc<TrustStore>,
    /// Whether peers' certificates are checked against CRLs.
    pub revocation: RevocationCheck,
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("noise_key", &self.noise_key)
            .field("credential", &self.credential)
            .field("trust_anchors", &self.trust.anchors().len())
            .field("trust_intermediates", &self.trust.intermediates().len())
            .field("trust_crls", &self.trust.crls().len())
            .field("revocation", &self.revocation)
            .finish()
    }
}
