//! The scene of the reach tests (tests/tests/reach*.rs): a [`Topology`]
//! with a public node on the internet (bootstrap, directory and relay, run
//! with `--public`) and practices behind their NAT routers, each node
//! enrolled with its own card and joined through the public node, with no
//! address typed anywhere else (no `peers add`).
//!
//! ```text
//!               internet: p (198.18.1.2, --public)   [x: another public host]
//!          /                       |                         \
//!   router a (port-preserving)   router b (port-preserving)   router c (symmetric)
//!   node a (10.2.0.2)            node b (10.3.0.2)            node c (10.4.0.2)
//! ```
//!
//! Dropping a [`Scene`] kills its nodes first (the end of each log is
//! printed if the test is failing), then removes the namespaces.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use super::node::{NsNode, Role};
use super::{NatKind, Topology};
use crate::{enroll, Card, Practitioner, TestPki};

/// Only one scene runs at a time in a test binary: a scene is half a dozen
/// daemons, and two at once on a shared 2-core machine would make the
/// timing of AutoNAT, relay reservations and hole punching a lottery.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The host name of the public node.
pub const PUBLIC: &str = "p";

/// A topology and the nodes running in it.
#[derive(Debug)]
pub struct Scene {
    // Field order is drop order: nodes, then namespaces, then the lock.
    nodes: BTreeMap<String, NsNode>,
    topo: Topology,
    dir: PathBuf,
    _turn: MutexGuard<'static, ()>,
}

impl Scene {
    /// Waits for the other scenes of this test binary to end, then builds
    /// the topology of `hosts` (the public node's host [`PUBLIC`] first,
    /// with [`NatKind::None`]); homes and logs go below `dir`.
    ///
    /// # Panics
    ///
    /// If the topology cannot be built.
    #[track_caller]
    pub fn build(dir: &Path, hosts: &[(&str, NatKind)]) -> Scene {
        // A test that failed while holding the lock poisons it; the next
        // scene still runs.
        let turn = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut builder = Topology::builder();
        for (name, nat) in hosts {
            builder = builder.host(name, *nat);
        }
        let topo = builder
            .build()
            .unwrap_or_else(|e| panic!("cannot build the topology: {e}"));
        Scene {
            nodes: BTreeMap::new(),
            topo,
            dir: dir.to_path_buf(),
            _turn: turn,
        }
    }

    /// The topology.
    pub fn topo(&self) -> &Topology {
        &self.topo
    }

    /// Enrolls a node for `card` on host `name` (trusting `trusted`, the
    /// card's issuer first) and starts it as `role` says (then [`Scene::node`] has it).
    ///
    /// # Panics
    ///
    /// If enrollment fails or the daemon does not start.
    #[track_caller]
    pub fn start(&mut self, name: &str, card: &Card, trusted: &[&TestPki], role: &Role) {
        let home = self.dir.join(name).join("home");
        if let Some(parent) = home.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("cannot make {}: {e}", parent.display()));
        }
        enroll(&home, card, trusted).code(0);
        let host = self.topo.host(name).clone();
        let log = self.dir.join(format!("{name}.log"));
        let node = NsNode::start(name, &host, &home, &log, role);
        self.nodes.insert(name.to_owned(), node);
    }

    /// Starts the public node on host [`PUBLIC`] (`--public`, no bootstrap).
    ///
    /// # Panics
    ///
    /// As [`Scene::start`].
    #[track_caller]
    pub fn start_public(&mut self, card: &Card, trusted: &[&TestPki]) {
        self.start(PUBLIC, card, trusted, &Role::public());
    }

    /// Starts a practice's node on host `name`, joining through the public
    /// node.
    ///
    /// # Panics
    ///
    /// As [`Scene::start`], or if the public node is not running.
    #[track_caller]
    pub fn start_practice(&mut self, name: &str, card: &Card, trusted: &[&TestPki]) {
        let role = Role::joining(&self.bootstrap());
        self.start(name, card, trusted, &role);
    }

    /// The public node's `/ip4/198.18.x.2/tcp/PORT/p2p/PEER_ID`.
    ///
    /// # Panics
    ///
    /// If it has not been started.
    #[track_caller]
    pub fn bootstrap(&self) -> String {
        self.node(PUBLIC).tcp_multiaddr()
    }

    /// Caps what public host `name` sends to `mbit` Mbit/s (a token bucket
    /// on its link to the internet), as a modest uplink would: a relayed
    /// transfer then lasts long enough to be interrupted on purpose.
    ///
    /// # Errors
    ///
    /// What `tc` said (it is part of iproute2; the kernel may lack the
    /// `tbf` queue).
    pub fn limit_uplink(&self, name: &str, mbit: u32) -> Result<(), String> {
        let host = self.topo.host(name);
        if host.router_ns().is_some() {
            return Err(format!("{name} is behind a router: cap the router instead"));
        }
        let mut tc = Command::new("tc");
        tc.args(["qdisc", "replace", "dev", "eth0", "root", "tbf", "rate"])
            .arg(format!("{mbit}mbit"))
            .args(["burst", "256kb", "latency", "200ms"]);
        let out = super::run_in(host.ns(), &tc);
        if out.code == Some(0) {
            Ok(())
        } else {
            Err(out.to_string())
        }
    }

    /// The node on host `name`.
    ///
    /// # Panics
    ///
    /// If none was started there.
    #[track_caller]
    pub fn node(&self, name: &str) -> &NsNode {
        self.nodes
            .get(name)
            .unwrap_or_else(|| panic!("no node started on {name:?}"))
    }

    /// The node on host `name`, to stop or restart it.
    ///
    /// # Panics
    ///
    /// If none was started there.
    #[track_caller]
    pub fn node_mut(&mut self, name: &str) -> &mut NsNode {
        self.nodes
            .get_mut(name)
            .unwrap_or_else(|| panic!("no node started on {name:?}"))
    }
}

/// The practitioner whose node is the public node of the scenes.
pub const RELAY_KEEPER: Practitioner<'static> = Practitioner {
    national_id: "810001000057",
    given: "ROGER",
    surname: "RELAIS",
    profession: 10,
    ecdsa: false,
};
