//! The directory record, with the OpenSSL-made practitioner certificates of
//! `tests/fixtures/openssl/`: signing, verifying, each rejection, and the
//! wire encoding (fixed layout, round trip, damaged input).

mod common;
mod damage;

use std::sync::OnceLock;

use common::{at, auth_opts, cert, fixture, standard_trust, test_instant, trust_store};
use confrere_protocol::codec::DecodeError;
use confrere_protocol::credential::verify_credential_alone;
use confrere_protocol::directory::{
    decode_record_set, directory_key, encode_record_set, merge_record, sign_record, verify_record,
    verify_record_set, Decision, DirectoryError, DirectoryRecord, Ignored, VerifiedRecord,
    KEY_PREFIX, MAX_ADDRESSES, MAX_ADDRESS_LEN, MAX_CLOCK_SKEW, MAX_RECORDS_PER_ID, MAX_RECORD_LEN,
    MAX_RECORD_VALIDITY, MAX_SET_LEN, RECORD_DOMAIN,
};
use confrere_protocol::receipt::NodeSigner;
use confrere_protocol::{
    issue_credential, verify_certificate, CertError, CredentialError, NationalId, NodeCredential,
    Pkcs8Signer, TrustStore, UnixTime, VerifyOptions,
};
use damage::damaged;
use proptest::prelude::*;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

/// The GP (good-rsa.pem).
const GP: &str = "810001000016";
/// The cardiologist (good-ecdsa.pem).
const CARDIOLOGIST: &str = "810001000024";
/// Start of the credentials' validity, before the test instant.
const CRED_NOT_BEFORE: &str = "2025-01-01T00:00:00Z";
/// End of the credentials' validity.
const CRED_NOT_AFTER: &str = "2026-01-01T00:00:00Z";
/// A day.
const DAY: i64 = 24 * 3600;

/// The GP's node key: the Ed25519 key of seed 00 01 … 1f.
fn gp_node_key() -> Ed25519KeyPair {
    let seed: Vec<u8> = (0u8..32).collect();
    Ed25519KeyPair::from_seed_unchecked(&seed).expect("seed")
}

/// The cardiologist's node key.
fn cardio_node_key() -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[0x5a; 32]).expect("seed")
}

fn public(key: &Ed25519KeyPair) -> [u8; 32] {
    key.public_key().as_ref().try_into().expect("32 bytes")
}

/// A node credential of the card `name` for a PeerId.
fn credential_for(name: &str, peer_id: Vec<u8>, not_after: &str) -> NodeCredential {
    let leaf = cert(&format!("{name}.pem"));
    let verified = verify_certificate(
        &leaf,
        &[cert("intermediate.pem")],
        &standard_trust(),
        &auth_opts(),
    )
    .unwrap_or_else(|e| panic!("{name} does not verify: {e}"));
    let signer = Pkcs8Signer::from_pem_or_der(&fixture(&format!("{name}.key.pem")), &leaf)
        .unwrap_or_else(|e| panic!("{name}'s key does not load: {e}"));
    issue_credential(
        &signer,
        &verified,
        &[cert("intermediate.pem")],
        [0x42; 32],
        peer_id,
        at(CRED_NOT_BEFORE),
        at(not_after),
    )
    .expect("issue_credential")
}

/// The GP's node credential, binding the GP's node key.
fn gp_credential() -> NodeCredential {
    static CRED: OnceLock<NodeCredential> = OnceLock::new();
    CRED.get_or_init(|| credential_for("good-rsa", gp_node_key().peer_id(), CRED_NOT_AFTER))
        .clone()
}

/// The cardiologist's node credential.
fn cardio_credential() -> NodeCredential {
    static CRED: OnceLock<NodeCredential> = OnceLock::new();
    CRED.get_or_init(|| credential_for("good-ecdsa", cardio_node_key().peer_id(), CRED_NOT_AFTER))
        .clone()
}

fn gp_id() -> NationalId {
    NationalId::parse(GP).expect("national id")
}

fn gp_key() -> Vec<u8> {
    directory_key(&gp_id())
}

/// Published a minute before the test instant.
fn published() -> UnixTime {
    test_instant().add_secs(-60)
}

fn addresses() -> Vec<Vec<u8>> {
    // /ip4/192.0.2.1/tcp/4001 and /dns4/cabinet.example/udp/4001/quic-v1
    vec![
        vec![0x04, 192, 0, 2, 1, 0x06, 0x0f, 0xa1],
        [
            &[0x36, 15][..],
            b"cabinet.example",
            &[0x91, 0x02, 0x0f, 0xa1, 0xcc, 0x03],
        ]
        .concat(),
    ]
}

/// The GP's node's record: sequence 7, valid a day.
fn gp_record() -> DirectoryRecord {
    sign_record(
        &gp_node_key(),
        &gp_credential(),
        addresses(),
        7,
        published(),
        published().add_secs(DAY),
    )
    .expect("sign_record")
}

fn encode(r: &DirectoryRecord) -> Vec<u8> {
    r.encode().expect("encodes")
}

fn verify(bytes: &[u8], key: &[u8]) -> Result<VerifiedRecord, DirectoryError> {
    verify_record(bytes, key, &standard_trust(), &auth_opts())
}

fn verify_at(bytes: &[u8], now: UnixTime) -> Result<VerifiedRecord, DirectoryError> {
    let opts = VerifyOptions {
        at: now,
        ..auth_opts()
    };
    verify_record(bytes, &gp_key(), &standard_trust(), &opts)
}

/// Signs `record` as it stands with `key`, with no check at all: a node
/// (or a forger) that skips `sign_record`'s checks.
fn resign(mut record: DirectoryRecord, key: &Ed25519KeyPair) -> Vec<u8> {
    let sig = key.sign(&record.signed_message());
    record.signature = sig.as_ref().try_into().expect("64 bytes");
    encode(&record)
}

// ----------------------------------------------------------------------------
// Happy path and fixed bytes

#[test]
fn signed_record_verifies_and_shows_the_practitioner() {
    let r = gp_record();
    let bytes = encode(&r);
    let v = verify(&bytes, &gp_key()).expect("verifies");
    assert_eq!(v.identity().national_id.as_str(), GP);
    assert_eq!(v.identity().given_name, "JEAN");
    assert_eq!(v.peer_id(), gp_node_key().peer_id().as_slice());
    assert_eq!(v.addresses(), addresses().as_slice());
    assert_eq!(v.sequence(), 7);
    assert_eq!(v.published_at(), published());
    assert_eq!(v.expires_at(), published().add_secs(DAY));
    assert_eq!(v.encoded(), bytes.as_slice());
    assert!(!v.is_expired(test_instant()));
    assert!(v.is_expired(published().add_secs(DAY)));
    // Debug names neither the practitioner nor an address.
    for dbg in [format!("{r:?}"), format!("{v:?}")] {
        assert!(!dbg.contains(GP) && !dbg.contains("cabinet"), "{dbg}");
    }
}

#[test]
fn key_is_the_documented_prefix_and_national_id() {
    assert_eq!(KEY_PREFIX, b"/confrere/dir/v1/");
    assert_eq!(gp_key(), b"/confrere/dir/v1/810001000016".to_vec());
}

#[test]
fn record_has_the_documented_layout() {
    let r = gp_record();
    let cred = gp_credential().encode();
    let cred_len = u16::try_from(cred.len()).expect("short credential");
    let addrs = addresses();
    let body = [
        &[0x01][..],                                       // version
        &[12],                                             // national id
        b"810001000016",                                   //
        &cred_len.to_be_bytes(),                           // credential
        &cred,                                             //
        &[0, 0, 0, 0, 0, 0, 0, 7],                         // sequence
        &[0x00, 0x00, 0x00, 0x00, 0x68, 0x3b, 0x97, 0xc4], // published_at
        &[0x00, 0x00, 0x00, 0x00, 0x68, 0x3c, 0xe9, 0x44], // expires_at
        &[2],                                              // address count
        &[0x00, 8],                                        // address 1
        &addrs[0],                                         //
        &[0x00, 23],                                       // address 2
        &addrs[1],                                         //
    ]
    .concat();
    assert_eq!(published(), at("2025-05-31T23:59:00Z"));
    assert_eq!(published().as_secs(), 0x683b_97c4);
    assert_eq!(encode(&r), [&body[..], &r.signature].concat());
    assert_eq!(RECORD_DOMAIN, b"confrere/directory-record/v1\0");
    assert_eq!(
        r.signed_message(),
        [b"confrere/directory-record/v1\0".as_slice(), &body].concat()
    );
    // The signature is the GP node key's over the domain and the body,
    // checked here with ring directly.
    UnparsedPublicKey::new(&ED25519, public(&gp_node_key()))
        .verify(&r.signed_message(), &r.signature)
        .expect("signature over the documented message");
    // Ed25519 is deterministic: the same record signs the same.
    assert_eq!(gp_record(), r);

    // A record with a set signature, entirely hand-written.
    let want = [&body[..], &[0xab; 64]].concat();
    let mut fixed = r;
    fixed.signature = [0xab; 64];
    assert_eq!(fixed.encode(), Ok(want.clone()));
    assert_eq!(DirectoryRecord::decode(&want), Ok(fixed));
}

#[test]
fn credential_alone_verifies_without_a_noise_key() {
    let cred = gp_credential();
    let peer = verify_credential_alone(&cred, &standard_trust(), &auth_opts()).expect("verifies");
    assert_eq!(peer.identity().national_id.as_str(), GP);
    assert_eq!(peer.peer_id(), gp_node_key().peer_id().as_slice());
    // Its card signature still counts.
    let mut bytes = cred.encode();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let forged = NodeCredential::decode(&bytes).expect("still decodes");
    assert_eq!(
        verify_credential_alone(&forged, &standard_trust(), &auth_opts()).err(),
        Some(CredentialError::BadSignature)
    );
    // So do the verifier's anchors and the validity.
    let err = verify_credential_alone(&cred, &TrustStore::default(), &auth_opts())
        .expect_err("no anchor");
    assert!(
        matches!(
            err,
            CredentialError::Certificate(CertError::UnknownIssuer { .. })
        ),
        "{err:?}"
    );
    let later = VerifyOptions {
        at: at("2026-01-02T00:00:00Z"),
        ..auth_opts()
    };
    assert!(matches!(
        verify_credential_alone(&cred, &standard_trust(), &later),
        Err(CredentialError::Expired { .. })
    ));
}

// ----------------------------------------------------------------------------
// Rejections: the signature and the practitioner

#[test]
fn altered_record_or_signature_is_refused() {
    let bytes = encode(&gp_record());
    let mut bad_sig = bytes;
    let last = bad_sig.len() - 1;
    bad_sig[last] ^= 1;
    assert_eq!(
        verify(&bad_sig, &gp_key()).err(),
        Some(DirectoryError::BadSignature)
    );
    // Another address slipped in, signature kept.
    let mut r = gp_record();
    r.addresses
        .push(vec![0x04, 203, 0, 113, 9, 0x06, 0x0f, 0xa1]);
    assert_eq!(
        verify(&encode(&r), &gp_key()).err(),
        Some(DirectoryError::BadSignature)
    );
    // A higher sequence number, signature kept.
    let mut r = gp_record();
    r.sequence += 1;
    assert_eq!(
        verify(&encode(&r), &gp_key()).err(),
        Some(DirectoryError::BadSignature)
    );
}

#[test]
fn record_signed_by_another_node_is_refused() {
    // The GP's credential, the cardiologist's node key: sign_record refuses,
    // and a record signed that way anyway does not verify.
    let err = sign_record(
        &cardio_node_key(),
        &gp_credential(),
        addresses(),
        1,
        published(),
        published().add_secs(DAY),
    )
    .expect_err("not the credential's key");
    assert_eq!(err, DirectoryError::NotCredentialKey);
    let forged = resign(gp_record(), &cardio_node_key());
    assert_eq!(
        verify(&forged, &gp_key()).err(),
        Some(DirectoryError::BadSignature)
    );
}

#[test]
fn record_for_another_practitioner_is_refused() {
    // The cardiologist's node, with its own genuine credential, publishes
    // a record under the GP's national id to draw the GP's dossiers.
    let mut r = sign_record(
        &cardio_node_key(),
        &cardio_credential(),
        addresses(),
        1,
        published(),
        published().add_secs(DAY),
    )
    .expect("sign_record");
    assert_eq!(r.national_id.as_str(), CARDIOLOGIST);
    r.national_id = gp_id();
    let forged = resign(r, &cardio_node_key());
    assert_eq!(
        verify(&forged, &gp_key()).err(),
        Some(DirectoryError::OtherPractitioner)
    );
}

#[test]
fn record_under_another_key_is_refused() {
    let bytes = encode(&gp_record());
    let cardio_key = directory_key(&NationalId::parse(CARDIOLOGIST).expect("id"));
    for key in [
        cardio_key,
        b"/confrere/dir/v1/".to_vec(),
        b"810001000016".to_vec(),
        b"/confrere/dir/v2/810001000016".to_vec(),
        Vec::new(),
    ] {
        assert_eq!(
            verify(&bytes, &key).err(),
            Some(DirectoryError::WrongKey),
            "{key:?}"
        );
    }
}

#[test]
fn credential_under_an_impostor_ca_is_refused() {
    // The verifier's own anchors decide: a record whose card chain leads to
    // a root it does not trust is refused, whatever the directory says.
    let bytes = encode(&gp_record());
    let impostor_trust = trust_store(&["impostor-root.pem"], &["crl.pem", "crl-root.pem"]);
    let err =
        verify_record(&bytes, &gp_key(), &impostor_trust, &auth_opts()).expect_err("untrusted");
    assert!(
        matches!(
            err,
            DirectoryError::Credential(CredentialError::Certificate(
                CertError::UnknownIssuer { .. }
            ))
        ),
        "{err:?}"
    );
}

#[test]
fn credential_without_a_current_crl_is_refused() {
    let bytes = encode(&gp_record());
    let no_crl = trust_store(&["root.pem"], &[]);
    let err = verify_record(&bytes, &gp_key(), &no_crl, &auth_opts()).expect_err("no CRL");
    assert!(
        matches!(
            err,
            DirectoryError::Credential(CredentialError::Certificate(CertError::CrlMissing { .. }))
        ),
        "{err:?}"
    );
}

#[test]
fn forged_credential_in_a_record_is_refused() {
    // The node key signs the record correctly, but the credential's card
    // signature was altered: the node does not speak for the GP.
    let mut cred = gp_credential().encode();
    let last = cred.len() - 1;
    cred[last] ^= 1;
    let mut r = gp_record();
    r.credential = NodeCredential::decode(&cred).expect("still decodes");
    let forged = resign(r, &gp_node_key());
    assert_eq!(
        verify(&forged, &gp_key()).err(),
        Some(DirectoryError::Credential(CredentialError::BadSignature))
    );
}

#[test]
fn credential_binding_a_non_ed25519_peer_id_is_refused() {
    // A secp256k1-looking PeerId: no Ed25519 key to check the record with.
    let mut peer_id = vec![0x00, 0x25, 0x08, 0x02, 0x12, 0x21];
    peer_id.extend_from_slice(&[0x02; 33]);
    let cred = credential_for("good-rsa", peer_id, CRED_NOT_AFTER);
    let mut r = gp_record();
    r.credential = cred.clone();
    let bytes = resign(r, &gp_node_key());
    assert_eq!(
        verify(&bytes, &gp_key()).err(),
        Some(DirectoryError::NotEd25519PeerId)
    );
    // And the node key cannot sign for it.
    let err = sign_record(
        &gp_node_key(),
        &cred,
        addresses(),
        1,
        published(),
        published().add_secs(DAY),
    )
    .expect_err("PeerId mismatch");
    assert_eq!(err, DirectoryError::NotCredentialKey);
}

// ----------------------------------------------------------------------------
// Rejections: times

#[test]
fn expired_record_is_refused() {
    let bytes = encode(&gp_record());
    let end = published().add_secs(DAY);
    verify_at(&bytes, end.add_secs(-1)).expect("valid until its end");
    assert_eq!(
        verify_at(&bytes, end).err(),
        Some(DirectoryError::Expired { expires_at: end })
    );
}

#[test]
fn record_from_the_future_is_refused() {
    let bytes = encode(&gp_record());
    verify_at(&bytes, published().add_secs(-MAX_CLOCK_SKEW)).expect("within the skew");
    assert_eq!(
        verify_at(&bytes, published().add_secs(-MAX_CLOCK_SKEW - 1)).err(),
        Some(DirectoryError::FromTheFuture {
            published_at: published()
        })
    );
}

#[test]
fn record_valid_too_long_or_not_at_all_is_refused() {
    // Published two minutes ahead (within the clock skew) so that a
    // record ending at or before its publication is not yet expired either:
    // only the validity itself is at fault.
    let ahead = test_instant().add_secs(120);
    for (published, validity, want) in [
        (
            published(),
            MAX_RECORD_VALIDITY + 1,
            DirectoryError::ValidityTooLong,
        ),
        (ahead, 0, DirectoryError::EmptyValidity),
        (ahead, -60, DirectoryError::EmptyValidity),
    ] {
        let expires = published.add_secs(validity);
        let err = sign_record(
            &gp_node_key(),
            &gp_credential(),
            addresses(),
            1,
            published,
            expires,
        )
        .expect_err("refused when signing");
        assert_eq!(err, want);
        let mut r = gp_record();
        r.published_at = published;
        r.expires_at = expires;
        let bytes = resign(r, &gp_node_key());
        assert_eq!(verify(&bytes, &gp_key()).err(), Some(want));
    }
    // The longest validity allowed is accepted.
    let r = sign_record(
        &gp_node_key(),
        &gp_credential(),
        addresses(),
        1,
        published(),
        published().add_secs(MAX_RECORD_VALIDITY),
    )
    .expect("48 hours");
    verify(&encode(&r), &gp_key()).expect("verifies");
}

#[test]
fn record_outliving_its_credential_is_refused() {
    // A credential ending twelve hours after the test instant (while the
    // test CRLs are current), and a record meant to last a day.
    let cred_end = test_instant().add_secs(12 * 3600);
    let cred = credential_for("good-rsa", gp_node_key().peer_id(), &cred_end.to_rfc3339());
    let expires = published().add_secs(DAY);
    let err = sign_record(&gp_node_key(), &cred, addresses(), 1, published(), expires)
        .expect_err("refused when signing");
    assert_eq!(err, DirectoryError::OutlivesCredential);
    let mut r = gp_record();
    r.credential = cred.clone();
    let bytes = resign(r, &gp_node_key());
    assert_eq!(
        verify(&bytes, &gp_key()).err(),
        Some(DirectoryError::OutlivesCredential)
    );
    // Ending with the credential is fine.
    let r = sign_record(&gp_node_key(), &cred, addresses(), 1, published(), cred_end)
        .expect("ends with the credential");
    verify(&encode(&r), &gp_key()).expect("verifies");
}

// ----------------------------------------------------------------------------
// Rejections: the encoding

#[test]
fn oversized_input_is_refused_before_decoding() {
    let mut bytes = encode(&gp_record());
    bytes.resize(MAX_RECORD_LEN + 1, 0);
    assert_eq!(
        verify(&bytes, &gp_key()).err(),
        Some(DirectoryError::TooLarge {
            len: MAX_RECORD_LEN + 1
        })
    );
    assert_eq!(
        DirectoryRecord::decode(&vec![0xff; 1 << 20]).err(),
        Some(DirectoryError::TooLarge { len: 1 << 20 })
    );
}

#[test]
fn too_many_or_bad_addresses_are_refused() {
    let sign = |addrs: Vec<Vec<u8>>| {
        sign_record(
            &gp_node_key(),
            &gp_credential(),
            addrs,
            1,
            published(),
            published().add_secs(DAY),
        )
    };
    let most = vec![vec![0x04, 192, 0, 2, 1, 0x06, 0x0f, 0xa1]; MAX_ADDRESSES];
    let r = sign(most.clone()).expect("16 addresses");
    verify(&encode(&r), &gp_key()).expect("verifies");
    let longest = vec![vec![0x2a; MAX_ADDRESS_LEN]];
    verify(&encode(&sign(longest).expect("256 bytes")), &gp_key()).expect("verifies");
    sign(Vec::new()).expect("no address yet");

    let mut too_many = most;
    too_many.push(vec![1]);
    assert_eq!(sign(too_many).err(), Some(DirectoryError::Addresses));
    assert_eq!(
        sign(vec![vec![0x2a; MAX_ADDRESS_LEN + 1]]).err(),
        Some(DirectoryError::Addresses)
    );
    assert_eq!(
        sign(vec![Vec::new()]).err(),
        Some(DirectoryError::Addresses)
    );

    // The same on the wire, written by hand after a one-address record.
    let one = encode(&sign(vec![vec![0x2a]]).expect("one address"));
    let count_at = one.len() - 64 - 3 - 1;
    assert_eq!(one[count_at], 1);
    let mut seventeen = one.clone();
    seventeen[count_at] = 17;
    assert_eq!(
        verify(&seventeen, &gp_key()).err(),
        Some(DirectoryError::Malformed(DecodeError::Invalid(
            "address count"
        )))
    );
    let long = [
        &one[..=count_at],
        &[0x01, 0x01][..],
        &[0x2a; 257],
        &one[one.len() - 64..],
    ]
    .concat();
    assert_eq!(
        verify(&long, &gp_key()).err(),
        Some(DirectoryError::Malformed(DecodeError::TooLong))
    );
    let empty = [&one[..=count_at], &[0x00, 0x00][..], &one[one.len() - 64..]].concat();
    assert_eq!(
        verify(&empty, &gp_key()).err(),
        Some(DirectoryError::Malformed(DecodeError::Invalid(
            "empty address"
        )))
    );
}

#[test]
fn trailing_bytes_version_and_national_id_are_checked() {
    let bytes = encode(&gp_record());
    let trailing = [&bytes[..], &[0]].concat();
    assert_eq!(
        verify(&trailing, &gp_key()).err(),
        Some(DirectoryError::Malformed(DecodeError::Trailing))
    );
    let mut v2 = bytes.clone();
    v2[0] = 2;
    assert_eq!(
        verify(&v2, &gp_key()).err(),
        Some(DirectoryError::Malformed(DecodeError::Version(2)))
    );
    // A national id failing its check digit.
    let mut bad_id = bytes.clone();
    bad_id[13] = b'7';
    assert_eq!(
        verify(&bad_id, &gp_key()).err(),
        Some(DirectoryError::Malformed(DecodeError::Invalid(
            "national id"
        )))
    );
    assert_eq!(
        verify(&bytes[..bytes.len() - 1], &gp_key()).err(),
        Some(DirectoryError::Malformed(DecodeError::Truncated))
    );
    assert_eq!(
        verify(&[], &gp_key()).err(),
        Some(DirectoryError::Malformed(DecodeError::Truncated))
    );
}

#[test]
fn errors_name_no_practitioner_or_address() {
    let errors = [
        DirectoryError::TooLarge { len: 99_999 },
        DirectoryError::WrongKey,
        DirectoryError::BadSignature,
        DirectoryError::OtherPractitioner,
        DirectoryError::Expired {
            expires_at: published(),
        },
        DirectoryError::FromTheFuture {
            published_at: published(),
        },
        DirectoryError::Addresses,
        DirectoryError::NotCredentialKey,
    ];
    for e in errors {
        let msg = e.to_string();
        assert!(!msg.contains(GP) && !msg.contains("cabinet"), "{msg}");
        assert!(msg.len() > 30, "{msg}");
    }
}

// ----------------------------------------------------------------------------
// Sets: the value under a key

/// The GP's second node (another site): its own key and credential.
fn gp_second_node_key() -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[0x33; 32]).expect("seed")
}

fn gp_second_record(sequence: u64) -> Vec<u8> {
    static CRED: OnceLock<NodeCredential> = OnceLock::new();
    let cred = CRED
        .get_or_init(|| credential_for("good-rsa", gp_second_node_key().peer_id(), CRED_NOT_AFTER));
    let r = sign_record(
        &gp_second_node_key(),
        cred,
        vec![vec![0x04, 198, 51, 100, 7, 0x06, 0x0f, 0xa1]],
        sequence,
        published(),
        published().add_secs(DAY),
    )
    .expect("sign_record");
    encode(&r)
}

#[test]
fn set_has_the_documented_layout() {
    let a = encode(&gp_record());
    let b = gp_second_record(1);
    let va = verify(&a, &gp_key()).expect("verifies");
    let vb = verify(&b, &gp_key()).expect("verifies");
    let set = encode_record_set(&[va, vb]);
    let len = |r: &[u8]| u16::try_from(r.len()).expect("short").to_be_bytes();
    assert_eq!(
        set,
        [&[2][..], &len(&a), &a, &len(&b), &b].concat(),
        "count, then each record with a u16 length"
    );
    assert_eq!(decode_record_set(&set), Ok(vec![&a[..], &b[..]]));
    assert_eq!(encode_record_set(&[]), vec![0]);
    assert_eq!(decode_record_set(&[0]), Ok(Vec::new()));
}

#[test]
fn set_keeps_every_node_of_a_practitioner_and_the_newest_of_each() {
    let mut held = Vec::new();
    let first = verify_record_set(
        &[
            &[2u8][..],
            &set_entry(&encode(&gp_record())),
            &set_entry(&gp_second_record(1)),
        ]
        .concat(),
        &gp_key(),
        &standard_trust(),
        &auth_opts(),
    )
    .expect("well formed");
    assert!(first.refused.is_empty(), "{:?}", first.refused);
    for r in first.records {
        assert_eq!(merge_record(&mut held, r), Decision::Keep { drop: vec![] });
    }
    assert_eq!(held.len(), 2, "both sites kept");
    // The second site publishes again: its newer record replaces its older one.
    let newer = verify(&gp_second_record(2), &gp_key()).expect("verifies");
    let at_old = held.iter().position(|r| r.sequence() == 1).expect("held");
    assert_eq!(
        merge_record(&mut held, newer),
        Decision::Keep { drop: vec![at_old] }
    );
    // The older one coming back (a stale directory node) changes nothing.
    let stale = verify(&gp_second_record(1), &gp_key()).expect("verifies");
    assert_eq!(
        merge_record(&mut held, stale),
        Decision::Ignore(Ignored::NotNewer)
    );
    let mut seqs: Vec<u64> = held.iter().map(VerifiedRecord::sequence).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, [2, 7]);
    // What a node serves is what it holds, and verifies again on arrival.
    let served = encode_record_set(&held);
    let again = verify_record_set(&served, &gp_key(), &standard_trust(), &auth_opts())
        .expect("well formed");
    assert_eq!(again.records.len(), 2);
}

fn set_entry(record: &[u8]) -> Vec<u8> {
    let len = u16::try_from(record.len()).expect("short").to_be_bytes();
    [&len[..], record].concat()
}

#[test]
fn refused_records_of_a_set_are_dropped_and_said_why() {
    let good = encode(&gp_record());
    let forged = resign(gp_record(), &cardio_node_key());
    let set = [&[2u8][..], &set_entry(&forged), &set_entry(&good)].concat();
    let v = verify_record_set(&set, &gp_key(), &standard_trust(), &auth_opts()).expect("framing");
    assert_eq!(v.records.len(), 1);
    assert_eq!(v.records[0].encoded(), good.as_slice());
    assert_eq!(v.refused, vec![DirectoryError::BadSignature]);
    // Under another key, every record is refused; the set itself is not.
    let cardio_key = directory_key(&NationalId::parse(CARDIOLOGIST).expect("id"));
    let v = verify_record_set(&set, &cardio_key, &standard_trust(), &auth_opts()).expect("framing");
    assert!(v.records.is_empty());
    assert_eq!(v.refused, vec![DirectoryError::WrongKey; 2]);
}

#[test]
fn malformed_sets_are_refused() {
    let good = set_entry(&encode(&gp_record()));
    let check = |bytes: &[u8], want: DirectoryError| {
        assert_eq!(decode_record_set(bytes).err(), Some(want.clone()));
        assert_eq!(
            verify_record_set(bytes, &gp_key(), &standard_trust(), &auth_opts()).err(),
            Some(want)
        );
    };
    let nine = u8::try_from(MAX_RECORDS_PER_ID + 1).expect("small");
    check(
        &[&[nine][..], &good.repeat(MAX_RECORDS_PER_ID + 1)].concat(),
        DirectoryError::Malformed(DecodeError::Invalid("record count")),
    );
    check(
        &[&[1][..], &good, &[0]].concat(),
        DirectoryError::Malformed(DecodeError::Trailing),
    );
    check(&[2][..], DirectoryError::Malformed(DecodeError::Truncated));
    check(&[], DirectoryError::Malformed(DecodeError::Truncated));
    let mut long = vec![1, 0x40, 0x01];
    long.extend_from_slice(&[0; MAX_RECORD_LEN + 1]);
    check(&long, DirectoryError::Malformed(DecodeError::TooLong));
    check(
        &vec![0; MAX_SET_LEN + 1],
        DirectoryError::TooLarge {
            len: MAX_SET_LEN + 1,
        },
    );
    // The largest set allowed is read.
    let full = [&[8u8][..], &good.repeat(MAX_RECORDS_PER_ID)].concat();
    assert_eq!(decode_record_set(&full).map(|v| v.len()), Ok(8));
}

// ----------------------------------------------------------------------------
// Round trip and damaged input

fn national_id() -> impl Strategy<Value = NationalId> {
    prop_oneof![
        Just(GP.to_owned()),
        Just(CARDIOLOGIST.to_owned()),
        Just("0759912345".to_owned()),
        "3[A-Za-z0-9]{0,31}",
    ]
    .prop_map(|s| NationalId::parse(&s).expect("valid id"))
}

fn record_strategy() -> impl Strategy<Value = DirectoryRecord> {
    (
        national_id(),
        prop::bool::ANY,
        prop::collection::vec(
            prop::collection::vec(any::<u8>(), 1..=MAX_ADDRESS_LEN),
            0..=MAX_ADDRESSES,
        ),
        any::<u64>(),
        any::<i64>(),
        any::<i64>(),
        prop::collection::vec(any::<u8>(), 64),
    )
        .prop_map(|(id, gp, addrs, seq, p, e, sig)| DirectoryRecord {
            national_id: id,
            credential: if gp {
                gp_credential()
            } else {
                cardio_credential()
            },
            addresses: addrs,
            sequence: seq,
            published_at: UnixTime::from_secs(p),
            expires_at: UnixTime::from_secs(e),
            signature: sig.try_into().expect("64 bytes"),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn record_round_trip(r in record_strategy()) {
        let bytes = encode(&r);
        prop_assert!(bytes.len() <= MAX_RECORD_LEN);
        let decoded = DirectoryRecord::decode(&bytes).expect("decodes");
        prop_assert_eq!(&decoded, &r);
        prop_assert_eq!(encode(&decoded), bytes);
    }

    #[test]
    fn signed_records_verify(
        addrs in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..=64), 0..=4),
        seq in any::<u64>(),
        ago in 0..DAY,
        validity in 1..=MAX_RECORD_VALIDITY,
    ) {
        let published = test_instant().add_secs(-ago);
        let expires = published.add_secs(validity);
        let r = sign_record(&gp_node_key(), &gp_credential(), addrs.clone(), seq, published, expires)
            .expect("signs");
        let got = verify(&encode(&r), &gp_key());
        if expires <= test_instant() {
            prop_assert_eq!(got.err(), Some(DirectoryError::Expired { expires_at: expires }));
        } else {
            let v = got.expect("verifies");
            prop_assert_eq!(v.addresses(), addrs.as_slice());
            prop_assert_eq!(v.sequence(), seq);
        }
    }

    #[test]
    fn damaged_records_never_panic_nor_verify_changed(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        static GOOD: OnceLock<Vec<u8>> = OnceLock::new();
        let good = GOOD.get_or_init(|| encode(&gp_record()));
        let bytes = damaged(good, &edits, cut);
        if let Ok(v) = verify(&bytes, &gp_key()) {
            prop_assert_eq!(&bytes, good);
            prop_assert_eq!(v.encoded(), good.as_slice());
        }
    }

    #[test]
    fn set_framing_round_trip(
        records in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..=MAX_RECORDS_PER_ID),
    ) {
        let count = u8::try_from(records.len()).expect("small");
        let framed: Vec<u8> = std::iter::once(vec![count])
            .chain(records.iter().map(|r| set_entry(r)))
            .flatten()
            .collect();
        let decoded = decode_record_set(&framed).expect("decodes");
        prop_assert_eq!(decoded, records.iter().map(Vec::as_slice).collect::<Vec<_>>());
    }

    #[test]
    fn damaged_sets_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        static GOOD: OnceLock<Vec<u8>> = OnceLock::new();
        let good = GOOD.get_or_init(|| {
            let r = verify(&encode(&gp_record()), &gp_key()).expect("verifies");
            encode_record_set(&[r])
        });
        let bytes = damaged(good, &edits, cut);
        if let Ok(v) = verify_record_set(&bytes, &gp_key(), &standard_trust(), &auth_opts()) {
            if !v.records.is_empty() {
                prop_assert_eq!(&bytes, good);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = DirectoryRecord::decode(&bytes);
        if let Ok(v) = verify_record_set(&bytes, &gp_key(), &standard_trust(), &auth_opts()) {
            prop_assert!(v.records.is_empty());
        }
        prop_assert!(verify(&bytes, &gp_key()).is_err());
        let framed = [&[1, 12][..], GP.as_bytes(), &bytes].concat();
        prop_assert!(verify(&framed, &gp_key()).is_err());
        if let Ok(r) = DirectoryRecord::decode(&framed) {
            prop_assert_eq!(encode(&r), framed);
        }
    }
}
