//! CRL updates refused for what the CRL is, on OpenSSL-made material
//! (tests/fixtures/make-crl-refusal-fixtures.sh): a CRL signed by a CA whose
//! key usage does not allow it, and a delta CRL (a critical extension that
//! is not understood). Either would otherwise be taken as the CA's newest
//! CRL; neither may change what a node holds.

use confrere_protocol::crl::{check_crl_update, CrlUpdateError};
use confrere_protocol::{parse_certificates, parse_crls, Crl, TrustStore};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/openssl/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn crl(name: &str) -> Crl {
    parse_crls(&fixture(name)).expect("crl").remove(0)
}

/// The root, the usual intermediate and the CA without cRLSign, with the
/// intermediate's current CRL held.
fn trust() -> TrustStore {
    let mut t = TrustStore::new(parse_certificates(&fixture("root.pem")).expect("root"));
    for name in ["intermediate.pem", "no-crlsign-ca.pem"] {
        for c in parse_certificates(&fixture(name)).expect("intermediate") {
            t.add_intermediate(c);
        }
    }
    t.add_crl(crl("crl-stale.pem"));
    t
}

#[test]
fn a_crl_signed_by_a_ca_without_crl_sign_is_refused() {
    let offered = crl("crl-no-crlsign.pem");
    let err = check_crl_update(&trust(), &offered).expect_err("cRLSign missing");
    match &err {
        CrlUpdateError::IssuerCannotSignCrls { issuer } => {
            assert!(issuer.contains("TEST AC SANS CRLSIGN"), "{issuer}");
        }
        other => panic!("expected IssuerCannotSignCrls, got {other:?}"),
    }
    assert!(err.to_string().contains("cRLSign"), "{err}");
    assert!(!err.hint().is_empty());
}

#[test]
fn a_delta_crl_is_refused_for_its_critical_extension() {
    // Newer than the held crl-stale.pem and genuinely signed by the
    // intermediate: only its deltaCRLIndicator refuses it.
    let offered = crl("crl-delta.pem");
    let err = check_crl_update(&trust(), &offered).expect_err("delta CRL");
    match &err {
        CrlUpdateError::Unsupported { oid, .. } => assert_eq!(oid, "2.5.29.27"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    assert!(err.to_string().contains("not understood"), "{err}");
}

#[test]
fn the_refusals_do_not_come_from_the_signature() {
    // The same trust material takes the intermediate's ordinary newer CRL,
    // so the two refusals above are about the CRLs themselves.
    let trust = trust();
    let update = check_crl_update(&trust, &crl("crl.pem")).expect("crl.pem is newer");
    assert!(update.replaces.is_some());
}
