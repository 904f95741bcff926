//! What the TEST PKI makes, checked against OpenSSL:
//! - it has the shape of the OpenSSL-made fixtures of the protocol crate
//!   (`protocol/tests/fixtures/openssl/`, made by `make-fixtures.sh` with OpenSSL alone):
//!   the same name structure and string types, the same extensions with the same
//!   criticality and encodings, the same CRL fields;
//! - `openssl verify -crl_check_all` accepts its chain with the CRLs of both CAs, and
//!   `openssl crl -CAfile` verifies each CRL with its CA;
//! - the protocol's verifier, with revocation required, accepts it and then refuses it
//!   once revoked.
//!
//! OpenSSL runs are skipped, with a notice, when `openssl` is not on PATH.

mod common;
use common::{have_openssl, openssl};
use std::fs;
use std::path::Path;

use confrere_protocol::{
    parse_certificates, parse_crls, verify_certificate, CertError, TrustStore, UnixTime,
    VerifyOptions,
};
use confrere_testpki::{
    files, init_test_ca, issue_test, revoke_test, IssueRequest, TestCa, TEST_POLICY_OID,
};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{parse_x509_certificate, parse_x509_crl, X509Certificate, X509Name};

/// The OpenSSL-made fixtures of the protocol crate.
const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../protocol/tests/fixtures/openssl/"
);

/// Extension OIDs.
const BASIC_CONSTRAINTS: &str = "2.5.29.19";
const KEY_USAGE: &str = "2.5.29.15";
const CERTIFICATE_POLICIES: &str = "2.5.29.32";
const PROFESSION_CODE: &str = "1.2.250.1.71.1.2.7";
const SUBJECT_KEY_ID: &str = "2.5.29.14";
const AUTHORITY_KEY_ID: &str = "2.5.29.35";

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// The DER of the first PEM block of a fixture.
fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{FIXTURES}{name}");
    let pem = fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {path}: {e}"));
    let (_, block) = x509_parser::pem::parse_x509_pem(&pem).expect("fixture PEM");
    block.contents
}

/// Per RDN, each attribute's type and the tag of its string value.
fn name_shape(name: &X509Name<'_>) -> Vec<Vec<(String, u32)>> {
    name.iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|a| (a.attr_type().to_id_string(), a.attr_value().tag().0))
                .collect()
        })
        .collect()
}

/// One extension: OID, critical, extnValue.
type Ext = (String, bool, Vec<u8>);

fn extensions(cert: &X509Certificate<'_>) -> Vec<Ext> {
    cert.extensions()
        .iter()
        .map(|e| (e.oid.to_id_string(), e.critical, e.value.to_vec()))
        .collect()
}

/// Checks that `ours` has every extension of `openssl`'s with the same criticality and,
/// except for the key identifiers (hashes of different keys, both 20 octets), the same
/// value; and that the only extension it adds is certificatePolicies.
fn assert_same_extensions(what: &str, ours: &[Ext], openssl: &[Ext]) {
    for (oid, critical, value) in openssl {
        let Some((_, our_critical, our_value)) = ours.iter().find(|(o, _, _)| o == oid) else {
            panic!("{what}: extension {oid} of the OpenSSL fixture is missing");
        };
        assert_eq!(our_critical, critical, "{what}: criticality of {oid}");
        if oid == SUBJECT_KEY_ID || oid == AUTHORITY_KEY_ID {
            assert_eq!(our_value.len(), value.len(), "{what}: length of {oid}");
        } else {
            assert_eq!(our_value, value, "{what}: value of {oid}");
        }
    }
    let added: Vec<&str> = ours
        .iter()
        .map(|(oid, _, _)| oid.as_str())
        .filter(|oid| !openssl.iter().any(|(o, _, _)| o == oid))
        .collect();
    assert_eq!(added, [CERTIFICATE_POLICIES], "{what}: extensions added");
}

fn assert_same_shape(what: &str, ours: &X509Certificate<'_>, openssl: &X509Certificate<'_>) {
    assert_eq!(ours.version(), openssl.version(), "{what}: version");
    assert_eq!(
        ours.signature_algorithm, openssl.signature_algorithm,
        "{what}: signature algorithm"
    );
    assert_eq!(
        name_shape(ours.subject()),
        name_shape(openssl.subject()),
        "{what}: subject"
    );
    assert_eq!(
        name_shape(ours.issuer()),
        name_shape(openssl.issuer()),
        "{what}: issuer"
    );
    assert_same_extensions(what, &extensions(ours), &extensions(openssl));
}

#[test]
fn certificates_have_the_shape_of_the_openssl_fixtures() {
    let now = now();
    let ca = TestCa::generate_with_key_bits(now, 2048).expect("ca");
    // Same identity and profession as the fixture good-rsa.pem (Médecin, 10).
    let issued = ca
        .issue(
            &IssueRequest::new("810001000016", "JEAN", "DUPONT-TESTRSA", 10),
            now,
        )
        .expect("issue");
    let leaf_der = fixture("good-rsa.pem");
    let (_, leaf) = parse_x509_certificate(&issued.cert_der).expect("our leaf");
    let (_, fixture_leaf) = parse_x509_certificate(&leaf_der).expect("fixture leaf");
    assert_same_shape("leaf", &leaf, &fixture_leaf);
    // The fixture's values, spelled out: what the comparison above relies on.
    let ext = |oid: &str| {
        extensions(&leaf)
            .into_iter()
            .find(|(o, _, _)| o == oid)
            .expect("extension")
    };
    assert_eq!(
        ext(BASIC_CONSTRAINTS),
        (BASIC_CONSTRAINTS.into(), false, vec![0x30, 0x00])
    );
    assert_eq!(
        ext(KEY_USAGE),
        (KEY_USAGE.into(), true, vec![0x03, 0x02, 0x07, 0x80])
    );
    assert_eq!(
        ext(PROFESSION_CODE),
        (PROFESSION_CODE.into(), false, vec![0x02, 0x01, 10])
    );

    for (what, ours, theirs) in [
        ("root", ca.root_der().to_vec(), fixture("root.pem")),
        (
            "intermediate",
            ca.intermediate_der().to_vec(),
            fixture("intermediate.pem"),
        ),
    ] {
        let (_, ours) = parse_x509_certificate(&ours).expect("our CA");
        let (_, theirs) = parse_x509_certificate(&theirs).expect("fixture CA");
        assert_same_shape(what, &ours, &theirs);
    }

    // The CRL: same version, algorithm, issuer shape, extensions, entry fields.
    let revoked = [confrere_testpki::RevokedEntry {
        serial: issued.serial.clone(),
        revoked_at: now,
    }];
    let crl_der = ca
        .crl(&revoked, 2, now, now + Duration::days(30))
        .expect("crl");
    let fixture_crl_der = fixture("crl.pem");
    let (_, crl) = parse_x509_crl(&crl_der).expect("our CRL");
    let (_, fixture_crl) = parse_x509_crl(&fixture_crl_der).expect("fixture CRL");
    assert_eq!(crl.version(), fixture_crl.version());
    assert_eq!(crl.signature_algorithm, fixture_crl.signature_algorithm);
    assert_eq!(
        name_shape(crl.issuer()),
        name_shape(fixture_crl.issuer()),
        "CRL issuer"
    );
    let crl_extensions = |c: &x509_parser::revocation_list::CertificateRevocationList<'_>| {
        c.extensions()
            .iter()
            .map(|e| (e.oid.to_id_string(), e.critical))
            .collect::<Vec<_>>()
    };
    assert_eq!(crl_extensions(&crl), crl_extensions(&fixture_crl));
    assert_eq!(crl.crl_number(), fixture_crl.crl_number());
    assert!(crl.next_update().is_some() && fixture_crl.next_update().is_some());
    let entries: Vec<_> = crl.iter_revoked_certificates().collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].raw_serial(), issued.serial.as_slice());
    assert_eq!(entries[0].revocation_date.timestamp(), now.unix_timestamp());
}

/// The CRL blocks of a PEM file, each with its armour.
fn crl_blocks(text: &str) -> Vec<&str> {
    text.split_inclusive("-----END X509 CRL-----\n")
        .filter(|b| b.contains("-----BEGIN X509 CRL-----"))
        .collect()
}

#[test]
fn openssl_verifies_the_whole_chain_with_both_crls() {
    if !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca = tmp.path().join("ca");
    let card = tmp.path().join("card");
    init_test_ca(&ca, now()).expect("init");
    let req = IssueRequest::new("810001000016", "JEAN", "DUPONT-TESTRSA", 10);
    issue_test(&ca, &req, &card, now()).expect("issue");
    for name in [files::ROOT_CERT, files::CRL] {
        fs::copy(ca.join(name), card.join(name)).expect("copy");
    }
    let verify = |dir: &Path| {
        openssl(
            dir,
            &[
                "verify",
                "-x509_strict",
                "-crl_check_all",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "chain.pem",
                "-CRLfile",
                "crl.pem",
                "cert.pem",
            ],
        )
    };
    // Every certificate of the path, the intermediate too, has a current CRL.
    let (ok, text) = verify(&card);
    assert!(ok && text.contains("cert.pem: OK"), "{text}");

    // Each CRL of crl.pem verifies with the CA that signed it.
    let crls = fs::read_to_string(ca.join(files::CRL)).expect("read crl");
    let blocks = crl_blocks(&crls);
    assert_eq!(blocks.len(), 2, "{crls}");
    for (block, signer) in blocks
        .iter()
        .zip([files::INTERMEDIATE_CERT, files::ROOT_CERT])
    {
        fs::write(ca.join("one.crl.pem"), block).expect("write");
        let (ok, text) = openssl(
            &ca,
            &["crl", "-in", "one.crl.pem", "-CAfile", signer, "-noout"],
        );
        assert!(ok && text.contains("verify OK"), "{signer}: {text}");
    }
    // The root's CRL does not verify with the intermediate.
    let (ok, text) = openssl(
        &ca,
        &[
            "crl",
            "-in",
            "one.crl.pem",
            "-CAfile",
            files::INTERMEDIATE_CERT,
            "-noout",
        ],
    );
    assert!(!ok || !text.contains("verify OK"), "{text}");

    revoke_test(&ca, &card.join(files::CERT), now()).expect("revoke");
    fs::copy(ca.join(files::CRL), card.join(files::CRL)).expect("copy");
    let (ok, text) = verify(&card);
    assert!(!ok && text.contains("certificate revoked"), "{text}");
}

#[test]
fn the_protocol_verifier_accepts_it_until_it_is_revoked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca = tmp.path().join("ca");
    let card = tmp.path().join("card");
    let now = now();
    init_test_ca(&ca, now).expect("init");
    let req = IssueRequest::new("810001000016", "JEAN", "DUPONT-TESTRSA", 10);
    issue_test(&ca, &req, &card, now).expect("issue");

    let read = |path: &Path| fs::read(path).expect("read");
    let one = |path: &Path| {
        let mut certs = parse_certificates(&read(path)).expect("certificate");
        assert_eq!(certs.len(), 1);
        certs.remove(0)
    };
    let leaf = one(&card.join(files::CERT));
    let chain = [one(&card.join(files::CHAIN))];
    let opts = VerifyOptions::authentication(UnixTime::from_secs(now.unix_timestamp()));
    let trust = || {
        let mut trust = TrustStore::new(vec![one(&ca.join(files::ROOT_CERT))]);
        trust
            .set_policies(vec![TEST_POLICY_OID.to_owned()])
            .expect("valid OID");
        let crls = parse_crls(&read(&ca.join(files::CRL))).expect("CRLs");
        assert_eq!(crls.len(), 2);
        for crl in crls {
            trust.add_crl(crl);
        }
        trust
    };
    verify_certificate(&leaf, &chain, &trust(), &opts).expect("valid and not revoked");

    revoke_test(&ca, &card.join(files::CERT), now).expect("revoke");
    let err = verify_certificate(&leaf, &chain, &trust(), &opts).expect_err("revoked");
    assert!(matches!(err, CertError::Revoked { .. }), "{err:?}");
}
