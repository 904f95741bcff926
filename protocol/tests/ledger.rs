//! The ledger: entries and head checkpoints on the wire (fixed bytes,
//! round trip, damaged input), making entries, and chain verification with
//! each of its rejections — a changed byte anywhere, a removed entry,
//! swapped entries, a cut-off tail, forged signatures, another node's key.

mod damage;

use confrere_protocol::codec::DecodeError;
use confrere_protocol::dossier::{DossierId, Ins};
use confrere_protocol::ledger::kind::{MAX_ENTRY_RECEIPT_LEN, MAX_RECIPIENTS, MAX_TEXT_LEN};
use confrere_protocol::ledger::{
    append, append_after, append_encoded, verify_chain, verify_chain_with, ChainError,
    ChainVerifier, EntryError, EntryKind, HeadCheckpoint, LedgerEntry, PreparedEntry, ShareBasis,
    SignatureCheck, CHECKPOINT_LEN,
};
use confrere_protocol::receipt::{peer_id_from_ed25519_key, NodeSigner};
use confrere_protocol::UnixTime;
use damage::damaged;
use proptest::prelude::*;
use ring::digest::{digest, SHA256};
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

const GP: &str = "810001000016";
const CARDIOLOGIST: &str = "810001000024";
const NURSE: &str = "0123456789";
const INS: &str = "269054958815780";
const OTHER_INS: &str = "184027645108980";
/// 2024-03-01T00:00:00Z.
const T0: i64 = 1_709_251_200;

fn key(seed: u8) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).expect("seed")
}

fn node_key() -> Ed25519KeyPair {
    key(7)
}

fn peer_id_of(k: &Ed25519KeyPair) -> Vec<u8> {
    let mut public = [0u8; 32];
    public.copy_from_slice(k.public_key().as_ref());
    peer_id_from_ed25519_key(&public)
}

fn ins(s: &str) -> Ins {
    Ins::parse(s).expect("INS")
}

fn genesis_kind(signer: &Ed25519KeyPair) -> EntryKind {
    EntryKind::Genesis {
        national_id: GP.into(),
        name: "Jeanne MARTIN".into(),
        peer_id: peer_id_of(signer),
    }
}

/// One entry of every kind after the genesis one.
fn every_kind() -> Vec<EntryKind> {
    let dossier = DossierId([0x22; 16]);
    vec![
        EntryKind::ConsentGranted {
            consent_id: [0x33; 16],
            patient_ins: ins(INS),
            recipients: vec![CARDIOLOGIST.into(), NURSE.into()],
            purpose: "Avis cardiologique".into(),
            expires: Some("2025-06-30".into()),
        },
        EntryKind::CareTeamRecorded {
            record_id: [0x44; 16],
            patient_ins: ins(INS),
            recipients: vec![NURSE.into()],
            informed_on: "2024-02-28".into(),
        },
        EntryKind::DossierSent {
            dossier_id: dossier,
            patient_ins: ins(INS),
            to: CARDIOLOGIST.into(),
            basis: ShareBasis::Consent([0x33; 16]),
        },
        EntryKind::DossierDelivered {
            dossier_id: dossier,
            to: CARDIOLOGIST.into(),
            receipt: vec![1, 2, 3, 4],
        },
        EntryKind::DossierReceived {
            dossier_id: DossierId([0x55; 16]),
            patient_ins: ins(INS),
            from: CARDIOLOGIST.into(),
            from_name: "Paul DURAND".into(),
        },
        EntryKind::DossierOpened {
            dossier_id: DossierId([0x55; 16]),
            patient_ins: ins(INS),
            by: GP.into(),
        },
        EntryKind::DossierExported {
            dossier_id: DossierId([0x55; 16]),
            patient_ins: ins(INS),
            files: 3,
        },
        EntryKind::RevocationSent {
            consent_id: [0x33; 16],
            dossier_id: dossier,
            to: CARDIOLOGIST.into(),
        },
        EntryKind::ConsentRevoked {
            consent_id: [0x33; 16],
            reason: "Retrait du consentement".into(),
        },
        EntryKind::ErasureReceiptReceived {
            dossier_id: dossier,
            from: CARDIOLOGIST.into(),
            receipt: vec![9; 100],
        },
        EntryKind::RevocationReceived {
            consent_id: [0x66; 16],
            dossier_id: DossierId([0x55; 16]),
            from: CARDIOLOGIST.into(),
        },
        EntryKind::DossierErased {
            dossier_id: DossierId([0x55; 16]),
            patient_ins: ins(INS),
            reason: "revocation".into(),
        },
        EntryKind::RetentionPurge {
            dossier_id: DossierId([0x77; 16]),
            patient_ins: ins(OTHER_INS),
        },
        EntryKind::DossierSent {
            dossier_id: DossierId([0x88; 16]),
            patient_ins: ins(INS),
            to: CARDIOLOGIST.into(),
            basis: ShareBasis::Reply(DossierId([0x55; 16])),
        },
        EntryKind::DossierSent {
            dossier_id: DossierId([0x99; 16]),
            patient_ins: ins(INS),
            to: NURSE.into(),
            basis: ShareBasis::CareTeam([0x44; 16]),
        },
        EntryKind::CredentialRenewed {
            old_fingerprint: [0xa1; 32],
            old_not_after: UnixTime::from_secs(T0 + 1000),
            new_fingerprint: [0xb2; 32],
            new_not_after: UnixTime::from_secs(T0 + 2000),
        },
    ]
}

/// A chain signed by `signer`: genesis, then `kinds`, one minute apart.
fn chain_of(signer: &Ed25519KeyPair, kinds: Vec<EntryKind>) -> Vec<LedgerEntry> {
    let mut out: Vec<LedgerEntry> = Vec::new();
    let genesis =
        append(None, UnixTime::from_secs(T0), genesis_kind(signer), signer).expect("genesis");
    out.push(genesis);
    for (i, kind) in kinds.into_iter().enumerate() {
        let t = UnixTime::from_secs(T0 + 60 * (i as i64 + 1));
        let next = append(out.last(), t, kind, signer).expect("append");
        out.push(next);
    }
    out
}

fn chain() -> Vec<LedgerEntry> {
    chain_of(&node_key(), every_kind())
}

fn head(entries: &[LedgerEntry]) -> Option<(u64, [u8; 32])> {
    entries.last().map(|e| (e.seq, e.hash()))
}

fn verify(entries: &[LedgerEntry]) -> Result<u64, ChainError> {
    verify_chain(entries, &peer_id_of(&node_key()), head_of_full()).map(|s| s.head_seq)
}

/// The checkpoint of the untouched chain.
fn head_of_full() -> Option<(u64, [u8; 32])> {
    head(&chain())
}

fn sha(parts: &[&[u8]]) -> [u8; 32] {
    let all: Vec<u8> = parts.concat();
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, &all).as_ref());
    out
}

// ----------------------------------------------------------------------------
// Making entries

#[test]
fn a_chain_of_every_kind_verifies() {
    let entries = chain();
    assert_eq!(entries.len(), 17);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, i as u64);
        if i > 0 {
            assert_eq!(e.prev_hash, entries[i - 1].hash());
        }
    }
    let summary = verify_chain(&entries, &peer_id_of(&node_key()), head(&entries)).expect("intact");
    assert_eq!(summary.entries, 17);
    assert_eq!(summary.head_seq, 16);
    assert_eq!(summary.head_hash, entries[16].hash());
    assert_eq!(summary.national_id, GP);
    assert_eq!(summary.name, "Jeanne MARTIN");
    assert_eq!(summary.started, UnixTime::from_secs(T0));
    assert_eq!(summary.last_time, UnixTime::from_secs(T0 + 16 * 60));
    assert_eq!(summary.checkpoint_seq, Some(16));
    // Without a checkpoint too, and with anchored signatures.
    verify_chain(&entries, &peer_id_of(&node_key()), None).expect("intact");
    verify_chain_with(
        &entries,
        &peer_id_of(&node_key()),
        head(&entries),
        SignatureCheck::Anchored,
    )
    .expect("intact");
}

#[test]
fn append_after_matches_append() {
    let k = node_key();
    let g = append(None, UnixTime::from_secs(T0), genesis_kind(&k), &k).expect("genesis");
    let kind = every_kind().remove(0);
    let a = append(Some(&g), UnixTime::from_secs(T0 + 1), kind.clone(), &k).expect("a");
    let b = append_after(Some((0, g.hash())), UnixTime::from_secs(T0 + 1), kind, &k).expect("b");
    assert_eq!(a, b);
}

#[test]
fn append_encoded_gives_the_entry_its_hash_and_its_encoding() {
    let k = node_key();
    let g = append(None, UnixTime::from_secs(T0), genesis_kind(&k), &k).expect("genesis");
    let mut head = (0, g.hash());
    for kind in every_kind() {
        let made = append_encoded(Some(head), UnixTime::from_secs(T0 + 1), kind.clone(), &k)
            .expect("made");
        let plain = append_after(Some(head), UnixTime::from_secs(T0 + 1), kind, &k).expect("plain");
        assert_eq!(made.entry, plain);
        assert_eq!(made.hash, plain.hash());
        assert_eq!(made.encoded, plain.encode().expect("encodes"));
        assert_eq!(
            LedgerEntry::decode_hashed(&made.encoded),
            Ok((plain.clone(), plain.hash()))
        );
        head = (plain.seq, plain.hash());
    }
}

#[test]
fn genesis_only_first_and_for_the_signer() {
    let k = node_key();
    let t = UnixTime::from_secs(T0);
    let kind = every_kind().remove(0);
    assert_eq!(
        append(None, t, kind.clone(), &k),
        Err(EntryError::Misplaced)
    );
    let g = append(None, t, genesis_kind(&k), &k).expect("genesis");
    assert_eq!(
        append(Some(&g), t, genesis_kind(&k), &k),
        Err(EntryError::Misplaced)
    );
    assert_eq!(
        append(None, t, genesis_kind(&key(8)), &k),
        Err(EntryError::OtherNode)
    );
    assert_eq!(
        append_after(Some((u64::MAX, [0; 32])), t, kind, &k),
        Err(EntryError::Full)
    );
}

#[test]
fn invalid_fields_are_refused_when_made() {
    let k = node_key();
    let g = append(None, UnixTime::from_secs(T0), genesis_kind(&k), &k).expect("genesis");
    let t = UnixTime::from_secs(T0 + 1);
    let dossier = DossierId([1; 16]);
    let bad = [
        EntryKind::DossierSent {
            dossier_id: dossier,
            patient_ins: ins(INS),
            to: "810001000017".into(), // wrong Luhn digit
            basis: ShareBasis::Consent([0; 16]),
        },
        EntryKind::ConsentGranted {
            consent_id: [0; 16],
            patient_ins: ins(INS),
            recipients: vec![],
            purpose: String::new(),
            expires: None,
        },
        EntryKind::ConsentGranted {
            consent_id: [0; 16],
            patient_ins: ins(INS),
            recipients: vec![CARDIOLOGIST.into(); MAX_RECIPIENTS + 1],
            purpose: String::new(),
            expires: None,
        },
        EntryKind::ConsentGranted {
            consent_id: [0; 16],
            patient_ins: ins(INS),
            recipients: vec![CARDIOLOGIST.into()],
            purpose: "x".repeat(MAX_TEXT_LEN + 1),
            expires: None,
        },
        EntryKind::ConsentGranted {
            consent_id: [0; 16],
            patient_ins: ins(INS),
            recipients: vec![CARDIOLOGIST.into()],
            purpose: String::new(),
            expires: Some("2025-02-30".into()),
        },
        EntryKind::CareTeamRecorded {
            record_id: [0; 16],
            patient_ins: ins(INS),
            recipients: vec![NURSE.into()],
            informed_on: "28/02/2024".into(),
        },
        EntryKind::DossierDelivered {
            dossier_id: dossier,
            to: CARDIOLOGIST.into(),
            receipt: vec![0; MAX_ENTRY_RECEIPT_LEN + 1],
        },
        EntryKind::DossierReceived {
            dossier_id: dossier,
            patient_ins: ins(INS),
            from: String::new(),
            from_name: "A".into(),
        },
    ];
    for kind in bad {
        let name = kind.name();
        match append(Some(&g), t, kind, &k) {
            Err(EntryError::Invalid(_)) => {}
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// A signer that signs with one key but claims another's PeerId, or fails.
struct BrokenSigner {
    key: Ed25519KeyPair,
    claims: Vec<u8>,
    short: bool,
}

impl NodeSigner for BrokenSigner {
    fn peer_id(&self) -> Vec<u8> {
        self.claims.clone()
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, confrere_protocol::receipt::ReceiptError> {
        let mut s = self.key.sign(msg).as_ref().to_vec();
        if self.short {
            s.pop();
        }
        Ok(s)
    }
}

#[test]
fn a_signer_with_another_key_is_caught_by_the_checkpoint() {
    let liar = BrokenSigner {
        key: key(8),
        claims: peer_id_of(&node_key()),
        short: false,
    };
    assert_eq!(
        HeadCheckpoint::sign(&liar, 3, [1; 32]).map(|_| ()),
        Err(EntryError::OtherNode)
    );
    let short = BrokenSigner {
        key: node_key(),
        claims: peer_id_of(&node_key()),
        short: true,
    };
    assert_eq!(
        HeadCheckpoint::sign(&short, 3, [1; 32]).map(|_| ()),
        Err(EntryError::SignatureLength(63))
    );
    let g = genesis_kind(&node_key());
    assert_eq!(
        append(None, UnixTime::from_secs(T0), g, &short).map(|_| ()),
        Err(EntryError::SignatureLength(63))
    );
    // Unchecked, the same signature, and the other key goes unnoticed:
    // only for a signer checked before.
    let k = node_key();
    assert_eq!(
        HeadCheckpoint::sign_unchecked(&k, 3, [1; 32]),
        HeadCheckpoint::sign(&k, 3, [1; 32])
    );
    let lie = HeadCheckpoint::sign_unchecked(&liar, 3, [1; 32]).expect("signed");
    assert_eq!(
        lie.verify(&peer_id_of(&node_key())),
        Err(ChainError::BadCheckpoint)
    );
    assert_eq!(
        HeadCheckpoint::sign_unchecked(&short, 3, [1; 32]).map(|_| ()),
        Err(EntryError::SignatureLength(63))
    );
}

// ----------------------------------------------------------------------------
// Fixed bytes

#[test]
fn entry_fixed_bytes() {
    let k = node_key();
    let prev = [0xab; 32];
    let entry = append_after(
        Some((41, prev)),
        UnixTime::from_secs(T0),
        EntryKind::DossierSent {
            dossier_id: DossierId([0x22; 16]),
            patient_ins: ins(INS),
            to: CARDIOLOGIST.into(),
            basis: ShareBasis::Consent([0x33; 16]),
        },
        &k,
    )
    .expect("entry");
    let mut body = vec![1u8];
    body.extend_from_slice(&42u64.to_be_bytes());
    body.extend_from_slice(&T0.to_be_bytes());
    body.extend_from_slice(&prev);
    body.push(4);
    body.extend_from_slice(&[0x22; 16]);
    body.extend_from_slice(INS.as_bytes());
    body.push(12);
    body.extend_from_slice(CARDIOLOGIST.as_bytes());
    body.push(1);
    body.extend_from_slice(&[0x33; 16]);
    let hash = sha(&[b"confrere/ledger-entry/v1\0", &body]);
    assert_eq!(entry.hash(), hash);
    let signed = [&b"confrere/ledger-signature/v1\0"[..], &hash].concat();
    assert_eq!(entry.signature.as_slice(), k.sign(&signed).as_ref());
    UnparsedPublicKey::new(&ED25519, k.public_key().as_ref())
        .verify(&signed, &entry.signature)
        .expect("signature");
    let wire = [&body[..], &entry.signature].concat();
    assert_eq!(entry.encode().expect("encodes"), wire);
    assert_eq!(LedgerEntry::decode(&wire), Ok(entry));
}

#[test]
fn genesis_fixed_bytes() {
    let k = node_key();
    let g = append(None, UnixTime::from_secs(T0), genesis_kind(&k), &k).expect("genesis");
    let peer = peer_id_of(&k);
    let mut body = vec![1u8];
    body.extend_from_slice(&0u64.to_be_bytes());
    body.extend_from_slice(&T0.to_be_bytes());
    body.extend_from_slice(&[0; 32]);
    body.push(0);
    body.push(12);
    body.extend_from_slice(GP.as_bytes());
    body.extend_from_slice(&[0, 13]);
    body.extend_from_slice(b"Jeanne MARTIN");
    body.push(38);
    body.extend_from_slice(&peer);
    assert_eq!(
        g.encode().expect("encodes"),
        [&body[..], &g.signature].concat()
    );
    assert_eq!(g.hash(), sha(&[b"confrere/ledger-entry/v1\0", &body]));
}

#[test]
fn credential_renewed_fixed_bytes() {
    let k = node_key();
    let prev = [0xab; 32];
    let entry = append_after(
        Some((6, prev)),
        UnixTime::from_secs(T0),
        EntryKind::CredentialRenewed {
            old_fingerprint: [0x11; 32],
            old_not_after: UnixTime::from_secs(1_900_000_000),
            new_fingerprint: [0x22; 32],
            new_not_after: UnixTime::from_secs(2_000_000_000),
        },
        &k,
    )
    .expect("entry");
    let mut body = vec![1u8];
    body.extend_from_slice(&7u64.to_be_bytes());
    body.extend_from_slice(&T0.to_be_bytes());
    body.extend_from_slice(&prev);
    body.push(14);
    body.extend_from_slice(&[0x11; 32]);
    body.extend_from_slice(&1_900_000_000i64.to_be_bytes());
    body.extend_from_slice(&[0x22; 32]);
    body.extend_from_slice(&2_000_000_000i64.to_be_bytes());
    assert_eq!(entry.hash(), sha(&[b"confrere/ledger-entry/v1\0", &body]));
    let wire = [&body[..], &entry.signature].concat();
    assert_eq!(entry.encode().expect("encodes"), wire);
    assert_eq!(LedgerEntry::decode(&wire), Ok(entry.clone()));
    assert_eq!(entry.kind.name(), "credential_renewed");
    assert_eq!(entry.kind.patient_ins(), None);
    assert_eq!(entry.kind.dossier_id(), None);
    // A cut-off kind is refused, not misread.
    assert_eq!(
        LedgerEntry::decode(&wire[..body.len() - 1]),
        Err(DecodeError::Truncated)
    );
}

#[test]
fn checkpoint_fixed_bytes() {
    let k = node_key();
    let cp = HeadCheckpoint::sign(&k, 0x0102, [0xcd; 32]).expect("checkpoint");
    let mut body = vec![1u8, 0, 0, 0, 0, 0, 0, 1, 2];
    body.extend_from_slice(&[0xcd; 32]);
    let signed = [&b"confrere/ledger-head/v1\0"[..], &body].concat();
    assert_eq!(cp.signature.as_slice(), k.sign(&signed).as_ref());
    let wire = cp.encode();
    assert_eq!(wire.len(), CHECKPOINT_LEN);
    assert_eq!(wire, [&body[..], &cp.signature].concat());
    assert_eq!(HeadCheckpoint::decode(&wire), Ok(cp.clone()));
    cp.verify(&peer_id_of(&k)).expect("verifies");
    assert_eq!(
        cp.verify(&peer_id_of(&key(8))),
        Err(ChainError::BadCheckpoint)
    );
    assert_eq!(
        cp.verify(b"not a peer id"),
        Err(ChainError::NotEd25519PeerId)
    );
    let mut v2 = wire.clone();
    v2[0] = 2;
    assert_eq!(HeadCheckpoint::decode(&v2), Err(DecodeError::Version(2)));
    assert_eq!(
        HeadCheckpoint::decode(&wire[..CHECKPOINT_LEN - 1]),
        Err(DecodeError::Truncated)
    );
    assert_eq!(
        HeadCheckpoint::decode(&[&wire[..], &[0]].concat()),
        Err(DecodeError::Trailing)
    );
}

#[test]
fn an_entry_signature_is_not_a_checkpoint_signature() {
    // Domain separation: the signature of an entry whose hash equals a
    // checkpoint's body does not pass as the checkpoint's.
    let k = node_key();
    let entries = chain();
    let e = &entries[3];
    let forged = HeadCheckpoint {
        seq: e.seq,
        hash: e.hash(),
        signature: e.signature,
    };
    assert_eq!(
        forged.verify(&peer_id_of(&k)),
        Err(ChainError::BadCheckpoint)
    );
}

#[test]
fn decoding_checks_every_field() {
    let entries = chain();
    let wire = entries[3].encode().expect("encodes");
    let mut v = wire.clone();
    v[0] = 9;
    assert_eq!(LedgerEntry::decode(&v), Err(DecodeError::Version(9)));
    let mut t = wire.clone();
    t[1 + 8 + 8 + 32] = 200; // kind tag
    assert_eq!(LedgerEntry::decode(&t), Err(DecodeError::UnknownTag(200)));
    assert_eq!(
        LedgerEntry::decode(&wire[..wire.len() - 1]),
        Err(DecodeError::Truncated)
    );
    assert_eq!(
        LedgerEntry::decode(&[&wire[..], &[0]].concat()),
        Err(DecodeError::Trailing)
    );
    // An INS whose key digit is wrong.
    let mut i = wire;
    let at = 1 + 8 + 8 + 32 + 1 + 16 + 14;
    i[at] = if i[at] == b'0' { b'1' } else { b'0' };
    assert_eq!(
        LedgerEntry::decode(&i),
        Err(DecodeError::Invalid("patient INS"))
    );
    assert_eq!(LedgerEntry::decode(&[]), Err(DecodeError::Truncated));
    assert_eq!(
        LedgerEntry::decode(&vec![1; 9000]),
        Err(DecodeError::TooLong)
    );
}

#[test]
fn debug_prints_no_patient_data() {
    for e in chain() {
        let shown = format!("{e:?} {:?}", e.kind);
        for secret in [
            INS,
            OTHER_INS,
            "Avis cardiologique",
            "Paul DURAND",
            "Jeanne MARTIN",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains(e.kind.name()), "{shown}");
    }
}

#[test]
fn accessors_name_patient_dossier_and_consent() {
    let entries = chain();
    let sent = &entries[3].kind;
    assert_eq!(sent.patient_ins(), Some(&ins(INS)));
    assert_eq!(sent.dossier_id(), Some(DossierId([0x22; 16])));
    assert_eq!(sent.consent_id(), Some([0x33; 16]));
    assert_eq!(entries[0].kind.patient_ins(), None);
    assert_eq!(entries[9].kind.consent_id(), Some([0x33; 16]));
    assert_eq!(entries[4].kind.patient_ins(), None);
}

// ----------------------------------------------------------------------------
// Rejections

#[test]
fn a_changed_byte_anywhere_is_detected_and_named() {
    let entries = chain();
    let full = head_of_full();
    let peer = peer_id_of(&node_key());
    for k in 0..entries.len() {
        let wire = entries[k].encode().expect("encodes");
        for i in 0..wire.len() {
            for flip in [0x01u8, 0x80] {
                let mut bytes = wire.clone();
                bytes[i] ^= flip;
                let Ok(changed) = LedgerEntry::decode(&bytes) else {
                    // Refused on reading: the store reports it as malformed.
                    continue;
                };
                let mut tampered = entries.clone();
                tampered[k] = changed;
                for mode in [SignatureCheck::Every, SignatureCheck::Anchored] {
                    let result = verify_chain_with(&tampered, &peer, full, mode);
                    if mode == SignatureCheck::Anchored && k > 0 && i >= wire.len() - 64 {
                        // Anchored checks skip this signature; the content
                        // is intact (see anchored_checks_name_the_same_entry).
                        assert!(result.is_ok(), "entry {k}, byte {i}");
                        continue;
                    }
                    let err = result.expect_err("a changed byte must be detected");
                    assert_eq!(
                        err.seq(),
                        Some(k as u64),
                        "entry {k}, byte {i}, flip {flip:#x}, {mode:?}: {err}"
                    );
                    if k > 0 {
                        assert_eq!(err, ChainError::BadSignature { seq: k as u64 });
                    }
                }
            }
        }
    }
}

#[test]
fn changed_fields_are_bad_signatures() {
    let entries = chain();
    let mut a = entries.clone();
    a[5].time = a[5].time.add_secs(1);
    assert_eq!(verify(&a), Err(ChainError::BadSignature { seq: 5 }));
    let mut b = entries.clone();
    if let EntryKind::DossierExported { files, .. } = &mut b[7].kind {
        *files += 1;
    } else {
        panic!("entry 7 is the export");
    }
    assert_eq!(verify(&b), Err(ChainError::BadSignature { seq: 7 }));
    let mut c = entries.clone();
    c[9].signature[10] ^= 1;
    assert_eq!(verify(&c), Err(ChainError::BadSignature { seq: 9 }));
    let mut d = entries;
    d[2].prev_hash[0] ^= 1;
    assert_eq!(verify(&d), Err(ChainError::BadSignature { seq: 2 }));
}

#[test]
fn a_removed_entry_is_a_gap() {
    let entries = chain();
    for k in 1..entries.len() - 1 {
        let mut removed = entries.clone();
        removed.remove(k);
        assert_eq!(
            verify(&removed),
            Err(ChainError::SeqGap {
                expected: k as u64,
                found: k as u64 + 1
            }),
            "removing {k}"
        );
    }
    let mut no_genesis = entries;
    no_genesis.remove(0);
    assert_eq!(verify(&no_genesis), Err(ChainError::BadGenesis));
    assert_eq!(verify(&[]), Err(ChainError::BadGenesis));
}

#[test]
fn swapped_entries_are_reordered() {
    let entries = chain();
    for k in 1..entries.len() - 1 {
        let mut swapped = entries.clone();
        swapped.swap(k, k + 1);
        assert_eq!(
            verify(&swapped),
            Err(ChainError::Reordered {
                seq: k as u64 + 1,
                expected: k as u64
            }),
            "swapping {k} and {}",
            k + 1
        );
    }
    // Moved far ahead, and a duplicate.
    let mut moved = entries.clone();
    let e = moved.remove(2);
    moved.insert(10, e);
    assert_eq!(
        verify(&moved),
        Err(ChainError::Reordered {
            seq: 3,
            expected: 2
        })
    );
    let mut dup = entries.clone();
    dup.insert(5, entries[4].clone());
    assert_eq!(
        verify(&dup),
        Err(ChainError::Reordered {
            seq: 4,
            expected: 5
        })
    );
    let mut genesis_moved = entries;
    genesis_moved.swap(0, 1);
    assert_eq!(verify(&genesis_moved), Err(ChainError::BadGenesis));
}

#[test]
fn a_truncated_tail_is_detected_against_the_checkpoint() {
    let entries = chain();
    let peer = peer_id_of(&node_key());
    let cut = &entries[..entries.len() - 2];
    assert_eq!(
        verify_chain(cut, &peer, head(&entries)),
        Err(ChainError::TruncatedTail {
            expected_seq: 16,
            found_seq: 14
        })
    );
    assert_eq!(
        verify_chain(&entries[..1], &peer, head(&entries)),
        Err(ChainError::TruncatedTail {
            expected_seq: 16,
            found_seq: 0
        })
    );
    // Without the checkpoint a cut chain is indistinguishable from a short one.
    verify_chain(cut, &peer, None).expect("a shorter chain");
    // Entries after the checkpoint (a crash between an entry and its
    // checkpoint) are accepted when they verify.
    verify_chain(&entries, &peer, head(&entries[..10])).expect("past the checkpoint");
}

#[test]
fn a_checkpoint_naming_another_entry_is_a_mismatch() {
    let entries = chain();
    let peer = peer_id_of(&node_key());
    assert_eq!(
        verify_chain(&entries, &peer, Some((7, entries[6].hash()))),
        Err(ChainError::CheckpointMismatch { seq: 7 })
    );
}

#[test]
fn forged_signatures_are_refused() {
    let entries = chain();
    let forger = key(8);
    // Entry 6 altered, re-hashed and signed by another key.
    let mut forged = entries;
    if let EntryKind::DossierOpened { by, .. } = &mut forged[6].kind {
        *by = NURSE.into();
    } else {
        panic!("entry 6 is the opening");
    }
    let hash = forged[6].hash();
    let sig = forger.sign(&LedgerEntry::signed_message(&hash));
    forged[6].signature.copy_from_slice(sig.as_ref());
    assert_eq!(verify(&forged), Err(ChainError::BadSignature { seq: 6 }));
    // A whole chain made by another key, checkpoint included.
    let other = chain_of(&forger, every_kind());
    assert_eq!(
        verify_chain(&other, &peer_id_of(&node_key()), head(&other)),
        Err(ChainError::BadGenesis)
    );
    // The same chain, with its genesis naming our node.
    let mut disguised = other.clone();
    disguised[0] = LedgerEntry {
        kind: genesis_kind(&node_key()),
        ..other[0].clone()
    };
    assert_eq!(
        verify_chain(&disguised, &peer_id_of(&node_key()), None),
        Err(ChainError::BadSignature { seq: 0 })
    );
}

#[test]
fn the_wrong_node_key_refuses_the_chain() {
    let entries = chain();
    assert_eq!(
        verify_chain(&entries, &peer_id_of(&key(9)), None),
        Err(ChainError::BadGenesis)
    );
    assert_eq!(
        verify_chain(&entries, b"garbage", None).map(|_| ()),
        Err(ChainError::NotEd25519PeerId)
    );
}

#[test]
fn an_authentic_entry_from_a_fork_breaks_the_link() {
    // Two chains of the same node from the same genesis: entries of one
    // spliced into the other are signed, but do not follow.
    let k = node_key();
    let a = chain();
    let mut kinds = every_kind();
    kinds.swap(0, 1);
    let b = chain_of(&k, kinds);
    assert_eq!(a[0], b[0]);
    let mut spliced = a;
    spliced[4] = b[4].clone();
    assert_eq!(
        verify_chain(&spliced, &peer_id_of(&k), None),
        Err(ChainError::BrokenLink { seq: 4 })
    );
}

#[test]
fn anchored_checks_name_the_same_entry() {
    let entries = chain();
    let peer = peer_id_of(&node_key());
    let full = head(&entries);
    let mut a = entries.clone();
    a[5].time = a[5].time.add_secs(1);
    let mut b = entries.clone();
    b[15].time = b[15].time.add_secs(1); // the checkpoint's entry
    let mut c = entries;
    c[4].signature[0] ^= 1; // signature only: hashes unchanged
    for (tampered, expected) in [
        (a, Err(ChainError::BadSignature { seq: 5 })),
        (b, Err(ChainError::BadSignature { seq: 15 })),
    ] {
        let every = verify_chain_with(&tampered, &peer, full, SignatureCheck::Every);
        let anchored = verify_chain_with(&tampered, &peer, full, SignatureCheck::Anchored);
        assert_eq!(every.map(|s| s.head_seq), expected.clone());
        assert_eq!(anchored.map(|s| s.head_seq), expected);
    }
    // What anchored checking gives up: a damaged signature on an entry
    // whose content is intact passes it, and not the full check.
    assert_eq!(
        verify_chain_with(&c, &peer, full, SignatureCheck::Every).map(|s| s.head_seq),
        Err(ChainError::BadSignature { seq: 4 })
    );
    assert!(verify_chain_with(&c, &peer, full, SignatureCheck::Anchored).is_ok());
}

/// A long chain (cheap kinds), to exercise batches and threads.
fn long_chain(n: usize) -> Vec<LedgerEntry> {
    let k = node_key();
    let kinds = (0..n)
        .map(|i| EntryKind::DossierOpened {
            dossier_id: DossierId([(i % 251) as u8; 16]),
            patient_ins: ins(INS),
            by: GP.into(),
        })
        .collect();
    chain_of(&k, kinds)
}

#[test]
fn threads_and_batches_do_not_change_the_verdict() {
    let entries = long_chain(5000);
    let peer = peer_id_of(&node_key());
    let full = head(&entries);
    let mut tampered = entries.clone();
    tampered[4500].time = tampered[4500].time.add_secs(1);
    let mut removed = entries.clone();
    removed.remove(4097);
    let mut swapped = entries.clone();
    swapped.swap(4095, 4096); // across a batch boundary
    for (chain, expected) in [
        (&entries, Ok(5000)),
        (&tampered, Err(ChainError::BadSignature { seq: 4500 })),
        (
            &removed,
            Err(ChainError::SeqGap {
                expected: 4097,
                found: 4098,
            }),
        ),
        (
            &swapped,
            Err(ChainError::Reordered {
                seq: 4096,
                expected: 4095,
            }),
        ),
    ] {
        for threads in [1, 3] {
            for mode in [SignatureCheck::Every, SignatureCheck::Anchored] {
                let mut v = ChainVerifier::new(&peer, full, mode)
                    .expect("verifier")
                    .with_threads(threads);
                // Fed in uneven pieces.
                for piece in chain.chunks(1234) {
                    v.push(piece);
                }
                assert_eq!(
                    v.finish().map(|s| s.head_seq),
                    expected.clone(),
                    "{threads} threads, {mode:?}"
                );
            }
        }
    }
}

/// The verdict of `v` fed `chain` prepared from its encoding, on this
/// thread, in pieces of `piece` entries; `Malformed` for an entry that does
/// not decode.
fn verdict_prepared(
    mut v: ChainVerifier,
    chain: &[Vec<u8>],
    piece: usize,
) -> Result<u64, ChainError> {
    for part in chain.chunks(piece) {
        let mut ready: Vec<PreparedEntry> = Vec::new();
        for (i, bytes) in part.iter().enumerate() {
            match v.prepare(bytes) {
                Ok(p) => {
                    assert_eq!(
                        p.hash(),
                        &LedgerEntry::decode(bytes).expect("decodes").hash()
                    );
                    ready.push(p);
                }
                Err(_) => {
                    v.push_prepared(&ready);
                    ready.clear();
                    v.push_malformed(i as u64);
                }
            }
        }
        v.push_prepared(&ready);
    }
    v.finish().map(|s| s.head_seq)
}

#[test]
fn prepared_entries_give_the_same_verdicts() {
    let entries = long_chain(150);
    let peer = peer_id_of(&node_key());
    let full = head(&entries);
    let mut tampered = entries.clone();
    tampered[120].time = tampered[120].time.add_secs(1);
    let mut removed = entries.clone();
    removed.remove(97);
    let mut swapped = entries.clone();
    swapped.swap(99, 100);
    let mut forked = entries.clone();
    forked[130].prev_hash[3] ^= 1;
    let mut resigned = entries.clone();
    resigned[110].signature[5] ^= 1;
    let mut cut = entries.clone();
    cut.truncate(140);
    for chain in [
        &entries, &tampered, &removed, &swapped, &forked, &resigned, &cut,
    ] {
        let encoded: Vec<Vec<u8>> = chain.iter().map(|e| e.encode().expect("encodes")).collect();
        for mode in [SignatureCheck::Every, SignatureCheck::Anchored] {
            let expected = verify_chain_with(chain, &peer, full, mode).map(|s| s.head_seq);
            for piece in [1, 7, 1000] {
                let v = ChainVerifier::new(&peer, full, mode).expect("verifier");
                assert_eq!(
                    verdict_prepared(v, &encoded, piece),
                    expected,
                    "{mode:?}, pieces of {piece}"
                );
            }
            let v = ChainVerifier::new(&peer, full, mode).expect("verifier");
            let prepared: Vec<PreparedEntry> = chain.iter().map(|e| v.prepare_entry(e)).collect();
            let mut v = v;
            v.push_prepared(&prepared);
            assert_eq!(v.finish().map(|s| s.head_seq), expected, "{mode:?}");
        }
    }
    // Prepared from the genesis entry's encoding, it carries the
    // practitioner's name through to the summary.
    let encoded: Vec<Vec<u8>> = entries
        .iter()
        .map(|e| e.encode().expect("encodes"))
        .collect();
    let mut v = ChainVerifier::new(&peer, full, SignatureCheck::Anchored).expect("verifier");
    let prepared: Vec<PreparedEntry> = encoded
        .iter()
        .map(|b| v.prepare(b).expect("decodes"))
        .collect();
    v.push_prepared(&prepared);
    let summary = v.finish().expect("intact");
    let reference = verify_chain(&entries, &peer, full).expect("intact");
    assert_eq!(summary, reference);
    // A record that is not an entry is named where it stands.
    let mut damaged = encoded;
    damaged[42].truncate(30);
    let v = ChainVerifier::new(&peer, full, SignatureCheck::Anchored).expect("verifier");
    assert_eq!(
        verdict_prepared(v, &damaged, 1000),
        Err(ChainError::Malformed { seq: 42 })
    );
}

#[test]
fn a_malformed_record_is_named_where_it_stands() {
    let entries = chain();
    let peer = peer_id_of(&node_key());
    let mut v = ChainVerifier::new(&peer, head(&entries), SignatureCheck::Every).expect("v");
    v.push(&entries[..6]);
    assert!(!v.is_settled());
    v.push_malformed(6);
    assert!(v.is_settled());
    v.push(&entries[7..]);
    assert_eq!(
        v.finish().map(|_| ()),
        Err(ChainError::Malformed { seq: 6 })
    );
}

#[test]
fn errors_say_what_happened_and_what_to_do() {
    let errors = [
        ChainError::BadSignature { seq: 3 },
        ChainError::BrokenLink { seq: 3 },
        ChainError::SeqGap {
            expected: 3,
            found: 4,
        },
        ChainError::Reordered {
            seq: 4,
            expected: 3,
        },
        ChainError::TruncatedTail {
            expected_seq: 9,
            found_seq: 2,
        },
        ChainError::Malformed { seq: 3 },
        ChainError::CheckpointMismatch { seq: 3 },
    ];
    for e in errors {
        let n = e.seq().expect("names an entry");
        assert!(
            e.to_string().contains(&format!("entry {n}"))
                || e.to_string().contains(&format!("entry {}", n - 1)),
            "{e}"
        );
        assert!(!e.hint().is_empty());
        assert!(!e.code().is_empty());
    }
    assert_eq!(ChainError::BadGenesis.seq(), Some(0));
    assert_eq!(ChainError::MissingCheckpoint.seq(), None);
}

// ----------------------------------------------------------------------------
// Round trip and damaged input (proptest)

fn national_ids() -> impl Strategy<Value = String> {
    prop::sample::select(vec![GP, CARDIOLOGIST, NURSE, "3ABC"]).prop_map(String::from)
}

fn inses() -> impl Strategy<Value = Ins> {
    prop::sample::select(vec![INS, OTHER_INS, "281022A12345634", "899129912345653"])
        .prop_map(|s| Ins::parse(s).expect("INS"))
}

fn dates() -> impl Strategy<Value = String> {
    (2000u32..2100, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
}

fn texts(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..40).prop_map(move |cs| {
        let mut s: String = cs.into_iter().collect();
        while s.len() > max {
            s.pop();
        }
        s
    })
}

fn kind_strategy() -> impl Strategy<Value = EntryKind> {
    let id = || any::<[u8; 16]>();
    let did = || any::<[u8; 16]>().prop_map(DossierId);
    let recipients = || prop::collection::vec(national_ids(), 1..5);
    let receipt = || prop::collection::vec(any::<u8>(), 0..300);
    let basis = prop_oneof![
        id().prop_map(ShareBasis::Consent),
        id().prop_map(ShareBasis::CareTeam),
        did().prop_map(ShareBasis::Reply),
    ];
    prop_oneof![
        (
            national_ids(),
            texts(256),
            prop::collection::vec(any::<u8>(), 1..=64)
        )
            .prop_map(|(national_id, name, peer_id)| EntryKind::Genesis {
                national_id,
                name,
                peer_id
            }),
        (
            id(),
            inses(),
            recipients(),
            texts(1024),
            prop::option::of(dates())
        )
            .prop_map(|(consent_id, patient_ins, recipients, purpose, expires)| {
                EntryKind::ConsentGranted {
                    consent_id,
                    patient_ins,
                    recipients,
                    purpose,
                    expires,
                }
            }),
        (id(), texts(1024))
            .prop_map(|(consent_id, reason)| EntryKind::ConsentRevoked { consent_id, reason }),
        (id(), inses(), recipients(), dates()).prop_map(
            |(record_id, patient_ins, recipients, informed_on)| EntryKind::CareTeamRecorded {
                record_id,
                patient_ins,
                recipients,
                informed_on
            }
        ),
        (did(), inses(), national_ids(), basis).prop_map(|(dossier_id, patient_ins, to, basis)| {
            EntryKind::DossierSent {
                dossier_id,
                patient_ins,
                to,
                basis,
            }
        }),
        (did(), national_ids(), receipt()).prop_map(|(dossier_id, to, receipt)| {
            EntryKind::DossierDelivered {
                dossier_id,
                to,
                receipt,
            }
        }),
        (did(), inses(), national_ids(), texts(256)).prop_map(
            |(dossier_id, patient_ins, from, from_name)| EntryKind::DossierReceived {
                dossier_id,
                patient_ins,
                from,
                from_name
            }
        ),
        (did(), inses(), national_ids()).prop_map(|(dossier_id, patient_ins, by)| {
            EntryKind::DossierOpened {
                dossier_id,
                patient_ins,
                by,
            }
        }),
        (did(), inses(), any::<u32>()).prop_map(|(dossier_id, patient_ins, files)| {
            EntryKind::DossierExported {
                dossier_id,
                patient_ins,
                files,
            }
        }),
        (did(), inses(), texts(1024)).prop_map(|(dossier_id, patient_ins, reason)| {
            EntryKind::DossierErased {
                dossier_id,
                patient_ins,
                reason,
            }
        }),
        (id(), did(), national_ids()).prop_map(|(consent_id, dossier_id, to)| {
            EntryKind::RevocationSent {
                consent_id,
                dossier_id,
                to,
            }
        }),
        (id(), did(), national_ids()).prop_map(|(consent_id, dossier_id, from)| {
            EntryKind::RevocationReceived {
                consent_id,
                dossier_id,
                from,
            }
        }),
        (did(), national_ids(), receipt()).prop_map(|(dossier_id, from, receipt)| {
            EntryKind::ErasureReceiptReceived {
                dossier_id,
                from,
                receipt,
            }
        }),
        (did(), inses()).prop_map(|(dossier_id, patient_ins)| EntryKind::RetentionPurge {
            dossier_id,
            patient_ins
        }),
        (
            any::<[u8; 32]>(),
            any::<i64>(),
            any::<[u8; 32]>(),
            any::<i64>()
        )
            .prop_map(|(old_fingerprint, old, new_fingerprint, new)| {
                EntryKind::CredentialRenewed {
                    old_fingerprint,
                    old_not_after: UnixTime::from_secs(old),
                    new_fingerprint,
                    new_not_after: UnixTime::from_secs(new),
                }
            }),
    ]
}

fn entry_strategy() -> impl Strategy<Value = LedgerEntry> {
    (
        any::<u64>(),
        any::<i64>(),
        any::<[u8; 32]>(),
        kind_strategy(),
        prop::collection::vec(any::<u8>(), 64),
    )
        .prop_map(|(seq, t, prev_hash, kind, sig)| LedgerEntry {
            seq,
            time: UnixTime::from_secs(t),
            prev_hash,
            kind,
            signature: sig.try_into().expect("64 bytes"),
        })
}

proptest! {
    #[test]
    fn entry_round_trip(e in entry_strategy()) {
        let bytes = e.encode().expect("generated entries encode");
        let decoded = LedgerEntry::decode(&bytes).expect("decodes");
        prop_assert_eq!(decoded.hash(), e.hash());
        prop_assert_eq!(&decoded, &e);
        prop_assert_eq!(decoded.encode().expect("encodes"), bytes);
    }

    #[test]
    fn checkpoint_round_trip(seq in any::<u64>(), hash in any::<[u8; 32]>(), sig in prop::collection::vec(any::<u8>(), 64)) {
        let cp = HeadCheckpoint { seq, hash, signature: sig.try_into().expect("64 bytes") };
        prop_assert_eq!(HeadCheckpoint::decode(&cp.encode()), Ok(cp));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = HeadCheckpoint::decode(&bytes);
        for tag in 0..=14u8 {
            let mut framed = vec![1u8];
            framed.extend_from_slice(&[0; 48]);
            framed.push(tag);
            framed.extend_from_slice(&bytes);
            if let Ok(e) = LedgerEntry::decode(&framed) {
                prop_assert_eq!(e.encode().expect("canonical"), framed);
            }
        }
    }

    #[test]
    fn mutated_entries_never_panic_and_stay_canonical(
        e in entry_strategy(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let bytes = damaged(&e.encode().expect("encodes"), &edits, cut);
        if let Ok(d) = LedgerEntry::decode(&bytes) {
            prop_assert_eq!(&d.encode().expect("canonical"), &bytes);
            // So the hash of the bytes as read is the entry's own.
            let (h, hash) = LedgerEntry::decode_hashed(&bytes).expect("decodes");
            prop_assert_eq!(&h, &d);
            prop_assert_eq!(hash, d.hash());
        } else {
            prop_assert!(LedgerEntry::decode_hashed(&bytes).is_err());
        }
    }

    #[test]
    fn mutated_checkpoints_are_refused(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let k = node_key();
        let original = HeadCheckpoint::sign(&k, 41, [3; 32]).expect("sign").encode();
        let bytes = damaged(&original, &edits, None);
        let accepted = HeadCheckpoint::decode(&bytes)
            .map(|c| c.verify(&peer_id_of(&k)).is_ok())
            .unwrap_or(false);
        prop_assert_eq!(accepted, bytes == original);
    }
}
