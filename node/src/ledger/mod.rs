//! The node's ledger over its encrypted store: append-only, hash-chained,
//! signed by the node's key (the format and its verification are
//! [`confrere_protocol::ledger`]'s).
//!
//! Flow:
//!
//! 1. The daemon opens the [`Ledger`] when it starts
//!    ([`Ledger::open`]): the first time, it writes the genesis entry
//!    naming the practitioner and the node; afterwards it checks that the
//!    ledger is this node's, and finds the head through the signed head
//!    checkpoint (the whole chain is verified by [`Ledger::verify`], not
//!    at every start).
//! 2. Before an action is acknowledged (to the user or to a peer), the
//!    daemon calls [`Ledger::append`] (or [`Ledger::append_async`]). It
//!    returns once the entry and a head checkpoint covering it are durable.
//! 3. `confrere ledger show` and `confrere ledger verify` read the store
//!    with [`read_entries`] and [`verify_store`] when the daemon is
//!    stopped, or ask the daemon ([`Ledger::entries`],
//!    [`Ledger::verify`]) when it runs.
//!
//! **Group commit.** Appends are serialized by a mutex: each one signs its
//! entry (about 20 µs) and writes it to the store. Making it durable takes
//! a `sled` flush (an fsync, milliseconds). One caller at a time flushes:
//! it signs a checkpoint of the head as it stands, writes it, flushes, and
//! wakes every caller whose entry that flush covered; callers whose
//! entries came in during the flush are covered by the next one, made by
//! one of them. So a caller returns only once its own entry is durable,
//! and a burst of appends costs one flush, not one each.
//!
//! **After a crash** the store may hold entries written after the last
//! durable checkpoint (their appends had not returned). [`Ledger::open`]
//! verifies them (signature and link) and moves the checkpoint forward.
//!
//! **An error from `append`** means the action must not go ahead. The
//! entry may or may not have reached the disk: the ledger may record an
//! action that was then refused, never the reverse.

mod error;
mod signer;
mod storage;

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use confrere_protocol::dossier::Ins;
use confrere_protocol::ledger::{
    append as make_entry, append_encoded, ChainError, ChainSummary, EntryError, EntryKind,
    HeadCheckpoint, LedgerEntry, SignatureCheck,
};
use confrere_protocol::receipt::{ed25519_key_from_peer_id, NodeSigner};
use confrere_protocol::{NationalId, UnixTime};

pub use error::LedgerError;
pub use signer::Libp2pNodeSigner;
pub use storage::{
    read_checkpoint, read_entries, read_entry, verify_store, write_checkpoint, write_entry,
    HEAD_KEY,
};

use storage::{read_slot, verified_checkpoint, write_encoded, Slot};

use crate::store::Store;

/// The node's ledger. Cheap to clone; all clones share one head.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    signer: Arc<dyn NodeSigner + Send + Sync>,
    peer_id: Vec<u8>,
    /// The last entry written (durable or not); appends hold this lock.
    head: Mutex<Head>,
    /// Group commit state.
    commit: Mutex<Commit>,
    /// Signalled when a flush ends.
    flushed: Condvar,
}

struct Head {
    seq: u64,
    hash: [u8; 32],
}

struct Commit {
    /// Every entry up to this one is durable.
    durable: u64,
    /// A caller is flushing.
    flushing: bool,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("head", &lock(&self.inner.head).seq)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn system_now() -> UnixTime {
    crate::clock::system_now()
}

impl Ledger {
    /// Opens the ledger of `store` for the node whose key `signer` holds,
    /// serving the practitioner `national_id` (`name` as the certificate
    /// gives it). The first time, writes and flushes the genesis entry.
    ///
    /// Refuses a ledger started by another practitioner or node, and one
    /// whose head does not verify ([`LedgerError::Broken`]). Blocking: call
    /// it from a blocking context.
    pub fn open(
        store: Store,
        signer: Arc<dyn NodeSigner + Send + Sync>,
        national_id: &str,
        name: &str,
    ) -> Result<Ledger, LedgerError> {
        NationalId::parse(national_id).map_err(|e| LedgerError::NationalId(e.to_string()))?;
        let peer_id = signer.peer_id();
        let key = ed25519_key_from_peer_id(&peer_id).ok_or(ChainError::NotEd25519PeerId)?;
        let genesis = match read_slot(&store, 0)? {
            Slot::Entry(g) => {
                check_genesis(&g, national_id, &peer_id, &key)?;
                Some(*g)
            }
            Slot::Damaged => return Err(ChainError::Malformed { seq: 0 }.into()),
            Slot::Missing => None,
        };
        let checkpoint = verified_checkpoint(&store, &peer_id)?;
        let genesis = match genesis {
            Some(g) => g,
            None => {
                if checkpoint.is_some() || !matches!(read_slot(&store, 1)?, Slot::Missing) {
                    return Err(ChainError::BadGenesis.into());
                }
                let kind = EntryKind::Genesis {
                    national_id: national_id.to_owned(),
                    name: name.to_owned(),
                    peer_id: peer_id.clone(),
                };
                let g = make_entry(None, system_now(), kind, signer.as_ref())?;
                if !g.signature_verifies(&key, &g.hash()) {
                    // The signer holds another key than its PeerId's.
                    return Err(EntryError::OtherNode.into());
                }
                write_entry(&store, &g)?;
                g
            }
        };
        // The head: the checkpoint's entry, then any entry written after
        // it (verified one by one). On a problem, a full verification
        // names the first bad entry.
        let (seq, hash) = match find_head(&store, &key, checkpoint.as_ref(), genesis.hash()) {
            Ok(head) => head,
            Err(LedgerError::Broken(fallback)) => {
                return Err(
                    match verify_store(&store, &peer_id, SignatureCheck::Anchored) {
                        Err(e @ LedgerError::Broken(_)) => e,
                        _ => LedgerError::Broken(fallback),
                    },
                )
            }
            Err(e) => return Err(e),
        };
        // A fresh checkpoint of the head, durable: also proves that the
        // signer holds the node's key.
        let cp = HeadCheckpoint::sign(signer.as_ref(), seq, hash)?;
        write_checkpoint(&store, &cp)?;
        store.flush()?;
        Ok(Ledger {
            inner: Arc::new(Inner {
                store,
                signer,
                peer_id,
                head: Mutex::new(Head { seq, hash }),
                commit: Mutex::new(Commit {
                    durable: seq,
                    flushing: false,
                }),
                flushed: Condvar::new(),
            }),
        })
    }

    /// The node's PeerId, whose key signs the ledger.
    pub fn peer_id(&self) -> &[u8] {
        &self.inner.peer_id
    }

    /// The last entry's sequence number.
    pub fn head_seq(&self) -> u64 {
        lock(&self.inner.head).seq
    }

    /// The store the ledger lives in.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Records `kind` at `time` and returns the entry once it is durable
    /// (entry and head checkpoint flushed). Blocking: from async code use
    /// [`append_async`](Ledger::append_async).
    pub fn append(&self, kind: EntryKind, time: UnixTime) -> Result<LedgerEntry, LedgerError> {
        let entry = {
            let mut head = lock(&self.inner.head);
            let made = append_encoded(
                Some((head.seq, head.hash)),
                time,
                kind,
                self.inner.signer.as_ref(),
            )?;
            write_encoded(&self.inner.store, made.entry.seq, &made.encoded)?;
            head.seq = made.entry.seq;
            head.hash = made.hash;
            made.entry
        };
        self.make_durable(entry.seq)?;
        Ok(entry)
    }

    /// [`append`](Ledger::append) on tokio's blocking pool.
    pub async fn append_async(
        &self,
        kind: EntryKind,
        time: UnixTime,
    ) -> Result<LedgerEntry, LedgerError> {
        let ledger = self.clone();
        tokio::task::spawn_blocking(move || ledger.append(kind, time))
            .await
            .map_err(|e| LedgerError::Task(e.to_string()))?
    }

    /// Returns once entry `seq` is durable, flushing if no one else is.
    fn make_durable(&self, seq: u64) -> Result<(), LedgerError> {
        let inner = &self.inner;
        let mut commit = lock(&inner.commit);
        loop {
            if commit.durable >= seq {
                return Ok(());
            }
            if commit.flushing {
                commit = inner
                    .flushed
                    .wait(commit)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            commit.flushing = true;
            drop(commit);
            let flushed = self.flush_head();
            commit = lock(&inner.commit);
            commit.flushing = false;
            inner.flushed.notify_all();
            match flushed {
                Ok(head) => commit.durable = commit.durable.max(head),
                // Waiters retry with a flush of their own.
                Err(e) => return Err(e),
            }
        }
    }

    /// Checkpoints the head as it stands and flushes the store; returns
    /// the sequence number now durable.
    fn flush_head(&self) -> Result<u64, LedgerError> {
        let (seq, hash) = {
            let head = lock(&self.inner.head);
            (head.seq, head.hash)
        };
        // The signer was checked by the checkpoint `open` made.
        let cp = HeadCheckpoint::sign_unchecked(self.inner.signer.as_ref(), seq, hash)?;
        write_checkpoint(&self.inner.store, &cp)?;
        self.inner.store.flush()?;
        Ok(seq)
    }

    /// The entries from `since` (or from the genesis entry), in order.
    pub fn entries(&self, since: Option<u64>) -> Result<Vec<LedgerEntry>, LedgerError> {
        read_entries(&self.inner.store, since)
    }

    /// The entries about the patient `ins`: those naming the patient, and
    /// those about the patient's dossiers and consents (deliveries,
    /// revocations, erasure receipts), in order. Reads the whole ledger.
    pub fn by_patient(&self, ins: &Ins) -> Result<Vec<LedgerEntry>, LedgerError> {
        Ok(about_patient(self.entries(None)?, ins))
    }

    /// Verifies the whole chain and every signature against the head
    /// checkpoint; names the first bad entry ([`LedgerError::Broken`]).
    pub fn verify(&self) -> Result<ChainSummary, LedgerError> {
        self.verify_with(SignatureCheck::Every)
    }

    /// [`verify`](Ledger::verify), choosing which signatures to check.
    pub fn verify_with(&self, signatures: SignatureCheck) -> Result<ChainSummary, LedgerError> {
        verify_store(&self.inner.store, &self.inner.peer_id, signatures)?
            .ok_or(LedgerError::Broken(ChainError::BadGenesis))
    }

    /// The entries from `since`, on tokio's blocking pool.
    pub async fn entries_async(&self, since: Option<u64>) -> Result<Vec<LedgerEntry>, LedgerError> {
        let ledger = self.clone();
        tokio::task::spawn_blocking(move || ledger.entries(since))
            .await
            .map_err(|e| LedgerError::Task(e.to_string()))?
    }

    /// [`verify_with`](Ledger::verify_with) on tokio's blocking pool.
    pub async fn verify_async(
        &self,
        signatures: SignatureCheck,
    ) -> Result<ChainSummary, LedgerError> {
        let ledger = self.clone();
        tokio::task::spawn_blocking(move || ledger.verify_with(signatures))
            .await
            .map_err(|e| LedgerError::Task(e.to_string()))?
    }
}

/// Keeps the entries about patient `ins`: naming the patient, or naming a
/// dossier or a consent that an entry naming the patient names.
pub fn about_patient(entries: Vec<LedgerEntry>, ins: &Ins) -> Vec<LedgerEntry> {
    let mut dossiers = std::collections::HashSet::new();
    let mut consents = std::collections::HashSet::new();
    for e in &entries {
        if e.kind.patient_ins() == Some(ins) {
            dossiers.extend(e.kind.dossier_id());
            consents.extend(e.kind.consent_id());
        }
    }
    entries
        .into_iter()
        .filter(|e| match e.kind.patient_ins() {
            Some(p) => p == ins,
            None => {
                e.kind.dossier_id().is_some_and(|d| dossiers.contains(&d))
                    || e.kind.consent_id().is_some_and(|c| consents.contains(&c))
            }
        })
        .collect()
}

/// Checks that the genesis entry `g` names this practitioner and node,
/// and is signed by the node.
fn check_genesis(
    g: &LedgerEntry,
    national_id: &str,
    peer_id: &[u8],
    key: &[u8; 32],
) -> Result<(), LedgerError> {
    let EntryKind::Genesis {
        national_id: owner,
        peer_id: node,
        ..
    } = &g.kind
    else {
        return Err(ChainError::BadGenesis.into());
    };
    if owner != national_id {
        return Err(LedgerError::OtherOwner {
            what: "practitioner",
            found: owner.clone(),
        });
    }
    if node.as_slice() != peer_id {
        return Err(LedgerError::OtherOwner {
            what: "node",
            found: peer_id_text(node),
        });
    }
    if g.seq != 0 || g.prev_hash != [0; 32] || !g.signature_verifies(key, &g.hash()) {
        return Err(ChainError::BadGenesis.into());
    }
    Ok(())
}

/// The head's sequence number and hash: the checkpoint's entry (or the
/// genesis entry), then the entries after it, each verified.
fn find_head(
    store: &Store,
    key: &[u8; 32],
    checkpoint: Option<&HeadCheckpoint>,
    genesis_hash: [u8; 32],
) -> Result<(u64, [u8; 32]), LedgerError> {
    let (mut seq, mut hash) = match checkpoint {
        None => (0, genesis_hash),
        Some(cp) => {
            let at = match read_slot(store, cp.seq)? {
                Slot::Entry(e) => e,
                Slot::Damaged => return Err(ChainError::Malformed { seq: cp.seq }.into()),
                Slot::Missing => {
                    return Err(ChainError::TruncatedTail {
                        expected_seq: cp.seq,
                        found_seq: cp.seq.saturating_sub(1),
                    }
                    .into())
                }
            };
            if at.seq != cp.seq || at.hash() != cp.hash {
                return Err(ChainError::CheckpointMismatch { seq: cp.seq }.into());
            }
            (cp.seq, cp.hash)
        }
    };
    while let Some(next) = seq.checked_add(1) {
        let e = match read_slot(store, next)? {
            Slot::Missing => break,
            Slot::Damaged => return Err(ChainError::Malformed { seq: next }.into()),
            Slot::Entry(e) => e,
        };
        let h = e.hash();
        if !e.signature_verifies(key, &h) {
            return Err(ChainError::BadSignature { seq: next }.into());
        }
        if e.seq != next || e.prev_hash != hash {
            return Err(ChainError::BrokenLink { seq: next }.into());
        }
        if checkpoint.is_none() {
            // Only the genesis entry may precede the first checkpoint.
            return Err(ChainError::MissingCheckpoint.into());
        }
        seq = next;
        hash = h;
    }
    Ok((seq, hash))
}

fn peer_id_text(bytes: &[u8]) -> String {
    libp2p_identity::PeerId::from_bytes(bytes)
        .map(|p| p.to_base58())
        .unwrap_or_else(|_| hex::encode(bytes))
}
