//! Drives the protocol's sans-io session between two configurations held in
//! the same process: the handshake messages go straight from one side to
//! the other. Used by `confrere demo` and by tests; the network driver
//! pumps the very same state machines over libp2p streams.

use confrere_protocol::session::{
    Established, FrameDecoder, Initiator, Responder, SessionConfig, SessionError,
};
use confrere_protocol::UnixTime;

/// The outcome of an in-memory handshake, seen from each side.
#[derive(Debug)]
pub struct Pair {
    /// The initiator's session (its peer is the responder).
    pub initiator: Established,
    /// The responder's session (its peer is the initiator).
    pub responder: Established,
}

/// Which side refused a handshake.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PumpError {
    /// The initiator refused the responder (or failed itself).
    #[error("the initiator refused the session: {0}")]
    Initiator(SessionError),
    /// The responder refused the initiator (or failed itself).
    #[error("the responder refused the session: {0}")]
    Responder(SessionError),
    /// A frame was malformed (cannot happen between two honest sides).
    #[error("a handshake frame was malformed")]
    Framing,
}

fn unframe(framed: &[u8]) -> Result<Vec<u8>, PumpError> {
    let mut d = FrameDecoder::new();
    if d.push(framed) != framed.len() {
        return Err(PumpError::Framing);
    }
    d.pop()
        .map_err(|_| PumpError::Framing)?
        .ok_or(PumpError::Framing)
}

/// Runs a full mutual handshake at `now` between two node configurations.
pub fn connect_in_memory(
    initiator: &SessionConfig,
    responder: &SessionConfig,
    now: UnixTime,
) -> Result<Pair, PumpError> {
    let (i, msg1) = Initiator::new(initiator)
        .and_then(Initiator::write_hello)
        .map_err(PumpError::Initiator)?;
    let msg1 = unframe(&msg1)?;
    let (r, msg2) = Responder::new(responder)
        .and_then(|r| r.read_hello(&msg1, now))
        .map_err(PumpError::Responder)?;
    let (initiator, msg3) = i
        .read_response(&unframe(&msg2)?, now)
        .map_err(PumpError::Initiator)?;
    let responder = r
        .read_finish(&unframe(&msg3)?, now)
        .map_err(PumpError::Responder)?;
    Ok(Pair {
        initiator,
        responder,
    })
}
