//! `confrere init --pkcs11-module PATH`: enrolling with the card key on a
//! PKCS#11 token, as with a CPS smart card, against SoftHSM2. Each test
//! makes its own tokens (its own `SOFTHSM2_CONF`) holding a TEST card's key
//! and certificate; the PIN is given through `CONFRERE_PKCS11_PIN`.
//!
//! Without SoftHSM2 the tests print why and pass, except in CI
//! (`CONFRERE_NETNS_REQUIRED=1`) or with `CONFRERE_SOFTHSM_REQUIRED=1`,
//! where they fail.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use confrere_tests::softhsm::{SoftHsm, PIN};
use confrere_tests::{
    confrere_cmd, dir_entries, free_port, run, scratch_run_dir, Card, Daemon, Outcome, TestPki,
    JEAN, LUC, MARIE,
};

/// The material shared by the tests of this run: one PKI, three cards.
struct Shared {
    _dir: PathBuf,
    pki: TestPki,
    jean: Card,
    marie: Card,
    luc: Card,
}

fn shared() -> &'static Shared {
    static S: OnceLock<Shared> = OnceLock::new();
    S.get_or_init(|| {
        let dir = scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-pkcs11"));
        let pki = TestPki::init(&dir.join("pki"));
        let jean = pki.issue(&JEAN, &dir.join("jean"));
        let marie = pki.issue(&MARIE, &dir.join("marie"));
        let luc = pki.issue(&LUC, &dir.join("luc"));
        Shared {
            _dir: dir,
            pki,
            jean,
            marie,
            luc,
        }
    })
}

/// `confrere init --pkcs11-module` into `home` with the tokens of `hsm`,
/// `pin` in the environment (or none) and `extra` options.
fn init_pkcs11(hsm: &SoftHsm, home: &Path, pin: Option<&str>, extra: &[&str]) -> Outcome {
    let s = shared();
    let mut cmd = confrere_cmd();
    cmd.arg("init")
        .arg("--home")
        .arg(home)
        .arg("--pkcs11-module")
        .arg(hsm.module())
        .args(extra)
        .arg("--chain")
        .arg(s.jean.chain())
        .arg("--trust")
        .arg(s.pki.root())
        .arg("--crl")
        .arg(s.pki.crl())
        .env_remove("CONFRERE_PKCS11_PIN");
    if let Some(p) = pin {
        cmd.env("CONFRERE_PKCS11_PIN", p);
    }
    hsm.run(&mut cmd)
}

#[track_caller]
fn assert_nothing_left(parent: &Path, out: &Outcome) {
    let left = dir_entries(parent);
    assert!(left.is_empty(), "left behind: {left:?}\n{out}");
}

#[track_caller]
fn assert_no_pin(out: &Outcome, pin: &str) {
    assert!(
        !out.stdout.contains(pin) && !out.stderr.contains(pin),
        "the PIN shows in the output\n{out}"
    );
}

#[test]
fn init_enrolls_with_the_card_key_on_a_token_and_the_node_runs() {
    let Some(hsm) = SoftHsm::new() else { return };
    let s = shared();
    hsm.card_token("CPS-JEAN", &s.jean);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let out = init_pkcs11(&hsm, &home, Some(PIN), &[]);
    out.code(0)
        .stdout_has("Enrolled")
        .stdout_has("JEAN DUPONT")
        .stdout_has("810001000016");
    assert_no_pin(&out, PIN);
    assert_eq!(
        fs::read(home.join("certificate.pem")).unwrap(),
        fs::read(s.jean.cert()).unwrap(),
        "certificate.pem is the certificate on the token"
    );
    let config = fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(!config.contains(PIN), "{config}");

    // The home opens and the node speaks for the card's practitioner.
    let mut node = Daemon::start("node", &home, free_port(), &dir.path().join("node.log"));
    let status = node.json(["status"]);
    assert_eq!(status["national_id"], "810001000016", "{status}");
    node.stop(Duration::from_secs(30)).unwrap();
}

#[test]
fn init_enrolls_with_an_ecdsa_card_key() {
    let Some(hsm) = SoftHsm::new() else { return };
    hsm.card_token("CPS-LUC", &shared().luc);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let out = init_pkcs11(&hsm, &home, Some(PIN), &["--token-label", "CPS-LUC"]);
    out.code(0)
        .stdout_has("LUC ROUX")
        .stdout_has("810001000032");
    assert!(home.join("credential.bin").is_file(), "{out}");
}

#[test]
fn a_wrong_pin_is_refused_and_leaves_nothing() {
    let Some(hsm) = SoftHsm::new() else { return };
    hsm.card_token("CPS-JEAN", &shared().jean);
    let parent = tempfile::tempdir().unwrap();
    let wrong = "000111";
    let out = init_pkcs11(&hsm, &parent.path().join("home"), Some(wrong), &[]);
    out.code(2)
        .stderr_has("the PIN was refused by the token")
        .stderr_has("hint:")
        .stderr_has("locks");
    assert_no_pin(&out, wrong);
    assert_nothing_left(parent.path(), &out);
}

#[test]
fn without_a_terminal_the_pin_must_be_in_the_environment() {
    let Some(hsm) = SoftHsm::new() else { return };
    hsm.card_token("CPS-JEAN", &shared().jean);
    let parent = tempfile::tempdir().unwrap();
    let out = init_pkcs11(&hsm, &parent.path().join("home"), None, &[]);
    out.code(2)
        .stderr_has("not a terminal")
        .stderr_has("CONFRERE_PKCS11_PIN");
    assert_nothing_left(parent.path(), &out);
}

#[test]
fn a_token_without_the_certificates_key_is_refused() {
    let Some(hsm) = SoftHsm::new() else { return };
    let s = shared();
    // Jean's certificate beside Marie's key, under the same id.
    hsm.init_token("MIXED");
    hsm.import_key("MIXED", &s.marie.key(), "01");
    hsm.import_cert("MIXED", &s.jean.cert(), "01");
    let parent = tempfile::tempdir().unwrap();
    let out = init_pkcs11(&hsm, &parent.path().join("home"), Some(PIN), &[]);
    out.code(1)
        .stderr_has("not the certificate's key")
        .stderr_has("hint:");
    assert_nothing_left(parent.path(), &out);
}

#[test]
fn a_key_that_may_not_sign_is_refused() {
    let Some(hsm) = SoftHsm::new() else { return };
    hsm.card_token("CPS-JEAN", &shared().jean);
    hsm.forbid_signing("CPS-JEAN");
    let parent = tempfile::tempdir().unwrap();
    let out = init_pkcs11(&hsm, &parent.path().join("home"), Some(PIN), &[]);
    out.code(1)
        .stderr_has("not allowed to sign")
        .stderr_has("hint:");
    assert_nothing_left(parent.path(), &out);
}

#[test]
fn two_tokens_are_listed_until_one_is_named() {
    let Some(hsm) = SoftHsm::new() else { return };
    let s = shared();
    hsm.card_token("CPS-JEAN", &s.jean);
    hsm.card_token("CPS-MARIE", &s.marie);
    let parent = tempfile::tempdir().unwrap();
    let home = parent.path().join("home");
    let out = init_pkcs11(&hsm, &home, Some(PIN), &[]);
    out.code(2)
        .stderr_has("several tokens")
        .stderr_has("\"CPS-JEAN\"")
        .stderr_has("\"CPS-MARIE\"")
        .stderr_has("--token-label");
    assert_nothing_left(parent.path(), &out);

    let out = init_pkcs11(&hsm, &home, Some(PIN), &["--token-label", "CPS-OTHER"]);
    out.code(2)
        .stderr_has("no token labelled \"CPS-OTHER\"")
        .stderr_has("\"CPS-MARIE\"");
    assert_nothing_left(parent.path(), &out);

    let out = init_pkcs11(&hsm, &home, Some(PIN), &["--token-label", "CPS-MARIE"]);
    out.code(0).stdout_has("MARIE MARTIN");
}

#[test]
fn two_certificates_with_their_keys_are_listed_until_one_is_named() {
    let Some(hsm) = SoftHsm::new() else { return };
    let s = shared();
    hsm.init_token("TWO");
    hsm.import_key("TWO", &s.jean.key(), "01");
    hsm.import_cert("TWO", &s.jean.cert(), "01");
    hsm.import_key("TWO", &s.marie.key(), "a2");
    hsm.import_cert("TWO", &s.marie.cert(), "a2");
    let parent = tempfile::tempdir().unwrap();
    let home = parent.path().join("home");
    let out = init_pkcs11(&hsm, &home, Some(PIN), &[]);
    out.code(2)
        .stderr_has("several certificates have their key on the token")
        .stderr_has("(id 01)")
        .stderr_has("(id a2)")
        .stderr_has("--key-id");
    assert_nothing_left(parent.path(), &out);

    let out = init_pkcs11(&hsm, &home, Some(PIN), &["--key-id", "03"]);
    out.code(2).stderr_has("with id 03");
    assert_nothing_left(parent.path(), &out);

    let out = init_pkcs11(&hsm, &home, Some(PIN), &["--key-id", "A2"]);
    out.code(0).stdout_has("MARIE MARTIN");
}

#[test]
fn a_missing_module_or_a_file_that_is_not_one_is_refused() {
    let s = shared();
    let parent = tempfile::tempdir().unwrap();
    for module in [parent.path().join("no-such-module.so"), s.jean.cert()] {
        let mut cmd = confrere_cmd();
        cmd.arg("init")
            .arg("--home")
            .arg(parent.path().join("home"))
            .arg("--pkcs11-module")
            .arg(&module)
            .arg("--trust")
            .arg(s.pki.root())
            .env("CONFRERE_PKCS11_PIN", PIN);
        let out = run(&mut cmd);
        out.code(2)
            .stderr_has("PKCS#11 module")
            .stderr_has("opensc-pkcs11.so");
        assert_no_pin(&out, PIN);
        assert_nothing_left(parent.path(), &out);
    }
}

#[test]
fn the_pkcs11_module_excludes_the_other_card_options() {
    let s = shared();
    let out = run(confrere_cmd()
        .args([
            "init",
            "--home",
            "/nonexistent/home",
            "--pkcs11-module",
            "m.so",
        ])
        .arg("--p12")
        .arg(s.jean.cert())
        .arg("--trust")
        .arg(s.pki.root()));
    out.code(2).stderr_has("cannot be used with");
    let out: Outcome = run(Command::new(confrere_tests::confrere_bin()).args([
        "init",
        "--home",
        "/nonexistent/home",
        "--token-label",
        "CPS",
        "--trust",
        "root.pem",
    ]));
    out.code(2).stderr_has("--pkcs11-module");
}
