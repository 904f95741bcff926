//! The directory and the address book as the local API shows them:
//! `GET /v1/directory/{national_id}` ([`DirectoryRecord`]) and
//! `DELETE /v1/peers/{peer_id or national_id}`.

use confrere_protocol::directory::VerifiedRecord;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};

/// API error code: no node publishes that national id in the directory
/// (HTTP 404; `confrere peers find` exits 4).
pub const NOT_PUBLISHED: &str = "not_published";

/// API error code: no address-book entry has that PeerId or national id
/// (HTTP 404; `confrere peers remove` exits 4).
pub const UNKNOWN_PEER: &str = "unknown_peer";

/// One verified directory record of a practitioner's node
/// (`GET /v1/directory/{national_id}`: one per node that publishes it).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DirectoryRecord {
    /// The practitioner's national id, from the node's credential.
    pub national_id: String,
    /// `GIVEN SURNAME`, from the card certificate.
    pub name: String,
    /// The profession's label, when the certificate gives one.
    pub profession: Option<String>,
    /// The TRE_G15 profession code, when the certificate gives one.
    pub profession_code: Option<u32>,
    /// The node's libp2p PeerId.
    pub peer_id: String,
    /// The node's addresses, each ending in `/p2p/PEER_ID`.
    pub addresses: Vec<String>,
    /// How the node is reached, from its addresses: `public` (a direct
    /// address outside private ranges), `relayed` (only through a relay)
    /// or `local network` (private or loopback addresses only).
    pub reachability: String,
    /// The record's sequence number (the newest per node is kept).
    pub sequence: u64,
    /// When the node published it (RFC 3339).
    pub published_at: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
}

/// A verified record as the API shows it.
pub(crate) fn directory_record(r: &VerifiedRecord) -> DirectoryRecord {
    let identity = r.identity();
    let peer = PeerId::from_bytes(r.peer_id()).ok();
    let addrs: Vec<Multiaddr> = r
        .addresses()
        .iter()
        .filter_map(|a| Multiaddr::try_from(a.clone()).ok())
        .map(|a| full_address(a, peer))
        .collect();
    DirectoryRecord {
        national_id: identity.national_id.to_string(),
        name: identity.display_name(),
        profession: identity.profession.clone(),
        profession_code: identity.profession_code,
        peer_id: peer.map(|p| p.to_base58()).unwrap_or_default(),
        reachability: reachability_of(&addrs).to_owned(),
        addresses: addrs.iter().map(ToString::to_string).collect(),
        sequence: r.sequence(),
        published_at: r.published_at().to_rfc3339(),
        expires_at: r.expires_at().to_rfc3339(),
    }
}

/// `addr` ending in `/p2p/PEER` (added when it does not end in a PeerId).
fn full_address(mut addr: Multiaddr, peer: Option<PeerId>) -> Multiaddr {
    if let Some(peer) = peer {
        if !matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
            addr.push(Protocol::P2p(peer));
        }
    }
    addr
}

/// How a node is reached, from its addresses: `public` if one of them is
/// direct and outside loopback, private and link-local ranges; else
/// `relayed` if one goes through a relay; else `local network`.
fn reachability_of(addrs: &[Multiaddr]) -> &'static str {
    let relayed = |a: &Multiaddr| a.iter().any(|p| matches!(p, Protocol::P2pCircuit));
    if addrs.iter().any(|a| !relayed(a) && is_public(a)) {
        "public"
    } else if addrs.iter().any(relayed) {
        "relayed"
    } else {
        "local network"
    }
}

/// Whether the host of `addr` is reachable from the internet (as far as
/// the address tells): a DNS name other than `localhost`, or an IP outside
/// loopback, private, link-local, shared (CGNAT) and unspecified ranges.
fn is_public(addr: &Multiaddr) -> bool {
    match addr.iter().next() {
        Some(Protocol::Ip4(ip)) => {
            let shared = ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64;
            !(ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_documentation()
                || shared)
        }
        Some(Protocol::Ip6(ip)) => {
            let first = ip.segments()[0];
            !(ip.is_loopback()
                || ip.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
        Some(Protocol::Dns(name) | Protocol::Dns4(name) | Protocol::Dns6(name)) => {
            !name.eq_ignore_ascii_case("localhost")
        }
        _ => false,
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<Multiaddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn reachability_follows_the_addresses() {
        let relay = PeerId::random();
        let circuit = format!("/ip4/203.0.113.5/tcp/4001/p2p/{relay}/p2p-circuit");
        assert_eq!(
            reachability_of(&addrs(&["/ip4/192.168.1.2/tcp/1", "/ip4/8.8.4.4/tcp/1"])),
            "public"
        );
        assert_eq!(
            reachability_of(&addrs(&["/dns4/cabinet.example.org/tcp/1"])),
            "public"
        );
        assert_eq!(
            reachability_of(&addrs(&["/ip6/2001:4860::1/udp/1/quic-v1"])),
            "public"
        );
        assert_eq!(
            reachability_of(&addrs(&["/ip4/10.1.2.3/tcp/1", circuit.as_str()])),
            "relayed"
        );
        assert_eq!(reachability_of(&addrs(&[circuit.as_str()])), "relayed");
        for local in [
            "/ip4/127.0.0.1/tcp/1",
            "/ip4/172.16.0.1/tcp/1",
            "/ip4/100.64.0.1/tcp/1",
            "/ip4/169.254.1.1/tcp/1",
            "/ip6/::1/tcp/1",
            "/ip6/fd00::1/tcp/1",
            "/ip6/fe80::1/tcp/1",
            "/dns4/localhost/tcp/1",
        ] {
            assert_eq!(
                reachability_of(&addrs(&[local])),
                "local network",
                "{local}"
            );
        }
        assert_eq!(reachability_of(&[]), "local network");
    }

    #[test]
    fn addresses_are_completed_with_the_peer_id_once() {
        let peer = PeerId::random();
        let relay = PeerId::random();
        let bare: Multiaddr = "/ip4/8.8.4.4/tcp/1".parse().unwrap();
        let full = full_address(bare.clone(), Some(peer));
        assert_eq!(full.to_string(), format!("/ip4/8.8.4.4/tcp/1/p2p/{peer}"));
        assert_eq!(full_address(full.clone(), Some(peer)), full);
        let circuit: Multiaddr = format!("/ip4/8.8.4.4/tcp/1/p2p/{relay}/p2p-circuit")
            .parse()
            .unwrap();
        assert_eq!(
            full_address(circuit, Some(peer)).to_string(),
            format!("/ip4/8.8.4.4/tcp/1/p2p/{relay}/p2p-circuit/p2p/{peer}")
        );
        assert_eq!(full_address(bare.clone(), None), bare);
    }
}
