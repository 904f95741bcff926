//! Tests that need the session's crate-private parts: the rekey schedule
//! override. Handshake and wire tests are in `tests/session.rs`.

use std::path::PathBuf;
use std::sync::Arc;

use super::transport::RekeyPolicy;
use super::*;
use crate::certificate::{parse_certificates, Certificate};
use crate::credential::issue_credential;
use crate::signer::Pkcs8Signer;
use crate::time::UnixTime;
use crate::verify::{verify_certificate, RevocationCheck, TrustStore, VerifyOptions};

/// The fixtures' test instant, 2025-06-01T00:00:00Z.
const NOW: UnixTime = UnixTime::from_secs(1_748_736_000);

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/openssl")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

fn cert(name: &str) -> Certificate {
    parse_certificates(&fixture(name)).unwrap().remove(0)
}

fn trust() -> Arc<TrustStore> {
    let mut t = TrustStore::new(vec![cert("root.pem")]);
    for crl in ["crl.pem", "crl-root.pem"] {
        for c in crate::certificate::parse_crls(&fixture(crl)).unwrap() {
            t.add_crl(c);
        }
    }
    Arc::new(t)
}

fn config(name: &str) -> SessionConfig {
    let trust = trust();
    let leaf = cert(&format!("{name}.pem"));
    let chain = [cert("intermediate.pem")];
    let verified =
        verify_certificate(&leaf, &chain, &trust, &VerifyOptions::authentication(NOW)).unwrap();
    let signer = Pkcs8Signer::from_pem_or_der(&fixture(&format!("{name}.key.pem")), &leaf).unwrap();
    let noise_key = crate::keys::NoiseKeypair::generate().unwrap();
    let credential = issue_credential(
        &signer,
        &verified,
        &chain,
        *noise_key.public(),
        name.as_bytes().to_vec(),
        NOW.add_secs(-86_400),
        NOW.add_secs(86_400),
    )
    .unwrap();
    SessionConfig {
        noise_key,
        credential,
        trust,
        revocation: RevocationCheck::Required,
    }
}

fn body(frame: &[u8]) -> &[u8] {
    let len = usize::from(u16::from_be_bytes([frame[0], frame[1]]));
    assert_eq!(frame.len(), 2 + len);
    &frame[2..]
}

fn pair() -> (Established, Established) {
    let (a, b) = (config("good-rsa"), config("good-ecdsa"));
    let (i, m1) = Initiator::new(&a).unwrap().write_hello().unwrap();
    let (r, m2) = Responder::new(&b)
        .unwrap()
        .read_hello(body(&m1), NOW)
        .unwrap();
    let (ei, m3) = i.read_response(body(&m2), NOW).unwrap();
    let er = r.read_finish(body(&m3), NOW).unwrap();
    (ei, er)
}

/// Sends `n` messages of `len` bytes from `a` to `b`, checking each.
fn flow(a: &mut Established, b: &mut Established, n: usize, len: usize) {
    for k in 0..n {
        let msg = vec![(k % 251) as u8; len];
        let frame = a.seal(&msg).unwrap();
        assert_eq!(b.open(body(&frame)).unwrap(), msg);
    }
}

#[test]
fn the_plaintext_limit_is_the_noise_limit_minus_the_tag_and_the_attachment_length() {
    assert_eq!(MAX_PLAINTEXT_LEN, 65_515);
    let plaintext = MAX_PLAINTEXT_LEN + ATTACHED_LEN_LEN;
    // snow agrees: 65,519 bytes fit in one transport message, 65,520 do not.
    let params: snow::params::NoiseParams = "Noise_NN_25519_AESGCM_SHA256".parse().unwrap();
    let mut i = snow::Builder::new(params.clone())
        .build_initiator()
        .unwrap();
    let mut r = snow::Builder::new(params).build_responder().unwrap();
    let mut buf = vec![0u8; 70_000];
    let mut out = vec![0u8; 70_000];
    let n = i.write_message(&[], &mut buf).unwrap();
    r.read_message(&buf[..n], &mut out).unwrap();
    let n = r.write_message(&[], &mut buf).unwrap();
    i.read_message(&buf[..n], &mut out).unwrap();
    let mut t = i.into_transport_mode().unwrap();
    assert_eq!(
        t.write_message(&vec![0; plaintext], &mut buf),
        Ok(MAX_NOISE_MESSAGE_LEN)
    );
    assert_eq!(
        t.write_message(&vec![0; plaintext + 1], &mut buf),
        Err(snow::Error::Input)
    );
}

#[test]
fn default_rekey_schedule() {
    assert_eq!(
        RekeyPolicy::DEFAULT,
        RekeyPolicy {
            messages: 1 << 20,
            bytes: 1 << 30
        }
    );
}

#[test]
fn rekeying_by_message_count_keeps_both_sides_in_step() {
    let (mut i, mut r) = pair();
    let policy = RekeyPolicy {
        messages: 3,
        bytes: u64::MAX,
    };
    i.set_rekey_policy(policy);
    r.set_rekey_policy(policy);
    // Interleaved traffic in both directions across several rekeys.
    for round in 0..5 {
        flow(&mut i, &mut r, 2, 100 + round);
        flow(&mut r, &mut i, 4, 10);
    }
    flow(&mut i, &mut r, 1, MAX_PLAINTEXT_LEN);
    let si = i.stats();
    let sr = r.stats();
    assert_eq!(si.sent_messages, 11);
    assert_eq!(si.send_rekeys, 3);
    assert_eq!(sr.receive_rekeys, 3);
    assert_eq!(sr.sent_messages, 20);
    assert_eq!(sr.send_rekeys, 6);
    assert_eq!(si.receive_rekeys, 6);
    assert_eq!(si.sent_bytes, sr.received_bytes);
    assert_eq!(sr.sent_bytes, si.received_bytes);
}

#[test]
fn rekeying_by_volume_keeps_both_sides_in_step() {
    let (mut i, mut r) = pair();
    let policy = RekeyPolicy {
        messages: u64::MAX,
        bytes: 100_000,
    };
    i.set_rekey_policy(policy);
    r.set_rekey_policy(policy);
    // Two maximal messages (131,038 bytes) pass 100,000: rekey after the
    // second; and so on.
    flow(&mut i, &mut r, 7, MAX_PLAINTEXT_LEN);
    assert_eq!(i.stats().send_rekeys, 3);
    assert_eq!(r.stats().receive_rekeys, 3);
    flow(&mut r, &mut i, 1, 10);
    assert_eq!(r.stats().send_rekeys, 0);
}

#[test]
fn a_rekey_really_changes_the_key() {
    // If only the sender rekeys, the receiver can no longer open: the rekey
    // is not a counter alone.
    let (mut i, mut r) = pair();
    i.set_rekey_policy(RekeyPolicy {
        messages: 2,
        bytes: u64::MAX,
    });
    flow(&mut i, &mut r, 2, 32);
    let frame = i.seal(b"after the rekey").unwrap();
    assert_eq!(r.open(body(&frame)), Err(SessionError::Decrypt));
    assert!(r.is_closed());
}

#[test]
fn an_attachment_is_announced_and_its_length_authenticated() {
    let (mut a, mut b) = pair();
    let frame = a.seal_attached(b"chunk header", 65_296).unwrap();
    assert_eq!(
        b.open_attached(body(&frame)).unwrap(),
        (b"chunk header".to_vec(), 65_296)
    );
    // Without one, the length is zero and `open` takes the message.
    let frame = a.seal(b"offer").unwrap();
    assert_eq!(b.open(body(&frame)).unwrap(), b"offer".to_vec());
    let frame = a.seal(b"").unwrap();
    assert_eq!(b.open_attached(body(&frame)).unwrap(), (Vec::new(), 0));
    // The attachment's length is inside the sealed plaintext: changing
    // any byte of the frame fails authentication.
    let frame = a.seal_attached(b"x", 10).unwrap();
    let mut bad = body(&frame).to_vec();
    let last = bad.len() - TAG_LEN - 1;
    bad[last] ^= 1;
    assert_eq!(b.open_attached(&bad), Err(SessionError::Decrypt));
}

#[test]
fn an_attachment_over_the_limit_is_refused_locally_and_the_session_stays_usable() {
    let (mut a, mut b) = pair();
    assert_eq!(
        a.seal_attached(b"x", MAX_ATTACHMENT_LEN + 1),
        Err(SessionError::AttachmentTooLong {
            len: MAX_ATTACHMENT_LEN + 1
        })
    );
    assert_eq!(
        SessionError::AttachmentTooLong { len: 0 }.fault(),
        Fault::Local
    );
    let frame = a.seal_attached(b"x", MAX_ATTACHMENT_LEN).unwrap();
    assert_eq!(
        b.open_attached(body(&frame)).unwrap(),
        (b"x".to_vec(), MAX_ATTACHMENT_LEN)
    );
}

#[test]
fn an_unexpected_attachment_closes_the_session() {
    let (mut a, mut b) = pair();
    let frame = a.seal_attached(b"ready?", 1).unwrap();
    assert_eq!(b.open(body(&frame)), Err(SessionError::MalformedAttachment));
    assert_eq!(SessionError::MalformedAttachment.fault(), Fault::Peer);
    assert!(b.is_closed());
    let frame = a.seal(b"next").unwrap();
    assert_eq!(b.open(body(&frame)), Err(SessionError::Closed));
}

#[test]
fn a_peer_announcing_too_much_or_too_little_closes_the_session() {
    let over = u32::try_from(MAX_ATTACHMENT_LEN + 1).unwrap().to_be_bytes();
    for plaintext in [
        [b"m".as_slice(), &over].concat(),
        // Too short to hold the attachment length at all.
        vec![0u8; ATTACHED_LEN_LEN - 1],
        Vec::new(),
    ] {
        let (mut a, mut b) = pair();
        let sealed = a.seal_raw(&plaintext);
        assert_eq!(
            b.open_attached(&sealed),
            Err(SessionError::MalformedAttachment),
            "{plaintext:?}"
        );
        assert!(b.is_closed());
    }
}
