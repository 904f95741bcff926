//! A 64 MiB dossier from practice `a` to practice `c` (behind a symmetric
//! NAT, so only the relay reaches it) while the relay, the public node
//! `p`, is killed mid-transfer and started again with the same home on the
//! same address: the transfer resumes where the receiver stood, and the
//! dossier enters c's inbox once, with identical bytes. Topology and
//! scene: reach.rs.
//!
//! Needs root: without it the test prints `SKIPPED: …` and passes, unless
//! `CONFRERE_NETNS_REQUIRED` is set (scripts/test.sh sets it as root).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

mod reach_support;

use std::time::{Duration, Instant};

use confrere_tests::netns::scene::{Scene, PUBLIC};
use confrere_tests::netns::{self, NatKind};
use confrere_tests::{outbox_item, wait_delivered, wait_for, wait_queued_with_reason};
use reach_support::{
    assert_received_once, document, inbox_items, resumptions, send, start_nodes, wait_published,
    C_WHO,
};
use serde_json::Value;

/// The size of the document.
const SIZE: u64 = 64 * 1024 * 1024;
/// What p sends per second at most, so that the transfer lasts a few
/// seconds and can be caught under way (64 MiB: about 7 s).
const RELAY_MBIT: u32 = 80;
/// Sends tried before giving up on catching one under way.
const TRIES: u32 = 3;

#[test]
fn a_64_mib_dossier_through_the_relay_survives_the_relays_restart() {
    if !netns::skip_unless_available("a_64_mib_dossier_through_the_relay…") {
        return;
    }
    let started = Instant::now();
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
    wait_published(scene.node("a"), C_WHO.national_id);
    if let Err(e) = scene.limit_uplink(PUBLIC, RELAY_MBIT) {
        eprintln!("note: p's uplink is not capped, the transfer may be too fast to catch: {e}");
    }
    let (doc, sha) = document(&tmp.path().join("docs"), "irm.bin", SIZE, 0x00C0_FFEE);

    // Send, and catch the transfer between 10 % and 80 %; another send if
    // one was too fast to catch.
    let mut sent = Vec::new();
    let mut caught: Option<(String, Value)> = None;
    for attempt in 1..=TRIES {
        let a = scene.node("a");
        let id = send(a, C_WHO.national_id, "IRM", std::slice::from_ref(&doc));
        sent.push(id.clone());
        let seen = wait_for(
            "the relayed transfer to get under way",
            Duration::from_secs(180),
            Duration::from_millis(20),
            || {
                let item = outbox_item(a, &id).ok_or("not in the outbox")?;
                let done = item["sent_bytes"].as_u64().unwrap_or(0);
                let total = item["total_bytes"].as_u64().unwrap_or(u64::MAX);
                if item["state"] == "delivered" || done * 10 > total * 8 {
                    Ok(Err(item))
                } else if done * 10 >= total {
                    Ok(Ok(item))
                } else {
                    Err(item.to_string())
                }
            },
        );
        match seen {
            Ok(item) => {
                caught = Some((id, item));
                break;
            }
            Err(item) => eprintln!("try {attempt}: too fast to catch: {item}"),
        }
    }
    let (id, at_kill) = caught.expect("the transfer was never caught between 10 % and 80 %");
    scene.node_mut(PUBLIC).kill();
    let killed_at = Instant::now();
    eprintln!("p killed at {} of {SIZE} bytes", at_kill["sent_bytes"]);

    // a notices the circuit is gone and keeps the dossier queued.
    let waiting = wait_queued_with_reason(scene.node("a"), &id, Duration::from_secs(90));
    eprintln!("a after the kill: {waiting}");
    assert!(inbox_items(scene.node("c"), &id).is_empty());

    scene.node_mut(PUBLIC).restart();
    let (a, c) = (scene.node("a"), scene.node("c"));
    let delivered = wait_delivered(a, &id, Duration::from_secs(300));
    eprintln!(
        "delivered {:.1} s after the kill: {delivered}",
        killed_at.elapsed().as_secs_f64()
    );
    assert_eq!(delivered["sent_bytes"], delivered["total_bytes"]);

    // It resumed, from a chunk after the first.
    let short: String = id.chars().take(8).collect();
    let resumed = resumptions(&c.log_text(), &short);
    eprintln!("c resumed at (chunk, of) = {resumed:?}");
    let (chunk, of) = *resumed.first().unwrap_or_else(|| {
        panic!("c's log has no \"resuming a transfer\" for {short}: it started over")
    });
    assert!(chunk > 0 && chunk < of, "resumed at chunk {chunk} of {of}");

    // Once in c's inbox, with the very bytes sent; one item per send.
    assert_received_once(c, &id, "irm.bin", &sha, &tmp.path().join("opened"));
    for other in &sent {
        wait_delivered(a, other, Duration::from_secs(120));
        assert_eq!(inbox_items(c, other).len(), 1, "dossier {other}");
    }
    assert_eq!(confrere_tests::inbox(c).len(), sent.len());
    eprintln!(
        "relay restart test: {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}
