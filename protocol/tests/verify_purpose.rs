//! Key purpose (extendedKeyUsage), certificate policies and revocation dated
//! after the verifier's clock, against the OpenSSL-made fixtures of
//! `tests/fixtures/purpose/` (see its README.md), issued by the intermediate
//! of `tests/fixtures/openssl/`.

mod common;

use common::{auth_opts, cert, standard_trust, test_instant, trust_store};
use confrere_protocol::{
    check_policy_oid, parse_certificates, parse_crls, verify_certificate, CertError, Certificate,
    Crl, Purpose, RevocationCheck, TrustStore, VerifyOptions,
};

const TEST_POLICY: &str = "1.2.250.1.213.1.7.2.1.1.1.1";

fn purpose_fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/purpose/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {path}: {e}"))
}

fn leaf(name: &str) -> Certificate {
    let mut v = parse_certificates(&purpose_fixture(name)).expect("parses");
    assert_eq!(v.len(), 1);
    v.remove(0)
}

fn purpose_crl(name: &str) -> Crl {
    let mut v = parse_crls(&purpose_fixture(name)).expect("parses");
    assert_eq!(v.len(), 1);
    v.remove(0)
}

fn verify(
    name: &str,
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> Result<confrere_protocol::VerifiedCertificate, CertError> {
    verify_certificate(&leaf(name), &[cert("intermediate.pem")], trust, opts)
}

fn with_policies(policies: &[&str]) -> TrustStore {
    let mut trust = standard_trust();
    trust
        .set_policies(policies.iter().map(|p| (*p).to_owned()).collect())
        .expect("valid policy OIDs");
    trust
}

// ----------------------------------------------------------------------------
// Extended key usage

#[test]
fn eku_without_client_auth_is_refused_for_authentication() {
    let c = leaf("eku-email.pem");
    assert_eq!(
        c.extended_key_usage(),
        Some(&["1.3.6.1.5.5.7.3.4".to_owned()][..])
    );
    let err = verify("eku-email.pem", &standard_trust(), &auth_opts()).expect_err("refused");
    let CertError::NotForClientAuth { purposes } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(purposes, "emailProtection");
    let msg = err.to_string();
    assert!(msg.contains("without clientAuth"), "{msg}");
    assert!(err.hint().contains("authentication certificate"), "{msg}");
}

#[test]
fn eku_with_only_any_extended_key_usage_is_refused_for_authentication() {
    let err = verify("eku-any.pem", &standard_trust(), &auth_opts()).expect_err("refused");
    assert!(
        matches!(&err, CertError::NotForClientAuth { purposes } if purposes == "anyExtendedKeyUsage"),
        "{err:?}"
    );
}

#[test]
fn eku_listing_client_auth_is_accepted() {
    verify("eku-client.pem", &standard_trust(), &auth_opts()).expect("accepted");
}

#[test]
fn absent_eku_is_accepted() {
    // good-rsa.pem has no extendedKeyUsage: any purpose.
    assert_eq!(cert("good-rsa.pem").extended_key_usage(), None);
    verify_certificate(
        &cert("good-rsa.pem"),
        &[cert("intermediate.pem")],
        &standard_trust(),
        &auth_opts(),
    )
    .expect("accepted");
}

#[test]
fn eku_is_not_judged_for_any_purpose() {
    // `cert inspect` (Purpose::Any) checks the chain only.
    let opts = VerifyOptions {
        purpose: Purpose::Any,
        ..auth_opts()
    };
    verify("eku-email.pem", &standard_trust(), &opts).expect("chain is good");
}

// ----------------------------------------------------------------------------
// Certificate policies

#[test]
fn any_policy_is_accepted_with_an_empty_list() {
    assert_eq!(leaf("policy-test.pem").policies(), [TEST_POLICY]);
    assert!(standard_trust().policies().is_empty());
    verify("policy-test.pem", &standard_trust(), &auth_opts()).expect("accepted");
}

#[test]
fn listed_policy_is_accepted() {
    let trust = with_policies(&["1.2.250.1.213.1.7.2.999.1", TEST_POLICY]);
    verify("policy-test.pem", &trust, &auth_opts()).expect("accepted");
}

#[test]
fn unlisted_policy_is_refused() {
    let trust = with_policies(&["1.2.250.1.213.1.7.2.999.1"]);
    let err = verify("policy-test.pem", &trust, &auth_opts()).expect_err("refused");
    let CertError::PolicyNotAccepted { carried, accepted } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(carried, TEST_POLICY);
    assert_eq!(accepted, "1.2.250.1.213.1.7.2.999.1");
    assert!(err.hint().contains("policies"), "{}", err.hint());
}

#[test]
fn no_policy_is_refused_when_a_list_is_configured() {
    let trust = with_policies(&[TEST_POLICY]);
    let err = verify_certificate(
        &cert("good-rsa.pem"),
        &[cert("intermediate.pem")],
        &trust,
        &auth_opts(),
    )
    .expect_err("refused");
    assert!(
        matches!(&err, CertError::PolicyNotAccepted { carried, .. } if carried == "none"),
        "{err:?}"
    );
}

#[test]
fn policy_list_holds_oids_only() {
    for bad in [
        "",
        "1",
        "1..2",
        "1.2.x",
        "IGC-Santé",
        "01.2",
        "3.1",
        "1.2.250.1.213.1.7.2.1.1.1.1 ",
    ] {
        let err = check_policy_oid(bad).expect_err(bad);
        assert!(err.to_string().contains("dotted decimal"), "{err}");
        let mut trust = TrustStore::default();
        assert!(trust.set_policies(vec![bad.to_owned()]).is_err(), "{bad:?}");
        assert!(trust.policies().is_empty());
    }
    check_policy_oid(TEST_POLICY).expect("the TEST policy");
    check_policy_oid("2.5.29.32.0").expect("anyPolicy");
}

// ----------------------------------------------------------------------------
// Revocation dated after the verifier's clock

fn late_revocation_trust() -> TrustStore {
    let mut trust = trust_store(&["root.pem"], &["crl-root.pem"]);
    trust.add_crl(purpose_crl("crl-revoked-later.pem"));
    trust
}

#[test]
fn revocation_dated_after_the_clock_still_revokes() {
    // The CRL is current at the test instant (2025-06-01) and lists the
    // serial as revoked on 2025-06-15.
    let err =
        verify("revoked-later.pem", &late_revocation_trust(), &auth_opts()).expect_err("revoked");
    let CertError::Revoked { revoked_at, .. } = err else {
        panic!("{err:?}")
    };
    assert!(revoked_at > test_instant());
}

#[test]
fn late_revocation_control() {
    // Control: with the check off, or for another certificate, it verifies.
    let off = VerifyOptions {
        revocation: RevocationCheck::Off,
        ..auth_opts()
    };
    verify("revoked-later.pem", &late_revocation_trust(), &off).expect("accepted");
    verify("eku-client.pem", &late_revocation_trust(), &auth_opts()).expect("accepted");
}

// ----------------------------------------------------------------------------
// Malformed extensions

#[test]
fn malformed_eku_and_policies_are_refused_when_parsed() {
    for (name, what) in [
        ("eku-malformed.pem", "bad extendedKeyUsage extension"),
        ("policy-malformed.pem", "bad certificatePolicies extension"),
    ] {
        let err = parse_certificates(&purpose_fixture(name)).expect_err(name);
        assert!(
            matches!(&err, CertError::Malformed(m) if m == what),
            "{name}: {err:?}"
        );
    }
}
