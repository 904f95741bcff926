//! Which inbound session streams are answered: handshake slots shared
//! fairly, and a cap on the sessions open with one peer.
//!
//! A session stream is answered only if its peer (the libp2p PeerId, which
//! libp2p authenticated for the connection) has fewer than
//! [`NetLimits::max_sessions_per_peer`] inbound sessions open, handshakes
//! included, and a handshake slot is free for it:
//!
//! - a peer whose credential verified earlier in this run takes a slot of
//!   the known peers' pool ([`NetLimits::known_peer_handshakes`]) while one
//!   is free, so that a flood of new identities cannot lock colleagues out;
//! - otherwise a slot of the general pool ([`NetLimits::max_handshakes`]),
//!   of which one source address takes at most
//!   [`NetLimits::max_handshakes_per_ip`];
//! - and one peer holds at most [`NetLimits::max_handshakes_per_peer`]
//!   slots in all.
//!
//! A refused stream is closed before the handshake's second message; the
//! initiator reads that as "busy" ([`super::ChannelError::Busy`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use libp2p::PeerId;

use super::limits::{NetLimits, MAX_KNOWN_PEERS};

/// Why a session stream was not answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    /// The peer has as many sessions open as allowed.
    #[error("the peer has {0} sessions open already")]
    Sessions(usize),
    /// The peer has as many handshakes running as allowed.
    #[error("the peer has {0} handshakes running already")]
    PeerHandshakes(usize),
    /// The peer's address has as many handshakes running as allowed.
    #[error("its address has {0} handshakes running already")]
    IpHandshakes(usize),
    /// Every handshake slot is taken.
    #[error("all {0} handshake slots are taken")]
    Handshakes(usize),
}

#[derive(Debug, Default)]
struct State {
    general: usize,
    known_pool: usize,
    per_ip: HashMap<Option<IpAddr>, usize>,
    per_peer_handshakes: HashMap<PeerId, usize>,
    sessions: HashMap<PeerId, usize>,
    known: HashSet<PeerId>,
    known_order: VecDeque<PeerId>,
}

fn decrement<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// The shared bookkeeping; cheap to clone.
#[derive(Clone, Debug)]
pub struct Admission {
    limits: NetLimits,
    state: Arc<Mutex<State>>,
}

/// What an admitted stream holds: a handshake slot (drop it when the
/// handshake ends) and a session permit (kept by the channel).
#[derive(Debug)]
pub struct Admitted {
    /// Released when the handshake is over.
    pub handshake: HandshakeSlot,
    /// Released when the session ends.
    pub session: SessionPermit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pool {
    General,
    Known,
}

/// A handshake slot, given back on drop.
#[derive(Debug)]
pub struct HandshakeSlot {
    admission: Admission,
    peer: PeerId,
    ip: Option<IpAddr>,
    pool: Pool,
}

/// One of a peer's sessions, given back on drop.
#[derive(Debug)]
pub struct SessionPermit {
    admission: Admission,
    peer: PeerId,
}

impl Admission {
    /// Bookkeeping for `limits`.
    pub fn new(limits: NetLimits) -> Self {
        Admission {
            limits,
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a session stream from `peer`, whose connection comes from
    /// `ip` (if known), or says why not.
    pub fn admit(&self, peer: PeerId, ip: Option<IpAddr>) -> Result<Admitted, Busy> {
        let l = &self.limits;
        let mut s = self.state();
        let sessions = s.sessions.get(&peer).copied().unwrap_or(0);
        if sessions >= l.max_sessions_per_peer {
            return Err(Busy::Sessions(sessions));
        }
        let handshakes = s.per_peer_handshakes.get(&peer).copied().unwrap_or(0);
        if handshakes >= l.max_handshakes_per_peer {
            return Err(Busy::PeerHandshakes(handshakes));
        }
        let pool = if s.known.contains(&peer) && s.known_pool < l.known_peer_handshakes {
            s.known_pool += 1;
            Pool::Known
        } else {
            let from_ip = s.per_ip.get(&ip).copied().unwrap_or(0);
            if s.general >= l.max_handshakes {
                return Err(Busy::Handshakes(s.general));
            }
            if from_ip >= l.max_handshakes_per_ip {
                return Err(Busy::IpHandshakes(from_ip));
            }
            s.general += 1;
            *s.per_ip.entry(ip).or_default() += 1;
            Pool::General
        };
        *s.per_peer_handshakes.entry(peer).or_default() += 1;
        *s.sessions.entry(peer).or_default() += 1;
        drop(s);
        Ok(Admitted {
            handshake: HandshakeSlot {
                admission: self.clone(),
                peer,
                ip,
                pool,
            },
            session: SessionPermit {
                admission: self.clone(),
                peer,
            },
        })
    }

    /// Remembers that `peer`'s credential verified (the oldest peer is
    /// forgotten past [`MAX_KNOWN_PEERS`]).
    pub fn mark_known(&self, peer: PeerId) {
        let mut s = self.state();
        if s.known.insert(peer) {
            s.known_order.push_back(peer);
            if s.known_order.len() > MAX_KNOWN_PEERS {
                if let Some(old) = s.known_order.pop_front() {
                    s.known.remove(&old);
                }
            }
        }
    }

    /// Handshakes running now, both pools.
    pub fn handshakes(&self) -> usize {
        let s = self.state();
        s.general + s.known_pool
    }

    /// Inbound sessions open now with `peer`, handshakes included.
    pub fn sessions_of(&self, peer: &PeerId) -> usize {
        self.state().sessions.get(peer).copied().unwrap_or(0)
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        let mut s = self.admission.state();
        match self.pool {
            Pool::Known => s.known_pool = s.known_pool.saturating_sub(1),
            Pool::General => {
                s.general = s.general.saturating_sub(1);
                decrement(&mut s.per_ip, &self.ip);
            }
        }
        decrement(&mut s.per_peer_handshakes, &self.peer);
    }
}

impl Drop for SessionPermit {
    fn drop(&mut self) {
        decrement(&mut self.admission.state().sessions, &self.peer);
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    fn limits() -> NetLimits {
        NetLimits {
            max_handshakes: 4,
            max_handshakes_per_ip: 3,
            max_handshakes_per_peer: 2,
            known_peer_handshakes: 1,
            max_sessions_per_peer: 3,
            ..NetLimits::for_fd_limit(1024)
        }
    }

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn one_peer_holds_at_most_its_handshakes_and_sessions() {
        let a = Admission::new(limits());
        let peer = PeerId::random();
        let first = a.admit(peer, ip(1)).unwrap();
        let second = a.admit(peer, ip(1)).unwrap();
        assert_eq!(a.admit(peer, ip(1)).unwrap_err(), Busy::PeerHandshakes(2));
        // Handshakes over, sessions open: the session cap applies.
        let Admitted {
            handshake: h1,
            session: s1,
        } = first;
        let Admitted {
            handshake: h2,
            session: s2,
        } = second;
        drop((h1, h2));
        let third = a.admit(peer, ip(1)).unwrap();
        drop(third.handshake);
        assert_eq!(a.sessions_of(&peer), 3);
        assert_eq!(a.admit(peer, ip(1)).unwrap_err(), Busy::Sessions(3));
        drop((s1, s2, third.session));
        assert_eq!(a.sessions_of(&peer), 0);
        assert_eq!(a.handshakes(), 0);
        assert!(a.admit(peer, ip(1)).is_ok());
    }

    #[test]
    fn one_address_holds_at_most_its_share_and_the_pool_is_bounded() {
        let a = Admission::new(limits());
        let held: Vec<Admitted> = (0..3)
            .map(|_| a.admit(PeerId::random(), ip(1)).unwrap())
            .collect();
        assert_eq!(
            a.admit(PeerId::random(), ip(1)).unwrap_err(),
            Busy::IpHandshakes(3)
        );
        let other = a.admit(PeerId::random(), ip(2)).unwrap();
        assert_eq!(
            a.admit(PeerId::random(), ip(3)).unwrap_err(),
            Busy::Handshakes(4)
        );
        drop(held);
        drop(other);
        assert_eq!(a.handshakes(), 0);
    }

    #[test]
    fn a_known_peer_gets_a_slot_when_the_general_pool_is_full() {
        let a = Admission::new(limits());
        let colleague = PeerId::random();
        a.mark_known(colleague);
        let flood: Vec<Admitted> = [1, 1, 1, 2]
            .iter()
            .map(|&last| a.admit(PeerId::random(), ip(last)).unwrap())
            .collect();
        assert!(a.admit(PeerId::random(), ip(3)).is_err());
        let admitted = a.admit(colleague, ip(1)).unwrap();
        // The known pool (1 slot) is taken: the colleague's next stream
        // competes in the full general pool.
        assert_eq!(a.admit(colleague, ip(1)).unwrap_err(), Busy::Handshakes(4));
        drop(admitted);
        drop(flood);
        assert_eq!(a.handshakes(), 0);
    }
}
