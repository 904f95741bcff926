//! `confrere init --p12 FILE`: enrolling with a software health certificate
//! (PKCS#12) as a process, with `.p12` files made by `openssl pkcs12
//! -export` from a TEST card, in OpenSSL 3's default form and `-legacy`.
//! The password is given through `CONFRERE_P12_PASSWORD`.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use confrere_tests::{
    confrere_cmd, dir_entries, have_openssl, run, scratch_run_dir, Card, Outcome, TestPki, JEAN,
    MARIE,
};

const PASSWORD: &str = "correct horse 12";

/// The material shared by the tests of this run: one PKI, two cards.
struct Shared {
    _dir: PathBuf,
    pki: TestPki,
    jean: Card,
    marie: Card,
}

fn shared() -> &'static Shared {
    static S: OnceLock<Shared> = OnceLock::new();
    S.get_or_init(|| {
        let dir = scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-p12"));
        let pki = TestPki::init(&dir.join("pki"));
        let jean = pki.issue(&JEAN, &dir.join("jean"));
        let marie = pki.issue(&MARIE, &dir.join("marie"));
        Shared {
            _dir: dir,
            pki,
            jean,
            marie,
        }
    })
}

/// Makes `out` with `openssl pkcs12 -export` from `cert` and `key`, with
/// the card's chain inside, in the default form or `-legacy`.
fn export(cert: &Path, key: &Path, chain: &Path, out: &Path, legacy: bool) {
    let mut cmd = Command::new("openssl");
    cmd.args(["pkcs12", "-export", "-in"])
        .arg(cert)
        .arg("-inkey")
        .arg(key)
        .arg("-certfile")
        .arg(chain)
        .arg("-out")
        .arg(out)
        .args(["-passout", "env:P12_TEST_PASS"])
        .env("P12_TEST_PASS", PASSWORD);
    if legacy {
        cmd.arg("-legacy");
    }
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "openssl pkcs12 -export failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `confrere init --p12 FILE` into `home`, with `password` in the
/// environment (or none).
fn init_p12(home: &Path, p12: &Path, password: Option<&str>) -> Outcome {
    let s = shared();
    let mut cmd = confrere_cmd();
    cmd.arg("init")
        .arg("--home")
        .arg(home)
        .arg("--p12")
        .arg(p12)
        .arg("--trust")
        .arg(s.pki.root())
        .arg("--crl")
        .arg(s.pki.crl())
        .env_remove("CONFRERE_P12_PASSWORD");
    if let Some(p) = password {
        cmd.env("CONFRERE_P12_PASSWORD", p);
    }
    run(&mut cmd)
}

#[track_caller]
fn assert_nothing_left(parent: &Path, out: &Outcome) {
    let left = dir_entries(parent);
    assert!(left.is_empty(), "left behind: {left:?}\n{out}");
}

fn enrolls_with(legacy: bool) {
    if !have_openssl() {
        eprintln!("openssl not found: test skipped");
        return;
    }
    let s = shared();
    let dir = tempfile::tempdir().unwrap();
    let p12 = dir.path().join("jean.p12");
    export(&s.jean.cert(), &s.jean.key(), &s.jean.chain(), &p12, legacy);
    let home = dir.path().join("home");
    let out = init_p12(&home, &p12, Some(PASSWORD));
    out.code(0)
        .stdout_has("Enrolled")
        .stdout_has("JEAN DUPONT")
        .stdout_has("810001000016");
    assert!(home.join("credential.bin").is_file(), "{out}");
    assert_eq!(
        fs::read(home.join("certificate.pem")).unwrap(),
        fs::read(s.jean.cert()).unwrap(),
        "certificate.pem is the card certificate from the .p12"
    );
    assert!(!out.stderr.contains(PASSWORD) && !out.stdout.contains(PASSWORD));
}

#[test]
fn init_enrolls_with_an_openssl3_default_p12() {
    enrolls_with(false);
}

#[test]
fn init_enrolls_with_a_legacy_p12() {
    enrolls_with(true);
}

#[test]
fn a_wrong_password_is_refused_and_leaves_nothing() {
    if !have_openssl() {
        return;
    }
    let s = shared();
    let dir = tempfile::tempdir().unwrap();
    let p12 = dir.path().join("jean.p12");
    export(&s.jean.cert(), &s.jean.key(), &s.jean.chain(), &p12, false);
    let parent = tempfile::tempdir().unwrap();
    let out = init_p12(&parent.path().join("home"), &p12, Some("not the password"));
    out.code(2)
        .stderr_has("wrong password")
        .stderr_has("hint:")
        .stderr_has("CONFRERE_P12_PASSWORD");
    assert!(!out.stderr.contains("not the password"), "{out}");
    assert_nothing_left(parent.path(), &out);
}

#[test]
fn without_a_terminal_the_password_must_be_in_the_environment() {
    if !have_openssl() {
        return;
    }
    let s = shared();
    let dir = tempfile::tempdir().unwrap();
    let p12 = dir.path().join("jean.p12");
    export(&s.jean.cert(), &s.jean.key(), &s.jean.chain(), &p12, false);
    let parent = tempfile::tempdir().unwrap();
    let out = init_p12(&parent.path().join("home"), &p12, None);
    out.code(2)
        .stderr_has("not a terminal")
        .stderr_has("CONFRERE_P12_PASSWORD");
    assert_nothing_left(parent.path(), &out);
}

#[test]
fn a_file_that_is_not_a_p12_is_refused() {
    let s = shared();
    let parent = tempfile::tempdir().unwrap();
    let out = init_p12(&parent.path().join("home"), &s.jean.cert(), Some(PASSWORD));
    out.code(2).stderr_has("not a PKCS#12").stderr_has("hint:");
    assert_nothing_left(parent.path(), &out);
}

#[test]
fn a_p12_with_the_key_of_another_card_is_refused() {
    if !have_openssl() {
        return;
    }
    let s = shared();
    let dir = tempfile::tempdir().unwrap();
    let p12 = dir.path().join("mixed.p12");
    // Marie's key with Jean's certificate beside it (openssl refuses to
    // pair them with -in, so the certificate goes in through -certfile).
    let mut cmd = Command::new("openssl");
    cmd.args(["pkcs12", "-export", "-nocerts", "-inkey"])
        .arg(s.marie.key())
        .arg("-certfile")
        .arg(s.jean.cert())
        .arg("-out")
        .arg(&p12)
        .args(["-passout", "env:P12_TEST_PASS"])
        .env("P12_TEST_PASS", PASSWORD);
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let parent = tempfile::tempdir().unwrap();
    let out = init_p12(&parent.path().join("home"), &p12, Some(PASSWORD));
    out.code(1).stderr_has("does not match").stderr_has("hint:");
    assert_nothing_left(parent.path(), &out);
}

#[test]
fn init_names_both_ways_when_no_card_is_given() {
    let s = shared();
    let parent = tempfile::tempdir().unwrap();
    let mut cmd = confrere_cmd();
    cmd.arg("init")
        .arg("--home")
        .arg(parent.path().join("home"))
        .arg("--trust")
        .arg(s.pki.root());
    let out = run(&mut cmd);
    out.code(2).stderr_has("--cert").stderr_has("--p12");
    let mut cmd = confrere_cmd();
    cmd.arg("init")
        .arg("--home")
        .arg(parent.path().join("home"))
        .arg("--p12")
        .arg(s.jean.cert())
        .arg("--cert")
        .arg(s.jean.cert())
        .arg("--trust")
        .arg(s.pki.root());
    run(&mut cmd).code(2).stderr_has("cannot be used with");
    assert_nothing_left(parent.path(), &out);
}
