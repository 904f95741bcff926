//! Dossier transfer: the transfer messages and the delivery receipt on the
//! wire (fixed bytes, round trip, damaged input), the receipt's signature
//! and each of its rejections, the PeerId key extraction, and the two
//! transfer state machines, end to end and rejection by rejection.

mod damage;

use confrere_protocol::codec::DecodeError;
use confrere_protocol::dossier::{
    BirthDate, ContentEvent, ContentOpener, ContentSealer, ContentSummary, DocumentEntry,
    DossierId, DossierKey, Ins, Manifest, Patient, Referral, SealedChunk, Sex, SEALED_CHUNK_LEN,
};
use confrere_protocol::receipt::{
    ed25519_key_from_peer_id, peer_id_from_ed25519_key, sign_receipt, verify_receipt,
    DeliveryReceipt, NodeSigner, ReceiptError, MAX_RECEIPT_LEN, RECEIPT_DOMAIN,
};
use confrere_protocol::session::MAX_PLAINTEXT_LEN;
use confrere_protocol::transfer::{
    encode_chunk, ChunkView, Offer, ReceiverStep, ReceivingTransfer, RefuseReason, SenderStep,
    SendingTransfer, TransferError, TransferMessage, CHUNK_HEADER_LEN,
};
use confrere_protocol::UnixTime;
use damage::damaged;
use proptest::prelude::*;
use ring::digest::{digest, SHA256};
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

const ID: DossierId = DossierId([0x11; 16]);
/// 2024-03-01T00:00:00Z.
const CREATED: i64 = 1_709_251_200;
const GP: &str = "810001000016";
const CARDIOLOGIST: &str = "810001000024";

fn sha(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, data).as_ref());
    out
}

/// The recipient node's identity key: the Ed25519 key of seed 00 01 … 1f.
fn node_key() -> Ed25519KeyPair {
    let seed: Vec<u8> = (0u8..32).collect();
    Ed25519KeyPair::from_seed_unchecked(&seed).expect("seed")
}

/// Its public key, as libp2p-identity 0.3 reports it for that seed.
const NODE_PUBLIC: [u8; 32] = [
    0x03, 0xa1, 0x07, 0xbf, 0xf3, 0xce, 0x10, 0xbe, 0x1d, 0x70, 0xdd, 0x18, 0xe7, 0x4b, 0xc0, 0x99,
    0x67, 0xe4, 0xd6, 0x30, 0x9b, 0xa5, 0x0d, 0x5f, 0x1d, 0xdc, 0x86, 0x64, 0x12, 0x55, 0x31, 0xb8,
];

/// Its PeerId, as libp2p-identity 0.3 prints it for that seed.
const NODE_PEER_ID: &str = "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB";

/// Hand-written PeerId bytes of the node key.
fn node_peer_id() -> Vec<u8> {
    let mut p = vec![0x00, 0x24, 0x08, 0x01, 0x12, 0x20];
    p.extend_from_slice(&NODE_PUBLIC);
    p
}

/// Base58 (Bitcoin alphabet) decoding, for the printed PeerId.
fn base58(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut out: Vec<u8> = Vec::new(); // little-endian base 256
    for c in s.bytes() {
        let mut carry = ALPHABET.iter().position(|&a| a == c).expect("base58") as u32;
        for b in out.iter_mut() {
            carry += u32::from(*b) * 58;
            *b = carry as u8;
            carry >>= 8;
        }
        while carry > 0 {
            out.push(carry as u8);
            carry >>= 8;
        }
    }
    let zeros = s.bytes().take_while(|&c| c == b'1').count();
    out.extend(std::iter::repeat_n(0, zeros));
    out.reverse();
    out
}

// ----------------------------------------------------------------------------
// PeerId

#[test]
fn the_key_comes_out_of_a_peer_id() {
    assert_eq!(node_key().public_key().as_ref(), &NODE_PUBLIC);
    assert_eq!(base58(NODE_PEER_ID), node_peer_id());
    assert_eq!(ed25519_key_from_peer_id(&node_peer_id()), Some(NODE_PUBLIC));
    assert_eq!(peer_id_from_ed25519_key(&NODE_PUBLIC), node_peer_id());
    assert_eq!(NodeSigner::peer_id(&node_key()), node_peer_id());

    let mut p = node_peer_id();
    p.push(0);
    assert_eq!(ed25519_key_from_peer_id(&p), None, "too long");
    assert_eq!(ed25519_key_from_peer_id(&p[..37]), None, "too short");
    for at in 0..6 {
        let mut q = node_peer_id();
        q[at] ^= 0x01;
        assert_eq!(ed25519_key_from_peer_id(&q), None, "prefix byte {at}");
    }
    // A PeerId of a longer key (RSA): SHA-256 multihash, 0x12 0x20 | digest.
    let mut rsa = vec![0x12, 0x20];
    rsa.extend_from_slice(&[7; 32]);
    assert_eq!(ed25519_key_from_peer_id(&rsa), None);
    assert_eq!(ed25519_key_from_peer_id(&[]), None);
}

// ----------------------------------------------------------------------------
// Delivery receipt

fn receipt() -> DeliveryReceipt {
    sign_receipt(
        &node_key(),
        ID,
        GP,
        CARDIOLOGIST,
        sha(b"abc"),
        UnixTime::from_secs(CREATED),
    )
    .expect("signs")
}

fn receipt_body() -> Vec<u8> {
    [
        &[0x01][..],                                       // version
        &[0x11; 16],                                       // dossier id
        &[12],                                             // sender
        GP.as_bytes(),                                     //
        &[12],                                             // recipient
        CARDIOLOGIST.as_bytes(),                           //
        &sha(b"abc"),                                      // content sha256
        &[0x00, 0x00, 0x00, 0x00, 0x65, 0xe1, 0x1a, 0x80], // received_at
        &[38],                                             // peer id
        &node_peer_id(),                                   //
    ]
    .concat()
}

#[test]
fn receipt_has_the_documented_layout() {
    let r = receipt();
    let bytes = r.encode().expect("encodes");
    let body = receipt_body();
    assert_eq!(bytes.len(), body.len() + 64);
    assert_eq!(&bytes[..body.len()], &body[..]);
    assert_eq!(&bytes[body.len()..], &r.signature[..]);
    assert_eq!(r.signed_message(), [RECEIPT_DOMAIN, &body].concat());
    // The signature is the node key's over the domain and the body,
    // checked here with ring directly.
    UnparsedPublicKey::new(&ED25519, NODE_PUBLIC)
        .verify(
            &[b"confrere/delivery-receipt/v1\0".as_slice(), &body].concat(),
            &r.signature,
        )
        .expect("signature over the documented message");
    // Ed25519 is deterministic: the same receipt signs the same.
    assert_eq!(receipt(), r);
    assert_eq!(DeliveryReceipt::decode(&bytes), Ok(r.clone()));
    verify_receipt(&r, &ID, &node_peer_id(), &sha(b"abc")).expect("verifies");
    let dbg = format!("{r:?}");
    assert!(
        dbg.contains("DeliveryReceipt") && !dbg.contains("signature"),
        "{dbg}"
    );
}

#[test]
fn each_receipt_rejection_has_its_variant() {
    let r = receipt();
    let ok = |r: &DeliveryReceipt| verify_receipt(r, &ID, &node_peer_id(), &sha(b"abc"));
    assert_eq!(
        verify_receipt(&r, &DossierId([0x12; 16]), &node_peer_id(), &sha(b"abc")),
        Err(ReceiptError::OtherDossier)
    );
    assert_eq!(
        verify_receipt(&r, &ID, &peer_id_from_ed25519_key(&[9; 32]), &sha(b"abc")),
        Err(ReceiptError::OtherPeer)
    );
    assert_eq!(
        verify_receipt(&r, &ID, &node_peer_id(), &sha(b"abd")),
        Err(ReceiptError::OtherContent)
    );
    let mut later = r.clone();
    later.received_at = later.received_at.add_secs(1);
    assert_eq!(ok(&later), Err(ReceiptError::BadSignature));
    let mut other_sender = r.clone();
    other_sender.sender = "0123456789".into();
    assert_eq!(ok(&other_sender), Err(ReceiptError::BadSignature));
    let mut flipped = r.clone();
    flipped.signature[10] ^= 1;
    assert_eq!(ok(&flipped), Err(ReceiptError::BadSignature));
    // A receipt that names a PeerId without an Ed25519 key.
    let mut rsa = r.clone();
    rsa.recipient_peer_id = vec![0x12, 0x20, 1, 2, 3];
    assert_eq!(
        verify_receipt(&rsa, &ID, &rsa.recipient_peer_id, &sha(b"abc")),
        Err(ReceiptError::NotEd25519PeerId)
    );
    // Bad fields cannot be signed or encoded.
    let bad = sign_receipt(
        &node_key(),
        ID,
        "81234",
        CARDIOLOGIST,
        [0; 32],
        UnixTime::from_secs(0),
    );
    assert_eq!(
        bad,
        Err(ReceiptError::Malformed(DecodeError::Invalid(
            "sender national id"
        )))
    );
    let mut unencodable = r;
    unencodable.recipient = "x y".into();
    assert_eq!(
        unencodable.encode(),
        Err(ReceiptError::Malformed(DecodeError::Invalid(
            "recipient national id"
        )))
    );
}

/// A signer that fails, or signs with another key than its PeerId's.
struct Faulty {
    fail: bool,
}

impl NodeSigner for Faulty {
    fn peer_id(&self) -> Vec<u8> {
        node_peer_id()
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ReceiptError> {
        if self.fail {
            return Err(ReceiptError::SignerFailed);
        }
        let other = Ed25519KeyPair::from_seed_unchecked(&[9; 32]).expect("seed");
        Ok(other.sign(msg).as_ref().to_vec())
    }
}

#[test]
fn signer_faults_are_caught_when_signing() {
    let at = UnixTime::from_secs(CREATED);
    assert_eq!(
        sign_receipt(&Faulty { fail: true }, ID, GP, CARDIOLOGIST, [0; 32], at),
        Err(ReceiptError::SignerFailed)
    );
    assert_eq!(
        sign_receipt(&Faulty { fail: false }, ID, GP, CARDIOLOGIST, [0; 32], at),
        Err(ReceiptError::SignerKeyMismatch)
    );
}

#[test]
fn receipt_decoding_rejections() {
    let ok = receipt().encode().expect("encodes");
    const PEER: usize = 1 + 16 + 13 + 13 + 32 + 8;
    let edit = |at: usize, new: &[u8]| {
        let mut b = ok.clone();
        b[at..at + new.len()].copy_from_slice(new);
        b
    };
    let cases = [
        ("version", edit(0, &[2]), DecodeError::Version(2)),
        ("sender 33", edit(17, &[33]), DecodeError::TooLong),
        (
            "sender not UTF-8",
            edit(18, &[0xff]),
            DecodeError::Invalid("sender national id"),
        ),
        (
            "sender Luhn",
            edit(29, b"7"),
            DecodeError::Invalid("sender national id"),
        ),
        ("peer id 65", edit(PEER, &[65]), DecodeError::TooLong),
        ("trailing", [&ok[..], &[0]].concat(), DecodeError::Trailing),
        ("cut", ok[..ok.len() - 1].to_vec(), DecodeError::Truncated),
    ];
    for (what, bytes, want) in cases {
        assert_eq!(DeliveryReceipt::decode(&bytes), Err(want), "{what}");
    }
}

// ----------------------------------------------------------------------------
// Transfer messages: fixed bytes

fn offer() -> Offer {
    Offer::new(ID, DossierKey::from_bytes([0x42; 32]), 65_281)
}

#[test]
fn each_message_has_the_documented_layout() {
    let o = TransferMessage::Offer(offer());
    let want = [
        &[1, 1][..],
        &[0x11; 16],
        &[0x42; 32],
        &[0, 0, 0, 0, 0, 0, 0, 2],
        &[0, 0, 0, 0, 0, 0, 0xff, 0x01],
    ]
    .concat();
    assert_eq!(o.encode(), Ok(want.clone()));
    assert_eq!(TransferMessage::decode(&want), Ok(o.clone()));
    assert!(
        !format!("{o:?}").contains("66, 66"),
        "the key is not printed"
    );

    let resume = TransferMessage::Resume {
        dossier_id: ID,
        next_index: 7,
    };
    let want = [&[1, 2][..], &[0x11; 16], &[0, 0, 0, 0, 0, 0, 0, 7]].concat();
    assert_eq!(resume.encode(), Ok(want.clone()));
    assert_eq!(TransferMessage::decode(&want), Ok(resume));

    let r = receipt();
    let rb = r.encode().expect("receipt");
    let complete = TransferMessage::Complete { receipt: r };
    let want = [&[1, 3, 0, rb.len() as u8][..], &rb].concat();
    assert_eq!(complete.encode(), Ok(want.clone()));
    assert_eq!(TransferMessage::decode(&want), Ok(complete));

    let refuse = TransferMessage::Refuse {
        dossier_id: ID,
        reason: RefuseReason::Busy,
    };
    let want = [&[1, 4][..], &[0x11; 16], &[4]].concat();
    assert_eq!(refuse.encode(), Ok(want.clone()));
    assert_eq!(TransferMessage::decode(&want), Ok(refuse));
    for (reason, code) in [
        (RefuseReason::NotForMe, 1),
        (RefuseReason::NoSpace, 2),
        (RefuseReason::TooLarge, 3),
        (RefuseReason::Busy, 4),
        (RefuseReason::Revoked, 5),
        (RefuseReason::Other, 6),
        (RefuseReason::OverQuota, 7),
    ] {
        assert_eq!(reason.code(), code);
        assert_eq!(RefuseReason::from_code(code), Some(reason));
        assert_eq!(reason.is_temporary(), code == 2 || code == 4 || code == 7);
    }

    let chunk = TransferMessage::Chunk {
        index: 258,
        last: true,
        sealed: vec![0xab; 20],
    };
    let want = [&[1, 5, 0, 0, 0, 0, 0, 0, 1, 2, 1, 0, 20][..], &[0xab; 20]].concat();
    assert_eq!(chunk.encode(), Ok(want.clone()));
    assert_eq!(encode_chunk(258, true, &[0xab; 20]), Ok(want.clone()));
    assert_eq!(TransferMessage::decode(&want), Ok(chunk));
    let view = ChunkView::decode(&want).expect("view");
    assert_eq!(
        (view.index, view.last, view.sealed),
        (258, true, &[0xab; 20][..])
    );
    assert_eq!(CHUNK_HEADER_LEN, 13);
}

#[test]
fn a_full_chunk_fits_one_session_message() {
    let full = encode_chunk(0, false, &vec![0; SEALED_CHUNK_LEN]).expect("full chunk");
    assert_eq!(full.len(), CHUNK_HEADER_LEN + SEALED_CHUNK_LEN);
    assert!(full.len() <= MAX_PLAINTEXT_LEN);
    assert!(
        TransferMessage::Offer(offer())
            .encode()
            .expect("offer")
            .len()
            <= MAX_PLAINTEXT_LEN
    );
    const { assert!(MAX_RECEIPT_LEN + 4 <= MAX_PLAINTEXT_LEN) };
}

#[test]
fn each_decoding_rejection_has_its_variant() {
    let offer_bytes = TransferMessage::Offer(offer()).encode().expect("offer");
    let chunk = encode_chunk(3, true, &[0xab; 20]).expect("chunk");
    let full = encode_chunk(3, false, &vec![0; SEALED_CHUNK_LEN]).expect("chunk");
    let edit = |b: &[u8], at: usize, new: &[u8]| {
        let mut b = b.to_vec();
        b[at..at + new.len()].copy_from_slice(new);
        b
    };
    let cases: Vec<(&str, Vec<u8>, DecodeError)> = vec![
        ("empty", vec![], DecodeError::Truncated),
        ("version only", vec![1], DecodeError::Truncated),
        (
            "version 0",
            edit(&offer_bytes, 0, &[0]),
            DecodeError::Version(0),
        ),
        (
            "version 2",
            edit(&offer_bytes, 0, &[2]),
            DecodeError::Version(2),
        ),
        (
            "tag 0",
            edit(&offer_bytes, 1, &[0]),
            DecodeError::UnknownTag(0),
        ),
        (
            "tag 6",
            edit(&offer_bytes, 1, &[6]),
            DecodeError::UnknownTag(6),
        ),
        (
            "offer count 3",
            edit(&offer_bytes, 57, &[3]),
            DecodeError::Invalid("chunk count"),
        ),
        (
            "offer count 0",
            edit(&offer_bytes, 57, &[0]),
            DecodeError::Invalid("chunk count"),
        ),
        (
            "offer content 4",
            edit(&offer_bytes, 58, &[0, 0, 0, 0, 0, 0, 0, 4]),
            DecodeError::Invalid("content length"),
        ),
        (
            "offer cut",
            offer_bytes[..65].to_vec(),
            DecodeError::Truncated,
        ),
        (
            "offer trailing",
            [&offer_bytes[..], &[0]].concat(),
            DecodeError::Trailing,
        ),
        (
            "refuse 0",
            [&[1, 4][..], &[0; 16], &[0]].concat(),
            DecodeError::UnknownTag(0),
        ),
        (
            "refuse 8",
            [&[1, 4][..], &[0; 16], &[8]].concat(),
            DecodeError::UnknownTag(8),
        ),
        (
            "complete too long",
            [&[1, 3][..], &((MAX_RECEIPT_LEN + 1) as u16).to_be_bytes()].concat(),
            DecodeError::TooLong,
        ),
        ("complete empty", vec![1, 3, 0, 0], DecodeError::Truncated),
        (
            "last flag 2",
            edit(&chunk, 10, &[2]),
            DecodeError::Invalid("last flag"),
        ),
        (
            "sealed too long",
            edit(&chunk, 11, &((SEALED_CHUNK_LEN + 1) as u16).to_be_bytes()),
            DecodeError::TooLong,
        ),
        (
            "not last, not full",
            edit(&chunk, 10, &[0]),
            DecodeError::Invalid("sealed chunk length"),
        ),
        (
            "last, shorter than a tag",
            [&chunk[..11], &[0, 16], &[0; 16]].concat(),
            DecodeError::Invalid("sealed chunk length"),
        ),
        (
            "chunk cut",
            full[..full.len() - 1].to_vec(),
            DecodeError::Truncated,
        ),
        (
            "chunk trailing",
            [&chunk[..], &[0]].concat(),
            DecodeError::Trailing,
        ),
    ];
    for (what, bytes, want) in cases {
        assert_eq!(TransferMessage::decode(&bytes), Err(want), "{what}");
    }
    assert_eq!(
        ChunkView::decode(&offer_bytes),
        Err(DecodeError::UnknownTag(1))
    );
    // Encoding refuses what decoding would.
    let mut inconsistent = offer();
    inconsistent.chunk_count = 9;
    assert_eq!(
        TransferMessage::Offer(inconsistent).encode(),
        Err(DecodeError::Invalid("chunk count"))
    );
    assert_eq!(
        encode_chunk(0, false, &[0; 17]),
        Err(DecodeError::Invalid("sealed chunk length"))
    );
    let mut bad = receipt();
    bad.sender = String::new();
    assert_eq!(
        TransferMessage::Complete { receipt: bad }.encode(),
        Err(DecodeError::Invalid("sender national id"))
    );
}

// ----------------------------------------------------------------------------
// Transfer messages: round trip and damaged input (proptest)

fn receipt_strategy() -> impl Strategy<Value = DeliveryReceipt> {
    let ids = || prop::sample::select(vec![GP, CARDIOLOGIST, "0123456789", "3ABC"]);
    (
        any::<[u8; 16]>(),
        ids(),
        ids(),
        any::<[u8; 32]>(),
        any::<i64>(),
        prop::collection::vec(any::<u8>(), 0..=64),
        prop::collection::vec(any::<u8>(), 64),
    )
        .prop_map(|(id, s, r, h, t, p, sig)| DeliveryReceipt {
            dossier_id: DossierId(id),
            sender: s.into(),
            recipient: r.into(),
            content_digest: h,
            received_at: UnixTime::from_secs(t),
            recipient_peer_id: p,
            signature: sig.try_into().expect("64 bytes"),
        })
}

fn message_strategy() -> impl Strategy<Value = TransferMessage> {
    let chunk = (
        any::<u64>(),
        any::<bool>(),
        17usize..=SEALED_CHUNK_LEN,
        any::<u8>(),
    )
        .prop_map(|(index, last, len, fill)| TransferMessage::Chunk {
            index,
            last,
            sealed: vec![fill; if last { len } else { SEALED_CHUNK_LEN }],
        });
    prop_oneof![
        (any::<[u8; 16]>(), any::<[u8; 32]>(), 5u64..).prop_map(|(id, k, len)| {
            TransferMessage::Offer(Offer::new(DossierId(id), DossierKey::from_bytes(k), len))
        }),
        (any::<[u8; 16]>(), any::<u64>()).prop_map(|(id, n)| TransferMessage::Resume {
            dossier_id: DossierId(id),
            next_index: n
        }),
        receipt_strategy().prop_map(|receipt| TransferMessage::Complete { receipt }),
        (any::<[u8; 16]>(), 1u8..=6).prop_map(|(id, c)| TransferMessage::Refuse {
            dossier_id: DossierId(id),
            reason: RefuseReason::from_code(c).expect("code"),
        }),
        chunk,
    ]
}

proptest! {
    #[test]
    fn message_round_trip(msg in message_strategy()) {
        let bytes = msg.encode().expect("generated messages encode");
        prop_assert!(bytes.len() <= MAX_PLAINTEXT_LEN);
        let decoded = TransferMessage::decode(&bytes).expect("decodes");
        prop_assert_eq!(&decoded, &msg);
        prop_assert_eq!(decoded.encode().expect("encodes"), bytes);
    }

    #[test]
    fn receipt_round_trip(r in receipt_strategy()) {
        let bytes = r.encode().expect("encodes");
        prop_assert_eq!(DeliveryReceipt::decode(&bytes), Ok(r));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = TransferMessage::decode(&bytes);
        let _ = ChunkView::decode(&bytes);
        let _ = DeliveryReceipt::decode(&bytes);
        for tag in 1..=5u8 {
            let framed = [&[1, tag][..], &bytes].concat();
            if let Ok(m) = TransferMessage::decode(&framed) {
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
        if let Ok(m) = TransferMessage::decode(&bytes) {
            prop_assert_eq!(m.encode().expect("canonical"), bytes);
        }
    }

    #[test]
    fn mutated_receipts_are_refused(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let original = receipt().encode().expect("encodes");
        let bytes = damaged(&original, &edits, None);
        let accepted = DeliveryReceipt::decode(&bytes)
            .map(|r| verify_receipt(&r, &ID, &node_peer_id(), &sha(b"abc")).is_ok())
            .unwrap_or(false);
        prop_assert_eq!(accepted, bytes == original);
    }
}

// ----------------------------------------------------------------------------
// State machines

fn manifest(documents: &[&[u8]]) -> Manifest {
    Manifest {
        version: 1,
        dossier_id: ID,
        from: GP.into(),
        to: CARDIOLOGIST.into(),
        created_at: UnixTime::from_secs(CREATED),
        patient: Patient {
            ins: Ins::parse("269054958815780").expect("INS"),
            family: "DUPONT".into(),
            given: "MARIE".into(),
            birth_date: BirthDate::parse("1969-05-14").expect("date"),
            sex: Sex::F,
        },
        referral: Referral {
            reason: "Palpitations".into(),
            urgent: false,
            letter: String::new(),
        },
        in_reply_to: None,
        documents: documents
            .iter()
            .enumerate()
            .map(|(i, d)| DocumentEntry {
                name: format!("doc{i}.pdf"),
                media_type: "application/pdf".into(),
                size: d.len() as u64,
                sha256: sha(d),
            })
            .collect(),
    }
}

/// The sender's outbox entry: the dossier sealed, with its key.
struct Outbox {
    key: DossierKey,
    chunks: Vec<SealedChunk>,
    summary: ContentSummary,
}

fn outbox() -> Outbox {
    let ecg: Vec<u8> = (0..150_000u32).map(|i| (i % 253) as u8).collect();
    let labs = b"K+ 4.1 mmol/L".to_vec();
    let docs: [&[u8]; 3] = [&ecg, b"", &labs];
    let key = DossierKey::generate().expect("key");
    let mut sealer = ContentSealer::new(&key, &manifest(&docs)).expect("sealer");
    let mut chunks = Vec::new();
    for d in docs {
        for piece in d.chunks(8192) {
            chunks.extend(sealer.write(piece).expect("write"));
        }
        chunks.extend(sealer.end_document().expect("end"));
    }
    let (tail, summary) = sealer.finish().expect("finish");
    chunks.extend(tail);
    chunks.sort_by_key(|c| c.index);
    assert_eq!(chunks.len(), 3);
    Outbox {
        key,
        chunks,
        summary,
    }
}

/// Through the wire format, as the session would carry it.
fn wire(msg: &TransferMessage) -> TransferMessage {
    TransferMessage::decode(&msg.encode().expect("encodes")).expect("decodes")
}

/// The recipient's node: its store of sealed chunks and its opener.
struct Recipient {
    stored: Vec<Vec<u8>>,
}

impl Recipient {
    /// Runs the receiving side from an offer to the Complete (or error).
    fn receive(
        &mut self,
        offer_msg: &TransferMessage,
        sender: &mut SendingTransfer,
        out: &Outbox,
    ) -> SenderStep {
        let TransferMessage::Offer(offer) = wire(offer_msg) else {
            panic!("an offer")
        };
        let (mut rx, resume) =
            ReceivingTransfer::from_offer(&offer, self.stored.len() as u64).expect("offer");
        let step = sender.on_message(wire(&resume)).expect("resume");
        assert_eq!(
            step,
            SenderStep::SendChunks {
                from: self.stored.len() as u64
            }
        );
        while let Some((index, last)) = sender.next_chunk() {
            let c = &out.chunks[index as usize];
            assert_eq!((c.index, c.last), (index, last));
            let bytes = encode_chunk(index, last, &c.sealed).expect("chunk");
            let view = ChunkView::decode(&bytes).expect("view");
            let step = rx
                .on_chunk(view.index, view.last, view.sealed.len())
                .expect("chunk");
            self.stored.push(view.sealed.to_vec());
            assert_eq!(step == ReceiverStep::ReceivedLast, last);
        }
        assert!(rx.all_received());
        // Verify the whole dossier from the store, then sign.
        let mut opener =
            ContentOpener::new(&offer.key, offer.dossier_id).expecting_len(offer.content_len);
        let mut manifest = None;
        for (i, sealed) in self.stored.iter().enumerate() {
            let last = i + 1 == self.stored.len();
            for ev in opener.push_chunk(i as u64, last, sealed).expect("opens") {
                if let ContentEvent::Manifest(m) = ev {
                    manifest = Some(*m);
                }
            }
        }
        let summary = opener.finish().expect("complete");
        let m = manifest.expect("manifest");
        let receipt = sign_receipt(
            &node_key(),
            m.dossier_id,
            &m.from,
            &m.to,
            summary.content_digest,
            UnixTime::from_secs(CREATED + 60),
        )
        .expect("receipt");
        let complete = rx.complete(receipt).expect("complete");
        sender.on_message(wire(&complete)).expect("delivered")
    }
}

#[test]
fn a_dossier_goes_through_and_the_receipt_verifies() {
    let out = outbox();
    let mut sender = SendingTransfer::new(ID, out.summary, node_peer_id());
    let offer = sender.offer(&out.key);
    let mut recipient = Recipient { stored: Vec::new() };
    let step = recipient.receive(&offer, &mut sender, &out);
    let SenderStep::Delivered(receipt) = step else {
        panic!("delivered: {step:?}")
    };
    assert_eq!(receipt.content_digest, out.summary.content_digest);
    assert!(sender.is_finished());
    assert_eq!(recipient.stored.len(), 3);
    // Offered again (the Complete was lost): the recipient answers with
    // the receipt it kept, and the sender takes it at once.
    let mut again = SendingTransfer::new(ID, out.summary, node_peer_id());
    let _ = again.offer(&out.key);
    let step = again.on_message(wire(&TransferMessage::Complete {
        receipt: receipt.clone(),
    }));
    assert_eq!(step, Ok(SenderStep::Delivered(receipt)));
}

#[test]
fn an_interrupted_transfer_resumes_where_it_stopped() {
    let out = outbox();
    let mut recipient = Recipient {
        stored: out.chunks[..2].iter().map(|c| c.sealed.clone()).collect(),
    };
    let mut sender = SendingTransfer::new(ID, out.summary, node_peer_id());
    let offer = sender.offer(&out.key);
    let step = recipient.receive(&offer, &mut sender, &out);
    assert!(matches!(step, SenderStep::Delivered(_)), "{step:?}");
    // Every chunk stored, nothing verified yet (a crash before Complete):
    // Resume at the end, no chunk sent, then Complete.
    let mut recipient = Recipient {
        stored: out.chunks.iter().map(|c| c.sealed.clone()).collect(),
    };
    let mut sender = SendingTransfer::new(ID, out.summary, node_peer_id());
    let offer = sender.offer(&out.key);
    let step = recipient.receive(&offer, &mut sender, &out);
    assert!(matches!(step, SenderStep::Delivered(_)), "{step:?}");
}

#[test]
fn refusals_end_the_transfer() {
    let out = outbox();
    let mut sender = SendingTransfer::new(ID, out.summary, node_peer_id());
    let refuse = TransferMessage::Refuse {
        dossier_id: ID,
        reason: RefuseReason::NotForMe,
    };
    assert_eq!(
        sender.on_message(refuse.clone()),
        Ok(SenderStep::Refused(RefuseReason::NotForMe))
    );
    assert!(sender.is_finished());
    assert_eq!(sender.on_message(refuse), Err(TransferError::Finished));

    // Mid-way: disk full after the first chunk.
    let mut sender = SendingTransfer::new(ID, out.summary, node_peer_id());
    let TransferMessage::Offer(offer) = sender.offer(&out.key) else {
        panic!("offer")
    };
    let (mut rx, resume) = ReceivingTransfer::from_offer(&offer, 0).expect("offer");
    sender.on_message(resume).expect("resume");
    let (i, last) = sender.next_chunk().expect("a chunk");
    rx.on_chunk(i, last, out.chunks[0].sealed.len())
        .expect("stored");
    let refuse = rx.refuse(RefuseReason::NoSpace);
    assert_eq!(
        sender.on_message(wire(&refuse)),
        Ok(SenderStep::Refused(RefuseReason::NoSpace))
    );
    assert_eq!(rx.next_index(), 1, "the recipient keeps what it stored");
    assert_eq!(
        rx.on_chunk(1, false, SEALED_CHUNK_LEN),
        Err(TransferError::Finished)
    );
}

fn sending(out: &Outbox) -> SendingTransfer {
    let s = SendingTransfer::new(ID, out.summary, node_peer_id());
    let _ = s.offer(&out.key);
    s
}

#[test]
fn each_sender_rejection_has_its_variant() {
    let out = outbox();
    let other = DossierId([0x99; 16]);
    let good_receipt = || {
        sign_receipt(
            &node_key(),
            ID,
            GP,
            CARDIOLOGIST,
            out.summary.content_digest,
            UnixTime::from_secs(CREATED),
        )
        .expect("receipt")
    };
    let resume = |n| TransferMessage::Resume {
        dossier_id: ID,
        next_index: n,
    };

    assert_eq!(
        sending(&out).on_message(TransferMessage::Resume {
            dossier_id: other,
            next_index: 0
        }),
        Err(TransferError::OtherDossier { kind: "Resume" })
    );
    assert_eq!(
        sending(&out).on_message(TransferMessage::Refuse {
            dossier_id: other,
            reason: RefuseReason::Busy
        }),
        Err(TransferError::OtherDossier { kind: "Refuse" })
    );
    assert_eq!(
        sending(&out).on_message(resume(4)),
        Err(TransferError::ResumeBeyondEnd {
            next_index: 4,
            chunk_count: 3
        })
    );
    assert_eq!(
        sending(&out).on_message(TransferMessage::Offer(offer())),
        Err(TransferError::Unexpected {
            kind: "Offer",
            state: "waiting for the answer to the offer"
        })
    );
    let mut s = sending(&out);
    s.on_message(resume(0)).expect("resume");
    assert_eq!(
        s.on_message(resume(0)),
        Err(TransferError::Unexpected {
            kind: "Resume",
            state: "sending chunks"
        })
    );
    assert_eq!(
        s.on_message(TransferMessage::Chunk {
            index: 0,
            last: true,
            sealed: vec![0; 20]
        }),
        Err(TransferError::Unexpected {
            kind: "Chunk",
            state: "sending chunks"
        })
    );
    assert_eq!(s.next_chunk(), Some((0, false)));
    assert_eq!(
        s.on_message(TransferMessage::Complete {
            receipt: good_receipt()
        }),
        Err(TransferError::CompleteBeforeEnd { next_index: 1 })
    );
    assert_eq!(s.next_chunk(), Some((1, false)));
    assert_eq!(s.next_chunk(), Some((2, true)));
    assert_eq!(s.next_chunk(), None);

    // Receipts that do not verify.
    let mut r = good_receipt();
    r.dossier_id = other;
    assert_eq!(
        sending(&out).on_message(TransferMessage::Complete { receipt: r }),
        Err(TransferError::Receipt(ReceiptError::OtherDossier))
    );
    let stranger = Ed25519KeyPair::from_seed_unchecked(&[5; 32]).expect("seed");
    let r = sign_receipt(
        &stranger,
        ID,
        GP,
        CARDIOLOGIST,
        out.summary.content_digest,
        UnixTime::from_secs(0),
    )
    .expect("receipt");
    assert_eq!(
        sending(&out).on_message(TransferMessage::Complete { receipt: r }),
        Err(TransferError::Receipt(ReceiptError::OtherPeer))
    );
    let r = sign_receipt(
        &node_key(),
        ID,
        GP,
        CARDIOLOGIST,
        [0; 32],
        UnixTime::from_secs(0),
    )
    .expect("receipt");
    assert_eq!(
        sending(&out).on_message(TransferMessage::Complete { receipt: r }),
        Err(TransferError::Receipt(ReceiptError::OtherContent))
    );
    let mut r = good_receipt();
    r.received_at = UnixTime::from_secs(0);
    assert_eq!(
        sending(&out).on_message(TransferMessage::Complete { receipt: r }),
        Err(TransferError::Receipt(ReceiptError::BadSignature))
    );
    // A failed receipt does not end the transfer; a good one does.
    let mut s = sending(&out);
    let mut bad = good_receipt();
    bad.signature[0] ^= 1;
    assert!(s
        .on_message(TransferMessage::Complete { receipt: bad })
        .is_err());
    assert!(!s.is_finished());
    assert!(matches!(
        s.on_message(TransferMessage::Complete {
            receipt: good_receipt()
        }),
        Ok(SenderStep::Delivered(_))
    ));
    assert_eq!(s.on_message(resume(0)), Err(TransferError::Finished));
}

#[test]
fn each_receiver_rejection_has_its_variant() {
    let out = outbox();
    let TransferMessage::Offer(offer) = sending(&out).offer(&out.key) else {
        panic!("offer")
    };
    let len = |i: usize| out.chunks[i].sealed.len();
    let fresh = || ReceivingTransfer::from_offer(&offer, 0).expect("offer").0;

    let mut bad = offer.clone();
    bad.chunk_count = 4;
    assert_eq!(
        ReceivingTransfer::from_offer(&bad, 0).map(|_| ()),
        Err(TransferError::InconsistentOffer)
    );
    assert_eq!(
        ReceivingTransfer::from_offer(&offer, 4).map(|_| ()),
        Err(TransferError::StoredBeyondEnd {
            stored: 4,
            chunk_count: 3
        })
    );

    let mut rx = fresh();
    assert_eq!(
        rx.on_chunk(1, false, len(1)),
        Err(TransferError::ChunkOutOfOrder {
            expected: 0,
            got: 1
        })
    );
    assert_eq!(
        rx.on_chunk(3, true, len(2)),
        Err(TransferError::ChunkBeyondEnd {
            index: 3,
            chunk_count: 3
        })
    );
    assert_eq!(
        rx.on_chunk(0, true, len(0)),
        Err(TransferError::LastFlag { index: 0 })
    );
    assert_eq!(
        rx.on_chunk(0, false, len(0) - 1),
        Err(TransferError::ChunkLength {
            index: 0,
            expected: SEALED_CHUNK_LEN,
            got: SEALED_CHUNK_LEN - 1
        })
    );
    assert_eq!(rx.on_chunk(0, false, len(0)), Ok(ReceiverStep::Received));
    assert_eq!(
        rx.on_chunk(0, false, len(0)),
        Err(TransferError::ChunkOutOfOrder {
            expected: 1,
            got: 0
        })
    );
    assert_eq!(rx.on_chunk(1, false, len(1)), Ok(ReceiverStep::Received));
    assert_eq!(
        rx.on_chunk(2, false, len(2)),
        Err(TransferError::LastFlag { index: 2 })
    );
    assert_eq!(
        rx.on_chunk(2, true, len(2) + 1),
        Err(TransferError::ChunkLength {
            index: 2,
            expected: len(2),
            got: len(2) + 1
        })
    );
    let receipt = sign_receipt(
        &node_key(),
        ID,
        GP,
        CARDIOLOGIST,
        [0; 32],
        UnixTime::from_secs(0),
    )
    .expect("r");
    assert_eq!(
        rx.complete(receipt.clone()),
        Err(TransferError::NotAllReceived {
            received: 2,
            chunk_count: 3
        })
    );
    assert_eq!(
        rx.on_message(&TransferMessage::Offer(offer.clone())),
        Err(TransferError::Unexpected {
            kind: "Offer",
            state: "receiving chunks"
        })
    );
    let chunk = TransferMessage::Chunk {
        index: 2,
        last: true,
        sealed: out.chunks[2].sealed.clone(),
    };
    assert_eq!(rx.on_message(&chunk), Ok(ReceiverStep::ReceivedLast));
    let mut other = receipt.clone();
    other.dossier_id = DossierId([0x99; 16]);
    assert_eq!(
        rx.complete(other),
        Err(TransferError::OtherDossier { kind: "Complete" })
    );
    assert!(matches!(
        rx.complete(receipt.clone()),
        Ok(TransferMessage::Complete { .. })
    ));
    assert_eq!(rx.complete(receipt), Err(TransferError::Finished));
    assert_eq!(rx.on_message(&chunk), Err(TransferError::Finished));
}
