//! What the reach tests (reach.rs, reach_relay_restart.rs,
//! reach_outsider.rs) share: the TEST PKIs and cards, the patient, sending
//! a document and checking that the very bytes arrived, and the bounds of
//! their waits.
#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "test support: shared by several test files (each uses part of it), and a test fails at the first unexpected value"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use confrere_tests::netns::node::{Found, NsNode};
use confrere_tests::netns::scene::{Scene, RELAY_KEEPER};
use confrere_tests::{
    inbox, scratch_run_dir, sha256_file, Card, Daemon, PatientArgs, Practitioner, SendCommand,
    TestPki, CARDIOLOGIST, GP, RADIOLOGIST,
};
use serde_json::Value;

/// How long a practice's node may take to publish a relayed address that
/// others find: start, session with the bootstrap node, AutoNAT deciding
/// it is behind NAT, a relay reservation, then the record stored.
pub(crate) const JOIN_LIMIT: Duration = Duration::from_secs(120);
/// How long a small dossier may take to arrive once its recipient is
/// known (hole punching or a relay circuit first).
pub(crate) const DELIVERY_LIMIT: Duration = Duration::from_secs(120);

pub(crate) const PATIENT: PatientArgs<'static> = PatientArgs {
    ins: "285057512345623",
    family: "ZQWXYTEST",
    given: "Hortensia-Quivqa",
    birth_date: "1985-05-12",
    sex: "F",
};

/// Practice A's practitioner (the sender).
pub(crate) const A_WHO: Practitioner<'static> = GP;
/// Practice B's (behind a port-preserving NAT).
pub(crate) const B_WHO: Practitioner<'static> = CARDIOLOGIST;
/// Practice C's (behind a symmetric NAT).
pub(crate) const C_WHO: Practitioner<'static> = RADIOLOGIST;

/// What one test binary's scenes share: PKIs and cards.
pub(crate) fn shared_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-reach"))
    })
}

/// The TEST PKI every honest node is enrolled under and trusts.
pub(crate) fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::init(&shared_dir().join("pki")))
}

/// Another TEST PKI, which honest nodes do not trust.
pub(crate) fn impostor_pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::init(&shared_dir().join("impostor-pki")))
}

/// The card of `who` under the honest PKI (issued once per test binary).
pub(crate) fn card(who: &Practitioner<'_>) -> Card {
    let dir = shared_dir().join(format!("card-{}", who.national_id));
    if dir.join("cert.pem").exists() {
        return Card { dir };
    }
    pki().issue(who, &dir)
}

/// Starts the public node and the practices `names` (of `a`, `b`, `c`)
/// in `scene`.
pub(crate) fn start_nodes(scene: &mut Scene, names: &[&str]) {
    scene.start_public(&card(&RELAY_KEEPER), &[pki()]);
    for name in names {
        let who = match *name {
            "a" => A_WHO,
            "b" => B_WHO,
            "c" => C_WHO,
            other => panic!("no practitioner for practice {other}"),
        };
        scene.start_practice(name, &card(&who), &[pki()]);
    }
}

/// Waits until `finder` finds `national_id` in the directory with a
/// relayed address (the practice is behind NAT, so that is the address it
/// can be reached on) and returns the records.
#[track_caller]
pub(crate) fn wait_published(finder: &NsNode, national_id: &str) -> Vec<Found> {
    let start = std::time::Instant::now();
    let found = finder.wait_found(national_id, JOIN_LIMIT, |found| {
        found.iter().any(Found::relayed)
    });
    eprintln!(
        "{} found {national_id} after {:.1} s",
        finder.label(),
        start.elapsed().as_secs_f64()
    );
    found
}

/// Sends `files` from `from` to `to` by national id; returns the dossier id.
#[track_caller]
pub(crate) fn send(from: &Daemon, to: &str, reason: &str, files: &[PathBuf]) -> String {
    SendCommand {
        to,
        patient: PATIENT,
        reason,
        urgent: false,
        letter: None,
        files: files.to_vec(),
    }
    .sent(from)
}

/// The inbox items of `node` with dossier id `id`.
pub(crate) fn inbox_items(node: &Daemon, id: &str) -> Vec<Value> {
    inbox(node).into_iter().filter(|i| i["id"] == id).collect()
}

/// Asserts that `node`'s inbox holds dossier `id` exactly once, with one
/// document whose opened bytes hash to `sha256`.
#[track_caller]
pub(crate) fn assert_received_once(
    node: &Daemon,
    id: &str,
    file_name: &str,
    sha256: &str,
    out: &Path,
) {
    let items = inbox_items(node, id);
    assert_eq!(
        items.len(),
        1,
        "{} holds {id} once: {items:?}",
        node.label()
    );
    assert_eq!(items[0]["documents"][0]["sha256"], sha256, "{}", items[0]);
    let opened = node.json([
        "inbox".as_ref(),
        "open".as_ref(),
        id.as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(
        opened["files"].as_array().map(Vec::len),
        Some(1),
        "{opened}"
    );
    let copy = out.join(file_name);
    assert_eq!(
        sha256_file(&copy),
        sha256,
        "the document {} opened differs from the one sent",
        node.label()
    );
}

/// The `path` an outbox item took, if the outbox says.
pub(crate) fn path_of(item: &Value) -> Option<&str> {
    item["path"].as_str()
}

/// The connections in the conntrack table of `practice`'s router that
/// involve `peer_addr` and carried traffic both ways (`[ASSURED]`): a
/// direct connection between the two, through the NAT.
pub(crate) fn direct_flows(
    scene: &Scene,
    practice: &str,
    peer_addr: std::net::Ipv4Addr,
) -> Vec<String> {
    let table = scene.topo().conntrack(practice);
    let dst = format!("dst={peer_addr} ");
    let src = format!("src={peer_addr} ");
    table
        .lines()
        .filter(|l| (l.contains(&dst) || l.contains(&src)) && l.contains("[ASSURED]"))
        .map(str::to_owned)
        .collect()
}

/// Writes a `len`-byte document called `name` below `dir`; returns its
/// path and SHA-256.
pub(crate) fn document(dir: &Path, name: &str, len: u64, seed: u64) -> (PathBuf, String) {
    fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    confrere_tests::write_pseudo_random(&path, len, seed);
    let sha = sha256_file(&path);
    (path, sha)
}

/// `(chunk, of)` of the receiver's "resuming a transfer" log lines for the
/// dossier whose id starts with `short`.
pub(crate) fn resumptions(log: &str, short: &str) -> Vec<(u64, u64)> {
    log.lines()
        .filter(|l| l.contains("resuming a transfer") && l.contains(&format!("dossier={short}")))
        .filter_map(|l| {
            let field = |name: &str| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix(name))
                    .and_then(|v| v.trim_matches('"').parse::<u64>().ok())
            };
            Some((field("chunk=")?, field("of=")?))
        })
        .collect()
}
