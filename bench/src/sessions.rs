//! Session set-up: two nodes' networks in this process on 127.0.0.1, one
//! dialling the other again and again, each time over a fresh connection:
//! TCP, libp2p's Noise and Yamux, the `/confrere/session/1` stream, the
//! Confrère Noise XX handshake with both node credentials verified (card
//! signature, chain to the TEST root, CRLs) and the responder's ready
//! message, until `open_channel` hands out a `SecureChannel` (whose
//! `VerifiedPeer` is the colleague). The connection is closed between
//! dials ([`NetworkHandle::disconnect`]) and not timed.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use confrere_node::home::Home;
use confrere_node::net::{system_now, NetConfig, NetEvent, Network, NetworkHandle};
use libp2p::Multiaddr;
use tokio::sync::mpsc;

/// Bound on the whole measurement.
const LIMIT: Duration = Duration::from_secs(600);

/// Dials `dials` times from the node of `home_a` to the node of `home_b`;
/// the duration of each, in milliseconds.
pub(crate) fn dial_times(home_a: &Path, home_b: &Path, dials: usize) -> Result<Vec<f64>, String> {
    let a = Home::open(home_a).map_err(|e| format!("cannot open {}: {e}", home_a.display()))?;
    let b = Home::open(home_b).map_err(|e| format!("cannot open {}: {e}", home_b.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
    rt.block_on(async {
        tokio::time::timeout(LIMIT, measure(a, b, dials))
            .await
            .unwrap_or_else(|_| Err(format!("the dials took more than {} s", LIMIT.as_secs())))
    })
}

async fn start(home: &Home) -> Result<NetworkHandle, String> {
    let mut config = NetConfig::new(
        home.libp2p.clone(),
        Arc::new(home.session_config()),
        system_now,
    );
    config.listen = vec!["/ip4/127.0.0.1/tcp/0"
        .parse::<Multiaddr>()
        .map_err(|e| e.to_string())?];
    config.mdns = false;
    let (handle, events) = Network::start(config)
        .await
        .map_err(|e| format!("cannot start a network: {e}"))?;
    tokio::spawn(drain(events));
    Ok(handle)
}

/// Reads the network's events; inbound channels are dropped (closed).
async fn drain(mut events: mpsc::Receiver<NetEvent>) {
    while let Some(event) = events.recv().await {
        drop(event);
    }
}

async fn measure(a: Home, b: Home, dials: usize) -> Result<Vec<f64>, String> {
    let net_a = start(&a).await?;
    let net_b = start(&b).await?;
    let peer_b = net_b.local_peer_id();
    let addrs_b = net_b.listen_addrs();
    let mut times = Vec::with_capacity(dials);
    // One dial first, not counted: lazily made state on either side.
    for i in 0..=dials {
        let started = Instant::now();
        let channel = net_a
            .open_channel(peer_b, addrs_b.clone())
            .await
            .map_err(|e| format!("dial {i} failed: {e}"))?;
        let elapsed = started.elapsed();
        if channel.peer().peer_id() != b.credential.peer_id() {
            return Err("the channel verified another node".into());
        }
        drop(channel);
        net_a
            .disconnect(peer_b)
            .await
            .map_err(|e| format!("closing connection {i} failed: {e}"))?;
        if i > 0 {
            times.push(elapsed.as_secs_f64() * 1000.0);
        }
    }
    net_a.shutdown().await;
    net_b.shutdown().await;
    Ok(times)
}
