//! Nodes on loopback, as processes: `confrere run` for three practices (a
//! GP, a cardiologist, a radiologist), driven with the command line.
//!
//! What they show (issue 3, "Done when"): a send reaches the inbox with
//! identical bytes and the inbox's fields; urgent referrals come first; a
//! reply reaches the referrer linked to the referral; nothing of the patient
//! rests in the clear under a home; a dossier for an offline node waits and
//! is delivered once when it starts; a node enrolled under an untrusted CA
//! is refused both ways; bad input gets a clear error and loses nothing.
//!
//! The kill -9 in the middle of a 200 MiB transfer is in `nodes_resume.rs`,
//! the full disk in `nodes_disk.rs`.
//!
//! Each test starts its own nodes in its own temporary directory, on fixed
//! loopback ports without mDNS; only the TEST PKIs and cards are shared.
//! Every daemon is killed when its guard drops, even when a test fails, and
//! every wait is bounded.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use confrere_tests::{
    confrere, confrere_cmd, dir_entries, enroll, find_in_files, free_port, inbox, outbox,
    outbox_item, run, run_with_limit, scratch_run_dir, sha256_file, wait_delivered, wait_for,
    wait_queued_with_reason, write_pseudo_random, Card, Daemon, PatientArgs, Practitioner,
    SendCommand, TestPki, CARDIOLOGIST, GP, RADIOLOGIST,
};
use serde_json::Value;

// ---------------------------------------------------------------------------
// The cast
// ---------------------------------------------------------------------------

/// Enrolled under another TEST PKI, which the others do not trust.
const STRANGER: Practitioner<'static> = Practitioner {
    national_id: "810001000040",
    given: "MALLORY",
    surname: "INTRUS",
    profession: 10,
    ecdsa: false,
};

/// A patient whose names appear nowhere else, so that a search finds only
/// copies of them.
const PATIENT: PatientArgs<'static> = PatientArgs {
    ins: "285057512345623",
    family: "ZQWXYTEST",
    given: "Hortensia-Quivqa",
    birth_date: "1985-05-12",
    sex: "F",
};

/// How long a small dossier may take to be delivered (nodes share 2 cores
/// with the other tests in debug builds).
const DELIVERY: Duration = Duration::from_secs(60);

fn shared_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-nodes"))
    })
}

/// The PKI every practice but the stranger is enrolled under.
fn pki_a() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::init(&shared_dir().join("pki-a")))
}

/// Another TEST PKI (same CA names, other keys): the stranger's.
fn pki_b() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::init(&shared_dir().join("pki-b")))
}

fn card(who: &Practitioner<'static>) -> &'static Card {
    static GP_CARD: OnceLock<Card> = OnceLock::new();
    static CARDIO_CARD: OnceLock<Card> = OnceLock::new();
    static RADIO_CARD: OnceLock<Card> = OnceLock::new();
    static STRANGER_CARD: OnceLock<Card> = OnceLock::new();
    let (cell, pki) = match who.national_id {
        "810001000016" => (&GP_CARD, pki_a()),
        "810001000024" => (&CARDIO_CARD, pki_a()),
        "810001000032" => (&RADIO_CARD, pki_a()),
        _ => (&STRANGER_CARD, pki_b()),
    };
    cell.get_or_init(|| pki.issue(who, &shared_dir().join(format!("card-{}", who.national_id))))
}

/// Enrolls `who` in `dir/LABEL/home` trusting `trusted`, and starts its
/// daemon on a free loopback port (log in `dir/LABEL.log`).
fn node_trusting(
    dir: &Path,
    label: &str,
    who: &Practitioner<'static>,
    trusted: &[&TestPki],
) -> Daemon {
    let home = dir.join(label).join("home");
    fs::create_dir_all(home.parent().unwrap()).unwrap();
    enroll(&home, card(who), trusted).code(0);
    Daemon::start(label, &home, free_port(), &dir.join(format!("{label}.log")))
}

/// A practice enrolled under PKI A.
fn node(dir: &Path, label: &str, who: &Practitioner<'static>) -> Daemon {
    node_trusting(dir, label, who, &[pki_a()])
}

/// `from` adds `to`'s address and must have verified who it serves.
#[track_caller]
fn connect(from: &Daemon, to: &Daemon, who: &Practitioner<'_>) {
    let entry = from.json(["peers", "add", &to.multiaddr()]);
    assert_eq!(entry["national_id"], who.national_id, "{entry}");
    assert_eq!(entry["peer_id"], to.peer_id(), "{entry}");
    assert_eq!(
        entry["name"],
        format!("{} {}", who.given, who.surname),
        "{entry}"
    );
    assert!(entry["last_error"].is_null(), "{entry}");
}

/// A send of `files` from the test's patient to `to`.
fn referral<'a>(to: &'a str, reason: &'a str, files: &[&Path]) -> SendCommand<'a> {
    SendCommand {
        to,
        patient: PATIENT,
        reason,
        urgent: false,
        letter: None,
        files: files.iter().map(|p| p.to_path_buf()).collect(),
    }
}

#[track_caller]
fn inbox_entry<'a>(items: &'a [Value], id: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("{id} is not in the inbox: {items:?}"))
}

/// Asserts `received_at` is an RFC 3339 UTC instant, `YYYY-MM-DDTHH:MM:SSZ`.
#[track_caller]
fn assert_rfc3339(v: &Value) {
    let s = v.as_str().unwrap_or_default();
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        r.into_iter()
            .all(|i| b.get(i).is_some_and(u8::is_ascii_digit))
    };
    assert!(
        s.len() >= 20
            && digits(0..4)
            && b[4] == b'-'
            && digits(5..7)
            && b[7] == b'-'
            && digits(8..10)
            && b[10] == b'T'
            && digits(11..13)
            && b[13] == b':'
            && digits(14..16)
            && b[16] == b':'
            && digits(17..19)
            && (s.ends_with('Z') || s.ends_with("+00:00")),
        "not an RFC 3339 UTC instant: {v}"
    );
}

/// Every file below `dir`, except in the node directories (whose stores
/// change by themselves), the logs and `except`.
fn outside_homes(dir: &Path, except: &Path) -> Vec<PathBuf> {
    confrere_tests::files_below(dir)
        .into_iter()
        .filter(|p| {
            !p.starts_with(except)
                && !p.starts_with(dir.join("gp"))
                && !p.starts_with(dir.join("cardiologist"))
                && p.extension().is_none_or(|e| e != "log")
        })
        .collect()
}

/// The names of the files directly in `dir`, as a set.
fn names_in(dir: &Path) -> BTreeSet<String> {
    dir_entries(dir).into_iter().collect()
}

// ---------------------------------------------------------------------------
// A referral, end to end
// ---------------------------------------------------------------------------

/// Tests 1, 4 and 6 of the issue on one set of three practices: a send with
/// a letter and three documents reaches the cardiologist's inbox with the
/// inbox's fields and identical bytes, and nothing reaches the radiologist;
/// an urgent referral is listed before a newer routine one; the
/// cardiologist's reply reaches the GP linked to the referral; and, the
/// nodes stopped, no file under any home holds the patient's names, INS,
/// the letter, the reason or a run of a document's bytes.
#[test]
fn a_referral_reaches_the_inbox_intact_is_answered_and_rests_only_encrypted() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut gp = node(dir, "gp", &GP);
    let mut cardio = node(dir, "cardiologist", &CARDIOLOGIST);
    let mut radio = node(dir, "radiologist", &RADIOLOGIST);
    connect(&gp, &cardio, &CARDIOLOGIST);
    connect(&gp, &radio, &RADIOLOGIST);

    // The documents: 5 MiB of pseudo-random bytes, a small text, and a PDF
    // whose name has a space.
    let docs = dir.join("docs");
    fs::create_dir(&docs).unwrap();
    let ecg = docs.join("ecg.bin");
    write_pseudo_random(&ecg, 5 * 1024 * 1024 + 123, 0x00EC_6000);
    let labs = docs.join("labs.txt");
    fs::write(
        &labs,
        "Kaliemie 4.1 mmol/L; BNP 85 pg/mL; LABS-MARKER-QXZV\n",
    )
    .unwrap();
    let report = docs.join("compte rendu.pdf");
    let mut pdf = b"%PDF-1.4\n% compte rendu d'hospitalisation CR-MARKER-WQYX\n".to_vec();
    pdf.extend((0..40_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    fs::write(&report, &pdf).unwrap();
    let letter_text = "Cher confrere, je vous adresse Mme ZQWXYTEST pour LETTRE-MARKER-KJHG.\n";
    let letter = docs.join("letter.txt");
    fs::write(&letter, letter_text).unwrap();
    let reason = "Palpitations REASON-MARKER-PLMO";

    let mut send = referral(CARDIOLOGIST.national_id, reason, &[&ecg, &labs, &report]);
    send.letter = Some(letter);
    let id = send.sent(&gp);
    let sent_at = Instant::now();
    let delivered = wait_delivered(&gp, &id, DELIVERY);
    eprintln!(
        "5 MiB referral delivered in {:.1} s",
        sent_at.elapsed().as_secs_f64()
    );
    assert_eq!(delivered["to"], CARDIOLOGIST.national_id);
    assert!(delivered["last_error"].is_null(), "{delivered}");
    assert_eq!(delivered["sent_bytes"], delivered["total_bytes"]);
    assert!(delivered["delivered_at"].is_string(), "{delivered}");
    let total = delivered["total_bytes"].as_u64().unwrap();
    assert!(total > 5 * 1024 * 1024, "sealed size {total}");
    // Delivered: the outbox drops its sealed copy and its key.
    let sender_copy = |ext: &str| gp.home().join("blobs").join(format!("{id}.{ext}"));
    wait_for(
        "the sender's sealed copy to be dropped",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || {
            if sender_copy("sealed").exists() || sender_copy("key").exists() {
                Err("still there".to_owned())
            } else {
                Ok(())
            }
        },
    );

    // The cardiologist's inbox, with the issue's field names.
    let items = inbox(&cardio);
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    for field in [
        "id",
        "from",
        "from_name",
        "patient",
        "reason",
        "urgent",
        "status",
        "received_at",
        "documents",
    ] {
        assert!(item.get(field).is_some(), "no {field} in {item}");
    }
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["from"], GP.national_id);
    assert_eq!(item["from_name"], "CLAIRE BERNARD");
    let patient = item["patient"].as_object().unwrap();
    let keys: BTreeSet<&str> = patient.keys().map(String::as_str).collect();
    assert!(
        ["ins", "family", "given", "birth_date"]
            .iter()
            .all(|k| keys.contains(k)),
        "patient fields: {keys:?}"
    );
    assert_eq!(patient["ins"], PATIENT.ins);
    assert_eq!(patient["family"], PATIENT.family);
    assert_eq!(patient["given"], PATIENT.given);
    assert_eq!(patient["birth_date"], PATIENT.birth_date);
    assert_eq!(item["reason"], reason);
    assert_eq!(item["urgent"], false);
    assert_eq!(item["status"], "new");
    assert_rfc3339(&item["received_at"]);
    assert!(item["in_reply_to"].is_null(), "{item}");
    let documents = item["documents"].as_array().unwrap();
    assert_eq!(documents.len(), 3, "{item}");
    for (doc, path) in documents.iter().zip([&ecg, &labs, &report]) {
        for field in ["name", "size", "sha256"] {
            assert!(doc.get(field).is_some(), "no {field} in {doc}");
        }
        assert_eq!(doc["name"], path.file_name().unwrap().to_str().unwrap());
        assert_eq!(doc["size"], fs::metadata(path).unwrap().len());
        assert_eq!(doc["sha256"], sha256_file(path), "{doc}");
    }
    let shown = cardio.json(["inbox", "show", &id]);
    assert_eq!(shown["letter"], letter_text, "{shown}");
    // Short ids (a unique prefix of 8 characters) name an item too.
    let shown = cardio.json(["inbox", "show", &id[..8]]);
    assert_eq!(shown["id"], id.as_str());

    // Opened: the very bytes sent, and the item says so.
    let openings = || {
        let entries = cardio.json(["ledger", "show"]);
        let entries = entries.as_array().cloned().unwrap_or_default();
        entries
            .iter()
            .filter(|e| e["kind"] == "dossier_opened")
            .count()
    };
    let openings_before = openings();
    let out = dir.join("opened");
    let opened = cardio.json([
        "inbox".as_ref(),
        "open".as_ref(),
        id.as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(openings(), openings_before + 1, "one opening, one entry");
    assert_eq!(
        opened["files"].as_array().map(Vec::len),
        Some(3),
        "{opened}"
    );
    assert_eq!(
        names_in(&out),
        ["compte rendu.pdf", "ecg.bin", "labs.txt"]
            .map(str::to_owned)
            .into(),
    );
    for path in [&ecg, &labs, &report] {
        let copy = out.join(path.file_name().unwrap());
        assert!(
            fs::read(&copy).unwrap() == fs::read(path).unwrap(),
            "{} differs from what was sent",
            copy.display()
        );
    }
    assert_eq!(inbox(&cardio)[0]["status"], "opened");
    // Nothing for the radiologist.
    assert_eq!(inbox(&radio), Vec::<Value>::new());
    assert!(outbox(&radio).is_empty());

    // Urgent first: an urgent referral, then (a second later) a newer
    // routine one; the urgent one is listed first all the same.
    let mut urgent = referral(CARDIOLOGIST.national_id, "Syncope URGENT-MARKER", &[&labs]);
    urgent.urgent = true;
    let urgent_id = urgent.sent(&gp);
    wait_delivered(&gp, &urgent_id, DELIVERY);
    std::thread::sleep(Duration::from_millis(1100));
    let routine_id = referral(CARDIOLOGIST.national_id, "Routine follow-up", &[&labs]).sent(&gp);
    wait_delivered(&gp, &routine_id, DELIVERY);
    let items = inbox(&cardio);
    let order: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(
        order,
        [urgent_id.as_str(), routine_id.as_str(), id.as_str()],
        "urgent first, then newest: {items:#?}"
    );
    assert_eq!(items[0]["urgent"], true);
    assert_eq!(items[1]["urgent"], false);

    // The reply: linked to the referral, in the GP's inbox; the referral
    // shows as answered. The cardiologist never added the GP's address: it
    // learnt it from the GP's sessions.
    let report_letter = docs.join("answer.txt");
    fs::write(&report_letter, "Cher confrere, ECHO-MARKER-TTRB normale.\n").unwrap();
    let echo = docs.join("report.pdf");
    fs::write(
        &echo,
        b"%PDF-1.4\n% echocardiographie ECHODOC-MARKER-NBVC\n",
    )
    .unwrap();
    let mut reply = confrere_cmd();
    reply
        .args(["inbox", "reply", &id, "--json", "--letter"])
        .arg(&report_letter)
        .arg(&echo)
        .arg("--home")
        .arg(cardio.home());
    let replied = run(&mut reply);
    replied.code(0);
    let reply_id = replied.json()["id"].as_str().unwrap().to_owned();
    assert_ne!(reply_id, id);
    let reply_out = wait_delivered(&cardio, &reply_id, DELIVERY);
    assert_eq!(reply_out["to"], GP.national_id);
    assert_eq!(reply_out["in_reply_to"], id.as_str());
    let gp_inbox = inbox(&gp);
    assert_eq!(gp_inbox.len(), 1, "{gp_inbox:?}");
    let answer = &gp_inbox[0];
    assert_eq!(answer["id"], reply_id.as_str());
    assert_eq!(answer["in_reply_to"], id.as_str(), "{answer}");
    assert_eq!(answer["from"], CARDIOLOGIST.national_id);
    assert_eq!(answer["from_name"], "PAUL LECOEUR");
    assert_eq!(answer["patient"]["ins"], PATIENT.ins);
    assert_eq!(answer["documents"][0]["name"], "report.pdf");
    assert_eq!(answer["documents"][0]["sha256"], sha256_file(&echo));
    assert_eq!(
        inbox_entry(&inbox(&cardio), &id)["status"],
        "answered",
        "the referral shows as answered"
    );

    // At rest: stop the nodes (cleanly, so that everything is on disk),
    // then search every file under each home.
    for n in [&mut gp, &mut cardio, &mut radio] {
        let exit = n.stop(Duration::from_secs(20));
        assert!(
            exit.is_some_and(|s| s.success()),
            "{} did not stop cleanly on SIGTERM: {exit:?}",
            n.label()
        );
    }
    let ecg_bytes = fs::read(&ecg).unwrap();
    let middle = ecg_bytes.len() / 2;
    let pdf_middle = pdf.len() / 2;
    let needles: Vec<(&str, &[u8])> = vec![
        ("the patient's family name", PATIENT.family.as_bytes()),
        ("the patient's given name", PATIENT.given.as_bytes()),
        ("the patient's INS", PATIENT.ins.as_bytes()),
        ("the patient's NIR", &PATIENT.ins.as_bytes()[..13]),
        ("the letter", letter_text.as_bytes()),
        ("a marker of the letter", b"LETTRE-MARKER-KJHG"),
        ("the reason", b"REASON-MARKER-PLMO"),
        (
            "32 bytes from the middle of ecg.bin",
            &ecg_bytes[middle..middle + 32],
        ),
        ("text of labs.txt", b"LABS-MARKER-QXZV"),
        ("text of compte rendu.pdf", b"CR-MARKER-WQYX"),
        (
            "32 bytes from the middle of compte rendu.pdf",
            &pdf[pdf_middle..pdf_middle + 32],
        ),
        ("the answer letter", b"ECHO-MARKER-TTRB"),
        ("text of the answer's document", b"ECHODOC-MARKER-NBVC"),
    ];
    let mut found = Vec::new();
    let mut files = 0;
    for n in [&gp, &cardio, &radio] {
        files += confrere_tests::files_below(n.home()).len();
        found.extend(find_in_files(n.home(), &needles));
    }
    assert!(files > 10, "only {files} files under the homes");
    // The search reads the homes: it finds what is meant to be there.
    let control = find_in_files(
        gp.home(),
        &[("the GP's national id", GP.national_id.as_bytes())],
    );
    assert!(
        control.iter().any(|f| f.contains("config.toml")),
        "{control:?}"
    );
    assert!(
        found.is_empty(),
        "in the clear under a home:\n{}",
        found.join("\n")
    );
    // The search itself finds what it looks for: the opened documents.
    let control = find_in_files(&out, &needles);
    assert!(
        control
            .iter()
            .any(|f| f.ends_with("32 bytes from the middle of ecg.bin"))
            && control
                .iter()
                .any(|f| f.ends_with("text of compte rendu.pdf")),
        "{control:?}"
    );
    // Not a requirement of the issue, but worth knowing: what the logs hold.
    for n in [&gp, &cardio, &radio] {
        let leaks = find_in_files(n.log_path().parent().unwrap(), &needles[..3])
            .into_iter()
            .filter(|f| f.contains(".log:"))
            .collect::<Vec<_>>();
        if !leaks.is_empty() {
            eprintln!("note: patient data in a daemon log: {leaks:?}");
        }
    }
    eprintln!(
        "referral test: {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------
// An offline recipient
// ---------------------------------------------------------------------------

/// Test 2: the radiologist's node is down (killed); the GP's send is queued
/// with the reason it could not go, then delivered, exactly once, after the
/// radiologist's node starts again on the same address.
#[test]
fn a_dossier_for_an_offline_node_waits_and_is_delivered_once_when_it_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let gp = node(dir, "gp", &GP);
    let mut radio = node(dir, "radiologist", &RADIOLOGIST);
    connect(&gp, &radio, &RADIOLOGIST);
    radio.kill();
    confrere([
        "status".as_ref(),
        "--home".as_ref(),
        radio.home().as_os_str(),
    ])
    .code(3);

    let doc = dir.join("thorax.txt");
    fs::write(&doc, "Radiographie du thorax demandee\n").unwrap();
    let id = referral(RADIOLOGIST.national_id, "Thorax", &[&doc]).sent(&gp);
    let queued = wait_queued_with_reason(&gp, &id, Duration::from_secs(30));
    eprintln!("queued while the recipient is down: {queued}");
    assert_eq!(queued["to"], RADIOLOGIST.national_id);
    assert!(queued["attempts"].as_u64().unwrap() >= 1, "{queued}");
    assert!(queued["delivered_at"].is_null(), "{queued}");
    assert_eq!(gp.json(["status"])["outbox"], 1);

    let down_for = Instant::now();
    radio.restart();
    let delivered = wait_delivered(&gp, &id, Duration::from_secs(90));
    eprintln!(
        "delivered {:.1} s after the recipient came back: {delivered}",
        down_for.elapsed().as_secs_f64()
    );
    assert!(delivered["last_error"].is_null(), "{delivered}");
    assert!(delivered["attempts"].as_u64().unwrap() >= 2, "{delivered}");
    let items = inbox(&radio);
    assert_eq!(items.len(), 1, "exactly once: {items:?}");
    assert_eq!(items[0]["id"], id.as_str());
    assert_eq!(items[0]["documents"][0]["sha256"], sha256_file(&doc));
    assert_eq!(gp.json(["status"])["outbox"], 0);
    // And it stays once: the outbox does not deliver it again.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(inbox(&radio).len(), 1);
    assert_eq!(outbox(&gp).len(), 1);
}

// ---------------------------------------------------------------------------
// An untrusted CA
// ---------------------------------------------------------------------------

/// Test 5: a node enrolled under another TEST PKI. The GP's attempt to add
/// it fails and names why, and a send to its practitioner is refused. The
/// stranger (which, to make the GP the one who says no, trusts both PKIs)
/// adds the GP and sends: nothing reaches the GP's inbox, and the GP's log
/// says why it refused. Neither inbox receives anything.
#[test]
fn a_node_under_an_untrusted_ca_is_refused_and_nothing_of_it_reaches_an_inbox() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let gp = node(dir, "gp", &GP);
    let stranger = node_trusting(dir, "stranger", &STRANGER, &[pki_b(), pki_a()]);

    // The GP reaches it and refuses its certificate: the entry is kept,
    // unverified, and `peers add` exits 1 with the reason.
    let added = gp.cli(["peers", "add", &stranger.multiaddr(), "--json"]);
    added.code(1).stderr_has("not verified");
    let entry = added.json();
    eprintln!("the GP's entry for the stranger: {entry}");
    assert!(entry["national_id"].is_null(), "{entry}");
    assert!(entry["name"].is_null(), "{entry}");
    let why = entry["last_error"].as_str().unwrap_or_default().to_owned();
    assert!(!why.is_empty(), "no last_error: {entry}");
    let listed = gp.json(["peers", "list"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["national_id"].is_null()),
        "{listed}"
    );
    let doc = dir.join("note.txt");
    fs::write(&doc, "Pour avis\n").unwrap();
    let refused = referral(STRANGER.national_id, "Avis", &[&doc]).run(&gp);
    refused
        .code(1)
        .stderr_has(&format!("no known node serves {}", STRANGER.national_id));
    assert!(outbox(&gp).is_empty());

    // The other way round.
    // The GP's node refuses the stranger's session: whatever the stranger's
    // node makes of it, the dossier below must not get through.
    let added = stranger.cli(["peers", "add", &gp.multiaddr(), "--json"]);
    eprintln!("the stranger's entry for the GP: {added}");
    let attempt = referral(GP.national_id, "Intrusion", &[&doc]).run(&stranger);
    if attempt.code == Some(0) {
        // The stranger's node took the GP for verified: its dossier must
        // never get through.
        let id = attempt.json()["id"].as_str().unwrap().to_owned();
        let item = wait_for(
            "the stranger's node to try twice",
            Duration::from_secs(40),
            Duration::from_millis(250),
            || {
                let item = outbox_item(&stranger, &id).ok_or("not in the outbox")?;
                if item["attempts"].as_u64().unwrap_or(0) >= 2 && item["last_error"].is_string() {
                    Ok(item)
                } else {
                    Err(item.to_string())
                }
            },
        );
        eprintln!("the stranger's outbox: {item}");
        assert_ne!(item["state"], "delivered", "{item}");
    } else {
        attempt.code(1).stderr_has("no known node serves");
    }
    assert_eq!(inbox(&gp), Vec::<Value>::new());
    assert_eq!(inbox(&stranger), Vec::<Value>::new());
    assert_eq!(gp.json(["status"])["inbox"], 0);
    // The GP's log says why it refused the stranger.
    let log = gp.log_text();
    let refusals: Vec<&str> = log.lines().filter(|l| l.contains("refused")).collect();
    assert!(
        !refusals.is_empty(),
        "the GP's log names no refusal:\n{log}"
    );
    eprintln!("the GP's log: {refusals:#?}");
    assert!(
        refusals
            .iter()
            .any(|l| l.contains("inbound") && l.contains("no trusted CA issued")),
        "the GP's log does not say it refused the stranger's session for its CA:\n{log}"
    );
}

// ---------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------

/// Test 7, sends: each bad request is refused with its exit code and a
/// message that names the problem, and none of them queues anything. Then
/// documents with awkward names (`..evil.txt`, ` .hidden.pdf`, a backslash
/// path `..\..\x.txt`) are delivered and opened: every file is written in
/// the output directory, under a visible name, and nothing outside it.
#[test]
fn bad_sends_are_refused_clearly_and_odd_document_names_stay_inside_the_output_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let gp = node(dir, "gp", &GP);
    let cardio = node(dir, "cardiologist", &CARDIOLOGIST);
    connect(&gp, &cardio, &CARDIOLOGIST);
    let doc = dir.join("ecg.txt");
    fs::write(&doc, "ECG normal\n").unwrap();
    let to = CARDIOLOGIST.national_id;

    // A national id no known node serves (the radiologist's: valid, but
    // never added).
    let out = referral(RADIOLOGIST.national_id, "Avis", &[&doc]).run(&gp);
    out.code(1)
        .stderr_has(&format!("no known node serves {}", RADIOLOGIST.national_id))
        .stderr_has("hint:")
        .stderr_has("confrere peers add");
    // An id that is no national id at all (bad Luhn digit).
    referral("810001000017", "Avis", &[&doc])
        .run(&gp)
        .code(2)
        .stderr_has("national id");
    // A missing file, named.
    let missing = dir.join("missing-scan.pdf");
    referral(to, "Avis", &[&doc, &missing])
        .run(&gp)
        .code(2)
        .stderr_has(&missing.display().to_string());
    // A directory is not a document.
    referral(to, "Avis", &[dir])
        .run(&gp)
        .code(2)
        .stderr_has("directory");
    // A missing letter, named.
    let mut no_letter = referral(to, "Avis", &[&doc]);
    no_letter.letter = Some(dir.join("missing-letter.txt"));
    no_letter.run(&gp).code(2).stderr_has("missing-letter.txt");
    // Invalid INS: a wrong key, too few digits, letters.
    for bad in ["285057512345624", "28505751234", "2850575123456AB"] {
        let mut send = referral(to, "Avis", &[&doc]);
        send.patient.ins = bad;
        let out = send.run(&gp);
        assert!(
            matches!(out.code, Some(1 | 2)),
            "an invalid INS must be refused\n{out}"
        );
        out.stderr_has("INS");
    }
    // A birth date that is no date.
    let mut send = referral(to, "Avis", &[&doc]);
    send.patient.birth_date = "1985-13-45";
    send.run(&gp).code(2).stderr_has("birth date");
    // An INS that contradicts the sex or the birth date it is sent with
    // (285057512345623 is a woman born in May 1985).
    for (sex, birth, what) in [
        ("M", "1985-05-12", "sex"),
        ("F", "1984-05-12", "birth date"),
        ("F", "1985-06-12", "birth date"),
    ] {
        let mut send = referral(to, "Avis", &[&doc]);
        send.patient.sex = sex;
        send.patient.birth_date = birth;
        let out = send.run(&gp);
        out.code(2).stderr_has("INS and").stderr_has(what);
    }
    // A document whose name is only dots cannot be named on the other side.
    let dots = dir.join("dots");
    fs::create_dir(&dots).unwrap();
    fs::write(dots.join("..."), "x").unwrap();
    let out = referral(to, "Avis", &[&dots.join("...")]).run(&gp);
    assert!(matches!(out.code, Some(1 | 2)), "{out}");
    out.stderr_has("...");
    // Nothing of it was queued, and nothing reached the cardiologist.
    assert!(outbox(&gp).is_empty(), "{:?}", outbox(&gp));
    assert!(inbox(&cardio).is_empty());

    // Odd names. On Linux a backslash is an ordinary file name character.
    let odd = dir.join("odd");
    fs::create_dir(&odd).unwrap();
    let originals = [
        ("..evil.txt", "dot dot evil\n"),
        (" .hidden.pdf", "hidden\n"),
        ("..\\..\\x.txt", "backslashes\n"),
    ];
    let paths: Vec<PathBuf> = originals
        .iter()
        .map(|(name, body)| {
            let p = odd.join(name);
            fs::write(&p, body).unwrap();
            p
        })
        .collect();
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let id = referral(to, "Noms de fichiers", &refs).sent(&gp);
    wait_delivered(&gp, &id, DELIVERY);
    let item = inbox_entry(&inbox(&cardio), &id).clone();
    let listed: Vec<&str> = item["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    eprintln!("document names as listed: {listed:?}");
    for name in &listed {
        assert!(
            !name.is_empty()
                && !name.starts_with(['.', ' '])
                && !name.contains(['/', '\\'])
                && *name != "..",
            "unsafe name listed: {name:?}"
        );
    }
    let parent = dir.join("out");
    let target = parent.join("referral");
    fs::create_dir_all(&target).unwrap();
    let open = |into: &Path| {
        cardio.json([
            "inbox".as_ref(),
            "open".as_ref(),
            id.as_ref(),
            "--out".as_ref(),
            into.as_os_str(),
        ])
    };
    let before = outside_homes(dir, &target);
    let opened = open(&target);
    let written: Vec<PathBuf> = opened["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| PathBuf::from(f.as_str().unwrap()))
        .collect();
    assert_eq!(written.len(), 3, "{opened}");
    let canonical = target.canonicalize().unwrap();
    for f in &written {
        assert_eq!(f.parent(), Some(canonical.as_path()), "{}", f.display());
    }
    assert_eq!(
        dir_entries(&parent),
        ["referral"],
        "nothing beside the directory"
    );
    assert_eq!(
        outside_homes(dir, &target),
        before,
        "a file was written outside --out"
    );
    let names = dir_entries(&target);
    assert_eq!(names.len(), 3, "{names:?}");
    let mut bodies: Vec<String> = Vec::new();
    for name in &names {
        assert!(
            !name.starts_with(['.', ' ']),
            "hidden file written: {name:?}"
        );
        assert!(!name.contains('\\'), "backslash kept: {name:?}");
        bodies.push(fs::read_to_string(target.join(name)).unwrap());
    }
    bodies.sort();
    let mut expected: Vec<String> = originals.iter().map(|(_, b)| (*b).to_owned()).collect();
    expected.sort();
    assert_eq!(bodies, expected);
    // Opened again into the same directory: new names, nothing overwritten.
    let again = open(&target);
    assert_eq!(again["files"].as_array().map(Vec::len), Some(3), "{again}");
    assert_eq!(dir_entries(&target).len(), 6, "{:?}", dir_entries(&target));
    for name in &names {
        let body = fs::read_to_string(target.join(name)).unwrap();
        assert!(expected.contains(&body), "{name} was overwritten");
    }
}

/// Test 7, the daemon: `status` of a home whose daemon never ran, or was
/// killed (its `api.json` left behind), exits 3; a second `confrere run` on
/// a home a daemon holds fails with a clear message, and the first daemon
/// keeps working.
#[test]
fn a_home_is_served_by_one_daemon_and_commands_say_when_none_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Enrolled, never started.
    let idle = dir.join("idle").join("home");
    fs::create_dir_all(idle.parent().unwrap()).unwrap();
    enroll(&idle, card(&RADIOLOGIST), &[pki_a()]).code(0);
    let shown = idle.display().to_string();
    confrere(["status".as_ref(), "--home".as_ref(), idle.as_os_str()])
        .code(3)
        .stderr_has(&format!("the daemon is not running for {shown}"))
        .stderr_has(&format!("confrere run --home {shown}"));

    let mut gp = node(dir, "gp", &GP);
    let first_pid = gp.pid().unwrap();
    // Another port, so that only the home can be the problem.
    let second = run_with_limit(&mut gp.run_command_on(free_port()), Duration::from_secs(20));
    second
        .code(1)
        .stderr_has("another process is using this home")
        .stderr_has("hint:");
    // The first one still serves, with the same endpoint.
    assert!(gp.is_running());
    let status = gp.json(["status"]);
    assert_eq!(status["national_id"], GP.national_id);
    let endpoint: Value =
        serde_json::from_slice(&fs::read(gp.home().join("api.json")).unwrap()).unwrap();
    assert_eq!(endpoint["pid"], first_pid);
    assert!(gp.json(["peers", "list"]).is_array());

    // Killed: its api.json stays behind, and commands still say it does
    // not run.
    gp.kill();
    assert!(gp.home().join("api.json").exists());
    for args in [vec!["status"], vec!["outbox"], vec!["inbox"]] {
        gp.cli(&args)
            .code(3)
            .stderr_has("the daemon is not running for");
    }
}

/// `[trust] policies` of config.toml: a node that accepts only a policy
/// the colleague's card certificate does not carry refuses it; listing the
/// policy it does carry lets the session through.
#[test]
fn a_node_accepts_only_the_certificate_policies_its_config_lists() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cardio = node(dir, "cardio", &CARDIOLOGIST);
    let home = dir.join("gp").join("home");
    fs::create_dir_all(home.parent().unwrap()).unwrap();
    enroll(&home, card(&GP), &[pki_a()]).code(0);
    let set_policies = |list: &str| {
        let config = home.join("config.toml");
        let text = fs::read_to_string(&config).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("policies = "))
            .expect("config.toml has a policies line")
            .to_owned();
        fs::write(&config, text.replace(&line, &format!("policies = {list}"))).unwrap();
    };

    // The IGC-Santé TEST policy of the real cards: not the test PKI's.
    set_policies("[\"1.2.250.1.213.1.7.2.1.1.1.1\"]");
    let mut gp = Daemon::start("gp", &home, free_port(), &dir.join("gp.log"));
    // Not verified: `peers add` keeps the entry and exits 1.
    let entry = gp
        .cli(["peers", "add", &cardio.multiaddr(), "--json"])
        .code(1)
        .json();
    eprintln!("with a policy the colleague lacks: {entry}");
    assert!(entry["national_id"].is_null(), "{entry}");
    let why = entry["last_error"].as_str().unwrap_or_default();
    assert!(
        why.contains("polic"),
        "the refusal does not name the policy: {entry}"
    );

    // The policy the test PKI writes: accepted.
    gp.kill();
    set_policies(&format!("[\"{}\"]", confrere_testpki::TEST_POLICY_OID));
    gp.restart();
    connect(&gp, &cardio, &CARDIOLOGIST);
}
