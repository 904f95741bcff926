//! Starting a network: the libp2p swarm and the task that owns it.
//!
//! The task owns the [`Swarm`]: TCP + Noise + Yamux and QUIC transports,
//! identify (protocol version [`IDENTIFY_PROTOCOL_VERSION`]), ping, optional
//! mDNS, and `libp2p_stream` for [`SESSION_PROTOCOL`]. Incoming session
//! streams are each answered by [`channel::accept_with`] in a task of their
//! own; outgoing ones are opened by
//! [`NetworkHandle::open_channel`] in the caller's task. Either way the
//! session is the protocol crate's.
//!
//! Keep-alive: a connection stays open while any session stream on it is
//! open (libp2p counts active streams), and for
//! [`IDLE_CONNECTION_TIMEOUT`] after the last one closes. Identify and ping
//! do not keep a connection alive.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use confrere_protocol::session::SessionConfig;
use confrere_protocol::UnixTime;
use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{identify, mdns, noise, ping, tcp, yamux, Multiaddr, Swarm, SwarmBuilder};
use tokio::sync::{mpsc, Semaphore};

use super::channel::{self, ChannelTimeouts};
use super::driver::Driver;
use super::handle::{NetError, NetEvent, NetworkHandle, VerifiedNotice};
use super::{short_peer, IDENTIFY_PROTOCOL_VERSION, SESSION_PROTOCOL};

/// How long a connection without open session streams stays up.
pub const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);

/// Inbound handshakes running at once; streams beyond are dropped.
pub const MAX_INBOUND_HANDSHAKES: usize = 64;

/// What a network is started with.
#[derive(Clone)]
pub struct NetConfig {
    /// The node's libp2p identity (`Home.libp2p`); its PeerId must be the
    /// one the node credential binds.
    pub keypair: Keypair,
    /// Where to listen.
    pub listen: Vec<Multiaddr>,
    /// Whether to discover peers on the local network with mDNS.
    pub mdns: bool,
    /// The session configuration (`Home::session_config`).
    pub session: Arc<SessionConfig>,
    /// The clock sessions verify credentials at.
    pub now: fn() -> UnixTime,
    /// Time bounds of every channel.
    pub timeouts: ChannelTimeouts,
}

impl std::fmt::Debug for NetConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetConfig")
            .field("peer", &short_peer(&self.keypair.public().to_peer_id()))
            .field("listen", &self.listen)
            .field("mdns", &self.mdns)
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl NetConfig {
    /// A configuration with the defaults: [`NetConfig::default_listen`],
    /// mDNS on, default timeouts.
    pub fn new(keypair: Keypair, session: Arc<SessionConfig>, now: fn() -> UnixTime) -> Self {
        NetConfig {
            keypair,
            listen: Self::default_listen(),
            mdns: true,
            session,
            now,
            timeouts: ChannelTimeouts::default(),
        }
    }

    /// Every IPv4 interface, a port the system picks, TCP and QUIC:
    /// `/ip4/0.0.0.0/tcp/0` and `/ip4/0.0.0.0/udp/0/quic-v1`.
    pub fn default_listen() -> Vec<Multiaddr> {
        ["/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"]
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect()
    }
}

/// The libp2p protocols a node runs.
#[derive(NetworkBehaviour)]
pub(super) struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
    stream: libp2p_stream::Behaviour,
}

/// The network: see the module docs.
#[derive(Debug)]
pub struct Network;

impl Network {
    /// Builds the swarm, starts listening, waits until every listener has
    /// an address (so [`NetworkHandle::listen_addrs`] is usable at once),
    /// and spawns the task that owns the swarm. Must be called within a
    /// tokio runtime.
    pub async fn start(
        config: NetConfig,
    ) -> Result<(NetworkHandle, mpsc::Receiver<NetEvent>), NetError> {
        let local = config.keypair.public().to_peer_id();
        if local.to_bytes() != config.session.credential.peer_id() {
            return Err(NetError::KeyMismatch {
                key: short_peer(&local),
            });
        }
        let mut swarm = build_swarm(&config)?;
        let mut control = swarm.behaviour().stream.new_control();
        let incoming = control
            .accept(SESSION_PROTOCOL)
            .map_err(|e| NetError::Build(e.to_string()))?;
        let mut listeners = HashMap::new();
        for addr in &config.listen {
            let id = swarm
                .listen_on(addr.clone())
                .map_err(|e| NetError::Listen {
                    addr: addr.to_string(),
                    reason: super::handle::error_chain(&e),
                })?;
            listeners.insert(id, addr.to_string());
        }

        let (commands, command_rx) = mpsc::channel(64);
        let (notices, notice_rx) = mpsc::unbounded_channel();
        let (events, event_rx) = mpsc::channel(64);
        let listen_addrs = Arc::new(Mutex::new(Vec::new()));
        let acceptor = tokio::spawn(accept_loop(
            incoming,
            Arc::clone(&config.session),
            config.now,
            config.timeouts,
            events.clone(),
            notices.clone(),
        ));
        let mut driver = Driver::new(
            swarm,
            command_rx,
            notice_rx,
            events,
            Arc::clone(&listen_addrs),
            acceptor,
        );
        if let Err(e) = driver.wait_for_listeners(listeners).await {
            driver.abandon();
            return Err(e);
        }
        tokio::spawn(driver.run());
        let handle = NetworkHandle {
            local,
            commands,
            notices,
            control,
            listen_addrs,
            session: config.session,
            now: config.now,
            timeouts: config.timeouts,
        };
        Ok((handle, event_rx))
    }
}

fn build_swarm(config: &NetConfig) -> Result<Swarm<Behaviour>, NetError> {
    let build = |e: &dyn std::fmt::Display| NetError::Build(e.to_string());
    let mdns_on = config.mdns;
    Ok(SwarmBuilder::with_existing_identity(config.keypair.clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| build(&e))?
        .with_quic()
        .with_behaviour(
            |key| -> Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
                let local = key.public().to_peer_id();
                let mdns = if mdns_on {
                    Some(mdns::tokio::Behaviour::new(mdns::Config::default(), local)?)
                } else {
                    None
                };
                Ok(Behaviour {
                    identify: identify::Behaviour::new(identify::Config::new(
                        IDENTIFY_PROTOCOL_VERSION.to_owned(),
                        key.public(),
                    )),
                    ping: ping::Behaviour::new(ping::Config::new()),
                    mdns: Toggle::from(mdns),
                    stream: libp2p_stream::Behaviour::new(),
                })
            },
        )
        .map_err(|e| build(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
        .build())
}

/// Answers every incoming session stream in a task of its own.
async fn accept_loop(
    mut incoming: libp2p_stream::IncomingStreams,
    session: Arc<SessionConfig>,
    now: fn() -> UnixTime,
    timeouts: ChannelTimeouts,
    events: mpsc::Sender<NetEvent>,
    notices: mpsc::UnboundedSender<VerifiedNotice>,
) {
    let slots = Arc::new(Semaphore::new(MAX_INBOUND_HANDSHAKES));
    while let Some((peer, stream)) = incoming.next().await {
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(
                peer = %short_peer(&peer),
                "too many session handshakes at once; stream dropped"
            );
            continue;
        };
        let session = Arc::clone(&session);
        let events = events.clone();
        let notices = notices.clone();
        tokio::spawn(async move {
            let result = channel::accept_with(stream, &session, peer, now, timeouts).await;
            drop(slot);
            let event = match result {
                Ok(channel) => {
                    let _ = notices.send(VerifiedNotice::of(&channel));
                    NetEvent::Inbound(channel)
                }
                // `accept_with` has logged the refusal.
                Err(e) => NetEvent::Refused {
                    peer,
                    reason: e.to_string(),
                },
            };
            let _ = events.send(event).await;
        });
    }
}
