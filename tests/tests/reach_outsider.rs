//! The directory is closed to outsiders (topology and scene: reach.rs):
//!
//! - a node on the internet enrolled under an impostor CA with b's national
//!   id, joining through the public node `p`, tries to publish a record for
//!   b: a's `peers find` shows only b's node, a's dossier reaches only b,
//!   the impostor receives nothing;
//! - a plain libp2p node with no credential (src/bin/kad_probe.rs) asks
//!   `p` over Kademlia for b's record and for peers: it gets nothing, while
//!   a verified node finds b.
//!
//! Needs root: without it each test prints `SKIPPED: …` and passes, unless
//! `CONFRERE_NETNS_REQUIRED` is set (scripts/test.sh sets it as root).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

mod reach_support;

use std::process::Command;
use std::time::{Duration, Instant};

use confrere_tests::netns::node::Role;
use confrere_tests::netns::scene::{Scene, PUBLIC};
use confrere_tests::netns::{self, NatKind};
use confrere_tests::{inbox, wait_delivered};
use reach_support::{
    assert_received_once, document, impostor_pki, pki, send, start_nodes, wait_published, B_WHO,
    DELIVERY_LIMIT,
};
use serde_json::Value;

/// How long the impostor is given to reach `p` before a sends.
const IMPOSTOR_LIMIT: Duration = Duration::from_secs(60);

/// The 8 characters of a PeerId the node's logs show (after `12D3KooW`).
fn short_peer(peer: &str) -> String {
    peer.strip_prefix("12D3KooW")
        .unwrap_or(peer)
        .chars()
        .take(8)
        .collect()
}

#[test]
fn an_impostor_publishing_for_b_is_ignored_and_the_dossier_reaches_only_b() {
    if !netns::skip_unless_available("an_impostor_publishing_for_b…") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut scene = Scene::build(
        tmp.path(),
        &[
            ("p", NatKind::None),
            ("a", NatKind::PortPreserving),
            ("b", NatKind::PortPreserving),
            ("x", NatKind::None),
        ],
    );
    start_nodes(&mut scene, &["a", "b"]);
    // The impostor: b's national id on a card of another CA, trusting
    // both CAs (so nothing on its side stops it), public, joining via p.
    let fake = impostor_pki().issue(&B_WHO, &tmp.path().join("card-impostor"));
    let role = Role {
        public: true,
        bootstrap: vec![scene.bootstrap()],
    };
    scene.start("x", &fake, &[impostor_pki(), pki()], &role);
    let x_peer = scene.node("x").peer_id().to_owned();
    let b_peer = scene.node("b").peer_id().to_owned();

    // Give it its chance: wait until p has heard from it (p's log names
    // it when it refuses its session), or a minute.
    let short = short_peer(&x_peer);
    let start = Instant::now();
    let mut heard = false;
    while start.elapsed() < IMPOSTOR_LIMIT {
        if scene.node(PUBLIC).log_text().contains(&short) {
            heard = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    if !heard {
        eprintln!("note: p's log never names the impostor {short} (waited a minute)");
    }

    let a = scene.node("a");
    let found = wait_published(a, B_WHO.national_id);
    eprintln!("a finds b's national id at: {found:?}");
    assert!(
        found.iter().all(|f| f.peer_id == b_peer),
        "a's `peers find` shows a node other than b's ({b_peer}); the impostor is {x_peer}: {found:?}"
    );

    let (doc, sha) = document(&tmp.path().join("docs"), "compte-rendu.pdf", 64 * 1024, 21);
    let id = send(a, B_WHO.national_id, "Compte rendu", &[doc]);
    let item = wait_delivered(a, &id, DELIVERY_LIMIT);
    eprintln!("delivered: {item}");
    assert_received_once(
        scene.node("b"),
        &id,
        "compte-rendu.pdf",
        &sha,
        &tmp.path().join("opened"),
    );
    let x_inbox = inbox(scene.node("x"));
    assert!(x_inbox.is_empty(), "the impostor received: {x_inbox:?}");
    // And after the delivery, still only b.
    let again = a.found(B_WHO.national_id).unwrap();
    assert!(again.iter().all(|f| f.peer_id == b_peer), "{again:?}");
}

#[test]
fn a_libp2p_node_without_a_credential_gets_nothing_from_the_directory() {
    if !netns::skip_unless_available("a_libp2p_node_without_a_credential…") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut scene = Scene::build(
        tmp.path(),
        &[
            ("p", NatKind::None),
            ("a", NatKind::PortPreserving),
            ("b", NatKind::PortPreserving),
            ("o", NatKind::None),
        ],
    );
    start_nodes(&mut scene, &["a", "b"]);
    // The directory does hold b's record: a verified node finds it.
    let found = wait_published(scene.node("a"), B_WHO.national_id);
    let b_peer = scene.node("b").peer_id().to_owned();
    assert!(found.iter().any(|f| f.peer_id == b_peer), "{found:?}");

    let mut probe = Command::new(env!("CARGO_BIN_EXE_kad-probe"));
    probe.arg(scene.bootstrap()).arg(B_WHO.national_id).args([
        "--find-peer",
        &b_peer,
        "--timeout-secs",
        "10",
    ]);
    let out = netns::run_in_with_limit(scene.topo().ns("o"), &probe, Duration::from_secs(90));
    eprintln!("kad-probe: {out}");
    assert_eq!(out.code, Some(0), "the probe could not ask p\n{out}");
    let seen: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(seen["connected"], true, "{seen}");
    assert_eq!(seen["records"], 0, "an outsider got b's record: {seen}");
    assert_eq!(seen["peers"], 0, "an outsider learnt peers: {seen}");
    if seen["kad_listed"] != true {
        eprintln!("note: p does not list /confrere/kad/1 to the outsider: {seen}");
    }
}
