//! `[network]` and `[relay]` of config.toml: where the node listens, the
//! bootstrap nodes it joins the directory through, whether it serves as a
//! public node, and the caps it keeps as a relay.

use std::time::Duration;

use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;
use serde::de::{Deserializer, Error as _};
use serde::Deserialize;

use crate::net::RelayLimits;

/// An example of a bootstrap node's address, for messages.
pub const BOOTSTRAP_EXAMPLE: &str =
    "/dns4/confrere.example.org/tcp/4001/p2p/12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB";

/// `[network]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct NetworkSection {
    /// Multiaddrs to listen on when `confrere run` is given no `--listen`
    /// (default empty: all interfaces, TCP and QUIC, any port).
    #[serde(default, deserialize_with = "listen_addrs")]
    pub listen: Vec<Multiaddr>,
    /// Bootstrap nodes: public Confrère nodes this node joins the directory
    /// through, each a multiaddr ending in `/p2p/PEER_ID` (default empty).
    #[serde(default, deserialize_with = "bootstrap_addrs")]
    pub bootstrap: Vec<Multiaddr>,
    /// Serve as a public node: directory server, bootstrap node and relay
    /// (default false; also `confrere run --public`).
    #[serde(default)]
    pub public: bool,
    /// Addresses other nodes can dial this node at, announced as they are
    /// (a port forward, a dynamic-DNS name; default empty).
    #[serde(default, deserialize_with = "external_addrs")]
    pub external: Vec<Multiaddr>,
}

/// Checks a bootstrap node's address: a multiaddr (`/ip4`, `/ip6`,
/// `/dns4`, `/dns6` or `/dns`) ending in `/p2p/PEER_ID`. The error says
/// what is wrong, with an example (`[network] bootstrap` and `confrere run
/// --bootstrap` share it).
pub fn parse_bootstrap(text: &str) -> Result<Multiaddr, String> {
    let addr: Multiaddr = text.trim().parse().map_err(|e| {
        format!("{text:?} is not a multiaddr ({e}); for example \"{BOOTSTRAP_EXAMPLE}\"")
    })?;
    if !matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
        return Err(format!(
            "{text:?} does not end in /p2p/PEER_ID: a bootstrap node is named by its \
             address and its PeerId (its `confrere status` prints both as one line), for \
             example \"{BOOTSTRAP_EXAMPLE}\""
        ));
    }
    if !matches!(
        addr.iter().next(),
        Some(
            Protocol::Ip4(_)
                | Protocol::Ip6(_)
                | Protocol::Dns(_)
                | Protocol::Dns4(_)
                | Protocol::Dns6(_)
        )
    ) {
        return Err(format!(
            "{text:?} does not start with /ip4, /ip6, /dns4, /dns6 or /dns: a bootstrap \
             node is reached at an address or a DNS name, for example \"{BOOTSTRAP_EXAMPLE}\""
        ));
    }
    Ok(addr)
}

fn addr_list<'de, D: Deserializer<'de>>(
    d: D,
    setting: &str,
    parse: impl Fn(&str) -> Result<Multiaddr, String>,
) -> Result<Vec<Multiaddr>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|a| parse(a).map_err(|e| D::Error::custom(format!("[network] {setting}: {e}"))))
        .collect()
}

fn plain_addr(example: &'static str) -> impl Fn(&str) -> Result<Multiaddr, String> {
    move |a| {
        a.parse()
            .map_err(|e| format!("{a:?} is not a multiaddr ({e}); for example \"{example}\""))
    }
}

fn listen_addrs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Multiaddr>, D::Error> {
    addr_list(d, "listen", plain_addr("/ip4/0.0.0.0/tcp/4001"))
}

fn external_addrs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Multiaddr>, D::Error> {
    addr_list(
        d,
        "external",
        plain_addr("/dns4/cabinet.example.org/tcp/4001"),
    )
}

fn bootstrap_addrs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Multiaddr>, D::Error> {
    addr_list(d, "bootstrap", parse_bootstrap)
}

/// Bounds of `[relay]`: `(setting, unit, smallest, largest)`.
const RELAY_BOUNDS: [(&str, &str, u32, u32); 6] = [
    ("max_reservations", "nodes", 1, 10_000),
    ("max_reservations_per_peer", "slots", 1, 64),
    ("max_circuits", "circuits", 1, 10_000),
    ("max_circuits_per_peer", "circuits", 1, 256),
    ("max_circuit_minutes", "minutes", 1, 24 * 60),
    ("max_circuit_mib", "MiB", 1, 1 << 20),
];

/// `[relay]`: the caps a public node keeps as a relay for other
/// practitioners' nodes (see [`RelayLimits`]). Read only by a public node.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RelaySection {
    /// Nodes that may hold a slot at once (1 to 10000).
    #[serde(default = "d_reservations", deserialize_with = "reservations")]
    pub max_reservations: u32,
    /// Slots one node may hold at once (1 to 64).
    #[serde(
        default = "d_reservations_per_peer",
        deserialize_with = "reservations_pp"
    )]
    pub max_reservations_per_peer: u32,
    /// Circuits open at once (1 to 10000).
    #[serde(default = "d_circuits", deserialize_with = "circuits")]
    pub max_circuits: u32,
    /// Circuits open at once per node, either end (1 to 256).
    #[serde(default = "d_circuits_per_peer", deserialize_with = "circuits_pp")]
    pub max_circuits_per_peer: u32,
    /// Longest a circuit stays open, in minutes (1 to 1440).
    #[serde(default = "d_minutes", deserialize_with = "minutes")]
    pub max_circuit_minutes: u32,
    /// Most MiB a circuit carries, both ways (1 to 1048576).
    #[serde(default = "d_mib", deserialize_with = "mib")]
    pub max_circuit_mib: u32,
}

impl Default for RelaySection {
    fn default() -> Self {
        RelaySection {
            max_reservations: d_reservations(),
            max_reservations_per_peer: d_reservations_per_peer(),
            max_circuits: d_circuits(),
            max_circuits_per_peer: d_circuits_per_peer(),
            max_circuit_minutes: d_minutes(),
            max_circuit_mib: d_mib(),
        }
    }
}

impl RelaySection {
    /// The caps these settings give.
    pub fn limits(&self) -> RelayLimits {
        RelayLimits {
            max_reservations: self.max_reservations as usize,
            max_reservations_per_peer: self.max_reservations_per_peer as usize,
            max_circuits: self.max_circuits as usize,
            max_circuits_per_peer: self.max_circuits_per_peer as usize,
            max_circuit_duration: Duration::from_secs(u64::from(self.max_circuit_minutes) * 60),
            max_circuit_bytes: u64::from(self.max_circuit_mib) << 20,
        }
    }
}

fn small(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn d_reservations() -> u32 {
    small(RelayLimits::default().max_reservations)
}
fn d_reservations_per_peer() -> u32 {
    small(RelayLimits::default().max_reservations_per_peer)
}
fn d_circuits() -> u32 {
    small(RelayLimits::default().max_circuits)
}
fn d_circuits_per_peer() -> u32 {
    small(RelayLimits::default().max_circuits_per_peer)
}
fn d_minutes() -> u32 {
    u32::try_from(RelayLimits::default().max_circuit_duration.as_secs() / 60).unwrap_or(120)
}
fn d_mib() -> u32 {
    u32::try_from(RelayLimits::default().max_circuit_bytes >> 20).unwrap_or(8192)
}

/// A whole number within the bounds of `[relay] NAME`.
fn relay_value<'de, D: Deserializer<'de>>(d: D, index: usize) -> Result<u32, D::Error> {
    let (name, unit, low, high) = RELAY_BOUNDS[index];
    let n = i64::deserialize(d)?;
    match u32::try_from(n) {
        Ok(v) if (low..=high).contains(&v) => Ok(v),
        _ => Err(D::Error::custom(format!(
            "[relay] {name} must be a whole number of {unit} from {low} to {high}, not {n}"
        ))),
    }
}

fn reservations<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    relay_value(d, 0)
}
fn reservations_pp<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    relay_value(d, 1)
}
fn circuits<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    relay_value(d, 2)
}
fn circuits_pp<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    relay_value(d, 3)
}
fn minutes<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    relay_value(d, 4)
}
fn mib<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    relay_value(d, 5)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{Config, ConfigError};

    const PEER: &str = "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB";

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/h/config.toml"))
    }

    fn err(text: &str) -> (Option<usize>, String) {
        match parse(text) {
            Err(ConfigError::Invalid { line, message, .. }) => (line, message),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn the_defaults_are_the_relay_limits_and_no_bootstrap() {
        let c = parse("").unwrap();
        assert!(c.network.bootstrap.is_empty());
        assert!(c.network.external.is_empty());
        assert!(!c.network.public);
        assert_eq!(c.relay.limits(), RelayLimits::default());
    }

    #[test]
    fn network_settings_are_read() {
        let c = parse(&format!(
            "[network]\nbootstrap = [\n  \"/ip4/192.0.2.1/tcp/4001/p2p/{PEER}\",\n  \
             \"/dns4/a.example.org/tcp/4001/p2p/{PEER}\",\n  \
             \"/dns6/a.example.org/udp/4001/quic-v1/p2p/{PEER}\",\n  \
             \"/dns/a.example.org/tcp/4001/p2p/{PEER}\",\n]\npublic = true\n\
             external = [\"/dns4/cabinet.example.org/tcp/4001\"]\n"
        ))
        .unwrap();
        assert_eq!(c.network.bootstrap.len(), 4);
        assert!(c.network.public);
        assert_eq!(
            c.network.external[0].to_string(),
            "/dns4/cabinet.example.org/tcp/4001"
        );
    }

    #[test]
    fn a_bootstrap_address_without_its_peer_id_is_refused_on_its_line() {
        let (line, msg) = err("[network]\n\nbootstrap = [\"/ip4/192.0.2.1/tcp/4001\"]\n");
        assert_eq!(line, Some(3), "{msg}");
        assert!(msg.contains("[network] bootstrap"), "{msg}");
        assert!(msg.contains("/p2p/PEER_ID"), "{msg}");
        assert!(msg.contains(BOOTSTRAP_EXAMPLE), "{msg}");
    }

    #[test]
    fn bad_bootstrap_addresses_are_refused() {
        for bad in [
            "\"192.0.2.1:4001\"".to_owned(),
            "\"\"".to_owned(),
            format!("\"/p2p/{PEER}\""),
            format!("\"/ip4/192.0.2.1/tcp/4001/p2p/{PEER}/tcp/1\""),
            "\"/ip4/192.0.2.1/tcp/4001/p2p/nope\"".to_owned(),
            "[1]".to_owned(),
        ] {
            let (line, msg) = err(&format!("[network]\nbootstrap = [{bad}]\n"));
            assert_eq!(line, Some(2), "{bad}: {msg}");
        }
        let (line, msg) = err("[network]\nbootstrap = \"/ip4/1.2.3.4/tcp/1\"\n");
        assert_eq!(line, Some(2), "{msg}");
    }

    #[test]
    fn bad_public_and_external_values_are_refused() {
        let (line, _) = err("[network]\npublic = \"yes\"\n");
        assert_eq!(line, Some(2));
        let (line, msg) = err("[network]\nexternal = [\"cabinet.example.org:4001\"]\n");
        assert_eq!(line, Some(2), "{msg}");
        assert!(msg.contains("[network] external"), "{msg}");
        let (line, msg) = err("[network]\nlisten = [\"127.0.0.1:4001\"]\n");
        assert_eq!(line, Some(2), "{msg}");
        assert!(msg.contains("[network] listen"), "{msg}");
    }

    #[test]
    fn relay_settings_are_read() {
        let c = parse(
            "[relay]\nmax_reservations = 10\nmax_reservations_per_peer = 2\n\
             max_circuits = 20\nmax_circuits_per_peer = 3\nmax_circuit_minutes = 30\n\
             max_circuit_mib = 100\n",
        )
        .unwrap();
        let l = c.relay.limits();
        assert_eq!(l.max_reservations, 10);
        assert_eq!(l.max_reservations_per_peer, 2);
        assert_eq!(l.max_circuits, 20);
        assert_eq!(l.max_circuits_per_peer, 3);
        assert_eq!(l.max_circuit_duration, Duration::from_secs(30 * 60));
        assert_eq!(l.max_circuit_bytes, 100 << 20);
    }

    #[test]
    fn every_relay_setting_is_bounded() {
        for (name, _, low, high) in RELAY_BOUNDS {
            for bad in [
                i64::from(low) - 1,
                i64::from(high) + 1,
                -1,
                i64::from(u32::MAX) + 1,
            ] {
                let (line, msg) = err(&format!("[relay]\n{name} = {bad}\n"));
                assert_eq!(line, Some(2), "{name} = {bad}: {msg}");
                assert!(msg.contains(&format!("[relay] {name}")), "{msg}");
                assert!(msg.contains(&format!("from {low} to {high}")), "{msg}");
            }
            let (line, _) = err(&format!("[relay]\n{name} = \"8\"\n"));
            assert_eq!(line, Some(2), "{name}");
            let ok = parse(&format!("[relay]\n{name} = {high}\n"));
            assert!(ok.is_ok(), "{name} = {high}");
        }
        let (line, msg) = err("[relay]\nmax_circuit_bytes = 1\n");
        assert_eq!(line, Some(2), "{msg}");
    }

    #[test]
    fn parse_bootstrap_accepts_names_and_requires_the_peer_id() {
        assert!(parse_bootstrap(&format!("/dns/x.example.org/tcp/1/p2p/{PEER}")).is_ok());
        assert!(parse_bootstrap(&format!("/ip6/::1/udp/1/quic-v1/p2p/{PEER}")).is_ok());
        let e = parse_bootstrap("/ip4/127.0.0.1/tcp/1").unwrap_err();
        assert!(e.contains("/p2p/PEER_ID"), "{e}");
        let e = parse_bootstrap("nope").unwrap_err();
        assert!(e.contains("not a multiaddr"), "{e}");
        let e = parse_bootstrap(&format!("/p2p/{PEER}")).unwrap_err();
        assert!(e.contains("/dns4"), "{e}");
    }
}
