//! The node credential, with the OpenSSL-made practitioner certificates and
//! keys of `tests/fixtures/openssl/`: issuing, verifying, each rejection, and
//! the wire encoding (fixed layout, round trip, damaged input).

mod common;
mod damage;

use std::sync::{Mutex, OnceLock};

use common::{at, auth_opts, cert, fixture, standard_trust, test_instant, trust_store};
use confrere_protocol::certificate::SignatureAlgorithm;
use confrere_protocol::codec::DecodeError;
use confrere_protocol::credential::{
    CREDENTIAL_DOMAIN, CREDENTIAL_VERSION, MAX_CERTS, MAX_CERT_LEN, MAX_PEER_ID, MAX_SIGNATURE,
};
use confrere_protocol::keys::NoiseKeypair;
use confrere_protocol::signature::verify_signature;
use confrere_protocol::{
    issue_credential, verify_certificate, verify_credential, CardSigner, CertError, Certificate,
    CredentialError, IdType, NodeCredential, Pkcs8Signer, SignatureScheme, SignerError, TrustStore,
    UnixTime, VerifiedCertificate, VerifiedPeer,
};
use damage::{damaged, overwrite};
use proptest::prelude::*;

/// Start of the credentials' validity, before the test instant.
const NOT_BEFORE: &str = "2025-01-01T00:00:00Z";
/// End of the credentials' validity, after the test instant and before the
/// certificates' end (2030-01-01).
const NOT_AFTER: &str = "2026-01-01T00:00:00Z";

/// A libp2p-looking PeerId (identity multihash of an Ed25519 key), 38 bytes.
fn peer_id() -> Vec<u8> {
    let mut p = vec![0x00, 0x24, 0x08, 0x01, 0x12, 0x20];
    p.extend_from_slice(&[0x5a; 32]);
    p
}

/// A practitioner: certificate, as verified, and card key.
struct Card {
    cert: Certificate,
    verified: VerifiedCertificate,
    signer: Pkcs8Signer,
}

fn card(name: &str) -> Card {
    let cert = cert(&format!("{name}.pem"));
    let verified = verify_certificate(
        &cert,
        &[common::cert("intermediate.pem")],
        &standard_trust(),
        &auth_opts(),
    )
    .unwrap_or_else(|e| panic!("{name} does not verify: {e}"));
    let signer = Pkcs8Signer::from_pem_or_der(&fixture(&format!("{name}.key.pem")), &cert)
        .unwrap_or_else(|e| panic!("{name}'s key does not load: {e}"));
    Card {
        cert,
        verified,
        signer,
    }
}

fn noise_key() -> [u8; 32] {
    *NoiseKeypair::generate().expect("noise keygen").public()
}

fn issue_between(
    card: &Card,
    noise: [u8; 32],
    not_before: &str,
    not_after: &str,
) -> Result<NodeCredential, CredentialError> {
    issue_credential(
        &card.signer,
        &card.verified,
        &[cert("intermediate.pem")],
        noise,
        peer_id(),
        at(not_before),
        at(not_after),
    )
}

fn issue(card: &Card, noise: [u8; 32]) -> NodeCredential {
    issue_between(card, noise, NOT_BEFORE, NOT_AFTER).expect("issue_credential")
}

fn verify(cred: &NodeCredential, remote_static: &[u8]) -> Result<VerifiedPeer, CredentialError> {
    verify_credential(cred, remote_static, &standard_trust(), &auth_opts())
}

fn verify_bytes(bytes: &[u8], remote_static: &[u8]) -> Result<VerifiedPeer, CredentialError> {
    let cred = NodeCredential::decode(bytes).map_err(CredentialError::Malformed)?;
    verify(&cred, remote_static)
}

/// Length of the body (everything before the scheme byte) of an encoding
/// whose fields are well formed, computed from the layout.
fn body_len(bytes: &[u8]) -> usize {
    let peer_len = usize::from(bytes[33]);
    let mut pos = 1 + 32 + 1 + peer_len + 8 + 8;
    let count = bytes[pos];
    pos += 1;
    for _ in 0..count {
        let len = usize::from(u16::from_be_bytes([bytes[pos], bytes[pos + 1]]));
        pos += 2 + len;
    }
    pos
}

/// `CREDENTIAL_DOMAIN || body`, as the card signs it.
fn signed_message(bytes: &[u8]) -> Vec<u8> {
    [CREDENTIAL_DOMAIN, &bytes[..body_len(bytes)]].concat()
}

/// Replaces the signature of an encoding (scheme kept).
fn with_signature(bytes: &[u8], signature: &[u8]) -> Vec<u8> {
    let n = body_len(bytes);
    let len = u16::try_from(signature.len()).expect("short signature");
    [&bytes[..=n], &len.to_be_bytes()[..], signature].concat()
}

// ----------------------------------------------------------------------------
// Happy paths

fn assert_happy_path(name: &str, national_id: &str, given_name: &str, code: u32) {
    let card = card(name);
    let kp = NoiseKeypair::generate().expect("noise keygen");
    let cred = issue(&card, *kp.public());

    let bytes = cred.encode();
    let decoded = NodeCredential::decode(&bytes).expect("decode");
    assert_eq!(decoded, cred);
    assert_eq!(decoded.encode(), bytes);

    let peer = verify(&decoded, kp.public()).expect("verify_credential");
    assert_eq!(peer.identity().national_id.as_str(), national_id);
    assert_eq!(peer.identity().national_id.id_type(), IdType::Rpps);
    assert_eq!(peer.identity().given_name, given_name);
    assert_eq!(peer.identity().profession_code, Some(code));
    assert_eq!(peer.identity(), card.verified.identity());
    assert_eq!(peer.peer_id(), peer_id().as_slice());
    assert_eq!(peer.noise_static(), kp.public());
    assert_eq!(peer.credential_not_after(), at(NOT_AFTER));
    assert_eq!(peer.certificate().der(), card.cert.der());

    assert_eq!(decoded.noise_static(), kp.public());
    assert_eq!(decoded.peer_id(), peer_id().as_slice());
    assert_eq!(decoded.not_before(), at(NOT_BEFORE));
    assert_eq!(decoded.not_after(), at(NOT_AFTER));
    assert_eq!(
        decoded.certificates(),
        &[
            card.cert.der().to_vec(),
            cert("intermediate.pem").der().to_vec()
        ]
    );
}

#[test]
fn rsa_credential_issues_encodes_decodes_and_verifies() {
    assert_happy_path("good-rsa", "810001000016", "JEAN", 10);
}

#[test]
fn ecdsa_credential_issues_encodes_decodes_and_verifies() {
    assert_happy_path("good-ecdsa", "810001000024", "MARIE", 10);
}

#[test]
fn rsa3072_credential_verifies() {
    assert_happy_path("good-rsa3072-sha384", "810001000040", "LUCIE", 40);
}

#[test]
fn credential_without_chain_verifies_with_a_known_intermediate() {
    let card = card("good-rsa");
    let noise = noise_key();
    let cred = issue_credential(
        &card.signer,
        &card.verified,
        &[],
        noise,
        peer_id(),
        at(NOT_BEFORE),
        at(NOT_AFTER),
    )
    .expect("issue");
    assert_eq!(cred.certificates().len(), 1);
    // Without the intermediate anywhere there is no path...
    let err = verify(&cred, &noise).expect_err("no path");
    assert!(
        matches!(
            err,
            CredentialError::Certificate(CertError::UnknownIssuer { .. })
        ),
        "{err:?}"
    );
    // ...with it in the store there is.
    let mut trust = standard_trust();
    trust.add_intermediate(cert("intermediate.pem"));
    verify_credential(&cred, &noise, &trust, &auth_opts()).expect("verifies");
}

#[test]
fn credential_verifies_at_both_ends_of_its_validity() {
    let card = card("good-rsa");
    let noise = noise_key();
    let cred =
        issue_between(&card, noise, "2025-05-31T00:00:00Z", "2025-06-02T00:00:00Z").expect("issue");
    for instant in ["2025-05-31T00:00:00Z", "2025-06-02T00:00:00Z"] {
        let mut opts = auth_opts();
        opts.at = at(instant);
        verify_credential(&cred, &noise, &standard_trust(), &opts)
            .unwrap_or_else(|e| panic!("at {instant}: {e}"));
    }
}

/// A signer that records what it is asked to sign.
struct Recording {
    inner: Pkcs8Signer,
    seen: Mutex<Vec<Vec<u8>>>,
}

impl CardSigner for Recording {
    fn scheme(&self) -> SignatureScheme {
        self.inner.scheme()
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignerError> {
        self.seen.lock().expect("lock").push(msg.to_vec());
        self.inner.sign(msg)
    }
}

#[test]
fn the_card_signs_the_domain_and_the_body_once() {
    let good = card("good-rsa");
    let recording = Recording {
        inner: good.signer,
        seen: Mutex::new(Vec::new()),
    };
    let noise = noise_key();
    let cred = issue_credential(
        &recording,
        &good.verified,
        &[cert("intermediate.pem")],
        noise,
        peer_id(),
        at(NOT_BEFORE),
        at(NOT_AFTER),
    )
    .expect("issue");
    let seen = recording.seen.into_inner().expect("lock");
    assert_eq!(seen.len(), 1, "the card is asked to sign once");
    let bytes = cred.encode();
    assert_eq!(seen[0], signed_message(&bytes));
    assert!(seen[0].starts_with(b"confrere/node-credential/v1\0"));
}

// ----------------------------------------------------------------------------
// Issuing refuses

#[test]
fn key_of_another_card_does_not_load_with_this_certificate() {
    let good = cert("good-rsa.pem");
    let err = Pkcs8Signer::from_pem_or_der(&fixture("other-good-rsa.key.pem"), &good)
        .expect_err("another card's key");
    assert_eq!(err, SignerError::KeyDoesNotMatchCertificate);
    // An ECDSA key with an RSA certificate, and the other way round.
    let err =
        Pkcs8Signer::from_pem_or_der(&fixture("good-ecdsa.key.pem"), &good).expect_err("ECDSA key");
    assert_eq!(err, SignerError::KeyDoesNotMatchCertificate);
    let err = Pkcs8Signer::from_pem_or_der(&fixture("good-rsa.key.pem"), &cert("good-ecdsa.pem"))
        .expect_err("RSA key");
    assert_eq!(err, SignerError::KeyDoesNotMatchCertificate);
}

#[test]
fn a_certificate_given_as_key_is_refused() {
    let good = cert("good-rsa.pem");
    let err = Pkcs8Signer::from_pem_or_der(&fixture("good-rsa.pem"), &good)
        .expect_err("a certificate is not a key");
    assert!(matches!(err, SignerError::UnsupportedKey(_)), "{err:?}");
    let err = Pkcs8Signer::from_pem_or_der(b"", &good).expect_err("empty");
    assert!(matches!(err, SignerError::UnsupportedKey(_)), "{err:?}");
}

#[test]
fn issuing_with_another_cards_key_is_refused() {
    let good = card("good-rsa");
    let other = card("other-good-rsa");
    let err = issue_credential(
        &other.signer,
        &good.verified,
        &[],
        noise_key(),
        peer_id(),
        at(NOT_BEFORE),
        at(NOT_AFTER),
    )
    .expect_err("another card's key");
    assert_eq!(
        err,
        CredentialError::Signer(SignerError::KeyDoesNotMatchCertificate)
    );
    // A key of another type: refused before signing.
    let ecdsa = card("good-ecdsa");
    let err = issue_credential(
        &ecdsa.signer,
        &good.verified,
        &[],
        noise_key(),
        peer_id(),
        at(NOT_BEFORE),
        at(NOT_AFTER),
    )
    .expect_err("ECDSA key for an RSA certificate");
    assert_eq!(
        err,
        CredentialError::Signer(SignerError::KeyDoesNotMatchCertificate)
    );
}

struct BrokenCard;

impl CardSigner for BrokenCard {
    fn scheme(&self) -> SignatureScheme {
        SignatureScheme::RsaPkcs1Sha256
    }

    fn sign(&self, _msg: &[u8]) -> Result<Vec<u8>, SignerError> {
        Err(SignerError::SigningFailed)
    }
}

#[test]
fn a_card_that_cannot_sign_is_reported() {
    let good = card("good-rsa");
    let err = issue_credential(
        &BrokenCard,
        &good.verified,
        &[],
        noise_key(),
        peer_id(),
        at(NOT_BEFORE),
        at(NOT_AFTER),
    )
    .expect_err("broken card");
    assert_eq!(err, CredentialError::Signer(SignerError::SigningFailed));
}

#[test]
fn credential_outliving_the_certificate_is_refused() {
    let good = card("good-rsa");
    // good-rsa ends 2030-01-01T00:00:00Z.
    let err = issue_between(&good, noise_key(), NOT_BEFORE, "2030-01-01T00:00:01Z")
        .expect_err("outlives");
    assert_eq!(err, CredentialError::OutlivesCertificate);
    // Ending with the certificate is allowed.
    issue_between(&good, noise_key(), NOT_BEFORE, "2030-01-01T00:00:00Z").expect("same end");
}

#[test]
fn empty_validity_is_refused() {
    let good = card("good-rsa");
    let err = issue_between(&good, noise_key(), NOT_BEFORE, NOT_BEFORE).expect_err("empty");
    assert_eq!(err, CredentialError::EmptyValidity);
    let err = issue_between(&good, noise_key(), NOT_AFTER, NOT_BEFORE).expect_err("reversed");
    assert_eq!(err, CredentialError::EmptyValidity);
}

#[test]
fn oversize_peer_id_and_too_many_certificates_are_refused() {
    let good = card("good-rsa");
    let err = issue_credential(
        &good.signer,
        &good.verified,
        &[],
        noise_key(),
        vec![7; MAX_PEER_ID + 1],
        at(NOT_BEFORE),
        at(NOT_AFTER),
    )
    .expect_err("peer id too long");
    assert_eq!(err, CredentialError::Malformed(DecodeError::TooLong));
    let chain = vec![cert("intermediate.pem"); MAX_CERTS];
    let err = issue_credential(
        &good.signer,
        &good.verified,
        &chain,
        noise_key(),
        peer_id(),
        at(NOT_BEFORE),
        at(NOT_AFTER),
    )
    .expect_err("too many certificates");
    assert_eq!(err, CredentialError::Malformed(DecodeError::TooLong));
    // The limits themselves are fine.
    issue_credential(
        &good.signer,
        &good.verified,
        &chain[1..],
        noise_key(),
        vec![7; MAX_PEER_ID],
        at(NOT_BEFORE),
        at(NOT_AFTER),
    )
    .expect("at the limits");
}

// ----------------------------------------------------------------------------
// Verifying refuses

#[test]
fn credential_signed_by_another_card_is_refused() {
    let good = card("good-rsa");
    let other = card("other-good-rsa");
    let noise = noise_key();
    let bytes = issue(&good, noise).encode();
    let msg = signed_message(&bytes);

    // Control: re-signing the same message with good-rsa's key is accepted,
    // so the splice below changes only who signed.
    let own = good.signer.sign(&msg).expect("sign");
    verify_bytes(&with_signature(&bytes, &own), &noise).expect("re-signed by its own card");

    let forged_sig = other.signer.sign(&msg).expect("sign");
    // It is a good signature, of the other card.
    assert_eq!(
        verify_signature(
            other.cert.public_key(),
            &SignatureAlgorithm::RsaSha256,
            &msg,
            &forged_sig
        ),
        Ok(())
    );
    let forged = with_signature(&bytes, &forged_sig);
    assert_eq!(forged.len(), bytes.len());
    let err = verify_bytes(&forged, &noise).expect_err("signed by another card");
    assert_eq!(err, CredentialError::BadSignature);
}

#[test]
fn credential_naming_another_cards_certificate_is_refused() {
    // good-rsa's card signs a credential that carries other-good-rsa's
    // certificate: an attempt to pass as the other practitioner.
    let good = card("good-rsa");
    let other = card("other-good-rsa");
    let noise = noise_key();
    let others = issue(&other, noise).encode();
    let sig = good.signer.sign(&signed_message(&others)).expect("sign");
    let err = verify_bytes(&with_signature(&others, &sig), &noise).expect_err("impersonation");
    assert_eq!(err, CredentialError::BadSignature);
}

#[test]
fn credential_with_the_wrong_scheme_is_refused() {
    // An ECDSA credential relabelled as RSA, and an RSA one as ECDSA.
    let noise = noise_key();
    for name in ["good-ecdsa", "good-rsa"] {
        let mut bytes = issue(&card(name), noise).encode();
        let n = body_len(&bytes);
        bytes[n] = if bytes[n] == 1 { 2 } else { 1 };
        let err = verify_bytes(&bytes, &noise).expect_err("wrong scheme");
        assert_eq!(err, CredentialError::BadSignature, "{name}");
    }
}

#[test]
fn credential_binding_another_noise_key_is_refused() {
    let good = card("good-rsa");
    let noise = noise_key();
    let cred = issue(&good, noise);
    let err = verify(&cred, &noise_key()).expect_err("another key");
    assert_eq!(err, CredentialError::WrongNoiseKey);
    // Not a key at all.
    assert_eq!(
        verify(&cred, &[]).expect_err("empty"),
        CredentialError::WrongNoiseKey
    );
    assert_eq!(
        verify(&cred, &noise[..31]).expect_err("short"),
        CredentialError::WrongNoiseKey
    );
}

#[test]
fn expired_credential_is_refused() {
    let good = card("good-rsa");
    let noise = noise_key();
    let cred =
        issue_between(&good, noise, "2025-01-01T00:00:00Z", "2025-05-31T23:59:59Z").expect("issue");
    let err = verify(&cred, &noise).expect_err("expired");
    assert_eq!(
        err,
        CredentialError::Expired {
            not_after: at("2025-05-31T23:59:59Z")
        }
    );
}

#[test]
fn not_yet_valid_credential_is_refused() {
    let good = card("good-rsa");
    let noise = noise_key();
    let cred = issue_between(&good, noise, "2025-06-01T00:00:01Z", NOT_AFTER).expect("issue");
    let err = verify(&cred, &noise).expect_err("not yet valid");
    assert_eq!(
        err,
        CredentialError::NotYetValid {
            not_before: at("2025-06-01T00:00:01Z")
        }
    );
}

#[test]
fn card_signed_credential_outliving_its_certificate_is_refused_by_the_verifier() {
    // issue_credential refuses it; a card could still sign one by other
    // means. Build it by hand and have good-rsa's key sign it.
    let good = card("good-rsa");
    let noise = noise_key();
    let bytes = issue(&good, noise).encode();
    let mut long = bytes;
    let na_at = 1 + 32 + 1 + peer_id().len() + 8;
    let end = at("2030-01-01T00:00:01Z").as_secs().to_be_bytes();
    long[na_at..na_at + 8].copy_from_slice(&end);
    let sig = good.signer.sign(&signed_message(&long)).expect("sign");
    let long = with_signature(&long, &sig);
    let decoded = NodeCredential::decode(&long).expect("decode");
    assert_eq!(decoded.not_after(), at("2030-01-01T00:00:01Z"));
    let err = verify(&decoded, &noise).expect_err("outlives");
    assert_eq!(err, CredentialError::OutlivesCertificate);
}

#[test]
fn credential_with_an_untrusted_certificate_is_refused() {
    let good = card("good-rsa");
    let noise = noise_key();
    let cred = issue(&good, noise);
    let impostor_trust = trust_store(&["impostor-root.pem"], &["crl.pem", "crl-root.pem"]);
    let err =
        verify_credential(&cred, &noise, &impostor_trust, &auth_opts()).expect_err("untrusted");
    assert!(
        matches!(
            err,
            CredentialError::Certificate(CertError::UnknownIssuer { .. })
        ),
        "{err:?}"
    );
    let err = verify_credential(&cred, &noise, &TrustStore::default(), &auth_opts())
        .expect_err("no anchor");
    assert!(
        matches!(
            err,
            CredentialError::Certificate(CertError::UnknownIssuer { .. })
        ),
        "{err:?}"
    );
}

#[test]
fn credential_without_current_crls_is_refused() {
    let good = card("good-rsa");
    let noise = noise_key();
    let cred = issue(&good, noise);
    let trust = trust_store(&["root.pem"], &[]);
    let err = verify_credential(&cred, &noise, &trust, &auth_opts()).expect_err("no CRL");
    assert!(
        matches!(
            err,
            CredentialError::Certificate(CertError::CrlMissing { .. })
        ),
        "{err:?}"
    );
}

/// A valid RSA credential (with the intermediate) and its Noise key, made once.
fn valid() -> &'static (Vec<u8>, [u8; 32]) {
    static VALID: OnceLock<(Vec<u8>, [u8; 32])> = OnceLock::new();
    VALID.get_or_init(|| {
        let noise = noise_key();
        (issue(&card("good-rsa"), noise).encode(), noise)
    })
}

/// Decodes and verifies damaged bytes with the Noise key the damaged
/// credential itself names (the strongest position for an attacker, who
/// controls its Noise key). Returns whether it was accepted.
fn damaged_is_accepted(bytes: &[u8], trust: &TrustStore) -> bool {
    match NodeCredential::decode(bytes) {
        Err(_) => false,
        Ok(cred) => {
            let noise = *cred.noise_static();
            verify_credential(&cred, &noise, trust, &auth_opts()).is_ok()
        }
    }
}

#[test]
fn every_single_bit_flip_is_refused() {
    let (bytes, noise) = valid();
    let trust = standard_trust();
    verify_bytes(bytes, noise).expect("the original verifies");
    let mut damaged = bytes.clone();
    let mut accepted = Vec::new();
    let mut decoded = 0usize;
    for i in 0..bytes.len() {
        for bit in 0..8 {
            damaged[i] ^= 1 << bit;
            decoded += usize::from(NodeCredential::decode(&damaged).is_ok());
            if damaged_is_accepted(&damaged, &trust) {
                accepted.push((i, bit));
            }
            damaged[i] ^= 1 << bit;
        }
    }
    assert!(
        accepted.is_empty(),
        "accepted flips (byte, bit): {accepted:?}"
    );
    // Not vacuous: nearly every flip still decodes and reaches the verifier
    // (only flips in the version, length, count and scheme fields do not).
    let flips = bytes.len() * 8;
    assert!(
        decoded * 10 > flips * 9,
        "only {decoded} of {flips} flips decoded"
    );
}

// ----------------------------------------------------------------------------
// Wire format: fixed bytes

#[test]
fn encoding_has_the_documented_layout() {
    let good = card("good-rsa");
    let kp = NoiseKeypair::generate().expect("noise keygen");
    let bytes = issue(&good, *kp.public()).encode();
    let leaf = good.cert.der();
    let inter = cert("intermediate.pem").der().to_vec();

    let mut expected: Vec<u8> = Vec::new();
    expected.push(0x01); // version
    expected.extend_from_slice(kp.public()); // noise static, offset 1
    expected.push(38); // peer id length, offset 33
    expected.extend_from_slice(&[0x00, 0x24, 0x08, 0x01, 0x12, 0x20]);
    expected.extend_from_slice(&[0x5a; 32]);
    expected.extend_from_slice(&[0, 0, 0, 0, 0x67, 0x74, 0x85, 0x80]); // 2025-01-01
    expected.extend_from_slice(&[0, 0, 0, 0, 0x69, 0x55, 0xb9, 0x00]); // 2026-01-01
    expected.push(2); // certificate count
    expected.extend_from_slice(&[(leaf.len() >> 8) as u8, leaf.len() as u8]);
    expected.extend_from_slice(leaf);
    expected.extend_from_slice(&[(inter.len() >> 8) as u8, inter.len() as u8]);
    expected.extend_from_slice(&inter);
    expected.push(0x01); // RSA PKCS#1 SHA-256
    expected.extend_from_slice(&[0x01, 0x00]); // 256-byte signature

    assert_eq!(bytes.len(), expected.len() + 256);
    assert_eq!(&bytes[..1 + 32 + 1], &expected[..1 + 32 + 1], "header");
    assert_eq!(&bytes[34..72], &expected[34..72], "peer id");
    assert_eq!(&bytes[72..88], &expected[72..88], "validity");
    assert_eq!(&bytes[..expected.len()], &expected[..]);
    // The signature is the card's over the domain and the body.
    let sig = &bytes[expected.len()..];
    assert_eq!(
        verify_signature(
            good.cert.public_key(),
            &SignatureAlgorithm::RsaSha256,
            &[CREDENTIAL_DOMAIN, &expected[..expected.len() - 3]].concat(),
            sig
        ),
        Ok(())
    );
    // The ECDSA scheme code.
    let ecdsa = issue(&card("good-ecdsa"), *kp.public()).encode();
    assert_eq!(ecdsa[body_len(&ecdsa)], 0x02);
}

/// A hand-written credential: dummy certificates and signature (decode does
/// not verify).
fn hand_written() -> Vec<u8> {
    [
        &[0x01][..],                                       // version
        &[0xaa; 32],                                       // noise static
        &[0x03, b'p', b'i', b'd'],                         // peer id
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // not_before = -1
        &[0x00, 0x00, 0x00, 0x00, 0x68, 0x3b, 0x98, 0x00], // not_after = test instant
        &[0x02],                                           // two certificates
        &[0x00, 0x03, 0x30, 0x01, 0x00],                   // a 3-byte blob
        &[0x00, 0x00],                                     // an empty blob
        &[0x02],                                           // ECDSA
        &[0x00, 0x04, 0xde, 0xad, 0xbe, 0xef],             // signature
    ]
    .concat()
}

#[test]
fn hand_written_bytes_decode_field_by_field() {
    let bytes = hand_written();
    let cred = NodeCredential::decode(&bytes).expect("decode");
    assert_eq!(cred.noise_static(), &[0xaa; 32]);
    assert_eq!(cred.peer_id(), b"pid");
    assert_eq!(cred.not_before(), UnixTime::from_secs(-1));
    assert_eq!(cred.not_after(), test_instant());
    assert_eq!(cred.certificates(), &[vec![0x30, 0x01, 0x00], vec![]]);
    // Scheme and signature have no accessor: they survive re-encoding.
    assert_eq!(cred.encode(), bytes);
    // It decodes, but it is no credential of anyone.
    let err = verify(&cred, &[0xaa; 32]).expect_err("dummy certificate");
    assert!(
        matches!(err, CredentialError::Certificate(CertError::Malformed(_))),
        "{err:?}"
    );
    let dbg = format!("{cred:?}");
    assert!(dbg.contains("NodeCredential"), "{dbg}");
}

#[test]
fn out_of_bounds_fields_are_refused() {
    let ok = hand_written();
    // Offsets in hand_written().
    const PEER_LEN: usize = 33;
    const COUNT: usize = 1 + 32 + 1 + 3 + 8 + 8;
    const CERT0_LEN: usize = COUNT + 1;
    const SCHEME: usize = CERT0_LEN + 5 + 2;
    const SIG_LEN: usize = SCHEME + 1;
    let edit = |at: usize, new: &[u8]| {
        let mut b = ok.clone();
        b[at..at + new.len()].copy_from_slice(new);
        b
    };
    let cases: Vec<(&str, Vec<u8>, DecodeError)> = vec![
        ("version 0", edit(0, &[0]), DecodeError::Version(0)),
        ("version 2", edit(0, &[2]), DecodeError::Version(2)),
        (
            "peer id 65",
            edit(PEER_LEN, &[MAX_PEER_ID as u8 + 1]),
            DecodeError::TooLong,
        ),
        (
            "no certificate",
            edit(COUNT, &[0]),
            DecodeError::Invalid("certificate count"),
        ),
        (
            "five certificates",
            edit(COUNT, &[MAX_CERTS as u8 + 1]),
            DecodeError::Invalid("certificate count"),
        ),
        (
            "certificate of 16 KiB + 1",
            edit(
                CERT0_LEN,
                &u16::try_from(MAX_CERT_LEN + 1).expect("u16").to_be_bytes(),
            ),
            DecodeError::TooLong,
        ),
        ("scheme 0", edit(SCHEME, &[0]), DecodeError::UnknownTag(0)),
        ("scheme 3", edit(SCHEME, &[3]), DecodeError::UnknownTag(3)),
        (
            "signature of 1025",
            edit(
                SIG_LEN,
                &u16::try_from(MAX_SIGNATURE + 1).expect("u16").to_be_bytes(),
            ),
            DecodeError::TooLong,
        ),
        (
            "trailing byte",
            [&ok[..], &[0]].concat(),
            DecodeError::Trailing,
        ),
        (
            "signature cut",
            ok[..ok.len() - 1].to_vec(),
            DecodeError::Truncated,
        ),
        ("empty", Vec::new(), DecodeError::Truncated),
    ];
    assert_eq!(CREDENTIAL_VERSION, 1);
    for (what, bytes, want) in cases {
        assert_eq!(NodeCredential::decode(&bytes), Err(want), "{what}");
    }
}

#[test]
fn fields_at_their_limits_are_accepted() {
    let parts = Parts {
        noise: [1; 32],
        peer_id: vec![2; MAX_PEER_ID],
        not_before: i64::MIN,
        not_after: i64::MAX,
        certs: vec![vec![3; MAX_CERT_LEN]; MAX_CERTS],
        scheme: 1,
        signature: vec![4; MAX_SIGNATURE],
    };
    let bytes = parts.assemble();
    let cred = NodeCredential::decode(&bytes).expect("at the limits");
    parts.check(&cred);
    assert_eq!(cred.encode(), bytes);
}

#[test]
fn every_truncation_of_a_valid_encoding_is_refused() {
    let (bytes, _) = valid();
    for len in 0..bytes.len() {
        assert!(
            NodeCredential::decode(&bytes[..len]).is_err(),
            "prefix of {len} bytes decoded"
        );
    }
    assert_eq!(
        NodeCredential::decode(&[&bytes[..], &[0]].concat()),
        Err(DecodeError::Trailing)
    );
}

// ----------------------------------------------------------------------------
// Wire format: round trip and damaged input (proptest)

/// The parts of an encoding, assembled here by hand, independently of the
/// library's writer.
#[derive(Clone, Debug)]
struct Parts {
    noise: [u8; 32],
    peer_id: Vec<u8>,
    not_before: i64,
    not_after: i64,
    certs: Vec<Vec<u8>>,
    scheme: u8,
    signature: Vec<u8>,
}

impl Parts {
    fn assemble(&self) -> Vec<u8> {
        let mut b = vec![1u8];
        b.extend_from_slice(&self.noise);
        b.push(u8::try_from(self.peer_id.len()).expect("short peer id"));
        b.extend_from_slice(&self.peer_id);
        b.extend_from_slice(&self.not_before.to_be_bytes());
        b.extend_from_slice(&self.not_after.to_be_bytes());
        b.push(u8::try_from(self.certs.len()).expect("few certificates"));
        for c in &self.certs {
            b.extend_from_slice(&u16::try_from(c.len()).expect("short cert").to_be_bytes());
            b.extend_from_slice(c);
        }
        b.push(self.scheme);
        b.extend_from_slice(
            &u16::try_from(self.signature.len())
                .expect("short signature")
                .to_be_bytes(),
        );
        b.extend_from_slice(&self.signature);
        b
    }

    fn check(&self, cred: &NodeCredential) {
        assert_eq!(cred.noise_static(), &self.noise);
        assert_eq!(cred.peer_id(), self.peer_id.as_slice());
        assert_eq!(cred.not_before(), UnixTime::from_secs(self.not_before));
        assert_eq!(cred.not_after(), UnixTime::from_secs(self.not_after));
        assert_eq!(cred.certificates(), self.certs.as_slice());
    }
}

fn parts() -> impl Strategy<Value = Parts> {
    (
        any::<[u8; 32]>(),
        prop::collection::vec(any::<u8>(), 0..=MAX_PEER_ID),
        any::<i64>(),
        any::<i64>(),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..=600), 1..=MAX_CERTS),
        prop_oneof![Just(1u8), Just(2u8)],
        prop::collection::vec(any::<u8>(), 0..=MAX_SIGNATURE),
    )
        .prop_map(
            |(noise, peer_id, not_before, not_after, certs, scheme, signature)| Parts {
                noise,
                peer_id,
                not_before,
                not_after,
                certs,
                scheme,
                signature,
            },
        )
}

proptest! {
    #[test]
    fn round_trip(parts in parts()) {
        let bytes = parts.assemble();
        let cred = NodeCredential::decode(&bytes).expect("well-formed parts decode");
        parts.check(&cred);
        prop_assert_eq!(cred.encode(), bytes);
        prop_assert_eq!(NodeCredential::decode(&cred.encode()), Ok(cred));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = NodeCredential::decode(&bytes);
    }

    #[test]
    fn arbitrary_bytes_after_a_good_version_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..2048)
    ) {
        let bytes = [&[CREDENTIAL_VERSION][..], &bytes].concat();
        if let Ok(cred) = NodeCredential::decode(&bytes) {
            prop_assert_eq!(cred.encode(), bytes);
        }
    }

    #[test]
    fn damaged_parts_never_panic(
        parts in parts(),
        cut in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let mut bytes = parts.assemble();
        overwrite(&mut bytes, &edits);
        let len = cut.index(bytes.len() + 1);
        if let Ok(cred) = NodeCredential::decode(&bytes[..len]) {
            prop_assert_eq!(cred.encode(), bytes[..len].to_vec());
        }
    }

    #[test]
    fn mutations_of_a_valid_credential_are_refused(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let (original, _) = valid();
        let bytes = damaged(original, &edits, cut);
        let trust = standard_trust();
        let accepted = damaged_is_accepted(&bytes, &trust);
        if bytes == *original {
            prop_assert!(accepted, "the undamaged credential must verify");
        } else {
            prop_assert!(!accepted, "a damaged credential verified");
        }
    }
}

// ----------------------------------------------------------------------------
// A node's own credential at start

#[test]
fn a_node_starts_on_its_own_genuine_credential_and_says_when_peers_refuse_it() {
    use confrere_protocol::{check_own_credential, OwnCredential};
    let good = card("good-rsa");
    let cred = issue(&good, noise_key());
    let own = |c: &NodeCredential, at_: &str| {
        let mut opts = auth_opts();
        opts.at = at(at_);
        check_own_credential(c, &standard_trust(), &opts)
    };
    assert!(matches!(
        own(&cred, "2025-06-01T00:00:00Z"),
        Ok(OwnCredential::Valid(_))
    ));
    // Genuine but out of its validity: start, and say why peers refuse it.
    assert!(matches!(
        own(&cred, "2026-06-01T00:00:00Z"),
        Ok(OwnCredential::Refused(CredentialError::Expired { .. }))
    ));
    assert!(matches!(
        own(&cred, "2024-06-01T00:00:00Z"),
        Ok(OwnCredential::Refused(CredentialError::NotYetValid { .. }))
    ));
    // Genuine, under a policy this home's trust configuration does not
    // list: start, and say why.
    let mut strict = standard_trust();
    strict
        .set_policies(vec!["1.2.250.1.213.1.7.2.1.1.1.1".to_owned()])
        .expect("an OID");
    let policy = check_own_credential(&cred, &strict, &auth_opts());
    assert!(
        matches!(
            policy,
            Ok(OwnCredential::Refused(CredentialError::Certificate(
                CertError::PolicyNotAccepted { .. }
            )))
        ),
        "{policy:?}"
    );
    // Not genuine: the node must not start.
    let bytes = cred.encode();
    let mut forged = bytes;
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let forged = NodeCredential::decode(&forged).expect("still decodes");
    assert!(matches!(
        own(&forged, "2025-06-01T00:00:00Z"),
        Err(CredentialError::BadSignature)
    ));
    let untrusted = check_own_credential(
        &cred,
        &trust_store(&["impostor-root.pem"], &[]),
        &auth_opts(),
    );
    assert!(
        matches!(untrusted, Err(CredentialError::Certificate(_))),
        "{untrusted:?}"
    );
}

/// A peer verified under the standard trust, rechecked under another.
fn recheck_under(trust: &TrustStore, at_instant: UnixTime) -> Result<(), CredentialError> {
    let card = card("good-rsa");
    let noise = noise_key();
    let peer = verify(&issue(&card, noise), &noise).expect("verifies at first");
    let opts = confrere_protocol::VerifyOptions {
        at: at_instant,
        ..auth_opts()
    };
    confrere_protocol::credential::recheck_peer(&peer, trust, &opts)
}

#[test]
fn a_peer_still_acceptable_passes_the_recheck() {
    recheck_under(&standard_trust(), common::test_instant()).expect("still fine");
}

#[test]
fn a_peer_whose_card_a_new_crl_revokes_fails_the_recheck() {
    let trust = trust_store(&["root.pem"], &["crl-revokes-good-rsa.pem", "crl-root.pem"]);
    let err = recheck_under(&trust, common::test_instant()).expect_err("revoked");
    assert!(
        matches!(err, CredentialError::Certificate(CertError::Revoked { .. })),
        "{err:?}"
    );
}

#[test]
fn a_peer_whose_chain_is_no_longer_trusted_fails_the_recheck() {
    let trust = trust_store(&["impostor-root.pem"], &["crl.pem", "crl-root.pem"]);
    let err = recheck_under(&trust, common::test_instant()).expect_err("unknown chain");
    assert!(matches!(err, CredentialError::Certificate(_)), "{err:?}");
}

#[test]
fn a_peer_checked_once_its_crl_is_stale_or_its_credential_expired_fails_the_recheck() {
    let late = at("2025-07-15T00:00:00Z");
    let err = recheck_under(&standard_trust(), late).expect_err("stale CRL");
    assert!(
        matches!(
            err,
            CredentialError::Certificate(CertError::CrlStale { .. })
        ),
        "{err:?}"
    );
    let after = at("2026-02-01T00:00:00Z");
    let err = recheck_under(&standard_trust(), after).expect_err("expired credential");
    assert!(matches!(err, CredentialError::Expired { .. }), "{err:?}");
}
