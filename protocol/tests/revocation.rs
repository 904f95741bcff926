//! Consent revocation: the notice and the erasure receipt on the wire
//! (fixed bytes, round trip, damaged input), their signatures and each of
//! their rejections, and the separation from the transfer messages.

mod damage;

use confrere_protocol::codec::DecodeError;
use confrere_protocol::dossier::{DossierId, DossierKey};
use confrere_protocol::receipt::{
    peer_id_from_ed25519_key, sign_receipt, NodeSigner, ReceiptError,
};
use confrere_protocol::revocation::{
    sign_erasure, sign_notice, verify_erasure, verify_notice, ErasureReceipt, RevocationError,
    RevocationMessage, RevocationNotice, ERASURE_DOMAIN, MAX_ERASURE_LEN, MAX_NOTICE_LEN,
    MAX_REASON_LEN, NOTICE_DOMAIN, TAG_ERASED, TAG_NOTICE,
};
use confrere_protocol::session::MAX_PLAINTEXT_LEN;
use confrere_protocol::transfer::{ChunkView, Offer, RefuseReason, TransferMessage};
use confrere_protocol::UnixTime;
use damage::damaged;
use proptest::prelude::*;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

const CONSENT: [u8; 16] = [0xc0; 16];
const DOSSIER: DossierId = DossierId([0x11; 16]);
/// 2024-03-01T00:00:00Z.
const REVOKED: i64 = 1_709_251_200;
/// 2024-03-01T00:01:00Z.
const ERASED: i64 = REVOKED + 60;
const GP: &str = "810001000016";
const CARDIOLOGIST: &str = "810001000024";
const REASON: &str = "retrait du consentement";

/// The sharer's (GP's) node key: the Ed25519 key of seed 00 01 … 1f.
fn gp_key() -> Ed25519KeyPair {
    let seed: Vec<u8> = (0u8..32).collect();
    Ed25519KeyPair::from_seed_unchecked(&seed).expect("seed")
}

/// Its public key, as libp2p-identity 0.3 reports it for that seed.
const GP_PUBLIC: [u8; 32] = [
    0x03, 0xa1, 0x07, 0xbf, 0xf3, 0xce, 0x10, 0xbe, 0x1d, 0x70, 0xdd, 0x18, 0xe7, 0x4b, 0xc0, 0x99,
    0x67, 0xe4, 0xd6, 0x30, 0x9b, 0xa5, 0x0d, 0x5f, 0x1d, 0xdc, 0x86, 0x64, 0x12, 0x55, 0x31, 0xb8,
];

/// Hand-written PeerId bytes of the GP's node key.
fn gp_peer_id() -> Vec<u8> {
    [&[0x00, 0x24, 0x08, 0x01, 0x12, 0x20][..], &GP_PUBLIC].concat()
}

/// The recipient's (cardiologist's) node key.
fn cardio_key() -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[0x5a; 32]).expect("seed")
}

fn cardio_public() -> [u8; 32] {
    cardio_key().public_key().as_ref().try_into().expect("32")
}

fn cardio_peer_id() -> Vec<u8> {
    [&[0x00, 0x24, 0x08, 0x01, 0x12, 0x20][..], &cardio_public()].concat()
}

/// A third node, not party to the share.
fn intruder_key() -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[0x77; 32]).expect("seed")
}

fn notice() -> RevocationNotice {
    sign_notice(
        &gp_key(),
        CONSENT,
        DOSSIER,
        GP,
        CARDIOLOGIST,
        UnixTime::from_secs(REVOKED),
        REASON,
    )
    .expect("signs")
}

fn erasure(held: bool) -> ErasureReceipt {
    sign_erasure(
        &cardio_key(),
        CONSENT,
        DOSSIER,
        CARDIOLOGIST,
        UnixTime::from_secs(ERASED),
        held,
    )
    .expect("signs")
}

/// A named change to a signed message.
type Change<T> = (&'static str, fn(&mut T));

/// The recipient's check, with everything as it should be.
fn recipient_checks(n: &RevocationNotice) -> Result<(), RevocationError> {
    verify_notice(n, &gp_peer_id(), GP, CARDIOLOGIST, Some(&DOSSIER))
}

/// The sharer's check, with everything as it should be.
fn sharer_checks(r: &ErasureReceipt) -> Result<(), RevocationError> {
    verify_erasure(r, &DOSSIER, &CONSENT, &cardio_peer_id())
}

// ----------------------------------------------------------------------------
// Fixed bytes

fn notice_body() -> Vec<u8> {
    [
        &[0xc0; 16][..],                                   // consent id
        &[0x11; 16],                                       // dossier id
        &[12],                                             // sharer
        b"810001000016",                                   //
        &[12],                                             // recipient
        b"810001000024",                                   //
        &[0x00, 0x00, 0x00, 0x00, 0x65, 0xe1, 0x1a, 0x80], // revoked_at
        &[0x00, 23],                                       // reason
        b"retrait du consentement",                        //
        &[38],                                             // sharer peer id
        &gp_peer_id(),                                     //
    ]
    .concat()
}

fn erasure_body(held: u8) -> Vec<u8> {
    [
        &[0xc0; 16][..],                                   // consent id
        &[0x11; 16],                                       // dossier id
        &[12],                                             // recipient
        b"810001000024",                                   //
        &[0x00, 0x00, 0x00, 0x00, 0x65, 0xe1, 0x1a, 0xbc], // erased_at
        &[held],                                           // held
        &[38],                                             // recipient peer id
        &cardio_peer_id(),                                 //
    ]
    .concat()
}

#[test]
fn notice_has_the_documented_layout() {
    let n = notice();
    let msg = RevocationMessage::Notice(n.clone());
    let bytes = msg.encode().expect("encodes");
    let body = notice_body();
    assert_eq!(bytes, [&[0x01, 0x20][..], &body, &n.signature].concat());
    assert_eq!(
        n.signed_message(),
        [b"confrere/revocation-notice/v1\0".as_slice(), &body].concat()
    );
    assert_eq!(NOTICE_DOMAIN, b"confrere/revocation-notice/v1\0");
    // The signature is the GP node key's over the domain and the body,
    // checked here with ring directly.
    UnparsedPublicKey::new(&ED25519, GP_PUBLIC)
        .verify(&n.signed_message(), &n.signature)
        .expect("signature over the documented message");
    // Ed25519 is deterministic: the same notice signs the same.
    assert_eq!(notice(), n);
    assert_eq!(RevocationMessage::decode(&bytes), Ok(msg.clone()));
    assert_eq!(msg.kind(), "Notice");
    recipient_checks(&n).expect("verifies");

    // A notice with a set signature, entirely hand-written.
    let mut fixed = n.clone();
    fixed.signature = [0xab; 64];
    let want = [&[0x01, 0x20][..], &body, &[0xab; 64]].concat();
    assert_eq!(
        RevocationMessage::Notice(fixed.clone()).encode(),
        Ok(want.clone())
    );
    assert_eq!(
        RevocationMessage::decode(&want),
        Ok(RevocationMessage::Notice(fixed))
    );

    let dbg = format!("{n:?}");
    assert!(
        dbg.contains("RevocationNotice") && !dbg.contains(REASON) && !dbg.contains("signature"),
        "{dbg}"
    );
}

#[test]
fn erasure_receipt_has_the_documented_layout() {
    for (held, flag, kind) in [(true, 1u8, "Erased"), (false, 0, "NotHeld")] {
        let r = erasure(held);
        let msg = RevocationMessage::Erased(r.clone());
        let bytes = msg.encode().expect("encodes");
        let body = erasure_body(flag);
        assert_eq!(bytes, [&[0x01, 0x21][..], &body, &r.signature].concat());
        assert_eq!(
            r.signed_message(),
            [b"confrere/erasure-receipt/v1\0".as_slice(), &body].concat()
        );
        UnparsedPublicKey::new(&ED25519, cardio_public())
            .verify(&r.signed_message(), &r.signature)
            .expect("signature over the documented message");
        assert_eq!(erasure(held), r);
        assert_eq!(RevocationMessage::decode(&bytes), Ok(msg.clone()));
        assert_eq!(msg.kind(), kind);
        sharer_checks(&r).expect("verifies");

        let mut fixed = r.clone();
        fixed.signature = [0xcd; 64];
        let want = [&[0x01, 0x21][..], &body, &[0xcd; 64]].concat();
        assert_eq!(
            RevocationMessage::Erased(fixed.clone()).encode(),
            Ok(want.clone())
        );
        assert_eq!(
            RevocationMessage::decode(&want),
            Ok(RevocationMessage::Erased(fixed))
        );
    }
    assert_eq!(ERASURE_DOMAIN, b"confrere/erasure-receipt/v1\0");
    // The erased and not-held statements sign differently.
    assert_ne!(erasure(true).signature, erasure(false).signature);
    let dbg = format!("{:?}", erasure(true));
    assert!(
        dbg.contains("ErasureReceipt") && !dbg.contains("signature"),
        "{dbg}"
    );
}

#[test]
fn the_largest_messages_fit_one_session_message() {
    const { assert!(MAX_NOTICE_LEN <= MAX_PLAINTEXT_LEN) };
    const { assert!(MAX_ERASURE_LEN <= MAX_PLAINTEXT_LEN) };
    assert_eq!(MAX_REASON_LEN, 1024);
    let n = sign_notice(
        &gp_key(),
        CONSENT,
        DOSSIER,
        GP,
        CARDIOLOGIST,
        UnixTime::from_secs(REVOKED),
        &"x".repeat(MAX_REASON_LEN),
    )
    .expect("a 1 KiB reason signs");
    recipient_checks(&n).expect("verifies");
    let bytes = RevocationMessage::Notice(n).encode().expect("encodes");
    assert!(bytes.len() <= MAX_NOTICE_LEN);
}

// ----------------------------------------------------------------------------
// The notice: the recipient's checks

#[test]
fn a_notice_for_a_dossier_not_held_still_verifies() {
    // No dossier under that id (never completed, or already erased): the
    // recipient checks the notice and answers NotHeld.
    assert_eq!(
        verify_notice(&notice(), &gp_peer_id(), GP, CARDIOLOGIST, None),
        Ok(())
    );
}

#[test]
fn each_notice_rejection_has_its_variant() {
    let n = notice();
    let intruder_peer = NodeSigner::peer_id(&intruder_key());

    // The session's peer is another node than the notice's signer.
    assert_eq!(
        verify_notice(&n, &intruder_peer, GP, CARDIOLOGIST, Some(&DOSSIER)),
        Err(RevocationError::OtherPeer)
    );
    // The dossier was shared by another practitioner.
    assert_eq!(
        verify_notice(
            &n,
            &gp_peer_id(),
            "0123456789",
            CARDIOLOGIST,
            Some(&DOSSIER)
        ),
        Err(RevocationError::OtherSharer)
    );
    // Addressed to another practitioner.
    assert_eq!(
        verify_notice(&n, &gp_peer_id(), GP, "0123456789", Some(&DOSSIER)),
        Err(RevocationError::OtherRecipient)
    );
    // About another dossier than the one held.
    assert_eq!(
        verify_notice(
            &n,
            &gp_peer_id(),
            GP,
            CARDIOLOGIST,
            Some(&DossierId([0x12; 16]))
        ),
        Err(RevocationError::OtherDossier)
    );

    // Any changed field breaks the signature.
    let changes: [Change<RevocationNotice>; 7] = [
        ("consent", |n| n.consent_id[0] ^= 1),
        ("dossier", |n| n.dossier_id = DossierId([0x12; 16])),
        ("revoked_at", |n| n.revoked_at = n.revoked_at.add_secs(1)),
        ("reason", |n| n.reason.push('!')),
        ("empty reason", |n| n.reason.clear()),
        ("sharer", |n| n.sharer = "0123456789".into()),
        ("recipient", |n| n.recipient = "0123456789".into()),
    ];
    for (what, change) in changes {
        let mut m = n.clone();
        change(&mut m);
        let held = m.dossier_id;
        assert_eq!(
            verify_notice(&m, &gp_peer_id(), &m.sharer, &m.recipient, Some(&held)),
            Err(RevocationError::BadSignature),
            "{what}"
        );
    }
    let mut flipped = n.clone();
    flipped.signature[10] ^= 1;
    assert_eq!(
        recipient_checks(&flipped),
        Err(RevocationError::BadSignature)
    );

    // A forgery: another node signs a notice that names the GP's node.
    let mut forged = n.clone();
    forged.signature = intruder_key()
        .sign(&forged.signed_message())
        .as_ref()
        .try_into()
        .expect("64");
    assert_eq!(
        recipient_checks(&forged),
        Err(RevocationError::BadSignature)
    );
    // Another node's own, validly signed notice is still refused: the
    // session peer is the GP's.
    let theirs = sign_notice(
        &intruder_key(),
        CONSENT,
        DOSSIER,
        GP,
        CARDIOLOGIST,
        UnixTime::from_secs(REVOKED),
        REASON,
    )
    .expect("signs");
    assert_eq!(
        verify_notice(&theirs, &intruder_peer, GP, CARDIOLOGIST, Some(&DOSSIER)),
        Ok(()),
        "valid for its own signer"
    );
    assert_eq!(recipient_checks(&theirs), Err(RevocationError::OtherPeer));

    // A PeerId that carries no Ed25519 key.
    let mut rsa = n.clone();
    rsa.sharer_peer_id = vec![0x12, 0x20, 1, 2, 3];
    assert_eq!(
        verify_notice(&rsa, &rsa.sharer_peer_id, GP, CARDIOLOGIST, Some(&DOSSIER)),
        Err(RevocationError::NotEd25519PeerId)
    );
    // Fields out of their domain are malformed before anything else.
    let mut control = n;
    control.reason = "a\nb".into();
    assert_eq!(
        recipient_checks(&control),
        Err(RevocationError::Malformed(DecodeError::Invalid("reason")))
    );
}

#[test]
fn bad_notice_fields_cannot_be_signed_or_encoded() {
    let at = UnixTime::from_secs(REVOKED);
    let sign = |sharer: &str, recipient: &str, reason: &str| {
        sign_notice(&gp_key(), CONSENT, DOSSIER, sharer, recipient, at, reason)
    };
    assert_eq!(
        sign("81234", CARDIOLOGIST, REASON),
        Err(RevocationError::Malformed(DecodeError::Invalid(
            "sharer national id"
        )))
    );
    assert_eq!(
        sign(GP, "x y", REASON),
        Err(RevocationError::Malformed(DecodeError::Invalid(
            "recipient national id"
        )))
    );
    assert_eq!(
        sign(GP, CARDIOLOGIST, &"x".repeat(MAX_REASON_LEN + 1)),
        Err(RevocationError::Malformed(DecodeError::TooLong))
    );
    for reason in ["line\nbreak", "nul\0", "esc\u{1b}[31m", "\u{9b}"] {
        assert_eq!(
            sign(GP, CARDIOLOGIST, reason),
            Err(RevocationError::Malformed(DecodeError::Invalid("reason"))),
            "{reason:?}"
        );
    }
    let mut unencodable = notice();
    unencodable.reason = "tab\there".into();
    assert_eq!(
        RevocationMessage::Notice(unencodable).encode(),
        Err(DecodeError::Invalid("reason"))
    );
    let mut long_peer = notice();
    long_peer.sharer_peer_id = vec![0; 65];
    assert_eq!(
        RevocationMessage::Notice(long_peer).encode(),
        Err(DecodeError::TooLong)
    );
}

// ----------------------------------------------------------------------------
// The erasure receipt: the sharer's checks

#[test]
fn each_erasure_rejection_has_its_variant() {
    let r = erasure(true);
    assert_eq!(
        verify_erasure(&r, &DossierId([0x12; 16]), &CONSENT, &cardio_peer_id()),
        Err(RevocationError::OtherDossier)
    );
    assert_eq!(
        verify_erasure(&r, &DOSSIER, &[0xc1; 16], &cardio_peer_id()),
        Err(RevocationError::OtherConsent)
    );
    assert_eq!(
        verify_erasure(&r, &DOSSIER, &CONSENT, &gp_peer_id()),
        Err(RevocationError::OtherPeer)
    );

    let changes: [Change<ErasureReceipt>; 5] = [
        ("consent", |r| r.consent_id[15] ^= 1),
        ("dossier", |r| r.dossier_id = DossierId([0x12; 16])),
        ("erased_at", |r| r.erased_at = r.erased_at.add_secs(-1)),
        ("held", |r| r.held = !r.held),
        ("recipient", |r| r.recipient = "0123456789".into()),
    ];
    for (what, change) in changes {
        let mut m = r.clone();
        change(&mut m);
        assert_eq!(
            verify_erasure(&m, &m.dossier_id, &m.consent_id, &cardio_peer_id()),
            Err(RevocationError::BadSignature),
            "{what}"
        );
    }
    let mut flipped = r.clone();
    flipped.signature[63] ^= 0x80;
    assert_eq!(sharer_checks(&flipped), Err(RevocationError::BadSignature));

    // A forgery: another node signs a receipt naming the recipient's node.
    let mut forged = r.clone();
    forged.signature = intruder_key()
        .sign(&forged.signed_message())
        .as_ref()
        .try_into()
        .expect("64");
    assert_eq!(sharer_checks(&forged), Err(RevocationError::BadSignature));

    let mut rsa = r;
    rsa.recipient_peer_id = vec![0x12, 0x20, 1, 2, 3];
    assert_eq!(
        verify_erasure(&rsa, &DOSSIER, &CONSENT, &rsa.recipient_peer_id),
        Err(RevocationError::NotEd25519PeerId)
    );

    assert_eq!(
        sign_erasure(
            &cardio_key(),
            CONSENT,
            DOSSIER,
            "8100010000",
            UnixTime::from_secs(ERASED),
            true
        ),
        Err(RevocationError::Malformed(DecodeError::Invalid(
            "recipient national id"
        )))
    );
}

/// A signer that fails, signs with another key than its PeerId's, or
/// returns a signature of the wrong length.
enum Faulty {
    Fails,
    OtherKey,
    Short,
}

impl NodeSigner for Faulty {
    fn peer_id(&self) -> Vec<u8> {
        gp_peer_id()
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ReceiptError> {
        match self {
            Faulty::Fails => Err(ReceiptError::SignerFailed),
            Faulty::OtherKey => Ok(intruder_key().sign(msg).as_ref().to_vec()),
            Faulty::Short => Ok(vec![0; 63]),
        }
    }
}

#[test]
fn signer_faults_are_caught_when_signing() {
    let at = UnixTime::from_secs(REVOKED);
    for (signer, want) in [
        (Faulty::Fails, RevocationError::SignerFailed),
        (Faulty::OtherKey, RevocationError::SignerKeyMismatch),
        (Faulty::Short, RevocationError::SignerKeyMismatch),
    ] {
        assert_eq!(
            sign_notice(&signer, CONSENT, DOSSIER, GP, CARDIOLOGIST, at, REASON),
            Err(want.clone())
        );
        assert_eq!(
            sign_erasure(&signer, CONSENT, DOSSIER, CARDIOLOGIST, at, false),
            Err(want)
        );
    }
}

#[test]
fn error_messages_carry_no_patient_or_practitioner_data() {
    let errors = [
        RevocationError::Malformed(DecodeError::Invalid("reason")),
        RevocationError::OtherPeer,
        RevocationError::OtherSharer,
        RevocationError::OtherRecipient,
        RevocationError::OtherDossier,
        RevocationError::OtherConsent,
        RevocationError::NotEd25519PeerId,
        RevocationError::BadSignature,
        RevocationError::SignerFailed,
        RevocationError::SignerKeyMismatch,
    ];
    for e in errors {
        let text = e.to_string();
        assert!(
            !text.contains(GP) && !text.contains(CARDIOLOGIST) && !text.contains("1111"),
            "{text}"
        );
    }
}

// ----------------------------------------------------------------------------
// Decoding

#[test]
fn decoding_rejections() {
    let ok = RevocationMessage::Notice(notice())
        .encode()
        .expect("encodes");
    const SHARER: usize = 2 + 16 + 16;
    const REASON_LEN: usize = SHARER + 13 + 13 + 8;
    const PEER: usize = REASON_LEN + 2 + 23;
    let edit = |bytes: &[u8], at: usize, new: &[u8]| {
        let mut b = bytes.to_vec();
        b[at..at + new.len()].copy_from_slice(new);
        b
    };
    let erased = RevocationMessage::Erased(erasure(true))
        .encode()
        .expect("encodes");
    const HELD: usize = 2 + 16 + 16 + 13 + 8;
    let cases = [
        ("version", edit(&ok, 0, &[2]), DecodeError::Version(2)),
        ("tag", edit(&ok, 1, &[0x22]), DecodeError::UnknownTag(0x22)),
        ("sharer 33", edit(&ok, SHARER, &[33]), DecodeError::TooLong),
        (
            "sharer not UTF-8",
            edit(&ok, SHARER + 1, &[0xff]),
            DecodeError::Invalid("sharer national id"),
        ),
        (
            "sharer Luhn",
            edit(&ok, SHARER + 12, b"7"),
            DecodeError::Invalid("sharer national id"),
        ),
        (
            "reason 1025",
            edit(&ok, REASON_LEN, &[0x04, 0x01]),
            DecodeError::TooLong,
        ),
        (
            "reason control",
            edit(&ok, REASON_LEN + 2, b"\n"),
            DecodeError::Invalid("reason"),
        ),
        (
            "reason not UTF-8",
            edit(&ok, REASON_LEN + 2, &[0xc3, 0x28]),
            DecodeError::Invalid("reason"),
        ),
        ("peer id 65", edit(&ok, PEER, &[65]), DecodeError::TooLong),
        ("trailing", [&ok[..], &[0]].concat(), DecodeError::Trailing),
        ("cut", ok[..ok.len() - 1].to_vec(), DecodeError::Truncated),
        ("empty", Vec::new(), DecodeError::Truncated),
        ("version only", vec![1], DecodeError::Truncated),
        (
            "held 2",
            edit(&erased, HELD, &[2]),
            DecodeError::Invalid("held flag"),
        ),
        (
            "erased cut",
            erased[..erased.len() - 64].to_vec(),
            DecodeError::Truncated,
        ),
        (
            "erased trailing",
            [&erased[..], &[0]].concat(),
            DecodeError::Trailing,
        ),
    ];
    for (what, bytes, want) in cases {
        assert_eq!(RevocationMessage::decode(&bytes), Err(want), "{what}");
    }
}

// ----------------------------------------------------------------------------
// Separation from the transfer messages

fn transfer_messages() -> Vec<TransferMessage> {
    let receipt = sign_receipt(
        &cardio_key(),
        DOSSIER,
        GP,
        CARDIOLOGIST,
        [7; 32],
        UnixTime::from_secs(ERASED),
    )
    .expect("signs");
    vec![
        TransferMessage::Offer(Offer::new(
            DOSSIER,
            DossierKey::from_bytes([0x42; 32]),
            65_281,
        )),
        TransferMessage::Resume {
            dossier_id: DOSSIER,
            next_index: 3,
        },
        TransferMessage::Complete { receipt },
        TransferMessage::Refuse {
            dossier_id: DOSSIER,
            reason: RefuseReason::Revoked,
        },
        TransferMessage::Chunk {
            index: 0,
            last: true,
            sealed: vec![0; 17],
        },
    ]
}

#[test]
fn revocation_and_transfer_messages_do_not_decode_as_each_other() {
    assert_eq!((TAG_NOTICE, TAG_ERASED), (0x20, 0x21));
    for msg in [
        RevocationMessage::Notice(notice()),
        RevocationMessage::Erased(erasure(true)),
        RevocationMessage::Erased(erasure(false)),
    ] {
        let bytes = msg.encode().expect("encodes");
        // The node tries the transfer messages first and falls back on
        // UnknownTag.
        assert_eq!(
            TransferMessage::decode(&bytes),
            Err(DecodeError::UnknownTag(bytes[1]))
        );
        assert_eq!(
            ChunkView::decode(&bytes),
            Err(DecodeError::UnknownTag(bytes[1]))
        );
        assert_eq!(RevocationMessage::decode(&bytes), Ok(msg));
    }
    for msg in transfer_messages() {
        let bytes = msg.encode().expect("encodes");
        assert_eq!(
            RevocationMessage::decode(&bytes),
            Err(DecodeError::UnknownTag(bytes[1])),
            "{}",
            msg.kind()
        );
        assert_eq!(TransferMessage::decode(&bytes), Ok(msg));
    }
}

// ----------------------------------------------------------------------------
// Properties

/// Well-formed national ids: the two RPPS ids above, an ADELI id, or an id
/// of another type.
fn national_id() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(GP.to_owned()),
        Just(CARDIOLOGIST.to_owned()),
        Just("0123456789".to_owned()),
        "3[A-Za-z0-9]{0,31}",
    ]
}

fn notice_strategy() -> impl Strategy<Value = RevocationNotice> {
    (
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        national_id(),
        national_id(),
        any::<i64>(),
        "\\PC{0,256}",
        prop::collection::vec(any::<u8>(), 0..=64),
        prop::collection::vec(any::<u8>(), 64),
    )
        .prop_map(|(c, d, s, r, t, reason, p, sig)| RevocationNotice {
            consent_id: c,
            dossier_id: DossierId(d),
            sharer: s,
            recipient: r,
            revoked_at: UnixTime::from_secs(t),
            reason,
            sharer_peer_id: p,
            signature: sig.try_into().expect("64 bytes"),
        })
}

fn erasure_strategy() -> impl Strategy<Value = ErasureReceipt> {
    (
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        national_id(),
        any::<i64>(),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..=64),
        prop::collection::vec(any::<u8>(), 64),
    )
        .prop_map(|(c, d, r, t, held, p, sig)| ErasureReceipt {
            consent_id: c,
            dossier_id: DossierId(d),
            recipient: r,
            erased_at: UnixTime::from_secs(t),
            held,
            recipient_peer_id: p,
            signature: sig.try_into().expect("64 bytes"),
        })
}

fn message_strategy() -> impl Strategy<Value = RevocationMessage> {
    prop_oneof![
        notice_strategy().prop_map(RevocationMessage::Notice),
        erasure_strategy().prop_map(RevocationMessage::Erased),
    ]
}

proptest! {
    #[test]
    fn message_round_trip(msg in message_strategy()) {
        let bytes = msg.encode().expect("generated messages encode");
        prop_assert!(bytes.len() <= MAX_NOTICE_LEN.max(MAX_ERASURE_LEN));
        let decoded = RevocationMessage::decode(&bytes).expect("decodes");
        prop_assert_eq!(&decoded, &msg);
        prop_assert_eq!(&decoded.encode().expect("encodes"), &bytes);
        prop_assert_eq!(TransferMessage::decode(&bytes), Err(DecodeError::UnknownTag(bytes[1])));
    }

    #[test]
    fn signed_messages_verify(
        consent in any::<[u8; 16]>(),
        dossier in any::<[u8; 16]>(),
        t in any::<i64>(),
        reason in "\\PC{0,64}",
        held in any::<bool>(),
    ) {
        let at = UnixTime::from_secs(t);
        let n = sign_notice(&gp_key(), consent, DossierId(dossier), GP, CARDIOLOGIST, at, &reason)
            .expect("signs");
        let n = match RevocationMessage::decode(&RevocationMessage::Notice(n).encode().expect("encodes")) {
            Ok(RevocationMessage::Notice(n)) => n,
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        prop_assert_eq!(
            verify_notice(&n, &gp_peer_id(), GP, CARDIOLOGIST, Some(&DossierId(dossier))),
            Ok(())
        );
        let r = sign_erasure(&cardio_key(), consent, DossierId(dossier), CARDIOLOGIST, at, held)
            .expect("signs");
        prop_assert_eq!(
            verify_erasure(&r, &DossierId(dossier), &consent, &cardio_peer_id()),
            Ok(())
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1400)) {
        let _ = RevocationMessage::decode(&bytes);
        for tag in [TAG_NOTICE, TAG_ERASED] {
            let framed = [&[1, tag][..], &bytes].concat();
            if let Ok(m) = RevocationMessage::decode(&framed) {
                prop_assert_eq!(m.encode().expect("canonical"), framed);
            }
        }
    }

    #[test]
    fn mutated_messages_never_panic(
        msg in message_strategy(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let bytes = damaged(&msg.encode().expect("encodes"), &edits, cut);
        if let Ok(m) = RevocationMessage::decode(&bytes) {
            prop_assert_eq!(m.encode().expect("canonical"), bytes);
        }
    }

    #[test]
    fn mutated_signed_messages_are_refused(
        erased in any::<bool>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let original = if erased {
            RevocationMessage::Erased(erasure(true))
        } else {
            RevocationMessage::Notice(notice())
        }
        .encode()
        .expect("encodes");
        let bytes = damaged(&original, &edits, None);
        let accepted = match RevocationMessage::decode(&bytes) {
            Ok(RevocationMessage::Notice(n)) => recipient_checks(&n).is_ok(),
            Ok(RevocationMessage::Erased(r)) => sharer_checks(&r).is_ok(),
            _ => false,
        };
        prop_assert_eq!(accepted, bytes == original);
    }
}

#[test]
fn peer_ids_in_these_tests_are_the_keys_peer_ids() {
    assert_eq!(NodeSigner::peer_id(&gp_key()), gp_peer_id());
    assert_eq!(NodeSigner::peer_id(&cardio_key()), cardio_peer_id());
    assert_eq!(peer_id_from_ed25519_key(&GP_PUBLIC), gp_peer_id());
}
