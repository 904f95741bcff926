//! `confrere peers …`: the address book, and the directory by national id.

use clap::{Args, Subcommand};

use super::DaemonHome;

/// `confrere peers …`
#[derive(Debug, Subcommand)]
pub(crate) enum PeersCommand {
    /// Add a node's address to the address book and dial that very address:
    /// says "verified" only when a session there proved who the node
    /// serves, else keeps the entry and exits 1 with the reason.
    #[command(after_help = "\
Exit status: 0 verified through that address; 1 the entry is kept but the
address did not lead to a node this one accepts (the reason on stderr,
and in `last_error` with --json).

Example:
  confrere peers add /ip4/192.168.1.20/tcp/4100 --home ~/confrere
  confrere peers add /ip4/192.168.1.20/tcp/4100/p2p/12D3KooW... --json")]
    Add(PeersAddArgs),
    /// List the address book.
    #[command(after_help = "\
Example:
  confrere peers list --home ~/confrere
  confrere peers list --json")]
    List(PeersListArgs),
    /// Find a colleague's nodes in the directory by national id: the
    /// verified records (name, profession, addresses, reachability, when
    /// published). Exits 4 when no node publishes that id.
    #[command(after_help = "\
Example:
  confrere peers find 810001000016 --home ~/confrere
  confrere peers find 810001000016 --json")]
    Find(PeersFindArgs),
    /// Remove a node from the address book, by PeerId, or every node of a
    /// practitioner by national id. Exits 4 when no entry matches.
    #[command(after_help = "\
Example:
  confrere peers remove 12D3KooW... --home ~/confrere
  confrere peers remove 810001000016")]
    Remove(PeersRemoveArgs),
}

/// Options of `peers add`.
#[derive(Debug, Args)]
pub(crate) struct PeersAddArgs {
    /// The node's multiaddr, with or without `/p2p/PEER_ID`.
    #[arg(value_name = "MULTIADDR")]
    pub multiaddr: String,
    #[command(flatten)]
    pub home: DaemonHome,
    /// Print the new entry as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `peers list`.
#[derive(Debug, Args)]
pub(crate) struct PeersListArgs {
    #[command(flatten)]
    pub home: DaemonHome,
    /// Print the address book as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `peers find`.
#[derive(Debug, Args)]
pub(crate) struct PeersFindArgs {
    /// The practitioner's national id (RPPS 8 + 11 digits, ADELI 0 + 9).
    #[arg(value_name = "NATIONAL_ID")]
    pub national_id: String,
    #[command(flatten)]
    pub home: DaemonHome,
    /// Print the records as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `peers remove`.
#[derive(Debug, Args)]
pub(crate) struct PeersRemoveArgs {
    /// The node's PeerId, or the practitioner's national id (removes every
    /// node of theirs).
    #[arg(value_name = "PEER_ID|NATIONAL_ID")]
    pub key: String,
    #[command(flatten)]
    pub home: DaemonHome,
    /// Print the entries removed as JSON.
    #[arg(long)]
    pub json: bool,
}
