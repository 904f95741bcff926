//! The Confrère session against the OpenSSL fixture PKI
//! (`fixtures/openssl/`, all valid at 2025-06-01T00:00:00Z): a full mutual
//! handshake and traffic, every rejection the handshake must make, and the
//! wire messages (frames, handshake payload) tested by fixed bytes, by
//! round trip and on damaged input.
//!
//! Where a test needs a misbehaving peer it drives `snow` by hand with the
//! same Noise parameters, the way an attacker would.

// Tests may unwrap: a panic is a failure with its location.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::path::PathBuf;
use std::sync::Arc;

use confrere_protocol::codec::DecodeError;
use confrere_protocol::credential::CREDENTIAL_DOMAIN;
use confrere_protocol::keys::NoiseKeypair;
use confrere_protocol::session::frame::{MAX_FRAME_BODY_LEN, MAX_FRAME_LEN};
use confrere_protocol::session::{
    encode_frame, ConfigError, Established, Fault, FrameDecoder, FrameError, HandshakePayload,
    Initiator, InitiatorAwaitingResponse, Responder, ResponderAwaitingFinish, SessionConfig,
    SessionError, MAX_CREDENTIAL_LEN, MAX_PLAINTEXT_LEN, NOISE_PARAMS, PROLOGUE, SESSION_VERSION,
};
use confrere_protocol::{
    issue_credential, parse_certificates, parse_crls, verify_certificate, CardSigner, CertError,
    Certificate, CredentialError, NodeCredential, Pkcs8Signer, RevocationCheck, TrustStore,
    UnixTime, VerifyOptions,
};
use proptest::prelude::*;

/// The fixtures' test instant, 2025-06-01T00:00:00Z.
const NOW: UnixTime = UnixTime::from_secs(1_748_736_000);
const DAY: i64 = 86_400;

// ---------------------------------------------------------------- fixtures

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/openssl")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

fn cert(name: &str) -> Certificate {
    parse_certificates(&fixture(name))
        .expect("certificate")
        .remove(0)
}

/// Trust anchored at `anchor`, with the given CRLs (DER or PEM files).
fn trust_with(anchor: &str, crls: &[Vec<u8>]) -> Arc<TrustStore> {
    let mut t = TrustStore::new(vec![cert(anchor)]);
    for c in crls {
        for crl in parse_crls(c).expect("crl") {
            t.add_crl(crl);
        }
    }
    Arc::new(t)
}

/// The normal trust: the fixture root and both CRLs (leaf and intermediate
/// checked for revocation).
fn trust() -> Arc<TrustStore> {
    trust_with("root.pem", &[fixture("crl.pem"), fixture("crl-root.pem")])
}

fn signer(name: &str) -> Pkcs8Signer {
    Pkcs8Signer::from_pem_or_der(
        &fixture(&format!("{name}.key.pem")),
        &cert(&format!("{name}.pem")),
    )
    .expect("signer")
}

/// A credential from the practitioner `name` (fixture stem) for `key`.
fn issue(
    name: &str,
    key: &NoiseKeypair,
    chain: &[&str],
    nb: UnixTime,
    na: UnixTime,
) -> NodeCredential {
    let leaf = cert(&format!("{name}.pem"));
    let good_chain = [cert("intermediate.pem")];
    let verified = verify_certificate(
        &leaf,
        &good_chain,
        &trust(),
        &VerifyOptions::authentication(NOW),
    )
    .expect("fixture certificate verifies");
    let chain: Vec<Certificate> = chain.iter().map(|c| cert(c)).collect();
    issue_credential(
        &signer(name),
        &verified,
        &chain,
        *key.public(),
        format!("peer-{name}").into_bytes(),
        nb,
        na,
    )
    .expect("credential")
}

fn config_with(
    key: NoiseKeypair,
    credential: NodeCredential,
    trust: Arc<TrustStore>,
) -> SessionConfig {
    SessionConfig {
        noise_key: key,
        credential,
        trust,
        revocation: RevocationCheck::Required,
    }
}

/// A node for the practitioner `name`, credential valid a month around NOW.
fn node(name: &str) -> SessionConfig {
    let key = NoiseKeypair::generate().expect("key");
    let cred = issue(
        name,
        &key,
        &["intermediate.pem"],
        NOW.add_secs(-30 * DAY),
        NOW.add_secs(30 * DAY),
    );
    config_with(key, cred, trust())
}

/// The body of one frame, checking its header.
fn body(frame: &[u8]) -> &[u8] {
    assert!(frame.len() >= 2);
    let len = usize::from(u16::from_be_bytes([frame[0], frame[1]]));
    assert_eq!(frame.len(), 2 + len, "frame length prefix");
    &frame[2..]
}

#[derive(Debug, PartialEq)]
enum Side {
    Initiator,
    Responder,
}

/// A whole handshake, each side with its own clock.
fn run(
    a: &SessionConfig,
    b: &SessionConfig,
    now_a: UnixTime,
    now_b: UnixTime,
) -> Result<(Established, Established), (Side, SessionError)> {
    let ini = |e| (Side::Initiator, e);
    let res = |e| (Side::Responder, e);
    let (i, m1) = Initiator::new(a)
        .and_then(Initiator::write_hello)
        .map_err(ini)?;
    let (r, m2) = Responder::new(b)
        .and_then(|r| r.read_hello(body(&m1), now_b))
        .map_err(res)?;
    let (ei, m3) = i.read_response(body(&m2), now_a).map_err(ini)?;
    let er = r.read_finish(body(&m3), now_b).map_err(res)?;
    Ok((ei, er))
}

fn handshake(
    a: &SessionConfig,
    b: &SessionConfig,
) -> Result<(Established, Established), (Side, SessionError)> {
    run(a, b, NOW, NOW)
}

// ----------------------------------------------- hand-driven Noise peers

fn raw(secret: &[u8], initiator: bool, prologue: &[u8]) -> snow::HandshakeState {
    let b = snow::Builder::new(NOISE_PARAMS.parse().unwrap())
        .local_private_key(secret)
        .unwrap()
        .prologue(prologue)
        .unwrap();
    if initiator {
        b.build_initiator()
    } else {
        b.build_responder()
    }
    .unwrap()
}

fn raw_write(hs: &mut snow::HandshakeState, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 65_535];
    let n = hs.write_message(payload, &mut out).unwrap();
    out.truncate(n);
    out
}

fn raw_read(hs: &mut snow::HandshakeState, msg: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 65_535];
    let n = hs.read_message(msg, &mut out).unwrap();
    out.truncate(n);
    out
}

fn payload_of(cred: &NodeCredential) -> Vec<u8> {
    HandshakePayload::new(cred.encode()).unwrap().encode()
}

/// A hand-driven initiator with `key` sending `msg3_payload` against the
/// responder `b`: returns what `b`'s `read_finish` says.
fn raw_initiator_against(
    key: &NoiseKeypair,
    prologue: &[u8],
    msg3_payload: &[u8],
    b: &SessionConfig,
) -> Result<Established, SessionError> {
    let mut hs = raw(key.secret(), true, prologue);
    let m1 = raw_write(&mut hs, &[SESSION_VERSION]);
    let (r, m2) = Responder::new(b).unwrap().read_hello(&m1, NOW)?;
    raw_read(&mut hs, body(&m2));
    let m3 = raw_write(&mut hs, msg3_payload);
    r.read_finish(&m3, NOW)
}

/// A hand-driven responder with `key` sending `msg2_payload` to the
/// initiator `a`: returns what `a`'s `read_response` says.
fn raw_responder_against(
    key: &NoiseKeypair,
    prologue: &[u8],
    msg2_payload: &[u8],
    a: &SessionConfig,
) -> Result<(Established, Vec<u8>), SessionError> {
    let mut hs = raw(key.secret(), false, prologue);
    let (i, m1) = Initiator::new(a).unwrap().write_hello().unwrap();
    raw_read(&mut hs, body(&m1));
    let m2 = raw_write(&mut hs, msg2_payload);
    i.read_response(&m2, NOW)
}

// -------------------------------------------------- the happy path

/// Passes framed bytes through a stream decoder in `chunk`-byte reads.
fn through_stream(decoder: &mut FrameDecoder, bytes: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for piece in bytes.chunks(chunk) {
        let mut input = piece;
        while !input.is_empty() {
            let taken = decoder.push(input);
            input = &input[taken..];
            while let Some(b) = decoder.pop().expect("valid frames") {
                out.push(b);
            }
        }
    }
    out
}

#[test]
fn mutual_handshake_rsa_and_ecdsa_then_traffic_both_ways() {
    let a = node("good-rsa");
    let b = node("good-ecdsa");
    // The bytes cross two streams, read in odd-sized pieces.
    let mut to_b = FrameDecoder::new();
    let mut to_a = FrameDecoder::new();
    let (i, m1) = Initiator::new(&a).unwrap().write_hello().unwrap();
    assert_eq!(m1.len(), 2 + 32 + 1, "msg1 = e + version");
    let m1 = through_stream(&mut to_b, &m1, 7).remove(0);
    let (r, m2) = Responder::new(&b).unwrap().read_hello(&m1, NOW).unwrap();
    let m2 = through_stream(&mut to_a, &m2, 1000).remove(0);
    let (mut ei, m3) = i.read_response(&m2, NOW).unwrap();
    let m3 = through_stream(&mut to_b, &m3, 3).remove(0);
    let mut er = r.read_finish(&m3, NOW).unwrap();

    // Each side knows who the other is.
    assert_eq!(ei.peer().identity().national_id.as_str(), "810001000024");
    assert_eq!(ei.peer().identity().surname, "MARTIN-TESTECDSA");
    assert_eq!(er.peer().identity().national_id.as_str(), "810001000016");
    assert_eq!(er.peer().identity().profession_code, Some(10));
    assert_eq!(ei.peer().noise_static(), b.noise_key.public());
    assert_eq!(er.peer().noise_static(), a.noise_key.public());
    assert_eq!(ei.peer().peer_id(), b"peer-good-ecdsa");
    assert_eq!(ei.peer().credential_not_after(), NOW.add_secs(30 * DAY));
    assert_eq!(ei.handshake_hash(), er.handshake_hash());
    assert!(ei.is_initiator() && !er.is_initiator());

    // Traffic both ways, including an empty and a maximal message.
    let max = vec![0x5a; MAX_PLAINTEXT_LEN];
    for msg in [&b"referral"[..], &[], &max, b"ack"] {
        let frame = ei.seal(msg).unwrap();
        let received = through_stream(&mut to_b, &frame, 4096);
        assert_eq!(received, vec![body(&frame).to_vec()]);
        let out = er.open(&received[0]).unwrap();
        assert_eq!(out, msg);
        let back = er.seal(msg).unwrap();
        assert_eq!(ei.open(body(&back)).unwrap(), msg);
    }
    let frame = ei.seal(&max).unwrap();
    assert_eq!(
        frame.len(),
        MAX_FRAME_LEN,
        "a maximal message fills a maximal frame"
    );
    er.open(body(&frame)).unwrap();

    // One byte more does not fit, and the session stays usable.
    let too_long = vec![0; MAX_PLAINTEXT_LEN + 1];
    assert_eq!(
        ei.seal(&too_long),
        Err(SessionError::PlaintextTooLong {
            len: MAX_PLAINTEXT_LEN + 1
        })
    );
    let frame = ei.seal(b"still open").unwrap();
    assert_eq!(er.open(body(&frame)).unwrap(), b"still open");
    assert_eq!(ei.stats().sent_messages, 6);
    assert_eq!(er.stats().received_messages, 6);
    assert_eq!(ei.stats().sent_bytes, er.stats().received_bytes);
    assert!(to_a.finish().is_ok() && to_b.finish().is_ok());

    // The peer's credential ends: a long session notices.
    assert_eq!(ei.check_peer_still_valid(NOW), Ok(()));
    assert!(matches!(
        ei.check_peer_still_valid(NOW.add_secs(31 * DAY)),
        Err(SessionError::Credential(CredentialError::Expired { .. }))
    ));
}

#[test]
fn ecdsa_initiator_and_rsa_responder() {
    let (mut i, mut r) = handshake(&node("good-ecdsa"), &node("good-rsa")).unwrap();
    assert_eq!(i.peer().identity().national_id.as_str(), "810001000016");
    assert_eq!(r.peer().identity().national_id.as_str(), "810001000024");
    let f = r.seal(b"hello").unwrap();
    assert_eq!(i.open(body(&f)).unwrap(), b"hello");
}

#[test]
fn each_session_has_its_own_keys() {
    let (a, b) = (node("good-rsa"), node("other-good-rsa"));
    let (mut i1, _) = handshake(&a, &b).unwrap();
    let (_, mut r2) = handshake(&a, &b).unwrap();
    assert_ne!(i1.handshake_hash(), r2.handshake_hash());
    let f = i1.seal(b"for session 1").unwrap();
    assert_eq!(r2.open(body(&f)), Err(SessionError::Decrypt));
}

// ------------------------------------------- rejections: the peer's identity

/// A credential for `key` carrying good-rsa's certificate but signed with
/// other-good-rsa's card key.
fn credential_signed_by_another_card(key: &NoiseKeypair) -> NodeCredential {
    let genuine = issue(
        "good-rsa",
        key,
        &["intermediate.pem"],
        NOW.add_secs(-DAY),
        NOW.add_secs(DAY),
    );
    let enc = genuine.encode();
    // credential = body | scheme:u8 | signature:bytes16 (RSA-2048: 256 bytes)
    let body_len = enc.len() - 1 - 2 - 256;
    assert_eq!(&enc[body_len..body_len + 3], &[1, 1, 0]);
    let body = &enc[..body_len];
    let mut msg = CREDENTIAL_DOMAIN.to_vec();
    msg.extend_from_slice(body);
    let sig = signer("other-good-rsa").sign(&msg).unwrap();
    let mut forged = body.to_vec();
    forged.push(1);
    forged.extend_from_slice(&(sig.len() as u16).to_be_bytes());
    forged.extend_from_slice(&sig);
    NodeCredential::decode(&forged).expect("well-formed forgery")
}

#[test]
fn a_credential_signed_by_another_card_is_refused_by_both_roles() {
    let key = NoiseKeypair::generate().unwrap();
    let forged = config_with(
        key.clone(),
        credential_signed_by_another_card(&key),
        trust(),
    );
    let honest = node("good-ecdsa");
    let bad = Err(SessionError::Credential(CredentialError::BadSignature));
    assert_eq!(
        handshake(&forged, &honest).map(|_| ()),
        bad.clone().map_err(|e| (Side::Responder, e))
    );
    assert_eq!(
        handshake(&honest, &forged).map(|_| ()),
        bad.map_err(|e| (Side::Initiator, e))
    );
}

#[test]
fn a_credential_binding_another_noise_key_is_refused() {
    // The thief holds its own Noise key and presents the victim's (public)
    // credential.
    let victim = node("good-rsa");
    let thief = NoiseKeypair::generate().unwrap();
    let honest = node("good-ecdsa");
    let stolen = payload_of(&victim.credential);
    let wrong = SessionError::Credential(CredentialError::WrongNoiseKey);
    assert_eq!(
        raw_initiator_against(&thief, PROLOGUE, &stolen, &honest).err(),
        Some(wrong.clone())
    );
    assert_eq!(
        raw_responder_against(&thief, PROLOGUE, &stolen, &honest).err(),
        Some(wrong)
    );
    // Controls: with the victim's key, the same hand-driven peers pass.
    assert!(raw_initiator_against(&victim.noise_key, PROLOGUE, &stolen, &honest).is_ok());
    assert!(raw_responder_against(&victim.noise_key, PROLOGUE, &stolen, &honest).is_ok());
}

#[test]
fn our_own_credential_for_another_key_is_a_local_error() {
    let mut c = node("good-rsa");
    c.noise_key = NoiseKeypair::generate().unwrap();
    let e = SessionError::Config(ConfigError::CredentialKeyMismatch);
    assert_eq!(Initiator::new(&c).err(), Some(e.clone()));
    assert_eq!(Responder::new(&c).err(), Some(e.clone()));
    assert_eq!(e.fault(), Fault::Local);
}

#[test]
fn an_expired_credential_is_refused() {
    // The initiator's credential ended yesterday; its clock is behind, so
    // it still sends it. The responder refuses it at its own `now`.
    let key = NoiseKeypair::generate().unwrap();
    let na = NOW.add_secs(-DAY);
    let cred = issue(
        "good-rsa",
        &key,
        &["intermediate.pem"],
        NOW.add_secs(-10 * DAY),
        na,
    );
    let late = config_with(key, cred, trust());
    let honest = node("good-ecdsa");
    let err = run(&late, &honest, NOW.add_secs(-2 * DAY), NOW).err();
    assert_eq!(
        err,
        Some((
            Side::Responder,
            SessionError::Credential(CredentialError::Expired { not_after: na })
        ))
    );
    // With a right clock, the node refuses to send it at all.
    let err = run(&late, &honest, NOW, NOW).err();
    assert_eq!(
        err,
        Some((
            Side::Initiator,
            SessionError::Config(ConfigError::OwnCredentialExpired { not_after: na })
        ))
    );
    let err = run(&honest, &late, NOW, NOW).err();
    assert_eq!(
        err,
        Some((
            Side::Responder,
            SessionError::Config(ConfigError::OwnCredentialExpired { not_after: na })
        ))
    );
}

#[test]
fn a_credential_not_yet_valid_is_refused() {
    let key = NoiseKeypair::generate().unwrap();
    let nb = NOW.add_secs(DAY);
    let cred = issue(
        "good-ecdsa",
        &key,
        &["intermediate.pem"],
        nb,
        NOW.add_secs(10 * DAY),
    );
    let early = config_with(key, cred, trust());
    let honest = node("good-rsa");
    let err = run(&honest, &early, NOW, NOW.add_secs(2 * DAY)).err();
    assert_eq!(
        err,
        Some((
            Side::Initiator,
            SessionError::Credential(CredentialError::NotYetValid { not_before: nb })
        ))
    );
}

#[test]
fn an_expired_ca_certificate_in_the_chain_is_refused() {
    // The credential ships the expired copy of the intermediate, and the
    // verifier knows no other.
    let key = NoiseKeypair::generate().unwrap();
    let cred = issue(
        "good-rsa",
        &key,
        &["intermediate-expired.pem"],
        NOW.add_secs(-DAY),
        NOW.add_secs(DAY),
    );
    let stale_chain = config_with(key, cred, trust());
    let err = handshake(&node("good-ecdsa"), &stale_chain).err();
    assert!(
        matches!(
            err,
            Some((
                Side::Initiator,
                SessionError::Credential(CredentialError::Certificate(
                    CertError::CaOutsideValidity { .. }
                ))
            ))
        ),
        "{err:?}"
    );
}

#[test]
fn an_untrusted_ca_is_refused() {
    // The responder trusts only the impostor hierarchy's root.
    let mut b = node("good-ecdsa");
    b.trust = trust_with("impostor-root.pem", &[]);
    b.revocation = RevocationCheck::Off;
    let err = handshake(&node("good-rsa"), &b).err();
    assert!(
        matches!(
            err,
            Some((
                Side::Responder,
                SessionError::Credential(CredentialError::Certificate(
                    CertError::UnknownIssuer { .. }
                ))
            ))
        ),
        "{err:?}"
    );
    let (_, e) = err.unwrap();
    assert_eq!(e.fault(), Fault::PeerIdentity);
}

/// The fixture CRL re-signed by the intermediate with good-rsa's serial
/// (0x1000) in place of revoked.pem's (0x1008).
fn crl_revoking_good_rsa() -> Vec<u8> {
    let mut der = fixture("crl.der");
    // CertificateList = SEQUENCE(4-byte header) { tbsCertList SEQUENCE, alg, BIT STRING }
    assert_eq!(&der[..2], &[0x30, 0x82]);
    let (tbs_start, tbs_len) = match der[5] {
        0x81 => (4, 3 + usize::from(der[6])),
        0x82 => (4, 4 + usize::from(u16::from_be_bytes([der[6], der[7]]))),
        l => panic!("unexpected TBS length form {l:#x}"),
    };
    let tbs = &mut der[tbs_start..tbs_start + tbs_len];
    let at = tbs
        .windows(4)
        .position(|w| w == [0x02, 0x02, 0x10, 0x08])
        .expect("revoked serial");
    tbs[at + 3] = 0x00;
    let sig =
        Pkcs8Signer::from_pem_or_der(&fixture("intermediate.key.pem"), &cert("intermediate.pem"))
            .unwrap()
            .sign(tbs)
            .unwrap();
    assert_eq!(sig.len(), 512);
    let n = der.len();
    der[n - 512..].copy_from_slice(&sig);
    der
}

#[test]
fn a_revoked_certificate_is_refused() {
    let mut b = node("good-ecdsa");
    b.trust = trust_with(
        "root.pem",
        &[crl_revoking_good_rsa(), fixture("crl-root.pem")],
    );
    let err = handshake(&node("good-rsa"), &b).err();
    assert!(
        matches!(
            &err,
            Some((Side::Responder, SessionError::Credential(CredentialError::Certificate(CertError::Revoked { revoked_at, .. }))))
                if revoked_at.to_rfc3339() == "2025-04-01T00:00:00Z"
        ),
        "{err:?}"
    );
    // Control: the same re-signed CRL does not touch good-ecdsa.
    assert!(handshake(&node("good-ecdsa"), &b).is_ok());
}

#[test]
fn without_a_crl_revocation_cannot_be_checked_and_the_peer_is_refused() {
    let mut b = node("good-ecdsa");
    b.trust = trust_with("root.pem", &[]);
    let err = handshake(&node("good-rsa"), &b).err();
    assert!(
        matches!(
            err,
            Some((
                Side::Responder,
                SessionError::Credential(CredentialError::Certificate(
                    CertError::CrlMissing { .. }
                ))
            ))
        ),
        "{err:?}"
    );
    b.revocation = RevocationCheck::Off;
    assert!(handshake(&node("good-rsa"), &b).is_ok());
}

// ------------------------------------------ rejections: the peer's messages

#[test]
fn another_protocol_version_is_refused() {
    let a = node("good-rsa");
    let b = node("good-ecdsa");
    // msg1 announcing version 1 (without attachments), then version 3.
    for version in [1u8, 3] {
        let key = NoiseKeypair::generate().unwrap();
        let mut hs = raw(key.secret(), true, PROLOGUE);
        let m1 = raw_write(&mut hs, &[version, 0xff]);
        assert_eq!(
            Responder::new(&b).unwrap().read_hello(&m1, NOW).err(),
            Some(SessionError::UnsupportedVersion(version))
        );
        // A handshake payload of that version in msg3.
        let mut other = payload_of(&a.credential);
        other[0] = version;
        assert_eq!(
            raw_initiator_against(&a.noise_key, PROLOGUE, &other, &b).err(),
            Some(SessionError::UnsupportedVersion(version))
        );
    }
    // A responder with another prologue (protocol or version): its msg2
    // does not decrypt.
    assert_eq!(
        raw_responder_against(
            &b.noise_key,
            b"confrere/session/v1",
            &payload_of(&b.credential),
            &a
        )
        .err(),
        Some(SessionError::Decrypt)
    );
    // Garbage instead of a payload or a credential.
    assert_eq!(
        raw_initiator_against(&a.noise_key, PROLOGUE, &[2, 0], &b).err(),
        Some(SessionError::MalformedPayload(DecodeError::Truncated))
    );
    assert!(matches!(
        raw_initiator_against(&a.noise_key, PROLOGUE, &[2, 0, 3, 9, 9, 9], &b).err(),
        Some(SessionError::Credential(CredentialError::Malformed(_)))
    ));
}

#[test]
fn replayed_handshake_messages_are_refused() {
    let a = node("good-rsa");
    let b = node("good-ecdsa");
    // A recorded session.
    let (i, m1) = Initiator::new(&a).unwrap().write_hello().unwrap();
    let (r, m2) = Responder::new(&b)
        .unwrap()
        .read_hello(body(&m1), NOW)
        .unwrap();
    let (mut ei, m3) = i.read_response(body(&m2), NOW).unwrap();
    let (r_again, _) = Responder::new(&b)
        .unwrap()
        .read_hello(body(&m1), NOW)
        .unwrap();
    let _er = r.read_finish(body(&m3), NOW).unwrap();

    // msg1 twice to the same responder: the second comes where msg3 is due.
    let (r2, _) = Responder::new(&b)
        .unwrap()
        .read_hello(body(&m1), NOW)
        .unwrap();
    assert_eq!(
        r2.read_finish(body(&m1), NOW).err(),
        Some(SessionError::MalformedHandshake)
    );
    // msg2 twice to the initiator: the second lands in the transport phase.
    assert_eq!(ei.open(body(&m2)), Err(SessionError::Decrypt));
    // The recorded msg3 replayed to a responder that answered the replayed
    // msg1 with a fresh ephemeral key.
    assert_eq!(
        r_again.read_finish(body(&m3), NOW).err(),
        Some(SessionError::Decrypt)
    );
    // The recorded msg2 replayed to a new initiator.
    let (i2, _) = Initiator::new(&a).unwrap().write_hello().unwrap();
    assert_eq!(
        i2.read_response(body(&m2), NOW).err(),
        Some(SessionError::Decrypt)
    );
}

#[test]
fn reordered_handshake_messages_are_refused() {
    let a = node("good-rsa");
    let b = node("good-ecdsa");
    let (i, m1) = Initiator::new(&a).unwrap().write_hello().unwrap();
    let (r, m2) = Responder::new(&b)
        .unwrap()
        .read_hello(body(&m1), NOW)
        .unwrap();
    let (_, m3) = i.read_response(body(&m2), NOW).unwrap();
    let _ = r;

    // msg1 where msg2 is due.
    let (i, _) = Initiator::new(&a).unwrap().write_hello().unwrap();
    assert_eq!(
        i.read_response(body(&m1), NOW).err(),
        Some(SessionError::MalformedHandshake)
    );
    // msg3 where msg2 is due.
    let (i, _) = Initiator::new(&a).unwrap().write_hello().unwrap();
    assert_eq!(
        i.read_response(body(&m3), NOW).err(),
        Some(SessionError::Decrypt)
    );
    // msg1 where msg3 is due.
    let (_, m1b) = Initiator::new(&a).unwrap().write_hello().unwrap();
    let (r, _) = Responder::new(&b)
        .unwrap()
        .read_hello(body(&m1b), NOW)
        .unwrap();
    assert_eq!(
        r.read_finish(body(&m1), NOW).err(),
        Some(SessionError::MalformedHandshake)
    );
    // msg2 or msg3 where msg1 is due: what follows the "ephemeral key" is
    // ciphertext, read as a version byte and a payload.
    for m in [&m2, &m3] {
        let e = Responder::new(&b)
            .unwrap()
            .read_hello(body(m), NOW)
            .unwrap_err();
        assert!(
            matches!(
                e,
                SessionError::UnsupportedVersion(_) | SessionError::MalformedPayload(_)
            ),
            "{e:?}"
        );
        assert_eq!(e.fault(), Fault::Peer);
    }
    // Transport messages out of order.
    let (mut ei, mut er) = handshake(&a, &b).unwrap();
    let f1 = ei.seal(b"one").unwrap();
    let f2 = ei.seal(b"two").unwrap();
    assert_eq!(er.open(body(&f2)), Err(SessionError::Decrypt));
    assert_eq!(
        er.open(body(&f1)),
        Err(SessionError::Closed),
        "a failed session stays closed"
    );
    assert_eq!(er.seal(b"x"), Err(SessionError::Closed));
    // A transport message replayed.
    let (mut ei, mut er) = handshake(&a, &b).unwrap();
    let f1 = ei.seal(b"one").unwrap();
    assert_eq!(er.open(body(&f1)).unwrap(), b"one");
    assert_eq!(er.open(body(&f1)), Err(SessionError::Decrypt));
}

/// A fresh initiator waiting for msg2, and a valid msg2 for it (body).
fn expecting_msg2(a: &SessionConfig, b: &SessionConfig) -> (InitiatorAwaitingResponse, Vec<u8>) {
    let (i, m1) = Initiator::new(a).unwrap().write_hello().unwrap();
    let (_, m2) = Responder::new(b)
        .unwrap()
        .read_hello(body(&m1), NOW)
        .unwrap();
    (i, body(&m2).to_vec())
}

/// A fresh responder waiting for msg3, and a valid msg3 for it (body) from
/// a hand-driven initiator holding `a`'s key and credential (so that no
/// credential is verified before the message under test).
fn expecting_msg3(a: &SessionConfig, b: &SessionConfig) -> (ResponderAwaitingFinish, Vec<u8>) {
    let mut hs = raw(a.noise_key.secret(), true, PROLOGUE);
    let m1 = raw_write(&mut hs, &[SESSION_VERSION]);
    let (r, m2) = Responder::new(b).unwrap().read_hello(&m1, NOW).unwrap();
    raw_read(&mut hs, body(&m2));
    (r, raw_write(&mut hs, &payload_of(&a.credential)))
}

/// Every position in optimised builds. Unoptimised, each X25519 operation
/// takes milliseconds and each position needs a fresh handshake, so debug
/// builds take the positions around every field boundary of the message
/// (`e`, encrypted `s`, payload, tag) plus a spread over the payload.
const EXHAUSTIVE: bool = !cfg!(debug_assertions);

fn positions(len: usize, boundaries: &[usize]) -> Vec<usize> {
    if EXHAUSTIVE {
        return (0..len).collect();
    }
    let mut v: Vec<usize> = boundaries
        .iter()
        .flat_map(|&b| [b.saturating_sub(1), b, b + 1])
        .chain([
            0,
            1,
            len / 3,
            len / 2,
            len - 17,
            len - 16,
            len - 15,
            len - 2,
            len - 1,
        ])
        .filter(|&p| p < len)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// msg1 = e (32) | version; msg2 = e (32) | s+tag (48) | payload+tag;
/// msg3 = s+tag (48) | payload+tag.
const MSG1_FIELDS: &[usize] = &[32];
const MSG2_FIELDS: &[usize] = &[32, 80, 96];
const MSG3_FIELDS: &[usize] = &[48, 64];

#[test]
fn every_truncation_of_each_handshake_message_is_refused() {
    let (a, b) = nodes();
    let (_, m1) = Initiator::new(a).unwrap().write_hello().unwrap();
    let m1 = body(&m1).to_vec();
    for n in 0..m1.len() {
        let e = Responder::new(b)
            .unwrap()
            .read_hello(&m1[..n], NOW)
            .unwrap_err();
        let want = match n {
            0 => SessionError::Frame(FrameError::Empty),
            1..=31 => SessionError::MalformedHandshake,
            _ => SessionError::MalformedPayload(DecodeError::Truncated),
        };
        assert_eq!(e, want, "msg1 cut to {n} bytes");
    }
    let len2 = expecting_msg2(a, b).1.len();
    for n in positions(len2, MSG2_FIELDS) {
        let (i, m2) = expecting_msg2(a, b);
        let want = match n {
            0 => SessionError::Frame(FrameError::Empty),
            // e (32) and the encrypted s (48) are not all there.
            1..=79 => SessionError::MalformedHandshake,
            _ => SessionError::Decrypt,
        };
        assert_eq!(
            i.read_response(&m2[..n], NOW).err(),
            Some(want),
            "msg2 cut to {n} bytes"
        );
    }
    let len3 = expecting_msg3(a, b).1.len();
    for n in positions(len3, MSG3_FIELDS) {
        let (r, m3) = expecting_msg3(a, b);
        let want = match n {
            0 => SessionError::Frame(FrameError::Empty),
            1..=47 => SessionError::MalformedHandshake,
            _ => SessionError::Decrypt,
        };
        assert_eq!(
            r.read_finish(&m3[..n], NOW).err(),
            Some(want),
            "msg3 cut to {n} bytes"
        );
    }
    // Controls: the whole messages pass.
    let (i, m2) = expecting_msg2(a, b);
    assert!(i.read_response(&m2, NOW).is_ok());
    let (r, m3) = expecting_msg3(a, b);
    assert!(r.read_finish(&m3, NOW).is_ok());
}

#[test]
fn bit_flips_in_each_handshake_message_are_refused() {
    let (a, b) = nodes();
    // msg1 travels in clear: a flip in the version is seen at once, a flip
    // in the ephemeral key changes the transcript and msg2 fails at the
    // initiator. Every bit of the chosen bytes is flipped.
    let (_, m1) = Initiator::new(a).unwrap().write_hello().unwrap();
    for byte in positions(body(&m1).len(), MSG1_FIELDS) {
        for bit in 0..8 {
            let (i, m1) = Initiator::new(a).unwrap().write_hello().unwrap();
            let mut m1 = body(&m1).to_vec();
            m1[byte] ^= 1 << bit;
            let result = Responder::new(b)
                .unwrap()
                .read_hello(&m1, NOW)
                .and_then(|(_, m2)| i.read_response(body(&m2), NOW).map(|_| ()));
            let want = if byte == 32 {
                SessionError::UnsupportedVersion(SESSION_VERSION ^ (1 << bit))
            } else {
                SessionError::Decrypt
            };
            assert_eq!(result.err(), Some(want), "msg1 byte {byte} bit {bit}");
        }
    }
    // msg2 and msg3: one bit per chosen byte, cycling through the bit
    // positions, and every bit of the first and last bytes.
    let flips = |len: usize, fields: &[usize]| -> Vec<(usize, u8)> {
        let mut v: Vec<(usize, u8)> = positions(len, fields)
            .into_iter()
            .map(|p| (p, 1 << (p % 8)))
            .collect();
        v.extend((0..8).flat_map(|bit| [(0, 1u8 << bit), (len - 1, 1 << bit)]));
        v
    };
    let len2 = expecting_msg2(a, b).1.len();
    for (byte, mask) in flips(len2, MSG2_FIELDS) {
        let (i, mut m2) = expecting_msg2(a, b);
        m2[byte] ^= mask;
        assert_eq!(
            i.read_response(&m2, NOW).err(),
            Some(SessionError::Decrypt),
            "msg2 byte {byte} ^ {mask:#04x}"
        );
    }
    let len3 = expecting_msg3(a, b).1.len();
    for (byte, mask) in flips(len3, MSG3_FIELDS) {
        let (r, mut m3) = expecting_msg3(a, b);
        m3[byte] ^= mask;
        assert_eq!(
            r.read_finish(&m3, NOW).err(),
            Some(SessionError::Decrypt),
            "msg3 byte {byte} ^ {mask:#04x}"
        );
    }
}

#[test]
fn oversized_messages_are_refused() {
    let (a, b) = nodes();
    let big = vec![0u8; MAX_FRAME_BODY_LEN + 1];
    let over = SessionError::Frame(FrameError::Oversized { len: big.len() });
    assert_eq!(
        Responder::new(b).unwrap().read_hello(&big, NOW).err(),
        Some(over.clone())
    );
    assert_eq!(
        expecting_msg2(a, b).0.read_response(&big, NOW).err(),
        Some(over.clone())
    );
    assert_eq!(
        expecting_msg3(a, b).0.read_finish(&big, NOW).err(),
        Some(over.clone())
    );
    let (_, mut er) = handshake(a, b).unwrap();
    assert_eq!(er.open(&big), Err(over));
    assert!(er.is_closed());
    // At the limit exactly, it is a decryption failure, not a framing one.
    let (_, mut er) = handshake(a, b).unwrap();
    assert_eq!(er.open(&big[1..]), Err(SessionError::Decrypt));
    assert_eq!(
        encode_frame(&big),
        Err(FrameError::Oversized { len: big.len() })
    );
}

#[test]
fn a_credential_too_large_for_a_handshake_message_is_a_local_error() {
    assert_eq!(MAX_CREDENTIAL_LEN, 65_535 - 96 - 3);
    assert!(HandshakePayload::new(vec![0; MAX_CREDENTIAL_LEN]).is_ok());
    assert_eq!(
        HandshakePayload::new(vec![0; MAX_CREDENTIAL_LEN + 1]),
        Err(DecodeError::TooLong)
    );
}

// ------------------------------------------------------ no secret in Debug

#[test]
fn debug_output_shows_no_secret() {
    let secret: [u8; 32] = std::array::from_fn(|i| 0xa0 ^ (i as u8 * 7));
    let key = NoiseKeypair::from_secret(&secret).unwrap();
    let cred = issue(
        "good-rsa",
        &key,
        &["intermediate.pem"],
        NOW.add_secs(-DAY),
        NOW.add_secs(DAY),
    );
    let a = config_with(key, cred, trust());
    let b = node("good-ecdsa");

    let mut outputs = vec![format!("{a:?}"), format!("{a:#?}")];
    let i = Initiator::new(&a).unwrap();
    outputs.push(format!("{i:?}"));
    let (i, m1) = i.write_hello().unwrap();
    outputs.push(format!("{i:?}"));
    let r = Responder::new(&a).unwrap();
    outputs.push(format!("{r:?}"));
    let (_, m2) = Responder::new(&b)
        .unwrap()
        .read_hello(body(&m1), NOW)
        .unwrap();
    let (ei, m3) = i.read_response(body(&m2), NOW).unwrap();
    outputs.push(format!("{ei:?}"));
    outputs.push(format!("{ei:#?}"));
    let (r, _) = Responder::new(&a)
        .unwrap()
        .read_hello(body(&m1), NOW)
        .unwrap();
    outputs.push(format!("{r:?}"));
    let _ = m3;

    let hex_lower: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let hex_upper = hex_lower.to_uppercase();
    for out in &outputs {
        for w in 0..=secret.len() - 4 {
            let window = &secret[w..w + 4];
            let dec = window
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let dec_pretty = window
                .iter()
                .map(|b| format!("{b},"))
                .collect::<Vec<_>>()
                .join("\n");
            assert!(!out.contains(&dec), "decimal secret bytes in {out}");
            assert!(
                !out.replace(' ', "").contains(&dec_pretty.replace(' ', "")),
                "secret bytes in {out}"
            );
            assert!(
                !out.contains(&hex_lower[w * 2..w * 2 + 8]),
                "hex secret in {out}"
            );
            assert!(
                !out.contains(&hex_upper[w * 2..w * 2 + 8]),
                "hex secret in {out}"
            );
        }
    }
}

#[test]
fn faults_are_attributed() {
    assert_eq!(SessionError::Decrypt.fault(), Fault::Peer);
    assert_eq!(SessionError::Frame(FrameError::Empty).fault(), Fault::Peer);
    assert_eq!(SessionError::MalformedHandshake.fault(), Fault::Peer);
    assert_eq!(SessionError::UnsupportedVersion(9).fault(), Fault::Peer);
    assert_eq!(
        SessionError::Credential(CredentialError::BadSignature).fault(),
        Fault::PeerIdentity
    );
    assert_eq!(
        SessionError::Config(ConfigError::Noise).fault(),
        Fault::Local
    );
    assert_eq!(
        SessionError::PlaintextTooLong { len: 70_000 }.fault(),
        Fault::Local
    );
    // The text names the problem, not key material or peer-controlled bytes.
    assert_eq!(
        SessionError::Decrypt.to_string(),
        "a message from the peer failed authentication (altered, replayed or out of order)"
    );
}

// ------------------------------------------- wire: fixed bytes

#[test]
fn handshake_payload_fixed_bytes() {
    let p = HandshakePayload::new(vec![0xc0, 0xff, 0xee]).unwrap();
    assert_eq!(p.encode(), [0x02, 0x00, 0x03, 0xc0, 0xff, 0xee]);
    assert_eq!(p.version(), 2);
    assert_eq!(
        HandshakePayload::decode(&[0x02, 0x00, 0x03, 0xc0, 0xff, 0xee]),
        Ok(p)
    );
    let cases: &[(&[u8], DecodeError)] = &[
        (&[], DecodeError::Truncated),
        (&[0x02], DecodeError::Truncated),
        (&[0x02, 0x00], DecodeError::Truncated),
        (&[0x02, 0x00, 0x02, 0xaa], DecodeError::Truncated),
        (&[0x02, 0x00, 0x01, 0xaa, 0xbb], DecodeError::Trailing),
        (
            &[0x02, 0x00, 0x00],
            DecodeError::Invalid("empty credential"),
        ),
        (&[0x02, 0xff, 0xff], DecodeError::TooLong),
        (&[0x01, 0x00, 0x01, 0xaa], DecodeError::Version(1)),
        (&[0x03, 0x00, 0x01, 0xaa], DecodeError::Version(3)),
        (&[0x00], DecodeError::Version(0)),
    ];
    for (bytes, err) in cases {
        assert_eq!(
            HandshakePayload::decode(bytes).as_ref(),
            Err(err),
            "{bytes:02x?}"
        );
    }
}

#[test]
fn frame_fixed_bytes() {
    assert_eq!(encode_frame(b"abc"), Ok(vec![0x00, 0x03, b'a', b'b', b'c']));
    assert_eq!(encode_frame(&[]), Err(FrameError::Empty));
    let max = encode_frame(&vec![0xee; 65_535]).unwrap();
    assert_eq!(&max[..3], &[0xff, 0xff, 0xee]);
    assert_eq!(max.len(), MAX_FRAME_LEN);

    let mut d = FrameDecoder::new();
    assert_eq!(
        d.push(&[0x00, 0x03, b'a', b'b', b'c', 0x00, 0x01, b'z', 0x00]),
        9
    );
    assert_eq!(d.pop(), Ok(Some(b"abc".to_vec())));
    assert_eq!(d.pop(), Ok(Some(b"z".to_vec())));
    assert_eq!(d.pop(), Ok(None));
    assert_eq!(d.finish(), Err(FrameError::Truncated { buffered: 1 }));
    assert_eq!(d.push(&[0x02, b'h']), 2);
    assert_eq!(d.pop(), Ok(None));
    assert_eq!(d.push(b"i"), 1);
    assert_eq!(d.pop(), Ok(Some(b"hi".to_vec())));
    assert_eq!(d.finish(), Ok(()));

    // An empty frame poisons the decoder.
    let mut d = FrameDecoder::new();
    assert_eq!(d.push(&[0x00, 0x00, 0x00, 0x01, b'x']), 5);
    assert_eq!(d.pop(), Err(FrameError::Empty));
    assert_eq!(d.pop(), Err(FrameError::Empty));
    assert_eq!(d.push(b"more"), 0);
    assert_eq!(d.finish(), Err(FrameError::Empty));
}

#[test]
fn decoder_never_holds_more_than_one_maximal_frame() {
    let mut d = FrameDecoder::new();
    let flood = vec![0xffu8; 1 << 20];
    assert_eq!(d.push(&flood), MAX_FRAME_LEN);
    assert_eq!(d.room(), 0);
    assert_eq!(d.push(&flood), 0);
    assert_eq!(d.pop(), Ok(Some(vec![0xff; MAX_FRAME_BODY_LEN])));
    assert_eq!(d.room(), MAX_FRAME_LEN);
}

// ------------------------------------------- wire: round trips and damage

fn decode_frames(stream: &[u8], cuts: &[usize]) -> (Vec<Vec<u8>>, Option<FrameError>) {
    let mut d = FrameDecoder::new();
    let mut frames = Vec::new();
    let mut rest = stream;
    let mut cuts = cuts.iter().cycle();
    while !rest.is_empty() {
        let n = (cuts.next().copied().unwrap_or(1)).clamp(1, rest.len());
        let mut piece = &rest[..n];
        rest = &rest[n..];
        while !piece.is_empty() {
            let taken = d.push(piece);
            assert!(d.buffered() <= MAX_FRAME_LEN);
            piece = &piece[taken..];
            loop {
                match d.pop() {
                    Ok(Some(f)) => frames.push(f),
                    Ok(None) => break,
                    Err(e) => {
                        assert_eq!(d.pop(), Err(e.clone()), "errors are sticky");
                        return (frames, Some(e));
                    }
                }
            }
        }
    }
    (frames, d.finish().err())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn frames_round_trip_through_any_reads(
        bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..600), 0..20),
        big in prop::option::of(1usize..=MAX_FRAME_BODY_LEN),
        cuts in prop::collection::vec(1usize..5000, 1..8),
    ) {
        let mut bodies = bodies;
        if let Some(n) = big {
            bodies.push(vec![0xab; n]);
        }
        let stream: Vec<u8> = bodies.iter().flat_map(|b| encode_frame(b).unwrap()).collect();
        let (frames, err) = decode_frames(&stream, &cuts);
        prop_assert_eq!(err, None);
        prop_assert_eq!(frames, bodies);
    }

    #[test]
    fn frame_decoding_never_panics_on_arbitrary_bytes(
        stream in prop::collection::vec(any::<u8>(), 0..3000),
        cuts in prop::collection::vec(1usize..700, 1..8),
    ) {
        let (frames, _) = decode_frames(&stream, &cuts);
        let consumed: usize = frames.iter().map(|f| f.len() + 2).sum();
        prop_assert!(consumed <= stream.len());
        prop_assert!(frames.iter().all(|f| !f.is_empty()));
    }

    #[test]
    fn frame_decoding_never_panics_on_damaged_streams(
        bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..300), 1..8),
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut stream: Vec<u8> = bodies.iter().flat_map(|b| encode_frame(b).unwrap()).collect();
        for (at, v) in &damage {
            let i = at.index(stream.len());
            stream[i] = *v;
        }
        stream.truncate(cut.index(stream.len() + 1));
        let (frames, err) = decode_frames(&stream, &[13]);
        // What decodes is a prefix of the stream, frame after frame.
        let mut at = 0;
        for f in &frames {
            prop_assert_eq!(&stream[at + 2..at + 2 + f.len()], &f[..]);
            at += 2 + f.len();
        }
        if err.is_none() {
            prop_assert_eq!(at, stream.len());
        }
    }

    #[test]
    fn handshake_payload_round_trips(credential in prop::collection::vec(any::<u8>(), 1..5000)) {
        let p = HandshakePayload::new(credential.clone()).unwrap();
        let bytes = p.encode();
        prop_assert_eq!(bytes.len(), 3 + credential.len());
        prop_assert_eq!(HandshakePayload::decode(&bytes), Ok(p));
    }

    #[test]
    fn handshake_payload_decoding_never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        // Whatever decodes, re-encodes to the same bytes: one encoding per value.
        if let Ok(p) = HandshakePayload::decode(&bytes) {
            prop_assert_eq!(p.encode(), bytes);
        }
    }

    #[test]
    fn handshake_payload_decoding_never_panics_on_damaged_encodings(
        credential in prop::collection::vec(any::<u8>(), 1..300),
        edits in prop::collection::vec((0u8..3, any::<prop::sample::Index>(), any::<u8>()), 1..5),
    ) {
        let mut bytes = HandshakePayload::new(credential).unwrap().encode();
        for (kind, at, v) in edits {
            let i = at.index(bytes.len() + 1);
            match kind {
                0 if i < bytes.len() => bytes[i] ^= v | 1,
                1 => bytes.insert(i, v),
                _ => bytes.truncate(i),
            }
        }
        if let Ok(p) = HandshakePayload::decode(&bytes) {
            prop_assert_eq!(p.encode(), bytes);
        }
    }
}

proptest! {
    // Each case runs handshake steps: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(if EXHAUSTIVE { 256 } else { 16 }))]

    #[test]
    fn handshake_steps_never_panic_on_arbitrary_messages(
        junk in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        let (a, b) = nodes();
        // msg1 is unauthenticated: arbitrary bytes may pass, but never panic.
        let _ = Responder::new(b).unwrap().read_hello(&junk, NOW);
        prop_assert!(expecting_msg2(a, b).0.read_response(&junk, NOW).is_err());
        prop_assert!(expecting_msg3(a, b).0.read_finish(&junk, NOW).is_err());
    }
}

/// Two nodes shared by the proptest cases (made once: issuing signs).
fn nodes() -> (&'static SessionConfig, &'static SessionConfig) {
    use std::sync::OnceLock;
    static NODES: OnceLock<(SessionConfig, SessionConfig)> = OnceLock::new();
    let n = NODES.get_or_init(|| (node("good-rsa"), node("good-ecdsa")));
    (&n.0, &n.1)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if EXHAUSTIVE { 256 } else { 16 }))]

    #[test]
    fn opening_arbitrary_bytes_fails_and_closes(junk in prop::collection::vec(any::<u8>(), 0..300)) {
        let (a, b) = nodes();
        let (_, mut er) = handshake(a, b).unwrap();
        prop_assert!(er.open(&junk).is_err());
        prop_assert!(er.is_closed());
    }
}
