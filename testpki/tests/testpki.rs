//! The TEST PKI generator, checked against OpenSSL and against its own refusals.
//!
//! OpenSSL checks are skipped, with a notice, when `openssl` is not on PATH.

mod common;
use common::{have_openssl, openssl};
use std::fs;
use std::path::Path;

use confrere_testpki::{
    self as testpki, files, init_test_ca, issue_test, refresh_crl_test, revoke_test, IssueRequest,
    TestCa, TestKeyUsage, TestPkiError,
};
use time::{Duration, OffsetDateTime};

/// RPPS id of the ANS TEST sage-femme certificate (`8` + 11 digits, Luhn-valid).
const RPPS: &str = "899700075064";

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn sage_femme() -> IssueRequest {
    IssueRequest::new(RPPS, "CECILE", "SAGECH0007506", 50)
}

/// An in-memory CA with RSA-2048 CA keys: the key size changes nothing these tests look
/// at, and 2048-bit keys generate several times faster than the default 3072.
fn fast_ca() -> TestCa {
    TestCa::generate_with_key_bits(now(), 2048).expect("ca")
}

/// Copies the CA files needed for `openssl verify` next to an issued certificate.
fn stage(ca: &Path, issued: &Path) {
    for name in [files::ROOT_CERT, files::CRL] {
        fs::copy(ca.join(name), issued.join(name)).expect("copy");
    }
}

fn verify(dir: &Path, with_crl: bool) -> (bool, String) {
    let mut args = vec![
        "verify",
        "-x509_strict",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "chain.pem",
    ];
    if with_crl {
        args.extend(["-crl_check", "-CRLfile", "crl.pem"]);
    }
    args.push("cert.pem");
    openssl(dir, &args)
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn ca_issue_revoke_cycle_is_accepted_by_openssl() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca = tmp.path().join("ca");
    let alice = tmp.path().join("alice");
    init_test_ca(&ca, now()).expect("init");
    assert_eq!(
        file_names(&ca),
        [
            "ca.json",
            "crl.pem",
            "intermediate.key.pem",
            "intermediate.pem",
            "root.key.pem",
            "root.pem"
        ]
    );
    let issued = issue_test(&ca, &sage_femme(), &alice, now()).expect("issue");
    assert_eq!(file_names(&alice), ["cert.pem", "chain.pem", "key.pem"]);
    #[cfg(unix)]
    {
        assert_eq!(mode(&ca.join(files::ROOT_KEY)), 0o600);
        assert_eq!(mode(&ca.join(files::INTERMEDIATE_KEY)), 0o600);
        assert_eq!(mode(&alice.join(files::KEY)), 0o600);
        assert_eq!(mode(&alice.join(files::CERT)), 0o644);
        assert_eq!(mode(&ca.join(files::ROOT_CERT)), 0o644);
    }
    let debug = format!("{issued:?}");
    assert!(debug.contains("<redacted>"), "{debug}");

    if !have_openssl() {
        revoke_test(&ca, &alice.join(files::CERT), now()).expect("revoke");
        return;
    }
    stage(&ca, &alice);
    let (ok, text) = verify(&alice, false);
    assert!(ok && text.contains("cert.pem: OK"), "{text}");
    let (ok, text) = verify(&alice, true);
    assert!(ok && text.contains("cert.pem: OK"), "{text}");

    let (ok, text) = openssl(
        &alice,
        &["x509", "-noout", "-text", "-serial", "-in", "cert.pem"],
    );
    assert!(ok, "{text}");
    for expected in [
        "Issuer: C = FR, O = CONFRERE TEST, OU = IGC-SANTE TEST, CN = TEST AC CONFRERE PERSONNES",
        "Subject: C = FR, title = Sage-Femme, GN = CECILE + CN = 899700075064 + SN = SAGECH0007506",
        "Public-Key: (2048 bit)",
        "Signature Algorithm: sha256WithRSAEncryption",
        "X509v3 Key Usage: critical\n                Digital Signature\n",
        "CA:FALSE",
        "X509v3 Authority Key Identifier",
        "X509v3 Subject Key Identifier",
        testpki::TEST_POLICY_OID,
        "1.2.250.1.71.1.2.7: \n                ..2",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(
        text.contains(&format!("serial={}", issued.serial_hex())),
        "{text}"
    );
    let (ok, text) = openssl(&alice, &["asn1parse", "-in", "cert.pem"]);
    assert!(ok, "{text}");

    let (ok, text) = openssl(&ca, &["x509", "-noout", "-text", "-in", "intermediate.pem"]);
    assert!(ok && text.contains("CA:TRUE, pathlen:0"), "{text}");
    assert!(text.contains("Certificate Sign, CRL Sign"), "{text}");
    assert!(text.contains("Public-Key: (3072 bit)"), "{text}");
    let (ok, text) = openssl(&ca, &["x509", "-noout", "-text", "-in", "root.pem"]);
    assert!(
        ok && text.contains(
            "Subject: C = FR, O = CONFRERE TEST, OU = IGC-SANTE TEST, CN = TEST AC RACINE CONFRERE"
        ),
        "{text}"
    );
    for key in ["root.key.pem", "intermediate.key.pem"] {
        let (ok, text) = openssl(&ca, &["pkey", "-in", key, "-noout"]);
        assert!(ok, "{key}: {text}");
    }
    let (ok, text) = openssl(&alice, &["pkey", "-in", "key.pem", "-pubout"]);
    assert!(ok, "{text}");

    let (ok, text) = openssl(&ca, &["crl", "-in", "crl.pem", "-noout", "-text"]);
    assert!(ok, "{text}");
    assert!(text.contains("Version 2 (0x1)"), "{text}");
    assert!(text.contains("No Revoked Certificates."), "{text}");
    assert!(
        text.contains("X509v3 CRL Number: \n                1\n"),
        "{text}"
    );

    revoke_test(&ca, &alice.join(files::CERT), now()).expect("revoke");
    let crl_after_first = fs::read(ca.join(files::CRL)).expect("read crl");
    let state_after_first = fs::read(ca.join(files::STATE)).expect("read state");
    revoke_test(&ca, &alice.join(files::CERT), now()).expect("revoke again");
    assert_eq!(
        fs::read(ca.join(files::CRL)).expect("read crl"),
        crl_after_first
    );
    assert_eq!(
        fs::read(ca.join(files::STATE)).expect("read state"),
        state_after_first
    );

    let (ok, text) = openssl(&ca, &["crl", "-in", "crl.pem", "-noout", "-text"]);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("Serial Number: {}", issued.serial_hex())),
        "{text}"
    );
    assert!(
        text.contains("X509v3 CRL Number: \n                2\n"),
        "{text}"
    );
    // The CRL signature verifies with the intermediate.
    let (ok, text) = openssl(
        &alice,
        &[
            "crl",
            "-in",
            &ca.join(files::CRL).to_string_lossy(),
            "-CAfile",
            "chain.pem",
            "-noout",
        ],
    );
    assert!(ok && text.contains("verify OK"), "{text}");

    stage(&ca, &alice);
    let (ok, text) = verify(&alice, true);
    assert!(!ok && text.contains("certificate revoked"), "{text}");
    // Without the CRL the chain itself is still fine.
    let (ok, text) = verify(&alice, false);
    assert!(ok, "{text}");

    // A refreshed CRL still lists the revoked certificate, with the next number.
    refresh_crl_test(&ca, now()).expect("refresh");
    let (ok, text) = openssl(&ca, &["crl", "-in", "crl.pem", "-noout", "-text"]);
    assert!(
        ok && text.contains("X509v3 CRL Number: \n                3\n"),
        "{text}"
    );
    assert!(text.contains(&issued.serial_hex()), "{text}");
}

#[test]
fn ecdsa_and_non_repudiation_certificates() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca = tmp.path().join("ca");
    init_test_ca(&ca, now()).expect("init");
    let mut req = IssueRequest::new("00B6087510", "OLIVIER", "INFIRMCS ADELI8751", 60);
    req.ecdsa = true;
    req.key_usage = TestKeyUsage::NonRepudiation;
    let out = tmp.path().join("olivier");
    let issued = issue_test(&ca, &req, &out, now()).expect("issue");
    #[cfg(unix)]
    assert_eq!(mode(&out.join(files::KEY)), 0o600);
    assert!(issued.not_after - issued.not_before > Duration::days(3 * 365));
    if !have_openssl() {
        return;
    }
    stage(&ca, &out);
    let (ok, text) = verify(&out, true);
    assert!(ok && text.contains("cert.pem: OK"), "{text}");
    let (ok, text) = openssl(&out, &["x509", "-noout", "-text", "-in", "cert.pem"]);
    assert!(ok, "{text}");
    for expected in [
        "Subject: C = FR, title = Infirmier, GN = OLIVIER + CN = 00B6087510 + SN = INFIRMCS ADELI8751",
        "id-ecPublicKey",
        "prime256v1",
        "X509v3 Key Usage: critical\n                Non Repudiation\n",
        "1.2.250.1.71.1.2.7: \n                ..<",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let (ok, text) = openssl(&out, &["pkey", "-in", "key.pem", "-noout", "-text"]);
    assert!(ok && text.contains("prime256v1"), "{text}");
}

#[test]
fn multi_valued_rdn_is_kept_whatever_the_order() {
    let ca = fast_ca();
    let req = IssueRequest::new("810000000009", "JEAN-BAPTISTE MARIE", "DE LA FONTAINE", 10);
    assert!(testpki::validate_national_id("810000000009").is_ok());
    let issued = ca.issue(&req, now()).expect("issue");
    if !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::write(tmp.path().join("cert.pem"), issued.cert_pem()).expect("write");
    let (ok, text) = openssl(
        tmp.path(),
        &[
            "x509",
            "-noout",
            "-subject",
            "-nameopt",
            "utf8,sep_comma_plus_space,space_eq",
            "-in",
            "cert.pem",
        ],
    );
    assert!(ok, "{text}");
    // DER sorts the SET by encoding: with a long given name, GN comes after CN and SN.
    assert!(
        text.contains(
            "title = Médecin, CN = 810000000009 + SN = DE LA FONTAINE + GN = JEAN-BAPTISTE MARIE"
        ),
        "{text}"
    );
}

#[test]
fn expired_and_future_certificates_for_tests() {
    let ca = fast_ca();
    let expired = ca
        .issue(
            &sage_femme().with_validity(now() - Duration::days(400), now() - Duration::days(30)),
            now(),
        )
        .expect("expired");
    let future = ca
        .issue(
            &sage_femme().with_validity(now() + Duration::days(10), now() + Duration::days(400)),
            now(),
        )
        .expect("future");
    assert!(expired.not_after < now());
    assert!(future.not_before > now());
    let backwards = sage_femme().with_validity(now(), now() - Duration::days(1));
    assert!(matches!(
        ca.issue(&backwards, now()),
        Err(TestPkiError::InvalidValidity { .. })
    ));
    let mut zero = sage_femme();
    zero.validity_days = 0;
    assert!(matches!(
        ca.issue(&zero, now()),
        Err(TestPkiError::InvalidValidity { .. })
    ));
    if !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    fs::write(dir.join("root.pem"), ca.root_pem()).expect("write");
    fs::write(dir.join("chain.pem"), ca.intermediate_pem()).expect("write");
    let crl = ca
        .crl(&[], 1, now(), now() + Duration::days(1))
        .expect("crl");
    fs::write(dir.join("crl.der"), crl).expect("write");
    let (ok, text) = openssl(
        dir,
        &["crl", "-inform", "DER", "-in", "crl.der", "-out", "crl.pem"],
    );
    assert!(ok, "{text}");
    for (cert, error) in [
        (&expired, "certificate has expired"),
        (&future, "certificate is not yet valid"),
    ] {
        fs::write(dir.join("cert.pem"), cert.cert_pem()).expect("write");
        let (ok, text) = verify(dir, true);
        assert!(!ok && text.contains(error), "{text}");
    }
}

#[test]
fn bad_requests_are_refused_before_writing_anything() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca = tmp.path().join("ca");
    init_test_ca(&ca, now()).expect("init");
    let out = tmp.path().join("out");
    for id in [
        "899700075065",
        "89970007506",
        "1234",
        "00B60875",
        "X99700075064",
        "",
    ] {
        let req = IssueRequest::new(id, "CECILE", "SAGECH", 50);
        let err = issue_test(&ca, &req, &out, now()).expect_err(id);
        assert!(
            matches!(err, TestPkiError::InvalidNationalId { .. }),
            "{id}: {err}"
        );
        assert!(err.to_string().contains("RPPS"), "{err}");
    }
    let err = issue_test(
        &ca,
        &IssueRequest::new(RPPS, "CECILE", "SAGECH", 11),
        &out,
        now(),
    )
    .expect_err("profession");
    assert!(
        matches!(err, TestPkiError::UnknownProfession { code: 11, .. }),
        "{err}"
    );
    let err = issue_test(
        &ca,
        &IssueRequest::new(RPPS, "CECILE", " ", 50),
        &out,
        now(),
    )
    .expect_err("surname");
    assert!(
        matches!(
            err,
            TestPkiError::InvalidName {
                field: "surname",
                ..
            }
        ),
        "{err}"
    );
    let err = issue_test(&ca, &IssueRequest::new(RPPS, "", "SAGECH", 50), &out, now())
        .expect_err("given");
    assert!(
        matches!(
            err,
            TestPkiError::InvalidName {
                field: "given name",
                ..
            }
        ),
        "{err}"
    );
    assert!(!out.exists(), "a refused request left {}", out.display());

    // Existing files are never overwritten.
    issue_test(&ca, &sage_femme(), &out, now()).expect("issue");
    let before = fs::read(out.join(files::KEY)).expect("read key");
    let err = issue_test(&ca, &sage_femme(), &out, now()).expect_err("overwrite");
    assert!(matches!(err, TestPkiError::FileExists { .. }), "{err}");
    assert_eq!(fs::read(out.join(files::KEY)).expect("read key"), before);

    // A CA directory is never made in a non-empty directory, and never over another CA.
    let err = init_test_ca(&ca, now()).expect_err("non-empty");
    assert!(matches!(err, TestPkiError::OutDirNotEmpty { .. }), "{err}");
    assert!(err.to_string().contains("choose another --out"), "{err}");
    let not_dir = tmp.path().join("file");
    fs::write(&not_dir, b"x").expect("write");
    assert!(matches!(
        init_test_ca(&not_dir, now()),
        Err(TestPkiError::NotADirectory { .. })
    ));

    // Something that is not a CA directory.
    let err = issue_test(&out, &sage_femme(), &tmp.path().join("o2"), now()).expect_err("not a CA");
    assert!(matches!(err, TestPkiError::BadCaDir { .. }), "{err}");
}

#[test]
fn certificates_of_another_ca_cannot_be_revoked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ca1, ca2) = (tmp.path().join("ca1"), tmp.path().join("ca2"));
    init_test_ca(&ca1, now()).expect("init 1");
    init_test_ca(&ca2, now()).expect("init 2");
    let foreign = tmp.path().join("foreign");
    issue_test(&ca2, &sage_femme(), &foreign, now()).expect("issue");
    let crl_before = fs::read(ca1.join(files::CRL)).expect("read");

    // Same issuer name (both CAs say TEST AC CONFRERE PERSONNES), other key: the signature decides.
    let err = revoke_test(&ca1, &foreign.join(files::CERT), now()).expect_err("foreign");
    assert!(
        matches!(err, TestPkiError::NotIssuedByThisCa { reason } if reason.contains("signature")),
        "{err}"
    );
    // The intermediate itself is issued by the root, not by the intermediate.
    let err =
        revoke_test(&ca1, &ca1.join(files::INTERMEDIATE_CERT), now()).expect_err("intermediate");
    assert!(
        matches!(err, TestPkiError::NotIssuedByThisCa { .. }),
        "{err}"
    );
    // A real ANS TEST certificate.
    let real = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testdata/ans-test-certs/sage-femme-elementaire.pem");
    if real.exists() {
        let err = revoke_test(&ca1, &real, now()).expect_err("real");
        assert!(
            matches!(err, TestPkiError::NotIssuedByThisCa { .. }),
            "{err}"
        );
    }
    // Not a certificate at all.
    let err = revoke_test(&ca1, &ca1.join(files::STATE), now()).expect_err("junk");
    assert!(matches!(err, TestPkiError::BadCertificate { .. }), "{err}");
    assert_eq!(fs::read(ca1.join(files::CRL)).expect("read"), crl_before);
}

#[test]
fn ca_directory_reloads_and_detects_mixed_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ca1, ca2) = (tmp.path().join("ca1"), tmp.path().join("ca2"));
    let made = init_test_ca(&ca1, now()).expect("init");
    let loaded = TestCa::load(&ca1).expect("load");
    assert_eq!(made.root_der(), loaded.root_der());
    assert_eq!(made.intermediate_der(), loaded.intermediate_der());
    assert!(!format!("{loaded:?}").contains("PRIVATE"));

    init_test_ca(&ca2, now()).expect("init 2");
    fs::copy(
        ca2.join(files::INTERMEDIATE_KEY),
        ca1.join(files::INTERMEDIATE_KEY),
    )
    .expect("copy");
    let err = TestCa::load(&ca1).expect_err("mixed");
    assert!(matches!(err, TestPkiError::BadCaDir { .. }), "{err}");
    assert!(err.to_string().contains("does not belong"), "{err}");
}

#[test]
fn x509_parser_reads_what_the_protocol_crate_will_read() {
    use x509_parser::prelude::{parse_x509_certificate, parse_x509_crl};

    let now = now();
    let ca = fast_ca();
    let issued = ca.issue(&sage_femme(), now).expect("issue");
    let (_, root) = parse_x509_certificate(ca.root_der()).expect("root");
    let (_, intermediate) = parse_x509_certificate(ca.intermediate_der()).expect("intermediate");
    let (rest, leaf) = parse_x509_certificate(&issued.cert_der).expect("leaf");
    assert!(rest.is_empty());
    root.verify_signature(None).expect("root self-signed");
    intermediate
        .verify_signature(Some(root.public_key()))
        .expect("intermediate signed by root");
    leaf.verify_signature(Some(intermediate.public_key()))
        .expect("leaf signed by intermediate");

    let rdns: Vec<Vec<(String, String)>> = leaf
        .subject()
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|a| {
                    (
                        a.attr_type().to_id_string(),
                        a.as_str().expect("string").to_owned(),
                    )
                })
                .collect()
        })
        .collect();
    let pair = |oid: &str, value: &str| (oid.to_owned(), value.to_owned());
    assert_eq!(
        rdns,
        [
            vec![pair("2.5.4.6", "FR")],
            vec![pair("2.5.4.12", "Sage-Femme")],
            vec![
                pair("2.5.4.42", "CECILE"),
                pair("2.5.4.3", RPPS),
                pair("2.5.4.4", "SAGECH0007506")
            ],
        ]
    );
    let profession = leaf
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == "1.2.250.1.71.1.2.7")
        .expect("profession extension");
    assert!(!profession.critical);
    assert_eq!(profession.value, [0x02, 0x01, 50]);
    let usage = leaf.key_usage().expect("key usage").expect("present");
    assert!(usage.critical && usage.value.digital_signature() && !usage.value.non_repudiation());
    assert!(!leaf.is_ca());
    let constraints = intermediate
        .basic_constraints()
        .expect("bc")
        .expect("present");
    assert!(constraints.critical && constraints.value.ca);
    assert_eq!(constraints.value.path_len_constraint, Some(0));
    assert_eq!(leaf.raw_serial(), issued.serial.as_slice());

    let revoked = [testpki::RevokedEntry {
        serial: issued.serial.clone(),
        revoked_at: now,
    }];
    let crl_der = ca
        .crl(&revoked, 42, now, now + Duration::days(30))
        .expect("crl");
    let (_, crl) = parse_x509_crl(&crl_der).expect("parse crl");
    crl.verify_signature(intermediate.public_key())
        .expect("crl signed by intermediate");
    assert_eq!(
        crl.crl_number().map(|n| n.to_string()),
        Some("42".to_owned())
    );
    let serials: Vec<&[u8]> = crl
        .iter_revoked_certificates()
        .map(|r| r.raw_serial())
        .collect();
    assert_eq!(serials, [issued.serial.as_slice()]);
    assert_eq!(crl.issuer(), intermediate.subject());
}

#[test]
fn key_purpose_and_policy_options_reach_the_verifier() {
    use confrere_protocol::{
        verify_certificate, CertError, Certificate, RevocationCheck, TrustStore, UnixTime,
        VerifyOptions,
    };

    let now = now();
    let ca = fast_ca();
    let root = Certificate::from_der(ca.root_der()).expect("root");
    let chain = [Certificate::from_der(ca.intermediate_der()).expect("intermediate")];
    let opts = VerifyOptions {
        revocation: RevocationCheck::Off,
        ..VerifyOptions::authentication(UnixTime::from_secs(now.unix_timestamp()))
    };
    let issue = |eku: Option<&[&str]>, policies: Option<&[&str]>| {
        let mut req = sage_femme();
        req.ext_key_usage = eku.map(|l| l.iter().map(|s| (*s).to_owned()).collect());
        req.policies = policies.map(|l| l.iter().map(|s| (*s).to_owned()).collect());
        let issued = ca.issue(&req, now).expect("issue");
        Certificate::from_der(&issued.cert_der).expect("parse")
    };
    let mut trust = TrustStore::new(vec![root]);
    trust
        .set_policies(vec![testpki::TEST_POLICY_OID.to_owned()])
        .expect("valid OID");

    // Defaults: no EKU, the generator's TEST policy: accepted.
    let plain = issue(None, None);
    assert_eq!(plain.extended_key_usage(), None);
    assert_eq!(plain.policies(), [testpki::TEST_POLICY_OID]);
    verify_certificate(&plain, &chain, &trust, &opts).expect("default certificate");

    let client = issue(Some(&["1.3.6.1.5.5.7.3.2"]), None);
    verify_certificate(&client, &chain, &trust, &opts).expect("clientAuth");

    let email = issue(Some(&["1.3.6.1.5.5.7.3.4"]), None);
    let err = verify_certificate(&email, &chain, &trust, &opts).expect_err("emailProtection");
    assert!(matches!(err, CertError::NotForClientAuth { .. }), "{err:?}");

    let other_policy = issue(None, Some(&["1.2.250.1.213.1.7.2.1.1.1.1"]));
    let err = verify_certificate(&other_policy, &chain, &trust, &opts).expect_err("policy");
    assert!(
        matches!(err, CertError::PolicyNotAccepted { .. }),
        "{err:?}"
    );

    let no_policy = issue(None, Some(&[]));
    assert!(no_policy.policies().is_empty());
    let err = verify_certificate(&no_policy, &chain, &trust, &opts).expect_err("no policy");
    assert!(
        matches!(err, CertError::PolicyNotAccepted { .. }),
        "{err:?}"
    );
}
