//! The API of a running network: [`NetworkHandle`], the events it
//! reports ([`NetEvent`]) and its errors ([`NetError`]).
//!
//! Outgoing sessions run in the caller's task: the handle asks the swarm
//! task to connect, opens a [`SESSION_PROTOCOL`] stream through
//! `libp2p_stream::Control`, then runs [`channel::connect_with`].

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use confrere_protocol::UnixTime;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};

use super::admission::Admission;
use super::budget::MemoryBudget;
use super::channel::{self, ChannelError, ChannelTimeouts, SecureChannel};
use super::gate::Verified;
use super::limits::NetLimits;
use super::live::LiveSession;
use super::reach::{ConnectionPath, Reachability};
use super::{short_peer, split_peer, SESSION_PROTOCOL};

/// Bound on dialling a peer and opening a stream to it.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(20);

/// Pauses before each new try of a session that a busy node turned away.
const BUSY_RETRY_PAUSES: [Duration; 4] = [
    Duration::from_millis(100),
    Duration::from_millis(300),
    Duration::from_millis(900),
    Duration::from_millis(2000),
];

/// What the network reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum NetEvent {
    /// A peer opened a session and its credential verified.
    Inbound(SecureChannel),
    /// An inbound session was refused (also logged).
    Refused {
        /// The libp2p peer that opened it.
        peer: PeerId,
        /// Why.
        reason: String,
    },
    /// mDNS found a node on the local network (not verified: only a
    /// session says who it is).
    Discovered {
        /// Its PeerId.
        peer: PeerId,
        /// Where it says it listens.
        addrs: Vec<Multiaddr>,
    },
    /// A session, in either direction, verified a peer.
    Verified {
        /// Its PeerId (the one its credential binds).
        peer: PeerId,
        /// The practitioner's national id.
        national_id: String,
        /// The practitioner's name, as shown to users.
        name: String,
        /// Where the peer can be reached, as far as this node knows.
        addrs: Vec<Multiaddr>,
        /// End of the node credential the peer presented.
        credential_not_after: confrere_protocol::UnixTime,
    },
}

/// An error and its sources, `: `-separated (libp2p's transport errors
/// display nothing themselves; their reason is in their source).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    if parts.is_empty() {
        "the system gave no reason".to_owned()
    } else {
        parts.join(": ")
    }
}

/// Why the network could not start or do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The libp2p key is not the one the node credential binds.
    #[error("the libp2p key (node {key}) is not the one the node credential binds; the home is damaged or mixed up")]
    KeyMismatch {
        /// The key's PeerId, short.
        key: String,
    },
    /// The swarm could not be built.
    #[error("the network could not be set up: {0}")]
    Build(String),
    /// A listen address was refused or its listener failed.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// No address is known for the peer.
    #[error("no address is known for node {peer}; add one (a multiaddr such as /ip4/192.0.2.10/tcp/4001)")]
    NoAddress {
        /// The peer, short.
        peer: String,
    },
    /// Dialling failed.
    #[error("cannot reach {target}: {reason}")]
    Dial {
        /// The peer (short) or the address dialled.
        target: String,
        /// Why.
        reason: String,
    },
    /// The peer does not accept Confrère sessions, or the stream failed.
    #[error("cannot open a session stream to node {peer}: {reason}")]
    OpenStream {
        /// The peer, short.
        peer: String,
        /// Why.
        reason: String,
    },
    /// Dialling and opening the stream took too long.
    #[error("node {peer} could not be reached within {timeout:?}")]
    Timeout {
        /// The peer (short) or the address dialled.
        peer: String,
        /// The bound.
        timeout: Duration,
    },
    /// The session failed or was refused.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The network task has stopped.
    #[error("the network has stopped")]
    Stopped,
}

/// Where the swarm task answers a command.
pub(super) type Reply<T> = oneshot::Sender<Result<T, NetError>>;

/// What a handle asks of the swarm task.
pub(super) enum Command {
    Dial {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        reply: Reply<ConnectionPath>,
    },
    Find {
        national_id: confrere_protocol::NationalId,
        reply: Reply<Vec<confrere_protocol::directory::VerifiedRecord>>,
    },
    DialAddr {
        addr: Multiaddr,
        reply: Reply<PeerId>,
    },
    AddAddress {
        peer: PeerId,
        addr: Multiaddr,
    },
    Disconnect {
        peer: PeerId,
        reply: Reply<()>,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

/// Where session tasks report a verified peer: the gate learns it at once
/// (before the peer's next request can reach a gated behaviour), the swarm
/// task through the channel.
#[derive(Clone)]
pub(super) struct Notices {
    pub(super) tx: mpsc::UnboundedSender<VerifiedNotice>,
    pub(super) verified: Verified,
}

impl Notices {
    /// Reports that `channel`'s session verified its peer.
    pub(super) fn verified(&self, channel: &SecureChannel) {
        self.verified.insert(channel.remote_peer_id());
        let _ = self.tx.send(VerifiedNotice::of(channel));
    }
}

/// What the swarm task knows of this node's reachability, for handles.
#[derive(Clone, Debug)]
pub(super) struct ReachState {
    pub(super) reachability: Reachability,
    /// Dialable addresses, with `/p2p/` of this node.
    pub(super) dialable: Vec<Multiaddr>,
}

/// A session verified a peer (sent by channel tasks to the swarm task,
/// which adds the addresses it knows).
pub(super) struct VerifiedNotice {
    pub(super) peer: PeerId,
    pub(super) national_id: String,
    pub(super) name: String,
    pub(super) credential_not_after: confrere_protocol::UnixTime,
}

impl VerifiedNotice {
    pub(super) fn of(channel: &SecureChannel) -> Self {
        let identity = channel.peer().identity();
        VerifiedNotice {
            peer: channel.remote_peer_id(),
            national_id: identity.national_id.as_str().to_owned(),
            name: identity.display_name(),
            credential_not_after: channel.peer().credential_not_after(),
        }
    }
}

/// Handle to a running network; cheap to clone. The network stops at
/// [`shutdown`](Self::shutdown) or when every handle is dropped.
#[derive(Clone)]
pub struct NetworkHandle {
    pub(super) local: PeerId,
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) notices: Notices,
    pub(super) control: libp2p_stream::Control,
    pub(super) reach: Arc<Mutex<ReachState>>,
    pub(super) bootstrap: Vec<Multiaddr>,
    pub(super) listen_addrs: Arc<Mutex<Vec<Multiaddr>>>,
    pub(super) session: Arc<LiveSession>,
    pub(super) now: fn() -> UnixTime,
    pub(super) timeouts: ChannelTimeouts,
    pub(super) limits: NetLimits,
    pub(super) admission: Admission,
    pub(super) budget: MemoryBudget,
}

impl std::fmt::Debug for NetworkHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkHandle")
            .field("local", &short_peer(&self.local))
            .finish_non_exhaustive()
    }
}

impl NetworkHandle {
    /// This node's PeerId.
    pub fn local_peer_id(&self) -> PeerId {
        self.local
    }

    /// The addresses the node listens on now (without `/p2p/`).
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.listen_addrs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The limits the network runs with.
    pub fn limits(&self) -> NetLimits {
        self.limits
    }

    /// Bytes of received messages the node's sessions hold now, out of
    /// [`NetLimits::memory_budget`].
    pub fn buffered_bytes(&self) -> usize {
        self.budget.in_use()
    }

    /// Inbound handshakes running now.
    pub fn handshakes_running(&self) -> usize {
        self.admission.handshakes()
    }

    /// Inbound sessions open now with `peer`, handshakes included.
    pub fn sessions_with(&self, peer: &PeerId) -> usize {
        self.admission.sessions_of(peer)
    }

    /// The session configuration in force: its trust material and the
    /// credential the node presents, replaced while the node runs (a new
    /// CRL, a renewed card).
    pub fn live_session(&self) -> &Arc<LiveSession> {
        &self.session
    }

    /// How this node can be reached now (AutoNAT, relay slots, `--public`).
    pub fn reachability(&self) -> Reachability {
        self.reach
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .reachability
    }

    /// The addresses other nodes can dial this node at, each ending in
    /// `/p2p/PEER_ID`: confirmed public addresses, relayed addresses
    /// (`…/p2p-circuit/p2p/PEER_ID`) once a relay holds a slot, then the
    /// concrete listen addresses (for the local network).
    pub fn dialable_addrs(&self) -> Vec<Multiaddr> {
        self.reach
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .dialable
            .clone()
    }

    /// The bootstrap nodes the network was started with.
    pub fn bootstrap_addrs(&self) -> Vec<Multiaddr> {
        self.bootstrap.clone()
    }

    /// Looks the practitioner `national_id` up in the directory: the
    /// records every node asked returned, each verified again here (card
    /// chain under this node's trust anchors and CRLs, node key signature,
    /// national id, expiry), merged (newest sequence per node). Empty when
    /// nobody publishes that id.
    pub async fn find(
        &self,
        national_id: &confrere_protocol::NationalId,
    ) -> Result<Vec<confrere_protocol::directory::VerifiedRecord>, NetError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Find {
                national_id: national_id.clone(),
                reply,
            })
            .await
            .map_err(|_| NetError::Stopped)?;
        // The swarm task ends every lookup by its query timeout.
        tokio::time::timeout(super::directory::QUERY_TIMEOUT * 2, rx)
            .await
            .map_err(|_| NetError::Timeout {
                peer: "the directory".into(),
                timeout: super::directory::QUERY_TIMEOUT * 2,
            })?
            .map_err(|_| NetError::Stopped)?
    }

    /// Dials exactly `addr` on a new connection (never an existing one) and
    /// opens a verified session on it: a `peers add` that succeeds proves
    /// that very address leads to the node.
    pub async fn verify_address(&self, addr: Multiaddr) -> Result<SecureChannel, NetError> {
        let peer = self.dial_addr(addr.clone(), addr.to_string()).await?;
        self.session_on(peer).await
    }

    /// Remembers an address of a peer, for later dials.
    pub async fn add_address(&self, peer: PeerId, addr: Multiaddr) -> Result<(), NetError> {
        let (addr, _) = split_peer(&addr);
        self.commands
            .send(Command::AddAddress { peer, addr })
            .await
            .map_err(|_| NetError::Stopped)
    }

    /// Opens a verified session to `peer`: adds `addrs` to what is known
    /// of it, connects if not connected, opens a [`SESSION_PROTOCOL`]
    /// stream and runs the handshake as initiator.
    pub async fn open_channel(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
    ) -> Result<SecureChannel, NetError> {
        let addrs = addrs.iter().map(|a| split_peer(a).0).collect();
        let (reply, rx) = oneshot::channel();
        let dial = async {
            self.commands
                .send(Command::Dial { peer, addrs, reply })
                .await
                .map_err(|_| NetError::Stopped)?;
            rx.await.map_err(|_| NetError::Stopped)?
        };
        let path = bounded(short_peer(&peer), dial).await?;
        let mut channel = self.session_on(peer).await?;
        channel.set_path(path);
        Ok(channel)
    }

    /// Opens a verified session to whatever node listens at `addr`. With a
    /// `/p2p/PEER_ID` suffix this is [`open_channel`](Self::open_channel);
    /// without, the node's PeerId is learnt from the connection (libp2p
    /// authenticates it) and the session checks the credential binds it.
    pub async fn open_channel_addr(&self, addr: Multiaddr) -> Result<SecureChannel, NetError> {
        let (bare, peer) = split_peer(&addr);
        if let Some(peer) = peer {
            return self.open_channel(peer, vec![bare]).await;
        }
        let peer = self.dial_addr(bare, addr.to_string()).await?;
        self.session_on(peer).await
    }

    /// Dials `addr` on a new connection (bounded by [`DIAL_TIMEOUT`],
    /// errors naming `target`) and returns the PeerId libp2p authenticated.
    async fn dial_addr(&self, addr: Multiaddr, target: String) -> Result<PeerId, NetError> {
        let (reply, rx) = oneshot::channel();
        let dial = async {
            self.commands
                .send(Command::DialAddr { addr, reply })
                .await
                .map_err(|_| NetError::Stopped)?;
            rx.await.map_err(|_| NetError::Stopped)?
        };
        bounded(target, dial).await
    }

    /// Opens the stream to a connected peer and runs the handshake.
    async fn session_on(&self, peer: PeerId) -> Result<SecureChannel, NetError> {
        let mut result = self.try_session(peer).await;
        // A busy node (or its full queue of new streams) turns a stream
        // away at once: a colleague tries a few more times, after a pause.
        for pause in BUSY_RETRY_PAUSES {
            if !result.as_ref().is_err_and(is_transient) {
                break;
            }
            tokio::time::sleep(pause).await;
            result = self.try_session(peer).await;
        }
        let mut channel = result?;
        channel.set_budget(self.budget.clone());
        self.admission.mark_known(peer);
        self.notices.verified(&channel);
        Ok(channel)
    }

    /// Opens one stream to a connected peer and runs the handshake.
    async fn try_session(&self, peer: PeerId) -> Result<SecureChannel, NetError> {
        let mut control = self.control.clone();
        let open = async {
            control
                .open_stream(peer, SESSION_PROTOCOL)
                .await
                .map_err(|e| NetError::OpenStream {
                    peer: short_peer(&peer),
                    reason: match e {
                        libp2p_stream::OpenStreamError::UnsupportedProtocol(p) => {
                            format!("{UNSUPPORTED} {p}")
                        }
                        e => e.to_string(),
                    },
                })
        };
        let stream = bounded(short_peer(&peer), open).await?;
        let live = self.session.subscribe();
        let mut channel = channel::connect_with(
            stream,
            &self.session.current(),
            peer,
            self.now,
            self.timeouts,
        )
        .await?;
        channel.watch_trust(live);
        Ok(channel)
    }

    /// Closes every connection to `peer` (channels on them fail at their
    /// next read or write) and returns once the last one is closed, so that
    /// the next [`open_channel`](Self::open_channel) to it dials a fresh
    /// connection: TCP, libp2p's Noise and Yamux, then the session. Returns
    /// at once if no connection to it is open.
    ///
    /// A node does not need this (idle connections close by themselves,
    /// see [`IDLE_CONNECTION_TIMEOUT`](super::swarm::IDLE_CONNECTION_TIMEOUT));
    /// it is for measuring and testing the cost of a whole set-up.
    pub async fn disconnect(&self, peer: PeerId) -> Result<(), NetError> {
        let (reply, rx) = oneshot::channel();
        let close = async {
            self.commands
                .send(Command::Disconnect { peer, reply })
                .await
                .map_err(|_| NetError::Stopped)?;
            rx.await.map_err(|_| NetError::Stopped)?
        };
        bounded(short_peer(&peer), close).await
    }

    /// Stops the network: closes every connection and ends the task.
    /// Channels already handed out fail at their next read or write.
    pub async fn shutdown(&self) {
        let (done, rx) = oneshot::channel();
        if self.commands.send(Command::Shutdown { done }).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Whether a session that failed with `e` is worth trying again at once:
/// the node was busy, or the stream failed to open because the connection
/// it was opened on closed meanwhile (a relayed connection dropped once
/// hole punching made a direct one). A peer that does not speak the
/// protocol is not.
fn is_transient(e: &NetError) -> bool {
    match e {
        NetError::Channel(ChannelError::Busy) => true,
        NetError::OpenStream { reason, .. } => !reason.starts_with(UNSUPPORTED),
        _ => false,
    }
}

/// How [`NetError::OpenStream`] begins for a peer without the protocol.
const UNSUPPORTED: &str = "it does not speak";

async fn bounded<T>(
    target: String,
    fut: impl std::future::Future<Output = Result<T, NetError>>,
) -> Result<T, NetError> {
    tokio::time::timeout(DIAL_TIMEOUT, fut)
        .await
        .unwrap_or(Err(NetError::Timeout {
            peer: target,
            timeout: DIAL_TIMEOUT,
        }))
}
