//! The network: libp2p for reachability, the Confrère session for trust.
//!
//! Two layers meet here (see the brief's "layers of a connection"):
//!
//! 1. **libp2p** ([`swarm`]): TCP + Noise + Yamux and QUIC transports,
//!    identify, ping, optional mDNS, and generic streams
//!    (`libp2p-stream`) for the protocol [`SESSION_PROTOCOL`]. libp2p's own
//!    Noise only secures the transport; its PeerId says nothing about which
//!    practitioner a node speaks for.
//! 2. **The Confrère session** ([`channel`]): on each `/confrere/session/1`
//!    stream, the protocol crate's Noise XX handshake, pumped by
//!    [`channel::connect`] / [`channel::accept`]. A [`SecureChannel`] exists
//!    only once the peer's node credential verified and the PeerId it binds
//!    is the PeerId libp2p authenticated for the connection.
//!
//! What peers can make a node hold is bounded ([`limits`]): connections
//! in all, per peer and per source address ([`per_ip`]), inbound
//! handshakes and sessions shared fairly ([`admission`]), and the memory of
//! received messages ([`budget`]).
//!
//! [`addressbook`] keeps `HOME/peers.json`: where practitioners' nodes were
//! last reached. It holds no patient data.
//!
//! Logs name peers by [`short_peer`] and refusals by their reason; they
//! never contain message contents.

use libp2p::{Multiaddr, PeerId, StreamProtocol};

mod acceptor;
pub mod addressbook;
pub mod admission;
pub mod budget;
pub mod channel;
pub mod directory;
mod driver;
pub mod gate;
mod greeter;
pub mod handle;
pub mod limits;
pub mod live;
pub mod per_ip;
pub mod reach;
pub mod swarm;

pub use addressbook::{AddrError, AddressBook, AddressBookError, Entry};
pub use budget::MemoryBudget;
pub use channel::{ChannelError, ChannelTimeouts, SecureChannel};
pub use handle::{NetError, NetEvent, NetworkHandle};
pub use limits::NetLimits;
pub use live::LiveSession;
pub use reach::{ConnectionPath, Reachability, RelayLimits};
pub use swarm::{NetConfig, Network};

/// The libp2p stream protocol on which Confrère sessions run.
pub const SESSION_PROTOCOL: StreamProtocol = StreamProtocol::new("/confrere/session/1");

/// The Kademlia protocol of the Confrère directory (not libp2p's public
/// `/ipfs/kad/1.0.0`: the directory is a network of its own).
pub const DIRECTORY_PROTOCOL: StreamProtocol = StreamProtocol::new("/confrere/kad/1");

/// The protocol version a node announces through libp2p identify.
pub const IDENTIFY_PROTOCOL_VERSION: &str = "/confrere/id/1";

/// Prefix of the base58 form of every Ed25519 PeerId.
const ED25519_PEER_PREFIX: &str = "12D3KooW";

/// A PeerId shortened for logs and messages: the 8 characters that follow
/// the common `12D3KooW` prefix (or the first 8 for other key types).
pub fn short_peer(peer: &PeerId) -> String {
    let full = peer.to_base58();
    let rest = full.strip_prefix(ED25519_PEER_PREFIX).unwrap_or(&full);
    rest.chars().take(8).collect()
}

/// The current time from the system clock, for [`NetConfig::now`].
pub use crate::clock::system_now;

/// Splits a trailing `/p2p/PEER_ID` off a multiaddr: the address without
/// it, and the PeerId if there was one.
pub fn split_peer(addr: &Multiaddr) -> (Multiaddr, Option<PeerId>) {
    let mut addr = addr.clone();
    match addr.iter().last() {
        Some(libp2p::multiaddr::Protocol::P2p(peer)) => {
            addr.pop();
            (addr, Some(peer))
        }
        _ => (addr, None),
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    #[test]
    fn short_peer_skips_the_common_prefix() {
        let peer = libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        let full = peer.to_base58();
        assert!(full.starts_with(ED25519_PEER_PREFIX));
        assert_eq!(short_peer(&peer), full[8..16]);
    }

    #[test]
    fn split_peer_strips_only_a_trailing_p2p() {
        let peer = PeerId::random();
        let with: Multiaddr = format!("/ip4/127.0.0.1/tcp/4001/p2p/{peer}")
            .parse()
            .unwrap();
        let (addr, found) = split_peer(&with);
        assert_eq!(addr.to_string(), "/ip4/127.0.0.1/tcp/4001");
        assert_eq!(found, Some(peer));
        let (addr, found) = split_peer(&addr);
        assert_eq!(addr.to_string(), "/ip4/127.0.0.1/tcp/4001");
        assert_eq!(found, None);
    }
}
