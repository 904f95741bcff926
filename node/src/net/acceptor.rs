//! The task that answers incoming session streams: each admitted stream
//! (see [`admission`](super::admission)) runs its responder handshake in a
//! task of its own; a stream with no room is dropped (reset) at once,
//! before the handshake's second message, which the initiator reads as
//! "busy" ([`ChannelError::Busy`](super::ChannelError::Busy)).
//!
//! libp2p-stream queues one new stream at a time and drops those that
//! arrive while the queue is full: the loop does no more than the
//! admission check per stream, so that it is always ready for the next.

use std::sync::Arc;
use std::time::Duration;

use confrere_protocol::UnixTime;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::admission::Admission;
use super::budget::MemoryBudget;
use super::channel::{self, ChannelTimeouts};
use super::handle::{NetEvent, Notices};
use super::live::LiveSession;
use super::per_ip::PeerIps;
use super::short_peer;

/// How often refusals are summed up in the log at warn level.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// What the acceptor needs.
pub(super) struct Acceptor {
    pub(super) session: Arc<LiveSession>,
    pub(super) now: fn() -> UnixTime,
    pub(super) timeouts: ChannelTimeouts,
    pub(super) events: mpsc::Sender<NetEvent>,
    pub(super) notices: Notices,
    pub(super) admission: Admission,
    pub(super) peer_ips: PeerIps,
    pub(super) budget: MemoryBudget,
}

impl Acceptor {
    /// Answers every incoming session stream until the network stops.
    pub(super) async fn run(self, mut incoming: libp2p_stream::IncomingStreams) {
        let mut refused = 0u64;
        let mut last_warn: Option<Instant> = None;
        while let Some((peer, stream)) = incoming.next().await {
            let ip = self.peer_ips.of(&peer);
            let admitted = match self.admission.admit(peer, ip) {
                Ok(admitted) => admitted,
                Err(busy) => {
                    refused += 1;
                    tracing::debug!(peer = %short_peer(&peer), reason = %busy, "session stream refused: busy");
                    if last_warn.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                        tracing::warn!(
                            refused,
                            last_reason = %busy,
                            "session streams refused for want of room (a flood, or too many colleagues at once)"
                        );
                        refused = 0;
                        last_warn = Some(Instant::now());
                    }
                    drop(stream);
                    continue;
                }
            };
            let session = self.session.current();
            let live = self.session.subscribe();
            let events = self.events.clone();
            let notices = self.notices.clone();
            let admission = self.admission.clone();
            let budget = self.budget.clone();
            let (now, timeouts) = (self.now, self.timeouts);
            tokio::spawn(async move {
                let result = channel::accept_with(stream, &session, peer, now, timeouts).await;
                drop(admitted.handshake);
                let event = match result {
                    Ok(mut channel) => {
                        channel.set_budget(budget);
                        channel.hold(admitted.session);
                        channel.watch_trust(live);
                        admission.mark_known(peer);
                        notices.verified(&channel);
                        NetEvent::Inbound(channel)
                    }
                    // `accept_with` has logged the refusal.
                    Err(e) => NetEvent::Refused {
                        peer,
                        reason: e.to_string(),
                    },
                };
                let _ = events.send(event).await;
            });
        }
    }
}
