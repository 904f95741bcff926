//! The harness of the reach tests (`confrere_tests::netns::node` and
//! `scene`): a `confrere run` daemon inside a host's namespace listens
//! there (not in the test's namespace), answers the command line run from
//! the test's namespace through its home's socket, comes back on the same
//! address after a restart, and is gone once the scene is dropped.
//!
//! Needs root: without it the test prints `SKIPPED: …` and passes, unless
//! `CONFRERE_NETNS_REQUIRED` is set (scripts/test.sh sets it as root).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::process::Command;
use std::time::Duration;

use confrere_tests::netns::node::{Role, NODE_PORT};
use confrere_tests::netns::scene::{Scene, RELAY_KEEPER};
use confrere_tests::netns::{self, NatKind};
use confrere_tests::{scratch_run_dir, TestPki};

#[test]
fn a_node_runs_in_its_namespace_and_answers_the_command_line_from_outside() {
    if !netns::skip_unless_available("a_node_runs_in_its_namespace…") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let shared = scratch_run_dir(
        &std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-netns-node"),
    );
    let pki = TestPki::init(&shared.join("pki"));
    let card = pki.issue(&RELAY_KEEPER, &shared.join("card"));
    let prefix;
    let pid;
    {
        let mut scene = Scene::build(tmp.path(), &[("p", NatKind::None)]);
        prefix = scene.topo().prefix().to_owned();
        // No role flags: this harness test runs with any `confrere run`.
        scene.start("p", &card, &[&pki], &Role::default());
        let node = scene.node("p");
        pid = node.pid().unwrap();
        let status = node.status();
        assert_eq!(status["peer_id"], node.peer_id(), "{status}");
        let status_text = status.to_string();
        assert!(
            status_text.contains(&format!("/tcp/{NODE_PORT}")),
            "listens on {NODE_PORT}: {status_text}"
        );

        // Listening in p's namespace, on p's address: a libp2p node in the
        // internet namespace connects to it there.
        let mut probe = Command::new(env!("CARGO_BIN_EXE_kad-probe"));
        probe
            .arg(node.tcp_multiaddr())
            .arg(RELAY_KEEPER.national_id)
            .args(["--timeout-secs", "3"]);
        let out =
            netns::run_in_with_limit(scene.topo().internet_ns(), &probe, Duration::from_secs(30));
        assert_eq!(out.code, Some(0), "{out}");
        assert!(out.stdout.contains("\"connected\":true"), "{out}");

        // Killed and restarted: same home, namespace, port and peer id.
        let peer = node.peer_id().to_owned();
        let node = scene.node_mut("p");
        node.kill();
        node.restart();
        assert_eq!(node.peer_id(), peer);
        assert_ne!(node.pid(), Some(pid));
        let out =
            netns::run_in_with_limit(scene.topo().internet_ns(), &probe, Duration::from_secs(20));
        assert_eq!(out.code, Some(0), "after the restart\n{out}");
    }
    // The scene is gone, and its daemons with it.
    let left: Vec<String> = netns::list_namespaces()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(stat.is_empty() || stat.contains(") Z "), "{stat}");
}
