//! The limits a node puts on what peers can make it hold: connections,
//! handshakes, sessions and the memory of session buffers.
//!
//! Each default is a constant here (and listed with its reason in
//! docs/threat-model.md, "Limits"); a network runs with a [`NetLimits`]
//! built from them, so that they can later come from the configuration.
//!
//! Connections cost a file descriptor each (TCP; QUIC connections share one
//! UDP socket). The total of established connections is derived from the
//! process's descriptor limit, less [`FD_RESERVE`] kept for the store, the
//! dossier files and the local API, and less the pending connections; the
//! daemon first raises its soft limit to the hard one ([`raise_fd_limit`]).

/// Descriptors kept for everything but peer connections: the store's files,
/// dossier chunk files being written or read, the local API's connections,
/// the log.
pub const FD_RESERVE: u64 = 256;

/// Incoming connections still being set up (TCP accepted, libp2p's Noise
/// and Yamux not done) at once; beyond, new ones are closed at once.
pub const MAX_PENDING_INCOMING: u32 = 64;

/// Outgoing connections being set up at once.
pub const MAX_PENDING_OUTGOING: u32 = 64;

/// Connections established with one peer (a simultaneous dial from both
/// sides, TCP and QUIC, make more than one).
pub const MAX_ESTABLISHED_PER_PEER: u32 = 4;

/// Upper bound on established connections, whatever the descriptor limit.
pub const MAX_ESTABLISHED: u32 = 4096;

/// Lower bound on established connections, however low the descriptor
/// limit (a node must still reach its colleagues).
pub const MIN_ESTABLISHED: u32 = 16;

/// Incoming connections, pending and established, from one IP address. A
/// practice behind one public address runs a node or two; loopback counts
/// like any address.
pub const MAX_CONNECTIONS_PER_IP: u32 = 16;

/// Inbound session handshakes running at once, from peers not yet verified
/// in this run of the node.
pub const MAX_HANDSHAKES: usize = 128;

/// Inbound session handshakes running at once from one IP address.
pub const MAX_HANDSHAKES_PER_IP: usize = 16;

/// Inbound session handshakes running at once from one libp2p peer (a
/// sender delivers up to four dossiers at once).
pub const MAX_HANDSHAKES_PER_PEER: usize = 4;

/// Handshake slots kept for peers whose credential verified earlier in this
/// run of the node, so that a flood of unknown identities does not lock
/// colleagues out (per peer, [`MAX_HANDSHAKES_PER_PEER`] still applies).
pub const KNOWN_PEER_HANDSHAKES: usize = 32;

/// Peers remembered as verified for [`KNOWN_PEER_HANDSHAKES`].
pub const MAX_KNOWN_PEERS: usize = 4096;

/// Inbound sessions open at once with one peer, handshakes included.
pub const MAX_SESSIONS_PER_PEER: usize = 16;

/// Bytes of received messages (attachments included) all sessions may hold
/// at once while they are being read.
pub const MEMORY_BUDGET: usize = 128 << 20;

/// The limits a network runs with; [`NetLimits::default`] derives the
/// connection total from the current descriptor limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetLimits {
    /// See [`MAX_PENDING_INCOMING`].
    pub max_pending_incoming: u32,
    /// See [`MAX_PENDING_OUTGOING`].
    pub max_pending_outgoing: u32,
    /// See [`MAX_ESTABLISHED_PER_PEER`].
    pub max_established_per_peer: u32,
    /// Established connections in all (see [`NetLimits::for_fd_limit`]).
    pub max_established: u32,
    /// See [`MAX_CONNECTIONS_PER_IP`].
    pub max_connections_per_ip: u32,
    /// See [`MAX_HANDSHAKES`].
    pub max_handshakes: usize,
    /// See [`MAX_HANDSHAKES_PER_IP`].
    pub max_handshakes_per_ip: usize,
    /// See [`MAX_HANDSHAKES_PER_PEER`].
    pub max_handshakes_per_peer: usize,
    /// See [`KNOWN_PEER_HANDSHAKES`].
    pub known_peer_handshakes: usize,
    /// See [`MAX_SESSIONS_PER_PEER`].
    pub max_sessions_per_peer: usize,
    /// See [`MEMORY_BUDGET`].
    pub memory_budget: usize,
}

impl Default for NetLimits {
    /// The defaults, for the process's descriptor limit as it is now.
    fn default() -> Self {
        NetLimits::for_fd_limit(current_fd_limit())
    }
}

impl NetLimits {
    /// The defaults, with the established-connection total derived from a
    /// descriptor limit of `fds`: what is left after [`FD_RESERVE`] and the
    /// pending connections, within [`MIN_ESTABLISHED`]..=[`MAX_ESTABLISHED`].
    pub fn for_fd_limit(fds: u64) -> Self {
        let pending = u64::from(MAX_PENDING_INCOMING) + u64::from(MAX_PENDING_OUTGOING);
        let left = fds.saturating_sub(FD_RESERVE).saturating_sub(pending);
        let max_established = u32::try_from(left)
            .unwrap_or(u32::MAX)
            .clamp(MIN_ESTABLISHED, MAX_ESTABLISHED);
        NetLimits {
            max_pending_incoming: MAX_PENDING_INCOMING,
            max_pending_outgoing: MAX_PENDING_OUTGOING,
            max_established_per_peer: MAX_ESTABLISHED_PER_PEER,
            max_established,
            max_connections_per_ip: MAX_CONNECTIONS_PER_IP,
            max_handshakes: MAX_HANDSHAKES,
            max_handshakes_per_ip: MAX_HANDSHAKES_PER_IP,
            max_handshakes_per_peer: MAX_HANDSHAKES_PER_PEER,
            known_peer_handshakes: KNOWN_PEER_HANDSHAKES,
            max_sessions_per_peer: MAX_SESSIONS_PER_PEER,
            memory_budget: MEMORY_BUDGET,
        }
    }
}

/// The soft descriptor limit of this process (1024 if it cannot be read).
pub fn current_fd_limit() -> u64 {
    rlimit::Resource::NOFILE
        .get()
        .map(|(soft, _)| soft)
        .unwrap_or(1024)
}

/// Raises the soft descriptor limit of this process to its hard limit and
/// returns the soft limit in force afterwards (logged; on failure the limit
/// stays as it was, which is logged too).
pub fn raise_fd_limit() -> u64 {
    let before = current_fd_limit();
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => {
            if now != before {
                tracing::info!(before, now, "raised the open-file limit");
            }
            now
        }
        Err(e) => {
            tracing::warn!(
                limit = before,
                error = %e,
                "cannot raise the open-file limit (set LimitNOFILE= in the service unit)"
            );
            before
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_total_leaves_the_reserve_and_pending_room() {
        let limits = NetLimits::for_fd_limit(1024);
        assert_eq!(
            u64::from(limits.max_established),
            1024 - FD_RESERVE - u64::from(MAX_PENDING_INCOMING + MAX_PENDING_OUTGOING)
        );
        assert_eq!(NetLimits::for_fd_limit(10).max_established, MIN_ESTABLISHED);
        assert_eq!(
            NetLimits::for_fd_limit(u64::MAX).max_established,
            MAX_ESTABLISHED
        );
    }

    #[test]
    fn raising_the_limit_never_lowers_it() {
        let before = current_fd_limit();
        assert!(raise_fd_limit() >= before);
    }
}
