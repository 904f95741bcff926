//! Kill -9 of the receiving node in the middle of a 200 MiB transfer, then
//! a restart on the same address: the transfer completes, resumes where
//! the receiver stood (not from zero), and the dossier enters the inbox
//! exactly once, with identical bytes (issue 3, "Done when").
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use confrere_tests::{
    enroll, free_port, inbox, outbox_item, scratch_run_dir, sha256_file, wait_delivered, wait_for,
    wait_queued_with_reason, write_pseudo_random, Card, Daemon, PatientArgs, Practitioner,
    SendCommand, TestPki, CARDIOLOGIST, GP,
};
use serde_json::Value;

const PATIENT: PatientArgs<'static> = PatientArgs {
    ins: "285057512345623",
    family: "ZQWXYTEST",
    given: "Hortensia-Quivqa",
    birth_date: "1985-05-12",
    sex: "F",
};

/// The size of the document.
const SIZE: u64 = 200 * 1024 * 1024;

fn shared_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-nodes-resume"))
    })
}

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::init(&shared_dir().join("pki")))
}

fn node(dir: &Path, label: &str, who: &Practitioner<'_>) -> Daemon {
    let card: Card = pki().issue(who, &dir.join(format!("card-{label}")));
    let home = dir.join(label).join("home");
    fs::create_dir_all(home.parent().unwrap()).unwrap();
    enroll(&home, &card, &[pki()]).code(0);
    Daemon::start(label, &home, free_port(), &dir.join(format!("{label}.log")))
}

/// `(chunk, of)` of the receiver's "resuming a transfer" lines for the
/// dossier whose id starts with `short`.
fn resumptions(log: &str, short: &str) -> Vec<(u64, u64)> {
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

#[test]
fn a_receiver_killed_mid_transfer_resumes_where_it_stood_and_receives_once() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let gp = node(dir, "gp", &GP);
    let mut cardio = node(dir, "cardiologist", &CARDIOLOGIST);
    let entry = gp.json(["peers", "add", &cardio.multiaddr()]);
    assert_eq!(entry["national_id"], CARDIOLOGIST.national_id, "{entry}");

    let t = Instant::now();
    let big = dir.join("irm-cardiaque.bin");
    write_pseudo_random(&big, SIZE, 0x0C0F_FEE0);
    let original = sha256_file(&big);
    eprintln!(
        "200 MiB generated and hashed in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Send, and catch the transfer between 25 % and 80 %. A second try if
    // the first one was too fast to catch.
    let mut sent: Vec<String> = Vec::new();
    let mut caught: Option<(String, Value)> = None;
    for attempt in 1..=2 {
        let t = Instant::now();
        let id = SendCommand {
            to: CARDIOLOGIST.national_id,
            patient: PATIENT,
            reason: "IRM cardiaque",
            urgent: false,
            letter: None,
            files: vec![big.clone()],
        }
        .sent(&gp);
        eprintln!(
            "try {attempt}: sealed and queued in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        sent.push(id.clone());
        let t = Instant::now();
        let seen = wait_for(
            "the transfer to get under way",
            Duration::from_secs(120),
            Duration::from_millis(20),
            || {
                let item = outbox_item(&gp, &id).ok_or("not in the outbox")?;
                let done = item["sent_bytes"].as_u64().unwrap_or(0);
                let total = item["total_bytes"].as_u64().unwrap_or(u64::MAX);
                if item["state"] == "delivered" || done * 10 > total * 8 {
                    Ok(Err(item))
                } else if done * 4 >= total {
                    Ok(Ok(item))
                } else {
                    Err(item.to_string())
                }
            },
        );
        match seen {
            Ok(item) => {
                eprintln!(
                    "try {attempt}: caught after {:.1} s at {} of {} bytes",
                    t.elapsed().as_secs_f64(),
                    item["sent_bytes"],
                    item["total_bytes"]
                );
                caught = Some((id, item));
                break;
            }
            Err(item) => eprintln!("try {attempt}: too fast to catch: {item}"),
        }
    }
    let (id, at_kill) = caught.expect("the transfer was never caught between 25 % and 80 %");
    cardio.kill();
    let killed_at = Instant::now();
    let total = at_kill["total_bytes"].as_u64().unwrap();

    // The sender notices, and keeps the dossier queued.
    let waiting = wait_queued_with_reason(&gp, &id, Duration::from_secs(60));
    eprintln!("the sender after the kill: {waiting}");
    assert!(inbox_ids(&gp).is_empty());

    cardio.restart();
    let delivered = wait_delivered(&gp, &id, Duration::from_secs(120));
    eprintln!(
        "delivered {:.1} s after the kill: {delivered}",
        killed_at.elapsed().as_secs_f64()
    );
    assert!(delivered["attempts"].as_u64().unwrap() >= 2, "{delivered}");
    assert_eq!(delivered["sent_bytes"].as_u64(), Some(total));

    // It resumed, from a chunk after the first.
    let short: String = id.chars().take(8).collect();
    let resumed = resumptions(&cardio.log_text(), &short);
    eprintln!("the receiver resumed at (chunk, of) = {resumed:?}");
    assert!(
        !resumed.is_empty(),
        "the receiver's log has no \"resuming a transfer\" for {short}: it started over\n{}",
        cardio.log_text()
    );
    let (chunk, of) = resumed[0];
    assert!(chunk > 0 && chunk < of, "resumed at chunk {chunk} of {of}");
    let resumed_bytes = chunk * (total / of);
    eprintln!(
        "resumed at {:.0} % (the sender had sent {:.0} % when the receiver was killed)",
        100.0 * resumed_bytes as f64 / total as f64,
        100.0 * at_kill["sent_bytes"].as_f64().unwrap() / total as f64
    );

    // Exactly once in the inbox, with the very bytes sent.
    let ids = inbox_ids(&cardio);
    assert_eq!(
        ids.iter().filter(|i| **i == id).count(),
        1,
        "exactly once: {ids:?}"
    );
    assert_eq!(ids.len(), sent.len(), "one item per dossier sent: {ids:?}");
    let item = inbox(&cardio)
        .into_iter()
        .find(|i| i["id"] == id.as_str())
        .unwrap();
    assert_eq!(item["documents"][0]["size"], SIZE);
    assert_eq!(item["documents"][0]["sha256"], original.as_str());
    let out = dir.join("opened");
    let opened = cardio.json([
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
    let copy = out.join("irm-cardiaque.bin");
    assert_eq!(fs::metadata(&copy).unwrap().len(), SIZE);
    assert_eq!(sha256_file(&copy), original, "the opened file differs");
    eprintln!(
        "resume test: {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

fn inbox_ids(node: &Daemon) -> Vec<String> {
    inbox(node)
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}
