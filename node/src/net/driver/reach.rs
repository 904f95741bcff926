//! The swarm task's part in reaching nodes across the internet: the
//! directory's Kademlia events, relay slots, hole punching, AutoNAT, and
//! what the node knows of its own reachability.

use libp2p::multiaddr::Protocol;
use libp2p::swarm::ConnectionId;
use libp2p::{autonat, dcutr, kad, relay, Multiaddr, PeerId};
use tokio::time::Instant;

use super::super::handle::Reply;
use super::super::reach::{ConnectionPath, Reachability};
use super::super::{short_peer, split_peer, DIRECTORY_PROTOCOL};
use super::Driver;

/// How long a dial that ended on a relayed connection waits for hole
/// punching to make it direct before it is used as it is.
pub(super) const HOLE_PUNCH_WAIT: std::time::Duration = std::time::Duration::from_secs(8);

/// Relays a node behind NAT holds a slot on at once.
const MAX_RELAYS: usize = 2;

/// Whether `addr` goes through a relay.
pub(super) fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::P2pCircuit))
}

/// Whether `addr` is a listen address worth telling others (not
/// `0.0.0.0` / `::`).
fn is_concrete(addr: &Multiaddr) -> bool {
    !addr.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_unspecified(),
        Protocol::Ip6(ip) => ip.is_unspecified(),
        _ => false,
    })
}

/// Whether a public node announces its listen address `addr` as public:
/// concrete, not loopback, not relayed.
pub(super) fn is_announceable(addr: &Multiaddr) -> bool {
    is_concrete(addr) && !is_loopback(addr) && !is_relayed(addr)
}

/// Whether `addr` is a loopback address.
fn is_loopback(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_loopback(),
        Protocol::Ip6(ip) => ip.is_loopback(),
        _ => false,
    })
}

impl Driver {
    /// The path a connection to `peer` takes now.
    pub(super) fn path_of(&self, peer: &PeerId) -> ConnectionPath {
        let direct = self
            .connections
            .values()
            .any(|(p, relayed)| p == peer && !relayed);
        if !direct {
            ConnectionPath::Relayed
        } else if self.punched.contains(peer) {
            ConnectionPath::HolePunched
        } else {
            ConnectionPath::Direct
        }
    }

    /// A dial to `peer` connected: answers `reply` now, or once hole
    /// punching had its chance if the connection is relayed.
    pub(super) fn answer_dial(&mut self, peer: PeerId, reply: Reply<ConnectionPath>) {
        let path = self.path_of(&peer);
        if path == ConnectionPath::Relayed {
            let deadline = Instant::now() + HOLE_PUNCH_WAIT;
            self.awaiting_punch
                .entry(peer)
                .or_insert_with(|| (Vec::new(), deadline))
                .0
                .push(reply);
        } else {
            let _ = reply.send(Ok(path));
        }
    }

    /// Answers the dials whose wait for hole punching is over.
    pub(super) fn flush_punch_waits(&mut self, force: Option<PeerId>) {
        let now = Instant::now();
        let due: Vec<PeerId> = self
            .awaiting_punch
            .iter()
            .filter(|(p, (_, deadline))| Some(**p) == force || *deadline <= now)
            .map(|(p, _)| *p)
            .collect();
        for peer in due {
            let path = self.path_of(&peer);
            if let Some((replies, _)) = self.awaiting_punch.remove(&peer) {
                for reply in replies {
                    let _ = reply.send(Ok(path));
                }
            }
        }
    }

    pub(super) fn on_dcutr(&mut self, event: dcutr::Event) {
        let peer = event.remote_peer_id;
        match event.result {
            Ok(direct) => {
                tracing::info!(peer = %short_peer(&peer), "hole punched: direct connection");
                self.punched.insert(peer);
                // Sessions opened from now on take the direct connection.
                let relayed: Vec<ConnectionId> = self
                    .connections
                    .iter()
                    .filter(|(id, (p, relayed))| *p == peer && *relayed && **id != direct)
                    .map(|(id, _)| *id)
                    .collect();
                for id in relayed {
                    self.swarm.close_connection(id);
                    self.connections.remove(&id);
                }
            }
            Err(e) => {
                tracing::info!(peer = %short_peer(&peer), error = %e, "hole punching failed: the relay carries the connection");
            }
        }
        self.flush_punch_waits(Some(peer));
    }

    pub(super) fn on_autonat(&mut self, event: autonat::v2::client::Event) {
        match event.result {
            Ok(()) => {
                tracing::info!(address = %event.tested_addr, "reachable from the internet at this address");
            }
            Err(e) => {
                tracing::debug!(address = %event.tested_addr, error = %e, "not reachable at this address");
                self.autonat_failed = true;
            }
        }
        self.update_reach();
    }

    pub(super) fn on_relay_client(&mut self, event: relay::client::Event) {
        if let relay::client::Event::ReservationReqAccepted { relay_peer_id, .. } = event {
            tracing::info!(relay = %short_peer(&relay_peer_id), "a relay holds a slot for this node");
        }
    }

    pub(super) fn on_kad(&mut self, event: kad::Event) {
        match event {
            kad::Event::InboundRequest {
                request:
                    kad::InboundRequest::PutRecord {
                        source,
                        record: Some(record),
                        ..
                    },
            } => {
                let kad = self.swarm.behaviour_mut().kad.inner();
                self.directory.on_put(kad, &source, record);
            }
            kad::Event::OutboundQueryProgressed {
                id, result, step, ..
            } => match result {
                kad::QueryResult::GetRecord(Ok(kad::GetRecordOk::FoundRecord(found))) => {
                    if self.directory.on_found(id, found.peer, &found.record) {
                        if let Some(mut q) = self.swarm.behaviour_mut().kad.inner().query_mut(&id) {
                            q.finish();
                        }
                    } else if step.last {
                        self.directory.finish(id);
                    }
                }
                kad::QueryResult::GetRecord(_) if self.directory.is_lookup(&id) => {
                    self.directory.finish(id);
                }
                kad::QueryResult::PutRecord(result) => {
                    self.directory.on_put_result(id, result.is_ok());
                }
                _ => {}
            },
            kad::Event::RoutingUpdated { peer, .. } => {
                tracing::debug!(peer = %short_peer(&peer), "directory peer added");
                self.directory.peer_added();
            }
            _ => {}
        }
    }

    /// After a peer was verified or identified: a verified directory
    /// server enters the routing table; a verified bootstrap node that
    /// relays gets asked for a slot when this node is not public.
    pub(super) fn maybe_route(&mut self, peer: PeerId) {
        if !self.verified.contains(&peer) {
            return;
        }
        let addrs = self.peer_addrs.get(&peer).cloned().unwrap_or_default();
        if self.kad_servers.contains(&peer) && !self.routed.contains(&peer) {
            let kad = self.swarm.behaviour_mut().kad.inner();
            let mut added = false;
            for a in addrs.iter().filter(|a| !is_relayed(a)) {
                added |= !matches!(
                    kad.add_address(&peer, a.clone()),
                    kad::RoutingUpdate::Failed
                );
            }
            if added {
                self.routed.insert(peer);
                self.directory.peer_added();
            }
        }
        if !self.public
            && self.relays.contains(&peer)
            && !self.relay_listeners.values().any(|p| *p == peer)
            && self.relay_listeners.len() < MAX_RELAYS
        {
            if let Some(bare) = self.bootstrap.get(&peer).cloned() {
                let circuit = bare.with(Protocol::P2p(peer)).with(Protocol::P2pCircuit);
                match self.swarm.listen_on(circuit.clone()) {
                    Ok(id) => {
                        self.relay_listeners.insert(id, peer);
                    }
                    Err(e) => {
                        tracing::warn!(%circuit, error = %e, "cannot ask the relay for a slot")
                    }
                }
            }
        }
    }

    /// Identify told what `peer` serves.
    pub(super) fn learn_protocols(&mut self, peer: PeerId, protocols: &[libp2p::StreamProtocol]) {
        if protocols.contains(&DIRECTORY_PROTOCOL) {
            self.kad_servers.insert(peer);
        } else if self.kad_servers.remove(&peer) && self.routed.remove(&peer) {
            self.swarm.behaviour_mut().kad.inner().remove_peer(&peer);
        }
        if protocols.contains(&relay::HOP_PROTOCOL_NAME) {
            self.relays.insert(peer);
        } else {
            self.relays.remove(&peer);
        }
        self.maybe_route(peer);
    }

    /// Recomputes reachability and dialable addresses, tells the handles,
    /// and the directory (which republishes when they changed).
    pub(super) fn update_reach(&mut self) {
        let local = *self.swarm.local_peer_id();
        let external: Vec<Multiaddr> = self
            .swarm
            .external_addresses()
            .filter(|a| !is_relayed(a))
            .cloned()
            .collect();
        let listen = self
            .listen_addrs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let relayed: Vec<Multiaddr> = listen.iter().filter(|a| is_relayed(a)).cloned().collect();
        let direct: Vec<Multiaddr> = listen
            .iter()
            .filter(|a| !is_relayed(a) && is_concrete(a))
            .cloned()
            .collect();
        let reachability = if self.public || !external.is_empty() {
            Reachability::Public
        } else if !relayed.is_empty() {
            Reachability::Relayed
        } else if self.autonat_failed {
            Reachability::BehindNat
        } else {
            Reachability::Unknown
        };
        // Public and relayed addresses first, then the local network ones.

        let mut ordered: Vec<Multiaddr> = Vec::new();
        ordered.extend(external);
        ordered.extend(relayed);
        ordered.extend(direct.iter().filter(|a| !is_loopback(a)).cloned());
        // Loopback addresses only help nodes on this machine: told only
        // when there is nothing else (a node listening on 127.0.0.1 only).
        if ordered.is_empty() {
            ordered.extend(direct.iter().filter(|a| is_loopback(a)).cloned());
        }
        let mut dialable: Vec<Multiaddr> = Vec::new();
        for a in ordered {
            let (bare, _) = split_peer(&a);
            let full = bare.with(Protocol::P2p(local));
            if !dialable.contains(&full) {
                dialable.push(full);
            }
        }
        self.directory.addresses_are(&dialable);
        let kad_mode = if reachability == Reachability::Public {
            kad::Mode::Server
        } else {
            kad::Mode::Client
        };
        if self.swarm.behaviour_mut().kad.inner().mode() != kad_mode {
            tracing::info!(mode = ?kad_mode, "directory mode");
            self.swarm
                .behaviour_mut()
                .kad
                .inner()
                .set_mode(Some(kad_mode));
        }
        let mut reach = self
            .reach
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if reach.reachability != reachability {
            tracing::info!(reachability = reachability.as_str(), "reachability");
        }
        reach.reachability = reachability;
        reach.dialable = dialable;
    }
}
