//! Renewing a node's credential in place with the practitioner's new card
//! (`confrere renew`), as processes: offline and with the daemon running;
//! the same node keys and the same inbox, ledger and peers afterwards; the
//! ledger records the renewal and still verifies; a certificate of another
//! practitioner and the certificate already in use are refused with nothing
//! changed; `status` warns when the card ends within 60 days.
//!
//! The TEST PKI and the cards are shared by the tests of a run; each test
//! starts its own nodes in its own directory. Every daemon is stopped when
//! its guard drops, and every wait is bounded.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use confrere_testpki::{issue_test, IssueRequest};
use confrere_tests::{
    confrere_cmd, enroll, free_port, inbox, run, scratch_run_dir, wait_delivered, wait_for, Card,
    Daemon, Outcome, PatientArgs, Practitioner, SendCommand, TestPki, CARDIOLOGIST, GP,
};
use serde_json::Value;
use time::OffsetDateTime;

const PATIENT: PatientArgs<'static> = PatientArgs {
    ins: "285057512345623",
    family: "ZQWXYTEST",
    given: "Hortensia-Quivqa",
    birth_date: "1985-05-12",
    sex: "F",
};

/// How long a small dossier may take to be delivered.
const DELIVERY: Duration = Duration::from_secs(60);
/// How long the daemon may take to republish its record.
const REPUBLISH: Duration = Duration::from_secs(30);

fn shared_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-renew"))
    })
}

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::init(&shared_dir().join("pki")))
}

/// A card of `who` from the shared PKI ending `days` from now, in `name`.
fn card_ending(who: &Practitioner<'_>, days: i64, name: &str) -> Card {
    let now = OffsetDateTime::now_utc();
    let out = shared_dir().join(name);
    let req = IssueRequest::new(who.national_id, who.given, who.surname, who.profession)
        .with_validity(
            now - time::Duration::days(1),
            now + time::Duration::days(days),
        );
    issue_test(&pki().dir, &req, &out, now).unwrap();
    Card { dir: out }
}

/// The GP's first card (three years).
fn gp_card() -> &'static Card {
    static C: OnceLock<Card> = OnceLock::new();
    C.get_or_init(|| card_ending(&GP, 3 * 365, "gp-card"))
}

/// The GP's renewed card (four years).
fn gp_new_card() -> &'static Card {
    static C: OnceLock<Card> = OnceLock::new();
    C.get_or_init(|| card_ending(&GP, 4 * 365, "gp-new-card"))
}

/// The cardiologist's card.
fn cardio_card() -> &'static Card {
    static C: OnceLock<Card> = OnceLock::new();
    C.get_or_init(|| card_ending(&CARDIOLOGIST, 3 * 365, "cardio-card"))
}

/// The end of a card's certificate as RFC 3339, as the commands show it.
fn not_after_of(card: &Card) -> String {
    let der = confrere_protocol::parse_certificates(&fs::read(card.cert()).unwrap()).unwrap();
    der[0].not_after().to_rfc3339()
}

fn home_in(dir: &Path, label: &str) -> PathBuf {
    let home = dir.join(label).join("home");
    fs::create_dir_all(home.parent().unwrap()).unwrap();
    home
}

fn start(dir: &Path, label: &str, home: &Path) -> Daemon {
    Daemon::start(label, home, free_port(), &dir.join(format!("{label}.log")))
}

/// `confrere renew --home HOME` with `card` (and `--json`).
fn renew(home: &Path, card: &Card) -> Outcome {
    let mut cmd = confrere_cmd();
    cmd.arg("renew")
        .arg("--home")
        .arg(home)
        .arg("--cert")
        .arg(card.cert())
        .arg("--key")
        .arg(card.key())
        .arg("--chain")
        .arg(card.chain())
        .arg("--json");
    run(&mut cmd)
}

fn cli(home: &Path, args: &[&str]) -> Outcome {
    let mut cmd = confrere_cmd();
    cmd.args(args).arg("--home").arg(home);
    run(&mut cmd)
}

/// The ledger's `credential_renewed` entries.
fn renewals(home: &Path) -> Vec<Value> {
    let out = cli(home, &["ledger", "show", "--json"]);
    out.code(0);
    match out.json() {
        Value::Array(v) => v
            .into_iter()
            .filter(|e| e["kind"] == "credential_renewed")
            .collect(),
        other => panic!("ledger show --json is not a list: {other}"),
    }
}

/// A renewal of another practitioner's card or of the card in use is
/// refused, naming why, and leaves every file of the home as it was.
#[track_caller]
fn refused_unchanged(home: &Path, card: &Card, needle: &str) {
    let before = fs::read(home.join("credential.bin")).unwrap();
    let cert_before = fs::read(home.join("certificate.pem")).unwrap();
    let out = renew(home, card);
    out.code(1);
    assert!(out.stderr.contains(needle), "{out}");
    assert_eq!(fs::read(home.join("credential.bin")).unwrap(), before);
    assert_eq!(fs::read(home.join("certificate.pem")).unwrap(), cert_before);
}

#[test]
fn renew_offline_keeps_the_node_and_records_the_renewal() {
    let dir = tempfile::tempdir_in(shared_dir()).unwrap();
    let home = home_in(dir.path(), "gp");
    enroll(&home, gp_card(), &[pki()]).code(0);
    // The daemon runs once, so that the store and its ledger exist.
    let mut gp = start(dir.path(), "gp", &home);
    let peer_id = gp.peer_id().to_owned();
    let status = gp.json(["status"]);
    assert_eq!(status["card"]["not_after"], not_after_of(gp_card()));
    assert_eq!(status["card"]["warning"], Value::Null);
    gp.stop(Duration::from_secs(20));
    let old_credential = fs::read(home.join("credential.bin")).unwrap();
    let old_cert = fs::read(home.join("certificate.pem")).unwrap();

    // Another practitioner's card: refused, nothing changed.
    refused_unchanged(&home, cardio_card(), "another practitioner");
    assert!(!home.join("credential.bin.previous").exists());

    let out = renew(&home, gp_new_card());
    out.code(0);
    let v = out.json();
    assert_eq!(v["applied_by"], "command", "{out}");
    assert_eq!(v["peer_id"], peer_id.as_str());
    assert_eq!(v["national_id"], GP.national_id);
    assert_eq!(v["new_not_after"], not_after_of(gp_new_card()));
    assert_eq!(v["old_not_after"], not_after_of(gp_card()));
    // The replaced files are kept for a rollback.
    assert_eq!(
        fs::read(home.join("credential.bin.previous")).unwrap(),
        old_credential
    );
    assert_eq!(
        fs::read(home.join("certificate.pem.previous")).unwrap(),
        old_cert
    );
    assert_ne!(
        fs::read(home.join("credential.bin")).unwrap(),
        old_credential
    );

    // The same card again: already in use, nothing changed.
    refused_unchanged(&home, gp_new_card(), "already in use");
    // The ledger records the renewal once, and verifies.
    let entries = renewals(&home);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["new_not_after"], not_after_of(gp_new_card()));
    cli(&home, &["ledger", "verify"]).code(0);

    // The home opens with the new credential: same node, new end.
    gp.restart();
    assert_eq!(gp.peer_id(), peer_id);
    let status = gp.json(["status"]);
    assert_eq!(status["peer_id"], peer_id.as_str());
    assert_eq!(status["card"]["not_after"], not_after_of(gp_new_card()));
}

#[test]
fn renew_with_the_daemon_running_takes_effect_at_once() {
    let dir = tempfile::tempdir_in(shared_dir()).unwrap();
    let gp_home = home_in(dir.path(), "gp");
    let cardio_home = home_in(dir.path(), "cardio");
    enroll(&gp_home, gp_card(), &[pki()]).code(0);
    enroll(&cardio_home, cardio_card(), &[pki()]).code(0);
    let gp = start(dir.path(), "gp", &gp_home);
    let cardio = start(dir.path(), "cardio", &cardio_home);
    let entry = cardio.json(["peers", "add", &gp.multiaddr()]);
    assert_eq!(entry["national_id"], GP.national_id, "{entry}");

    // A dossier the GP received before the renewal.
    let doc = dir.path().join("ecg.txt");
    fs::write(&doc, b"ECG: sinus rhythm (test)\n").unwrap();
    let id = SendCommand {
        to: GP.national_id,
        patient: PATIENT,
        reason: "Avis (test)",
        urgent: false,
        letter: None,
        files: vec![doc],
    }
    .sent(&cardio);
    wait_delivered(&cardio, &id, DELIVERY);
    let before = fs::read(gp_home.join("credential.bin")).unwrap();

    // Another practitioner's card: refused by the command, nothing changed.
    refused_unchanged(&gp_home, cardio_card(), "another practitioner");

    let out = renew(&gp_home, gp_new_card());
    out.code(0);
    let v = out.json();
    assert_eq!(v["applied_by"], "daemon", "{out}");
    assert_eq!(v["peer_id"], gp.peer_id());
    assert!(v["ledger_seq"].as_u64().is_some(), "{out}");
    assert_eq!(
        fs::read(gp_home.join("credential.bin.previous")).unwrap(),
        before
    );

    // Status shows the new end without a restart.
    let status = gp.json(["status"]);
    assert_eq!(status["card"]["not_after"], not_after_of(gp_new_card()));
    assert_eq!(status["peer_id"], gp.peer_id());
    // The daemon refuses the same card again (it checks, too).
    refused_unchanged(&gp_home, gp_new_card(), "already in use");

    // The ledger records it once and verifies; the dossier is still there
    // and opens.
    assert_eq!(renewals(&gp_home).len(), 1);
    cli(&gp_home, &["ledger", "verify"]).code(0);
    let items = inbox(&gp);
    assert!(items.iter().any(|i| i["id"] == id.as_str()), "{items:?}");
    let out_dir = dir.path().join("opened");
    let out_s = out_dir.to_str().unwrap();
    cli(&gp_home, &["inbox", "open", &id, "--out", out_s, "--json"]).code(0);
    assert_eq!(
        fs::read(out_dir.join("ecg.txt")).unwrap(),
        b"ECG: sinus rhythm (test)\n"
    );

    // A colleague connecting now verifies the renewed credential.
    let entry = cardio.json(["peers", "add", &gp.multiaddr()]);
    assert_eq!(entry["national_id"], GP.national_id, "{entry}");
    assert_eq!(
        entry["credential_not_after"],
        not_after_of(gp_new_card()),
        "{entry}"
    );
    // The directory record is published again under the new credential.
    wait_for(
        "the GP to republish its directory record",
        REPUBLISH,
        Duration::from_millis(500),
        || {
            let log = gp.log_text();
            if log.contains("the node credential was renewed: publishing") {
                Ok(())
            } else {
                Err(log.lines().rev().take(5).collect::<Vec<_>>().join("\n"))
            }
        },
    );
}

/// `POST /v1/credential` straight to the daemon's socket, as a command line
/// that skipped its own checks would: the status code and the body.
#[cfg(unix)]
fn post_credential(home: &Path, credential_hex: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let token = fs::read_to_string(home.join("api.token")).unwrap();
    let body = serde_json::json!({ "credential_hex": credential_hex }).to_string();
    let mut sock = std::os::unix::net::UnixStream::connect(home.join("api.sock")).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        sock,
        "POST /v1/credential HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        token.trim(),
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    sock.read_to_string(&mut answer).unwrap();
    let code = answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, answer)
}

#[cfg(unix)]
#[test]
fn the_daemon_checks_what_it_is_sent_and_changes_nothing_on_refusal() {
    let dir = tempfile::tempdir_in(shared_dir()).unwrap();
    let gp_home = home_in(dir.path(), "gp");
    let cardio_home = home_in(dir.path(), "cardio");
    enroll(&gp_home, gp_card(), &[pki()]).code(0);
    enroll(&cardio_home, cardio_card(), &[pki()]).code(0);
    let _gp = start(dir.path(), "gp", &gp_home);
    let before = fs::read(gp_home.join("credential.bin")).unwrap();

    let (code, answer) = post_credential(&gp_home, "not hex");
    assert_eq!(code, 400, "{answer}");
    // Another node's credential (another practitioner's keys too).
    let other = fs::read(cardio_home.join("credential.bin")).unwrap();
    let (code, answer) = post_credential(&gp_home, &hex_of(&other));
    assert_eq!(code, 409, "{answer}");
    assert!(answer.contains("another node's keys"), "{answer}");
    // The credential in force, sent again.
    let (code, answer) = post_credential(&gp_home, &hex_of(&before));
    assert_eq!(code, 409, "{answer}");
    assert!(answer.contains("already in use"), "{answer}");
    // A credential cut short.
    let (code, answer) = post_credential(&gp_home, &hex_of(&before[..before.len() / 2]));
    assert_eq!(code, 400, "{answer}");

    assert_eq!(fs::read(gp_home.join("credential.bin")).unwrap(), before);
    assert!(!gp_home.join("credential.bin.previous").exists());
    assert!(renewals(&gp_home).is_empty());
    cli(&gp_home, &["ledger", "verify"]).code(0);
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn status_warns_when_the_card_ends_within_60_days() {
    let dir = tempfile::tempdir_in(shared_dir()).unwrap();
    let home = home_in(dir.path(), "gp");
    let card = card_ending(&GP, 30, "gp-card-ending-soon");
    enroll(&home, &card, &[pki()]).code(0);
    let gp = start(dir.path(), "gp", &home);
    let status = gp.json(["status"]);
    let day: String = not_after_of(&card).chars().take(10).collect();
    let warning = status["card"]["warning"].as_str().unwrap_or_default();
    assert!(
        warning.contains(&format!("expires on {day}"))
            && warning.contains("renew with `confrere renew`"),
        "{status}"
    );
    let out = cli(&home, &["status"]);
    out.code(0);
    assert!(out.stdout.contains("renew with `confrere renew`"), "{out}");
    assert!(
        gp.log_text().contains("renew with `confrere renew`"),
        "{}",
        gp.log_text()
    );
}

#[test]
fn renew_with_the_new_card_on_a_pkcs11_token() {
    let Some(hsm) = confrere_tests::softhsm::SoftHsm::new() else {
        return;
    };
    let dir = tempfile::tempdir_in(shared_dir()).unwrap();
    let home = home_in(dir.path(), "gp");
    enroll(&home, gp_card(), &[pki()]).code(0);
    let mut gp = start(dir.path(), "gp", &home);
    let peer_id = gp.peer_id().to_owned();

    // The new card arrives as a smart card: its key stays on the token.
    hsm.card_token("CPS-GP-NEW", gp_new_card());
    let pin = confrere_tests::softhsm::PIN;
    let mut cmd = confrere_cmd();
    cmd.arg("renew")
        .arg("--home")
        .arg(&home)
        .arg("--pkcs11-module")
        .arg(hsm.module())
        .arg("--chain")
        .arg(gp_new_card().chain())
        .arg("--json")
        .env("CONFRERE_PKCS11_PIN", pin);
    let out = hsm.run(&mut cmd);
    out.code(0);
    assert!(
        !out.stdout.contains(pin) && !out.stderr.contains(pin),
        "{out}"
    );
    let v = out.json();
    assert_eq!(v["applied_by"], "daemon", "{out}");
    assert_eq!(v["peer_id"], peer_id.as_str());
    assert_eq!(v["new_not_after"], not_after_of(gp_new_card()));
    assert_eq!(
        fs::read(home.join("certificate.pem")).unwrap(),
        fs::read(gp_new_card().cert()).unwrap(),
        "certificate.pem is the certificate on the token"
    );
    let status = gp.json(["status"]);
    assert_eq!(status["card"]["not_after"], not_after_of(gp_new_card()));
    assert_eq!(renewals(&home).len(), 1);
    gp.stop(Duration::from_secs(20));
}
