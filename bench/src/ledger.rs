//! The ledger, measured in this process through `confrere_node::ledger`
//! as `node/benches/ledger.rs` does:
//!
//! - durable appends per second: one appender, a real store on disk; each
//!   append returns once its entry and a head checkpoint are flushed;
//! - verification in entries per second of an N-entry ledger (one million
//!   by default) written into a store as the daemon writes it, verified
//!   the way `confrere ledger verify` does with the daemon stopped
//!   (`verify_store` on the freshly opened store): anchored (`ledger
//!   verify`: the hash chain, the genesis entry's and the signed head
//!   checkpoint's signatures) and every signature (`ledger verify
//!   --signatures`).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use confrere_node::ledger::{verify_store, write_checkpoint, write_entry, Ledger};
use confrere_node::store::{Store, StoreKeySource};
use confrere_protocol::dossier::{DossierId, Ins};
use confrere_protocol::ledger::{
    append, EntryKind, HeadCheckpoint, LedgerEntry, ShareBasis, SignatureCheck,
};
use confrere_protocol::receipt::peer_id_from_ed25519_key;
use confrere_protocol::UnixTime;
use ring::signature::{Ed25519KeyPair, KeyPair};

use crate::nodes::{national_id, PATIENT_INS};

/// A fixed instant for the entries' times (2024-03-01).
const T0: i64 = 1_709_251_200;

fn node_key() -> Result<Arc<Ed25519KeyPair>, String> {
    Ed25519KeyPair::from_seed_unchecked(&[7; 32])
        .map(Arc::new)
        .map_err(|_| "ring refused an Ed25519 seed".to_owned())
}

fn peer_id(k: &Ed25519KeyPair) -> Vec<u8> {
    let mut public = [0u8; 32];
    public.copy_from_slice(k.public_key().as_ref());
    peer_id_from_ed25519_key(&public)
}

/// A typical entry: dossier `i` sent under a consent.
fn kind(i: u64) -> Result<EntryKind, String> {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&i.to_be_bytes());
    Ok(EntryKind::DossierSent {
        dossier_id: DossierId(id),
        patient_ins: Ins::parse(PATIENT_INS).map_err(|e| e.to_string())?,
        to: national_id(1),
        basis: ShareBasis::Consent([0x33; 16]),
    })
}

fn to_secs(seq: u64) -> UnixTime {
    UnixTime::from_secs(T0.saturating_add(i64::try_from(seq).unwrap_or(i64::MAX)))
}

/// The ledger's durable appends: one appender, `count` appends to a fresh
/// ledger in a store in `home` (made if missing); appends per second.
pub(crate) struct Appends {
    ledger: Ledger,
    next: u64,
}

impl Appends {
    /// Opens a ledger in a store under `home`.
    pub(crate) fn open(home: &Path) -> Result<Appends, String> {
        std::fs::create_dir_all(home)
            .map_err(|e| format!("cannot make {}: {e}", home.display()))?;
        let store = Store::open(home, StoreKeySource::KeyFile)
            .map_err(|e| format!("cannot open a store in {}: {e}", home.display()))?;
        let ledger = Ledger::open(store, node_key()?, &national_id(0), "BENCH PRACTICE0-TEST")
            .map_err(|e| format!("cannot open the ledger: {e}"))?;
        Ok(Appends { ledger, next: 1 })
    }

    /// Appends `count` entries, one after the other; appends per second.
    pub(crate) fn rate(&mut self, count: u64) -> Result<f64, String> {
        let started = Instant::now();
        for _ in 0..count {
            let k = kind(self.next)?;
            self.ledger
                .append(k, to_secs(self.next))
                .map_err(|e| format!("append failed: {e}"))?;
            self.next += 1;
        }
        Ok(count as f64 / started.elapsed().as_secs_f64().max(1e-9))
    }

    /// Appends `count` entries from `threads` threads at once (as a node
    /// serving several sessions does: one flush covers the appends that
    /// wait for it); appends per second.
    pub(crate) fn rate_concurrent(&mut self, count: u64, threads: u64) -> Result<f64, String> {
        let per = count.div_ceil(threads.max(1));
        let first = self.next;
        let ledger = &self.ledger;
        let started = Instant::now();
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads.max(1))
                .map(|t| {
                    scope.spawn(move || -> Result<(), String> {
                        for i in 0..per {
                            let n = first + t * per + i;
                            ledger
                                .append(kind(n)?, to_secs(n))
                                .map_err(|e| format!("append failed: {e}"))?;
                        }
                        Ok(())
                    })
                })
                .collect();
            workers
                .into_iter()
                .try_for_each(|w| w.join().map_err(|_| "an appender panicked".to_owned())?)
        })?;
        let done = per * threads.max(1);
        self.next += done;
        Ok(done as f64 / started.elapsed().as_secs_f64().max(1e-9))
    }
}

/// Concurrent appenders of the peer figure.
pub(crate) const CONCURRENT_APPENDERS: u64 = 8;

/// A ledger of many entries in a store, for verification.
pub(crate) struct BigLedger {
    home: std::path::PathBuf,
    peer_id: Vec<u8>,
    entries: u64,
}

impl BigLedger {
    /// Writes a ledger of `entries` entries (the genesis entry included)
    /// into a store in `home`, as the daemon writes them, with its signed
    /// head checkpoint. The signatures are made on every core.
    pub(crate) fn build(home: &Path, entries: u64) -> Result<BigLedger, String> {
        let k = node_key()?;
        let chain = chain(&k, entries.max(1) - 1)?;
        std::fs::create_dir_all(home)
            .map_err(|e| format!("cannot make {}: {e}", home.display()))?;
        let store = Store::open(home, StoreKeySource::KeyFile)
            .map_err(|e| format!("cannot open a store in {}: {e}", home.display()))?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per = chain.len().div_ceil(threads).max(1);
        std::thread::scope(|s| -> Result<(), String> {
            let parts: Vec<_> = chain
                .chunks(per)
                .map(|part| {
                    let store = store.clone();
                    s.spawn(move || -> Result<(), String> {
                        for e in part {
                            write_entry(&store, e).map_err(|e| e.to_string())?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for p in parts {
                p.join()
                    .map_err(|_| "a writing thread panicked".to_owned())??;
            }
            Ok(())
        })?;
        let last = chain.last().ok_or("an empty chain")?;
        let cp = HeadCheckpoint::sign(k.as_ref(), last.seq, last.hash())
            .map_err(|e| format!("cannot sign the checkpoint: {e}"))?;
        write_checkpoint(&store, &cp).map_err(|e| e.to_string())?;
        store.flush().map_err(|e| e.to_string())?;
        Ok(BigLedger {
            home: home.to_path_buf(),
            peer_id: peer_id(&k),
            entries: chain.len() as u64,
        })
    }

    /// How many entries it holds.
    pub(crate) fn entries(&self) -> u64 {
        self.entries
    }

    /// Opens the store afresh and verifies the ledger; entries per second.
    pub(crate) fn verify_rate(&self, mode: SignatureCheck) -> Result<f64, String> {
        let store = Store::open(&self.home, StoreKeySource::KeyFile)
            .map_err(|e| format!("cannot open the store: {e}"))?;
        let started = Instant::now();
        let summary = verify_store(&store, &self.peer_id, mode)
            .map_err(|e| format!("the ledger does not verify: {e}"))?
            .ok_or("the store holds no ledger")?;
        let secs = started.elapsed().as_secs_f64();
        if summary.entries != self.entries {
            return Err(format!(
                "verified {} entries of {}",
                summary.entries, self.entries
            ));
        }
        Ok(summary.entries as f64 / secs.max(1e-9))
    }
}

/// A chain of the genesis entry and `n` entries after it: the hashes in
/// order, the signatures on every core (a signature is not hashed).
fn chain(k: &Ed25519KeyPair, n: u64) -> Result<Vec<LedgerEntry>, String> {
    let genesis_kind = EntryKind::Genesis {
        national_id: national_id(0),
        name: "BENCH PRACTICE0-TEST".into(),
        peer_id: peer_id(k),
    };
    let genesis = append(None, UnixTime::from_secs(T0), genesis_kind, k)
        .map_err(|e| format!("cannot make the genesis entry: {e}"))?;
    let mut prev = genesis.hash();
    let capacity = usize::try_from(n).unwrap_or(0).saturating_add(1);
    let mut entries = Vec::with_capacity(capacity);
    let mut hashes = Vec::with_capacity(capacity);
    entries.push(genesis);
    hashes.push(prev);
    for seq in 1..=n {
        let e = LedgerEntry {
            seq,
            time: to_secs(seq),
            prev_hash: prev,
            kind: kind(seq)?,
            signature: [0; 64],
        };
        prev = e.hash();
        hashes.push(prev);
        entries.push(e);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = entries.len().div_ceil(threads).max(1);
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
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_ledger_appends_and_verifies() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut appends = Appends::open(&dir.path().join("a")).expect("open");
        assert!(appends.rate(5).expect("appends") > 0.0);
        let big = BigLedger::build(&dir.path().join("v"), 50).expect("build");
        assert_eq!(big.entries(), 50);
        for mode in [SignatureCheck::Every, SignatureCheck::Anchored] {
            assert!(big.verify_rate(mode).expect("verify") > 0.0);
        }
    }
}
