//! The outbox under load and across restarts (issue 11, items 1 to 3):
//! small dossiers sent in a loop all end delivered, none failed; a
//! colleague seen again gets its queued dossiers at once, not after the
//! backoff; dossier files that a crash left without a record are destroyed
//! when the daemon starts, and real records are untouched.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use confrere_tests::{
    confrere_cmd, enroll, free_port, inbox, outbox, outbox_item, run, scratch_run_dir,
    wait_delivered, wait_for, Card, Daemon, PatientArgs, Practitioner, SendCommand, TestPki,
    CARDIOLOGIST, GP,
};

const PATIENT: PatientArgs<'static> = PatientArgs {
    ins: "285057512345623",
    family: "ZQWXYTEST",
    given: "Hortensia-Quivqa",
    birth_date: "1985-05-12",
    sex: "F",
};

fn shared_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-nodes-outbox"))
    })
}

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::init(&shared_dir().join("pki")))
}

/// Enrols a home for `who` and returns it (not started).
fn home(dir: &Path, label: &str, who: &Practitioner<'_>) -> PathBuf {
    let card: Card = pki().issue(who, &dir.join(format!("card-{label}")));
    let home = dir.join(label).join("home");
    fs::create_dir_all(home.parent().unwrap()).unwrap();
    enroll(&home, &card, &[pki()]).code(0);
    home
}

fn start(dir: &Path, label: &str, home: &Path) -> Daemon {
    Daemon::start(label, home, free_port(), &dir.join(format!("{label}.log")))
}

fn send_small(node: &Daemon, file: &Path) -> String {
    SendCommand {
        to: CARDIOLOGIST.national_id,
        patient: PATIENT,
        reason: "Avis cardiologique",
        urgent: false,
        letter: None,
        files: vec![file.to_path_buf()],
    }
    .sent(node)
}

/// The outbox's `attempts` of an item.
fn attempts(item: &serde_json::Value) -> u64 {
    item["attempts"].as_u64().unwrap_or(0)
}

/// Small dossiers sent one after the other while the worker delivers the
/// previous ones: the race of issue 11 turned some delivered items into
/// `failed: the key of dossier X is gone`. Every item must end delivered,
/// once, and none failed.
#[test]
fn small_dossiers_sent_in_a_loop_all_end_delivered_none_failed() {
    const COUNT: usize = 60;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let gp = start(dir, "gp", &home(dir, "gp", &GP));
    let cardio = start(
        dir,
        "cardiologist",
        &home(dir, "cardiologist", &CARDIOLOGIST),
    );
    let entry = gp.json(["peers", "add", &cardio.multiaddr()]);
    assert_eq!(entry["national_id"], CARDIOLOGIST.national_id, "{entry}");
    let doc = dir.join("ecg.txt");
    fs::write(&doc, b"ECG: rythme sinusal, 72/min.\n").unwrap();

    // One consent for all the sends.
    let mut grant = confrere_cmd();
    grant
        .args(["consent", "grant", "--home"])
        .arg(gp.home())
        .args(["--patient-ins", PATIENT.ins])
        .args(["--to", CARDIOLOGIST.national_id])
        .args(["--purpose", "referral (test)"])
        .arg("--json");
    let granted = run(&mut grant);
    granted.code(0);
    let consent = granted.json()["id"].as_str().unwrap().to_owned();

    let started = Instant::now();
    let mut ids = Vec::with_capacity(COUNT);
    for _ in 0..COUNT {
        let mut cmd = confrere_cmd();
        cmd.args(["send", "--consent", &consent, "--home"])
            .arg(gp.home())
            .args(["--to", CARDIOLOGIST.national_id])
            .args(["--patient-ins", PATIENT.ins])
            .args(["--patient-family", PATIENT.family])
            .args(["--patient-given", PATIENT.given])
            .args(["--birth-date", PATIENT.birth_date])
            .args(["--sex", PATIENT.sex])
            .args(["--reason", "Avis cardiologique"])
            .arg("--json")
            .arg(&doc);
        let out = run(&mut cmd);
        out.code(0);
        ids.push(out.json()["id"].as_str().unwrap().to_owned());
    }
    eprintln!(
        "{COUNT} dossiers queued in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let items = wait_for(
        "every dossier to be settled",
        Duration::from_secs(180),
        Duration::from_millis(250),
        || {
            let items = outbox(&gp);
            let settled = items
                .iter()
                .filter(|i| i["state"] == "delivered" || i["state"] == "failed")
                .count();
            if settled == COUNT {
                Ok(items)
            } else {
                Err(format!("{settled} of {COUNT} settled"))
            }
        },
    );
    let failed: Vec<&serde_json::Value> =
        items.iter().filter(|i| i["state"] != "delivered").collect();
    assert!(failed.is_empty(), "not delivered: {failed:#?}");
    // Still delivered a moment later: a delivered item never changes again.
    std::thread::sleep(Duration::from_secs(2));
    let again = outbox(&gp);
    assert_eq!(again.len(), COUNT);
    for item in &again {
        assert_eq!(item["state"], "delivered", "{item}");
        assert!(item["last_error"].is_null(), "{item}");
    }
    // Each once in the recipient's inbox.
    let received = inbox(&cardio);
    for id in &ids {
        assert_eq!(
            received.iter().filter(|i| i["id"] == id.as_str()).count(),
            1,
            "{id} in the inbox"
        );
    }
    assert!(
        !gp.log_text().contains("is gone"),
        "a delivered dossier was tried again"
    );
}

/// A colleague whose node was away is seen again (it opens a session to
/// this node): its queued dossier goes at once, not when the backoff ends.
/// The recipient comes back on another port, so the sender's attempts keep
/// failing (its address book has the old one) until the colleague shows
/// itself by adding this node to its address book; the backoff after the
/// fifth attempt is 32 s.
#[test]
fn a_colleague_seen_again_gets_its_queued_dossier_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let gp = start(dir, "gp", &home(dir, "gp", &GP));
    let cardio_home = home(dir, "cardiologist", &CARDIOLOGIST);
    let mut away = start(dir, "cardiologist", &cardio_home);
    let entry = gp.json(["peers", "add", &away.multiaddr()]);
    assert_eq!(entry["national_id"], CARDIOLOGIST.national_id, "{entry}");
    away.stop(Duration::from_secs(20));

    let doc = dir.join("ecg.txt");
    fs::write(&doc, b"ECG: rythme sinusal, 72/min.\n").unwrap();
    let id = send_small(&gp, &doc);
    // Back, on another address the sender does not know, and without its
    // address book (else it would greet the GP's node as it starts).
    fs::remove_file(cardio_home.join("peers.json")).unwrap();
    let cardio = start(dir, "cardiologist-again", &cardio_home);

    // Attempts 1 to 5 fail (2 + 4 + 8 + 16 s of backoff between them).
    // `before_fifth` is the last time attempt 5 had not begun: the backoff
    // after it ends 32 s after that at the earliest.
    let mut before_fifth = Instant::now();
    let item = wait_for(
        "five failed attempts",
        Duration::from_secs(120),
        Duration::from_millis(100),
        || {
            let item = outbox_item(&gp, &id).ok_or("not in the outbox")?;
            assert_ne!(item["state"], "delivered", "delivered to an old address?");
            if attempts(&item) >= 5 {
                Ok(item)
            } else {
                before_fifth = Instant::now();
                Err(item.to_string())
            }
        },
    );
    assert_eq!(attempts(&item), 5, "{item}");
    let backoff_ends = before_fifth + Duration::from_secs(32);

    // The colleague shows itself: a session from its node.
    let back = cardio.json(["peers", "add", &gp.multiaddr()]);
    assert_eq!(back["national_id"], GP.national_id, "{back}");
    let delivered = wait_delivered(
        &gp,
        &id,
        backoff_ends.saturating_duration_since(Instant::now()),
    );
    assert!(
        Instant::now() < backoff_ends,
        "delivered only when the backoff ended: {delivered}"
    );
    assert_eq!(attempts(&delivered), 6, "one more attempt: {delivered}");
    assert!(
        gp.log_text()
            .contains("a colleague is reachable again: its queued dossiers are tried now"),
        "the sender says why it tries now"
    );
    assert_eq!(inbox(&cardio).len(), 1);
}

/// The recipient's node restarts on its address: it greets the colleagues
/// of its address book, and the sender, which was backing off (32 s after
/// the fifth attempt), delivers at once.
#[test]
fn a_recipient_that_restarts_gets_its_queued_dossier_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let gp = start(dir, "gp", &home(dir, "gp", &GP));
    let mut cardio = start(
        dir,
        "cardiologist",
        &home(dir, "cardiologist", &CARDIOLOGIST),
    );
    let entry = gp.json(["peers", "add", &cardio.multiaddr()]);
    assert_eq!(entry["national_id"], CARDIOLOGIST.national_id, "{entry}");
    // The cardiologist knows the GP too (a session from the GP's node
    // recorded it, or they added each other).
    cardio.json(["peers", "add", &gp.multiaddr()]);
    cardio.stop(Duration::from_secs(20));

    let doc = dir.join("ecg.txt");
    fs::write(&doc, b"ECG: rythme sinusal, 72/min.\n").unwrap();
    let id = send_small(&gp, &doc);
    let mut before_fifth = Instant::now();
    let item = wait_for(
        "five failed attempts",
        Duration::from_secs(120),
        Duration::from_millis(100),
        || {
            let item = outbox_item(&gp, &id).ok_or("not in the outbox")?;
            if attempts(&item) >= 5 {
                Ok(item)
            } else {
                before_fifth = Instant::now();
                Err(item.to_string())
            }
        },
    );
    assert_eq!(attempts(&item), 5, "{item}");
    let backoff_ends = before_fifth + Duration::from_secs(32);

    cardio.restart();
    let delivered = wait_delivered(
        &gp,
        &id,
        backoff_ends.saturating_duration_since(Instant::now()),
    );
    assert!(
        Instant::now() < backoff_ends,
        "delivered only when the backoff ended: {delivered}"
    );
    assert_eq!(attempts(&delivered), 6, "one more attempt: {delivered}");
    assert_eq!(inbox(&cardio).len(), 1);
}

/// A crash while a dossier was sealed leaves `blobs/<id>.sealed` and
/// `<id>.key` without a record: the next start destroys them (and a half
/// written key), says so in the log, and leaves a queued dossier alone.
#[test]
fn dossier_files_without_a_record_are_destroyed_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut gp = start(dir, "gp", &home(dir, "gp", &GP));
    let cardio_home = home(dir, "cardiologist", &CARDIOLOGIST);
    let mut cardio = start(dir, "cardiologist", &cardio_home);
    gp.json(["peers", "add", &cardio.multiaddr()]);
    cardio.stop(Duration::from_secs(20));

    let doc = dir.join("irm.bin");
    confrere_tests::write_pseudo_random(&doc, 3 * 1024 * 1024, 0x5EED);
    let queued = send_small(&gp, &doc);
    gp.stop(Duration::from_secs(20));

    // What a crash mid-seal leaves: copies of a real sealed dossier and its
    // key under an id no record names, and a key cut short.
    let blobs = gp.home().join("blobs");
    let orphan = "0123456789abcdef0123456789abcdef";
    let torn = "fedcba9876543210fedcba9876543210";
    fs::copy(
        blobs.join(format!("{queued}.sealed")),
        blobs.join(format!("{orphan}.sealed")),
    )
    .unwrap();
    fs::copy(
        blobs.join(format!("{queued}.key")),
        blobs.join(format!("{orphan}.key")),
    )
    .unwrap();
    fs::write(blobs.join(format!("{torn}.key.tmp")), b"half a key").unwrap();

    gp.restart();
    let names: Vec<String> = fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with(orphan) || n.starts_with(torn)),
        "orphans left: {names:?}"
    );
    assert!(names.contains(&format!("{queued}.sealed")), "{names:?}");
    assert!(names.contains(&format!("{queued}.key")), "{names:?}");
    let log = gp.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("destroyed the files of dossiers that no record accounts for"))
        .unwrap_or_else(|| panic!("no warning in the log:\n{log}"));
    assert!(line.contains("count=2"), "{line}");
    assert!(
        line.contains("01234567") && line.contains("fedcba98"),
        "{line}"
    );
    assert!(!line.contains(PATIENT.family), "{line}");

    // The real dossier still goes, whole.
    cardio.restart();
    gp.json(["peers", "add", &cardio.multiaddr()]);
    wait_delivered(&gp, &queued, Duration::from_secs(120));
    assert_eq!(inbox(&cardio).len(), 1);
}

/// Kills a child process when dropped (a test that fails midway).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// kill -9 of the daemon while it seals a large file: the sealed copy and
/// its key, which no record names, are destroyed when it starts again.
#[test]
fn a_daemon_killed_while_sealing_leaves_nothing_after_its_restart() {
    const SIZE: u64 = 256 * 1024 * 1024;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut gp = start(dir, "gp", &home(dir, "gp", &GP));
    let cardio = start(
        dir,
        "cardiologist",
        &home(dir, "cardiologist", &CARDIOLOGIST),
    );
    gp.json(["peers", "add", &cardio.multiaddr()]);
    let big = dir.join("irm.bin");
    confrere_tests::write_pseudo_random(&big, SIZE, 0xB16);
    let blobs = gp.home().join("blobs");

    // The consent first, so that the send goes straight to sealing.
    let mut grant = confrere_cmd();
    grant
        .args(["consent", "grant", "--home"])
        .arg(gp.home())
        .args(["--patient-ins", PATIENT.ins])
        .args(["--to", CARDIOLOGIST.national_id])
        .args(["--purpose", "referral (test)"])
        .arg("--json");
    let granted = run(&mut grant);
    granted.code(0);
    let consent = granted.json()["id"].as_str().unwrap().to_owned();
    let mut cmd = confrere_cmd();
    cmd.args(["send", "--consent", &consent, "--home"])
        .arg(gp.home())
        .args(["--to", CARDIOLOGIST.national_id])
        .args(["--patient-ins", PATIENT.ins])
        .args(["--patient-family", PATIENT.family])
        .args(["--patient-given", PATIENT.given])
        .args(["--birth-date", PATIENT.birth_date])
        .args(["--sex", PATIENT.sex])
        .args(["--reason", "IRM cardiaque"])
        .arg("--json")
        .arg(&big)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let send = KillOnDrop(cmd.spawn().unwrap());

    let sealing = wait_for(
        "sealing to be under way",
        Duration::from_secs(120),
        Duration::from_millis(10),
        || {
            let sealed: Vec<(String, u64)> = fs::read_dir(&blobs)
                .map_err(|e| e.to_string())?
                .filter_map(|e| {
                    let e = e.ok()?;
                    let name = e.file_name().to_string_lossy().into_owned();
                    let len = e.metadata().ok()?.len();
                    (name.ends_with(".sealed") && len > 0).then_some((name, len))
                })
                .collect();
            if sealed.is_empty() {
                Err("no sealed chunk yet".into())
            } else {
                Ok(sealed)
            }
        },
    );
    gp.kill();
    drop(send);
    eprintln!("killed while sealing: {sealing:?}");
    if !sealing.iter().all(|(_, len)| *len < SIZE) {
        eprintln!("the seal may have ended before the kill");
    }

    gp.restart();
    let queued = outbox(&gp);
    let names: Vec<String> = fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    if queued.is_empty() {
        // Killed before the record: nothing of the dossier is left.
        assert!(names.is_empty(), "left in blobs/: {names:?}");
        assert!(
            gp.log_text()
                .contains("destroyed the files of dossiers that no record accounts for"),
            "the sweep is logged"
        );
    } else {
        // The seal ended first: the dossier is queued and goes whole.
        eprintln!("the seal ended before the kill; the dossier is queued");
        let id = queued[0]["id"].as_str().unwrap().to_owned();
        wait_delivered(&gp, &id, Duration::from_secs(300));
    }
}

/// The key file of a queued dossier removed by hand (a damaged store):
/// the delivery fails saying the store is damaged, not that the dossier
/// was erased.
#[test]
fn a_missing_key_is_reported_as_a_damaged_store_not_as_an_erasure() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut gp = start(dir, "gp", &home(dir, "gp", &GP));
    let mut cardio = start(
        dir,
        "cardiologist",
        &home(dir, "cardiologist", &CARDIOLOGIST),
    );
    gp.json(["peers", "add", &cardio.multiaddr()]);
    cardio.stop(Duration::from_secs(20));
    let doc = dir.join("ecg.txt");
    fs::write(&doc, b"ECG: rythme sinusal, 72/min.\n").unwrap();
    let id = send_small(&gp, &doc);
    gp.stop(Duration::from_secs(20));
    fs::remove_file(gp.home().join("blobs").join(format!("{id}.key"))).unwrap();
    gp.restart();
    cardio.restart();
    gp.json(["peers", "add", &cardio.multiaddr()]);
    let item = wait_for(
        "the delivery to fail",
        Duration::from_secs(120),
        Duration::from_millis(200),
        || {
            let item = outbox_item(&gp, &id).ok_or("not in the outbox")?;
            if item["state"] == "failed" {
                Ok(item)
            } else {
                Err(item.to_string())
            }
        },
    );
    let error = item["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("is missing from the store") && error.contains("damaged"),
        "{item}"
    );
    assert!(!error.contains("erased ("), "{item}");
    assert!(inbox(&cardio).is_empty());
}
