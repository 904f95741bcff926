//! A cap on incoming connections per source IP address, as a libp2p
//! behaviour: a connection from an address that already has
//! [`NetLimits::max_connections_per_ip`](super::limits::NetLimits) incoming
//! connections (pending or established) is closed as soon as it is
//! accepted, before any byte of it is read.
//!
//! The behaviour also keeps, for the session acceptor, the address of each
//! connected peer's connections, incoming or outgoing ([`PeerIps`]), so
//! that handshake slots can be shared per address (see
//! [`super::admission`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use libp2p::core::transport::PortUse;
use libp2p::core::Endpoint;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{
    dummy, ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm, ListenFailure,
    NetworkBehaviour, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

/// Too many connections from one address.
#[derive(Debug, thiserror::Error)]
#[error("{count} incoming connections from {ip} already (limit {limit}); connection closed")]
pub struct TooManyFromIp {
    /// The address.
    pub ip: IpAddr,
    /// Connections from it.
    pub count: u32,
    /// The limit.
    pub limit: u32,
}

/// The remote address of each connected peer's connections.
#[derive(Clone, Debug, Default)]
pub struct PeerIps(Arc<Mutex<HashMap<PeerId, HashMap<ConnectionId, IpAddr>>>>);

impl PeerIps {
    /// The remote address of one of `peer`'s connections, if it has any.
    pub fn of(&self, peer: &PeerId) -> Option<IpAddr> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(peer)
            .and_then(|conns| conns.values().next().copied())
    }

    fn insert(&self, peer: PeerId, id: ConnectionId, ip: IpAddr) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(peer).or_default().insert(id, ip);
    }

    fn remove(&self, peer: &PeerId, id: &ConnectionId) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(conns) = map.get_mut(peer) {
            conns.remove(id);
            if conns.is_empty() {
                map.remove(peer);
            }
        }
    }
}

/// The IP address a multiaddr starts with.
pub fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
    match addr.iter().next()? {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    }
}

/// The behaviour: see the module docs.
pub struct IpLimits {
    limit: u32,
    /// Incoming connections, pending or established, and their address.
    connections: HashMap<ConnectionId, IpAddr>,
    per_ip: HashMap<IpAddr, u32>,
    peer_ips: PeerIps,
}

impl IpLimits {
    /// At most `limit` incoming connections per address; `peer_ips` is
    /// kept up to date.
    pub fn new(limit: u32, peer_ips: PeerIps) -> Self {
        IpLimits {
            limit,
            connections: HashMap::new(),
            per_ip: HashMap::new(),
            peer_ips,
        }
    }

    fn release(&mut self, id: &ConnectionId) {
        if let Some(ip) = self.connections.remove(id) {
            if let Some(count) = self.per_ip.get_mut(&ip) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.per_ip.remove(&ip);
                }
            }
        }
    }
}

impl NetworkBehaviour for IpLimits {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        _local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        let Some(ip) = ip_of(remote_addr) else {
            return Ok(());
        };
        let count = self.per_ip.get(&ip).copied().unwrap_or(0);
        if count >= self.limit {
            tracing::debug!(%ip, count, "too many connections from one address; closed");
            return Err(ConnectionDenied::new(TooManyFromIp {
                ip,
                count,
                limit: self.limit,
            }));
        }
        self.per_ip.insert(ip, count + 1);
        self.connections.insert(connection_id, ip);
        Ok(())
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        _local_addr: &Multiaddr,
        _remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        if let Some(ip) = self.connections.get(&connection_id) {
            self.peer_ips.insert(peer, connection_id, *ip);
        }
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        _role_override: Endpoint,
        _port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        // Not counted against the cap (this node dialled), but a peer may
        // open session streams on it.
        if let Some(ip) = ip_of(addr) {
            self.peer_ips.insert(peer, connection_id, ip);
        }
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id,
                connection_id,
                ..
            }) => {
                self.release(&connection_id);
                self.peer_ips.remove(&peer_id, &connection_id);
            }
            FromSwarm::ListenFailure(ListenFailure {
                connection_id,
                peer_id,
                ..
            }) => {
                self.release(&connection_id);
                if let Some(peer) = peer_id {
                    self.peer_ips.remove(&peer, &connection_id);
                }
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _peer_id: PeerId,
        _connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_cap_is_per_address_and_freed_on_failure() {
        let ips = PeerIps::default();
        let mut limits = IpLimits::new(2, ips.clone());
        let local = addr("/ip4/127.0.0.1/tcp/4001");
        let a = addr("/ip4/127.0.0.2/tcp/50000");
        let b = addr("/ip4/127.0.0.3/tcp/50000");
        let (c1, c2, c3, c4) = (
            ConnectionId::new_unchecked(1),
            ConnectionId::new_unchecked(2),
            ConnectionId::new_unchecked(3),
            ConnectionId::new_unchecked(4),
        );
        assert!(limits
            .handle_pending_inbound_connection(c1, &local, &a)
            .is_ok());
        assert!(limits
            .handle_pending_inbound_connection(c2, &local, &a)
            .is_ok());
        let denied = limits
            .handle_pending_inbound_connection(c3, &local, &a)
            .unwrap_err();
        let cause = denied.downcast::<TooManyFromIp>().unwrap();
        assert_eq!(cause.count, 2);
        assert!(limits
            .handle_pending_inbound_connection(c4, &local, &b)
            .is_ok());
        let peer = PeerId::random();
        limits
            .handle_established_inbound_connection(c1, peer, &local, &a)
            .unwrap();
        assert_eq!(ips.of(&peer), Some("127.0.0.2".parse().unwrap()));
        limits.release(&c2);
        assert!(limits
            .handle_pending_inbound_connection(c3, &local, &a)
            .is_ok());
    }
}
