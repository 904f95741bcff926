//! Starting a network: the libp2p swarm and the task that owns it.
//!
//! The task owns the [`Swarm`]: TCP + Noise + Yamux and QUIC transports,
//! identify (protocol version [`IDENTIFY_PROTOCOL_VERSION`]), ping, optional
//! mDNS, `libp2p_stream` for [`SESSION_PROTOCOL`], and the connection
//! limits of [`NetConfig::limits`] (libp2p's `connection_limits` and
//! [`IpLimits`]). Incoming session streams are each admitted or refused
//! (see [`super::admission`]) and answered by [`channel::accept_with`] in a
//! task of their own; outgoing ones are opened by
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

use confrere_protocol::directory::MAX_SET_LEN;
use confrere_protocol::UnixTime;
use libp2p::connection_limits::{self, ConnectionLimits};
use libp2p::identity::Keypair;
use libp2p::kad::store::{MemoryStore, MemoryStoreConfig};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{autonat, dcutr, kad, relay};
use libp2p::{identify, mdns, noise, ping, tcp, yamux, Multiaddr, Swarm, SwarmBuilder};
use tokio::sync::mpsc;

use super::acceptor::Acceptor;
use super::admission::Admission;
use super::budget::MemoryBudget;
use super::channel::ChannelTimeouts;
use super::directory::{Directory, DirectoryKeys};
use super::driver::{Driver, ReachSetup};
use super::gate::{Gated, Verified};
use super::greeter;
use super::handle::{NetError, NetEvent, NetworkHandle, Notices, ReachState};
use confrere_protocol::session::SessionConfig;

use super::limits::NetLimits;
use super::live::LiveSession;
use super::per_ip::{IpLimits, PeerIps};
use super::reach::Reachability;
use super::reach::RelayLimits;
use super::split_peer;
use super::{short_peer, DIRECTORY_PROTOCOL, IDENTIFY_PROTOCOL_VERSION, SESSION_PROTOCOL};
use crate::ledger::Libp2pNodeSigner;
use tokio::sync::Notify;

/// How long a connection without open session streams stays up.
pub const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);

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
    /// The session configuration in force (starting from
    /// `Home::session_config`).
    pub session: Arc<LiveSession>,
    /// The clock sessions verify credentials at.
    pub now: fn() -> UnixTime,
    /// Time bounds of every channel.
    pub timeouts: ChannelTimeouts,
    /// What peers can make the node hold.
    pub limits: NetLimits,
    /// Nodes to join the directory through (multiaddrs ending in
    /// `/p2p/PEER_ID`; `/dns4`, `/dns6` and `/dns` names are resolved).
    pub bootstrap: Vec<Multiaddr>,
    /// Whether this node is publicly reachable and serves as a directory
    /// server, bootstrap node and relay (`--public`).
    pub public: bool,
    /// Addresses other nodes can dial this node at, announced as they are
    /// (a port forward, a dynamic-DNS name); learnt by AutoNAT otherwise.
    pub external: Vec<Multiaddr>,
    /// The caps this node keeps as a relay.
    pub relay: RelayLimits,
}

impl std::fmt::Debug for NetConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetConfig")
            .field("peer", &short_peer(&self.keypair.public().to_peer_id()))
            .field("listen", &self.listen)
            .field("mdns", &self.mdns)
            .field("timeouts", &self.timeouts)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl NetConfig {
    /// A configuration with the defaults: [`NetConfig::default_listen`],
    /// mDNS on, default timeouts, default limits for the process's
    /// descriptor limit as it is now ([`NetLimits::default`]).
    ///
    /// The network's sessions start with `session`; what replaces it while
    /// the node runs goes through [`NetworkHandle::live_session`].
    pub fn new(keypair: Keypair, session: Arc<SessionConfig>, now: fn() -> UnixTime) -> Self {
        NetConfig {
            keypair,
            listen: Self::default_listen(),
            mdns: true,
            session: Arc::new(LiveSession::new(session)),
            now,
            timeouts: ChannelTimeouts::default(),
            limits: NetLimits::default(),
            bootstrap: Vec::new(),
            public: false,
            external: Vec::new(),
            relay: RelayLimits::default(),
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

/// The libp2p protocols a node runs. The limits come first: a connection
/// they deny is closed before the other behaviours hear of it.
///
/// Kademlia, the relay server and the AutoNAT server are [`Gated`]: they
/// answer only peers a Confrère session verified.
#[derive(NetworkBehaviour)]
pub(super) struct Behaviour {
    per_ip: IpLimits,
    limits: connection_limits::Behaviour,
    pub(super) identify: identify::Behaviour,
    ping: ping::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
    pub(super) stream: libp2p_stream::Behaviour,
    pub(super) kad: Gated<kad::Behaviour<MemoryStore>>,
    relay: Toggle<Gated<relay::Behaviour>>,
    pub(super) relay_client: relay::client::Behaviour,
    dcutr: dcutr::Behaviour,
    autonat: autonat::v2::client::Behaviour,
    autonat_server: Gated<autonat::v2::server::Behaviour>,
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
        if local.to_bytes() != config.session.current().credential.peer_id() {
            return Err(NetError::KeyMismatch {
                key: short_peer(&local),
            });
        }
        let mut bootstrap = HashMap::new();
        for addr in &config.bootstrap {
            match split_peer(addr) {
                (bare, Some(peer)) if peer != local => {
                    bootstrap.insert(peer, bare);
                }
                (_, Some(_)) => {}
                (_, None) => {
                    return Err(NetError::Build(format!(
                        "the bootstrap address {addr} does not end in /p2p/PEER_ID"
                    )))
                }
            }
        }
        let directory = Directory::new(DirectoryKeys {
            session: Arc::clone(&config.session),
            signer: Libp2pNodeSigner::new(config.keypair.clone()),
            now: config.now,
        })?;
        let verified = Verified::default();
        let peer_ips = PeerIps::default();
        let (ask, asked) = mpsc::unbounded_channel();
        let mut swarm = build_swarm(&config, peer_ips.clone(), &verified, &ask)?;
        for addr in &config.external {
            swarm.add_external_address(addr.clone());
        }
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
        let (notice_tx, notice_rx) = mpsc::unbounded_channel();
        let notices = Notices {
            tx: notice_tx,
            verified: verified.clone(),
        };
        let reach = Arc::new(Mutex::new(ReachState {
            reachability: if config.public {
                Reachability::Public
            } else {
                Reachability::Unknown
            },
            dialable: Vec::new(),
        }));
        let greet = Arc::new(Notify::new());
        let (events, event_rx) = mpsc::channel(64);
        let listen_addrs = Arc::new(Mutex::new(Vec::new()));
        let admission = Admission::new(config.limits);
        let budget = MemoryBudget::new(config.limits.memory_budget);
        let acceptor = Acceptor {
            session: Arc::clone(&config.session),
            now: config.now,
            timeouts: config.timeouts,
            events: events.clone(),
            notices: notices.clone(),
            admission: admission.clone(),
            peer_ips,
            budget: budget.clone(),
        };
        let acceptor = tokio::spawn(acceptor.run(incoming));
        let mut driver = Driver::new(
            swarm,
            command_rx,
            notice_rx,
            events,
            Arc::clone(&listen_addrs),
            acceptor,
            ReachSetup {
                verified,
                directory,
                reach: Arc::clone(&reach),
                public: config.public,
                bootstrap: bootstrap.clone(),
                greet: Arc::clone(&greet),
            },
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
            limits: config.limits,
            admission,
            budget,
            reach,
            bootstrap: config.bootstrap.clone(),
        };
        if !bootstrap.is_empty() {
            tokio::spawn(greeter::greet_bootstrap(
                handle.clone(),
                config.bootstrap.clone(),
                greet,
            ));
        }
        tokio::spawn(greeter::verify_asked(handle.clone(), asked));
        Ok((handle, event_rx))
    }
}

/// The Kademlia configuration of the directory: protocol
/// [`DIRECTORY_PROTOCOL`], routing table filled only with verified peers,
/// every record checked before it is stored, values as large as a record
/// set, and no republication by libp2p (the node republishes its own
/// record, see [`super::directory`]).
fn kad_config() -> kad::Config {
    let mut c = kad::Config::new(DIRECTORY_PROTOCOL);
    c.set_kbucket_inserts(kad::BucketInserts::Manual)
        .set_record_filtering(kad::StoreInserts::FilterBoth)
        .set_max_packet_size(MAX_SET_LEN + 64 * 1024)
        .set_publication_interval(None)
        .set_record_ttl(Some(super::directory::RECORD_VALIDITY))
        .set_query_timeout(super::directory::QUERY_TIMEOUT)
        .set_periodic_bootstrap_interval(Some(Duration::from_secs(600)));
    c
}

fn kad_store(local: libp2p::PeerId) -> MemoryStore {
    MemoryStore::with_config(
        local,
        MemoryStoreConfig {
            max_records: super::directory::MAX_HELD_KEYS,
            max_value_bytes: MAX_SET_LEN,
            ..MemoryStoreConfig::default()
        },
    )
}

/// libp2p's relay (0.22) refuses a peer's slot or circuit only once the
/// peer holds *more* than its per-peer cap, so it is given one less: a
/// configured cap of N allows N.
fn relay_config(r: RelayLimits) -> relay::Config {
    relay::Config {
        max_reservations: r.max_reservations,
        max_reservations_per_peer: r.max_reservations_per_peer.saturating_sub(1),
        max_circuits: r.max_circuits,
        max_circuits_per_peer: r.max_circuits_per_peer.saturating_sub(1),
        max_circuit_duration: r.max_circuit_duration,
        max_circuit_bytes: r.max_circuit_bytes,
        ..relay::Config::default()
    }
}

fn build_swarm(
    config: &NetConfig,
    peer_ips: PeerIps,
    verified: &Verified,
    ask: &mpsc::UnboundedSender<libp2p::PeerId>,
) -> Result<Swarm<Behaviour>, NetError> {
    let build = |e: &dyn std::fmt::Display| NetError::Build(e.to_string());
    let mdns_on = config.mdns;
    let public = config.public;
    let relay_limits = config.relay;
    let verified = verified.clone();
    let ask = ask.clone();
    let l = config.limits;
    let connection_limits = ConnectionLimits::default()
        .with_max_pending_incoming(Some(l.max_pending_incoming))
        .with_max_pending_outgoing(Some(l.max_pending_outgoing))
        .with_max_established_per_peer(Some(l.max_established_per_peer))
        .with_max_established(Some(l.max_established));
    Ok(SwarmBuilder::with_existing_identity(config.keypair.clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| build(&e))?
        .with_quic()
        .with_dns()
        .map_err(|e| build(&e))?
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|e| build(&e))?
        .with_behaviour(
            |key, relay_client| -> Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
                let local = key.public().to_peer_id();
                let mut kad = kad::Behaviour::with_config(local, kad_store(local), kad_config());
                if public {
                    kad.set_mode(Some(kad::Mode::Server));
                }
                let mdns = if mdns_on {
                    Some(mdns::tokio::Behaviour::new(mdns::Config::default(), local)?)
                } else {
                    None
                };
                Ok(Behaviour {
                    per_ip: IpLimits::new(l.max_connections_per_ip, peer_ips),
                    limits: connection_limits::Behaviour::new(connection_limits),
                    identify: identify::Behaviour::new(identify::Config::new(
                        IDENTIFY_PROTOCOL_VERSION.to_owned(),
                        key.public(),
                    )),
                    ping: ping::Behaviour::new(ping::Config::new()),
                    mdns: Toggle::from(mdns),
                    stream: libp2p_stream::Behaviour::new(),
                    kad: Gated::new(kad, verified.clone(), Some(ask.clone())),
                    relay: Toggle::from(public.then(|| {
                        Gated::new(
                            relay::Behaviour::new(local, relay_config(relay_limits)),
                            verified.clone(),
                            Some(ask.clone()),
                        )
                    })),
                    relay_client,
                    dcutr: dcutr::Behaviour::new(local),
                    autonat: autonat::v2::client::Behaviour::default(),
                    autonat_server: Gated::new(
                        autonat::v2::server::Behaviour::default(),
                        verified.clone(),
                        Some(ask.clone()),
                    ),
                })
            },
        )
        .map_err(|e| build(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
        .build())
}
