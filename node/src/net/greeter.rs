//! Joining the directory: a session with each bootstrap node.
//!
//! A node proves its credential to each bootstrap node (and they to it) on
//! a Confrère session, so that each lets the other into its routing table
//! and, for a node behind NAT, holds a relay slot for it. Done at start,
//! again every [`REGREET`] while connected, sooner after a failure
//! ([`RETRY`]), and at once when the last connection to a bootstrap node
//! closes.

use std::sync::Arc;
use std::time::Duration;

use libp2p::Multiaddr;
use tokio::sync::Notify;

use super::handle::NetworkHandle;

/// Pause between greetings when every bootstrap node answered.
const REGREET: Duration = Duration::from_secs(60);

/// Pause after a bootstrap node could not be reached.
const RETRY: Duration = Duration::from_secs(5);

/// Pause after a connection to a bootstrap node closed, before greeting
/// again (a restarting node needs a moment to listen).
const AFTER_CLOSE: Duration = Duration::from_secs(1);

/// Greets the bootstrap nodes until the network stops. Holds `handle`
/// only while greeting, weakly otherwise, so that it never keeps a
/// network alive that every user dropped.
pub(super) async fn greet_bootstrap(
    handle: NetworkHandle,
    bootstrap: Vec<Multiaddr>,
    wake: Arc<Notify>,
) {
    let weak = handle.commands.downgrade();
    let mut template = handle;
    // Drop the strong sender the template holds.
    template.commands = tokio::sync::mpsc::channel(1).0;
    loop {
        let mut all_ok = true;
        for addr in &bootstrap {
            let Some(commands) = weak.upgrade() else {
                return;
            };
            let mut h = template.clone();
            h.commands = commands;
            match h.open_channel_addr(addr.clone()).await {
                Ok(ch) => {
                    let _ = ch.close().await;
                }
                Err(e) => {
                    all_ok = false;
                    tracing::warn!(%addr, error = %e, "cannot reach a bootstrap node");
                }
            }
        }
        let pause = if all_ok { REGREET } else { RETRY };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = wake.notified() => tokio::time::sleep(AFTER_CLOSE).await,
        }
        if weak.upgrade().is_none() {
            return;
        }
    }
}
