//! Reaching a colleague anywhere, across namespaces the test makes
//! (`confrere_tests::netns`): a public node `p` on the internet (bootstrap,
//! directory, relay), practices `a` and `b` each behind a port-preserving
//! NAT (hole punching works between them), practice `c` behind a symmetric
//! NAT that drops all unsolicited inbound traffic (only a relay reaches
//! it). Every node is enrolled under the same TEST CA and knows only the
//! public node's address: no `peers add` anywhere.
//!
//! - a sends to b by national id: delivered, directly after hole punching;
//! - a sends to c: delivered through the relay;
//! - a's uplink cut for 20 s: the dossier waits, then is delivered (and
//!   the same with b's uplink cut).
//!
//! reach_relay_restart.rs has the relay restarted mid-transfer,
//! reach_outsider.rs the impostor and the plain libp2p node.
//!
//! Needs root: without it each test prints `SKIPPED: …` and passes, unless
//! `CONFRERE_NETNS_REQUIRED` is set (scripts/test.sh sets it as root).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

mod reach_support;

use std::time::{Duration, Instant};

use confrere_tests::netns::scene::{Scene, PUBLIC};
use confrere_tests::netns::{self, NatKind};
use confrere_tests::{outbox_item, wait_delivered, SendCommand};
use reach_support::{
    assert_received_once, direct_flows, document, inbox_items, path_of, send, start_nodes,
    wait_published, B_WHO, C_WHO, DELIVERY_LIMIT, JOIN_LIMIT, PATIENT,
};

/// How long a's uplink stays cut.
const CUT: Duration = Duration::from_secs(20);

#[test]
fn a_sends_to_b_by_national_id_directly_after_hole_punching() {
    if !netns::skip_unless_available("a_sends_to_b_by_national_id_directly…") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut scene = Scene::build(
        tmp.path(),
        &[
            ("p", NatKind::None),
            ("a", NatKind::PortPreserving),
            ("b", NatKind::PortPreserving),
        ],
    );
    start_nodes(&mut scene, &["a", "b"]);
    let (a, b) = (scene.node("a"), scene.node("b"));
    let found = wait_published(a, B_WHO.national_id);
    eprintln!("a finds b: {found:?}");

    let (doc, sha) = document(&tmp.path().join("docs"), "ecg.pdf", 256 * 1024, 11);
    let id = send(a, B_WHO.national_id, "ECG", &[doc]);
    let item = wait_delivered(a, &id, DELIVERY_LIMIT);
    eprintln!("delivered: {item}");
    assert_received_once(b, &id, "ecg.pdf", &sha, &tmp.path().join("opened"));

    // The connection went straight from a's router to b's: the NAT of a
    // holds a connection to b's public address that carried traffic both
    // ways (a relayed one only ever goes to p). This holds whatever the
    // outbox says, and is the evidence when it says nothing.
    let b_public = scene.topo().public_addr("b");
    let flows = direct_flows(&scene, "a", b_public);
    assert!(
        !flows.is_empty(),
        "no direct connection from a's router to b ({b_public}): the dossier went through the relay\n{}",
        scene.topo().conntrack("a")
    );
    match path_of(&item) {
        Some(path) => {
            assert_ne!(path, "relayed", "{item}");
            assert!(
                path == "hole punched" || path == "direct",
                "unexpected path {path:?}: {item}"
            );
            if path != "hole punched" {
                eprintln!("note: the outbox says {path:?}, not \"hole punched\"");
            }
        }
        None => eprintln!(
            "note: the outbox has no \"path\"; the direct flow in a's NAT is the evidence: {flows:?}"
        ),
    }
}

#[test]
fn a_sends_to_c_behind_a_symmetric_nat_through_the_relay() {
    if !netns::skip_unless_available("a_sends_to_c_behind_a_symmetric_nat…") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut scene = Scene::build(
        tmp.path(),
        &[
            ("p", NatKind::None),
            ("a", NatKind::PortPreserving),
            ("c", NatKind::Symmetric),
        ],
    );
    start_nodes(&mut scene, &["a", "c"]);
    let (a, c) = (scene.node("a"), scene.node("c"));
    wait_published(a, C_WHO.national_id);

    // `status` says how each is reached, with full dialable addresses.
    let p = scene.node(PUBLIC);
    let p_status = p.wait_reachability(&["public"], JOIN_LIMIT);
    let p_addr = p.tcp_multiaddr();
    assert!(
        p_status["addresses"].to_string().contains(&p_addr),
        "p's status does not list {p_addr}: {p_status}"
    );
    let c_status = c.wait_reachability(&["relayed"], JOIN_LIMIT);
    let circuit = format!("{p_addr}/p2p-circuit/p2p/{}", c.peer_id());
    assert!(
        c_status["addresses"].to_string().contains(&circuit),
        "c's status does not list {circuit}: {c_status}"
    );
    assert!(
        c_status["bootstrap"].to_string().contains(&p_addr),
        "{c_status}"
    );

    let (doc, sha) = document(&tmp.path().join("docs"), "scanner.dcm", 512 * 1024, 12);
    let id = send(a, C_WHO.national_id, "Scanner", &[doc]);
    let item = wait_delivered(a, &id, DELIVERY_LIMIT);
    eprintln!("delivered: {item}");
    assert_received_once(c, &id, "scanner.dcm", &sha, &tmp.path().join("opened"));

    // c's symmetric NAT let no direct connection through: whatever
    // reached c went through p.
    let c_public = scene.topo().public_addr("c");
    let flows = direct_flows(&scene, "a", c_public);
    assert!(
        flows.is_empty(),
        "a direct connection through a symmetric NAT? {flows:?}"
    );
    match path_of(&item) {
        Some(path) => assert_eq!(path, "relayed", "{item}"),
        None => eprintln!(
            "note: the outbox has no \"path\"; no direct flow to c in a's NAT is the evidence"
        ),
    }
}

#[test]
fn a_dossier_sent_while_the_uplink_is_cut_waits_then_is_delivered() {
    if !netns::skip_unless_available("a_dossier_sent_while_the_uplink_is_cut…") {
        return;
    }
    dossier_waits_out_a_cut_uplink("a");
}

#[test]
fn a_dossier_sent_while_the_recipients_uplink_is_cut_waits_then_is_delivered() {
    if !netns::skip_unless_available("a_dossier_sent_while_the_recipients_uplink…") {
        return;
    }
    dossier_waits_out_a_cut_uplink("b");
}

/// a sends to b while `cut`'s uplink (a's or b's) is down for [`CUT`]:
/// the dossier waits in a's outbox, nothing arrives, and once the link is
/// back it is delivered, once, with identical bytes.
fn dossier_waits_out_a_cut_uplink(cut: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let mut scene = Scene::build(
        tmp.path(),
        &[
            ("p", NatKind::None),
            ("a", NatKind::PortPreserving),
            ("b", NatKind::PortPreserving),
        ],
    );
    start_nodes(&mut scene, &["a", "b"]);
    wait_published(scene.node("a"), B_WHO.national_id);

    scene.topo().set_link(cut, false);
    let cut_at = Instant::now();
    let (a, b) = (scene.node("a"), scene.node("b"));
    let (doc, sha) = document(&tmp.path().join("docs"), "bilan.pdf", 128 * 1024, 13);
    // a found b a moment ago: the send is accepted even though a cannot
    // ask the directory now, and the dossier waits for the link.
    let send_at = Instant::now();
    let out = SendCommand {
        to: B_WHO.national_id,
        patient: PATIENT,
        reason: "Bilan",
        urgent: false,
        letter: None,
        files: vec![doc],
    }
    .run(a);
    assert_eq!(
        out.code,
        Some(0),
        "a send while {cut}'s uplink is cut was refused instead of waiting\n{out}"
    );
    let id = out.json()["id"].as_str().unwrap().to_owned();

    // It waits in the outbox (queued, or a try under way) for as long as
    // the link is down, and nothing arrives.
    eprintln!(
        "the send took {:.1} s with {cut}'s uplink cut",
        send_at.elapsed().as_secs_f64()
    );
    // The link stays down for CUT, and at least until the dossier was seen
    // waiting a few times (a send that took the whole cut).
    let mut seen = Vec::new();
    let mut checks = 0;
    while cut_at.elapsed() < CUT || checks < 3 {
        checks += 1;
        let item = outbox_item(a, &id).unwrap();
        let state = item["state"].as_str().unwrap_or_default().to_owned();
        assert!(
            state == "queued" || state == "sending",
            "while {cut} is cut off: {item}"
        );
        if let Some(e) = item["last_error"].as_str() {
            if !seen.iter().any(|s: &String| s == e) {
                seen.push(e.to_owned());
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!("reasons given while {cut} was cut off: {seen:?}");
    assert!(inbox_items(b, &id).is_empty());

    scene.topo().set_link(cut, true);
    let restored_at = Instant::now();
    // Backoff (at most a minute between tries) plus rejoining the network.
    let item = wait_delivered(a, &id, DELIVERY_LIMIT + Duration::from_secs(60));
    eprintln!(
        "delivered {:.1} s after {cut}'s link came back: {item}",
        restored_at.elapsed().as_secs_f64()
    );
    assert_received_once(b, &id, "bilan.pdf", &sha, &tmp.path().join("opened"));
}
