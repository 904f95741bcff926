//! The gate: libp2p protocols served only to verified practitioners' nodes.
//!
//! Kademlia, the relay server and the AutoNAT server answer requests that
//! reach them from the connection handlers as events. [`Gated`] wraps such
//! a behaviour and passes it the events of a peer only if [`Verified`]
//! holds that peer: a PeerId some Confrère session proved bound to a
//! practitioner's node credential (see [`super::channel`]).
//!
//! The event of a peer not verified yet is held (at most [`HOLD`], at most
//! [`MAX_HELD_PER_PEER`] per peer and [`MAX_HELD`] in all) while the node
//! opens a session to it: two directory nodes that learnt of each other
//! through a third one verify each other on their first request. If the
//! session does not verify the peer in time, its events are dropped and
//! its requests are never answered (its streams time out): a plain libp2p
//! node gets no directory record, no routing table entry, no relay slot
//! and no dial-back.
//!
//! The decision itself (is this credential a practitioner's, under this
//! node's trust anchors) is the protocol crate's, made on the session; the
//! gate only remembers its outcome for the life of the process.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

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

/// How long the event of a peer not verified yet is held.
pub const HOLD: Duration = Duration::from_secs(5);

/// Events held per peer not verified yet.
pub const MAX_HELD_PER_PEER: usize = 8;

/// Events held in all, per gated behaviour.
pub const MAX_HELD: usize = 256;

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

/// An event held until its peer is verified.
struct Held<E> {
    peer: PeerId,
    connection: ConnectionId,
    event: E,
    until: Instant,
}

/// A behaviour whose handler events pass only for verified peers.
pub struct Gated<B: NetworkBehaviour> {
    inner: B,
    verified: Verified,
    held: VecDeque<Held<THandlerOutEvent<B>>>,
    /// Where peers to verify are asked for (a session is opened to each).
    ask: Option<mpsc::UnboundedSender<PeerId>>,
}

impl<B: NetworkBehaviour> Gated<B> {
    /// Gates `inner` by `verified`; a peer not verified yet is sent to
    /// `ask`, for a session to verify it, while its events are held.
    pub fn new(inner: B, verified: Verified, ask: Option<mpsc::UnboundedSender<PeerId>>) -> Self {
        Gated {
            inner,
            verified,
            held: VecDeque::new(),
            ask,
        }
    }

    /// The gated behaviour.
    pub fn inner(&mut self) -> &mut B {
        &mut self.inner
    }

    fn admits(&self, peer: &PeerId) -> bool {
        self.verified.contains(peer)
    }

    /// Passes on the held events whose peer is verified now; drops those
    /// held past their time.
    fn release(&mut self, now: Instant) {
        if self.held.is_empty() {
            return;
        }
        let held = std::mem::take(&mut self.held);
        for h in held {
            if self.verified.contains(&h.peer) {
                self.inner
                    .on_connection_handler_event(h.peer, h.connection, h.event);
            } else if h.until > now {
                self.held.push_back(h);
            } else {
                tracing::debug!(
                    peer = %super::short_peer(&h.peer),
                    "request of a node no session verified: ignored"
                );
            }
        }
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
            return;
        }
        let of_peer = self.held.iter().filter(|h| h.peer == peer_id).count();
        if of_peer >= MAX_HELD_PER_PEER || self.held.len() >= MAX_HELD {
            tracing::trace!(
                peer = %super::short_peer(&peer_id),
                "request of a node no session verified: ignored"
            );
            return;
        }
        if of_peer == 0 {
            if let Some(ask) = &self.ask {
                let _ = ask.send(peer_id);
            }
        }
        self.held.push_back(Held {
            peer: peer_id,
            connection: connection_id,
            event,
            until: Instant::now() + HOLD,
        });
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        self.release(Instant::now());
        self.inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::ping;

    fn poll_once(gate: &mut Gated<ping::Behaviour>) -> Option<PeerId> {
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        match gate.poll(&mut cx) {
            Poll::Ready(ToSwarm::GenerateEvent(event)) => Some(event.peer),
            _ => None,
        }
    }

    fn event() -> THandlerOutEvent<ping::Behaviour> {
        Ok(Duration::from_millis(1))
    }

    #[test]
    fn a_verified_peer_passes_at_once() {
        let verified = Verified::default();
        let mut gate = Gated::new(ping::Behaviour::default(), verified.clone(), None);
        let peer = PeerId::random();
        verified.insert(peer);
        gate.on_connection_handler_event(peer, ConnectionId::new_unchecked(1), event());
        assert_eq!(poll_once(&mut gate), Some(peer));
    }

    #[test]
    fn a_peer_not_verified_is_held_asked_for_once_and_passes_once_verified() {
        let verified = Verified::default();
        let (ask, mut asked) = mpsc::unbounded_channel();
        let mut gate = Gated::new(ping::Behaviour::default(), verified.clone(), Some(ask));
        let peer = PeerId::random();
        for _ in 0..MAX_HELD_PER_PEER + 3 {
            gate.on_connection_handler_event(peer, ConnectionId::new_unchecked(1), event());
        }
        assert_eq!(asked.try_recv().ok(), Some(peer));
        assert!(asked.try_recv().is_err(), "asked for once");
        assert_eq!(gate.held.len(), MAX_HELD_PER_PEER, "held up to the cap");
        assert_eq!(
            poll_once(&mut gate),
            None,
            "nothing passes before a session"
        );
        verified.insert(peer);
        assert_eq!(poll_once(&mut gate), Some(peer));
        assert!(gate.held.is_empty());
    }

    #[test]
    fn a_peer_never_verified_is_dropped_after_the_hold() {
        let verified = Verified::default();
        let mut gate = Gated::new(ping::Behaviour::default(), verified, None);
        let stranger = PeerId::random();
        gate.on_connection_handler_event(stranger, ConnectionId::new_unchecked(2), event());
        gate.release(Instant::now() + HOLD + Duration::from_millis(1));
        assert!(gate.held.is_empty());
        assert_eq!(poll_once(&mut gate), None);
    }

    #[test]
    fn the_hold_is_bounded_in_all() {
        let verified = Verified::default();
        let mut gate = Gated::new(ping::Behaviour::default(), verified, None);
        for _ in 0..MAX_HELD + 10 {
            gate.on_connection_handler_event(
                PeerId::random(),
                ConnectionId::new_unchecked(3),
                event(),
            );
        }
        assert_eq!(gate.held.len(), MAX_HELD);
    }
}
