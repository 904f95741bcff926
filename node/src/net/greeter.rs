//! Joining the directory: a session with each bootstrap node, and with
//! each node whose request the gate holds (see [`super::gate`]).
//!
//! A node proves its credential to each bootstrap node (and they to it) on
//! a Confrère session, so that each lets the other into its routing table
//! and, for a node behind NAT, holds a relay slot for it. Done at start,
//! again every [`REGREET`] while connected, sooner after a failure
//! ([`RETRY`]), and at once when the last connection to a bootstrap node
//! closes.

use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;

use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, Notify, Semaphore};

use super::handle::NetworkHandle;

/// Pause between greetings when every bootstrap node answered.
const REGREET: Duration = Duration::from_secs(60);

/// Pause after a bootstrap node could not be reached.
const RETRY: Duration = Duration::from_secs(5);

/// Pause after a connection to a bootstrap node closed, before greeting
/// again (a restarting node needs a moment to listen).
const AFTER_CLOSE: Duration = Duration::from_secs(1);

/// A handle that holds the network only weakly: a template whose command
/// sender is a dead one, and the weak sender to upgrade for each use.
fn weakly(handle: NetworkHandle) -> (NetworkHandle, mpsc::WeakSender<super::handle::Command>) {
    let weak = handle.commands.downgrade();
    let mut template = handle;
    template.commands = mpsc::channel(1).0;
    (template, weak)
}

/// `template` with a live command sender, or `None` once the network is
/// gone.
fn upgraded(
    template: &NetworkHandle,
    weak: &mpsc::WeakSender<super::handle::Command>,
) -> Option<NetworkHandle> {
    let mut h = template.clone();
    h.commands = weak.upgrade()?;
    Some(h)
}

/// A peer whose session failed is not tried again before this.
const RETRY_ASKED: Duration = Duration::from_secs(60);

/// Wait before opening a session for the gate, in case one under way
/// verifies the peer first.
const ASK_SETTLE: Duration = Duration::from_secs(1);

/// Sessions opened at once for the gate.
const ASKED_AT_ONCE: usize = 8;

/// Peers remembered as recently tried.
const MAX_TRIED: usize = 4096;

/// Opens a session to each peer the gate asks for (each at most once per
/// [`RETRY_ASKED`], [`ASKED_AT_ONCE`] at a time), until the network stops.
/// A session verifies both ends: the held requests then pass on both.
pub(super) async fn verify_asked(
    handle: NetworkHandle,
    mut asked: mpsc::UnboundedReceiver<PeerId>,
) {
    let (template, weak) = weakly(handle);
    let slots = std::sync::Arc::new(Semaphore::new(ASKED_AT_ONCE));
    let mut tried: HashMap<PeerId, tokio::time::Instant> = HashMap::new();
    while let Some(peer) = asked.recv().await {
        let now = tokio::time::Instant::now();
        if tried
            .get(&peer)
            .is_some_and(|t| now.duration_since(*t) < RETRY_ASKED)
        {
            continue;
        }
        // All slots busy: this request is dropped; the peer's next one
        // asks again.
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            continue;
        };
        if tried.len() >= MAX_TRIED {
            tried.retain(|_, t| now.duration_since(*t) < RETRY_ASKED);
        }
        tried.insert(peer, now);
        let Some(h) = upgraded(&template, &weak) else {
            return;
        };
        tokio::spawn(async move {
            // A session under way (the peer's own, or one this node opens)
            // often verifies the peer within moments: no second one then.
            tokio::time::sleep(ASK_SETTLE).await;
            if h.notices.verified.contains(&peer) {
                return;
            }
            match h.open_channel(peer, Vec::new()).await {
                Ok(ch) => {
                    let _ = ch.close().await;
                }
                Err(e) => {
                    tracing::debug!(peer = %super::short_peer(&peer), error = %e, "a node asking the directory could not be verified")
                }
            }
            drop(permit);
        });
    }
}

/// Greets the bootstrap nodes until the network stops. Holds `handle`
/// only while greeting, weakly otherwise, so that it never keeps a
/// network alive that every user dropped.
pub(super) async fn greet_bootstrap(
    handle: NetworkHandle,
    bootstrap: Vec<Multiaddr>,
    wake: Arc<Notify>,
) {
    let (template, weak) = weakly(handle);
    loop {
        let mut all_ok = true;
        for addr in &bootstrap {
            let Some(h) = upgraded(&template, &weak) else {
                return;
            };
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
