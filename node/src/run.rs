//! The node's process: the composition root that opens the home, the
//! store and the network, builds the daemon's [`Engine`], starts its work
//! ([`crate::daemon::start`]) and serves the local API over it
//! ([`crate::api::server::serve`]), until SIGINT or SIGTERM.
//!
//! The daemon itself never starts the API: only this module puts the two
//! together.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use libp2p::Multiaddr;

use crate::api::server::serve_with;
use crate::daemon::{self, Engine};
use crate::home::Home;
use crate::net::{AddressBook, NetConfig, Network};
use crate::store::{Store, StoreKeySource};

pub use crate::daemon::DaemonError;

/// How to run the daemon.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The node's home.
    pub home: PathBuf,
    /// Addresses to listen on (none: all interfaces, TCP and QUIC, any port).
    pub listen: Vec<Multiaddr>,
    /// Discover nodes on the local network with mDNS.
    pub mdns: bool,
    /// Bootstrap nodes given on the command line (`--bootstrap`), added to
    /// `[network] bootstrap` of config.toml.
    pub bootstrap: Vec<Multiaddr>,
    /// Serve as a public node (`--public`): directory server, bootstrap
    /// node and relay. Also `[network] public` of config.toml.
    pub public: bool,
    /// Passphrase the store key is derived from (else the key file).
    pub passphrase: Option<String>,
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
    let book = AddressBook::load(&opts.home)?;
    let session = Arc::new(home.session_config());
    let mut net_config = NetConfig::new(home.libp2p.clone(), session, crate::net::system_now);
    // --listen, else `[network] listen` of config.toml, else the default.
    if !opts.listen.is_empty() {
        net_config.listen = opts.listen.clone();
    } else if !home.config.network.listen.is_empty() {
        net_config.listen = home.config.network.listen.clone();
    }
    let api_port = home.config.api.port;
    let ui_idle = home.config.ui.idle();
    net_config.mdns = opts.mdns;
    net_config.bootstrap = bootstrap_nodes(&home.config.network.bootstrap, &opts.bootstrap);
    net_config.public = opts.public || home.config.network.public;
    net_config.external = home.config.network.external.clone();
    net_config.relay = home.config.relay.limits();
    net_config.limits = crate::net::NetLimits::for_fd_limit(crate::net::limits::raise_fd_limit());
    check_ports_free(&net_config.listen)?;
    let (net, events) = Network::start(net_config).await?;
    let engine = Arc::new(Engine::new(home, store, net.clone(), book)?);
    // Before any work: dossier files a crash left without a record go.
    daemon::sweep_at_start(&engine).await;
    let api = serve_with(engine.clone(), &opts.home, api_port, |port| {
        crate::ui::routes(engine.clone(), port, ui_idle)
    })
    .await
    .map_err(|e| DaemonError::Api(e.to_string()))?;
    tracing::info!(port = api.port(), "local API listening on 127.0.0.1");
    let workers = daemon::start(&engine, events);
    ready(&engine);
    wait_for_signal().await;
    tracing::info!("shutting down");
    engine.stop();
    api.shutdown().await;
    net.shutdown().await;
    workers.abort();
    let _ = tokio::time::timeout(Duration::from_secs(5), engine.flush()).await;
    Ok(())
}

/// The bootstrap nodes of `[network] bootstrap`, then those of
/// `--bootstrap`, each once.
fn bootstrap_nodes(config: &[Multiaddr], flags: &[Multiaddr]) -> Vec<Multiaddr> {
    let mut all: Vec<Multiaddr> = Vec::new();
    for addr in config.iter().chain(flags) {
        if !all.contains(addr) {
            all.push(addr.clone());
        }
    }
    all
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

/// Refuses a fixed TCP or UDP port that another socket already holds.
///
/// libp2p's TCP listeners set `SO_REUSEPORT`, so a second node started on
/// the port of a running one would bind as well and share its incoming
/// connections. A plain bind (without `SO_REUSEPORT`) fails while any
/// socket listens there: try one first, and close it before libp2p binds.
fn check_ports_free(listen: &[Multiaddr]) -> Result<(), DaemonError> {
    use libp2p::multiaddr::Protocol;
    for addr in listen {
        let mut ip = None;
        let mut probe = None;
        for p in addr.iter() {
            match p {
                Protocol::Ip4(a) => ip = Some(std::net::IpAddr::from(a)),
                Protocol::Ip6(a) => ip = Some(std::net::IpAddr::from(a)),
                Protocol::Tcp(port) if port != 0 => probe = Some((true, port)),
                Protocol::Udp(port) if port != 0 => probe = Some((false, port)),
                _ => {}
            }
        }
        let (Some(ip), Some((tcp, port))) = (ip, probe) else {
            continue;
        };
        let at = std::net::SocketAddr::new(ip, port);
        let result = if tcp {
            std::net::TcpListener::bind(at).map(drop)
        } else {
            std::net::UdpSocket::bind(at).map(drop)
        };
        if let Err(e) = result {
            let in_use = e.kind() == std::io::ErrorKind::AddrInUse;
            let reason = if in_use {
                format!("the port is in use ({e})")
            } else {
                e.to_string()
            };
            return Err(DaemonError::Listen {
                addr: addr.clone(),
                reason,
                in_use,
            });
        }
    }
    Ok(())
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
        Ok(OwnCredential::Valid(peer)) => {
            if let Some(warning) =
                crate::home::renew::card_expiry_warning(peer.certificate().not_after(), opts.at)
            {
                tracing::warn!("{warning}");
            }
            Ok(())
        }
        Ok(OwnCredential::Refused(e)) => {
            tracing::warn!(
                reason = %e,
                "colleagues' nodes will refuse this node until the practitioner renews it with a valid card (`confrere renew`); received dossiers stay readable"
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

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_nodes_of_config_and_flags_are_kept_once_in_order() {
        let a: Multiaddr = "/ip4/192.0.2.1/tcp/1".parse().unwrap();
        let b: Multiaddr = "/dns4/b.example.org/tcp/2".parse().unwrap();
        let c: Multiaddr = "/ip6/::1/tcp/3".parse().unwrap();
        let all = bootstrap_nodes(&[a.clone(), b.clone()], &[b.clone(), c.clone(), a.clone()]);
        assert_eq!(all, vec![a, b, c]);
        assert!(bootstrap_nodes(&[], &[]).is_empty());
    }
}
