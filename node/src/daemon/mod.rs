//! The daemon: one process per practice home that keeps the node on the
//! network, sends the outbox, receives dossiers into the inbox and serves
//! the local API.
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
pub(crate) mod directory;
mod documents;
mod engine;
mod error;
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
    /// The network could not start.
    #[error("{0}")]
    Net(String),
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
            DaemonError::Net(reason) if reason.contains("in use") => {
                "another program, or another Confrère node, already listens on that port: stop it, or choose another port with --listen (or [network] listen in config.toml)".into()
            }
            DaemonError::Net(_) => {
                "check the --listen addresses (or [network] listen in config.toml): each must be an address of this machine, on a port free for this node".into()
            }
            DaemonError::Ledger(e) => e.hint().to_owned(),
            DaemonError::LedgerBroken(_) => "`confrere ledger verify --home HOME` gives the details; keep a copy of this home as evidence, then restore the home from its latest backup and check it with `confrere ledger verify` before starting the daemon".into(),
            DaemonError::Api(_) => {
                "check that 127.0.0.1 is usable, that `[api] port` in config.toml is free, and that the home is writable (api.sock, api.json)".into()
            }
            DaemonError::Credential(_) => "restore credential.bin and trust/ from a backup of this home, or enrol the node again with `confrere init --home NEW_DIR`".into(),
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
            } => {
                engine
                    .peer_verified(peer, &national_id, &name, &addrs)
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
