//! The daemon: one per practice home, it keeps the node on the network,
//! sends the outbox and receives dossiers into the inbox. It does not know
//! the local API: `crate::run` starts both, and `api::service` calls in.
//!
//! Flow of a dossier, sender side: `send` checks the request, reads each
//! file once to size and hash it (the manifest), then again to seal it into
//! chunks under a fresh per-dossier key; the sealed chunks and the wrapped
//! key go to the store, the outbox record after them, and only then is the
//! dossier id returned. The outbox worker delivers: a session to the
//! recipient's node, an offer, the chunks from where the recipient stands,
//! and the recipient's signed receipt.
//!
//! Receiver side: an inbound session offers a dossier; the node says where
//! to resume (the chunks it already holds), stores the sealed chunks as they
//! come, checks the whole dossier against its manifest, records it in the
//! inbox, and only then signs and returns the receipt.
//!
//! Decisions about certificates, credentials and the dossier format are the
//! protocol crate's; this module drives them.

pub(crate) mod common;
pub(crate) mod crls;
pub(crate) mod directory;
mod documents;
mod engine;
mod error;
mod grounds;
pub(crate) mod inbox;
pub(crate) mod journal;
mod outbox;
mod outgoing;
pub(crate) mod purge;
mod receiving;
mod records;
pub(crate) mod revocation;
mod sealing;
pub(crate) mod sending;
mod sink;
pub(crate) mod unfinished;

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::home::HomeError;
use crate::net::NetEvent;
use crate::store::StoreError;

pub use directory::Added;
pub use documents::{media_type, scan, ScannedFile};
pub use engine::Engine;
pub use error::OpError;
pub use outgoing::{Outgoing, Queued, TypedPatient};
pub use records::{InboxRecord, InboxStatus, OutboxRecord, OutboxState, TransferRecord};
pub use unfinished::UnfinishedSummary;

/// What to do about a node credential that cannot be used.
const CREDENTIAL_HINT: &str = "restore credential.bin and trust/ from a backup of this home, or enrol the node again with `confrere init --home NEW_DIR`";

/// What to do about a port another socket holds.
const PORT_IN_USE_HINT: &str = "another program, or another Confrère node, already listens on that port: stop it, or choose another port with --listen (or [network] listen in config.toml)";

/// Why the daemon could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The home could not be opened.
    #[error(transparent)]
    Home(#[from] HomeError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// This node's credential cannot be used: it holds no certificate,
    /// or one that does not parse or names no practitioner.
    #[error("this node's credential cannot be used: {0}")]
    NodeCredential(String),
    /// The address book (`peers.json`) cannot be read or is damaged.
    #[error(transparent)]
    AddressBook(#[from] crate::net::AddressBookError),
    /// A listen address is refused by the system (taken by another
    /// socket, or not an address of this machine).
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: libp2p::Multiaddr,
        /// Why, as the system says it.
        reason: String,
        /// Another socket already holds the port.
        in_use: bool,
    },
    /// The network could not start.
    #[error(transparent)]
    Network(#[from] crate::net::NetError),
    /// The ledger could not be opened (or does not verify).
    #[error("the ledger cannot be opened: {0}")]
    Ledger(crate::ledger::LedgerError),
    /// The ledger does not verify up to its signed head: the daemon does
    /// not start, so that nothing is appended to a broken chain.
    #[error(
        "{0}; the daemon does not start, so that nothing is added to a ledger that does not verify"
    )]
    LedgerBroken(confrere_protocol::ledger::ChainError),
    /// The local API could not start.
    #[error("the local API could not start: {0}")]
    Api(String),
    /// The node's own credential is not genuine (altered, or not under the
    /// home's trust anchors).
    #[error("this node's credential does not verify: {0}")]
    Credential(confrere_protocol::CredentialError),
}

impl DaemonError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            DaemonError::Home(e) => e.hint(),
            DaemonError::Store(e) => e.hint().to_owned(),
            DaemonError::NodeCredential(_) => CREDENTIAL_HINT.into(),
            DaemonError::AddressBook(crate::net::AddressBookError::Damaged { .. }) => {
                "move peers.json out of the home (the node then starts with an empty address book and finds its colleagues again through the directory), or restore it from a backup of this home".into()
            }
            DaemonError::AddressBook(_) => {
                "check that peers.json in the home is a file this user can read and write".into()
            }
            DaemonError::Listen { in_use: true, .. } => PORT_IN_USE_HINT.into(),
            DaemonError::Network(crate::net::NetError::Listen { reason, .. })
                if reason.contains("in use") =>
            {
                PORT_IN_USE_HINT.into()
            }
            DaemonError::Network(crate::net::NetError::KeyMismatch { .. }) => {
                "restore keys/libp2p.key and credential.bin together from a backup of this home, or enrol the node again with `confrere init --home NEW_DIR`".into()
            }
            DaemonError::Listen { .. } | DaemonError::Network(_) => {
                "check the --listen addresses (or [network] listen in config.toml): each must be an address of this machine, on a port free for this node".into()
            }
            DaemonError::Ledger(e) => e.hint().to_owned(),
            DaemonError::LedgerBroken(_) => "`confrere ledger verify --home HOME` gives the details; keep a copy of this home as evidence, then restore the home from its latest backup and check it with `confrere ledger verify` before starting the daemon".into(),
            DaemonError::Api(_) => {
                "check that 127.0.0.1 is usable, that `[api] port` in config.toml is free, and that the home is writable (api.sock, api.json)".into()
            }
            DaemonError::Credential(_) => CREDENTIAL_HINT.into(),
        }
    }
}

/// The daemon's tasks: the network's events, the outbox worker and the
/// sweep of unfinished inbound transfers.
#[derive(Debug)]
pub struct Workers {
    tasks: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Stops the tasks (after [`Engine::stop`]).
    pub fn abort(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

/// Before any work: removes the dossier files a crash left without a
/// record.
pub async fn sweep_at_start(engine: &Engine) {
    sealing::sweep_at_start(engine).await;
}

/// Starts the daemon's work on `engine`: serving the network's `events`
/// (inbound sessions, verified and discovered peers), delivering the
/// outbox, sweeping unfinished inbound transfers, and greeting the
/// colleagues of the address book.
pub fn start(engine: &Arc<Engine>, events: mpsc::Receiver<NetEvent>) -> Workers {
    let tasks = vec![
        tokio::spawn(event_loop(engine.clone(), events)),
        tokio::spawn(sending::outbox_worker(engine.clone())),
        tokio::spawn(unfinished::sweep_worker(engine.clone())),
        tokio::spawn(crls::crl_worker(engine.clone())),
    ];
    engine.greet_colleagues();
    Workers { tasks }
}

async fn event_loop(engine: Arc<Engine>, mut events: mpsc::Receiver<NetEvent>) {
    while let Some(ev) = events.recv().await {
        match ev {
            NetEvent::Inbound(channel) => {
                let engine = engine.clone();
                tokio::spawn(async move { receiving::serve_inbound(engine, channel).await });
            }
            NetEvent::Verified {
                peer,
                national_id,
                name,
                addrs,
                credential_not_after,
            } => {
                engine
                    .peer_verified(peer, &national_id, &name, &addrs, credential_not_after)
                    .await
            }
            NetEvent::Discovered { peer, addrs } => engine.peer_discovered(peer, addrs).await,
            NetEvent::Refused { peer, reason } => {
                // The channel already logged it at warn level.
                tracing::debug!(peer = %crate::net::short_peer(&peer), %reason, "session refused");
            }
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    const LISTEN_HINT: &str = "check the --listen addresses";

    #[test]
    fn a_credential_that_cannot_be_used_is_not_blamed_on_the_listen_addresses() {
        let e = DaemonError::NodeCredential("it holds no certificate".into());
        assert_eq!(
            e.to_string(),
            "this node's credential cannot be used: it holds no certificate"
        );
        assert!(e.hint().contains("credential.bin"), "{}", e.hint());
        assert!(!e.hint().contains(LISTEN_HINT));
        let mismatch = DaemonError::Network(crate::net::NetError::KeyMismatch {
            key: "12D3KooW".into(),
        });
        assert!(
            mismatch.hint().contains("keys/libp2p.key"),
            "{}",
            mismatch.hint()
        );
        assert!(!mismatch.hint().contains(LISTEN_HINT));
    }

    #[test]
    fn a_damaged_or_unreadable_address_book_names_peers_json() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("peers.json"), b"not json").unwrap();
        let e = DaemonError::from(crate::net::AddressBook::load(home.path()).unwrap_err());
        assert!(e.to_string().contains("peers.json is damaged"), "{e}");
        assert!(
            e.hint().contains("move peers.json out of the home"),
            "{}",
            e.hint()
        );
        assert!(!e.hint().contains(LISTEN_HINT));
        let unreadable = DaemonError::AddressBook(crate::net::AddressBookError::Read {
            path: "peers.json".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        });
        assert!(
            unreadable.hint().contains("peers.json"),
            "{}",
            unreadable.hint()
        );
        assert!(!unreadable.hint().contains(LISTEN_HINT));
    }

    #[test]
    fn a_listen_address_refused_gets_the_listen_or_the_port_hint() {
        let addr: libp2p::Multiaddr = "/ip4/127.0.0.1/tcp/4001".parse().unwrap();
        let taken = DaemonError::Listen {
            addr: addr.clone(),
            reason: "the port is in use (address in use)".into(),
            in_use: true,
        };
        assert_eq!(
            taken.to_string(),
            "cannot listen on /ip4/127.0.0.1/tcp/4001: the port is in use (address in use)"
        );
        assert!(taken.hint().contains("already listens on that port"));
        let foreign = DaemonError::Listen {
            addr: addr.clone(),
            reason: "cannot assign requested address".into(),
            in_use: false,
        };
        assert!(foreign.hint().contains(LISTEN_HINT), "{}", foreign.hint());
        let libp2p_taken = DaemonError::Network(crate::net::NetError::Listen {
            addr: addr.to_string(),
            reason: "Address already in use (os error 98)".into(),
        });
        assert!(libp2p_taken.hint().contains("already listens on that port"));
        let build = DaemonError::Network(crate::net::NetError::Build("no transport".into()));
        assert!(build.hint().contains(LISTEN_HINT));
    }
}
