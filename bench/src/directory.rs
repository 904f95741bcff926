//! The directory at scale (issue 12, item 7): `--nodes` nodes running the
//! node's own network code ([`Network::start`]) in this process, on
//! 127.0.0.1, each with its own practitioner card and node credential
//! ([`crate::fleet`]), joined through [`BOOTSTRAPS`] bootstrap nodes
//! (`public: true`); then lookups of random national ids from random nodes
//! ([`NetworkHandle::find`]), a quarter of the other nodes stopped
//! ([`NetworkHandle::shutdown`]), and the lookups repeated among the nodes
//! still running.
//!
//! A lookup succeeds when one of the records `find` returns names the
//! PeerId of the node that practitioner runs. Its time is from the call to
//! its return, found or not; [`IN_FLIGHT`] lookups run at once. Memory per
//! node is the growth of this process's resident set (`VmRSS`) from before
//! the first node started to after the first round of lookups, divided by
//! the number of nodes.
//!
//! With `RUST_LOG` set (e.g. `RUST_LOG=confrere_node=debug`) the nodes'
//! logs go to stderr.
//!
//! On loopback every node has the same IP address, so the stage lifts the
//! per-address caps of [`NetLimits`] (connections and handshakes from one
//! IP) to the node's totals; every other limit is the default.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use confrere_node::net::{system_now, NetConfig, NetEvent, Network, NetworkHandle};
use confrere_protocol::NationalId;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::figures::{median, ms, percentile};
use crate::fleet::{self, Member};

/// Bootstrap nodes every other node joins through.
pub(crate) const BOOTSTRAPS: usize = 3;

/// Lookups running at once.
pub(crate) const IN_FLIGHT: usize = 4;

/// Bound on one lookup.
const LOOKUP_LIMIT: Duration = Duration::from_secs(30);

/// Bound on waiting for the nodes to join: this, plus [`JOIN_PER_NODE`]
/// for each node.
const JOIN_BASE: Duration = Duration::from_secs(30);

/// See [`JOIN_BASE`].
const JOIN_PER_NODE: Duration = Duration::from_millis(250);

/// Bound on waiting, once joined, until [`READY_SAMPLE`] lookups in a row
/// all find their node (records are published in the background)
/// (`--quick`: a third).
pub(crate) const READY_LIMIT: Duration = Duration::from_secs(30);

/// Bound on starting new lookups in a round: past it the round ends with
/// the lookups made (those running finish, within [`LOOKUP_LIMIT`])
/// (`--quick`: a third).
pub(crate) const ROUND_LIMIT: Duration = Duration::from_secs(75);

/// Lookups of each readiness probe.
const READY_SAMPLE: usize = 10;

/// Bound on stopping one node.
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// Bound on the whole stage once the nodes are enrolled (each step has its
/// own bound; this one only guards against a hang).
const STAGE_LIMIT: Duration = Duration::from_secs(1200);

/// What the stage runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    /// Nodes in all, bootstrap nodes included.
    pub nodes: usize,
    /// Lookups per round.
    pub lookups: usize,
    /// Bound on the readiness probes ([`READY_LIMIT`]).
    pub ready_limit: Duration,
    /// Bound on starting lookups in a round ([`ROUND_LIMIT`]).
    pub round_limit: Duration,
}

/// One round of lookups.
#[derive(Clone, Debug, Default)]
pub(crate) struct Round {
    /// Nodes running during the round.
    pub live: usize,
    /// Lookups asked for.
    pub planned: usize,
    /// Lookups made (fewer than planned when the round's bound passed).
    pub lookups: usize,
    /// Lookups that returned a record naming the right node.
    pub found: usize,
    /// Lookups that returned records, none naming the right node.
    pub wrong: usize,
    /// Lookups that returned no record.
    pub missing: usize,
    /// Lookups that failed or ran past [`LOOKUP_LIMIT`].
    pub errors: usize,
    /// The first error, as `find` said it.
    pub first_error: Option<String>,
    /// Time of each lookup, in milliseconds.
    pub times_ms: Vec<f64>,
    /// The first [`MISSES_KEPT`] lookups that did not find their node:
    /// (node asking, node looked up, seconds into the round), nodes by
    /// index (the first [`BOOTSTRAPS`] are the bootstrap nodes).
    pub misses: Vec<(usize, usize, f64)>,
}

/// Misses a round keeps the detail of.
const MISSES_KEPT: usize = 20;

impl Round {
    /// Share of lookups that found their node, in percent.
    pub(crate) fn success_pct(&self) -> f64 {
        if self.lookups == 0 {
            0.0
        } else {
            100.0 * self.found as f64 / self.lookups as f64
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "live_nodes": self.live,
            "lookups_planned": self.planned,
            "lookups": self.lookups,
            "found": self.found,
            "wrong_node": self.wrong,
            "not_found": self.missing,
            "errors": self.errors,
            "first_error": self.first_error,
            "success_pct": self.success_pct(),
            "p50_ms": median(&self.times_ms),
            "p99_ms": percentile(&self.times_ms, 99.0),
            "p90_ms": percentile(&self.times_ms, 90.0),
            "over_1s": self.times_ms.iter().filter(|t| **t > 1000.0).count(),
            "max_ms": self.times_ms.iter().copied().fold(0.0, f64::max),
            "misses": self.misses.iter().map(|(from, to, at)| json!({
                "from": from, "to": to, "at_s": at,
            })).collect::<Vec<_>>(),
        })
    }
}

/// What the stage measured.
#[derive(Clone, Debug)]
pub(crate) struct Figures {
    /// Nodes started.
    pub nodes: usize,
    /// Of which bootstrap nodes.
    pub bootstraps: usize,
    /// Seconds to make the cards and homes.
    pub enroll_secs: f64,
    /// Seconds to start every node's network.
    pub start_secs: f64,
    /// Nodes that verified every bootstrap node within the bound.
    pub joined: usize,
    /// Seconds from the first start until they had.
    pub join_secs: f64,
    /// Seconds after joining until a probe of lookups all found their node
    /// (`None`: not within [`READY_LIMIT`]).
    pub ready_secs: Option<f64>,
    /// Lookups with every node running.
    pub before: Round,
    /// Nodes stopped.
    pub stopped: usize,
    /// Lookups among the nodes still running.
    pub after: Round,
    /// `VmRSS` before the first node started, bytes.
    pub rss_before: u64,
    /// `VmRSS` after the first round of lookups, bytes.
    pub rss_running: u64,
}

impl Figures {
    /// Resident memory per node, bytes.
    pub(crate) fn rss_per_node(&self) -> f64 {
        self.rss_running.saturating_sub(self.rss_before) as f64 / self.nodes.max(1) as f64
    }

    /// The figures as one JSON object (the `directory` part of `--json`).
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "nodes": self.nodes,
            "bootstraps": self.bootstraps,
            "lookups_in_flight": IN_FLIGHT,
            "enroll_s": self.enroll_secs,
            "start_s": self.start_secs,
            "joined": self.joined,
            "join_s": self.join_secs,
            "ready_s": self.ready_secs,
            "before_churn": self.before.to_json(),
            "stopped": self.stopped,
            "after_churn": self.after.to_json(),
            "rss_before_bytes": self.rss_before,
            "rss_running_bytes": self.rss_running,
            "rss_per_node_bytes": self.rss_per_node(),
        })
    }
}

/// Enrolls the nodes under `dir/directory`, runs the stage and removes
/// the homes.
pub(crate) fn measure(dir: &Path, plan: Plan) -> Result<Figures, String> {
    if plan.nodes <= BOOTSTRAPS {
        return Err(format!("--nodes must be above {BOOTSTRAPS}"));
    }
    if std::env::var_os("RUST_LOG").is_some() {
        // The nodes' own logs, to see why lookups fail.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let work = dir.join("directory");
    eprintln!(
        "[directory] enrolling {} practitioners (one TEST CA, RSA-2048 cards)",
        plan.nodes
    );
    let started = Instant::now();
    let members = fleet::enroll_all(&work, plan.nodes);
    let enroll_secs = started.elapsed().as_secs_f64();
    let result = members.and_then(|members| {
        confrere_node::net::limits::raise_fd_limit();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
        let result = rt.block_on(async {
            tokio::time::timeout(STAGE_LIMIT, run(&members, plan, enroll_secs))
                .await
                .unwrap_or_else(|_| {
                    Err(format!(
                        "the stage took more than {} s",
                        STAGE_LIMIT.as_secs()
                    ))
                })
        });
        rt.shutdown_timeout(Duration::from_secs(5));
        result
    });
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// A running node.
struct Node {
    handle: NetworkHandle,
    /// Peers its sessions verified, either direction.
    verified: Arc<Mutex<HashSet<PeerId>>>,
    live: bool,
}

impl Node {
    fn has_verified(&self, peers: &[PeerId]) -> bool {
        let mine = self.handle.local_peer_id();
        let v = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        peers.iter().all(|p| *p == mine || v.contains(p))
    }
}

/// Starts member `m`'s network on 127.0.0.1.
async fn start(m: &Member, bootstrap: Vec<Multiaddr>, public: bool) -> Result<Node, String> {
    let mut config = NetConfig::new(m.keypair.clone(), Arc::clone(&m.session), system_now);
    config.listen = vec![Multiaddr::empty()
        .with(Protocol::Ip4([127, 0, 0, 1].into()))
        .with(Protocol::Tcp(0))];
    config.mdns = false;
    config.bootstrap = bootstrap;
    config.public = public;
    // Every node is on 127.0.0.1: the per-address caps would count them
    // all as one practice.
    config.limits.max_connections_per_ip = config.limits.max_established;
    config.limits.max_handshakes_per_ip = config.limits.max_handshakes;
    let (handle, events) = Network::start(config)
        .await
        .map_err(|e| format!("cannot start node {}: {e}", m.national_id.as_str()))?;
    let verified = Arc::new(Mutex::new(HashSet::new()));
    tokio::spawn(watch(events, Arc::clone(&verified)));
    Ok(Node {
        handle,
        verified,
        live: true,
    })
}

/// Notes the peers a node's sessions verify; inbound channels are dropped
/// (closed).
async fn watch(mut events: mpsc::Receiver<NetEvent>, verified: Arc<Mutex<HashSet<PeerId>>>) {
    while let Some(event) = events.recv().await {
        if let NetEvent::Verified { peer, .. } = event {
            verified
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(peer);
        }
    }
}

/// A node's TCP address on 127.0.0.1 with its `/p2p/PEER_ID`.
fn address(node: &Node) -> Result<Multiaddr, String> {
    node.handle
        .listen_addrs()
        .into_iter()
        .next()
        .map(|a| a.with(Protocol::P2p(node.handle.local_peer_id())))
        .ok_or_else(|| "a bootstrap node listens nowhere".to_owned())
}

async fn run(members: &[Member], plan: Plan, enroll_secs: f64) -> Result<Figures, String> {
    let mut rng = Rng::from_clock();
    let rss_before = vm_rss().unwrap_or(0);
    eprintln!(
        "[directory] starting {} nodes ({BOOTSTRAPS} bootstrap) on 127.0.0.1 (enrolled in {enroll_secs:.1} s)",
        plan.nodes
    );
    let started = Instant::now();
    let mut nodes: Vec<Node> = Vec::with_capacity(members.len());
    let mut boot_addrs = Vec::new();
    let result = async {
        for m in &members[..BOOTSTRAPS] {
            let node = start(m, boot_addrs.clone(), true).await?;
            boot_addrs.push(address(&node)?);
            nodes.push(node);
        }
        for m in &members[BOOTSTRAPS..] {
            nodes.push(start(m, boot_addrs.clone(), false).await?);
        }
        let start_secs = started.elapsed().as_secs_f64();
        let boot_peers: Vec<PeerId> = members[..BOOTSTRAPS].iter().map(|m| m.peer).collect();
        let (joined, join_secs) = wait_joined(&nodes, &boot_peers, started).await;
        eprintln!(
            "[directory] {joined} of {} nodes joined in {join_secs:.1} s (started in {start_secs:.1} s)",
            nodes.len()
        );
        let ready_secs = wait_ready(&nodes, members, &mut rng, plan.ready_limit).await;
        match ready_secs {
            Some(s) => eprintln!("[directory] lookups find their nodes {s:.1} s after joining"),
            None => eprintln!(
                "[directory] lookups still miss nodes {} s after joining; measuring anyway",
                plan.ready_limit.as_secs()
            ),
        }
        eprintln!(
            "[directory] {} lookups, {IN_FLIGHT} at once, every node running",
            plan.lookups
        );
        let before = round(&nodes, members, plan.lookups, &mut rng, plan.round_limit).await;
        report_round(&before);
        let rss_running = vm_rss().unwrap_or(0);
        let stopped = churn(&mut nodes, &mut rng).await;
        eprintln!(
            "[directory] {stopped} nodes stopped; {} lookups among the {} still running",
            plan.lookups,
            nodes.iter().filter(|n| n.live).count()
        );
        let after = round(&nodes, members, plan.lookups, &mut rng, plan.round_limit).await;
        report_round(&after);
        Ok(Figures {
            nodes: nodes.len(),
            bootstraps: BOOTSTRAPS,
            enroll_secs,
            start_secs,
            joined,
            join_secs,
            ready_secs,
            before,
            stopped,
            after,
            rss_before,
            rss_running,
        })
    }
    .await;
    stop_all(&mut nodes).await;
    result
}

fn report_round(r: &Round) {
    eprintln!(
        "[directory] {} of {} lookups made: {} found, {} not found, {} another node only, {} failed; p50 {}, p99 {}",
        r.lookups,
        r.planned,
        r.found,
        r.missing,
        r.wrong,
        r.errors,
        median(&r.times_ms).map_or_else(|| "—".into(), ms),
        percentile(&r.times_ms, 99.0).map_or_else(|| "—".into(), ms),
    );
    for (from, to, at) in &r.misses {
        eprintln!(
            "[directory]   missed: node {from} looking up node {to}, {at:.1} s into the round"
        );
    }
}

/// Waits until every node verified every bootstrap node (or the bound);
/// how many did, and the seconds since `started`.
async fn wait_joined(nodes: &[Node], boot: &[PeerId], started: Instant) -> (usize, f64) {
    let limit = JOIN_BASE + JOIN_PER_NODE * u32::try_from(nodes.len()).unwrap_or(u32::MAX);
    loop {
        let joined = nodes.iter().filter(|n| n.has_verified(boot)).count();
        if joined == nodes.len() || started.elapsed() > limit {
            return (joined, started.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Probes with [`READY_SAMPLE`] lookups until all find their node; the
/// seconds it took, or `None` past `limit`.
async fn wait_ready(
    nodes: &[Node],
    members: &[Member],
    rng: &mut Rng,
    limit: Duration,
) -> Option<f64> {
    let started = Instant::now();
    while started.elapsed() < limit {
        let probe = round(nodes, members, READY_SAMPLE, rng, limit).await;
        if probe.found == probe.lookups {
            return Some(started.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    None
}

/// What one lookup gave.
enum Looked {
    Found,
    Wrong,
    Missing,
    Error(String),
}

/// `lookups` lookups between random distinct running nodes,
/// [`IN_FLIGHT`] at once.
async fn round(
    nodes: &[Node],
    members: &[Member],
    lookups: usize,
    rng: &mut Rng,
    limit: Duration,
) -> Round {
    let started = Instant::now();
    let live: Vec<usize> = (0..nodes.len()).filter(|i| nodes[*i].live).collect();
    let mut r = Round {
        live: live.len(),
        planned: lookups,
        ..Round::default()
    };
    if live.len() < 2 {
        return r;
    }
    let mut pairs = (0..lookups).map(|_| {
        let from = live[rng.below(live.len())];
        let mut to = from;
        while to == from {
            to = live[rng.below(live.len())];
        }
        (from, to)
    });
    let mut running = JoinSet::new();
    loop {
        while running.len() < IN_FLIGHT && started.elapsed() < limit {
            let Some((from, to)) = pairs.next() else {
                break;
            };
            let at = started.elapsed().as_secs_f64();
            let looking = lookup(
                nodes[from].handle.clone(),
                members[to].national_id.clone(),
                members[to].peer,
            );
            running.spawn(async move { (looking.await, (from, to, at)) });
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        r.lookups += 1;
        let ((looked, elapsed), pair) =
            done.unwrap_or_else(|e| ((Looked::Error(e.to_string()), 0.0), (0, 0, 0.0)));
        r.times_ms.push(elapsed);
        if !matches!(looked, Looked::Found) && r.misses.len() < MISSES_KEPT {
            r.misses.push(pair);
        }
        match looked {
            Looked::Found => r.found += 1,
            Looked::Wrong => r.wrong += 1,
            Looked::Missing => r.missing += 1,
            Looked::Error(e) => {
                r.errors += 1;
                r.first_error.get_or_insert(e);
            }
        }
    }
    r
}

/// Looks `nid` up from `from`: whether a record names `peer`, and the
/// milliseconds it took.
async fn lookup(from: NetworkHandle, nid: NationalId, peer: PeerId) -> (Looked, f64) {
    let started = Instant::now();
    let result = tokio::time::timeout(LOOKUP_LIMIT, from.find(&nid)).await;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    let looked = match result {
        Err(_) => Looked::Error(format!("no answer within {} s", LOOKUP_LIMIT.as_secs())),
        Ok(Err(e)) => Looked::Error(e.to_string()),
        Ok(Ok(records)) if records.is_empty() => Looked::Missing,
        Ok(Ok(records)) => {
            let want = peer.to_bytes();
            if records.iter().any(|r| r.peer_id() == want.as_slice()) {
                Looked::Found
            } else {
                Looked::Wrong
            }
        }
    };
    (looked, elapsed)
}

/// Stops a quarter of the nodes that are not bootstrap nodes, chosen at
/// random; how many.
async fn churn(nodes: &mut [Node], rng: &mut Rng) -> usize {
    let mut others: Vec<usize> = (BOOTSTRAPS..nodes.len()).collect();
    for i in (1..others.len()).rev() {
        others.swap(i, rng.below(i + 1));
    }
    let quarter = others.len() / 4;
    let mut stopping = JoinSet::new();
    for &i in &others[..quarter] {
        nodes[i].live = false;
        let handle = nodes[i].handle.clone();
        stopping.spawn(async move {
            let _ = tokio::time::timeout(STOP_LIMIT, handle.shutdown()).await;
        });
    }
    while stopping.join_next().await.is_some() {}
    quarter
}

async fn stop_all(nodes: &mut [Node]) {
    let mut stopping = JoinSet::new();
    for n in nodes.iter_mut().filter(|n| n.live) {
        n.live = false;
        let handle = n.handle.clone();
        stopping.spawn(async move {
            let _ = tokio::time::timeout(STOP_LIMIT, handle.shutdown()).await;
        });
    }
    while stopping.join_next().await.is_some() {}
}

/// This process's resident set (`VmRSS`), in bytes.
pub(crate) fn vm_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A small pseudo-random generator (splitmix64): which nodes look up
/// which need not be unpredictable, only spread.
struct Rng(u64);

impl Rng {
    fn from_clock() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        // The low bits vary most; truncation is what is wanted.
        #[allow(
            clippy::cast_possible_truncation,
            reason = "the low bits vary most: truncation is what is wanted"
        )]
        Rng(nanos as u64)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        let n64 = u64::try_from(n).unwrap_or(u64::MAX).max(1);
        usize::try_from(self.next() % n64).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_spreads_within_bounds() {
        let mut rng = Rng(7);
        let mut seen = [0usize; 5];
        for _ in 0..1000 {
            seen[rng.below(5)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 100), "{seen:?}");
    }

    #[test]
    fn rss_of_this_process() {
        assert!(vm_rss().is_some_and(|b| b > 0));
    }
}
