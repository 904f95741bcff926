//! The handshake states, one type each, consumed by their transitions.
//!
//! ```text
//! Initiator ──write_hello()──────────────▶ InitiatorAwaitingResponse
//!            (msg1 out)                     ──read_response(msg2, now)──▶ Established
//!                                             (checks R, msg3 out)
//! Responder ──read_hello(msg1, now)──────▶ ResponderAwaitingFinish
//!            (msg2 out)                     ──read_finish(msg3, now)────▶ Established
//!                                             (checks I)
//! ```
//!
//! Messages going out are returned framed (ready to write to the stream);
//! messages coming in are frame bodies, as [`FrameDecoder`] returns them.
//! Every error consumes the state: a handshake that failed once cannot be
//! continued.
//!
//! [`FrameDecoder`]: super::FrameDecoder

use std::fmt;
use std::sync::Arc;

use snow::HandshakeState;

use crate::codec::DecodeError;
use crate::credential::{verify_credential, CredentialError, NodeCredential, VerifiedPeer};
use crate::time::UnixTime;
use crate::verify::{Purpose, RevocationCheck, TrustStore, VerifyOptions};

use super::error::{ConfigError, SessionError};
use super::frame::{check_body_len, header, FRAME_HEADER_LEN};
use super::payload::{decode_hello, encode_hello, HandshakePayload};
use super::transport::Established;
use super::{SessionConfig, MAX_NOISE_MESSAGE_LEN, NOISE_PARAMS, PROLOGUE};

/// What a handshake keeps of the node's configuration.
struct Local {
    /// This node's encoded [`HandshakePayload`].
    payload: Vec<u8>,
    not_before: UnixTime,
    not_after: UnixTime,
    trust: Arc<TrustStore>,
    revocation: RevocationCheck,
}

impl Local {
    fn new(config: &SessionConfig) -> Result<Self, SessionError> {
        if config.credential.noise_static() != config.noise_key.public() {
            return Err(ConfigError::CredentialKeyMismatch.into());
        }
        let credential = config.credential.encode();
        let len = credential.len();
        let payload = HandshakePayload::new(credential)
            .map_err(|_| ConfigError::CredentialTooLarge { len })?
            .encode();
        Ok(Local {
            payload,
            not_before: config.credential.not_before(),
            not_after: config.credential.not_after(),
            trust: Arc::clone(&config.trust),
            revocation: config.revocation,
        })
    }

    /// Refuses to send a credential that every peer would refuse.
    fn check_own_credential(&self, now: UnixTime) -> Result<(), SessionError> {
        if now < self.not_before {
            return Err(ConfigError::OwnCredentialNotYetValid {
                not_before: self.not_before,
            }
            .into());
        }
        if now > self.not_after {
            return Err(ConfigError::OwnCredentialExpired {
                not_after: self.not_after,
            }
            .into());
        }
        Ok(())
    }

    /// Verifies the peer's payload against the static key Noise has just
    /// authenticated.
    fn verify_peer(
        &self,
        noise: &HandshakeState,
        payload: &[u8],
        now: UnixTime,
    ) -> Result<VerifiedPeer, SessionError> {
        let payload = HandshakePayload::decode(payload).map_err(payload_error)?;
        let credential =
            NodeCredential::decode(payload.credential()).map_err(CredentialError::Malformed)?;
        let remote_static = noise.get_remote_static().ok_or(SessionError::Internal)?;
        let opts = VerifyOptions {
            at: now,
            revocation: self.revocation,
            purpose: Purpose::Authentication,
        };
        let peer = verify_credential(&credential, remote_static, &self.trust, &opts)?;
        // The whole session rests on this binding: check the result too.
        if peer.noise_static().as_slice() != remote_static {
            return Err(CredentialError::WrongNoiseKey.into());
        }
        Ok(peer)
    }
}

fn payload_error(e: DecodeError) -> SessionError {
    match e {
        DecodeError::Version(v) => SessionError::UnsupportedVersion(v),
        e => SessionError::MalformedPayload(e),
    }
}

fn build(config: &SessionConfig, initiator: bool) -> Result<HandshakeState, SessionError> {
    let noise = |_| SessionError::Config(ConfigError::Noise);
    let params = NOISE_PARAMS.parse().map_err(noise)?;
    let builder = snow::Builder::new(params)
        .local_private_key(config.noise_key.secret())
        .map_err(noise)?
        .prologue(PROLOGUE)
        .map_err(noise)?;
    if initiator {
        builder.build_initiator().map_err(noise)
    } else {
        builder.build_responder().map_err(noise)
    }
}

/// Writes the next handshake message, framed.
fn write(noise: &mut HandshakeState, payload: &[u8]) -> Result<Vec<u8>, SessionError> {
    let mut out = vec![0u8; FRAME_HEADER_LEN + MAX_NOISE_MESSAGE_LEN];
    let n = noise
        .write_message(payload, &mut out[FRAME_HEADER_LEN..])
        .map_err(|_| SessionError::Internal)?;
    check_body_len(n)?;
    out.truncate(FRAME_HEADER_LEN + n);
    out[..FRAME_HEADER_LEN].copy_from_slice(&header(n));
    Ok(out)
}

/// Reads the peer's next handshake message; returns its payload.
fn read(noise: &mut HandshakeState, message: &[u8]) -> Result<Vec<u8>, SessionError> {
    check_body_len(message.len())?;
    let mut payload = vec![0u8; message.len()];
    let n = noise
        .read_message(message, &mut payload)
        .map_err(SessionError::from_noise_read)?;
    payload.truncate(n);
    Ok(payload)
}

/// The side that opens the session, before it has sent anything.
pub struct Initiator {
    noise: HandshakeState,
    local: Local,
}

impl Initiator {
    /// Prepares a handshake; fails if the configuration is unusable (the
    /// credential binds another key, or is too large).
    pub fn new(config: &SessionConfig) -> Result<Self, SessionError> {
        Ok(Initiator {
            local: Local::new(config)?,
            noise: build(config, true)?,
        })
    }

    /// Produces msg1 (framed): a fresh ephemeral key and the version.
    pub fn write_hello(mut self) -> Result<(InitiatorAwaitingResponse, Vec<u8>), SessionError> {
        let msg1 = write(&mut self.noise, &encode_hello())?;
        Ok((
            InitiatorAwaitingResponse {
                noise: self.noise,
                local: self.local,
            },
            msg1,
        ))
    }
}

/// The initiator after msg1, waiting for the responder's msg2.
pub struct InitiatorAwaitingResponse {
    noise: HandshakeState,
    local: Local,
}

impl InitiatorAwaitingResponse {
    /// Reads msg2 (a frame body), verifies the responder's credential at
    /// `now` and, only if it verifies, produces msg3 (framed) carrying this
    /// node's credential. The session is then established on this side; the
    /// responder considers it established once it has read msg3.
    pub fn read_response(
        mut self,
        msg2: &[u8],
        now: UnixTime,
    ) -> Result<(Established, Vec<u8>), SessionError> {
        self.local.check_own_credential(now)?;
        let payload = read(&mut self.noise, msg2)?;
        let peer = self.local.verify_peer(&self.noise, &payload, now)?;
        let msg3 = write(&mut self.noise, &self.local.payload)?;
        Ok((Established::new(self.noise, peer)?, msg3))
    }
}

/// The side that accepts a session, before msg1.
pub struct Responder {
    noise: HandshakeState,
    local: Local,
}

impl Responder {
    /// Prepares to answer a handshake; fails if the configuration is
    /// unusable.
    pub fn new(config: &SessionConfig) -> Result<Self, SessionError> {
        Ok(Responder {
            local: Local::new(config)?,
            noise: build(config, false)?,
        })
    }

    /// Reads msg1 (a frame body) and produces msg2 (framed), which carries
    /// this node's credential. Nothing about the initiator is known yet.
    /// `now` is used to refuse sending a credential that is out of its
    /// validity.
    pub fn read_hello(
        mut self,
        msg1: &[u8],
        now: UnixTime,
    ) -> Result<(ResponderAwaitingFinish, Vec<u8>), SessionError> {
        self.local.check_own_credential(now)?;
        let payload = read(&mut self.noise, msg1)?;
        decode_hello(&payload).map_err(payload_error)?;
        let msg2 = write(&mut self.noise, &self.local.payload)?;
        Ok((
            ResponderAwaitingFinish {
                noise: self.noise,
                local: self.local,
            },
            msg2,
        ))
    }
}

/// The responder after msg2, waiting for the initiator's msg3.
pub struct ResponderAwaitingFinish {
    noise: HandshakeState,
    local: Local,
}

impl ResponderAwaitingFinish {
    /// Reads msg3 (a frame body) and verifies the initiator's credential at
    /// `now`; the session is established only if it verifies.
    pub fn read_finish(mut self, msg3: &[u8], now: UnixTime) -> Result<Established, SessionError> {
        let payload = read(&mut self.noise, msg3)?;
        let peer = self.local.verify_peer(&self.noise, &payload, now)?;
        Established::new(self.noise, peer)
    }
}

macro_rules! opaque_debug {
    ($($t:ident),*) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($t)).finish_non_exhaustive()
            }
        }
    )*};
}

opaque_debug!(
    Initiator,
    InitiatorAwaitingResponse,
    Responder,
    ResponderAwaitingFinish
);
