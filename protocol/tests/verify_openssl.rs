//! The certificate verifier against certificates made by OpenSSL alone
//! (`tests/fixtures/openssl/`, see its MANIFEST.md): every case the manifest
//! lists, each in its own test, asserting the exact rejection.
//!
//! Unless a case says otherwise, the setup is the manifest's: anchor
//! `root.pem`, presented chain `intermediate.pem`, CRLs `crl.pem` and
//! `crl-root.pem` (revocation is checked for every certificate below the
//! anchor, so the root's CRL is needed for the intermediate), revocation
//! required, purpose authentication, at 2025-06-01T00:00:00Z.

mod common;

use common::{at, auth_opts, cert, fixture, pem_block, test_instant, trust_store};
use confrere_protocol::identity::NationalIdError;
use confrere_protocol::{
    parse_certificates, parse_crls, verify_certificate, CertError, IdType, Pkcs8Signer, Purpose,
    RevocationCheck, UnixTime, VerifiedCertificate, VerifyOptions,
};

/// One verification setup, by fixture file names.
#[derive(Clone, Debug)]
struct Case {
    leaf: &'static str,
    chain: Vec<&'static str>,
    anchors: Vec<&'static str>,
    crls: Vec<&'static str>,
    revocation: RevocationCheck,
    purpose: Purpose,
    at: UnixTime,
}

impl Case {
    /// The manifest's default setup for `leaf`.
    fn new(leaf: &'static str) -> Self {
        Case {
            leaf,
            chain: vec!["intermediate.pem"],
            anchors: vec!["root.pem"],
            crls: vec!["crl.pem", "crl-root.pem"],
            revocation: RevocationCheck::Required,
            purpose: Purpose::Authentication,
            at: test_instant(),
        }
    }

    fn chain(mut self, chain: &[&'static str]) -> Self {
        self.chain = chain.to_vec();
        self
    }

    fn anchors(mut self, anchors: &[&'static str]) -> Self {
        self.anchors = anchors.to_vec();
        self
    }

    fn crls(mut self, crls: &[&'static str]) -> Self {
        self.crls = crls.to_vec();
        self
    }

    fn revocation(mut self, revocation: RevocationCheck) -> Self {
        self.revocation = revocation;
        self
    }

    fn purpose(mut self, purpose: Purpose) -> Self {
        self.purpose = purpose;
        self
    }

    fn at(mut self, instant: &str) -> Self {
        self.at = at(instant);
        self
    }

    fn run(&self) -> Result<VerifiedCertificate, CertError> {
        let leaf = cert(self.leaf);
        let chain: Vec<_> = self.chain.iter().map(|c| cert(c)).collect();
        let trust = trust_store(&self.anchors, &self.crls);
        let opts = VerifyOptions {
            at: self.at,
            revocation: self.revocation,
            purpose: self.purpose,
        };
        verify_certificate(&leaf, &chain, &trust, &opts)
    }

    fn accepted(&self) -> VerifiedCertificate {
        self.run()
            .unwrap_or_else(|e| panic!("{self:?} was refused: {e} ({e:?})"))
    }

    fn rejected(&self) -> CertError {
        match self.run() {
            Ok(v) => panic!("{self:?} was accepted: {:?}", v.identity()),
            Err(e) => e,
        }
    }
}

/// Every rejection case of the corpus, by name. Each has its own test below;
/// the table also feeds the message and hint checks.
fn rejection_cases() -> Vec<(&'static str, Case)> {
    vec![
        ("expired", Case::new("expired.pem")),
        ("not-yet-valid", Case::new("not-yet-valid.pem")),
        (
            "intermediate-expired",
            Case::new("good-rsa.pem").chain(&["intermediate-expired.pem"]),
        ),
        ("impostor-leaf", Case::new("impostor-leaf.pem")),
        (
            "impostor-leaf-with-impostor-intermediate",
            Case::new("impostor-leaf.pem").chain(&["impostor-intermediate.pem"]),
        ),
        (
            "impostor-leaf-with-both-intermediates",
            Case::new("impostor-leaf.pem")
                .chain(&["intermediate.pem", "impostor-intermediate.pem"]),
        ),
        ("self-signed-leaf", Case::new("self-signed-leaf.pem")),
        (
            "self-signed-leaf-as-anchor",
            Case::new("self-signed-leaf.pem").anchors(&["root.pem", "self-signed-leaf.pem"]),
        ),
        (
            "issued-by-leaf",
            Case::new("issued-by-leaf.pem").chain(&["intermediate.pem", "good-rsa.pem"]),
        ),
        (
            "issued-by-leaf-without-its-issuer",
            Case::new("issued-by-leaf.pem"),
        ),
        ("leaf-is-ca", Case::new("leaf-is-ca.pem")),
        (
            "under-sub-ca",
            Case::new("under-sub-ca.pem").chain(&["intermediate.pem", "sub-ca.pem"]),
        ),
        ("revoked", Case::new("revoked.pem")),
        (
            "crl-stale",
            Case::new("good-rsa.pem").crls(&["crl-stale.pem", "crl-root.pem"]),
        ),
        (
            "crl-forged",
            Case::new("good-rsa.pem").crls(&["crl-forged.pem", "crl-root.pem"]),
        ),
        (
            "revoked-with-crl-forged",
            Case::new("revoked.pem").crls(&["crl-forged.pem", "crl-root.pem"]),
        ),
        ("crl-missing", Case::new("good-rsa.pem").crls(&[])),
        (
            "root-crl-missing",
            Case::new("good-rsa.pem").crls(&["crl.pem"]),
        ),
        ("signature-only", Case::new("signature-only.pem")),
        ("rsa1024", Case::new("rsa1024.pem")),
        ("sha1", Case::new("sha1.pem")),
        ("tampered-signature", Case::new("tampered-signature.pem")),
        ("no-national-id", Case::new("no-national-id.pem")),
        ("bad-luhn", Case::new("bad-luhn.pem")),
        ("empty-trust-store", Case::new("good-rsa.pem").anchors(&[])),
        (
            "impostor-root-as-only-anchor",
            Case::new("good-rsa.pem").anchors(&["impostor-root.pem"]),
        ),
        ("no-chain", Case::new("good-rsa.pem").chain(&[])),
        (
            "expired-after-not-after",
            Case::new("good-rsa.pem")
                .revocation(RevocationCheck::Off)
                .at("2030-01-01T00:00:01Z"),
        ),
        (
            "not-yet-valid-before-not-before",
            Case::new("good-rsa.pem")
                .revocation(RevocationCheck::Off)
                .at("2023-12-31T23:59:59Z"),
        ),
    ]
}

/// The rejection of the named case of [`rejection_cases`].
fn rejection(name: &str) -> CertError {
    let (_, case) = rejection_cases()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no case named {name}"));
    case.rejected()
}

/// Asserts that the named case is rejected with an error matching the pattern.
macro_rules! assert_rejection {
    ($name:expr, $pattern:pat) => {{
        let err = rejection($name);
        assert!(
            matches!(err, $pattern),
            "case {}: expected {}, got {err:?} ({err})",
            $name,
            stringify!($pattern)
        );
        err
    }};
}

// ----------------------------------------------------------------------------
// Accepted certificates

struct Expected {
    national_id: &'static str,
    id_type: IdType,
    given_name: &'static str,
    surname: &'static str,
    profession_code: u32,
    profession: &'static str,
}

fn assert_identity(v: &VerifiedCertificate, want: &Expected) {
    let id = v.identity();
    assert_eq!(id.national_id.as_str(), want.national_id);
    assert_eq!(id.national_id.id_type(), want.id_type);
    assert_eq!(id.given_name, want.given_name);
    assert_eq!(id.surname, want.surname);
    assert_eq!(id.profession_code, Some(want.profession_code));
    assert_eq!(id.profession.as_deref(), Some(want.profession));
    // The path: the intermediate, then the anchor.
    let issuers: Vec<_> = v.issuers().iter().map(|c| c.der().to_vec()).collect();
    assert_eq!(
        issuers,
        vec![
            cert("intermediate.pem").der().to_vec(),
            cert("root.pem").der().to_vec()
        ]
    );
    assert_eq!(v.verified_at(), test_instant());
}

const GOOD_RSA: Expected = Expected {
    national_id: "810001000016",
    id_type: IdType::Rpps,
    given_name: "JEAN",
    surname: "DUPONT-TESTRSA",
    profession_code: 10,
    profession: "Médecin",
};

#[test]
fn good_rsa_pem_is_accepted_with_its_identity() {
    let v = Case::new("good-rsa.pem").accepted();
    assert_identity(&v, &GOOD_RSA);
    assert_eq!(v.certificate().der(), cert("good-rsa.der").der());
    assert_eq!(v.certificate().title(), Some("Médecin"));
    assert_eq!(v.identity().display_name(), "JEAN DUPONT-TESTRSA");
}

#[test]
fn good_rsa_der_is_accepted_with_the_der_crl() {
    let v = Case::new("good-rsa.der")
        .crls(&["crl.der", "crl-root.pem"])
        .accepted();
    assert_identity(&v, &GOOD_RSA);
    // The DER and PEM forms are the same certificate and the same CRL.
    assert_eq!(cert("good-rsa.der").der(), cert("good-rsa.pem").der());
    let der_crl = parse_crls(&fixture("crl.der")).expect("crl.der");
    let pem_crl = parse_crls(&fixture("crl.pem")).expect("crl.pem");
    assert_eq!(der_crl[0].der(), pem_crl[0].der());
    assert_eq!(der_crl[0].revoked_count(), 1);
}

#[test]
fn good_ecdsa_is_accepted() {
    let v = Case::new("good-ecdsa.pem").accepted();
    assert_identity(
        &v,
        &Expected {
            national_id: "810001000024",
            id_type: IdType::Rpps,
            given_name: "MARIE",
            surname: "MARTIN-TESTECDSA",
            profession_code: 10,
            profession: "Médecin",
        },
    );
}

#[test]
fn other_good_rsa_is_accepted() {
    let v = Case::new("other-good-rsa.pem").accepted();
    assert_identity(
        &v,
        &Expected {
            national_id: "810001000032",
            id_type: IdType::Rpps,
            given_name: "PAUL",
            surname: "BERNARD-TESTRSA",
            profession_code: 21,
            profession: "Pharmacien",
        },
    );
}

#[test]
fn good_rsa3072_sha384_is_accepted() {
    let v = Case::new("good-rsa3072-sha384.pem").accepted();
    assert_identity(
        &v,
        &Expected {
            national_id: "810001000040",
            id_type: IdType::Rpps,
            given_name: "LUCIE",
            surname: "PETIT-TEST3072",
            profession_code: 40,
            profession: "Chirurgien-Dentiste",
        },
    );
}

#[test]
fn adeli_is_accepted_as_an_adeli_id() {
    let v = Case::new("adeli.pem").accepted();
    assert_identity(
        &v,
        &Expected {
            national_id: "0759912345",
            id_type: IdType::Adeli,
            given_name: "SOPHIE",
            surname: "CAS-TEST-ADELI",
            profession_code: 60,
            profession: "Infirmier",
        },
    );
    assert_eq!(v.identity().national_id.number(), "759912345");
}

#[test]
fn validity_bounds_are_inclusive() {
    // good-rsa is valid 2024-01-01T00:00:00Z → 2030-01-01T00:00:00Z; both
    // instants are inside (RFC 5280 §4.1.2.5). No CRL is current then.
    for instant in ["2024-01-01T00:00:00Z", "2030-01-01T00:00:00Z"] {
        Case::new("good-rsa.pem")
            .revocation(RevocationCheck::Off)
            .at(instant)
            .accepted();
    }
}

#[test]
fn a_fresh_crl_beside_a_stale_one_is_used() {
    // The newest CRL of the issuer decides; the stale one is ignored.
    Case::new("good-rsa.pem")
        .crls(&["crl-stale.pem", "crl.pem", "crl-root.pem"])
        .accepted();
    Case::new("good-rsa.pem")
        .crls(&["crl.pem", "crl-stale.pem", "crl-root.pem"])
        .accepted();
}

#[test]
fn a_known_intermediate_in_the_store_replaces_the_presented_chain() {
    let leaf = cert("good-rsa.pem");
    let mut trust = trust_store(&["root.pem"], &["crl.pem", "crl-root.pem"]);
    trust.add_intermediate(cert("intermediate.pem"));
    let v = verify_certificate(&leaf, &[], &trust, &auth_opts()).expect("accepted");
    assert_identity(&v, &GOOD_RSA);
}

// ----------------------------------------------------------------------------
// Validity

#[test]
fn expired_is_rejected() {
    let err = assert_rejection!("expired", CertError::Expired { .. });
    assert_eq!(
        err,
        CertError::Expired {
            not_after: at("2024-12-31T00:00:00Z")
        },
        "{err}"
    );
}

#[test]
fn not_yet_valid_is_rejected() {
    let err = assert_rejection!("not-yet-valid", CertError::NotYetValid { .. });
    assert_eq!(
        err,
        CertError::NotYetValid {
            not_before: at("2026-01-01T00:00:00Z")
        },
        "{err}"
    );
}

#[test]
fn one_second_after_not_after_is_expired() {
    assert_rejection!("expired-after-not-after", CertError::Expired { .. });
}

#[test]
fn one_second_before_not_before_is_not_yet_valid() {
    assert_rejection!(
        "not-yet-valid-before-not-before",
        CertError::NotYetValid { .. }
    );
}

#[test]
fn expired_intermediate_is_rejected() {
    let err = assert_rejection!("intermediate-expired", CertError::CaOutsideValidity { .. });
    let CertError::CaOutsideValidity { subject } = err else {
        unreachable!()
    };
    assert!(subject.contains("TEST AC OPENSSL PERSONNES"), "{subject}");
}

// ----------------------------------------------------------------------------
// Path building

#[test]
fn impostor_leaf_is_rejected_as_unknown_issuer() {
    assert_rejection!("impostor-leaf", CertError::UnknownIssuer { .. });
}

#[test]
fn impostor_leaf_with_impostor_intermediate_is_rejected() {
    // The impostor intermediate carries the good root's name as issuer but
    // its AKI names the impostor root's key, so it is skipped as a candidate
    // issuer: no path (UnknownIssuer). A verifier matching names only would
    // reach the signature check and report BadSignature instead.
    assert_rejection!(
        "impostor-leaf-with-impostor-intermediate",
        CertError::UnknownIssuer { .. }
    );
}

#[test]
fn impostor_leaf_with_both_intermediates_is_rejected() {
    assert_rejection!(
        "impostor-leaf-with-both-intermediates",
        CertError::UnknownIssuer { .. } | CertError::BadSignature { .. }
    );
}

#[test]
fn impostor_hierarchy_is_accepted_under_its_own_root() {
    // Control: the impostor material is well formed; only the anchor differs.
    let v = Case::new("impostor-leaf.pem")
        .anchors(&["impostor-root.pem"])
        .chain(&["impostor-intermediate.pem"])
        .crls(&[])
        .revocation(RevocationCheck::Off)
        .accepted();
    assert_eq!(v.identity().national_id.as_str(), "810001000016");
    assert_eq!(
        v.issuers().last().map(|c| c.der().to_vec()),
        Some(cert("impostor-root.pem").der().to_vec())
    );
}

#[test]
fn good_rsa_under_the_impostor_root_is_rejected() {
    assert_rejection!(
        "impostor-root-as-only-anchor",
        CertError::UnknownIssuer { .. }
    );
}

#[test]
fn self_signed_leaf_is_rejected() {
    assert_rejection!("self-signed-leaf", CertError::SelfSignedLeaf);
}

#[test]
fn self_signed_leaf_is_rejected_even_as_an_anchor() {
    assert_rejection!("self-signed-leaf-as-anchor", CertError::SelfSignedLeaf);
}

#[test]
fn issued_by_leaf_is_rejected_as_issuer_not_ca() {
    assert_rejection!("issued-by-leaf", CertError::IssuerNotCa { .. });
}

#[test]
fn issued_by_leaf_without_its_issuer_is_rejected_as_unknown_issuer() {
    assert_rejection!(
        "issued-by-leaf-without-its-issuer",
        CertError::UnknownIssuer { .. }
    );
}

#[test]
fn leaf_is_ca_is_rejected() {
    assert_rejection!("leaf-is-ca", CertError::LeafIsCa);
}

#[test]
fn leaf_under_a_sub_ca_is_rejected_as_path_too_long() {
    let err = assert_rejection!("under-sub-ca", CertError::PathTooLong { .. });
    let CertError::PathTooLong { ca } = err else {
        unreachable!()
    };
    assert!(ca.contains("TEST AC OPENSSL PERSONNES"), "{ca}");
}

#[test]
fn no_chain_is_rejected_as_unknown_issuer() {
    assert_rejection!("no-chain", CertError::UnknownIssuer { .. });
}

#[test]
fn empty_trust_store_is_rejected_as_unknown_issuer() {
    assert_rejection!("empty-trust-store", CertError::UnknownIssuer { .. });
}

// ----------------------------------------------------------------------------
// Revocation

#[test]
fn revoked_is_rejected() {
    let err = assert_rejection!("revoked", CertError::Revoked { .. });
    let CertError::Revoked { revoked_at, .. } = err else {
        unreachable!()
    };
    assert_eq!(revoked_at, at("2025-04-01T00:00:00Z"));
}

#[test]
fn revoked_is_accepted_without_revocation_check() {
    // Control: revocation is the only thing wrong with revoked.pem.
    Case::new("revoked.pem")
        .revocation(RevocationCheck::Off)
        .accepted();
}

#[test]
fn revoked_is_rejected_even_before_its_revocation_date() {
    // crl.pem (lastUpdate 2025-05-01) says it was revoked on 2025-04-01; read
    // "as of" 2025-03-31 (a clock behind the CA's, the CRL still current) the
    // serial is listed all the same: it is revoked, whatever the date.
    let err = Case::new("revoked.pem")
        .at("2025-03-31T00:00:00Z")
        .rejected();
    assert!(matches!(err, CertError::Revoked { .. }), "{err:?}");
}

#[test]
fn stale_crl_is_rejected() {
    let err = assert_rejection!("crl-stale", CertError::CrlStale { .. });
    let CertError::CrlStale { next_update, .. } = err else {
        unreachable!()
    };
    assert_eq!(next_update, at("2025-05-15T00:00:00Z"));
}

#[test]
fn forged_crl_is_rejected() {
    assert_rejection!("crl-forged", CertError::CrlBadSignature { .. });
}

#[test]
fn revoked_with_only_a_forged_crl_is_rejected() {
    assert_rejection!("revoked-with-crl-forged", CertError::CrlBadSignature { .. });
}

#[test]
fn a_forged_empty_crl_beside_the_real_one_does_not_unrevoke() {
    let err = Case::new("revoked.pem")
        .crls(&["crl-forged.pem", "crl.pem", "crl-root.pem"])
        .rejected();
    assert!(matches!(err, CertError::Revoked { .. }), "{err:?}");
    let err = Case::new("revoked.pem")
        .crls(&["crl.pem", "crl-forged.pem", "crl-root.pem"])
        .rejected();
    assert!(matches!(err, CertError::Revoked { .. }), "{err:?}");
}

#[test]
fn a_forged_crl_beside_the_real_one_is_ignored() {
    Case::new("good-rsa.pem")
        .crls(&["crl-forged.pem", "crl.pem", "crl-root.pem"])
        .accepted();
}

#[test]
fn missing_crl_is_rejected() {
    let err = assert_rejection!("crl-missing", CertError::CrlMissing { .. });
    let CertError::CrlMissing { issuer } = err else {
        unreachable!()
    };
    assert!(issuer.contains("TEST AC OPENSSL PERSONNES"), "{issuer}");
}

#[test]
fn missing_root_crl_is_rejected() {
    // The intermediate's revocation status needs the root's CRL.
    let err = assert_rejection!("root-crl-missing", CertError::CrlMissing { .. });
    let CertError::CrlMissing { issuer } = err else {
        unreachable!()
    };
    assert!(issuer.contains("TEST AC RACINE OPENSSL"), "{issuer}");
}

#[test]
fn missing_crl_is_accepted_without_revocation_check() {
    let v = Case::new("good-rsa.pem")
        .crls(&[])
        .revocation(RevocationCheck::Off)
        .accepted();
    assert_identity(&v, &GOOD_RSA);
}

// ----------------------------------------------------------------------------
// Key usage, keys and algorithms

#[test]
fn signature_only_is_rejected_for_authentication() {
    let err = assert_rejection!("signature-only", CertError::NotForAuthentication { .. });
    let CertError::NotForAuthentication { usage } = err else {
        unreachable!()
    };
    assert_eq!(usage, "nonRepudiation");
}

#[test]
fn signature_only_is_accepted_for_any_purpose() {
    let v = Case::new("signature-only.pem")
        .purpose(Purpose::Any)
        .accepted();
    assert_eq!(v.identity().national_id.as_str(), "810001000107");
}

#[test]
fn rsa1024_is_rejected() {
    let err = assert_rejection!("rsa1024", CertError::RsaKeyTooSmall { .. });
    let CertError::RsaKeyTooSmall { bits, .. } = err else {
        unreachable!()
    };
    assert_eq!(bits, 1024);
}

#[test]
fn sha1_is_rejected() {
    assert_rejection!("sha1", CertError::WeakSignatureAlgorithm { .. });
}

#[test]
fn tampered_signature_is_rejected() {
    assert_rejection!("tampered-signature", CertError::BadSignature { .. });
}

// ----------------------------------------------------------------------------
// National id

#[test]
fn no_national_id_is_rejected() {
    assert_rejection!("no-national-id", CertError::NoNationalId);
}

#[test]
fn bad_luhn_is_rejected() {
    assert_rejection!(
        "bad-luhn",
        CertError::InvalidNationalId(NationalIdError::RppsCheckDigit)
    );
}

// ----------------------------------------------------------------------------
// Unreadable input

fn malformed(input: &[u8]) -> CertError {
    match parse_certificates(input) {
        Ok(v) => panic!(
            "parsed {} certificates out of non-certificate input",
            v.len()
        ),
        Err(e) => e,
    }
}

#[test]
fn garbage_is_malformed() {
    let err = malformed(b"this is not a certificate\n\x00\x01\x02");
    assert!(matches!(err, CertError::Malformed(_)), "{err:?}");
    // DER-looking garbage: a SEQUENCE header with nothing sensible inside.
    let err = malformed(&[0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x00]);
    assert!(matches!(err, CertError::Malformed(_)), "{err:?}");
    // A PEM block with a certificate label and no certificate in it.
    let err = malformed(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    assert!(matches!(err, CertError::Malformed(_)), "{err:?}");
}

#[test]
fn key_file_given_as_certificate_is_malformed() {
    let key_pem = fixture("good-rsa.key.pem");
    let err = malformed(&key_pem);
    assert!(matches!(err, CertError::Malformed(_)), "{err:?}");
    // The same key in DER.
    let err = malformed(&pem_block(&key_pem, "PRIVATE KEY"));
    assert!(matches!(err, CertError::Malformed(_)), "{err:?}");
    // A CRL is not a certificate either, and a certificate is not a CRL.
    let err = malformed(&fixture("crl.pem"));
    assert!(matches!(err, CertError::Malformed(_)), "{err:?}");
    let err = parse_crls(&fixture("good-rsa.pem")).expect_err("a certificate is not a CRL");
    assert!(matches!(err, CertError::Malformed(_)), "{err:?}");
}

#[test]
fn empty_input_is_malformed() {
    for input in [&b""[..], b"   \n\t", b"\n"] {
        let err = malformed(input);
        assert!(matches!(err, CertError::Malformed(_)), "{err:?}");
    }
}

#[test]
fn a_truncated_certificate_is_malformed() {
    let der = fixture("good-rsa.der");
    for len in [1, 4, 100, der.len() / 2, der.len() - 1] {
        let err = malformed(&der[..len]);
        assert!(matches!(err, CertError::Malformed(_)), "len {len}: {err:?}");
    }
}

// ----------------------------------------------------------------------------
// Messages

/// Every error this suite provokes.
fn all_errors() -> Vec<(String, CertError)> {
    let mut v: Vec<(String, CertError)> = rejection_cases()
        .into_iter()
        .map(|(name, case)| (name.to_owned(), case.rejected()))
        .collect();
    v.push(("garbage".into(), malformed(b"garbage")));
    v.push(("key".into(), malformed(&fixture("good-rsa.key.pem"))));
    v.push((
        "key-der".into(),
        malformed(&pem_block(&fixture("good-rsa.key.pem"), "PRIVATE KEY")),
    ));
    v.push(("empty".into(), malformed(b"")));
    v
}

#[test]
fn every_error_has_a_message_and_a_hint() {
    for (name, err) in all_errors() {
        let msg = err.to_string();
        assert!(!msg.trim().is_empty(), "{name}: empty message for {err:?}");
        assert!(
            !err.hint().trim().is_empty(),
            "{name}: empty hint for {err:?}"
        );
        assert_ne!(msg, err.hint(), "{name}: the hint repeats the message");
    }
}

/// Every 8-byte window of `secret`, in the forms a message could show it in.
fn secret_windows(secret: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for w in secret.windows(8) {
        out.push(w.iter().map(|b| format!("{b:02x}")).collect());
        out.push(w.iter().map(|b| format!("{b:02X}")).collect());
        out.push(
            w.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
        );
        out.push(
            w.iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    out
}

/// Fails if `text` shows any 8-byte window of `secret`, or 16 characters of
/// its PEM's base64.
fn assert_no_key_material(what: &str, text: &str, secret_der: &[u8], secret_pem: &[u8]) {
    for w in secret_windows(secret_der) {
        assert!(!text.contains(&w), "{what} shows key bytes {w}: {text}");
    }
    let pem = String::from_utf8_lossy(secret_pem);
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        let chars: Vec<char> = line.chars().collect();
        for w in chars.windows(16) {
            let w: String = w.iter().collect();
            assert!(!text.contains(&w), "{what} shows key base64 {w}: {text}");
        }
    }
}

#[test]
fn no_message_shows_private_key_material() {
    for (key, cert_name) in [
        ("good-rsa.key.pem", "good-rsa.pem"),
        ("good-ecdsa.key.pem", "good-ecdsa.pem"),
    ] {
        let pem = fixture(key);
        let der = pem_block(&pem, "PRIVATE KEY");
        assert!(der.len() > 100, "{key}: {} bytes", der.len());

        let signer = Pkcs8Signer::from_pem_or_der(&pem, &cert(cert_name)).expect("key loads");
        assert_no_key_material("Pkcs8Signer Debug", &format!("{signer:?}"), &der, &pem);
        assert_no_key_material("Pkcs8Signer Debug", &format!("{signer:#?}"), &der, &pem);

        // The key loaded with another card's certificate: the error says so
        // without the key.
        let err = Pkcs8Signer::from_pem_or_der(&pem, &cert("other-good-rsa.pem"))
            .expect_err("another card's certificate");
        assert_no_key_material("SignerError", &format!("{err} {err:?}"), &der, &pem);

        // The key given where a certificate is expected.
        for input in [&pem[..], &der[..]] {
            let err = malformed(input);
            assert_no_key_material("CertError", &format!("{err} {err:?}"), &der, &pem);
        }
    }
    for (name, err) in all_errors() {
        let text = format!("{err} {err:?} {}", err.hint());
        let pem = fixture("good-rsa.key.pem");
        assert_no_key_material(&name, &text, &pem_block(&pem, "PRIVATE KEY"), &pem);
    }
}

#[test]
fn verify_options_default_is_the_strict_one() {
    let opts = VerifyOptions::authentication(test_instant());
    assert_eq!(opts, auth_opts());
    assert_eq!(RevocationCheck::default(), RevocationCheck::Required);
    assert_eq!(Purpose::default(), Purpose::Authentication);
}
