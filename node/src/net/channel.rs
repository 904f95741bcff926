//! The session driver: pumps the protocol's sans-io session
//! ([`Initiator`] / [`Responder`] → [`Established`]) over a byte stream.
//!
//! The driver decides nothing about trust: the protocol crate verifies the
//! peer's credential; the driver only moves frames, applies timeouts, and
//! makes the one check that needs the connection: the PeerId the
//! credential binds must be the PeerId libp2p authenticated for the
//! connection ([`ChannelError::PeerIdMismatch`]).
//!
//! ```text
//! initiator (connect)                        responder (accept)
//!   msg1  ─────────────────────────────────▶  read_hello
//!   read_response (verifies R,  ◀────────── msg2
//!   then the PeerId check)
//!   msg3  ─────────────────────────────────▶  read_finish (verifies I,
//!                                              then the PeerId check)
//!   connect returns             ◀────────── ready: an empty transport
//!                                              message; accept returns
//! ```
//!
//! The **ready message** is the driver's addition to the protocol's three
//! handshake messages: in Noise XX the initiator completes first, so
//! without it an initiator whose credential the responder refused would
//! only see the stream end on its first read. With it, [`connect`] returns
//! a channel only once the responder has accepted this node, and a refusal
//! shows as [`ChannelError::ClosedDuringHandshake`].
//!
//! A responder that has no room for a session (see [`super::admission`])
//! closes the stream before msg2; the initiator reports
//! [`ChannelError::Busy`], not a refusal of its credential.
//!
//! A received attachment is allocated as its bytes arrive, from the
//! network's [`MemoryBudget`] ([`SecureChannel::set_budget`]); a message
//! that does not fit fails the channel with
//! [`ChannelError::MemoryBudget`].
//!
//! On any error the stream is closed without telling the peer why; the
//! reason is logged (at warn level, with the peer's [`short_peer`]) and
//! returned.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use confrere_protocol::credential::{recheck_peer, VerifiedPeer};
use confrere_protocol::session::{
    Established, Initiator, Responder, SessionConfig, SessionError, SessionStats, MAX_PLAINTEXT_LEN,
};
use confrere_protocol::{CredentialError, Purpose, UnixTime, VerifyOptions};
use futures::{AsyncRead, AsyncWrite, AsyncWriteExt};
use libp2p::PeerId;
use tokio::sync::watch;

use super::admission::SessionPermit;
use super::budget::MemoryBudget;
use super::short_peer;
use transport::Transport;

mod transport;

/// Default bound on a whole handshake, ready message included. Until it
/// completes the responder does not know who the initiator is, so an
/// inbound handshake holds one of the node's few handshake slots (see
/// [`super::admission`]) for at most this long.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Default bound on waiting for the peer: for the next message in
/// [`SecureChannel::recv`], and for the peer to take what
/// [`SecureChannel::send`] / [`SecureChannel::flush`] write.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Sealed bytes buffered by [`SecureChannel::send`] before they are written
/// to the stream without waiting for a flush.
const WRITE_BUFFER: usize = 128 * 1024;

/// Size of one read from the stream.
const READ_CHUNK: usize = 32 * 1024;

/// How long closing a stream after an error may take.
const ABORT_GRACE: Duration = Duration::from_secs(1);

/// The time bounds of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelTimeouts {
    /// Bound on the whole handshake.
    pub handshake: Duration,
    /// Bound on each wait for the peer once established: for a message to
    /// arrive, and for the peer to take what is written.
    pub idle: Duration,
}

impl Default for ChannelTimeouts {
    fn default() -> Self {
        ChannelTimeouts {
            handshake: DEFAULT_HANDSHAKE_TIMEOUT,
            idle: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// Why a channel could not be opened, or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// Reading or writing the stream failed (the connection broke).
    #[error("the stream to the peer failed: {0}")]
    Io(#[from] io::Error),
    /// The session refused the peer, the peer broke the protocol, or this
    /// node's own configuration is unusable; see [`SessionError::fault`].
    #[error("{0}")]
    Session(#[from] SessionError),
    /// The peer's credential binds another libp2p node than the one the
    /// connection is with: a credential replayed by another node.
    #[error(
        "the peer's credential is for node {credential}, but the connection is with node {connection}"
    )]
    PeerIdMismatch {
        /// The connection's PeerId (short form).
        connection: String,
        /// The PeerId the credential binds (short form, or hex if it is not
        /// a PeerId).
        credential: String,
    },
    /// The handshake did not complete in time.
    #[error("the handshake did not complete within {0:?}")]
    HandshakeTimeout(Duration),
    /// The peer sent nothing, or took nothing, for too long.
    #[error("the peer was silent or stalled for {0:?}")]
    IdleTimeout(Duration),
    /// The peer closed the stream before the handshake completed: it may
    /// have refused this node's credential (its own log says why).
    #[error("the peer closed the stream during the handshake; it may have refused this node's credential")]
    ClosedDuringHandshake,
    /// The peer's node turned the stream away before answering the
    /// handshake's first message: it has too many sessions or handshakes
    /// running (or the connection failed right then, or it cannot use its
    /// own credential, which its log says).
    #[error("the peer's node is busy: it turned the session away before answering (too many sessions or handshakes at once, or the connection failed); it is tried again later")]
    Busy,
    /// A received message did not fit in what is left of this node's
    /// memory budget for incoming messages.
    #[error("this node's memory for incoming messages ({cap} bytes) is taken by other sessions; the message was dropped and the peer's node tries again later")]
    MemoryBudget {
        /// The budget, in bytes.
        cap: usize,
    },
    /// The message ending the handshake was not the empty ready message.
    #[error("the peer sent data where the handshake's ready message was expected")]
    BadReady,
    /// The trust material in force changed (a new CRL, one gone stale)
    /// and the peer is no longer accepted under it: its card was revoked,
    /// its CRL is stale, or its chain is no longer trusted.
    #[error("the peer is no longer accepted under the trust material now in force: {0}")]
    PeerNoLongerTrusted(CredentialError),
    /// The channel failed earlier and is closed.
    #[error("the channel is closed after an earlier error")]
    Closed,
}

impl ChannelError {
    /// Whether trying again later may succeed: the network failed or a
    /// timeout expired, as opposed to a refusal or a protocol violation.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ChannelError::Io(_)
                | ChannelError::HandshakeTimeout(_)
                | ChannelError::IdleTimeout(_)
                | ChannelError::Busy
                | ChannelError::MemoryBudget { .. }
        )
    }
}

/// The clock a channel reads.
type Clock = Arc<dyn Fn() -> UnixTime + Send + Sync>;

/// An established, verified Confrère session over a stream: one message at
/// a time in each direction, each at most [`MAX_PLAINTEXT_LEN`] bytes.
pub struct SecureChannel {
    transport: Transport,
    /// Boxed: a Noise transport state is large, and channels move around.
    session: Box<Established>,
    remote: PeerId,
    now: Clock,
    timeouts: ChannelTimeouts,
    failed: bool,
    ended: bool,
    /// For an inbound session: one of the peer's sessions, given back when
    /// the channel is dropped.
    /// Boxed: it is rarely there and channels move around.
    permit: Option<Box<SessionPermit>>,
    /// The path of the connection the channel was opened on, when known.
    path: Option<super::ConnectionPath>,
    /// The session configuration in force, watched to recheck the peer
    /// when the trust material changes ([`watch_trust`](Self::watch_trust)).
    live: Option<watch::Receiver<Arc<SessionConfig>>>,
}

/// What waiting for a frame gave.
enum Waited {
    /// The read ended, in time or not.
    Read(Result<Result<Option<Vec<u8>>, ChannelError>, tokio::time::error::Elapsed>),
    /// The trust changed and the peer is no longer accepted.
    Refused(ChannelError),
}

/// Whether `peer` is still accepted under `config` at `now`.
fn recheck(peer: &VerifiedPeer, config: &SessionConfig, now: UnixTime) -> Result<(), ChannelError> {
    let opts = VerifyOptions {
        at: now,
        revocation: config.revocation,
        purpose: Purpose::Authentication,
    };
    recheck_peer(peer, &config.trust, &opts).map_err(ChannelError::PeerNoLongerTrusted)
}

impl fmt::Debug for SecureChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecureChannel")
            .field("remote", &short_peer(&self.remote))
            .field("session", &self.session)
            .field("failed", &self.failed)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl SecureChannel {
    /// The peer, as its credential verified: practitioner, certificate,
    /// node keys.
    pub fn peer(&self) -> &VerifiedPeer {
        self.session.peer()
    }

    /// The libp2p PeerId of the connection (the one the credential binds).
    pub fn remote_peer_id(&self) -> PeerId {
        self.remote
    }

    /// The path of the connection this channel was opened on (direct,
    /// hole punched, relayed), when the network knows it.
    pub fn path(&self) -> Option<super::ConnectionPath> {
        self.path
    }

    /// Sets [`path`](Self::path).
    pub(crate) fn set_path(&mut self, path: super::ConnectionPath) {
        self.path = Some(path);
    }

    /// Whether this side opened the channel.
    pub fn is_initiator(&self) -> bool {
        self.session.is_initiator()
    }

    /// The Noise handshake hash, the same on both sides, for channel
    /// binding.
    pub fn handshake_hash(&self) -> &[u8; 32] {
        self.session.handshake_hash()
    }

    /// Traffic counters.
    pub fn stats(&self) -> SessionStats {
        self.session.stats()
    }

    /// The time bounds in force.
    pub fn timeouts(&self) -> ChannelTimeouts {
        self.timeouts
    }

    /// Reserves the memory of received messages from `budget` (a channel
    /// made by [`connect_with`] or [`accept_with`] has no limit of its own).
    pub fn set_budget(&mut self, budget: MemoryBudget) {
        self.transport.set_budget(budget);
    }

    /// Rechecks the peer whenever the configuration `live` watches changes
    /// (see [`super::LiveSession::subscribe`]): once the peer is no longer
    /// accepted (its card revoked by a new CRL), the next
    /// [`send`](Self::send) fails and a [`recv`](Self::recv) waiting for a
    /// message wakes and fails, with [`ChannelError::PeerNoLongerTrusted`],
    /// and the stream is closed.
    pub fn watch_trust(&mut self, live: watch::Receiver<Arc<SessionConfig>>) {
        self.live = Some(live);
    }

    /// The peer rechecked if the configuration changed since the last look.
    fn recheck_if_changed(&mut self) -> Result<(), ChannelError> {
        let Some(live) = self.live.as_mut() else {
            return Ok(());
        };
        if !live.has_changed().unwrap_or(false) {
            return Ok(());
        }
        let config = Arc::clone(&live.borrow_and_update());
        recheck(self.session.peer(), &config, (self.now)())
    }

    /// Waits at most `idle` for the next frame, rechecking the peer at
    /// each change of the configuration in force.
    async fn wait_frame(&mut self, idle: Duration) -> Waited {
        let read = tokio::time::timeout(idle, self.transport.read_frame());
        tokio::pin!(read);
        loop {
            let alive = {
                let live = &mut self.live;
                let changed = async move {
                    match live {
                        Some(live) => live.changed().await.is_ok(),
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    r = &mut read => return Waited::Read(r),
                    alive = changed => alive,
                }
            };
            let Some(live) = self.live.as_mut().filter(|_| alive) else {
                // The configuration is gone (the node stops).
                self.live = None;
                continue;
            };
            let config = Arc::clone(&live.borrow_and_update());
            if let Err(e) = recheck(self.session.peer(), &config, (self.now)()) {
                return Waited::Refused(e);
            }
        }
    }

    /// Holds `permit` for as long as the channel lives.
    pub(crate) fn hold(&mut self, permit: SessionPermit) {
        self.permit = Some(Box::new(permit));
    }

    /// Seals one message (at most [`MAX_PLAINTEXT_LEN`] bytes, possibly
    /// empty) and queues it. Queued bytes are written once they pass an
    /// internal threshold, by [`flush`](Self::flush), and before
    /// [`recv`](Self::recv) waits. A message too long is refused with
    /// [`SessionError::PlaintextTooLong`] and the channel stays usable;
    /// any other error closes it.
    pub async fn send(&mut self, msg: &[u8]) -> Result<(), ChannelError> {
        self.send_attached(msg, msg.len()).await
    }

    /// Sends `msg` with its bytes from `split` on as an attachment: the
    /// session seals `msg[..split]` and announces the rest, which follows
    /// on the stream as it is. For bytes already sealed under a key of
    /// their own (dossier chunks); the peer's [`recv`](Self::recv) returns
    /// the whole `msg`. Buffered like [`send`](Self::send).
    pub async fn send_attached(&mut self, msg: &[u8], split: usize) -> Result<(), ChannelError> {
        self.check_usable()?;
        let (head, attachment) = msg.split_at(split.min(msg.len()));
        if head.len() > MAX_PLAINTEXT_LEN {
            return Err(SessionError::PlaintextTooLong { len: head.len() }.into());
        }
        if let Err(e) = self.recheck_if_changed() {
            return Err(self.fail(e).await);
        }
        let now = (self.now)();
        let sealed = match self
            .session
            .check_peer_still_valid(now)
            .and_then(|()| self.session.seal_attached(head, attachment.len()))
        {
            Ok(sealed) => sealed,
            Err(e @ SessionError::AttachmentTooLong { .. }) => return Err(e.into()),
            Err(e) => return Err(self.fail(e.into()).await),
        };
        self.transport.queue(&sealed);
        if !attachment.is_empty() {
            self.transport.queue(attachment);
        }
        self.write_if_full().await
    }

    /// Writes out what is queued once it reaches [`WRITE_BUFFER`].
    async fn write_if_full(&mut self) -> Result<(), ChannelError> {
        if self.transport.queued() >= WRITE_BUFFER {
            let idle = self.timeouts.idle;
            let res = tokio::time::timeout(idle, self.transport.write_queued()).await;
            match res {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(self.fail(e.into()).await),
                Err(_) => return Err(self.fail(ChannelError::IdleTimeout(idle)).await),
            }
        }
        Ok(())
    }

    /// Writes every queued message to the stream and flushes it.
    pub async fn flush(&mut self) -> Result<(), ChannelError> {
        self.check_usable()?;
        let idle = self.timeouts.idle;
        match tokio::time::timeout(idle, self.transport.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.fail(e.into()).await),
            Err(_) => Err(self.fail(ChannelError::IdleTimeout(idle)).await),
        }
    }

    /// The next message, or `None` once the peer has closed its side of the
    /// stream at a message boundary. Flushes queued messages first, then
    /// waits at most the idle timeout.
    ///
    /// A clean end of stream is not proof that the peer meant to stop
    /// there (Noise does not detect truncation): the application protocol
    /// marks its own last message.
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, ChannelError> {
        if self.ended {
            return Ok(None);
        }
        if self.transport.queued() > 0 {
            self.flush().await?;
        }
        self.check_usable()?;
        let idle = self.timeouts.idle;
        if !self.transport.has_pending() {
            if let Err(e) = self.recheck_if_changed() {
                return Err(self.fail(e).await);
            }
            let frame = match self.wait_frame(idle).await {
                Waited::Read(Ok(Ok(frame))) => frame,
                Waited::Read(Ok(Err(e))) | Waited::Refused(e) => return Err(self.fail(e).await),
                Waited::Read(Err(_)) => {
                    return Err(self.fail(ChannelError::IdleTimeout(idle)).await)
                }
            };
            let Some(frame) = frame else {
                self.ended = true;
                return Ok(None);
            };
            let now = (self.now)();
            let (msg, attached) = match self
                .session
                .open_attached(&frame)
                .and_then(|m| self.session.check_peer_still_valid(now).map(|()| m))
            {
                Ok(m) => m,
                Err(e) => return Err(self.fail(e.into()).await),
            };
            if attached == 0 {
                return Ok(Some(msg));
            }
            if let Err(e) = self.transport.expect_attachment(msg, attached) {
                return Err(self.fail(e).await);
            }
        }
        match tokio::time::timeout(idle, self.transport.read_attachment()).await {
            Ok(Ok(msg)) => Ok(msg),
            Ok(Err(e)) => Err(self.fail(e).await),
            Err(_) => Err(self.fail(ChannelError::IdleTimeout(idle)).await),
        }
    }

    /// Flushes queued messages and closes this side of the stream; the
    /// peer's [`recv`](Self::recv) then returns `None`.
    pub async fn close(mut self) -> Result<(), ChannelError> {
        self.check_usable()?;
        let idle = self.timeouts.idle;
        let res = tokio::time::timeout(idle, async {
            self.transport.flush().await?;
            self.transport.io.close().await
        })
        .await;
        match res {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(ChannelError::IdleTimeout(idle)),
        }
    }

    fn check_usable(&self) -> Result<(), ChannelError> {
        if self.failed {
            Err(ChannelError::Closed)
        } else {
            Ok(())
        }
    }

    /// Marks the channel failed, logs why, closes the stream.
    async fn fail(&mut self, e: ChannelError) -> ChannelError {
        self.failed = true;
        tracing::warn!(
            peer = %short_peer(&self.remote),
            reason = %e,
            "Confrère session closed after an error"
        );
        self.transport.abort().await;
        e
    }
}

/// Opens a session as initiator on `stream`, a stream of a libp2p
/// connection to `expected_peer`, with the default [`ChannelTimeouts`].
pub async fn connect<S>(
    stream: S,
    config: &SessionConfig,
    expected_peer: PeerId,
    now: impl Fn() -> UnixTime + Send + Sync + 'static,
) -> Result<SecureChannel, ChannelError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    connect_with(
        stream,
        config,
        expected_peer,
        now,
        ChannelTimeouts::default(),
    )
    .await
}

/// [`connect`] with explicit time bounds.
pub async fn connect_with<S>(
    stream: S,
    config: &SessionConfig,
    expected_peer: PeerId,
    now: impl Fn() -> UnixTime + Send + Sync + 'static,
    timeouts: ChannelTimeouts,
) -> Result<SecureChannel, ChannelError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let mut transport = Transport::new(Box::new(stream));
    let now: Clock = Arc::new(now);
    let handshake = initiator_handshake(&mut transport, config, &expected_peer, &now);
    let result = tokio::time::timeout(timeouts.handshake, handshake)
        .await
        .unwrap_or(Err(ChannelError::HandshakeTimeout(timeouts.handshake)));
    finish(transport, result, expected_peer, now, timeouts, "outbound").await
}

/// Answers a session as responder on `stream`, a stream that
/// `remote_peer` opened, with the default [`ChannelTimeouts`].
pub async fn accept<S>(
    stream: S,
    config: &SessionConfig,
    remote_peer: PeerId,
    now: impl Fn() -> UnixTime + Send + Sync + 'static,
) -> Result<SecureChannel, ChannelError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    accept_with(stream, config, remote_peer, now, ChannelTimeouts::default()).await
}

/// [`accept`] with explicit time bounds.
pub async fn accept_with<S>(
    stream: S,
    config: &SessionConfig,
    remote_peer: PeerId,
    now: impl Fn() -> UnixTime + Send + Sync + 'static,
    timeouts: ChannelTimeouts,
) -> Result<SecureChannel, ChannelError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let mut transport = Transport::new(Box::new(stream));
    let now: Clock = Arc::new(now);
    let handshake = responder_handshake(&mut transport, config, &remote_peer, &now);
    let result = tokio::time::timeout(timeouts.handshake, handshake)
        .await
        .unwrap_or(Err(ChannelError::HandshakeTimeout(timeouts.handshake)));
    finish(transport, result, remote_peer, now, timeouts, "inbound").await
}

async fn finish(
    mut transport: Transport,
    result: Result<Established, ChannelError>,
    remote: PeerId,
    now: Clock,
    timeouts: ChannelTimeouts,
    direction: &'static str,
) -> Result<SecureChannel, ChannelError> {
    match result {
        Ok(session) => {
            tracing::debug!(
                peer = %short_peer(&remote),
                direction,
                "Confrère session established"
            );
            Ok(SecureChannel {
                transport,
                session: Box::new(session),
                remote,
                now,
                timeouts,
                failed: false,
                ended: false,
                permit: None,
                path: None,
                live: None,
            })
        }
        Err(e) => {
            tracing::warn!(
                peer = %short_peer(&remote),
                direction,
                reason = %e,
                "Confrère session refused"
            );
            transport.abort().await;
            Err(e)
        }
    }
}

async fn flush_handshake(t: &mut Transport, framed: &[u8]) -> Result<(), ChannelError> {
    t.queue(framed);
    t.flush().await?;
    Ok(())
}

async fn read_handshake(t: &mut Transport) -> Result<Vec<u8>, ChannelError> {
    t.read_frame()
        .await?
        .ok_or(ChannelError::ClosedDuringHandshake)
}

async fn initiator_handshake(
    t: &mut Transport,
    config: &SessionConfig,
    expected_peer: &PeerId,
    now: &Clock,
) -> Result<Established, ChannelError> {
    let (state, msg1) = Initiator::new(config)?.write_hello()?;
    // A responder with no room for this session turns the stream away
    // before msg2 (closed, or reset if it arrived while the responder's
    // queue of new streams was full); a refusal of this node's credential
    // comes after msg3.
    let before_msg2 = async {
        flush_handshake(t, &msg1).await?;
        t.read_frame().await
    };
    let msg2 = match before_msg2.await {
        Ok(Some(msg2)) => msg2,
        Ok(None) | Err(ChannelError::Io(_)) => return Err(ChannelError::Busy),
        Err(e) => return Err(e),
    };
    let (mut session, msg3) = state.read_response(&msg2, now())?;
    // Check the connection before revealing this node's credential in msg3.
    check_peer_id(session.peer(), expected_peer)?;
    flush_handshake(t, &msg3).await?;
    let ready = read_handshake(t).await?;
    if !session.open(&ready)?.is_empty() {
        return Err(ChannelError::BadReady);
    }
    Ok(session)
}

async fn responder_handshake(
    t: &mut Transport,
    config: &SessionConfig,
    remote_peer: &PeerId,
    now: &Clock,
) -> Result<Established, ChannelError> {
    let responder = Responder::new(config)?;
    let msg1 = read_handshake(t).await?;
    let (state, msg2) = responder.read_hello(&msg1, now())?;
    flush_handshake(t, &msg2).await?;
    let msg3 = read_handshake(t).await?;
    let mut session = state.read_finish(&msg3, now())?;
    check_peer_id(session.peer(), remote_peer)?;
    let ready = session.seal(&[])?;
    flush_handshake(t, &ready).await?;
    Ok(session)
}

/// The credential must bind the PeerId libp2p authenticated.
fn check_peer_id(peer: &VerifiedPeer, connection: &PeerId) -> Result<(), ChannelError> {
    if peer.peer_id() == connection.to_bytes().as_slice() {
        return Ok(());
    }
    let credential = match PeerId::from_bytes(peer.peer_id()) {
        Ok(p) => short_peer(&p),
        Err(_) => format!("(not a PeerId: {})", hex::encode(peer.peer_id())),
    };
    Err(ChannelError::PeerIdMismatch {
        connection: short_peer(connection),
        credential,
    })
}
