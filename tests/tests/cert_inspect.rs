//! `confrere cert inspect` run as a process: against the real IGC-Santé TEST
//! certificates, and over every case of the OpenSSL fixtures
//! (`protocol/tests/fixtures/openssl/MANIFEST.md`).
//!
//! Every verdict is taken at a fixed instant (`--at`), so none of these
//! tests depends on the machine's clock, except the one that checks that
//! the real certificate is expired today.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::path::PathBuf;

use confrere_tests::{ans_certs_dir, confrere, openssl_fixtures_dir, Outcome};

// ---------------------------------------------------------------------------
// Real IGC-Santé TEST certificates
// ---------------------------------------------------------------------------

fn ans(name: &str) -> PathBuf {
    ans_certs_dir().join(name)
}

/// `cert inspect` of the sage-femme certificate with its chain and root,
/// revocation off, plus `extra` arguments.
fn inspect_sage_femme(extra: &[&str]) -> Outcome {
    let mut args: Vec<std::ffi::OsString> = vec![
        "cert".into(),
        "inspect".into(),
        ans("sage-femme-elementaire.pem").into(),
        "--chain".into(),
        ans("test-ac-igc-sante-elementaire-personnes.pem").into(),
        "--trust".into(),
        ans("test-ac-racine-igc-sante-elementaire.pem").into(),
    ];
    args.extend(extra.iter().map(Into::into));
    confrere(args)
}

const AT_2021: [&str; 2] = ["--at", "2021-01-01T00:00:00Z"];

#[test]
fn sage_femme_is_valid_in_2021_text() {
    let out = inspect_sage_femme(&["--no-revocation-check", AT_2021[0], AT_2021[1]]);
    out.code(0)
        .stdout_has("VALID at 2021-01-01T00:00:00Z")
        .stdout_has("899700075064")
        .stdout_has("RPPS")
        .stdout_has("50 Sage-Femme")
        .stdout_has("CECILE SAGECH0007506")
        .stdout_has("revocation not checked");
    assert!(!out.stdout.contains("NOT VALID"), "{out}");
}

#[test]
fn sage_femme_is_valid_in_2021_json() {
    let out = inspect_sage_femme(&["--no-revocation-check", AT_2021[0], AT_2021[1], "--json"]);
    out.code(0);
    let v = out.json();
    assert_eq!(v["valid"], true, "{out}");
    assert_eq!(v["national_id"], "899700075064", "{out}");
    assert_eq!(v["id_type"], "rpps", "{out}");
    assert_eq!(v["given_name"], "CECILE", "{out}");
    assert_eq!(v["surname"], "SAGECH0007506", "{out}");
    assert_eq!(v["profession_code"], 50, "{out}");
    assert_eq!(v["profession"], "Sage-Femme", "{out}");
    assert_eq!(v["not_before"], "2019-06-14T13:43:43Z", "{out}");
    assert_eq!(v["not_after"], "2022-07-14T13:43:43Z", "{out}");
    assert_eq!(v["verified_at"], "2021-01-01T00:00:00Z", "{out}");
    assert_eq!(v["revocation_checked"], false, "{out}");
    assert_eq!(v["errors"], serde_json::json!([]), "{out}");
    // A signature certificate: usable for nothing but nonRepudiation.
    assert_eq!(v["authentication"], false, "{out}");
    assert_eq!(
        v["key_usage"],
        serde_json::json!(["nonRepudiation"]),
        "{out}"
    );
}

#[test]
fn sage_femme_is_expired_today() {
    let out = inspect_sage_femme(&["--no-revocation-check", "--json"]);
    out.code(1);
    let v = out.json();
    assert_eq!(v["valid"], false, "{out}");
    let first = v["errors"][0].as_str().unwrap_or_default();
    assert!(first.contains("expired"), "errors[0] = {first:?}\n{out}");
    assert!(first.contains("2022-07-14"), "errors[0] = {first:?}\n{out}");
    // The identity is still shown for an invalid certificate.
    assert_eq!(v["national_id"], "899700075064", "{out}");
}

#[test]
fn sage_femme_signature_certificate_cannot_authenticate() {
    let out = inspect_sage_femme(&[
        "--no-revocation-check",
        AT_2021[0],
        AT_2021[1],
        "--authentication",
    ]);
    out.code(1)
        .stdout_has("NOT VALID")
        .stdout_has("does not allow authentication")
        .stdout_has("nonRepudiation")
        .stdout_has("signature certificate");
}

#[test]
fn sage_femme_without_crl_is_refused() {
    let out = inspect_sage_femme(&[AT_2021[0], AT_2021[1]]);
    out.code(1)
        .stdout_has("NOT VALID")
        .stdout_has("no CRL from")
        .stdout_has("TEST AC IGC-SANTE ELEMENTAIRE PERSONNES")
        .stdout_has("--crl")
        .stdout_has("--no-revocation-check");
}

#[test]
fn infirmier_card_has_an_adeli_id_but_no_chain() {
    let out = confrere([
        "cert".into(),
        "inspect".into(),
        ans("infirmier-fort-card.pem").into_os_string(),
        "--trust".into(),
        ans("test-ac-racine-igc-sante-elementaire.pem").into_os_string(),
        "--no-revocation-check".into(),
        "--at".into(),
        "2021-01-01T00:00:00Z".into(),
        "--json".into(),
    ]);
    out.code(1);
    let v = out.json();
    assert_eq!(v["valid"], false, "{out}");
    assert_eq!(v["national_id"], "00B6087510", "{out}");
    assert_eq!(v["id_type"], "adeli", "{out}");
    assert_eq!(v["profession_code"], 60, "{out}");
    assert_eq!(v["profession"], "Infirmier", "{out}");
    let first = v["errors"][0].as_str().unwrap_or_default();
    assert!(
        first.contains("no trusted CA issued") && first.contains("FORT PERSONNES"),
        "errors[0] = {first:?}\n{out}"
    );
}

// ---------------------------------------------------------------------------
// OpenSSL fixtures at the manifest's test instant
// ---------------------------------------------------------------------------

const TEST_INSTANT: &str = "2025-06-01T00:00:00Z";

/// `cert inspect --authentication` at the test instant, with the root as
/// anchor, `chains` (the intermediate first) as chain and `crl` plus the
/// root's CRL. Runs in the fixture directory so that the paths stay short.
fn inspect_fixture_with(leaf: &str, chains: &[&str], crl: &str, json: bool) -> Outcome {
    let mut args = vec!["cert", "inspect", leaf, "--trust", "root.pem"];
    for c in chains {
        args.extend(["--chain", c]);
    }
    args.extend([
        "--crl",
        crl,
        "--crl",
        "crl-root.pem",
        "--authentication",
        "--at",
        TEST_INSTANT,
    ]);
    if json {
        args.push("--json");
    }
    let mut cmd = confrere_tests::confrere_cmd();
    cmd.current_dir(openssl_fixtures_dir()).args(args);
    confrere_tests::run(&mut cmd)
}

/// The standard setup of the manifest: root, intermediate, crl.pem.
fn inspect_fixture(leaf: &str) -> Outcome {
    inspect_fixture_with(leaf, &["intermediate.pem"], "crl.pem", false)
}

/// Asserts a rejection: exit 1, NOT VALID, exactly one error, and that it
/// contains every fragment (the distinctive words of that case's message).
#[track_caller]
fn assert_rejected(out: &Outcome, fragments: &[&str]) {
    out.code(1).stdout_has("NOT VALID at 2025-06-01T00:00:00Z");
    let errors: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "expected one error line\n{out}");
    for f in fragments {
        assert!(
            errors[0].contains(f),
            "the error should say {f:?}: {:?}\n{out}",
            errors[0]
        );
    }
    assert!(
        out.stdout.contains("  hint:  "),
        "a rejection comes with a hint\n{out}"
    );
}

#[test]
fn fixture_expired() {
    assert_rejected(
        &inspect_fixture("expired.pem"),
        &["certificate expired on 2024-12-31"],
    );
}

#[test]
fn fixture_not_yet_valid() {
    assert_rejected(
        &inspect_fixture("not-yet-valid.pem"),
        &["not valid before 2026-01-01"],
    );
}

#[test]
fn fixture_impostor_leaf() {
    // Same issuer name as the good intermediate, another key.
    assert_rejected(
        &inspect_fixture("impostor-leaf.pem"),
        &["no trusted CA issued", "TEST AC OPENSSL PERSONNES"],
    );
}

#[test]
fn fixture_self_signed_leaf() {
    assert_rejected(&inspect_fixture("self-signed-leaf.pem"), &["self-signed"]);
}

#[test]
fn fixture_issued_by_leaf() {
    let out = inspect_fixture_with(
        "issued-by-leaf.pem",
        &["intermediate.pem", "good-rsa.pem"],
        "crl.pem",
        false,
    );
    assert_rejected(&out, &["issued by", "DUPONT-TESTRSA", "which is not a CA"]);
}

#[test]
fn fixture_issued_by_leaf_without_its_issuer() {
    assert_rejected(
        &inspect_fixture("issued-by-leaf.pem"),
        &["no trusted CA issued", "DUPONT-TESTRSA"],
    );
}

#[test]
fn fixture_intermediate_expired() {
    let out = inspect_fixture_with(
        "good-rsa.pem",
        &["intermediate-expired.pem"],
        "crl.pem",
        false,
    );
    assert_rejected(
        &out,
        &[
            "CA certificate",
            "TEST AC OPENSSL PERSONNES",
            "outside its validity",
        ],
    );
}

#[test]
fn fixture_impostor_intermediate() {
    // The impostor intermediate claims the good root as issuer.
    let out = inspect_fixture_with(
        "impostor-leaf.pem",
        &["impostor-intermediate.pem"],
        "crl.pem",
        false,
    );
    assert_rejected(&out, &["no trusted CA issued", "TEST AC RACINE OPENSSL"]);
}

#[test]
fn fixture_leaf_is_ca() {
    assert_rejected(
        &inspect_fixture("leaf-is-ca.pem"),
        &["is a CA certificate, not a practitioner's"],
    );
}

#[test]
fn fixture_under_sub_ca() {
    let out = inspect_fixture_with(
        "under-sub-ca.pem",
        &["intermediate.pem", "sub-ca.pem"],
        "crl.pem",
        false,
    );
    assert_rejected(&out, &["pathLenConstraint", "TEST AC OPENSSL PERSONNES"]);
}

#[test]
fn fixture_revoked() {
    assert_rejected(
        &inspect_fixture("revoked.pem"),
        &["CAS-TEST-REVOKED", "was revoked on 2025-04-01"],
    );
}

#[test]
fn fixture_stale_crl() {
    let out = inspect_fixture_with(
        "good-rsa.pem",
        &["intermediate.pem"],
        "crl-stale.pem",
        false,
    );
    assert_rejected(&out, &["CRL from", "out of date", "2025-05-15"]);
}

#[test]
fn fixture_forged_crl() {
    let out = inspect_fixture_with(
        "good-rsa.pem",
        &["intermediate.pem"],
        "crl-forged.pem",
        false,
    );
    assert_rejected(&out, &["CRL claiming to be from", "bad signature"]);
}

#[test]
fn fixture_forged_crl_does_not_unrevoke() {
    let out = inspect_fixture_with(
        "revoked.pem",
        &["intermediate.pem"],
        "crl-forged.pem",
        false,
    );
    out.code(1).stdout_has("NOT VALID");
    assert!(
        out.stdout.contains("bad signature") || out.stdout.contains("revoked"),
        "{out}"
    );
}

#[test]
fn fixture_signature_only() {
    assert_rejected(
        &inspect_fixture("signature-only.pem"),
        &["does not allow authentication", "nonRepudiation"],
    );
}

#[test]
fn fixture_rsa1024() {
    assert_rejected(
        &inspect_fixture("rsa1024.pem"),
        &["RSA key of 1024 bits", "at least 2048"],
    );
}

#[test]
fn fixture_sha1() {
    assert_rejected(
        &inspect_fixture("sha1.pem"),
        &["signed with SHA-1", "no longer accepted"],
    );
}

#[test]
fn fixture_tampered_signature() {
    assert_rejected(
        &inspect_fixture("tampered-signature.pem"),
        &["signature on", "DUPONT-TESTRSA", "does not verify"],
    );
}

#[test]
fn fixture_no_national_id() {
    assert_rejected(&inspect_fixture("no-national-id.pem"), &["no national id"]);
}

#[test]
fn fixture_bad_luhn() {
    assert_rejected(
        &inspect_fixture("bad-luhn.pem"),
        &["national id is invalid", "Luhn"],
    );
}

/// An accepted fixture: exit 0, VALID, the expected identity in the JSON.
#[track_caller]
fn assert_accepted(leaf: &str, national_id: &str, id_type: &str, profession_code: u64) {
    let text = inspect_fixture(leaf);
    text.code(0)
        .stdout_has("VALID at 2025-06-01T00:00:00Z")
        .stdout_has("TEST AC RACINE OPENSSL")
        .stdout_has("revocation checked");
    assert!(!text.stdout.contains("NOT VALID"), "{text}");
    let out = inspect_fixture_with(leaf, &["intermediate.pem"], "crl.pem", true);
    out.code(0);
    let v = out.json();
    assert_eq!(v["valid"], true, "{out}");
    assert_eq!(v["national_id"], national_id, "{out}");
    assert_eq!(v["id_type"], id_type, "{out}");
    assert_eq!(v["profession_code"], profession_code, "{out}");
    assert_eq!(v["revocation_checked"], true, "{out}");
    assert_eq!(v["authentication"], true, "{out}");
    assert_eq!(v["errors"], serde_json::json!([]), "{out}");
}

#[test]
fn fixture_good_rsa() {
    assert_accepted("good-rsa.pem", "810001000016", "rpps", 10);
}

#[test]
fn fixture_good_rsa_der() {
    let out = inspect_fixture_with("good-rsa.der", &["intermediate.pem"], "crl.der", false);
    out.code(0)
        .stdout_has("VALID at")
        .stdout_has("810001000016");
}

#[test]
fn fixture_good_rsa3072_sha384() {
    assert_accepted("good-rsa3072-sha384.pem", "810001000040", "rpps", 40);
}

#[test]
fn fixture_other_good_rsa() {
    assert_accepted("other-good-rsa.pem", "810001000032", "rpps", 21);
}

#[test]
fn fixture_good_ecdsa() {
    assert_accepted("good-ecdsa.pem", "810001000024", "rpps", 10);
}

#[test]
fn fixture_adeli() {
    assert_accepted("adeli.pem", "0759912345", "adeli", 60);
}

// ---------------------------------------------------------------------------
// Unusable input: exit 2
// ---------------------------------------------------------------------------

#[test]
fn missing_certificate_file_is_unusable_input() {
    let out = inspect_fixture("no-such-certificate.pem");
    out.code(2)
        .stderr_has("cannot read no-such-certificate.pem")
        .stderr_has("hint:");
}

#[test]
fn key_file_given_as_certificate_is_unusable_input() {
    let out = inspect_fixture("good-rsa.key.pem");
    out.code(2)
        .stderr_has("good-rsa.key.pem")
        .stderr_has("unreadable certificate")
        .stderr_has("not a key");
    // The key must never be echoed.
    assert!(
        !out.stdout.contains("PRIVATE KEY") && !out.stderr.contains("PRIVATE KEY"),
        "{out}"
    );
}

#[test]
fn bad_at_value_is_a_usage_error() {
    let mut cmd = confrere_tests::confrere_cmd();
    cmd.current_dir(openssl_fixtures_dir()).args([
        "cert",
        "inspect",
        "good-rsa.pem",
        "--trust",
        "root.pem",
        "--at",
        "yesterday",
    ]);
    let out = confrere_tests::run(&mut cmd);
    out.code(2).stderr_has("--at").stderr_has("RFC 3339");
}

#[test]
fn unreadable_chain_file_is_unusable_input() {
    // A directory cannot be read as a file, whoever runs the test (root
    // reads files of any mode).
    let dir = tempfile::tempdir().unwrap();
    let out = inspect_fixture_with(
        "good-rsa.pem",
        &[dir.path().to_str().unwrap()],
        "crl.pem",
        false,
    );
    out.code(2).stderr_has("cannot read").stderr_has("hint:");
    let missing = inspect_fixture_with("good-rsa.pem", &["no-such-chain.pem"], "crl.pem", false);
    missing.code(2).stderr_has("cannot read no-such-chain.pem");
}

#[test]
fn unusable_input_with_json_prints_a_json_error() {
    let out = inspect_fixture_with("good-rsa.pem", &["no-such-chain.pem"], "crl.pem", true);
    out.code(2);
    let v = out.json();
    assert_eq!(v["exit_code"], 2, "{out}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("no-such-chain.pem"),
        "{out}"
    );
}
