//! The JSON every command prints with `--json` (and `journal --format
//! json|fhir`), and the errors that need running nodes, from real daemons
//! on loopback.
//!
//! - Each JSON output is checked against `tests/cmd/json/NAME.json`: the
//!   exact set of field names, recursively, and the JSON type of each (see
//!   `snapshot_support`). Renaming, removing or adding a field, or changing
//!   its type, fails.
//! - The errors (and the few plain answers that belong with them) are
//!   compared with `tests/cmd/transcripts/nodes.txt`: a GP's node refusing a
//!   revoked card and an untrusted CA; consent and
//!   send refusals (no record cited, unknown recipient, another patient, a
//!   recipient the consent does not name, a revoked consent, invalid INS or
//!   national id); inbox errors (unknown id, a path as id, an erased
//!   dossier); a second `run` of a home; a tampered ledger.
//!
//! One scenario plays it all, so that the nodes start once: a GP and a
//! cardiologist under one TEST PKI; a radiologist whose card was revoked;
//! a stranger under another TEST PKI; a node whose credential was altered.
//! Only the GP and the cardiologist stay up past the first checks. Every
//! daemon is killed when its guard drops, every wait is bounded, nodes
//! listen on 127.0.0.1 without mDNS.
//!
//! Rewrite the snapshots after an intended change with
//! `SNAPSHOTS=overwrite cargo test -p confrere-tests --test json_shapes`,
//! then read the diff.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

mod snapshot_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use confrere_node::store::{Store, StoreKeySource, Tree};
use confrere_tests::{
    confrere, confrere_cmd, enroll, free_port, run, run_with_limit, scratch_run_dir, wait_for,
    Card, Daemon, Outcome, Practitioner, TestPki, CARDIOLOGIST, GP, RADIOLOGIST,
};
use serde_json::Value;
use snapshot_support::{assert_no_failures, check_shape, Transcript};

/// Under another TEST PKI, which the others do not trust.
const STRANGER: Practitioner<'static> = Practitioner {
    national_id: "810001000040",
    given: "MALLORY",
    surname: "INTRUS",
    profession: 10,
    ecdsa: false,
};

/// The patient of the scenario (INS with a valid key).
const INS: &str = "285057512345623";
/// Another patient.
const OTHER_INS: &str = "269054958815780";

/// How long a delivery, a reply or an erasure may take (debug builds on a
/// busy 2-core machine).
const LIMIT: Duration = Duration::from_secs(60);

/// The scenario's state: the transcript, the failures collected so far.
struct Check {
    transcript: Transcript,
    failures: Vec<String>,
}

impl Check {
    /// Runs `confrere ARGS --home HOME` against `node` and records it.
    fn cli(&mut self, node: &Daemon, args: &[&str]) -> Outcome {
        let home = node.home().display().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--home", home.as_str()]);
        let out = confrere(&all);
        self.transcript.record("", &all, &out);
        out
    }

    /// Runs `confrere ARGS --json --home HOME`, expects exit 0 and checks
    /// the shape of the JSON against `json/NAME.json`.
    #[track_caller]
    fn json(&mut self, name: &str, node: &Daemon, args: &[&str]) -> Value {
        let mut all: Vec<&str> = args.to_vec();
        all.push("--json");
        self.json_args(name, node, &all)
    }

    /// Like [`Check::json`], the arguments taken as they are (for
    /// `journal --format json`).
    #[track_caller]
    fn json_args(&mut self, name: &str, node: &Daemon, args: &[&str]) -> Value {
        let home = node.home().display().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--home", home.as_str()]);
        let out = confrere(&all);
        out.code(0);
        let v = out.json();
        self.shape(name, &all, &v);
        v
    }

    /// Checks `v` against `json/NAME.json`; `args` name the command.
    fn shape(&mut self, name: &str, args: &[&str], v: &Value) {
        let command = self.transcript.command_line(args);
        if let Err(e) = check_shape(name, &command, v) {
            self.failures.push(e);
        }
    }
}

/// Issues a card for `who` from `pki` into `dir/card-ID`.
fn card(pki: &TestPki, dir: &Path, who: &Practitioner<'_>) -> Card {
    pki.issue(who, &dir.join(format!("card-{}", who.national_id)))
}

/// `dir/LABEL/home`, its parent made.
fn home_of(dir: &Path, label: &str) -> PathBuf {
    let home = dir.join(label).join("home");
    fs::create_dir_all(home.parent().unwrap()).unwrap();
    home
}

/// `confrere init --json` of `card` under `pki`'s root and CRL.
fn enroll_json(home: &Path, card: &Card, pki: &TestPki) -> confrere_tests::Outcome {
    let mut init = confrere_cmd();
    init.arg("init")
        .arg("--home")
        .arg(home)
        .arg("--cert")
        .arg(card.cert())
        .arg("--key")
        .arg(card.key())
        .arg("--chain")
        .arg(card.chain())
        .arg("--trust")
        .arg(pki.root())
        .arg("--crl")
        .arg(pki.crl())
        .arg("--json");
    let out = run(&mut init);
    out.code(0);
    out
}

fn start(dir: &Path, label: &str, home: &Path) -> Daemon {
    Daemon::start(label, home, free_port(), &dir.join(format!("{label}.log")))
}

/// Whether `node`'s dossier `id` is in its outbox as delivered.
fn delivered(node: &Daemon, id: &str) -> Result<(), String> {
    let items = node.json(["outbox"]);
    let item = items
        .as_array()
        .and_then(|a| a.iter().find(|i| i["id"] == id))
        .cloned();
    match item {
        Some(i) if i["state"] == "delivered" => Ok(()),
        other => Err(format!("{other:?}")),
    }
}

/// `send` to `to` about patient `ins`, citing `basis`.
fn send_args<'a>(to: &'a str, ins: &'a str, basis: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "send",
        "--to",
        to,
        "--patient-ins",
        ins,
        "--patient-family",
        "ZQWXYTEST",
        "--patient-given",
        "Hortensia",
        "--birth-date",
        "1985-05-12",
        "--sex",
        "F",
        "--reason",
        "Palpitations, ECG attached",
    ];
    v.extend_from_slice(basis);
    v
}

#[test]
fn json_shapes_and_errors_of_running_nodes() {
    let dir = scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("json-shapes"));
    let mut c = Check {
        transcript: Transcript::new(),
        failures: Vec::new(),
    };

    // ---- The cast ---------------------------------------------------------
    let pki_a = TestPki::init(&dir.join("pki-a"));
    let pki_b = TestPki::init(&dir.join("pki-b"));
    let gp_card = card(&pki_a, &dir, &GP);
    let cardio_card = card(&pki_a, &dir, &CARDIOLOGIST);
    let radio_card = card(&pki_a, &dir, &RADIOLOGIST);
    let stranger_card = card(&pki_b, &dir, &STRANGER);
    // The radiologist's card is revoked before the others enroll: their
    // CRL lists it.
    let mut revoke = confrere_cmd();
    revoke
        .args(["pki", "revoke-test", "--ca"])
        .arg(&pki_a.dir)
        .arg(radio_card.cert());
    run(&mut revoke).code(0);

    // The GP enrolls with --json.
    let gp_home = home_of(&dir, "gp");
    let out = enroll_json(&gp_home, &gp_card, &pki_a);
    c.shape(
        "init",
        &["init", "--home", "HOME", "--cert", "…", "--json"],
        &out.json(),
    );

    let cardio_home = home_of(&dir, "cardio");
    enroll(&cardio_home, &cardio_card, &[&pki_a]).code(0);
    // The revoked card enrolls only with revocation checks off.
    let radio_home = home_of(&dir, "radio");
    let mut init = confrere_cmd();
    init.arg("init")
        .arg("--home")
        .arg(&radio_home)
        .arg("--cert")
        .arg(radio_card.cert())
        .arg("--key")
        .arg(radio_card.key())
        .arg("--chain")
        .arg(radio_card.chain())
        .arg("--trust")
        .arg(pki_a.root())
        .arg("--no-revocation-check");
    run(&mut init).code(0);
    let stranger_home = home_of(&dir, "stranger");
    enroll(&stranger_home, &stranger_card, &[&pki_b]).code(0);
    // (A node whose credential was altered does not start at all:
    // tests/enrollment.rs; peers refusing one: protocol/tests/credential.rs.)

    let mut gp = start(&dir, "gp", &gp_home);
    let mut cardio = start(&dir, "cardio", &cardio_home);
    let mut radio = start(&dir, "radio", &radio_home);
    let mut stranger = start(&dir, "stranger", &stranger_home);

    let t = &mut c.transcript;
    t.redact(dir.display().to_string(), "[DIR]");
    for (node, name) in [
        (&gp, "GP"),
        (&cardio, "CARDIO"),
        (&radio, "RADIO"),
        (&stranger, "STRANGER"),
    ] {
        t.redact(node.home().display().to_string(), &format!("[{name}_HOME]"));
        t.redact(node.peer_id(), &format!("[{name}_PEER_ID]"));
        t.redact(
            node.peer_id().get(8..16).unwrap_or_default(),
            &format!("[{name}_PEER_ID:8]"),
        );
        t.redact(
            format!("/ip4/127.0.0.1/tcp/{}", node.port()),
            &format!("/ip4/127.0.0.1/tcp/[{name}_PORT]"),
        );
    }

    c.json("status", &gp, &["status"]);

    // ---- Whom a node refuses to talk to ----------------------------------
    c.transcript
        .note("The GP adds nodes: a colleague, a revoked card, an untrusted CA.");
    let entry = c.json("peers-add", &gp, &["peers", "add", &cardio.multiaddr()]);
    assert_eq!(entry["national_id"], CARDIOLOGIST.national_id, "{entry}");
    c.cli(&gp, &["peers", "add", &radio.multiaddr()]);
    c.cli(&gp, &["peers", "add", &stranger.multiaddr()]);
    c.transcript
        .note("An address whose /p2p/ part names another node; an address nothing listens on; not an address.");
    // The peer id of a node that never ran: at the cardiologist's address,
    // another node answers.
    let ghost = home_of(&dir, "ghost");
    let out = enroll_json(&ghost, &gp_card, &pki_a);
    let ghost_id = out.json()["peer_id"].as_str().unwrap().to_owned();
    c.transcript.redact(ghost_id.clone(), "[GHOST_PEER_ID]");
    c.transcript.redact(&ghost_id[8..16], "[GHOST_PEER_ID:8]");
    let wrong_id = format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", cardio.port(), ghost_id);
    c.cli(&gp, &["peers", "add", &wrong_id]);
    c.cli(&gp, &["peers", "add", "/ip4/127.0.0.1/tcp/1"]);
    c.cli(&gp, &["peers", "add", "/ip4/300.1.2.3/tcp/4100"]);
    c.json("peers-list", &gp, &["peers", "list"]);
    // They have shown what they had to.
    for node in [&mut radio, &mut stranger] {
        node.kill();
    }
    let back = cardio.json(["peers", "add", &gp.multiaddr()]);
    assert_eq!(back["national_id"], GP.national_id, "{back}");

    // ---- Consents and what they allow ------------------------------------
    c.transcript
        .note("Consent and care-team records the daemon refuses.");
    let cardio_id = CARDIOLOGIST.national_id;
    let grant = |ins: &'static str, to: &'static str| {
        vec![
            "consent",
            "grant",
            "--patient-ins",
            ins,
            "--to",
            to,
            "--purpose",
            "Cardiology opinion",
        ]
    };
    c.cli(&gp, &grant("285057512345624", cardio_id));
    c.cli(&gp, &grant(INS, "810001000017"));
    c.cli(
        &gp,
        &[&grant(INS, cardio_id)[..], &["--to", cardio_id]].concat(),
    );
    c.cli(
        &gp,
        &[&grant(INS, cardio_id)[..], &["--expires", "2020-01-01"]].concat(),
    );
    c.cli(
        &gp,
        &[
            "consent",
            "grant",
            "--patient-ins",
            INS,
            "--to",
            cardio_id,
            "--purpose",
            " ",
        ],
    );
    c.cli(
        &gp,
        &[
            "care-team",
            "record",
            "--patient-ins",
            INS,
            "--to",
            cardio_id,
            "--informed-on",
            "2099-01-01",
        ],
    );
    c.cli(&gp, &["consent", "show", "0123456789abcdef"]);
    c.cli(&gp, &["consent", "show", "MARTIN"]);
    c.cli(
        &gp,
        &["consent", "revoke", "0123456789abcdef0123456789abcdef"],
    );

    let consent = c.json("consent-grant", &gp, &grant(INS, cardio_id));
    let consent_id = consent["id"].as_str().unwrap().to_owned();
    // A consent that names the radiologist only.
    let other = gp.json(grant(INS, RADIOLOGIST.national_id));
    let other_id = other["id"].as_str().unwrap().to_owned();
    let care = c.json(
        "care-team-record",
        &gp,
        &[
            "care-team",
            "record",
            "--patient-ins",
            INS,
            "--to",
            cardio_id,
            "--informed-on",
            "2025-06-01",
        ],
    );
    for (id, name) in [
        (consent_id.as_str(), "CONSENT_ID"),
        (other_id.as_str(), "RADIO_CONSENT_ID"),
        (care["id"].as_str().unwrap(), "CARE_TEAM_ID"),
    ] {
        c.transcript.redact(id, &format!("[{name}]"));
        c.transcript.redact(&id[..12], &format!("[{name}:12]"));
        c.transcript.redact(&id[..8], &format!("[{name}:8]"));
    }

    // ---- Sends the daemon refuses ----------------------------------------
    let docs = dir.join("docs");
    fs::create_dir_all(&docs).unwrap();
    let ecg = docs.join("ecg.pdf");
    fs::write(&ecg, b"%PDF-1.4\n% ECG of a TEST patient\n").unwrap();
    // A name that means a path elsewhere: the recipient writes it inside
    // the directory it is given.
    let odd = docs.join(r"..\..\labs.pdf");
    fs::write(&odd, b"%PDF-1.4\n% labs\n").unwrap();
    let letter = docs.join("letter.txt");
    fs::write(&letter, "Cher confrère,\nmerci de voir cette patiente.\n").unwrap();
    let ecg_s = ecg.display().to_string();
    let odd_s = odd.display().to_string();
    let letter_s = letter.display().to_string();
    c.transcript.note("Sends the daemon refuses.");
    c.cli(
        &gp,
        &[&send_args(cardio_id, INS, &[])[..], &[&ecg_s]].concat(),
    );
    c.cli(
        &gp,
        &[
            &send_args(STRANGER.national_id, INS, &["--consent", &consent_id])[..],
            &[&ecg_s],
        ]
        .concat(),
    );
    c.cli(
        &gp,
        &[
            &send_args(cardio_id, OTHER_INS, &["--consent", &consent_id])[..],
            &[&ecg_s],
        ]
        .concat(),
    );
    c.cli(
        &gp,
        &[
            &send_args(cardio_id, INS, &["--consent", &other_id])[..],
            &[&ecg_s],
        ]
        .concat(),
    );
    c.cli(
        &gp,
        &[
            &send_args(cardio_id, INS, &["--consent", "0123456789abcdef"])[..],
            &[&ecg_s],
        ]
        .concat(),
    );
    c.cli(
        &gp,
        &[
            &send_args(cardio_id, INS, &["--care-team", "0123456789abcdef"])[..],
            &[&ecg_s],
        ]
        .concat(),
    );
    c.cli(
        &gp,
        &[
            &send_args("81000100002", INS, &["--consent", &consent_id])[..],
            &[&ecg_s],
        ]
        .concat(),
    );
    c.cli(
        &gp,
        &[
            &send_args(cardio_id, "2850575123456", &["--consent", &consent_id])[..],
            &[&ecg_s],
        ]
        .concat(),
    );
    let mut bad_day = send_args(cardio_id, INS, &["--consent", &consent_id]);
    bad_day[10] = "1985-02-30";
    c.cli(&gp, &[&bad_day[..], &[&ecg_s]].concat());

    // ---- A referral, delivered --------------------------------------------
    let sent = c.json(
        "send",
        &gp,
        &[
            &send_args(cardio_id, INS, &["--consent", &consent_id[..8]])[..],
            &["--urgent", "--letter", &letter_s, &ecg_s, &odd_s],
        ]
        .concat(),
    );
    let referral = sent["id"].as_str().unwrap().to_owned();
    c.transcript.redact(referral.clone(), "[REFERRAL_ID]");
    c.transcript.redact(&referral[..12], "[REFERRAL_ID:12]");
    c.transcript.redact(&referral[..8], "[REFERRAL_ID:8]");
    wait_for(
        "the referral to be delivered",
        LIMIT,
        Duration::from_millis(250),
        || delivered(&gp, &referral),
    );
    c.json("outbox", &gp, &["outbox"]);

    // ---- The cardiologist's inbox -----------------------------------------
    c.json("inbox", &cardio, &["inbox"]);
    c.json("inbox-item", &cardio, &["inbox", "show", &referral[..8]]);
    c.transcript.note("Inbox ids that are not.");
    c.cli(&cardio, &["inbox", "show", "0123456789abcdef"]);
    c.cli(&cardio, &["inbox", "show", "../../etc/passwd"]);
    c.cli(&cardio, &["inbox", "accept", "3f2a"]);
    c.transcript
        .note("Opening writes the documents inside --out, whatever their names.");
    let opened = dir.join("opened");
    let opened_s = opened.display().to_string();
    c.cli(
        &cardio,
        &["inbox", "open", &referral[..8], "--out", &opened_s],
    );
    let opened2 = dir.join("opened-again").display().to_string();
    c.json(
        "inbox-open",
        &cardio,
        &["inbox", "open", &referral, "--out", &opened2],
    );
    c.json("inbox-item", &cardio, &["inbox", "accept", &referral]);
    let report = docs.join("report.pdf");
    fs::write(&report, b"%PDF-1.4\n% report\n").unwrap();
    let reply = c.json(
        "send",
        &cardio,
        &[
            "inbox",
            "reply",
            &referral,
            "--letter",
            &letter_s,
            &report.display().to_string(),
        ],
    );
    let reply_id = reply["id"].as_str().unwrap().to_owned();
    c.transcript.redact(reply_id.clone(), "[REPLY_ID]");
    c.transcript.redact(&reply_id[..12], "[REPLY_ID:12]");
    c.transcript
        .note("An answered referral is not then declined.");
    c.cli(
        &cardio,
        &[
            "inbox",
            "decline",
            &referral,
            "--reason",
            "No slot before March",
        ],
    );
    wait_for(
        "the reply to reach the GP",
        LIMIT,
        Duration::from_millis(250),
        || {
            let items = gp.json(["inbox"]);
            let found = items
                .as_array()
                .is_some_and(|a| a.iter().any(|i| i["in_reply_to"] == referral.as_str()));
            if found {
                Ok(())
            } else {
                Err(items.to_string())
            }
        },
    );
    c.json("inbox", &gp, &["inbox"]);

    // ---- The patient withdraws consent --------------------------------------
    c.json("consent-show", &gp, &["consent", "show", &consent_id]);
    c.json("consent-list", &gp, &["consent", "list"]);
    c.json(
        "consent-revoke",
        &gp,
        &[
            "consent",
            "revoke",
            &consent_id[..8],
            "--reason",
            "Withdrawn by the patient",
        ],
    );
    wait_for(
        "the cardiologist's erasure receipt",
        LIMIT,
        Duration::from_millis(250),
        || {
            let v = gp.json(["consent", "show", &consent_id]);
            if v["recipient_states"][0]["state"] == "erased" {
                Ok(())
            } else {
                Err(v.to_string())
            }
        },
    );
    c.json("consent-show", &gp, &["consent", "show", &consent_id]);
    c.transcript
        .note("After the patient withdrew consent: nothing more under it, the copy is erased.");
    c.cli(&gp, &["consent", "revoke", &consent_id]);
    c.cli(
        &gp,
        &[
            &send_args(cardio_id, INS, &["--consent", &consent_id])[..],
            &[&ecg_s],
        ]
        .concat(),
    );
    let opened3 = dir.join("opened-after").display().to_string();
    c.cli(&cardio, &["inbox", "open", &referral, "--out", &opened3]);
    // The erased item keeps no patient details; no reply goes out about it.
    let erased = cardio.cli(["inbox", "show", &referral]);
    erased
        .code(0)
        .stdout_has("revoked")
        .stdout_has("were erased");
    assert!(!erased.stdout.contains("ZQWXYTEST"), "{erased}");
    c.cli(
        &cardio,
        &["inbox", "reply", &referral, "--letter", &letter_s],
    );

    // ---- Journal, purge, ledger --------------------------------------------
    for node in [&gp, &cardio] {
        c.json_args(
            "journal",
            node,
            &["journal", "--patient-ins", INS, "--format", "json"],
        );
        c.json_args(
            "journal-fhir",
            node,
            &["journal", "--patient-ins", INS, "--format", "fhir"],
        );
        let csv = node.cli(["journal", "--patient-ins", INS, "--format", "csv"]);
        csv.code(0);
        assert_eq!(
            csv.stdout.lines().next(),
            Some("seq,time,who,who_name,kind,what,dossier_id,consent_id,node,node_peer_id,entry_hash"),
            "{csv}"
        );
    }
    c.transcript
        .note("The journal of an INS that is not one, and of a patient never seen.");
    c.cli(&gp, &["journal", "--patient-ins", "2850575123456"]);
    c.cli(&gp, &["journal", "--patient-ins", OTHER_INS]);
    // Every dossier is past a retention of 0 years.
    let config = cardio.home().join("config.toml");
    let text = fs::read_to_string(&config).unwrap();
    assert!(text.contains("\nyears = 20\n"), "{text}");
    fs::write(&config, text.replace("\nyears = 20\n", "\nyears = 0\n")).unwrap();
    c.json("purge", &cardio, &["purge", "--dry-run"]);
    c.json("ledger-show-sender", &gp, &["ledger", "show"]);
    c.json("ledger-show-recipient", &cardio, &["ledger", "show"]);
    c.json("ledger-verify", &gp, &["ledger", "verify"]);

    c.transcript
        .note("A second daemon for a home whose daemon runs.");
    {
        let home = gp.home().display().to_string();
        let args = [
            "run",
            "--home",
            home.as_str(),
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--no-mdns",
        ];
        let mut cmd = confrere_cmd();
        cmd.args(args).env_remove("CONFRERE_PASSPHRASE");
        let out = run_with_limit(&mut cmd, LIMIT);
        c.transcript.record("", &args, &out);
    }

    // ---- A ledger tampered with, read from the store ------------------------
    assert!(
        cardio.stop(LIMIT).is_some(),
        "the cardiologist's daemon did not stop"
    );
    let cardio_home = cardio.home().to_path_buf();
    let home_s = cardio_home.display().to_string();
    let out = confrere(["ledger", "verify", "--json", "--home", &home_s]);
    out.code(0);
    c.shape(
        "ledger-verify",
        &["ledger", "verify", "--json", "--home", &home_s],
        &out.json(),
    );
    {
        let store = Store::open(&cardio_home, StoreKeySource::KeyFile).unwrap();
        store.remove(Tree::Ledger, &2u64.to_be_bytes()).unwrap();
        store.flush().unwrap();
    }
    c.transcript
        .note("The cardiologist's ledger with entry 2 removed, the daemon stopped.");
    let args = ["ledger", "verify", "--home", home_s.as_str()];
    let out = confrere(args);
    c.transcript.record("", &args, &out);
    let out = confrere(["ledger", "verify", "--json", "--home", &home_s]);
    out.code(1);
    c.shape(
        "ledger-verify",
        &["ledger", "verify", "--json", "--home", &home_s],
        &out.json(),
    );

    gp.stop(LIMIT);
    if let Err(e) = c.transcript.check("transcripts/nodes.txt") {
        c.failures.push(e);
    }
    assert_no_failures(&c.failures);
    let _ = fs::remove_dir_all(&dir);
}

/// The JSON of commands that need no node: `cert inspect`, and the error
/// object every command prints with `--json` when it fails.
#[test]
fn json_shapes_without_a_node() {
    let mut failures = Vec::new();
    let fixtures = confrere_tests::openssl_fixtures_dir();
    let f = |name: &str| fixtures.join(name).display().to_string();
    let at = ["--at", "2025-06-01T00:00:00Z"];
    let chain = [
        "--chain".to_owned(),
        f("intermediate.pem"),
        "--trust".to_owned(),
        f("root.pem"),
        "--crl".to_owned(),
        f("crl.pem"),
        "--crl".to_owned(),
        f("crl-root.pem"),
    ];
    // Not valid first: its lists of errors and hints are not empty.
    for leaf in ["revoked.pem", "good-rsa.pem", "no-national-id.pem"] {
        let mut args = vec!["cert".to_owned(), "inspect".to_owned(), f(leaf)];
        args.extend(chain.iter().cloned());
        args.extend(at.iter().map(|s| (*s).to_owned()));
        args.push("--json".into());
        let out = confrere(&args);
        let v = out.json();
        if let Err(e) = check_shape("cert-inspect", "confrere cert inspect CERT … --json", &v) {
            failures.push(e);
        }
    }
    for args in [
        vec!["status", "--home", "/nonexistent/confrere-home", "--json"],
        vec!["cert", "inspect", "/nonexistent/cert.pem", "--json"],
        vec!["inbox", "--json"],
    ] {
        let mut cmd = confrere_cmd();
        cmd.args(&args);
        let out = run(&mut cmd);
        assert_ne!(out.code, Some(0), "{out}");
        let v = out.json();
        assert_eq!(
            v["exit_code"].as_u64(),
            out.code.and_then(|c| u64::try_from(c).ok())
        );
        if let Err(e) = check_shape("error", "confrere … --json (failing)", &v) {
            failures.push(e);
        }
    }
    assert_no_failures(&failures);
}
