//! The dossier: the manifest's wire format (fixed bytes, round trip,
//! damaged input) and each of its rejections, document names, the sealed
//! chunk stream and the streaming content sealer and opener, with every
//! way a stream can be damaged or forged.

mod damage;

use confrere_protocol::codec::DecodeError;
use confrere_protocol::dossier::content::{
    chunk_count, content_len, sealed_chunk_len, MANIFEST_LEN_PREFIX,
};
use confrere_protocol::dossier::manifest::{
    MANIFEST_VERSION, MAX_DOCUMENTS, MAX_LETTER_LEN, MAX_MANIFEST_LEN, MAX_REASON_LEN,
};
use confrere_protocol::dossier::names::MAX_DOCUMENT_NAME_LEN;
use confrere_protocol::dossier::{
    open_chunk, sanitize_document_name, seal_chunk, BirthDate, ChunkError, ContentEvent,
    ContentOpener, ContentSealer, ContentSummary, DocumentEntry, DossierId, DossierKey, Ins,
    InsError, Manifest, ManifestError, NameError, OpenError, Patient, PatientError, Referral,
    SealError, SealedChunk, Sex, CHUNK_PLAINTEXT_LEN, SEALED_CHUNK_LEN,
};
use confrere_protocol::identity::NationalIdError;
use confrere_protocol::UnixTime;
use damage::damaged;
use proptest::prelude::*;
use ring::digest::{digest, SHA256};

const C: usize = CHUNK_PLAINTEXT_LEN;
/// 2024-03-01T00:00:00Z.
const CREATED: i64 = 1_709_251_200;
const ID: DossierId = DossierId([0x11; 16]);

fn sha(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, data).as_ref());
    out
}

fn key() -> DossierKey {
    DossierKey::from_bytes([0x42; 32])
}

/// The deterministic manifest of the fixed-bytes test.
fn sample() -> Manifest {
    Manifest {
        version: MANIFEST_VERSION,
        dossier_id: ID,
        from: "810001000016".into(),
        to: "810001000024".into(),
        created_at: UnixTime::from_secs(CREATED),
        patient: Patient {
            ins: Ins::parse("2 69 05 49 588 157 80").expect("valid INS"),
            family: "DUPONT".into(),
            given: "MARIE".into(),
            birth_date: BirthDate::parse("1969-05-14").expect("valid date"),
            sex: Sex::F,
        },
        referral: Referral {
            reason: "ECG".into(),
            urgent: true,
            letter: "Cher confrère,\n".into(),
        },
        in_reply_to: Some(DossierId([0x22; 16])),
        documents: vec![DocumentEntry {
            name: "ecg.pdf".into(),
            media_type: "application/pdf".into(),
            size: 3,
            sha256: sha(b"abc"),
        }],
    }
}

/// A manifest for `documents` (names `doc0.bin`, …).
fn manifest_for(id: DossierId, documents: &[&[u8]]) -> Manifest {
    let mut m = sample();
    m.dossier_id = id;
    m.in_reply_to = None;
    m.documents = documents
        .iter()
        .enumerate()
        .map(|(i, d)| DocumentEntry {
            name: format!("doc{i}.bin"),
            media_type: "application/octet-stream".into(),
            size: d.len() as u64,
            sha256: sha(d),
        })
        .collect();
    m
}

// ----------------------------------------------------------------------------
// Manifest: fixed bytes

fn sample_bytes() -> Vec<u8> {
    [
        &[0x01][..],                                       // version
        &[0x11; 16],                                       // dossier id
        &[12],                                             // from
        b"810001000016",                                   //
        &[12],                                             // to
        b"810001000024",                                   //
        &[0x00, 0x00, 0x00, 0x00, 0x65, 0xe1, 0x1a, 0x80], // created_at
        b"269054958815780",                                // INS, no spaces
        &[6],                                              // family
        b"DUPONT",                                         //
        &[5],                                              // given
        b"MARIE",                                          //
        b"1969-05-14",                                     // birth date
        b"F",                                              // sex
        &[0x00, 0x03],                                     // reason
        b"ECG",                                            //
        &[0x01],                                           // urgent
        &[0x00, 0x00, 0x00, 0x10],                         // letter, 16 bytes
        b"Cher confr\xc3\xa8re,\n",                        //
        &[0x01],                                           // in reply to
        &[0x22; 16],                                       //
        &[0x00, 0x01],                                     // one document
        &[7],                                              // name
        b"ecg.pdf",                                        //
        &[15],                                             // media type
        b"application/pdf",                                //
        &[0, 0, 0, 0, 0, 0, 0, 3],                         // size
        &sha(b"abc"),                                      // sha256
    ]
    .concat()
}

#[test]
fn manifest_has_the_documented_layout() {
    let bytes = sample_bytes();
    assert_eq!(sample().encode().expect("encodes"), bytes);
    assert_eq!(Manifest::decode(&bytes).expect("decodes"), sample());
    // sha256("abc"), as published.
    assert_eq!(&sha(b"abc")[..4], &[0xba, 0x78, 0x16, 0xbf]);
}

#[test]
fn manifest_debug_prints_no_patient_data() {
    let dbg = format!("{:?}", sample());
    for secret in [
        "DUPONT",
        "MARIE",
        "1969",
        "269054958815780",
        "ECG",
        "confrère",
        "ecg.pdf",
    ] {
        assert!(!dbg.contains(secret), "{secret} in {dbg}");
    }
    assert!(dbg.contains("<redacted>"), "{dbg}");
    assert!(dbg.contains(&ID.to_string()), "{dbg}");
}

#[test]
fn dossier_ids() {
    let id = DossierId::parse_hex("00112233445566778899AABBCCDDEEFF").expect("hex");
    assert_eq!(id.to_string(), "00112233445566778899aabbccddeeff");
    assert_eq!(DossierId::parse_hex(&id.to_string()), Ok(id));
    assert_eq!(
        format!("{id:?}"),
        "DossierId(00112233445566778899aabbccddeeff)"
    );
    for bad in [
        "",
        "0011",
        "00112233445566778899aabbccddeeffff",
        "g0112233445566778899aabbccddeeff",
    ] {
        assert!(DossierId::parse_hex(bad).is_err(), "{bad}");
    }
    let a = DossierId::random().expect("random");
    assert_ne!(a, DossierId::random().expect("random"));
}

// ----------------------------------------------------------------------------
// Manifest: each rejection

fn refused(m: &Manifest) -> ManifestError {
    let err = m.validate().expect_err("refused");
    assert_eq!(
        m.encode(),
        Err(err.clone()),
        "encode refuses what validate does"
    );
    err
}

#[test]
fn each_field_rejection_has_its_variant() {
    let mut m = sample();
    m.version = 2;
    assert_eq!(refused(&m), ManifestError::Version(2));

    let mut m = sample();
    m.from = "812345678901".into();
    assert_eq!(
        refused(&m),
        ManifestError::Sender(NationalIdError::RppsCheckDigit)
    );
    let mut m = sample();
    m.to = String::new();
    assert_eq!(
        refused(&m),
        ManifestError::Recipient(NationalIdError::Empty)
    );

    let mut m = sample();
    m.patient.family = " ".into();
    assert_eq!(refused(&m), PatientError::FamilyNameEmpty.into());
    let mut m = sample();
    m.patient.birth_date = BirthDate::parse("2024-03-03").expect("date");
    assert_eq!(refused(&m), PatientError::BirthDateInFuture.into());

    let mut m = sample();
    m.referral.reason = "x".repeat(MAX_REASON_LEN + 1);
    assert_eq!(
        refused(&m),
        ManifestError::TextTooLong {
            field: "reason",
            max: MAX_REASON_LEN
        }
    );
    m.referral.reason = "x".repeat(MAX_REASON_LEN);
    m.validate().expect("reason at its bound");
    let mut m = sample();
    m.referral.letter = "x".repeat(MAX_LETTER_LEN + 1);
    assert_eq!(
        refused(&m),
        ManifestError::TextTooLong {
            field: "letter",
            max: MAX_LETTER_LEN
        }
    );
    let mut m = sample();
    m.referral.reason = "urgent\u{1b}[2J".into();
    assert_eq!(refused(&m), ManifestError::TextControl { field: "reason" });
    let mut m = sample();
    m.referral.letter = "a\0b".into();
    assert_eq!(refused(&m), ManifestError::TextControl { field: "letter" });
    m.referral.letter = "line\r\n\tindent".into();
    m.validate().expect("tabs and line breaks are text");
}

#[test]
fn each_document_rejection_has_its_variant() {
    let doc = |name: &str, media: &str| DocumentEntry {
        name: name.into(),
        media_type: media.into(),
        size: 1,
        sha256: [0; 32],
    };
    let with = |docs: Vec<DocumentEntry>| {
        let mut m = sample();
        m.documents = docs;
        m
    };
    let m = with(
        (0..=MAX_DOCUMENTS)
            .map(|i| doc(&format!("{i}"), "a/b"))
            .collect(),
    );
    assert_eq!(
        refused(&m),
        ManifestError::TooManyDocuments {
            count: MAX_DOCUMENTS + 1
        }
    );
    let m = with(
        (0..MAX_DOCUMENTS)
            .map(|i| doc(&format!("{i}"), "a/b"))
            .collect(),
    );
    m.validate().expect("the most documents");

    let m = with(vec![doc("ok", "a/b"), doc("..", "a/b")]);
    assert_eq!(
        refused(&m),
        ManifestError::DocumentName {
            index: 1,
            error: NameError::OnlyDots
        }
    );
    let m = with(vec![doc("../etc/passwd", "a/b")]);
    assert_eq!(refused(&m), ManifestError::DocumentNameUnsafe { index: 0 });
    let m = with(vec![doc(".hidden", "a/b")]);
    assert_eq!(refused(&m), ManifestError::DocumentNameUnsafe { index: 0 });
    let m = with(vec![
        doc("Report.pdf", "a/b"),
        doc("x", "a/b"),
        doc("report.PDF", "a/b"),
    ]);
    assert_eq!(
        refused(&m),
        ManifestError::DuplicateDocumentName { index: 2 }
    );
    for bad in [
        "",
        "pdf",
        "/pdf",
        "application/",
        "app lication\u{7f}/x",
        "é/x",
    ] {
        let m = with(vec![doc("x", bad)]);
        assert_eq!(
            refused(&m),
            ManifestError::MediaType { index: 0 },
            "{bad:?}"
        );
    }
    let m = with(vec![doc("x", &format!("a/{}", "b".repeat(126)))]);
    assert_eq!(refused(&m), ManifestError::MediaType { index: 0 });
    let m = with(vec![doc("x", "text/plain; charset=utf-8")]);
    m.validate().expect("parameters are allowed");

    let mut big = doc("big", "a/b");
    big.size = u64::MAX - 10;
    let m = with(vec![big.clone()]);
    assert_eq!(refused(&m), ManifestError::ContentTooLong);
    big.size = u64::MAX / 2 + 1;
    let m = with(vec![big.clone(), {
        let mut b = big;
        b.name = "big2".into();
        b
    }]);
    assert_eq!(refused(&m), ManifestError::ContentTooLong);
}

#[test]
fn each_decoding_rejection_has_its_variant() {
    let ok = sample_bytes();
    // Offsets in sample_bytes().
    const FROM: usize = 17;
    const INS: usize = FROM + 13 + 13 + 8;
    const FAMILY: usize = INS + 15;
    const BIRTH: usize = FAMILY + 7 + 6;
    const SEX: usize = BIRTH + 10;
    const URGENT: usize = SEX + 1 + 2 + 3;
    const LETTER: usize = URGENT + 1;
    const REPLY: usize = LETTER + 4 + 16;
    const COUNT: usize = REPLY + 17;
    const NAME: usize = COUNT + 2;
    let edit = |at: usize, new: &[u8]| {
        let mut b = ok.clone();
        b[at..at + new.len()].copy_from_slice(new);
        b
    };
    let cases: Vec<(&str, Vec<u8>, ManifestError)> = vec![
        ("version 0", edit(0, &[0]), ManifestError::Version(0)),
        ("version 2", edit(0, &[2]), ManifestError::Version(2)),
        (
            "from 33 bytes",
            edit(FROM, &[33]),
            DecodeError::TooLong.into(),
        ),
        (
            "from not UTF-8",
            edit(FROM + 1, &[0xff]),
            DecodeError::Invalid("sender id").into(),
        ),
        (
            "from not an id",
            edit(FROM + 1, b"-"),
            ManifestError::Sender(NationalIdError::BadCharacters),
        ),
        (
            "INS key",
            edit(INS + 14, b"1"),
            PatientError::Ins(InsError::Key).into(),
        ),
        (
            "INS space",
            edit(INS + 1, b" "),
            PatientError::Ins(InsError::Length { found: 14 }).into(),
        ),
        (
            "INS not UTF-8",
            edit(INS, &[0xc3]),
            PatientError::Ins(InsError::Characters).into(),
        ),
        (
            "family control",
            edit(FAMILY + 1, b"\n"),
            PatientError::NameControl {
                field: "family name",
            }
            .into(),
        ),
        (
            "family not UTF-8",
            edit(FAMILY + 1, &[0x80]),
            DecodeError::Invalid("family name").into(),
        ),
        (
            "birth 30 Feb",
            edit(BIRTH + 5, b"02-30"),
            PatientError::BirthDateNotReal.into(),
        ),
        (
            "birth shape",
            edit(BIRTH + 4, b"/"),
            PatientError::BirthDateFormat.into(),
        ),
        ("sex X", edit(SEX, b"X"), PatientError::SexCode(b'X').into()),
        (
            "urgent 2",
            edit(URGENT, &[2]),
            DecodeError::Invalid("urgent flag").into(),
        ),
        (
            "letter too long",
            edit(LETTER, &[0, 4, 0, 1]),
            DecodeError::TooLong.into(),
        ),
        (
            "reply tag 2",
            edit(REPLY, &[2]),
            DecodeError::UnknownTag(2).into(),
        ),
        (
            "1001 documents",
            edit(COUNT, &[0x03, 0xe9]),
            ManifestError::TooManyDocuments { count: 1001 },
        ),
        (
            "two documents, one given",
            edit(COUNT, &[0, 2]),
            DecodeError::Truncated.into(),
        ),
        (
            "name ..",
            edit(NAME, &[7, b'.', b'.', b'/', b'.', b'.', b'/', b'.']),
            ManifestError::DocumentName {
                index: 0,
                error: NameError::OnlyDots,
            },
        ),
        (
            "name with slash",
            edit(NAME + 4, b"/"),
            ManifestError::DocumentNameUnsafe { index: 0 },
        ),
        (
            "trailing byte",
            [&ok[..], &[0]].concat(),
            DecodeError::Trailing.into(),
        ),
        (
            "cut",
            ok[..ok.len() - 1].to_vec(),
            DecodeError::Truncated.into(),
        ),
        ("empty", Vec::new(), DecodeError::Truncated.into()),
    ];
    for (what, bytes, want) in cases {
        assert_eq!(Manifest::decode(&bytes), Err(want), "{what}");
    }
}

#[test]
fn only_the_canonical_ins_decodes() {
    let mut m = sample();
    m.patient.ins = Ins::parse("281022a12345634").expect("Corsican INS");
    let bytes = m.encode().expect("encodes");
    assert_eq!(Manifest::decode(&bytes), Ok(m));
    let at = bytes
        .windows(15)
        .position(|w| w == b"281022A12345634")
        .expect("INS");
    let mut lower = bytes;
    lower[at + 6] = b'a';
    assert_eq!(
        Manifest::decode(&lower),
        Err(PatientError::Ins(InsError::Characters).into())
    );
}

#[test]
fn errors_never_repeat_patient_data() {
    let mut m = sample();
    m.patient.family = "DUPONT\u{7}".into();
    let mut n = sample();
    n.documents[0].name = "../DUPONT.pdf".into();
    for e in [refused(&m), refused(&n)] {
        let msg = format!("{e} {e:?}");
        assert!(!msg.contains("DUPONT"), "{msg}");
    }
}

#[test]
fn manifest_length_bound_holds() {
    let mut m = sample();
    m.from = "3".repeat(32);
    m.to = "3".repeat(32);
    m.patient.family = "F".repeat(255);
    m.patient.given = "G".repeat(255);
    m.referral.reason = "r".repeat(MAX_REASON_LEN);
    m.referral.letter = "l".repeat(MAX_LETTER_LEN);
    m.documents = (0..MAX_DOCUMENTS)
        .map(|i| DocumentEntry {
            name: format!("{i:0>255}"),
            media_type: format!("a/{}", "b".repeat(125)),
            size: 0,
            sha256: [0; 32],
        })
        .collect();
    let bytes = m.encode().expect("every field at its bound");
    assert_eq!(bytes.len(), MAX_MANIFEST_LEN);
    assert_eq!(Manifest::decode(&bytes), Ok(m));
}

// ----------------------------------------------------------------------------
// Manifest: round trip and damaged input (proptest)

/// An INS from 12 digits, with the key computed here independently.
fn ins_strategy() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!['1', '2', '3', '7', '8']),
        0u64..1_000_000_000_000,
        0u8..3,
    )
        .prop_map(|(sex, digits, corsica)| {
            let mut nir = format!("{sex}{digits:012}");
            if corsica > 0 {
                nir.replace_range(5..7, if corsica == 1 { "2A" } else { "2B" });
            }
            let numeric = nir.replace("2A", "19").replace("2B", "18");
            let n: u64 = numeric.parse().expect("digits");
            format!("{nir}{:02}", 97 - n % 97)
        })
}

fn manifest_strategy() -> impl Strategy<Value = Manifest> {
    let ids = || {
        prop::sample::select(vec![
            "810001000016",
            "810001000024",
            "0123456789",
            "3ABC123",
        ])
    };
    let documents = prop::collection::vec(
        (
            "[a-z0-9_-][a-zA-Z0-9 _-]{0,20}",
            prop::sample::select(vec!["pdf", "jpg", "txt", "dcm"]),
            prop::sample::select(vec![
                "application/pdf",
                "image/jpeg",
                "text/plain; charset=utf-8",
            ]),
            any::<u64>().prop_map(|s| s >> 24),
            any::<[u8; 32]>(),
        ),
        0..8,
    )
    .prop_map(|docs| {
        docs.into_iter()
            .enumerate()
            .map(|(i, (stem, ext, media, size, sha256))| DocumentEntry {
                name: format!("{i}-{}.{ext}", stem.trim_end()),
                media_type: media.into(),
                size,
                sha256,
            })
            .collect::<Vec<_>>()
    });
    (
        (any::<[u8; 16]>(), ids(), ids(), 0i64..100_000_000),
        (
            ins_strategy(),
            "[A-Z][A-Za-zéèç' -]{0,40}",
            "[A-Za-zéèç -]{0,40}",
            (1900u32..2024, 1u32..=12, 1u32..=28),
            prop::sample::select(vec![Sex::F, Sex::M, Sex::U]),
        ),
        (
            "[a-zA-Z0-9é\n\t ]{0,200}",
            any::<bool>(),
            "[a-zA-Z0-9é,.\n ]{0,2000}",
        ),
        prop::option::of(any::<[u8; 16]>()),
        documents,
    )
        .prop_map(
            |(
                (id, from, to, dt),
                (ins, family, given, (y, mo, d), sex),
                (reason, urgent, letter),
                reply,
                documents,
            )| {
                Manifest {
                    version: MANIFEST_VERSION,
                    dossier_id: DossierId(id),
                    from: from.into(),
                    to: to.into(),
                    created_at: UnixTime::from_secs(CREATED + dt),
                    patient: Patient {
                        ins: Ins::parse(&ins).expect("generated INS"),
                        family,
                        given,
                        birth_date: BirthDate::from_ymd(y, mo, d).expect("generated date"),
                        sex,
                    },
                    referral: Referral {
                        reason,
                        urgent,
                        letter,
                    },
                    in_reply_to: reply.map(DossierId),
                    documents,
                }
            },
        )
}

proptest! {
    #[test]
    fn manifest_round_trip(m in manifest_strategy()) {
        let bytes = m.encode().expect("generated manifests are valid");
        let decoded = Manifest::decode(&bytes).expect("decodes");
        prop_assert_eq!(&decoded, &m);
        prop_assert_eq!(decoded.encode().expect("encodes"), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = Manifest::decode(&bytes);
        let with_version = [&[MANIFEST_VERSION][..], &bytes].concat();
        if let Ok(m) = Manifest::decode(&with_version) {
            prop_assert_eq!(m.encode().expect("valid"), with_version);
        }
    }

    #[test]
    fn mutated_manifests_never_panic(
        m in manifest_strategy(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let bytes = damaged(&m.encode().expect("valid"), &edits, cut);
        // Whatever decodes is well-formed and canonical.
        if let Ok(decoded) = Manifest::decode(&bytes) {
            prop_assert_eq!(decoded.validate(), Ok(()));
            prop_assert_eq!(decoded.encode().expect("valid"), bytes);
        }
    }

    #[test]
    fn sanitized_names_are_safe(raw in any::<String>()) {
        if let Ok(name) = sanitize_document_name(&raw) {
            prop_assert!(!name.contains('/') && !name.contains('\\') && !name.contains('\0'));
            prop_assert!(name != "." && name != "..");
            prop_assert!(!name.is_empty() && name.len() <= MAX_DOCUMENT_NAME_LEN);
            prop_assert!(!name.starts_with('.') && !name.ends_with('.') && !name.ends_with(' '));
            prop_assert_eq!(sanitize_document_name(&name), Ok(name), "not a fixed point");
        }
    }

    #[test]
    fn sanitized_path_like_names_are_safe(
        parts in prop::collection::vec("[./\\\\a-zA-Z:*?<>| ]{0,6}", 0..6)
    ) {
        let raw = parts.join("/");
        if let Ok(name) = sanitize_document_name(&raw) {
            prop_assert!(!name.contains('/') && !name.contains('\\'));
            prop_assert!(!name.starts_with('.') && name.len() <= MAX_DOCUMENT_NAME_LEN);
            prop_assert!(!name.chars().any(|c| "<>:\"|?*".contains(c)));
        }
    }
}

// ----------------------------------------------------------------------------
// Sealed chunks

/// Seals `data` as a chunk stream with seal_chunk, independently of the
/// content sealer.
fn seal_stream(key: &DossierKey, id: &DossierId, data: &[u8]) -> Vec<SealedChunk> {
    let count = chunk_count(data.len() as u64) as usize;
    (0..count)
        .map(|i| {
            let piece = &data[i * C..((i + 1) * C).min(data.len())];
            let last = i + 1 == count;
            SealedChunk {
                index: i as u64,
                last,
                sealed: seal_chunk(key, id, i as u64, last, piece).expect("seals"),
            }
        })
        .collect()
}

#[test]
fn chunk_stream_round_trips_at_every_boundary() {
    for size in [0, 1, C - 1, C, C + 1, 3 * C + 5] {
        let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        let chunks = seal_stream(&key(), &ID, &data);
        assert_eq!(chunks.len() as u64, chunk_count(size as u64), "{size}");
        let mut opened = Vec::new();
        for c in &chunks {
            assert_eq!(Some(c.sealed.len()), sealed_chunk_len(size as u64, c.index));
            opened.extend(open_chunk(&key(), &ID, c.index, c.last, &c.sealed).expect("opens"));
        }
        assert_eq!(opened, data, "{size}");
        assert!(chunks.iter().all(|c| c.sealed.len() <= SEALED_CHUNK_LEN));
    }
}

/// Seals a dossier with the content sealer, feeding each document in
/// slices of `step` bytes.
fn seal_dossier(
    key: &DossierKey,
    m: &Manifest,
    docs: &[&[u8]],
    step: usize,
) -> (Vec<SealedChunk>, ContentSummary) {
    let mut sealer = ContentSealer::new(key, m).expect("sealer");
    let mut chunks = Vec::new();
    for d in docs {
        for piece in d.chunks(step.max(1)) {
            chunks.extend(sealer.write(piece).expect("write"));
        }
        chunks.extend(sealer.end_document().expect("end_document"));
    }
    let (tail, summary) = sealer.finish().expect("finish");
    chunks.extend(tail);
    // The chunks that carry the manifest come out last.
    chunks.sort_by_key(|c| c.index);
    (chunks, summary)
}

/// What an opener made of a stream.
#[derive(Debug, Default, PartialEq)]
struct Opened {
    manifest: Option<Manifest>,
    documents: Vec<Vec<u8>>,
    done: Vec<usize>,
    finished: Option<ContentSummary>,
}

fn open_all(opener: &mut ContentOpener, chunks: &[SealedChunk]) -> Result<Opened, OpenError> {
    let mut out = Opened::default();
    for c in chunks {
        for event in opener.push_chunk(c.index, c.last, &c.sealed)? {
            match event {
                ContentEvent::Manifest(m) => {
                    out.documents = vec![Vec::new(); m.documents.len()];
                    out.manifest = Some(*m);
                }
                ContentEvent::Data { document, bytes } => {
                    // (An opener fed in several calls: the manifest came earlier.)
                    if out.documents.len() <= document {
                        out.documents.resize(document + 1, Vec::new());
                    }
                    out.documents[document].extend_from_slice(bytes)
                }
                ContentEvent::DocumentDone { document } => out.done.push(document),
                ContentEvent::Finished(s) => out.finished = Some(s),
            }
        }
    }
    Ok(out)
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn content_round_trips_over_several_documents() {
    let a = pattern(C + 100, 1);
    let b: Vec<u8> = Vec::new();
    let c = pattern(2 * C + 7, 2);
    let d = pattern(1, 3);
    let docs: [&[u8]; 4] = [&a, &b, &c, &d];
    let m = manifest_for(ID, &docs);
    for step in [1000, 4096, C, 3 * C] {
        let (chunks, summary) = seal_dossier(&key(), &m, &docs, step);
        let encoded = m.encode().expect("manifest");
        let total = content_len(encoded.len(), &m.documents).expect("len");
        assert_eq!(summary.content_len, total);
        assert_eq!(summary.chunk_count, chunks.len() as u64);
        assert_eq!(summary.chunk_count, chunk_count(total));
        // The content digest, computed independently: the head only.
        let mut head = b"confrere/content-digest/v1\0".to_vec();
        head.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
        head.extend_from_slice(&encoded);
        assert_eq!(summary.content_digest, sha(&head));
        for (i, ch) in chunks.iter().enumerate() {
            assert_eq!(ch.index, i as u64);
            assert_eq!(ch.last, i + 1 == chunks.len());
            assert_eq!(Some(ch.sealed.len()), sealed_chunk_len(total, ch.index));
        }

        let mut opener = ContentOpener::new(&key(), ID).expecting_len(total);
        let opened = open_all(&mut opener, &chunks).expect("opens");
        assert_eq!(opened.manifest.as_ref(), Some(&m));
        assert_eq!(
            opened.documents,
            docs.iter().map(|d| d.to_vec()).collect::<Vec<_>>()
        );
        assert_eq!(opened.done, vec![0, 1, 2, 3]);
        assert_eq!(opened.finished, Some(summary));
        assert!(opener.is_finished());
        assert_eq!(opener.finish(), Ok(summary));
    }
}

#[test]
fn content_round_trips_at_every_chunk_boundary() {
    let m0 = manifest_for(ID, &[b""]);
    let head = MANIFEST_LEN_PREFIX + m0.encode().expect("manifest").len();
    for target in [C - 1, C, C + 1, 3 * C + 5] {
        let doc = pattern(target - head, 9);
        let m = manifest_for(ID, &[&doc]);
        let (chunks, summary) = seal_dossier(&key(), &m, &[&doc], 5000);
        assert_eq!(summary.content_len, target as u64);
        assert_eq!(chunks.len() as u64, chunk_count(target as u64));
        let opened = open_all(&mut ContentOpener::new(&key(), ID), &chunks).expect("opens");
        assert_eq!(opened.documents, vec![doc]);
    }
    // No documents: the manifest alone, still one chunk.
    let m = manifest_for(ID, &[]);
    let (chunks, summary) = seal_dossier(&key(), &m, &[], 1);
    assert_eq!(chunks.len(), 1);
    assert!(chunks[0].last);
    let opened = open_all(&mut ContentOpener::new(&key(), ID), &chunks).expect("opens");
    assert_eq!(opened.finished, Some(summary));
    assert!(opened.documents.is_empty());
}

/// A sealed dossier of four chunks.
fn four_chunks() -> (Vec<SealedChunk>, Manifest) {
    let doc = pattern(3 * C + 5, 4);
    let m = manifest_for(ID, &[&doc]);
    let (chunks, _) = seal_dossier(&key(), &m, &[&doc], C);
    assert_eq!(chunks.len(), 4);
    (chunks, m)
}

fn open_err(opener: &mut ContentOpener, chunks: &[SealedChunk]) -> OpenError {
    open_all(opener, chunks).expect_err("refused")
}

#[test]
fn damaged_streams_are_refused_each_with_its_variant() {
    let (chunks, _) = four_chunks();
    let fresh = || ContentOpener::new(&key(), ID);
    let pick = |order: &[usize]| order.iter().map(|&i| chunks[i].clone()).collect::<Vec<_>>();

    // Reordered, by index: chunk 2 before chunk 1.
    assert_eq!(
        open_err(&mut fresh(), &pick(&[0, 2, 1, 3])),
        OpenError::Gap {
            expected: 1,
            got: 2
        }
    );
    // Reordered, relabelled: chunk 2's bytes sent as chunk 1.
    let mut swapped = pick(&[0, 1, 2, 3]);
    let second = swapped[2].sealed.clone();
    swapped[2].sealed = std::mem::replace(&mut swapped[1].sealed, second);
    assert_eq!(
        open_err(&mut fresh(), &swapped),
        OpenError::Chunk(ChunkError::Authentication { index: 1 })
    );
    // Dropped.
    assert_eq!(
        open_err(&mut fresh(), &pick(&[0, 2])),
        OpenError::Gap {
            expected: 1,
            got: 2
        }
    );
    // Duplicated.
    assert_eq!(
        open_err(&mut fresh(), &pick(&[0, 1, 1])),
        OpenError::Repeated {
            expected: 2,
            got: 1
        }
    );
    // Truncated: the last chunk never comes.
    let mut opener = fresh();
    open_all(&mut opener, &pick(&[0, 1, 2])).expect("a prefix opens");
    assert!(!opener.is_finished());
    assert_eq!(opener.finish(), Err(OpenError::Incomplete { received: 3 }));
    // Flipped bit.
    for at in [0, 100, SEALED_CHUNK_LEN - 1] {
        let mut damaged = pick(&[0, 1]);
        damaged[1].sealed[at] ^= 0x10;
        assert_eq!(
            open_err(&mut fresh(), &damaged),
            OpenError::Chunk(ChunkError::Authentication { index: 1 })
        );
    }
    // Wrong key.
    assert_eq!(
        open_err(
            &mut ContentOpener::new(&DossierKey::from_bytes([0x43; 32]), ID),
            &chunks
        ),
        OpenError::Chunk(ChunkError::Authentication { index: 0 })
    );
    // Wrong dossier id.
    assert_eq!(
        open_err(
            &mut ContentOpener::new(&key(), DossierId([0x12; 16])),
            &chunks
        ),
        OpenError::Chunk(ChunkError::Authentication { index: 0 })
    );
    // Last flag moved onto a full chunk: it no longer authenticates.
    let mut moved = pick(&[0, 1]);
    moved[1].last = true;
    assert_eq!(
        open_err(&mut fresh(), &moved),
        OpenError::Chunk(ChunkError::Authentication { index: 1 })
    );
    // Last flag taken off the last chunk: a short chunk that is not last.
    let mut unflagged = pick(&[0, 1, 2, 3]);
    unflagged[3].last = false;
    assert_eq!(
        open_err(&mut fresh(), &unflagged),
        OpenError::Chunk(ChunkError::ShortChunk {
            index: 3,
            len: unflagged[3].sealed.len()
        })
    );
    // Cut chunk.
    let mut cut = pick(&[0]);
    cut[0].sealed.truncate(100);
    assert_eq!(
        open_err(&mut fresh(), &cut),
        OpenError::Chunk(ChunkError::ShortChunk { index: 0, len: 100 })
    );
    // A chunk after the last.
    let mut opener = fresh();
    open_all(&mut opener, &chunks).expect("opens");
    assert_eq!(
        opener.push_chunk(4, true, &chunks[3].sealed).map(|_| ()),
        Err(OpenError::AfterEnd { index: 4 })
    );
    // Errors of place or seal leave the opener usable.
    let mut opener = fresh();
    assert!(open_all(&mut opener, &pick(&[0, 2])).is_err());
    open_all(&mut opener, &pick(&[1, 2, 3])).expect("the right chunks still open");
    assert!(opener.is_finished());
}

/// Seals arbitrary plaintext as a stream (for forged contents: the sender
/// holds the key and can seal anything).
fn forge(id: &DossierId, content: &[u8]) -> Vec<SealedChunk> {
    seal_stream(&key(), id, content)
}

fn content_of(m: &Manifest, docs: &[&[u8]]) -> Vec<u8> {
    let encoded = m.encode().expect("manifest");
    let mut c = (encoded.len() as u32).to_be_bytes().to_vec();
    c.extend_from_slice(&encoded);
    for d in docs {
        c.extend_from_slice(d);
    }
    c
}

#[test]
fn forged_contents_are_refused_each_with_its_variant() {
    let doc = b"the document".as_slice();
    let m = manifest_for(ID, &[doc]);
    let good = content_of(&m, &[doc]);
    let fresh = || ContentOpener::new(&key(), ID);
    open_all(&mut fresh(), &forge(&ID, &good)).expect("the honest content opens");

    // A manifest length past the bound.
    let mut c = ((MAX_MANIFEST_LEN + 1) as u32).to_be_bytes().to_vec();
    c.extend_from_slice(&[0; 64]);
    assert_eq!(
        open_err(&mut fresh(), &forge(&ID, &c)),
        OpenError::ManifestTooLong {
            len: MAX_MANIFEST_LEN as u32 + 1
        }
    );
    // A manifest that does not decode.
    let c = [&[0, 0, 0, 3][..], &[9, 9, 9]].concat();
    assert_eq!(
        open_err(&mut fresh(), &forge(&ID, &c)),
        OpenError::Manifest(ManifestError::Version(9))
    );
    // A manifest for another dossier, sealed under this one's id.
    let other = manifest_for(DossierId([0x33; 16]), &[doc]);
    assert_eq!(
        open_err(&mut fresh(), &forge(&ID, &content_of(&other, &[doc]))),
        OpenError::WrongDossier
    );
    // Another length than the offer announced.
    let announced = good.len() as u64 + 1;
    assert_eq!(
        open_err(&mut fresh().expecting_len(announced), &forge(&ID, &good)),
        OpenError::LengthMismatch {
            announced,
            actual: good.len() as u64
        }
    );
    // A document that is not what its entry declares.
    let mut c = good.clone();
    let last = c.len() - 1;
    c[last] ^= 1;
    assert_eq!(
        open_err(&mut fresh(), &forge(&ID, &c)),
        OpenError::DocumentHash { document: 0 }
    );
    // An empty document declared with another hash.
    let mut lying = manifest_for(ID, &[b""]);
    lying.documents[0].sha256 = [1; 32];
    assert_eq!(
        open_err(&mut fresh(), &forge(&ID, &content_of(&lying, &[]))),
        OpenError::DocumentHash { document: 0 }
    );
    // Bytes after the last document.
    let c = [&good[..], b"!"].concat();
    assert_eq!(
        open_err(&mut fresh(), &forge(&ID, &c)),
        OpenError::TrailingBytes { index: 0 }
    );
    // The stream ends (last flag) before the content does.
    let c = &good[..good.len() - 1];
    assert_eq!(
        open_err(&mut fresh(), &forge(&ID, c)),
        OpenError::EndedEarly { index: 0 }
    );
    // The content ends in a chunk not flagged last.
    let head = content_of(&manifest_for(ID, &[b""]), &[]).len();
    let fill = pattern(C - head, 5);
    let exact = manifest_for(ID, &[&fill]);
    let c = content_of(&exact, &[&fill]);
    assert_eq!(c.len(), C);
    let unflagged = vec![SealedChunk {
        index: 0,
        last: false,
        sealed: seal_chunk(&key(), &ID, 0, false, &c).expect("seals"),
    }];
    assert_eq!(
        open_err(&mut fresh(), &unflagged),
        OpenError::LastFlagMissing { index: 0 }
    );
    // After a content error, the opener refuses everything.
    let mut opener = fresh();
    let bad = forge(&ID, &[&good[..], b"!"].concat());
    assert!(open_all(&mut opener, &bad).is_err());
    assert_eq!(open_err(&mut opener, &forge(&ID, &good)), OpenError::Failed);
    assert_eq!(opener.finish(), Err(OpenError::Failed));
}

#[test]
fn the_sealer_refuses_documents_other_than_declared() {
    let a = b"first document".as_slice();
    let b = b"second".as_slice();
    let m = manifest_for(ID, &[a, b]);

    let mut s = ContentSealer::new(&key(), &m).expect("sealer");
    assert_eq!(s.current_document(), Some(0));
    s.write(a).expect("whole");
    assert_eq!(
        s.write(b"x"),
        Err(SealError::DocumentTooLong {
            document: 0,
            declared: a.len() as u64
        })
    );
    s.end_document().expect("ends");
    s.write(&b[..3]).expect("part");
    assert_eq!(
        s.end_document(),
        Err(SealError::DocumentTooShort {
            document: 1,
            declared: 6,
            written: 3
        })
    );

    let mut early = ContentSealer::new(&key(), &m).expect("sealer");
    early.write(a).expect("a");
    early.end_document().expect("a ends");
    assert_eq!(
        early.finish().map(|_| ()),
        Err(SealError::DocumentsMissing { remaining: 1 })
    );

    let mut s = ContentSealer::new(&key(), &m).expect("sealer");
    s.write(a).expect("a");
    s.end_document().expect("a ends");
    s.write(b).expect("b");
    s.end_document().expect("b ends");
    assert_eq!(s.current_document(), None);
    assert_eq!(s.write(b"more"), Err(SealError::NoDocumentOpen));
    assert_eq!(s.end_document(), Err(SealError::NoDocumentOpen));
    s.finish().expect("finishes");

    let mut bad = m;
    bad.documents[1].media_type = "nope".into();
    assert_eq!(
        ContentSealer::new(&key(), &bad).map(|_| ()),
        Err(SealError::Manifest(ManifestError::MediaType { index: 1 }))
    );
}

#[test]
fn a_manifest_spanning_several_chunks_round_trips() {
    let doc = pattern(1000, 6);
    for docs in [vec![], vec![&doc[..]], vec![&b""[..], &doc[..]]] {
        let mut m = manifest_for(ID, &docs);
        m.referral.letter = "Cher confrère, ".repeat(MAX_LETTER_LEN / 16);
        let (chunks, summary) = seal_dossier(&key(), &m, &docs, 333);
        assert!(chunks.len() >= 4, "{}", chunks.len());
        let mut opener = ContentOpener::new(&key(), ID).expecting_len(summary.content_len);
        let opened = open_all(&mut opener, &chunks).expect("opens");
        assert_eq!(opened.manifest, Some(m));
        assert_eq!(
            opened.documents,
            docs.iter().map(|d| d.to_vec()).collect::<Vec<_>>()
        );
        assert_eq!(opened.finished, Some(summary));
    }
}

#[test]
fn the_sealer_computes_each_documents_hash_in_one_pass() {
    // The manifest given declares no hashes; a letter of 200,000 bytes puts
    // the manifest across four chunks, all held back until the end.
    let a = pattern(3 * C + 11, 4);
    let b = pattern(17, 5);
    let docs: [&[u8]; 2] = [&a, &b];
    let declared = manifest_for(ID, &docs);
    let mut blank = declared.clone();
    blank.referral.letter = "L".repeat(200_000);
    for d in &mut blank.documents {
        d.sha256 = [0; 32];
    }
    let mut expected = declared;
    expected.referral.letter = blank.referral.letter.clone();
    let (chunks, summary) = seal_dossier(&key(), &blank, &docs, 5000);
    let total = content_len(blank.encode().expect("encodes").len(), &blank.documents);
    assert_eq!(Some(summary.content_len), total);
    assert_eq!(summary.chunk_count, chunks.len() as u64);
    let mut opener = ContentOpener::new(&key(), ID).expecting_len(summary.content_len);
    let opened = open_all(&mut opener, &chunks).expect("opens");
    assert_eq!(opened.manifest.as_ref(), Some(&expected));
    assert_eq!(opened.documents, vec![a.clone(), b.clone()]);
    assert_eq!(opened.finished, Some(summary));
    // Changing a document changes its hash in the manifest, hence the digest.
    let mut a2 = a.clone();
    a2[0] ^= 1;
    let (_, other) = seal_dossier(&key(), &blank, &[&a2, &b], 5000);
    assert_ne!(other.content_digest, summary.content_digest);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever the documents' sizes, the letter's length (so the number of
    /// chunks that carry the manifest) and the slices the node feeds, the
    /// sealer fills in the documents' hashes and the opener gets back the
    /// same manifest and bytes, with the summary the sealer gave.
    #[test]
    fn sealing_then_opening_gives_back_the_dossier(
        sizes in prop::collection::vec(0usize..3 * C, 0..4),
        letter_len in 0usize..200_000,
        step in 1usize..(2 * C),
        seed in any::<u8>(),
    ) {
        let docs: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| pattern(n, seed.wrapping_add(i as u8)))
            .collect();
        let refs: Vec<&[u8]> = docs.iter().map(Vec::as_slice).collect();
        let mut expected = manifest_for(ID, &refs);
        expected.referral.letter = "x".repeat(letter_len);
        let mut blank = expected.clone();
        for d in &mut blank.documents {
            d.sha256 = [0xEE; 32];
        }
        let (chunks, summary) = seal_dossier(&key(), &blank, &refs, step);
        prop_assert_eq!(summary.chunk_count, chunks.len() as u64);
        let mut opener = ContentOpener::new(&key(), ID).expecting_len(summary.content_len);
        let opened = open_all(&mut opener, &chunks).expect("opens");
        prop_assert_eq!(opened.manifest.as_ref(), Some(&expected));
        prop_assert_eq!(&opened.documents, &docs);
        prop_assert_eq!(opened.finished, Some(summary));
    }
}
