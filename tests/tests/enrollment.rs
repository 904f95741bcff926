//! The TEST PKI and node enrollment, end to end, as processes:
//! `confrere pki init-test | issue-test | revoke-test` and `confrere init`.
//!
//! Two TEST PKIs are made once per run and shared (RSA-4096 CA keys take
//! about a second each to generate): A issues the cards most tests use and is
//! never modified; B is "another PKI" and the one the revocation test
//! revokes in. Every enrollment writes into its own temporary directory.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use confrere_tests::{
    confrere, confrere_cmd, contains_bytes, dir_entries, files_below, have_openssl, run, Card,
    Outcome, Practitioner, TestPki, JEAN, MARIE,
};

// ---------------------------------------------------------------------------
// Shared material
// ---------------------------------------------------------------------------

/// A directory for the material shared by the tests of this run, under
/// cargo's scratch directory for integration tests. Statics are never
/// dropped, so it cannot be a self-deleting temporary directory; instead
/// each run removes what runs more than an hour old left behind.
fn shared_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-enrollment");
        fs::create_dir_all(&base).unwrap();
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        for entry in fs::read_dir(&base).unwrap().filter_map(Result::ok) {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < hour_ago);
            if old {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        tempfile::Builder::new()
            .prefix("run-")
            .tempdir_in(&base)
            .unwrap()
            .keep()
    })
}

/// PKI A: issues the shared cards; never revoked in.
fn pki_a() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::init(&shared_dir().join("pki-a")))
}

/// PKI B: another TEST PKI (same CA names, other keys).
fn pki_b() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::init(&shared_dir().join("pki-b")))
}

/// Jean Dupont's card, issued by A.
fn jean() -> &'static Card {
    static CARD: OnceLock<Card> = OnceLock::new();
    CARD.get_or_init(|| pki_a().issue(&JEAN, &shared_dir().join("jean")))
}

/// Marie Martin's card, issued by A.
fn marie() -> &'static Card {
    static CARD: OnceLock<Card> = OnceLock::new();
    CARD.get_or_init(|| pki_a().issue(&MARIE, &shared_dir().join("marie")))
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A `confrere init` command line, complete by default; tests take parts away.
struct Enroll {
    home: Option<PathBuf>,
    cert: PathBuf,
    key: PathBuf,
    chain: Option<PathBuf>,
    trust: Option<PathBuf>,
    crl: Option<PathBuf>,
    extra: Vec<&'static str>,
    env_home: Option<PathBuf>,
}

impl Enroll {
    fn new(home: &Path, card: &Card, pki: &TestPki) -> Enroll {
        Enroll {
            home: Some(home.to_path_buf()),
            cert: card.cert(),
            key: card.key(),
            chain: Some(card.chain()),
            trust: Some(pki.root()),
            crl: Some(pki.crl()),
            extra: Vec::new(),
            env_home: None,
        }
    }

    fn run(&self) -> Outcome {
        let mut cmd = confrere_cmd();
        cmd.arg("init");
        if let Some(h) = &self.home {
            cmd.arg("--home").arg(h);
        }
        cmd.arg("--cert").arg(&self.cert);
        cmd.arg("--key").arg(&self.key);
        if let Some(c) = &self.chain {
            cmd.arg("--chain").arg(c);
        }
        if let Some(t) = &self.trust {
            cmd.arg("--trust").arg(t);
        }
        if let Some(c) = &self.crl {
            cmd.arg("--crl").arg(c);
        }
        cmd.args(&self.extra);
        if let Some(h) = &self.env_home {
            cmd.env("CONFRERE_HOME", h);
        }
        run(&mut cmd)
    }
}

/// A fresh, empty parent directory and the home path inside it.
fn fresh_home() -> (tempfile::TempDir, PathBuf) {
    let parent = tempfile::tempdir().unwrap();
    let home = parent.path().join("home");
    (parent, home)
}

/// Asserts that a refused `init` left nothing in `parent`: no home, no
/// `.confrere-init-*` staging directory.
#[track_caller]
fn assert_nothing_left(parent: &Path, out: &Outcome) {
    let left = dir_entries(parent);
    assert!(left.is_empty(), "left behind: {left:?}\n{out}");
}

/// Runs `cert inspect --authentication` with the PKI's root and CRL.
fn inspect_issued(card: &Card, pki: &TestPki) -> Outcome {
    let mut cmd = confrere_cmd();
    cmd.args(["cert", "inspect"])
        .arg(card.cert())
        .arg("--chain")
        .arg(card.chain())
        .arg("--trust")
        .arg(pki.root())
        .arg("--crl")
        .arg(pki.crl())
        .arg("--authentication");
    run(&mut cmd)
}

/// Checks with `openssl verify -x509_strict` (without, then with a CRL
/// check of the whole chain) that OpenSSL accepts an issued card.
fn assert_openssl_accepts(card: &Card, pki: &TestPki) {
    if !have_openssl() {
        eprintln!("openssl not found: cross-check skipped");
        return;
    }
    let verify = |crl: bool| {
        let mut cmd = Command::new("openssl");
        cmd.args(["verify", "-x509_strict", "-CAfile"])
            .arg(pki.root())
            .arg("-untrusted")
            .arg(card.chain());
        if crl {
            cmd.args(["-crl_check_all", "-CRLfile"]).arg(pki.crl());
        }
        let out = cmd.arg(card.cert()).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stdout.trim_end().ends_with(": OK"),
            "openssl verify (crl check: {crl}) refused {}:\n{stdout}{stderr}",
            card.cert().display()
        );
    };
    verify(false);
    verify(true);
}

/// The DER inside a PEM file.
fn pem_der(path: &Path) -> Vec<u8> {
    let text = fs::read(path).unwrap();
    pem_rfc7468::decode_vec(&text).unwrap().1
}

/// The base64 body of a PEM file, without line breaks.
fn pem_body(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>()
}

/// The files under `home` that hold the card key: its PEM body (whatever
/// the line breaks), its DER, or any 32-byte piece of the DER that is not
/// also public (in the certificate).
fn key_copies(home: &Path, card: &Card) -> Vec<String> {
    let body = pem_body(&card.key());
    let key_der = pem_der(&card.key());
    let cert_der = pem_der(&card.cert());
    let secret_pieces: Vec<&[u8]> = key_der
        .windows(32)
        .step_by(8)
        .filter(|w| !contains_bytes(&cert_der, w))
        .collect();
    assert!(!secret_pieces.is_empty());
    let mut found = Vec::new();
    for f in files_below(home) {
        let bytes = fs::read(&f).unwrap();
        let squeezed: Vec<u8> = bytes
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let name = f.display().to_string();
        if contains_bytes(&squeezed, body.as_bytes()) {
            found.push(format!("{name}: the key's PEM"));
        }
        if contains_bytes(&bytes, &key_der) {
            found.push(format!("{name}: the key's DER"));
        }
        if secret_pieces.iter().any(|p| contains_bytes(&bytes, p)) {
            found.push(format!("{name}: part of the key"));
        }
    }
    found
}

/// Asserts that the home holds files and none of them the card key.
#[track_caller]
fn assert_no_key_copy(home: &Path, card: &Card) {
    assert!(!files_below(home).is_empty(), "empty home");
    let found = key_copies(home, card);
    assert!(found.is_empty(), "the card key was copied: {found:?}");
}

#[test]
fn key_copy_detector_finds_copies() {
    // The check above must be able to fail: plant copies and look for them.
    let dir = tempfile::tempdir().unwrap();
    let card = jean();
    assert!(key_copies(dir.path(), card).is_empty());
    let der = pem_der(&card.key());
    // The PEM body re-wrapped at 76 columns, inside other text.
    let body = pem_body(&card.key());
    let rewrapped: Vec<String> = body
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    fs::write(
        dir.path().join("a.txt"),
        format!("x = \"\n{}\n\"", rewrapped.join("\n")),
    )
    .unwrap();
    // The raw DER inside binary data.
    let mut blob = vec![0u8; 17];
    blob.extend_from_slice(&der);
    blob.extend_from_slice(&[0xff; 5]);
    fs::write(dir.path().join("b.bin"), &blob).unwrap();
    // Only the last 64 bytes of the DER (secret material, not in the cert).
    fs::write(dir.path().join("c.bin"), &der[der.len() - 64..]).unwrap();
    let found = key_copies(dir.path(), card);
    for needle in [
        "a.txt: the key's PEM",
        "b.bin: the key's DER",
        "c.bin: part of the key",
    ] {
        assert!(
            found.iter().any(|f| f.ends_with(needle)),
            "{needle} not found in {found:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// The TEST PKI
// ---------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn pki_init_test_makes_root_intermediate_crl_and_private_ca_keys() {
    use confrere_tests::mode;
    let pki = pki_a();
    for name in ["root.pem", "intermediate.pem", "crl.pem"] {
        assert!(pki.dir.join(name).is_file(), "{name} missing");
    }
    assert_eq!(mode(&pki.dir.join("root.key.pem")), 0o600);
    assert_eq!(mode(&pki.dir.join("intermediate.key.pem")), 0o600);
    let root = fs::read_to_string(pki.root()).unwrap();
    assert!(root.starts_with("-----BEGIN CERTIFICATE-----"), "{root}");
    let crl = fs::read_to_string(pki.crl()).unwrap();
    assert_eq!(
        crl.matches("-----BEGIN X509 CRL-----").count(),
        2,
        "crl.pem holds the intermediate's and the root's CRL"
    );
    // Shown as it would be in a terminal.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pki");
    // An init-test into a non-empty directory is refused before any key is
    // generated, which keeps this cheap.
    fs::create_dir(&out).unwrap();
    fs::write(out.join("notes.txt"), "keep me").unwrap();
    let refused = confrere([
        OsString::from("pki"),
        "init-test".into(),
        "--out".into(),
        out.clone().into(),
    ]);
    refused
        .code(1)
        .stderr_has("already exists and is not empty");
    assert_eq!(dir_entries(&out), ["notes.txt"]);
    assert_eq!(
        fs::read_to_string(out.join("notes.txt")).unwrap(),
        "keep me"
    );
}

#[cfg(unix)]
#[test]
fn pki_issue_test_writes_cert_private_key_and_chain() {
    use confrere_tests::mode;
    let card = jean();
    assert!(card.cert().is_file());
    assert!(card.chain().is_file());
    assert_eq!(mode(&card.key()), 0o600);
    assert!(fs::read_to_string(card.key())
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(
        fs::read(card.chain()).unwrap(),
        fs::read(pki_a().intermediate()).unwrap(),
        "chain.pem is the intermediate CA"
    );
}

#[test]
fn pki_issue_test_refuses_to_overwrite_a_card() {
    let before = fs::read(jean().cert()).unwrap();
    let out = pki_a().try_issue(&MARIE, &jean().dir);
    out.code(1).stderr_has("already exists");
    assert_eq!(fs::read(jean().cert()).unwrap(), before);
}

#[test]
fn issued_rsa_card_verifies_with_confrere_and_openssl() {
    let out = inspect_issued(jean(), pki_a());
    out.code(0)
        .stdout_has("VALID at")
        .stdout_has("JEAN DUPONT")
        .stdout_has("810001000016")
        .stdout_has("10 Médecin")
        .stdout_has("digitalSignature")
        .stdout_has("TEST AC RACINE CONFRERE")
        .stdout_has("revocation checked");
    assert!(!out.stdout.contains("NOT VALID"), "{out}");
    assert_openssl_accepts(jean(), pki_a());
}

#[test]
fn issued_ecdsa_card_verifies_and_enrolls() {
    let dir = tempfile::tempdir().unwrap();
    let who = Practitioner {
        national_id: "0759912345",
        given: "SOPHIE",
        surname: "LEROY",
        profession: 60,
        ecdsa: true,
    };
    let card = pki_a().issue(&who, &dir.path().join("card"));
    let key = fs::read_to_string(card.key()).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8");
    let out = inspect_issued(&card, pki_a());
    out.code(0)
        .stdout_has("VALID at")
        .stdout_has("0759912345")
        .stdout_has("ADELI")
        .stdout_has("60 Infirmier");
    assert_openssl_accepts(&card, pki_a());
    let home = dir.path().join("home");
    let init = Enroll::new(&home, &card, pki_a()).run();
    init.code(0).stdout_has("SOPHIE LEROY");
    assert!(home.join("credential.bin").is_file());
    assert_no_key_copy(&home, &card);
}

// ---------------------------------------------------------------------------
// Enrollment
// ---------------------------------------------------------------------------

#[test]
fn init_enrolls_a_node_without_copying_the_card_key() {
    let (_parent, home) = fresh_home();
    let out = Enroll::new(&home, jean(), pki_a()).run();
    out.code(0)
        .stdout_has("Enrolled")
        .stdout_has("JEAN DUPONT")
        .stdout_has("810001000016")
        .stdout_has("Peer id")
        .stdout_has("not copied");
    for f in [
        "config.toml",
        "credential.bin",
        "certificate.pem",
        "trust/anchors.pem",
        "keys/noise.key",
        "keys/libp2p.key",
    ] {
        assert!(home.join(f).is_file(), "{f} missing\n{out}");
    }
    #[cfg(unix)]
    {
        use confrere_tests::mode;
        assert_eq!(mode(&home.join("keys")), 0o700);
        assert_eq!(mode(&home.join("keys/noise.key")), 0o600);
        assert_eq!(mode(&home.join("keys/libp2p.key")), 0o600);
    }
    assert_eq!(
        pem_der(&home.join("certificate.pem")),
        pem_der(&jean().cert()),
        "certificate.pem is the card certificate"
    );
    assert_eq!(
        pem_der(&home.join("trust/anchors.pem")),
        pem_der(&pki_a().root()),
        "the trust anchor is the root given"
    );
    let config = fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(
        config.contains("national_id = \"810001000016\""),
        "{config}"
    );
    assert!(config.contains("revocation_check = true"), "{config}");
    assert_no_key_copy(&home, jean());
}

#[test]
fn init_json_prints_national_id_and_peer_id() {
    let (_parent, home) = fresh_home();
    let mut enroll = Enroll::new(&home, jean(), pki_a());
    enroll.extra.push("--json");
    let out = enroll.run();
    out.code(0);
    let v = out.json();
    assert_eq!(v["national_id"], "810001000016", "{out}");
    let peer_id = v["peer_id"].as_str().unwrap_or_default();
    assert!(peer_id.starts_with("12D3KooW"), "an Ed25519 PeerId\n{out}");
    let config = fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(
        config.contains(&format!("peer_id = \"{peer_id}\"")),
        "config.toml names the same PeerId\n{config}"
    );
}

#[test]
fn init_reads_the_home_from_confrere_home() {
    let (_parent, home) = fresh_home();
    let mut enroll = Enroll::new(&home, jean(), pki_a());
    enroll.home = None;
    enroll.env_home = Some(home.clone());
    enroll.run().code(0).stdout_has("Enrolled");
    assert!(home.join("credential.bin").is_file());
}

#[test]
fn init_accepts_an_empty_existing_home() {
    let (_parent, home) = fresh_home();
    fs::create_dir(&home).unwrap();
    Enroll::new(&home, jean(), pki_a()).run().code(0);
    assert!(home.join("credential.bin").is_file());
}

#[test]
fn init_refuses_the_key_of_another_practitioner() {
    let (parent, home) = fresh_home();
    let mut enroll = Enroll::new(&home, jean(), pki_a());
    enroll.key = marie().key();
    let out = enroll.run();
    out.code(1)
        .stderr_has("private key does not match the certificate")
        .stderr_has("hint:");
    assert_nothing_left(parent.path(), &out);
}

#[test]
fn init_refuses_a_revoked_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_b();
    let card = pki.issue(&JEAN, &dir.path().join("card"));
    let revoke = confrere([
        OsString::from("pki"),
        "revoke-test".into(),
        "--ca".into(),
        pki.dir.clone().into(),
        card.cert().into(),
    ]);
    revoke.code(0).stdout_has("Revoked");
    inspect_issued(&card, pki)
        .code(1)
        .stdout_has("NOT VALID")
        .stdout_has("was revoked on");
    let parent = dir.path().join("homes");
    fs::create_dir(&parent).unwrap();
    let out = Enroll::new(&parent.join("home"), &card, pki).run();
    out.code(1)
        .stderr_has("certificate is refused")
        .stderr_has("revoked");
    assert_nothing_left(&parent, &out);
}

#[test]
fn init_refuses_without_the_intermediate() {
    let (parent, home) = fresh_home();
    let mut enroll = Enroll::new(&home, jean(), pki_a());
    enroll.chain = None;
    let out = enroll.run();
    out.code(1)
        .stderr_has("no trusted CA issued")
        .stderr_has("--chain");
    assert_nothing_left(parent.path(), &out);
}

#[test]
fn init_refuses_another_pkis_root() {
    let (parent, home) = fresh_home();
    let mut enroll = Enroll::new(&home, jean(), pki_a());
    // Same CA names as A's, other keys: an impostor anchor.
    enroll.trust = Some(pki_b().root());
    let out = enroll.run();
    out.code(1)
        .stderr_has("certificate is refused")
        .stderr_has("no trusted CA issued");
    assert_nothing_left(parent.path(), &out);
}

#[test]
fn init_refuses_a_home_that_exists() {
    let (parent, home) = fresh_home();
    fs::create_dir(&home).unwrap();
    fs::write(home.join("notes.txt"), "patient list").unwrap();
    let out = Enroll::new(&home, jean(), pki_a()).run();
    out.code(1)
        .stderr_has("already exists")
        .stderr_has("--home");
    assert_eq!(dir_entries(parent.path()), ["home"], "{out}");
    assert_eq!(dir_entries(&home), ["notes.txt"], "{out}");
    assert_eq!(
        fs::read_to_string(home.join("notes.txt")).unwrap(),
        "patient list"
    );
}

#[test]
fn init_refuses_without_a_crl() {
    let (parent, home) = fresh_home();
    let mut enroll = Enroll::new(&home, jean(), pki_a());
    enroll.crl = None;
    let out = enroll.run();
    out.code(1)
        .stderr_has("no CRL from")
        .stderr_has("--crl")
        .stderr_has("--no-revocation-check");
    assert_nothing_left(parent.path(), &out);
}

#[test]
fn init_without_revocation_check_needs_no_crl() {
    let (_parent, home) = fresh_home();
    let mut enroll = Enroll::new(&home, jean(), pki_a());
    enroll.crl = None;
    enroll.extra.push("--no-revocation-check");
    enroll.run().code(0);
    let config = fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(config.contains("revocation_check = false"), "{config}");
}

#[test]
fn init_without_trust_is_a_usage_error() {
    let (parent, home) = fresh_home();
    let mut enroll = Enroll::new(&home, jean(), pki_a());
    enroll.trust = None;
    let out = enroll.run();
    out.code(2).stderr_has("--trust").stderr_has("required");
    assert_nothing_left(parent.path(), &out);
}

// ---------------------------------------------------------------------------
// TEST PKI errors
// ---------------------------------------------------------------------------

#[test]
fn pki_issue_test_rejects_a_bad_luhn_digit() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("card");
    let who = Practitioner {
        national_id: "810001000017",
        ..JEAN
    };
    let out = pki_a().try_issue(&who, &out_dir);
    out.code(2).stderr_has("810001000017").stderr_has("Luhn");
    assert!(!out_dir.exists(), "nothing written\n{out}");
}

#[test]
fn pki_issue_test_rejects_an_unknown_profession() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("card");
    let who = Practitioner {
        profession: 11,
        ..JEAN
    };
    let out = pki_a().try_issue(&who, &out_dir);
    out.code(2)
        .stderr_has("unknown profession code 11")
        .stderr_has("10 (Médecin)");
    assert!(!out_dir.exists(), "nothing written\n{out}");
}

#[test]
fn pki_revoke_test_refuses_a_certificate_of_another_ca() {
    let dir = tempfile::tempdir().unwrap();
    // Issued by B, whose CAs have the same names as A's.
    let card_b = pki_b().issue(&MARIE, &dir.path().join("card"));
    let crl_before = fs::read(pki_a().crl()).unwrap();
    let revoke = |cert: PathBuf| {
        confrere([
            OsString::from("pki"),
            "revoke-test".into(),
            "--ca".into(),
            pki_a().dir.clone().into(),
            cert.into(),
        ])
    };
    revoke(card_b.cert())
        .code(1)
        .stderr_has("not issued by this TEST CA");
    // A certificate made by OpenSSL under another hierarchy altogether.
    revoke(confrere_tests::openssl_fixtures_dir().join("good-rsa.pem"))
        .code(1)
        .stderr_has("not issued by this TEST CA");
    assert_eq!(
        fs::read(pki_a().crl()).unwrap(),
        crl_before,
        "A's CRL unchanged"
    );
}

#[test]
fn a_node_does_not_run_on_an_altered_credential() {
    let (_parent, home) = fresh_home();
    confrere_tests::enroll(&home, jean(), &[pki_a()]).code(0);
    let path = home.join("credential.bin");
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&path, &bytes).unwrap();
    let mut cmd = confrere_cmd();
    cmd.arg("run")
        .arg("--home")
        .arg(&home)
        .args(["--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"]);
    let out = confrere_tests::run_with_limit(&mut cmd, Duration::from_secs(60));
    out.code(1)
        .stderr_has("this node's credential does not verify")
        .stderr_has("confrere init");
}
