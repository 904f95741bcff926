//! The gate: libp2p protocols served only to verified practitioners' nodes.
//!
//! Kademlia, the relay server and the AutoNAT server answer requests that
//! reach them from the connection handlers as events. [`Gated`] wraps such
//! a behaviour and passes it the events of a peer only if [`Verified`]
//! holds that peer: a PeerId some Confrère session proved bound to a
//! practitioner's node credential (see [`super::channel`]). Events of any
//! other peer are dropped, so its requests are never answered (its streams
//! time out): a plain libp2p node gets no directory record, no routing
//! table entry, no relay slot and no dial-back.
//!
//! The decision itself (is this credential a practitioner's, under this
//! node's trust anchors) is the protocol crate's, made on the session; the
//! gate only remembers its outcome for the life of the process.

use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};

use libp2p::core::transport::PortUse;
use libp2p::core::Endpoint;
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

/// Most peers remembered as verified; past that, the set is cleared and
/// refilled by the next sessions (a peer met again is verified again).
const MAX_VERIFIED: usize = 65_536;

/// The peers a Confrère session verified; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Verified {
    peers: Arc<RwLock<HashSet<PeerId>>>,
}

impl Verified {
    /// Records that a session verified `peer`.
    pub fn insert(&self, peer: PeerId) {
        let mut peers = self.peers.write().unwrap_or_else(PoisonError::into_inner);
        if peers.len() >= MAX_VERIFIED && !peers.contains(&peer) {
            peers.clear();
        }
        peers.insert(peer);
    }

    /// Whether a session verified `peer`.
    pub fn contains(&self, peer: &PeerId) -> bool {
        self.peers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(peer)
    }
}

/// A behaviour whose handler events pass only for verified peers.
pub struct Gated<B> {
    inner: B,
    verified: Verified,
}

impl<B> Gated<B> {
    /// Gates `inner` by `verified`.
    pub fn new(inner: B, verified: Verified) -> Self {
        Gated { inner, verified }
    }

    /// The gated behaviour.
    pub fn inner(&mut self) -> &mut B {
        &mut self.inner
    }

    fn admits(&self, peer: &PeerId) -> bool {
        self.verified.contains(peer)
    }
}

impl<B: NetworkBehaviour> NetworkBehaviour for Gated<B> {
    type ConnectionHandler = B::ConnectionHandler;
    type ToSwarm = B::ToSwarm;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.inner
            .handle_pending_inbound_connection(connection_id, local_addr, remote_addr)
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.inner.handle_established_inbound_connection(
            connection_id,
            peer,
            local_addr,
            remote_addr,
        )
    }

    fn handle_pending_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addresses: &[Multiaddr],
        effective_role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        self.inner.handle_pending_outbound_connection(
            connection_id,
            maybe_peer,
            addresses,
            effective_role,
        )
    }

    fn handle_established_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role_override: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.inner.handle_established_outbound_connection(
            connection_id,
            peer,
            addr,
            role_override,
            port_use,
        )
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        self.inner.on_swarm_event(event);
    }

    fn on_connection_handler_event(
        &mut self,
        peer_id: PeerId,
        connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        if self.admits(&peer_id) {
            self.inner
                .on_connection_handler_event(peer_id, connection_id, event);
        } else {
            tracing::trace!(
                peer = %super::short_peer(&peer_id),
                "request of a node no session verified: ignored"
            );
        }
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        self.inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_verified_peers_pass() {
        let verified = Verified::default();
        let gate = Gated::new((), verified.clone());
        let peer = PeerId::random();
        assert!(!gate.admits(&peer));
        verified.insert(peer);
        assert!(gate.admits(&peer));
        assert!(!gate.admits(&PeerId::random()));
    }
}
