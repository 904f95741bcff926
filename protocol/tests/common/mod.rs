//! Helpers shared by the tests that use the OpenSSL-made fixture corpus in
//! `tests/fixtures/openssl/` (see its MANIFEST.md).

#![allow(
    dead_code,
    reason = "shared by several test files, each of which uses only part of it"
)]

use confrere_protocol::{
    parse_certificates, parse_crls, Certificate, Crl, Purpose, RevocationCheck, TrustStore,
    UnixTime, VerifyOptions,
};

/// The fixture directory, with a trailing slash.
pub(crate) const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openssl/");

/// The instant every fixture case is written for: 2025-06-01T00:00:00Z.
pub(crate) const TEST_INSTANT: &str = "2025-06-01T00:00:00Z";

/// The bytes of a fixture file.
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{FIXTURES}{name}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {path}: {e}"))
}

/// The single certificate in a fixture file (PEM or DER).
pub(crate) fn cert(name: &str) -> Certificate {
    let mut v = parse_certificates(&fixture(name))
        .unwrap_or_else(|e| panic!("fixture {name} does not parse as a certificate: {e}"));
    assert_eq!(v.len(), 1, "fixture {name} holds {} certificates", v.len());
    v.remove(0)
}

/// The single CRL in a fixture file (PEM or DER).
pub(crate) fn crl(name: &str) -> Crl {
    let mut v = parse_crls(&fixture(name))
        .unwrap_or_else(|e| panic!("fixture {name} does not parse as a CRL: {e}"));
    assert_eq!(v.len(), 1, "fixture {name} holds {} CRLs", v.len());
    v.remove(0)
}

/// An RFC 3339 instant.
pub(crate) fn at(s: &str) -> UnixTime {
    UnixTime::parse_rfc3339(s).unwrap_or_else(|| panic!("not an RFC 3339 instant: {s}"))
}

/// The test instant.
pub(crate) fn test_instant() -> UnixTime {
    at(TEST_INSTANT)
}

/// A trust store with these anchors and CRLs.
pub(crate) fn trust_store(anchors: &[&str], crls: &[&str]) -> TrustStore {
    let mut trust = TrustStore::new(anchors.iter().map(|a| cert(a)).collect());
    for c in crls {
        trust.add_crl(crl(c));
    }
    trust
}

/// The standard setup: `root.pem` trusted, the intermediate's and the root's
/// current CRLs known.
pub(crate) fn standard_trust() -> TrustStore {
    trust_store(&["root.pem"], &["crl.pem", "crl-root.pem"])
}

/// Authentication at the test instant with revocation checking.
pub(crate) fn auth_opts() -> VerifyOptions {
    VerifyOptions {
        at: test_instant(),
        revocation: RevocationCheck::Required,
        purpose: Purpose::Authentication,
    }
}

/// The DER contents of the first PEM block labelled `label`.
pub(crate) fn pem_block(pem: &[u8], label: &str) -> Vec<u8> {
    for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let block = block.expect("well-formed PEM");
        if block.label == label {
            return block.contents;
        }
    }
    panic!("no PEM block labelled {label}");
}
