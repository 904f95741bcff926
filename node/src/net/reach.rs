//! Reaching nodes across the internet: how reachable this node is, which
//! path a connection took, and the caps a relay keeps.

use std::time::Duration;

/// How this node can be reached, as far as it knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reachability {
    /// Not known yet: no other node has tested it.
    Unknown,
    /// Other nodes can dial it directly (AutoNAT confirmed an address, or
    /// the node runs with `--public`).
    Public,
    /// Behind a NAT or firewall, and no relay holds a slot for it yet.
    BehindNat,
    /// Behind a NAT or firewall, reachable through a relay that holds a
    /// slot for it.
    Relayed,
}

impl Reachability {
    /// The word `confrere status` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Reachability::Unknown => "unknown",
            Reachability::Public => "public",
            Reachability::BehindNat => "behind NAT",
            Reachability::Relayed => "relayed",
        }
    }
}

/// Which path a connection to a peer took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionPath {
    /// Dialled (or accepted) directly.
    Direct,
    /// First relayed, then made direct by hole punching (DCUtR).
    HolePunched,
    /// Carried through a relay.
    Relayed,
}

impl ConnectionPath {
    /// The word `confrere outbox` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionPath::Direct => "direct",
            ConnectionPath::HolePunched => "hole punched",
            ConnectionPath::Relayed => "relayed",
        }
    }
}

/// The caps a public node keeps as a relay (`[relay]` of config.toml).
/// libp2p's defaults (2 minutes and 128 KiB a circuit) are too small for a
/// dossier; these are lifted, and bounded by the node's own caps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelayLimits {
    /// Nodes that may hold a slot at once.
    pub max_reservations: usize,
    /// Slots one node may hold at once.
    pub max_reservations_per_peer: usize,
    /// Circuits open at once.
    pub max_circuits: usize,
    /// Circuits open at once per node (either end).
    pub max_circuits_per_peer: usize,
    /// Longest a circuit stays open.
    pub max_circuit_duration: Duration,
    /// Most bytes a circuit carries (both ways).
    pub max_circuit_bytes: u64,
}

impl Default for RelayLimits {
    fn default() -> Self {
        RelayLimits {
            max_reservations: 256,
            max_reservations_per_peer: 4,
            max_circuits: 64,
            max_circuits_per_peer: 8,
            max_circuit_duration: Duration::from_secs(2 * 3600),
            max_circuit_bytes: 8 << 30,
        }
    }
}
