//! The real IGC-Santé TEST certificates in `../shared/testdata/ans-test-certs/`:
//! certificates nobody on the project made.

use std::path::PathBuf;

use confrere_protocol::{
    parse_certificates, verify_certificate, CertError, IdType, Purpose, RevocationCheck,
    TrustStore, UnixTime, VerifyOptions,
};

fn testdata(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testdata/ans-test-certs")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

fn one(name: &str) -> confrere_protocol::Certificate {
    let mut v = parse_certificates(&testdata(name)).expect("parses");
    assert_eq!(v.len(), 1);
    v.remove(0)
}

fn at(s: &str) -> UnixTime {
    UnixTime::parse_rfc3339(s).expect("rfc3339")
}

fn opts(t: UnixTime) -> VerifyOptions {
    VerifyOptions {
        at: t,
        revocation: RevocationCheck::Off,
        purpose: Purpose::Any,
    }
}

#[test]
fn sage_femme_identity_reads_every_attribute_of_the_multi_valued_rdn() {
    let c = one("sage-femme-elementaire.pem");
    let id = c.practitioner().expect("identity");
    assert_eq!(id.national_id.as_str(), "899700075064");
    assert_eq!(id.national_id.id_type(), IdType::Rpps);
    assert_eq!(id.given_name, "CECILE");
    assert_eq!(id.surname, "SAGECH0007506");
    assert_eq!(id.profession_code, Some(50));
    assert_eq!(id.profession.as_deref(), Some("Sage-Femme"));
    assert_eq!(c.title(), Some("Sage-Femme"));
    assert!(c.key_usage().non_repudiation);
    assert!(!c.key_usage().digital_signature);
    assert_eq!(c.not_after().to_rfc3339(), "2022-07-14T13:43:43Z");
    assert!(c
        .issuer()
        .contains("TEST AC IGC-SANTE ELEMENTAIRE PERSONNES"));
}

#[test]
fn sage_femme_chain_verifies_in_2021_and_is_expired_now() {
    let leaf = one("sage-femme-elementaire.pem");
    let inter = one("test-ac-igc-sante-elementaire-personnes.pem");
    let root = one("test-ac-racine-igc-sante-elementaire.pem");
    let trust = TrustStore::new(vec![root]);
    let chain = [inter];
    let ok = verify_certificate(&leaf, &chain, &trust, &opts(at("2021-01-01T00:00:00Z")))
        .expect("valid in 2021");
    assert_eq!(ok.identity().national_id.as_str(), "899700075064");
    assert_eq!(ok.issuers().len(), 2);

    let err = verify_certificate(&leaf, &chain, &trust, &opts(at("2026-11-23T00:00:00Z")))
        .expect_err("expired now");
    assert!(matches!(err, CertError::Expired { .. }), "{err:?}");

    // Without the intermediate there is no path.
    let err = verify_certificate(&leaf, &[], &trust, &opts(at("2021-01-01T00:00:00Z")))
        .expect_err("no path");
    assert!(matches!(err, CertError::UnknownIssuer { .. }), "{err:?}");

    // It is a signature certificate: not for authenticating a node.
    let mut auth = opts(at("2021-01-01T00:00:00Z"));
    auth.purpose = Purpose::Authentication;
    let err = verify_certificate(&leaf, &chain, &trust, &auth).expect_err("nonRepudiation only");
    assert!(
        matches!(err, CertError::NotForAuthentication { .. }),
        "{err:?}"
    );

    // Revocation checking is on by default and no CRL is configured.
    let mut strict = opts(at("2021-01-01T00:00:00Z"));
    strict.revocation = RevocationCheck::Required;
    let err = verify_certificate(&leaf, &chain, &trust, &strict).expect_err("no CRL");
    assert!(matches!(err, CertError::CrlMissing { .. }), "{err:?}");
}

#[test]
fn infirmier_card_is_adeli() {
    let c = one("infirmier-fort-card.pem");
    let id = c.practitioner().expect("identity");
    assert_eq!(id.national_id.as_str(), "00B6087510");
    assert_eq!(id.national_id.id_type(), IdType::Adeli);
    assert_eq!(id.given_name, "OLIVIER");
    assert_eq!(id.surname, "INFIRMCS ADELI8751");
    assert_eq!(id.profession_code, Some(60));
}

#[test]
fn a_trust_anchor_is_not_a_practitioner() {
    let root = one("test-ac-racine-igc-sante-elementaire.pem");
    let trust = TrustStore::new(vec![root.clone()]);
    let err = verify_certificate(&root, &[], &trust, &opts(at("2021-01-01T00:00:00Z")))
        .expect_err("a CA");
    assert_eq!(err, CertError::LeafIsCa);
}

#[test]
fn real_card_certificates_carry_the_test_policy_and_an_email_eku() {
    const TEST_POLICY: &str = "1.2.250.1.213.1.7.2.1.1.1.1";
    for name in ["sage-femme-elementaire.pem", "infirmier-fort-card.pem"] {
        let c = one(name);
        assert_eq!(c.policies(), [TEST_POLICY], "{name}");
        assert_eq!(
            c.extended_key_usage(),
            Some(&["1.3.6.1.5.5.7.3.4".to_owned()][..]),
            "{name}: emailProtection, as on a signature certificate"
        );
    }
    // The CAs carry anyPolicy and no EKU.
    let inter = one("test-ac-igc-sante-elementaire-personnes.pem");
    assert_eq!(inter.policies(), ["2.5.29.32.0"]);
    assert_eq!(inter.extended_key_usage(), None);

    // The chain still verifies with the TEST policy required, and not with
    // another policy.
    let leaf = one("sage-femme-elementaire.pem");
    let chain = [inter];
    let mut trust = TrustStore::new(vec![one("test-ac-racine-igc-sante-elementaire.pem")]);
    trust
        .set_policies(vec![TEST_POLICY.to_owned()])
        .expect("valid OID");
    verify_certificate(&leaf, &chain, &trust, &opts(at("2021-01-01T00:00:00Z")))
        .expect("valid in 2021 under the TEST policy");
    trust
        .set_policies(vec!["1.2.250.1.213.1.7.2.999.1".to_owned()])
        .expect("valid OID");
    let err = verify_certificate(&leaf, &chain, &trust, &opts(at("2021-01-01T00:00:00Z")))
        .expect_err("another policy");
    assert!(
        matches!(err, CertError::PolicyNotAccepted { .. }),
        "{err:?}"
    );
}

#[test]
fn the_distribution_points_are_read_and_only_the_http_ones_fetched() {
    let leaf = one("sage-femme-elementaire.pem");
    let points = leaf.crl_distribution_points();
    assert_eq!(points.len(), 2, "{points:?}");
    assert_eq!(
        points[0],
        "http://igc-sante.esante.gouv.fr/CRL/ACI-EL-PP-TEST.crl"
    );
    assert!(points[1].starts_with("ldap://"));
    assert!(one("test-ac-racine-igc-sante-elementaire.pem")
        .crl_distribution_points()
        .is_empty());

    // The intermediate names the root's CRL; the leaf the intermediate's.
    let trust = {
        let mut t = TrustStore::new(vec![one("test-ac-racine-igc-sante-elementaire.pem")]);
        t.add_intermediate(one("test-ac-igc-sante-elementaire-personnes.pem"));
        t
    };
    let sources = confrere_protocol::crl_fetch::crl_sources(&trust, &[leaf]);
    assert_eq!(sources.len(), 2);
    assert_eq!(
        sources[0].urls,
        vec!["http://igc-sante.esante.gouv.fr/CRL/ACR-EL-TEST.crl".to_owned()]
    );
    assert_eq!(
        sources[1].urls,
        vec!["http://igc-sante.esante.gouv.fr/CRL/ACI-EL-PP-TEST.crl".to_owned()]
    );
}
