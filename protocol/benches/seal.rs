//! The dossier's chunked AEAD stream on one core: sealing and opening one
//! chunk (AES-256-GCM alone), and the streaming sealer and opener over a
//! whole 16 MiB dossier (AES-256-GCM plus the two SHA-256 passes each side
//! makes: per document, and over the whole content), with one bare SHA-256
//! pass for reference.
//!
//! `cargo bench -p confrere-protocol --bench seal`

#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::hint::black_box;

use confrere_protocol::dossier::{
    open_chunk, seal_chunk, BirthDate, ChunkCipher, ContentOpener, ContentSealer, DocumentEntry,
    DossierId, DossierKey, Ins, Manifest, Patient, Referral, SealedChunk, Sex, CHUNK_PLAINTEXT_LEN,
};
use confrere_protocol::UnixTime;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ring::digest::{digest, SHA256};

const ID: DossierId = DossierId([7; 16]);
const DOSSIER_LEN: usize = 16 * 1024 * 1024;

fn chunks(c: &mut Criterion) {
    let key = DossierKey::generate().unwrap();
    let cipher = ChunkCipher::new(&key, &ID);
    let plain = vec![0x5a; CHUNK_PLAINTEXT_LEN];
    let sealed = seal_chunk(&key, &ID, 1, false, &plain).unwrap();

    let mut g = c.benchmark_group("chunk");
    g.throughput(Throughput::Bytes(CHUNK_PLAINTEXT_LEN as u64));
    g.bench_function("seal_in_place", |b| {
        b.iter_batched_ref(
            || {
                let mut v = Vec::with_capacity(CHUNK_PLAINTEXT_LEN + 16);
                v.extend_from_slice(&plain);
                v
            },
            |buf| cipher.seal_in_place(1, false, black_box(buf)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("open_in_place", |b| {
        b.iter_batched_ref(
            || sealed.clone(),
            |buf| {
                cipher
                    .open_in_place(1, false, black_box(buf))
                    .unwrap()
                    .len()
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("seal_chunk", |b| {
        b.iter(|| seal_chunk(&key, &ID, 1, false, black_box(&plain)).unwrap())
    });
    g.bench_function("open_chunk", |b| {
        b.iter(|| open_chunk(&key, &ID, 1, false, black_box(&sealed)).unwrap())
    });
    g.finish();
}

fn manifest(doc: &[u8]) -> Manifest {
    let mut sha256 = [0u8; 32];
    sha256.copy_from_slice(digest(&SHA256, doc).as_ref());
    Manifest {
        version: 1,
        dossier_id: ID,
        from: "810001000016".into(),
        to: "810001000024".into(),
        created_at: UnixTime::from_secs(1_709_251_200),
        patient: Patient {
            ins: Ins::parse("269054958815780").unwrap(),
            family: "DUPONT".into(),
            given: "MARIE".into(),
            birth_date: BirthDate::parse("1969-05-14").unwrap(),
            sex: Sex::F,
        },
        referral: Referral {
            reason: "bench".into(),
            urgent: false,
            letter: String::new(),
        },
        in_reply_to: None,
        documents: vec![DocumentEntry {
            name: "scan.dcm".into(),
            media_type: "application/dicom".into(),
            size: doc.len() as u64,
            sha256,
        }],
    }
}

fn seal_all(key: &DossierKey, m: &Manifest, doc: &[u8]) -> Vec<SealedChunk> {
    let mut sealer = ContentSealer::new(key, m).unwrap();
    let mut out = Vec::new();
    // Slices as a node would read them from disk.
    for piece in doc.chunks(64 * 1024) {
        out.extend(sealer.write(piece).unwrap());
    }
    out.extend(sealer.end_document().unwrap());
    out.extend(sealer.finish().unwrap().0);
    out.sort_by_key(|c| c.index);
    out
}

fn dossier(c: &mut Criterion) {
    let key = DossierKey::generate().unwrap();
    let doc: Vec<u8> = (0..DOSSIER_LEN).map(|i| (i % 251) as u8).collect();
    let m = manifest(&doc);
    let sealed = seal_all(&key, &m, &doc);

    let mut g = c.benchmark_group("dossier_16MiB");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(DOSSIER_LEN as u64));
    // For reference: one SHA-256 pass, of which each side makes two.
    g.bench_function("sha256_one_pass", |b| {
        b.iter(|| digest(&SHA256, black_box(&doc)))
    });
    g.bench_function("content_sealer", |b| {
        b.iter(|| seal_all(&key, &m, black_box(&doc)).len())
    });
    g.bench_function("content_opener", |b| {
        b.iter(|| {
            let mut opener = ContentOpener::new(&key, ID);
            let mut events = 0usize;
            for ch in &sealed {
                events += opener
                    .push_chunk(ch.index, ch.last, &ch.sealed)
                    .unwrap()
                    .len();
            }
            opener.finish().unwrap();
            events
        })
    });
    g.finish();
}

criterion_group!(benches, chunks, dossier);
criterion_main!(benches);
