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

mod documents;
mod engine;
mod inbox;
mod journal;
mod purge;
mod receiving;
mod records;
mod revocation;
mod sending;
mod sink;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use libp2p::Multiaddr;
use tokio::sync::mpsc;

use crate::api::server::serve;
use crate::home::{Home, HomeError};
use crate::net::{AddressBook, NetConfig, NetEvent, Network};
use crate::store::{Store, StoreError, StoreKeySource};

pub use documents::{media_type, scan, ScannedFile};
pub use engine::Engine;
pub use records::{InboxRecord, InboxStatus, OutboxRecord, OutboxState, TransferRecord};

/// How to run the daemon.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The node's home.
    pub home: PathBuf,
    /// Addresses to listen on (none: all interfaces, TCP and QUIC, any port).
    pub listen: Vec<Multiaddr>,
    /// Discover nodes on the local network with mDNS.
    pub mdns: bool,
    /// Passphrase the store key is derived from (else the key file).
    pub passphrase: Option<String>,
}

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
            DaemonError::Net(_) => {
                "check the --listen addresses (is another program using the port?)".into()
            }
            DaemonError::Ledger(e) => e.hint().to_owned(),
            DaemonError::LedgerBroken(_) => "keep a copy of this home as evidence, then restore the home from its latest backup (and check it with `confrere ledger verify --home DIR`); `confrere ledger verify --home DIR` gives the details of the bad entry".into(),
            DaemonError::Api(_) => {
                "check that 127.0.0.1 is usable and the port in config.toml is free".into()
            }
            DaemonError::Credential(_) => "restore credential.bin and trust/ from a backup of this home, or enrol the node again with `confrere init --home NEW_DIR`".into(),
        }
    }
}

/// Runs the daemon until SIGINT or SIGTERM, then shuts down cleanly.
/// `ready` is called once the node listens and the API is served.
pub async fn run(opts: RunOptions, ready: impl FnOnce(&Engine)) -> Result<(), DaemonError> {
    let home = Home::open(&opts.home)?;
    check_credential(&home)?;
    let key_source = match &opts.passphrase {
        Some(p) => StoreKeySource::Passphrase(p.clone()),
        None => StoreKeySource::KeyFile,
    };
    let store = Store::open(&opts.home, key_source)?;
    check_ledger(&home, &store).await?;
    let book = AddressBook::load(&opts.home).map_err(|e| DaemonError::Net(e.to_string()))?;
    let session = Arc::new(home.session_config());
    let mut net_config = NetConfig::new(home.libp2p.clone(), session, crate::net::system_now);
    // --listen, else `[network] listen` of config.toml, else the default.
    if !opts.listen.is_empty() {
        net_config.listen = opts.listen.clone();
    } else if !home.config.network.listen.is_empty() {
        net_config.listen = home.config.network.listen.clone();
    }
    let api_port = home.config.api.port;
    net_config.mdns = opts.mdns;
    let (net, events) = Network::start(net_config)
        .await
        .map_err(|e| DaemonError::Net(e.to_string()))?;
    let engine = Arc::new(Engine::new(home, store, net.clone(), book)?);
    let api = serve(engine.clone(), &opts.home, api_port)
        .await
        .map_err(|e| DaemonError::Api(e.to_string()))?;
    tracing::info!(port = api.port(), "local API listening on 127.0.0.1");
    let events_task = tokio::spawn(event_loop(engine.clone(), events));
    let worker = tokio::spawn(sending::outbox_worker(engine.clone()));
    ready(&engine);
    wait_for_signal().await;
    tracing::info!("shutting down");
    engine.stop();
    api.shutdown().await;
    net.shutdown().await;
    worker.abort();
    events_task.abort();
    let _ = tokio::time::timeout(Duration::from_secs(5), engine.flush()).await;
    Ok(())
}

/// Checks the whole ledger up to its signed head checkpoint (links and
/// the head's signature, as `confrere ledger verify` does by default)
/// before anything is appended to it; refuses to start on a broken chain,
/// naming the first bad entry.
async fn check_ledger(home: &Home, store: &Store) -> Result<(), DaemonError> {
    use confrere_protocol::ledger::SignatureCheck;
    let store = store.clone();
    let peer_id = home.libp2p.public().to_peer_id().to_bytes();
    let result = tokio::task::spawn_blocking(move || {
        crate::ledger::verify_store(&store, &peer_id, SignatureCheck::Anchored)
    })
    .await
    .map_err(|e| DaemonError::Ledger(crate::ledger::LedgerError::Task(e.to_string())))?;
    match result {
        Ok(Some(summary)) => {
            tracing::info!(
                entries = summary.entries,
                head = summary.head_seq,
                "ledger verified up to its signed head"
            );
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(crate::ledger::LedgerError::Broken(e)) => {
            tracing::error!(reason = %e, "the ledger does not verify; not starting");
            Err(DaemonError::LedgerBroken(e))
        }
        Err(e) => Err(DaemonError::Ledger(e)),
    }
}

/// Refuses to start on a credential that is not genuine; starts on one
/// that colleagues refuse for now (expired card, revoked), and says so.
fn check_credential(home: &Home) -> Result<(), DaemonError> {
    use confrere_protocol::{check_own_credential, OwnCredential, Purpose, VerifyOptions};
    let opts = VerifyOptions {
        at: crate::net::system_now(),
        revocation: home.revocation,
        purpose: Purpose::Authentication,
    };
    match check_own_credential(&home.credential, &home.trust, &opts) {
        Ok(OwnCredential::Valid(_)) => Ok(()),
        Ok(OwnCredential::Refused(e)) => {
            tracing::warn!(
                reason = %e,
                "colleagues' nodes will refuse this node until the practitioner enrols it again with a valid card (`confrere init`); received dossiers stay readable"
            );
            Ok(())
        }
        Err(e) => Err(DaemonError::Credential(e)),
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
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
