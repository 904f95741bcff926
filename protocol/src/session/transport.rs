//! An established session: the verified peer, and sealing and opening of
//! transport messages with a rekey schedule both sides keep in step.
//!
//! Each direction counts its messages and plaintext bytes since its last
//! rekey. After the message that reaches [`REKEY_AFTER_MESSAGES`] messages or
//! [`REKEY_AFTER_BYTES`] bytes, the sender calls Noise's `rekey_outgoing`
//! and the receiver, having opened that same message, `rekey_incoming`. The
//! counts depend only on the messages themselves, which arrive in order and
//! complete (a failure closes the session), so both sides rekey at the same
//! boundary without a message saying so.

use std::fmt;

use snow::{HandshakeState, TransportState};

use crate::credential::CredentialError;
use crate::credential::VerifiedPeer;
use crate::time::UnixTime;

use super::error::SessionError;
use super::frame::{check_body_len, header, FRAME_HEADER_LEN};
use super::{
    ATTACHED_LEN_LEN, MAX_ATTACHMENT_LEN, MAX_PLAINTEXT_LEN, REKEY_AFTER_BYTES,
    REKEY_AFTER_MESSAGES, TAG_LEN,
};

/// When a direction is rekeyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RekeyPolicy {
    /// Messages per key.
    pub(crate) messages: u64,
    /// Plaintext bytes per key (the message that reaches it is the last).
    pub(crate) bytes: u64,
}

impl RekeyPolicy {
    pub(crate) const DEFAULT: RekeyPolicy = RekeyPolicy {
        messages: REKEY_AFTER_MESSAGES,
        bytes: REKEY_AFTER_BYTES,
    };
}

/// Counters of one direction.
#[derive(Clone, Copy, Debug, Default)]
struct Direction {
    messages: u64,
    bytes: u64,
    rekeys: u64,
    messages_since_rekey: u64,
    bytes_since_rekey: u64,
}

impl Direction {
    /// Counts one message; true if the direction must now be rekeyed.
    fn count(&mut self, len: usize, policy: RekeyPolicy) -> bool {
        let len = len as u64;
        self.messages += 1;
        self.bytes += len;
        self.messages_since_rekey += 1;
        self.bytes_since_rekey += len;
        if self.messages_since_rekey >= policy.messages || self.bytes_since_rekey >= policy.bytes {
            self.messages_since_rekey = 0;
            self.bytes_since_rekey = 0;
            self.rekeys += 1;
            true
        } else {
            false
        }
    }
}

/// Traffic counters of a session, for logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionStats {
    /// Messages sealed.
    pub sent_messages: u64,
    /// Plaintext bytes sealed.
    pub sent_bytes: u64,
    /// Times the sending key was rekeyed.
    pub send_rekeys: u64,
    /// Messages opened.
    pub received_messages: u64,
    /// Plaintext bytes opened.
    pub received_bytes: u64,
    /// Times the receiving key was rekeyed.
    pub receive_rekeys: u64,
}

/// A session whose handshake completed and whose peer's credential
/// verified. Only the handshake makes one.
pub struct Established {
    transport: TransportState,
    peer: VerifiedPeer,
    handshake_hash: [u8; 32],
    send: Direction,
    receive: Direction,
    policy: RekeyPolicy,
    closed: bool,
}

impl fmt::Debug for Established {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Established")
            .field("initiator", &self.transport.is_initiator())
            .field("peer", &self.peer.identity().national_id.as_str())
            .field("closed", &self.closed)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Established {
    /// Ends a completed handshake with a verified peer.
    pub(crate) fn new(noise: HandshakeState, peer: VerifiedPeer) -> Result<Self, SessionError> {
        let handshake_hash = noise
            .get_handshake_hash()
            .try_into()
            .map_err(|_| SessionError::Internal)?;
        let transport = noise
            .into_transport_mode()
            .map_err(|_| SessionError::Internal)?;
        Ok(Established {
            transport,
            peer,
            handshake_hash,
            send: Direction::default(),
            receive: Direction::default(),
            policy: RekeyPolicy::DEFAULT,
            closed: false,
        })
    }

    /// The peer: its practitioner, certificate and keys, as verified.
    pub fn peer(&self) -> &VerifiedPeer {
        &self.peer
    }

    /// The Noise handshake hash, identical on both sides and unique to this
    /// session (for channel binding).
    pub fn handshake_hash(&self) -> &[u8; 32] {
        &self.handshake_hash
    }

    /// Whether this side opened the session.
    pub fn is_initiator(&self) -> bool {
        self.transport.is_initiator()
    }

    /// Whether an error closed the session.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Fails once the peer's credential has expired at `now`: a driver
    /// keeping a session open for long calls it before relying on the peer.
    pub fn check_peer_still_valid(&self, now: UnixTime) -> Result<(), SessionError> {
        let not_after = self.peer.credential_not_after();
        if now > not_after {
            return Err(CredentialError::Expired { not_after }.into());
        }
        Ok(())
    }

    /// Traffic counters.
    pub fn stats(&self) -> SessionStats {
        SessionStats {
            sent_messages: self.send.messages,
            sent_bytes: self.send.bytes,
            send_rekeys: self.send.rekeys,
            received_messages: self.receive.messages,
            received_bytes: self.receive.bytes,
            receive_rekeys: self.receive.rekeys,
        }
    }

    /// Encrypts one message of at most [`MAX_PLAINTEXT_LEN`] bytes (possibly
    /// empty) and returns it framed, ready to write to the stream.
    pub fn seal(&mut self, message: &[u8]) -> Result<Vec<u8>, SessionError> {
        self.seal_attached(message, 0)
    }

    /// Like [`seal`](Self::seal), announcing an attachment of `attached`
    /// bytes (at most [`MAX_ATTACHMENT_LEN`]), which the caller writes to
    /// the stream, as they are, right after the returned frame. The
    /// attachment's bytes are neither encrypted nor authenticated by the
    /// session; see the module documentation.
    pub fn seal_attached(
        &mut self,
        message: &[u8],
        attached: usize,
    ) -> Result<Vec<u8>, SessionError> {
        if self.closed {
            return Err(SessionError::Closed);
        }
        if message.len() > MAX_PLAINTEXT_LEN {
            return Err(SessionError::PlaintextTooLong { len: message.len() });
        }
        let attached_len = match u32::try_from(attached) {
            Ok(n) if attached <= MAX_ATTACHMENT_LEN => n,
            _ => return Err(SessionError::AttachmentTooLong { len: attached }),
        };
        let mut plaintext = Vec::with_capacity(message.len() + ATTACHED_LEN_LEN);
        plaintext.extend_from_slice(message);
        plaintext.extend_from_slice(&attached_len.to_be_bytes());
        let body_len = plaintext.len() + TAG_LEN;
        let mut out = vec![0u8; FRAME_HEADER_LEN + body_len];
        out[..FRAME_HEADER_LEN].copy_from_slice(&header(body_len));
        match self
            .transport
            .write_message(&plaintext, &mut out[FRAME_HEADER_LEN..])
        {
            Ok(n) if n == body_len => {}
            _ => return Err(self.close(SessionError::Internal)),
        }
        if self.send.count(plaintext.len(), self.policy) {
            self.transport.rekey_outgoing();
        }
        Ok(out)
    }

    /// Decrypts one message (a frame body, as
    /// [`FrameDecoder`](super::FrameDecoder) returns them) that must not
    /// announce an attachment. Any failure closes the session: on a
    /// reliable stream a message that does not open means an attack or a
    /// broken peer.
    pub fn open(&mut self, frame_payload: &[u8]) -> Result<Vec<u8>, SessionError> {
        match self.open_attached(frame_payload)? {
            (message, 0) => Ok(message),
            _ => Err(self.close(SessionError::MalformedAttachment)),
        }
    }

    /// Decrypts one message and returns it with the length of the
    /// attachment it announces (0 for none): that many raw bytes follow its
    /// frame on the stream, to be checked by whoever uses them. Any failure
    /// closes the session.
    pub fn open_attached(
        &mut self,
        frame_payload: &[u8],
    ) -> Result<(Vec<u8>, usize), SessionError> {
        if self.closed {
            return Err(SessionError::Closed);
        }
        if let Err(e) = check_body_len(frame_payload.len()) {
            return Err(self.close(e.into()));
        }
        if frame_payload.len() < TAG_LEN {
            return Err(self.close(SessionError::Decrypt));
        }
        let mut plaintext = vec![0u8; frame_payload.len() - TAG_LEN];
        let n = match self.transport.read_message(frame_payload, &mut plaintext) {
            Ok(n) => n,
            Err(snow::Error::Decrypt) => return Err(self.close(SessionError::Decrypt)),
            Err(_) => return Err(self.close(SessionError::Internal)),
        };
        plaintext.truncate(n);
        if self.receive.count(n, self.policy) {
            self.transport.rekey_incoming();
        }
        let Some(at) = n.checked_sub(ATTACHED_LEN_LEN) else {
            return Err(self.close(SessionError::MalformedAttachment));
        };
        let mut len = [0u8; ATTACHED_LEN_LEN];
        len.copy_from_slice(&plaintext[at..]);
        let attached = u32::from_be_bytes(len) as usize;
        if attached > MAX_ATTACHMENT_LEN {
            return Err(self.close(SessionError::MalformedAttachment));
        }
        plaintext.truncate(at);
        Ok((plaintext, attached))
    }

    fn close(&mut self, e: SessionError) -> SessionError {
        self.closed = true;
        e
    }

    /// Test hook: another rekey schedule (both sides must use the same).
    #[cfg(test)]
    pub(crate) fn set_rekey_policy(&mut self, policy: RekeyPolicy) {
        self.policy = policy;
    }

    /// Test hook: seals `plaintext` as the whole Noise plaintext, without
    /// the attachment length a well-behaved sender appends.
    #[cfg(test)]
    pub(crate) fn seal_raw(&mut self, plaintext: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; plaintext.len() + TAG_LEN];
        let n = self
            .transport
            .write_message(plaintext, &mut out)
            .expect("seal");
        out.truncate(n);
        self.send.count(plaintext.len(), self.policy);
        out
    }
}
