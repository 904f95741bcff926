//! Consent and revocation across nodes, as processes on loopback (issue 4,
//! "Done when"): a send that no valid record covers is refused; a consent
//! is granted, dossiers go to two colleagues under it, the consent is
//! revoked, and both recipients erase the dossier, show it `revoked`,
//! refuse to open it and send an erasure receipt the sharer keeps; a
//! recipient offline during the revocation gets the notice, and erases,
//! once it is back; and each node's ledger is intact and records it all.
//!
//! Each test starts its own nodes (GP, cardiologist, radiologist) in its
//! own temporary directory, on fixed loopback ports without mDNS; only the
//! TEST PKI and cards are shared. Every daemon is killed when its guard
//! drops, and every wait is bounded.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use confrere_node::store::{Store, StoreKeySource};
use confrere_tests::{
    confrere_cmd, enroll, find_in_files, free_port, inbox, outbox, run, scratch_run_dir,
    wait_delivered, wait_for, Card, Daemon, Outcome, Practitioner, TestPki, CARDIOLOGIST, GP,
    RADIOLOGIST,
};
use serde_json::Value;

// ---------------------------------------------------------------------------
// The cast
// ---------------------------------------------------------------------------

/// The patient whose dossiers are shared.
const PATIENT_INS: &str = "285057512345623";
/// Another patient.
const OTHER_INS: &str = "269054958815780";

/// How long a small dossier may take to be delivered.
const DELIVERY: Duration = Duration::from_secs(40);
/// How long a revocation may take to reach a reachable recipient.
const ERASURE: Duration = Duration::from_secs(40);

fn shared_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-revocation"))
    })
}

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::init(&shared_dir().join("pki")))
}

fn card(who: &Practitioner<'static>) -> &'static Card {
    static GP_CARD: OnceLock<Card> = OnceLock::new();
    static CARDIO_CARD: OnceLock<Card> = OnceLock::new();
    static RADIO_CARD: OnceLock<Card> = OnceLock::new();
    let cell = match who.national_id {
        "810001000016" => &GP_CARD,
        "810001000024" => &CARDIO_CARD,
        _ => &RADIO_CARD,
    };
    cell.get_or_init(|| pki().issue(who, &shared_dir().join(format!("card-{}", who.national_id))))
}

/// Enrolls `who` in `dir/LABEL/home` and starts its daemon on a free
/// loopback port (log in `dir/LABEL.log`).
fn node(dir: &Path, label: &str, who: &Practitioner<'static>) -> Daemon {
    let home = dir.join(label).join("home");
    fs::create_dir_all(home.parent().unwrap()).unwrap();
    enroll(&home, card(who), &[pki()]).code(0);
    Daemon::start(label, &home, free_port(), &dir.join(format!("{label}.log")))
}

/// `from` adds `to`'s address and verifies who it serves.
#[track_caller]
fn connect(from: &Daemon, to: &Daemon, who: &Practitioner<'_>) {
    let entry = from.json(["peers", "add", &to.multiaddr()]);
    assert_eq!(entry["national_id"], who.national_id, "{entry}");
}

/// Three practices; the GP knows the two others.
fn three_practices(dir: &Path) -> (Daemon, Daemon, Daemon) {
    let gp = node(dir, "gp", &GP);
    let cardio = node(dir, "cardiologist", &CARDIOLOGIST);
    let radio = node(dir, "radiologist", &RADIOLOGIST);
    connect(&gp, &cardio, &CARDIOLOGIST);
    connect(&gp, &radio, &RADIOLOGIST);
    (gp, cardio, radio)
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/// Runs `confrere ARGS... --home HOME` against `node`'s home.
fn cli(node: &Daemon, args: &[&str]) -> Outcome {
    let mut cmd = confrere_cmd();
    cmd.args(args).arg("--home").arg(node.home());
    run(&mut cmd)
}

/// `consent grant` for `ins` naming `to`; returns the consent id.
#[track_caller]
fn grant(node: &Daemon, ins: &str, to: &[&str]) -> String {
    let mut args = vec!["consent", "grant", "--patient-ins", ins, "--to"];
    args.extend_from_slice(to);
    args.extend(["--purpose", "Avis specialise (test)", "--json"]);
    let out = cli(node, &args);
    out.code(0);
    let v = out.json();
    let id = v["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(id.len(), 32, "consent id\n{out}");
    assert_eq!(v["state"], "active", "{out}");
    id
}

/// `consent show ID --json`.
#[track_caller]
fn consent_show(node: &Daemon, id: &str) -> Value {
    let out = cli(node, &["consent", "show", id, "--json"]);
    out.code(0);
    out.json()
}

/// A small document to send.
fn document(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(
        &path,
        format!("Compte rendu {name}: ECG sinusal, FC 72/min.\n"),
    )
    .unwrap();
    path
}

/// `confrere send` of `PATIENT_INS`'s dossier (one document) to `to`,
/// citing `basis` (e.g. `["--consent", ID]`, or nothing).
fn send(node: &Daemon, to: &str, ins: &str, basis: &[&str], doc: &Path) -> Outcome {
    let mut cmd = confrere_cmd();
    cmd.arg("send")
        .args(basis)
        .arg("--home")
        .arg(node.home())
        .args(["--to", to])
        .args(["--patient-ins", ins])
        .args(["--patient-family", "QUIVREL"])
        .args(["--patient-given", "Odile"])
        .args(["--birth-date", "1985-05-12"])
        .args(["--sex", "F"])
        .args(["--reason", "Avis cardiologique"])
        .arg("--json")
        .arg(doc);
    run(&mut cmd)
}

/// A send that must be accepted; returns the dossier id.
#[track_caller]
/// The GP records consent to share with both colleagues and sends `doc`
/// to each under it; returns the consent and the two dossiers, delivered.
fn shared_with_both(gp: &Daemon, doc: &Path) -> (String, String, String) {
    let consent = grant(
        gp,
        PATIENT_INS,
        &[CARDIOLOGIST.national_id, RADIOLOGIST.national_id],
    );
    let basis = ["--consent", consent.as_str()];
    let to_cardio = sent(gp, CARDIOLOGIST.national_id, &basis, doc);
    let to_radio = sent(gp, RADIOLOGIST.national_id, &basis, doc);
    wait_delivered(gp, &to_cardio, DELIVERY);
    wait_delivered(gp, &to_radio, DELIVERY);
    (consent, to_cardio, to_radio)
}

fn sent(node: &Daemon, to: &str, basis: &[&str], doc: &Path) -> String {
    let out = send(node, to, PATIENT_INS, basis, doc);
    out.code(0);
    let v = out.json();
    assert_eq!(v["state"], "queued", "{out}");
    let id = v["id"].as_str().unwrap_or_default().to_owned();
    assert!(!id.is_empty(), "no dossier id\n{out}");
    id
}

/// A send that must be refused with exit code `code`, saying `needle`.
#[track_caller]
fn refused(out: &Outcome, code: i32, needle: &str) {
    out.code(code);
    let text = format!("{}{}", out.stdout, out.stderr).to_lowercase();
    assert!(
        text.contains(&needle.to_lowercase()),
        "expected {needle:?} in the message\n{out}"
    );
}

/// The recipient state of `who` in `consent show`.
fn recipient_state<'a>(shown: &'a Value, who: &str) -> Option<&'a Value> {
    shown["recipient_states"]
        .as_array()?
        .iter()
        .find(|r| r["national_id"] == who)
}

/// Polls `consent show` until `who`'s state is `erased`; returns it.
#[track_caller]
fn wait_erased(gp: &Daemon, consent: &str, who: &str, limit: Duration) -> Value {
    wait_for(
        &format!("{who} to return its erasure receipt for consent {consent}"),
        limit,
        Duration::from_millis(250),
        || {
            let shown = consent_show(gp, consent);
            match recipient_state(&shown, who) {
                Some(r) if r["state"] == "erased" => Ok(r.clone()),
                _ => Err(shown.to_string()),
            }
        },
    )
}

/// Polls the inbox of `node` until item `id` has `status`.
#[track_caller]
fn wait_inbox_status(node: &Daemon, id: &str, status: &str, limit: Duration) -> Value {
    wait_for(
        &format!("dossier {id} to be {status} in {}'s inbox", node.label()),
        limit,
        Duration::from_millis(250),
        || {
            let items = inbox(node);
            match items.iter().find(|i| i["id"] == id) {
                Some(i) if i["status"] == status => Ok(i.clone()),
                _ => Err(format!("{items:?}")),
            }
        },
    )
}

/// `HOME/blobs/<dossier id>.sealed`, where a node keeps a dossier's
/// ciphertext.
fn blob(node: &Daemon, dossier: &str) -> PathBuf {
    node.home().join("blobs").join(format!("{dossier}.sealed"))
}

fn dossier_bytes(id: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    assert_eq!(id.len(), 32, "dossier id {id}");
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&id[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// A day `offset` days from today (UTC), `YYYY-MM-DD`.
fn day(offset: i64) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let days = i64::try_from(secs / 86_400).unwrap() + offset;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The entries of `ledger show --json` of a stopped node.
#[track_caller]
fn ledger_entries(home: &Path) -> Vec<Value> {
    let mut cmd = confrere_cmd();
    cmd.args(["ledger", "show", "--json", "--home"]).arg(home);
    let out = run(&mut cmd);
    out.code(0);
    match out.json() {
        Value::Array(items) => items,
        Value::Object(mut o) => match o.remove("entries") {
            Some(Value::Array(items)) => items,
            other => panic!("ledger show --json: no entries: {other:?}\n{out}"),
        },
        other => panic!("ledger show --json is not a list: {other}"),
    }
}

/// Asserts `ledger verify` says the ledger of the stopped node is intact.
#[track_caller]
fn assert_ledger_intact(home: &Path) -> Value {
    let mut cmd = confrere_cmd();
    cmd.args(["ledger", "verify", "--json", "--home"]).arg(home);
    let out = run(&mut cmd);
    out.code(0);
    let v = out.json();
    assert_eq!(v["intact"], true, "{out}");
    v
}

/// Asserts the ledger holds an entry of each kind, for each of `dossiers`
/// (but for the consent's own entries, which name no dossier).
#[track_caller]
fn assert_kinds(label: &str, entries: &[Value], kinds: &[&str], dossiers: &[&str]) {
    let seen: Vec<String> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("?").to_ascii_lowercase())
        .collect();
    for kind in kinds {
        let of_kind: Vec<&Value> = entries
            .iter()
            .filter(|e| e["kind"].as_str().unwrap_or("").eq_ignore_ascii_case(kind))
            .collect();
        assert!(
            !of_kind.is_empty(),
            "no {kind} entry in the ledger of the {label}; kinds seen: {seen:?}"
        );
        // Every kind but the consent's own names the dossier.
        if kind.starts_with("consent_") {
            continue;
        }
        for d in dossiers {
            assert!(
                of_kind.iter().any(|e| e["dossier_id"] == *d),
                "no {kind} entry for dossier {d} in the ledger of the {label}: {of_kind:#?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// 1. A send no valid record covers is refused
// ---------------------------------------------------------------------------

#[test]
fn a_send_that_no_valid_record_covers_is_refused() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (gp, cardio, _radio) = three_practices(dir);
    let doc = document(dir, "ecg.txt");
    let to = CARDIOLOGIST.national_id;

    // No record cited at all: unusable input.
    let out = send(&gp, to, PATIENT_INS, &[], &doc);
    refused(&out, 2, "record");
    assert!(
        out.stderr.contains("--consent"),
        "the hint names --consent\n{out}"
    );

    // A consent of another patient.
    let other = grant(&gp, OTHER_INS, &[to]);
    let out = send(&gp, to, PATIENT_INS, &["--consent", &other], &doc);
    refused(&out, 1, "another patient");

    // A consent that does not name the recipient.
    let radio_only = grant(&gp, PATIENT_INS, &[RADIOLOGIST.national_id]);
    let out = send(&gp, to, PATIENT_INS, &["--consent", &radio_only], &doc);
    refused(&out, 1, "does not name");

    // A revoked consent.
    let revoked = grant(&gp, PATIENT_INS, &[to]);
    let out = cli(&gp, &["consent", "revoke", &revoked, "--json"]);
    out.code(0);
    assert_eq!(out.json()["state"], "revoked", "{out}");
    let out = send(&gp, to, PATIENT_INS, &["--consent", &revoked], &doc);
    refused(&out, 1, "revoked");
    // Revoking again says it already was.
    let out = cli(&gp, &["consent", "revoke", &revoked, "--json"]);
    assert_ne!(out.code, Some(0), "{out}");

    // A consent cannot expire in the past, nor a care-team record be
    // informed in the future: both are refused when recorded.
    let out = cli(
        &gp,
        &[
            "consent",
            "grant",
            "--patient-ins",
            PATIENT_INS,
            "--to",
            to,
            "--purpose",
            "Avis",
            "--expires",
            &day(-3),
            "--json",
        ],
    );
    refused(&out, 2, "expire");
    let out = cli(
        &gp,
        &[
            "care-team",
            "record",
            "--patient-ins",
            PATIENT_INS,
            "--to",
            to,
            "--informed-on",
            &day(3),
            "--json",
        ],
    );
    refused(&out, 2, "informed");

    // An unknown record, and two records at once.
    let out = send(
        &gp,
        to,
        PATIENT_INS,
        &["--consent", "0123456789abcdef0123456789abcdef"],
        &doc,
    );
    assert!(
        matches!(out.code, Some(1 | 2)),
        "an unknown consent is refused\n{out}"
    );
    let care = cli(
        &gp,
        &[
            "care-team",
            "record",
            "--patient-ins",
            PATIENT_INS,
            "--to",
            to,
            "--informed-on",
            &day(-1),
            "--json",
        ],
    );
    care.code(0);
    let care_id = care.json()["id"].as_str().unwrap().to_owned();
    let valid = grant(&gp, PATIENT_INS, &[to]);
    let out = send(
        &gp,
        to,
        PATIENT_INS,
        &["--consent", &valid, "--care-team", &care_id],
        &doc,
    );
    refused(&out, 2, "--care-team");
    // A care-team record of the patient for another recipient.
    let out = send(
        &gp,
        RADIOLOGIST.national_id,
        PATIENT_INS,
        &["--care-team", &care_id],
        &doc,
    );
    refused(&out, 1, "does not name");

    // Nothing refused was queued.
    assert!(outbox(&gp).is_empty(), "{:?}", outbox(&gp));

    // A valid care-team record: accepted and delivered.
    let id = sent(&gp, to, &["--care-team", &care_id], &doc);
    let delivered = wait_delivered(&gp, &id, DELIVERY);
    assert_eq!(delivered["to"], to);
    // And a valid consent, by its short id.
    let id2 = sent(&gp, to, &["--consent", &valid[..8]], &doc);
    wait_delivered(&gp, &id2, DELIVERY);
    let items = inbox(&cardio);
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(outbox(&gp).len(), 2);
    eprintln!(
        "refusals and accepted sends: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------
// 2 and 4. Consent, send to two colleagues, revoke; the ledgers
// ---------------------------------------------------------------------------

#[test]
fn a_revoked_consent_is_erased_by_both_recipients_and_every_ledger_records_it() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (mut gp, mut cardio, mut radio) = three_practices(dir);
    let doc = document(dir, "bilan.txt");

    let (consent, to_cardio, to_radio) = shared_with_both(&gp, &doc);
    let recipients = [(&cardio, &to_cardio), (&radio, &to_radio)];
    for (node, id) in recipients {
        assert!(
            blob(node, id).is_file(),
            "{} has no {}",
            node.label(),
            blob(node, id).display()
        );
    }
    // While the consent is active, each share is listed as `shared`.
    let shown = consent_show(&gp, &consent);
    for who in [CARDIOLOGIST.national_id, RADIOLOGIST.national_id] {
        let r = recipient_state(&shown, who).unwrap_or_else(|| panic!("{who}: {shown:#}"));
        assert_eq!(r["state"], "shared", "{shown:#}");
    }
    // The cardiologist opens it once (what the journal will show).
    let opened_dir = dir.join("opened");
    let out = cli(
        &cardio,
        &[
            "inbox",
            "open",
            &to_cardio,
            "--out",
            opened_dir.to_str().unwrap(),
            "--json",
        ],
    );
    out.code(0);

    // A run of the ciphertext, to look for afterwards.
    let sealed = fs::read(blob(&cardio, &to_cardio)).unwrap();
    let mid = sealed.len() / 2;
    let cipher_run = sealed[mid.saturating_sub(32)..(mid + 32).min(sealed.len())].to_vec();

    // The patient withdraws consent.
    let revoked_at = Instant::now();
    let out = cli(
        &gp,
        &[
            "consent",
            "revoke",
            &consent,
            "--reason",
            "patient request",
            "--json",
        ],
    );
    out.code(0);
    let v = out.json();
    assert_eq!(v["state"], "revoked", "{out}");
    assert_eq!(v["revoke_reason"], "patient request", "{out}");

    for who in [CARDIOLOGIST.national_id, RADIOLOGIST.national_id] {
        let r = wait_erased(&gp, &consent, who, ERASURE);
        assert!(r["receipt_at"].is_string(), "{r}");
        assert_eq!(r["held"], true, "{r}");
    }
    eprintln!(
        "both erasure receipts in {:.1} s after the revocation",
        revoked_at.elapsed().as_secs_f64()
    );
    let shown = consent_show(&gp, &consent);
    assert_eq!(shown["state"], "revoked", "{shown:#}");
    let states = shown["recipient_states"].as_array().unwrap();
    assert_eq!(states.len(), 2, "{shown:#}");
    for (who, id) in [
        (CARDIOLOGIST.national_id, &to_cardio),
        (RADIOLOGIST.national_id, &to_radio),
    ] {
        let r = recipient_state(&shown, who).unwrap();
        assert_eq!(r["dossier_id"], id.as_str(), "{shown:#}");
    }

    for (node, id) in [(&cardio, &to_cardio), (&radio, &to_radio)] {
        wait_inbox_status(node, id, "revoked", Duration::from_secs(5));
        let out_dir = dir.join(format!("open-{}", node.label()));
        let out = cli(
            node,
            &["inbox", "open", id, "--out", out_dir.to_str().unwrap()],
        );
        refused(&out, 1, "withdrew consent");
        assert!(
            !out_dir.exists() || fs::read_dir(&out_dir).unwrap().next().is_none(),
            "nothing was written"
        );
        assert!(
            !blob(node, id).exists(),
            "{} still holds {}",
            node.label(),
            blob(node, id).display()
        );
    }

    // No new send under it.
    let out = send(
        &gp,
        CARDIOLOGIST.national_id,
        PATIENT_INS,
        &["--consent", &consent],
        &doc,
    );
    refused(&out, 1, "revoked");

    // 4. The ledgers, the nodes stopped.
    for node in [&mut gp, &mut cardio, &mut radio] {
        let status = node.stop(Duration::from_secs(20));
        assert!(
            status.is_some(),
            "{} did not stop on SIGTERM in 20 s",
            node.label()
        );
    }
    // The cardiologist's store no longer has the key; no file of its home
    // holds a run of the ciphertext.
    {
        let store = Store::open(cardio.home(), StoreKeySource::KeyFile).unwrap();
        let did = dossier_bytes(&to_cardio);
        assert_eq!(store.get_wrapped_key(&did).unwrap(), None);
        assert_eq!(store.get_chunk(&did, 0).unwrap(), None);
    }
    let found = find_in_files(
        cardio.home(),
        &[("a run of the dossier's ciphertext", &cipher_run)],
    );
    assert!(
        found.is_empty(),
        "the erased dossier is still in the cardiologist's files: {found:?}"
    );

    for node in [&gp, &cardio, &radio] {
        assert_ledger_intact(node.home());
    }
    let entries = ledger_entries(gp.home());
    assert_kinds(
        "GP",
        &entries,
        &[
            "consent_granted",
            "dossier_sent",
            "dossier_delivered",
            "consent_revoked",
            "revocation_sent",
            "erasure_receipt_received",
        ],
        &[&to_cardio, &to_radio],
    );
    for (node, id) in [(&cardio, &to_cardio), (&radio, &to_radio)] {
        let entries = ledger_entries(node.home());
        assert_kinds(
            node.label(),
            &entries,
            &["dossier_received", "revocation_received", "dossier_erased"],
            &[id],
        );
    }
    let entries = ledger_entries(cardio.home());
    assert_kinds(
        "cardiologist",
        &entries,
        &["dossier_opened", "dossier_exported"],
        &[&to_cardio],
    );
    eprintln!(
        "revocation scenario with ledgers: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------
// 3. A recipient offline during the revocation
// ---------------------------------------------------------------------------

#[test]
fn a_recipient_offline_during_the_revocation_erases_once_it_is_back() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (gp, cardio, mut radio) = three_practices(dir);
    let doc = document(dir, "irm.txt");

    let (consent, to_cardio, to_radio) = shared_with_both(&gp, &doc);
    assert!(blob(&radio, &to_radio).is_file());

    // The radiologist's node goes down; the consent is revoked.
    radio.kill();
    cli(
        &gp,
        &["consent", "revoke", &consent, "--reason", "patient request"],
    )
    .code(0);
    wait_erased(&gp, &consent, CARDIOLOGIST.national_id, ERASURE);
    wait_inbox_status(&cardio, &to_cardio, "revoked", Duration::from_secs(5));
    let pending = wait_for(
        "the radiologist's notice to have failed once",
        Duration::from_secs(30),
        Duration::from_millis(250),
        || {
            let shown = consent_show(&gp, &consent);
            match recipient_state(&shown, RADIOLOGIST.national_id) {
                Some(r) if r["state"] == "pending" && r["last_error"].is_string() => Ok(r.clone()),
                _ => Err(shown.to_string()),
            }
        },
    );
    assert!(pending["receipt_at"].is_null(), "{pending}");
    assert_eq!(pending["dossier_id"], to_radio.as_str());
    // While it is down, its dossier is untouched.
    assert!(blob(&radio, &to_radio).is_file());

    // Back on the same port: the notice reaches it.
    let back = Instant::now();
    radio.restart();
    let r = wait_erased(
        &gp,
        &consent,
        RADIOLOGIST.national_id,
        Duration::from_secs(60),
    );
    assert!(r["receipt_at"].is_string(), "{r}");
    assert_eq!(r["held"], true, "{r}");
    eprintln!(
        "the radiologist's receipt came {:.1} s after it restarted",
        back.elapsed().as_secs_f64()
    );
    wait_inbox_status(&radio, &to_radio, "revoked", Duration::from_secs(5));
    assert!(!blob(&radio, &to_radio).exists());
    let out_dir = dir.join("open-radio");
    let out = cli(
        &radio,
        &[
            "inbox",
            "open",
            &to_radio,
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    refused(&out, 1, "withdrew consent");
    eprintln!(
        "offline-recipient scenario: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------
// The erased dossier's key leaves no copy in the recipient's files
// ---------------------------------------------------------------------------

/// The dossier key the recipient wrapped (as `Store::get_wrapped_key` gives
/// it) must be gone from every file of its home once it erased the
/// dossier, not only from the store's view: `destroy_key` removes it from
/// sled's `keys` tree, but sled is log-structured and keeps the old value
/// in `store/db` until it reclaims the segment.
#[test]

fn an_erased_dossier_leaves_no_copy_of_its_key_in_the_recipients_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let gp = node(dir, "gp", &GP);
    let mut cardio = node(dir, "cardiologist", &CARDIOLOGIST);
    connect(&gp, &cardio, &CARDIOLOGIST);
    let doc = document(dir, "echo.txt");
    let consent = grant(&gp, PATIENT_INS, &[CARDIOLOGIST.national_id]);
    let id = sent(
        &gp,
        CARDIOLOGIST.national_id,
        &["--consent", &consent],
        &doc,
    );
    wait_delivered(&gp, &id, DELIVERY);
    let did = dossier_bytes(&id);

    // The wrapped key, read from the store while the node is stopped.
    cardio.stop(Duration::from_secs(20)).expect("cardio stops");
    let wrapped_key = {
        let store = Store::open(cardio.home(), StoreKeySource::KeyFile).unwrap();
        store
            .get_wrapped_key(&did)
            .unwrap()
            .expect("the cardiologist holds the dossier's key")
    };
    assert!(wrapped_key.len() >= 16, "{} bytes", wrapped_key.len());
    cardio.restart();

    cli(&gp, &["consent", "revoke", &consent]).code(0);
    wait_erased(&gp, &consent, CARDIOLOGIST.national_id, ERASURE);
    cardio.stop(Duration::from_secs(20)).expect("cardio stops");
    {
        let store = Store::open(cardio.home(), StoreKeySource::KeyFile).unwrap();
        assert_eq!(store.get_wrapped_key(&did).unwrap(), None);
    }
    let found = find_in_files(
        cardio.home(),
        &[("the erased dossier's wrapped key", &wrapped_key)],
    );
    assert!(
        found.is_empty(),
        "the erased dossier's key is still in the cardiologist's files: {found:?}"
    );
}

// ---------------------------------------------------------------------------
// The patient's access journal
// ---------------------------------------------------------------------------

/// The journal on each node lists the sends, receipts, openings, exports
/// and erasures of a shared-then-revoked dossier, each line with the hash
/// of a ledger entry of that node; every format carries the same events,
/// and the FHIR output is a Bundle of AuditEvent resources.
#[test]
fn the_journal_lists_every_event_on_each_node_in_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (gp, cardio, _radio) = three_practices(dir);
    let consent = grant(&gp, PATIENT_INS, &[CARDIOLOGIST.national_id]);
    let doc = document(dir, "ecg.txt");
    let id = sent(
        &gp,
        CARDIOLOGIST.national_id,
        &["--consent", &consent],
        &doc,
    );
    wait_delivered(&gp, &id, DELIVERY);
    let out_dir = dir.join("opened");
    cli(
        &cardio,
        &["inbox", "open", &id, "--out", out_dir.to_str().unwrap()],
    )
    .code(0);
    cli(
        &gp,
        &["consent", "revoke", &consent, "--reason", "patient request"],
    )
    .code(0);
    wait_erased(&gp, &consent, CARDIOLOGIST.national_id, ERASURE);

    let expect: [(&Daemon, &[&str]); 2] = [
        (
            &gp,
            &[
                "consent_granted",
                "dossier_sent",
                "dossier_delivered",
                "consent_revoked",
                "revocation_sent",
                "erasure_receipt_received",
            ],
        ),
        (
            &cardio,
            &[
                "dossier_received",
                "dossier_opened",
                "dossier_exported",
                "revocation_received",
                "dossier_erased",
            ],
        ),
    ];
    for (node, kinds) in expect {
        let out = cli(
            node,
            &["journal", "--patient-ins", PATIENT_INS, "--format", "json"],
        );
        out.code(0);
        let lines = out.json();
        let lines = lines.as_array().unwrap();
        let seen: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
        for k in kinds {
            assert!(
                seen.contains(k),
                "{}: {k} missing from {seen:?}",
                node.label()
            );
        }
        // Each line's hash is the hash of a ledger entry of this node.
        let ledger = cli(node, &["ledger", "show", "--json"]);
        ledger.code(0);
        let hashes: Vec<String> = ledger
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["hash"].as_str().unwrap().to_owned())
            .collect();
        for l in lines {
            let h = l["entry_hash"].as_str().unwrap();
            assert!(
                hashes.iter().any(|x| x == h),
                "{}: {h} not in the ledger",
                node.label()
            );
            assert_eq!(l["node"], node_national_id(node), "{l}");
        }
        // Who: the recipient's receipt is attributed to the recipient.
        if node.label() == "gp" {
            let delivered = lines
                .iter()
                .find(|l| l["kind"] == "dossier_delivered")
                .unwrap();
            assert_eq!(delivered["who"], CARDIOLOGIST.national_id, "{delivered}");
            assert_eq!(delivered["dossier_id"], id.as_str(), "{delivered}");
        }
        // Text, CSV and FHIR carry the same events.
        let text = cli(node, &["journal", "--patient-ins", PATIENT_INS]);
        text.code(0);
        assert_eq!(
            text.stdout.lines().filter(|l| l.contains('#')).count(),
            lines.len(),
            "{text}"
        );
        let csv = cli(
            node,
            &["journal", "--patient-ins", PATIENT_INS, "--format", "csv"],
        );
        csv.code(0);
        let mut rows = csv.stdout.lines();
        assert!(rows.next().unwrap().starts_with("seq,time,who"), "{csv}");
        assert_eq!(rows.count(), lines.len(), "{csv}");
        let fhir = cli(
            node,
            &["journal", "--patient-ins", PATIENT_INS, "--format", "fhir"],
        );
        fhir.code(0);
        let bundle = fhir.json();
        assert_eq!(bundle["resourceType"], "Bundle", "{fhir}");
        let entries = bundle["entry"].as_array().unwrap();
        assert_eq!(entries.len(), lines.len());
        for e in entries {
            let ev = &e["resource"];
            assert_eq!(ev["resourceType"], "AuditEvent", "{ev}");
            assert!(
                ev["recorded"].as_str().is_some_and(|t| t.ends_with('Z')),
                "{ev}"
            );
            assert!(ev["type"]["code"].as_str().is_some(), "{ev}");
            assert!(
                ev["agent"][0]["who"]["identifier"]["value"]
                    .as_str()
                    .is_some(),
                "{ev}"
            );
            assert!(
                ev["entity"].as_array().is_some_and(|a| !a.is_empty()),
                "{ev}"
            );
        }
    }
    // Another patient's journal is empty.
    let other = cli(
        &gp,
        &["journal", "--patient-ins", OTHER_INS, "--format", "json"],
    );
    other.code(0);
    assert_eq!(other.json().as_array().map(Vec::len), Some(0), "{other}");
    // An invalid INS is refused.
    cli(&gp, &["journal", "--patient-ins", "123"]).code(2);
}

fn node_national_id(node: &Daemon) -> String {
    node.json(["status"])["national_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Retention: with `[retention] years = 0` every dossier is past its
/// period; `purge --dry-run` lists without erasing, `purge` erases (the
/// blob and key files go), records it, and the item can no longer be opened.
#[test]
fn purge_erases_dossiers_past_their_retention_period() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let gp = node(dir, "gp", &GP);
    // The cardiologist keeps nothing: retention of zero years.
    let home = dir.join("cardiologist").join("home");
    fs::create_dir_all(home.parent().unwrap()).unwrap();
    enroll(&home, card(&CARDIOLOGIST), &[pki()]).code(0);
    let config = fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(config.contains("years = 20"), "{config}");
    fs::write(
        home.join("config.toml"),
        config.replace("years = 20", "years = 0"),
    )
    .unwrap();
    let cardio = Daemon::start(
        "cardiologist",
        &home,
        free_port(),
        &dir.join("cardiologist.log"),
    );
    connect(&gp, &cardio, &CARDIOLOGIST);
    let consent = grant(&gp, PATIENT_INS, &[CARDIOLOGIST.national_id]);
    let id = sent(
        &gp,
        CARDIOLOGIST.national_id,
        &["--consent", &consent],
        &document(dir, "old.txt"),
    );
    wait_delivered(&gp, &id, DELIVERY);
    assert!(blob(&cardio, &id).exists());

    let dry = cli(&cardio, &["purge", "--dry-run", "--json"]);
    dry.code(0);
    let report = dry.json();
    assert_eq!(report["retention_years"], 0, "{dry}");
    let listed = report["dossiers"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|d| d["dossier_id"] == id.as_str() && d["erased"] == false),
        "{dry}"
    );
    assert!(blob(&cardio, &id).exists(), "a dry run erases nothing");

    let done = cli(&cardio, &["purge", "--json"]);
    done.code(0);
    assert!(
        done.json()["dossiers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["dossier_id"] == id.as_str() && d["erased"] == true),
        "{done}"
    );
    assert!(!blob(&cardio, &id).exists(), "the chunks are gone");
    let out_dir = dir.join("after-purge");
    cli(
        &cardio,
        &["inbox", "open", &id, "--out", out_dir.to_str().unwrap()],
    )
    .code(1);
    let journal = cli(
        &cardio,
        &["journal", "--patient-ins", PATIENT_INS, "--format", "json"],
    );
    journal.code(0);
    assert!(
        journal
            .json()
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["kind"] == "retention_purge"),
        "{journal}"
    );
    // A second purge has nothing left to do for it.
    let again = cli(&cardio, &["purge", "--json"]);
    again.code(0);
    assert!(
        !again.json()["dossiers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["dossier_id"] == id.as_str()),
        "{again}"
    );
}

/// `send --wait` returns once the signed receipt is in, and exits 1 with the
/// outbox's reason when the recipient cannot be reached in time.
#[test]
fn send_wait_returns_once_delivered_and_times_out_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (gp, _cardio, mut radio) = three_practices(dir);
    let consent = grant(
        &gp,
        PATIENT_INS,
        &[CARDIOLOGIST.national_id, RADIOLOGIST.national_id],
    );
    let doc = document(dir, "wait.txt");
    let base = |to: &'static str, wait: &'static str| -> Vec<String> {
        [
            "send",
            "--wait",
            wait,
            "--consent",
            &consent,
            "--to",
            to,
            "--patient-ins",
            PATIENT_INS,
            "--patient-family",
            "QUIVREL",
            "--patient-given",
            "Odile",
            "--birth-date",
            "1985-05-12",
            "--sex",
            "F",
            "--reason",
            "Avis",
            doc.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let args = base(CARDIOLOGIST.national_id, "60");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = cli(&gp, &args);
    out.code(0);
    out.stdout_has("Delivered to 810001000024");

    radio.kill();
    let args = base(RADIOLOGIST.national_id, "3");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = cli(&gp, &args);
    out.code(1);
    out.stderr_has("not delivered yet");
}
