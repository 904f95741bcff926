//! Renewing a node credential in place: the decision of
//! `check_renewal_certificate` and `check_renewal`, with each rejection
//! (another practitioner, the certificate already in use, a shorter
//! validity, another node's keys, a refused certificate, a damaged current
//! credential) and the ledger entry a renewal records.

use std::sync::OnceLock;

use confrere_protocol::credential::NodeCredential;
use confrere_protocol::keys::NoiseKeypair;
use confrere_protocol::ledger::EntryKind;
use confrere_protocol::{
    check_renewal, check_renewal_certificate, issue_credential, verify_certificate, CertError,
    Certificate, CredentialError, Pkcs8Signer, RenewalError, RevocationCheck, TrustStore, UnixTime,
    VerifiedCertificate, VerifyOptions,
};
use confrere_testpki::{IssueRequest, TestCa};
use time::{Duration, OffsetDateTime};

const GP: &str = "810001000016";
const OTHER: &str = "810001000024";

struct Pki {
    ca: TestCa,
    other_ca: TestCa,
    now: OffsetDateTime,
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let now = OffsetDateTime::now_utc();
        Pki {
            ca: TestCa::generate_with_key_bits(now, 2048).expect("test CA"),
            other_ca: TestCa::generate_with_key_bits(now, 2048).expect("other CA"),
            now,
        }
    })
}

fn at(t: OffsetDateTime) -> UnixTime {
    UnixTime::from_secs(t.unix_timestamp())
}

fn trust() -> TrustStore {
    let p = pki();
    let mut t = TrustStore::new(vec![Certificate::from_der(p.ca.root_der()).expect("root")]);
    t.add_intermediate(Certificate::from_der(p.ca.intermediate_der()).expect("intermediate"));
    t
}

fn opts() -> VerifyOptions {
    VerifyOptions {
        revocation: RevocationCheck::Off,
        ..VerifyOptions::authentication(at(pki().now))
    }
}

/// A card of `ca` for `national_id`, ending `days` from now.
struct Card {
    cert: Certificate,
    signer: Pkcs8Signer,
}

fn card_of(ca: &TestCa, national_id: &str, days: i64) -> Card {
    let now = pki().now;
    let req = IssueRequest::new(national_id, "CLAIRE", "BERNARD-RENOUVELLEMENT", 10)
        .with_validity(now - Duration::days(1), now + Duration::days(days));
    let issued = ca.issue(&req, now).expect("issue");
    let cert = Certificate::from_der(&issued.cert_der).expect("certificate");
    let signer = Pkcs8Signer::from_pem_or_der(&issued.key_pkcs8_der, &cert).expect("key");
    Card { cert, signer }
}

fn card(national_id: &str, days: i64) -> Card {
    card_of(&pki().ca, national_id, days)
}

fn verified(card: &Card) -> VerifiedCertificate {
    verify_certificate(&card.cert, &[], &trust(), &opts()).expect("the card verifies")
}

struct Node {
    noise: [u8; 32],
    peer_id: Vec<u8>,
}

fn node() -> Node {
    let mut peer_id = vec![0x00, 0x24, 0x08, 0x01, 0x12, 0x20];
    peer_id.extend_from_slice(&[0x5a; 32]);
    Node {
        noise: *NoiseKeypair::generate().expect("noise").public(),
        peer_id,
    }
}

fn credential(card: &Card, node: &Node) -> NodeCredential {
    issue_credential(
        &card.signer,
        &verified(card),
        &[Certificate::from_der(pki().ca.intermediate_der()).expect("intermediate")],
        node.noise,
        node.peer_id.clone(),
        at(pki().now - Duration::minutes(5)),
        card.cert.not_after(),
    )
    .expect("credential")
}

#[test]
fn a_renewed_card_of_the_same_practitioner_is_accepted_and_recorded() {
    let n = node();
    let old_card = card(GP, 100);
    let new_card = card(GP, 1000);
    let current = credential(&old_card, &n);
    check_renewal_certificate(&current, &verified(&new_card)).expect("same practitioner");
    let new = credential(&new_card, &n);
    let renewal = check_renewal(&current, &new, &trust(), &opts()).expect("renewal");
    assert_eq!(renewal.credential(), &new);
    assert_eq!(renewal.identity().national_id.as_str(), GP);
    assert_eq!(renewal.old_not_after(), current.not_after());
    assert_eq!(
        renewal.ledger_entry(),
        EntryKind::CredentialRenewed {
            old_fingerprint: old_card.cert.fingerprint(),
            old_not_after: current.not_after(),
            new_fingerprint: new_card.cert.fingerprint(),
            new_not_after: new_card.cert.not_after(),
        }
    );
    // A card reissued with the same end (after a loss) is accepted too.
    let same_end = card(GP, 100);
    let cred = credential(&same_end, &n);
    check_renewal(&current, &cred, &trust(), &opts()).expect("same end");
}

#[test]
fn another_practitioners_certificate_is_refused_naming_both_ids() {
    let n = node();
    let current = credential(&card(GP, 100), &n);
    let other = card(OTHER, 1000);
    let expected = RenewalError::OtherPractitioner {
        current: GP.into(),
        new: OTHER.into(),
    };
    assert_eq!(
        check_renewal_certificate(&current, &verified(&other)),
        Err(expected.clone())
    );
    let new = credential(&other, &n);
    let err = check_renewal(&current, &new, &trust(), &opts()).expect_err("refused");
    assert_eq!(err, expected);
    let text = err.to_string();
    assert!(text.contains(GP) && text.contains(OTHER), "{text}");
    assert!(!text.contains("BERNARD"), "no name in the message: {text}");
}

#[test]
fn the_certificate_in_use_is_already_in_use() {
    let n = node();
    let c = card(GP, 100);
    let current = credential(&c, &n);
    let expected = RenewalError::AlreadyInUse {
        not_after: c.cert.not_after(),
    };
    assert_eq!(
        check_renewal_certificate(&current, &verified(&c)),
        Err(expected.clone())
    );
    // A fresh credential from the same certificate changes nothing either.
    let again = credential(&c, &n);
    let err = check_renewal(&current, &again, &trust(), &opts()).expect_err("refused");
    assert_eq!(err, expected);
    assert!(err.to_string().contains("already in use"), "{err}");
}

#[test]
fn a_certificate_ending_earlier_is_refused() {
    let n = node();
    let current = credential(&card(GP, 1000), &n);
    let older = card(GP, 100);
    let expected = RenewalError::ShortensValidity {
        current_not_after: current.not_after(),
        new_not_after: older.cert.not_after(),
    };
    assert_eq!(
        check_renewal_certificate(&current, &verified(&older)),
        Err(expected.clone())
    );
    let new = credential(&older, &n);
    assert_eq!(
        check_renewal(&current, &new, &trust(), &opts()).map(|_| ()),
        Err(expected)
    );
}

#[test]
fn a_credential_for_other_node_keys_is_refused() {
    let n = node();
    let current = credential(&card(GP, 100), &n);
    let new_card = card(GP, 1000);
    let other_noise = Node {
        noise: node().noise,
        peer_id: n.peer_id.clone(),
    };
    let new = credential(&new_card, &other_noise);
    assert_eq!(
        check_renewal(&current, &new, &trust(), &opts()).map(|_| ()),
        Err(RenewalError::OtherNode)
    );
    let mut other_peer = n.peer_id.clone();
    other_peer[10] ^= 1;
    let other_peer = Node {
        noise: n.noise,
        peer_id: other_peer,
    };
    let new = credential(&new_card, &other_peer);
    assert_eq!(
        check_renewal(&current, &new, &trust(), &opts()).map(|_| ()),
        Err(RenewalError::OtherNode)
    );
}

#[test]
fn a_certificate_outside_the_trust_in_force_is_refused() {
    let n = node();
    let current = credential(&card(GP, 100), &n);
    let foreign = card_of(&pki().other_ca, GP, 1000);
    // Signed by its own card, but issued by a CA this node does not trust.
    let mut foreign_trust = TrustStore::new(vec![
        Certificate::from_der(pki().other_ca.root_der()).expect("root")
    ]);
    foreign_trust.add_intermediate(
        Certificate::from_der(pki().other_ca.intermediate_der()).expect("intermediate"),
    );
    let v = verify_certificate(&foreign.cert, &[], &foreign_trust, &opts()).expect("verifies");
    let new = issue_credential(
        &foreign.signer,
        &v,
        &[],
        n.noise,
        n.peer_id.clone(),
        at(pki().now - Duration::minutes(5)),
        foreign.cert.not_after(),
    )
    .expect("credential");
    match check_renewal(&current, &new, &trust(), &opts()) {
        Err(RenewalError::Credential(CredentialError::Certificate(_))) => {}
        other => panic!("expected a refused certificate, got {other:?}"),
    }
    // Checked at the instant given: later than the new card's end, refused.
    let new_card = card(GP, 1000);
    let new = credential(&new_card, &n);
    let late = VerifyOptions {
        revocation: RevocationCheck::Off,
        ..VerifyOptions::authentication(at(pki().now + Duration::days(2000)))
    };
    assert!(matches!(
        check_renewal(&current, &new, &trust(), &late),
        Err(RenewalError::Credential(CredentialError::Expired { .. }))
    ));
    // Revocation as configured: required, with no CRL, refused.
    let strict = VerifyOptions::authentication(at(pki().now));
    assert!(matches!(
        check_renewal(&current, &new, &trust(), &strict),
        Err(RenewalError::Credential(CredentialError::Certificate(
            CertError::CrlMissing { .. }
        )))
    ));
}

#[test]
fn a_damaged_current_credential_is_named() {
    let n = node();
    let c = card(GP, 100);
    let current = credential(&c, &n);
    let mut bytes = current.encode();
    // The first byte of the first certificate (its DER SEQUENCE tag).
    let at_cert = 1 + 32 + 1 + n.peer_id.len() + 8 + 8 + 1 + 2;
    assert_eq!(bytes[at_cert], 0x30);
    bytes[at_cert] = 0x04;
    let damaged = NodeCredential::decode(&bytes).expect("decodes");
    let new = credential(&card(GP, 1000), &n);
    assert!(matches!(
        check_renewal(&damaged, &new, &trust(), &opts()),
        Err(RenewalError::CurrentUnreadable(_))
    ));
    assert!(matches!(
        check_renewal_certificate(&damaged, &verified(&c)),
        Err(RenewalError::CurrentUnreadable(_))
    ));
}

#[test]
fn every_rejection_has_a_hint() {
    for e in [
        RenewalError::OtherNode,
        RenewalError::AlreadyInUse {
            not_after: UnixTime::from_secs(0),
        },
        RenewalError::OtherPractitioner {
            current: GP.into(),
            new: OTHER.into(),
        },
        RenewalError::ShortensValidity {
            current_not_after: UnixTime::from_secs(1),
            new_not_after: UnixTime::from_secs(0),
        },
        RenewalError::CurrentUnreadable(CertError::Malformed("x".into())),
        RenewalError::Credential(CredentialError::BadSignature),
    ] {
        assert!(!e.hint().is_empty(), "{e}");
    }
}
