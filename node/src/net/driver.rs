//! The task that owns the swarm: it answers the handles' commands, keeps
//! what it learns of peers' addresses (dials, identify, mDNS), and turns
//! swarm events into [`NetEvent`]s.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use libp2p::core::transport::ListenerId;
use libp2p::core::ConnectedPoint;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, DialError, SwarmEvent};
use libp2p::{identify, mdns, Multiaddr, PeerId, Swarm};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::directory::Directory;
use super::gate::Verified;
use super::handle::{Command, NetError, NetEvent, ReachState, Reply, VerifiedNotice};
use super::reach::ConnectionPath;
use super::swarm::{Behaviour, BehaviourEvent};
use super::{short_peer, split_peer};

mod reach;

/// How long [`Network::start`](super::Network::start) waits for its
/// listeners' first addresses.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Events held for a slow consumer; beyond, events are dropped.
const MAX_PENDING_EVENTS: usize = 1024;

/// Addresses kept per peer.
const MAX_ADDRS_PER_PEER: usize = 16;

/// Peers whose addresses are kept.
const MAX_PEERS: usize = 4096;

/// How long a `Verified` event waits for the peer's identify information.
const IDENTIFY_WAIT: Duration = Duration::from_secs(3);

/// The task that owns the swarm.
pub(super) struct Driver {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    notices: mpsc::UnboundedReceiver<VerifiedNotice>,
    events: mpsc::Sender<NetEvent>,
    /// Events waiting for room in `events`.
    pending: VecDeque<NetEvent>,
    events_closed: bool,
    listen_addrs: Arc<Mutex<Vec<Multiaddr>>>,
    /// Dialable addresses learnt per peer (dials, identify, mDNS, adds).
    peer_addrs: HashMap<PeerId, Vec<Multiaddr>>,
    /// Connected peers whose identify information arrived.
    identified: HashSet<PeerId>,
    /// `Verified` events waiting (until a deadline) for identify.
    awaiting_identify: HashMap<PeerId, (VerifiedNotice, Instant)>,
    dials_by_peer: HashMap<PeerId, Vec<Reply<ConnectionPath>>>,
    dials_by_conn: HashMap<ConnectionId, (Multiaddr, Reply<PeerId>)>,
    /// Callers waiting for the last connection to a peer to close.
    disconnects: HashMap<PeerId, Vec<Reply<()>>>,
    acceptor: JoinHandle<()>,
    /// Peers a session verified (shared with the gate).
    verified: Verified,
    directory: Directory,
    reach: Arc<Mutex<ReachState>>,
    /// Whether the node runs as a public node.
    public: bool,
    /// Bootstrap nodes: PeerId and address without `/p2p/`.
    bootstrap: HashMap<PeerId, Multiaddr>,
    /// Told when the last connection to a bootstrap node closed.
    greet: Arc<tokio::sync::Notify>,
    /// Peers whose identify lists the directory protocol (server mode).
    kad_servers: HashSet<PeerId>,
    /// Peers in the routing table.
    routed: HashSet<PeerId>,
    /// Peers whose identify lists the relay protocol.
    relays: HashSet<PeerId>,
    /// Relay slots asked for or held: listener and relay.
    relay_listeners: HashMap<ListenerId, PeerId>,
    /// Open connections: peer, and whether relayed.
    connections: HashMap<ConnectionId, (PeerId, bool)>,
    /// Peers reached directly by hole punching.
    punched: HashSet<PeerId>,
    /// Dials that ended relayed, waiting for hole punching.
    awaiting_punch: HashMap<PeerId, (Vec<Reply<ConnectionPath>>, Instant)>,
    /// Whether AutoNAT found an address unreachable.
    autonat_failed: bool,
}

/// What the swarm task needs to reach nodes across the internet.
pub(super) struct ReachSetup {
    pub(super) verified: Verified,
    pub(super) directory: Directory,
    pub(super) reach: Arc<Mutex<ReachState>>,
    pub(super) public: bool,
    pub(super) bootstrap: HashMap<PeerId, Multiaddr>,
    pub(super) greet: Arc<tokio::sync::Notify>,
}

impl Driver {
    /// A driver for `swarm`, before its listeners have addresses.
    pub(super) fn new(
        swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        notices: mpsc::UnboundedReceiver<VerifiedNotice>,
        events: mpsc::Sender<NetEvent>,
        listen_addrs: Arc<Mutex<Vec<Multiaddr>>>,
        acceptor: JoinHandle<()>,
        setup: ReachSetup,
    ) -> Self {
        Driver {
            swarm,
            commands,
            notices,
            events,
            pending: VecDeque::new(),
            events_closed: false,
            listen_addrs,
            peer_addrs: HashMap::new(),
            identified: HashSet::new(),
            awaiting_identify: HashMap::new(),
            dials_by_peer: HashMap::new(),
            dials_by_conn: HashMap::new(),
            disconnects: HashMap::new(),
            acceptor,
            verified: setup.verified,
            directory: setup.directory,
            reach: setup.reach,
            public: setup.public,
            bootstrap: setup.bootstrap,
            greet: setup.greet,
            kad_servers: HashSet::new(),
            routed: HashSet::new(),
            relays: HashSet::new(),
            relay_listeners: HashMap::new(),
            connections: HashMap::new(),
            punched: HashSet::new(),
            awaiting_punch: HashMap::new(),
            autonat_failed: false,
        }
    }

    /// Gives up before running: stops the inbound acceptor.
    pub(super) fn abandon(self) {
        self.acceptor.abort();
    }

    /// Polls the swarm until every listener has an address.
    pub(super) async fn wait_for_listeners(
        &mut self,
        mut listeners: HashMap<ListenerId, String>,
    ) -> Result<(), NetError> {
        let wait = async {
            while !listeners.is_empty() {
                match self.swarm.select_next_some().await {
                    SwarmEvent::NewListenAddr {
                        listener_id,
                        address,
                    } => {
                        listeners.remove(&listener_id);
                        self.on_swarm_event(SwarmEvent::NewListenAddr {
                            listener_id,
                            address,
                        });
                    }
                    SwarmEvent::ListenerClosed {
                        listener_id,
                        reason,
                        ..
                    } => {
                        let addr = listeners.remove(&listener_id).unwrap_or_default();
                        let reason = match reason {
                            Err(e) => super::handle::error_chain(&e),
                            Ok(()) => "the listener closed".to_owned(),
                        };
                        return Err(NetError::Listen { addr, reason });
                    }
                    SwarmEvent::ListenerError { listener_id, error } => {
                        let addr = listeners.remove(&listener_id).unwrap_or_default();
                        return Err(NetError::Listen {
                            addr,
                            reason: super::handle::error_chain(&error),
                        });
                    }
                    other => self.on_swarm_event(other),
                }
            }
            Ok(())
        };
        tokio::time::timeout(LISTEN_TIMEOUT, wait)
            .await
            .unwrap_or_else(|_| {
                Err(NetError::Listen {
                    addr: String::new(),
                    reason: format!("no listen address within {LISTEN_TIMEOUT:?}"),
                })
            })
    }

    /// The event loop, until shutdown or until every handle is dropped.
    pub(super) async fn run(mut self) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut done = None;
        // A handle of its own, so that waiting for room borrows no `self`.
        let events = self.events.clone();
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    None => break,
                    Some(Command::Shutdown { done: d }) => {
                        done = Some(d);
                        break;
                    }
                    Some(command) => self.on_command(command),
                },
                Some(notice) = self.notices.recv() => self.on_verified(notice),
                _ = tick.tick() => {
                    self.flush_awaiting();
                    self.flush_punch_waits(None);
                    let kad = self.swarm.behaviour_mut().kad.inner();
                    self.directory.tick(kad);
                }
                permit = events.reserve(), if !self.pending.is_empty() => match permit {
                    Ok(permit) => {
                        if let Some(event) = self.pending.pop_front() {
                            permit.send(event);
                        }
                    }
                    Err(_) => {
                        self.events_closed = true;
                        self.pending.clear();
                    }
                },
            }
        }
        self.acceptor.abort();
        let Driver { swarm, .. } = self;
        drop(swarm);
        tracing::debug!("network stopped");
        if let Some(done) = done {
            let _ = done.send(());
        }
    }

    fn emit(&mut self, event: NetEvent) {
        if self.events_closed {
            return;
        }
        if self.pending.len() >= MAX_PENDING_EVENTS {
            tracing::warn!("network events are not being read; event dropped");
            return;
        }
        self.pending.push_back(event);
    }

    fn learn(&mut self, peer: PeerId, addr: &Multiaddr) {
        let (addr, _) = split_peer(addr);
        if addr.is_empty() {
            return;
        }
        if !self.peer_addrs.contains_key(&peer) && self.peer_addrs.len() >= MAX_PEERS {
            return;
        }
        let known = self.peer_addrs.entry(peer).or_default();
        if !known.contains(&addr) {
            if known.len() >= MAX_ADDRS_PER_PEER {
                known.remove(0);
            }
            known.push(addr);
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Dial { peer, addrs, reply } => self.dial(peer, addrs, reply),
            Command::DialAddr { addr, reply } => {
                let opts = DialOpts::unknown_peer_id().address(addr.clone()).build();
                let id = opts.connection_id();
                match self.swarm.dial(opts) {
                    Ok(()) => {
                        self.dials_by_conn.insert(id, (addr, reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(NetError::Dial {
                            target: addr.to_string(),
                            reason: dial_reason(&e),
                        }));
                    }
                }
            }
            Command::AddAddress { peer, addr } => self.learn(peer, &addr),
            Command::Find { national_id, reply } => {
                let kad = self.swarm.behaviour_mut().kad.inner();
                self.directory.start_lookup(kad, &national_id, reply);
            }
            Command::Disconnect { peer, reply } => {
                // `Err`: nothing was connected. Otherwise the connections
                // stay established until their `ConnectionClosed`.
                if self.swarm.disconnect_peer_id(peer).is_ok() {
                    self.disconnects.entry(peer).or_default().push(reply);
                } else {
                    let _ = reply.send(Ok(()));
                }
            }
            // Handled by the loop.
            Command::Shutdown { .. } => {}
        }
    }

    fn dial(&mut self, peer: PeerId, addrs: Vec<Multiaddr>, reply: Reply<ConnectionPath>) {
        for addr in &addrs {
            self.learn(peer, addr);
        }
        if self.swarm.is_connected(&peer) {
            self.answer_dial(peer, reply);
            return;
        }
        let addrs = self.peer_addrs.get(&peer).cloned().unwrap_or_default();
        if addrs.is_empty() {
            let _ = reply.send(Err(NetError::NoAddress {
                peer: short_peer(&peer),
            }));
            return;
        }
        let opts = DialOpts::peer_id(peer)
            .addresses(addrs)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        match self.swarm.dial(opts) {
            // Already dialling: that dial's outcome answers this one too.
            Ok(()) | Err(DialError::DialPeerConditionFalse(_)) => {
                self.dials_by_peer.entry(peer).or_default().push(reply);
            }
            Err(e) => {
                let _ = reply.send(Err(NetError::Dial {
                    target: short_peer(&peer),
                    reason: dial_reason(&e),
                }));
            }
        }
    }

    fn on_verified(&mut self, notice: VerifiedNotice) {
        self.verified.insert(notice.peer);
        self.maybe_route(notice.peer);
        if self.identified.contains(&notice.peer) {
            self.emit_verified(notice);
        } else {
            let deadline = Instant::now() + IDENTIFY_WAIT;
            self.awaiting_identify
                .insert(notice.peer, (notice, deadline));
        }
    }

    fn emit_verified(&mut self, notice: VerifiedNotice) {
        let addrs = self
            .peer_addrs
            .get(&notice.peer)
            .cloned()
            .unwrap_or_default();
        self.emit(NetEvent::Verified {
            peer: notice.peer,
            national_id: notice.national_id,
            name: notice.name,
            addrs,
            credential_not_after: notice.credential_not_after,
        });
    }

    /// Emits the `Verified` events whose wait for identify is over.
    fn flush_awaiting(&mut self) {
        let now = Instant::now();
        let due: Vec<PeerId> = self
            .awaiting_identify
            .iter()
            .filter(|(_, (_, deadline))| *deadline <= now)
            .map(|(peer, _)| *peer)
            .collect();
        for peer in due {
            if let Some((notice, _)) = self.awaiting_identify.remove(&peer) {
                self.emit_verified(notice);
            }
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                {
                    let mut addrs = self
                        .listen_addrs
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    if !addrs.contains(&address) {
                        addrs.push(address.clone());
                    }
                }
                if self.public && reach::is_announceable(&address) {
                    self.swarm.add_external_address(address);
                }
                self.update_reach();
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listen_addrs
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .retain(|a| a != &address);
                self.update_reach();
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                addresses,
                reason,
            } => {
                if let Some(relay) = self.relay_listeners.remove(&listener_id) {
                    tracing::info!(relay = %short_peer(&relay), "the relay no longer holds a slot for this node");
                } else if let Err(e) = reason {
                    tracing::warn!(error = %e, "a listener closed");
                }
                self.listen_addrs
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .retain(|a| !addresses.contains(a));
                self.update_reach();
            }
            SwarmEvent::ExternalAddrConfirmed { .. } | SwarmEvent::ExternalAddrExpired { .. } => {
                self.update_reach();
            }
            SwarmEvent::ListenerError { error, .. } => {
                tracing::warn!(%error, "listener error");
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                if let ConnectedPoint::Dialer { address, .. } = &endpoint {
                    self.learn(peer_id, address);
                }
                self.connections
                    .insert(connection_id, (peer_id, endpoint.is_relayed()));
                if num_established.get() == 1 && self.kad_servers.contains(&peer_id) {
                    self.directory.server_back();
                }
                for reply in self.dials_by_peer.remove(&peer_id).unwrap_or_default() {
                    self.answer_dial(peer_id, reply);
                }
                if let Some((_, reply)) = self.dials_by_conn.remove(&connection_id) {
                    let _ = reply.send(Ok(peer_id));
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                ..
            } => {
                self.connections.remove(&connection_id);
                if num_established > 0 {
                    return;
                }
                self.identified.remove(&peer_id);
                self.punched.remove(&peer_id);
                if self.bootstrap.contains_key(&peer_id) {
                    self.greet.notify_one();
                }
                for reply in self.disconnects.remove(&peer_id).unwrap_or_default() {
                    let _ = reply.send(Ok(()));
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                peer_id,
                error,
            } => {
                let reason = dial_reason(&error);
                if let Some((addr, reply)) = self.dials_by_conn.remove(&connection_id) {
                    let _ = reply.send(Err(NetError::Dial {
                        target: addr.to_string(),
                        reason: reason.clone(),
                    }));
                }
                if let Some(peer) = peer_id {
                    if !self.swarm.is_connected(&peer) {
                        for reply in self.dials_by_peer.remove(&peer).unwrap_or_default() {
                            let _ = reply.send(Err(NetError::Dial {
                                target: short_peer(&peer),
                                reason: reason.clone(),
                            }));
                        }
                    }
                }
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                ..
            } => {
                tracing::debug!(%send_back_addr, %error, "incoming connection failed");
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            _ => {}
        }
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                for addr in &info.listen_addrs {
                    self.learn(peer_id, addr);
                }
                self.identified.insert(peer_id);
                self.learn_protocols(peer_id, &info.protocols);
                if let Some((notice, _)) = self.awaiting_identify.remove(&peer_id) {
                    self.emit_verified(notice);
                }
            }
            BehaviourEvent::Kad(event) => self.on_kad(event),
            BehaviourEvent::Dcutr(event) => self.on_dcutr(event),
            BehaviourEvent::Autonat(event) => self.on_autonat(event),
            BehaviourEvent::RelayClient(event) => self.on_relay_client(event),
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                let mut by_peer: HashMap<PeerId, Vec<Multiaddr>> = HashMap::new();
                for (peer, addr) in found {
                    self.learn(peer, &addr);
                    by_peer.entry(peer).or_default().push(split_peer(&addr).0);
                }
                for (peer, addrs) in by_peer {
                    self.emit(NetEvent::Discovered { peer, addrs });
                }
            }
            _ => {}
        }
    }
}

/// Why a dial failed, in words for a practice's IT person: libp2p's own
/// text lists every transport's nested error.
pub(crate) fn dial_reason(e: &DialError) -> String {
    use std::io::ErrorKind;
    match e {
        DialError::Transport(attempts) => {
            let kinds: Vec<ErrorKind> = attempts
                .iter()
                .filter_map(|(_, err)| os_kind(&chain_text(err)))
                .collect();
            if kinds.contains(&ErrorKind::ConnectionRefused) {
                "the connection was refused: nothing listens at that address (is the colleague's node running, on that port?)".into()
            } else if kinds.contains(&ErrorKind::TimedOut) {
                "no answer in time (a firewall, or a wrong address)".into()
            } else if kinds.iter().any(|k| {
                matches!(
                    k,
                    ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable
                )
            }) {
                "the address cannot be reached from this machine (no route)".into()
            } else {
                "the connection failed before the nodes could authenticate each other".into()
            }
        }
        DialError::WrongPeerId { obtained, .. } => format!(
            "another node ({}) answers at that address: check the /p2p/ part the colleague gave",
            short_peer(obtained)
        ),
        DialError::LocalPeerId { .. } => "that address is this node's own".into(),
        DialError::NoAddresses => "no address is known for it".into(),
        DialError::Denied { .. } | DialError::Aborted => "the dial was cancelled".into(),
        DialError::DialPeerConditionFalse(_) => "it is being dialled already".into(),
    }
}

/// The text of an error and of every error under it.
fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut current = e.source();
    for _ in 0..16 {
        let Some(err) = current else { break };
        text.push_str(": ");
        text.push_str(&err.to_string());
        current = err.source();
    }
    text
}

/// The kind of I/O error the text of a transport error names (the
/// transport stack boxes the `io::Error`, so its kind cannot be read).
fn os_kind(text: &str) -> Option<std::io::ErrorKind> {
    use std::io::ErrorKind;
    [
        ("Connection refused", ErrorKind::ConnectionRefused),
        ("timed out", ErrorKind::TimedOut),
        ("No route to host", ErrorKind::HostUnreachable),
        ("Network is unreachable", ErrorKind::NetworkUnreachable),
    ]
    .into_iter()
    .find(|(needle, _)| text.contains(needle))
    .map(|(_, kind)| kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    #[test]
    fn dial_failures_are_told_in_words() {
        assert_eq!(
            os_kind("/ip4/127.0.0.1/tcp/1: : Connection refused (os error 111)"),
            Some(ErrorKind::ConnectionRefused)
        );
        assert_eq!(
            os_kind("connect: Connection timed out"),
            Some(ErrorKind::TimedOut)
        );
        assert_eq!(
            os_kind("No route to host"),
            Some(ErrorKind::HostUnreachable)
        );
        assert_eq!(os_kind("handshake failed"), None);
        let inner = std::io::Error::new(ErrorKind::ConnectionRefused, "Connection refused");
        let outer = std::io::Error::other(inner);
        assert!(chain_text(&outer).contains("Connection refused"));
        assert_eq!(
            dial_reason(&DialError::NoAddresses),
            "no address is known for it"
        );
    }
}
