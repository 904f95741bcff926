//! The ledger: durable appends per second, and verification in entries
//! per second.
//!
//! - `append_durable/T`: T threads append at once to one ledger in a store
//!   on disk; each append returns once its entry is flushed (group commit:
//!   one flush covers every entry written meanwhile).
//! - `verify_memory/...`: `verify_chain` on a chain built in memory, every
//!   signature (`every`) or the genesis and checkpoint signatures with the
//!   hash chain (`anchored`), on all cores.
//! - `verify_store/...`: the same through the store (records opened,
//!   decoded, verified).
//!
//! With `LEDGER_BENCH_1M=1`, also a 1,000,000-entry chain in memory:
//! `verify_memory/anchored/1M`, and one timed verification of every
//! signature, printed (ten criterion samples would take minutes).
//!
//! `cargo bench -p confrere-node --bench ledger`
//! `LEDGER_BENCH_1M=1 cargo bench -p confrere-node --bench ledger`

#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use confrere_node::ledger::{verify_store, write_checkpoint, write_entry, Ledger};
use confrere_node::store::{Store, StoreKeySource};
use confrere_protocol::dossier::{DossierId, Ins};
use confrere_protocol::ledger::{
    append, verify_chain_with, EntryKind, HeadCheckpoint, LedgerEntry, ShareBasis, SignatureCheck,
};
use confrere_protocol::receipt::peer_id_from_ed25519_key;
use confrere_protocol::UnixTime;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ring::signature::{Ed25519KeyPair, KeyPair};

const GP: &str = "810001000016";
const CARDIOLOGIST: &str = "810001000024";
const T0: i64 = 1_709_251_200;

fn node_key() -> Arc<Ed25519KeyPair> {
    Arc::new(Ed25519KeyPair::from_seed_unchecked(&[7; 32]).unwrap())
}

fn peer_id(k: &Ed25519KeyPair) -> Vec<u8> {
    let mut public = [0u8; 32];
    public.copy_from_slice(k.public_key().as_ref());
    peer_id_from_ed25519_key(&public)
}

/// A typical entry: a dossier sent under a consent.
fn kind(i: u64) -> EntryKind {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&i.to_be_bytes());
    EntryKind::DossierSent {
        dossier_id: DossierId(id),
        patient_ins: Ins::parse("269054958815780").unwrap(),
        to: CARDIOLOGIST.into(),
        basis: ShareBasis::Consent([0x33; 16]),
    }
}

/// A chain of `n` entries after the genesis one, the hashes in order and
/// the signatures on every core (a signature is not part of the hash).
fn build_chain(k: &Ed25519KeyPair, n: u64) -> Vec<LedgerEntry> {
    let genesis_kind = EntryKind::Genesis {
        national_id: GP.into(),
        name: "Jeanne MARTIN".into(),
        peer_id: peer_id(k),
    };
    let genesis = append(None, UnixTime::from_secs(T0), genesis_kind, k).unwrap();
    let mut prev = genesis.hash();
    let mut entries = vec![genesis];
    let mut hashes = vec![prev];
    for seq in 1..=n {
        let e = LedgerEntry {
            seq,
            time: UnixTime::from_secs(T0 + seq as i64),
            prev_hash: prev,
            kind: kind(seq),
            signature: [0; 64],
        };
        prev = e.hash();
        hashes.push(prev);
        entries.push(e);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = entries.len().div_ceil(threads);
    std::thread::scope(|s| {
        for (part, hs) in entries[1..].chunks_mut(per).zip(hashes[1..].chunks(per)) {
            s.spawn(move || {
                for (e, h) in part.iter_mut().zip(hs) {
                    let sig = k.sign(&LedgerEntry::signed_message(h));
                    e.signature.copy_from_slice(sig.as_ref());
                }
            });
        }
    });
    entries
}

fn head(entries: &[LedgerEntry]) -> Option<(u64, [u8; 32])> {
    entries.last().map(|e| (e.seq, e.hash()))
}

/// Writes a chain into a store as the ledger does, with its checkpoint.
fn fill_store(store: &Store, k: &Ed25519KeyPair, entries: &[LedgerEntry]) {
    for e in entries {
        write_entry(store, e).unwrap();
    }
    let (seq, hash) = head(entries).unwrap();
    let cp = HeadCheckpoint::sign(k, seq, hash).unwrap();
    write_checkpoint(store, &cp).unwrap();
    store.flush().unwrap();
}

/// With `LEDGER_BENCH_1M=1`: a 1,000,000-entry chain in memory, verified
/// with anchored signatures (criterion) and once with every signature
/// (timed here: ten criterion samples would take minutes).
fn verify_million(c: &mut Criterion) {
    if std::env::var_os("LEDGER_BENCH_1M").is_none() {
        return;
    }
    let k = node_key();
    let started = Instant::now();
    let entries = build_chain(&k, 999_999);
    eprintln!(
        "built a 1,000,000-entry chain in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let peer = peer_id(&k);
    let mut g = c.benchmark_group("verify_memory");
    g.sample_size(10);
    g.throughput(Throughput::Elements(entries.len() as u64));
    g.bench_function("anchored/1M", |b| {
        b.iter(|| {
            verify_chain_with(
                black_box(&entries),
                &peer,
                head(&entries),
                SignatureCheck::Anchored,
            )
            .unwrap()
        })
    });
    g.finish();
    let started = Instant::now();
    let summary =
        verify_chain_with(&entries, &peer, head(&entries), SignatureCheck::Every).unwrap();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "verify_memory/every/1M (one run): {} entries in {secs:.2} s = {:.0} entries/s",
        summary.entries,
        summary.entries as f64 / secs
    );
}

fn appends(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreKeySource::KeyFile).unwrap();
    let ledger = Ledger::open(store, node_key(), GP, "Jeanne MARTIN").unwrap();
    let mut g = c.benchmark_group("append_durable");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(10));
    for threads in [1u64, 4, 16, 64] {
        g.bench_function(threads.to_string(), |b| {
            b.iter_custom(|iters| {
                let per_thread = iters.div_ceil(threads);
                let started = Instant::now();
                std::thread::scope(|s| {
                    for t in 0..threads {
                        let ledger = ledger.clone();
                        s.spawn(move || {
                            for i in 0..per_thread {
                                ledger
                                    .append(kind(t << 32 | i), UnixTime::from_secs(T0))
                                    .unwrap();
                            }
                        });
                    }
                });
                // Scaled to the iterations asked for.
                started
                    .elapsed()
                    .mul_f64(iters as f64 / (per_thread * threads) as f64)
            })
        });
    }
    g.finish();
    let summary = ledger.verify().unwrap();
    eprintln!("appended {} entries, chain intact", summary.entries);
}

fn verify_in_memory(c: &mut Criterion) {
    let k = node_key();
    let entries = build_chain(&k, 99_999);
    let peer = peer_id(&k);
    let mut g = c.benchmark_group("verify_memory");
    g.sample_size(10);
    g.throughput(Throughput::Elements(entries.len() as u64));
    for (name, mode) in [
        ("every/100k", SignatureCheck::Every),
        ("anchored/100k", SignatureCheck::Anchored),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| verify_chain_with(black_box(&entries), &peer, head(&entries), mode).unwrap())
        });
    }
    g.finish();
}

fn verify_through_store(c: &mut Criterion) {
    let k = node_key();
    let entries = build_chain(&k, 99_999);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreKeySource::KeyFile).unwrap();
    fill_store(&store, &k, &entries);
    let peer = peer_id(&k);
    let mut g = c.benchmark_group("verify_store");
    g.sample_size(10);
    g.throughput(Throughput::Elements(entries.len() as u64));
    for (name, mode) in [
        ("every/100k", SignatureCheck::Every),
        ("anchored/100k", SignatureCheck::Anchored),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| verify_store(&store, &peer, mode).unwrap().unwrap())
        });
    }
    g.finish();
    drop(store);
}

criterion_group!(
    benches,
    appends,
    verify_in_memory,
    verify_through_store,
    verify_million
);
criterion_main!(benches);
