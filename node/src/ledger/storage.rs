//! Where the ledger lives in the store, and reading it back without a
//! running [`Ledger`](super::Ledger) (the command line does, with the
//! daemon stopped).
//!
//! - Entries: tree [`Tree::Ledger`], key = sequence number (8 bytes,
//!   big-endian), value = the encoded entry, sealed by the store's record
//!   encryption like any record (bound to its tree and key) but without
//!   JSON around it ([`Store::put_bytes`]).
//! - Head checkpoint: tree [`Tree::Meta`], key [`HEAD_KEY`], value = the
//!   encoded [`HeadCheckpoint`], sealed likewise.
//!
//! Verification reads entries in key order, a range at a time, rather than
//! looking each one up: each core reads every other range (with two), and
//! opens, decodes, hashes (and checks the signature of) the entries it
//! reads, into buffers reused from one record to the next. It hands over
//! only what the checks in order need ([`PreparedEntry`]), and goes on
//! with its next range while they run. Homes made before entries were
//! stored raw hold them as hex in a JSON string; they are read as well.
//!
//! A record that does not open (a changed byte in the sealed bytes fails
//! AES-GCM authentication), or opens to something that is not an entry,
//! is a damaged entry: reported as [`ChainError::Malformed`], never a
//! panic.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use confrere_protocol::ledger::{
    ChainError, ChainSummary, ChainVerifier, EntryPreparer, HeadCheckpoint, LedgerEntry,
    PreparedEntry, SignatureCheck,
};

use super::error::LedgerError;
use crate::store::{Store, StoreError, Tree};

/// Key of the head checkpoint in [`Tree::Meta`].
pub const HEAD_KEY: &[u8] = b"ledger-head";

/// Entries read from the store per verification batch (a range of
/// sequence numbers read by one core).
const READ_BATCH: usize = 16_384;
/// Batches a core may have read ahead of the checks in order.
const READ_AHEAD: usize = 2;

/// What the store holds at one sequence number.
#[derive(Debug)]
pub(crate) enum Slot {
    /// No record.
    Missing,
    /// A record that does not open or decode.
    Damaged,
    /// An entry.
    Entry(Box<LedgerEntry>),
}

/// The record key of entry `seq`.
pub(crate) fn entry_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Whether a store error means the record itself is damaged (rather than
/// the disk or the store failing).
fn is_damage(e: &StoreError) -> bool {
    matches!(e, StoreError::Corrupt { .. } | StoreError::Decode { .. })
}

/// The bytes of a record as homes made before entries were stored raw
/// keep them: hex in a JSON string.
fn legacy_hex(bytes: &[u8]) -> Option<Vec<u8>> {
    serde_json::from_slice::<String>(bytes)
        .ok()
        .and_then(|text| hex::decode(text).ok())
}

/// What a stored record holds.
fn slot_of(opened: Result<impl AsRef<[u8]>, StoreError>) -> Result<Slot, LedgerError> {
    match opened {
        Ok(bytes) => {
            let bytes = bytes.as_ref();
            let entry = LedgerEntry::decode(bytes)
                .ok()
                .or_else(|| legacy_hex(bytes).and_then(|raw| LedgerEntry::decode(&raw).ok()));
            Ok(entry.map_or(Slot::Damaged, |e| Slot::Entry(Box::new(e))))
        }
        Err(e) if is_damage(&e) => Ok(Slot::Damaged),
        Err(e) => Err(LedgerError::Store(e)),
    }
}

/// Reads entry `seq`.
pub(crate) fn read_slot(store: &Store, seq: u64) -> Result<Slot, LedgerError> {
    match store.get_bytes(Tree::Ledger, &entry_key(seq)) {
        Ok(None) => Ok(Slot::Missing),
        Ok(Some(bytes)) => slot_of(Ok(bytes)),
        Err(e) => slot_of(Err::<Vec<u8>, _>(e)),
    }
}

/// Entry `seq` as stored: `None` when there is none or it does not decode.
pub fn read_entry(store: &Store, seq: u64) -> Result<Option<LedgerEntry>, LedgerError> {
    Ok(match read_slot(store, seq)? {
        Slot::Entry(e) => Some(*e),
        Slot::Missing | Slot::Damaged => None,
    })
}

/// Writes entry `entry` under its sequence number (durable after a flush),
/// as the ledger does: for tools and tests that build or alter a ledger.
pub fn write_entry(store: &Store, entry: &LedgerEntry) -> Result<(), LedgerError> {
    write_encoded(store, entry.seq, &entry.encode()?)
}

/// [`write_entry`] for an entry already encoded.
pub(crate) fn write_encoded(store: &Store, seq: u64, encoded: &[u8]) -> Result<(), LedgerError> {
    store.put_bytes(Tree::Ledger, &entry_key(seq), encoded)?;
    Ok(())
}

/// Reads the head checkpoint, if there is one. A damaged one is
/// [`ChainError::BadCheckpoint`].
pub fn read_checkpoint(store: &Store) -> Result<Option<HeadCheckpoint>, LedgerError> {
    match store.get_bytes(Tree::Meta, HEAD_KEY) {
        Ok(None) => Ok(None),
        Ok(Some(bytes)) => HeadCheckpoint::decode(&bytes)
            .ok()
            .or_else(|| legacy_hex(&bytes).and_then(|raw| HeadCheckpoint::decode(&raw).ok()))
            .map(Some)
            .ok_or(LedgerError::Broken(ChainError::BadCheckpoint)),
        Err(e) if is_damage(&e) => Err(LedgerError::Broken(ChainError::BadCheckpoint)),
        Err(e) => Err(LedgerError::Store(e)),
    }
}

/// Writes the head checkpoint (durable after a flush).
pub fn write_checkpoint(store: &Store, cp: &HeadCheckpoint) -> Result<(), LedgerError> {
    store.put_bytes(Tree::Meta, HEAD_KEY, &cp.encode())?;
    Ok(())
}

/// Reads and verifies the head checkpoint against the node's PeerId.
pub(crate) fn verified_checkpoint(
    store: &Store,
    node_peer_id: &[u8],
) -> Result<Option<HeadCheckpoint>, LedgerError> {
    let cp = read_checkpoint(store)?;
    if let Some(cp) = &cp {
        cp.verify(node_peer_id)?;
    }
    Ok(cp)
}

/// The entries from `since` (or from the genesis entry) to the last one,
/// in order. Missing sequence numbers are skipped (`verify` names them);
/// a damaged record fails with [`ChainError::Malformed`].
pub fn read_entries(store: &Store, since: Option<u64>) -> Result<Vec<LedgerEntry>, LedgerError> {
    let head = read_checkpoint(store)?.map_or(0, |cp| cp.seq);
    let mut out = Vec::new();
    let mut seq = since.unwrap_or(0);
    loop {
        match read_slot(store, seq)? {
            Slot::Entry(e) => out.push(*e),
            Slot::Missing if seq >= head => break,
            Slot::Missing => {}
            Slot::Damaged => return Err(LedgerError::Broken(ChainError::Malformed { seq })),
        }
        let Some(next) = seq.checked_add(1) else {
            break;
        };
        seq = next;
    }
    Ok(out)
}

/// A stored record, made ready for the checks in order.
enum Ready {
    /// An entry.
    Entry(PreparedEntry),
    /// A record that does not open or decode.
    Damaged,
}

/// Records read and prepared, each with its sequence number, in key order.
type Span = Vec<(u64, Ready)>;

/// Reads and prepares the records `from .. to` on this thread into `out`
/// (emptied first), in key order, each with its sequence number (those
/// with no record are left out).
fn prepare_span(
    store: &Store,
    preparer: &EntryPreparer,
    from: u64,
    to: u64,
    out: &mut Span,
) -> Result<(), LedgerError> {
    out.clear();
    store.visit_range_bytes(
        Tree::Ledger,
        &entry_key(from),
        &entry_key(to),
        |key, opened| -> Result<(), LedgerError> {
            let Ok(seq) = <[u8; 8]>::try_from(key).map(u64::from_be_bytes) else {
                return Ok(());
            };
            if seq < from || seq >= to {
                return Ok(());
            }
            let ready = match opened {
                Ok(bytes) => preparer
                    .prepare(bytes)
                    .ok()
                    .or_else(|| legacy_hex(bytes).and_then(|raw| preparer.prepare(&raw).ok()))
                    .map_or(Ready::Damaged, Ready::Entry),
                Err(e) if is_damage(&e) => Ready::Damaged,
                Err(e) => return Err(LedgerError::Store(e)),
            };
            out.push((seq, ready));
            Ok(())
        },
    )
}

/// A batch as a lane read it.
type Read = Result<Span, LedgerError>;

/// One reading core: batches `lane`, `lane + lanes`, … of
/// [`READ_BATCH`] sequence numbers, each sent on `tx` as read. Stops after
/// a batch where a sequence number at or after `head` has no record (the
/// ledger ends there), on an error, or when told to.
struct Lane<'a> {
    store: &'a Store,
    preparer: &'a EntryPreparer,
    head: u64,
    lane: u64,
    lanes: u64,
    tx: SyncSender<Read>,
    /// Buffers handed back once checked, to be reused.
    back: Receiver<Span>,
    stop: &'a AtomicBool,
}

impl Lane<'_> {
    fn run(self) {
        let mut batch = self.lane;
        while !self.stop.load(Ordering::Relaxed) {
            let Some(from) = batch.checked_mul(READ_BATCH as u64) else {
                return;
            };
            let to = from.saturating_add(READ_BATCH as u64);
            let mut span = self
                .back
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(READ_BATCH));
            let read = prepare_span(self.store, self.preparer, from, to, &mut span);
            let last = match &read {
                Ok(()) => {
                    let past = from.max(self.head);
                    let held = span.iter().filter(|(seq, _)| *seq >= past).count();
                    past < to && (held as u64) < to - past
                }
                Err(_) => true,
            };
            if self.tx.send(read.map(|()| span)).is_err() || last || to == from {
                return;
            }
            batch = batch.saturating_add(self.lanes);
        }
    }
}

/// Feeds `verifier` the batches the lanes read, in order, until the ledger
/// ends or the verdict is settled. Says whether any record was found.
fn check_in_order(
    verifier: &mut ChainVerifier,
    lanes: &[(Receiver<Read>, SyncSender<Span>)],
    head: u64,
) -> Result<bool, LedgerError> {
    let mut found_any = false;
    let mut first = 0u64;
    for (rx, back) in lanes.iter().cycle() {
        if verifier.is_settled() {
            break;
        }
        let Ok(span) = rx.recv() else {
            break;
        };
        let span = span?;
        let end = first.saturating_add(READ_BATCH as u64);
        // The next sequence number expected. One with no record at or
        // after the head ends the ledger; one before it is left to the
        // verifier to name (the next entry comes out of its place).
        let mut next = first;
        let mut ended = false;
        let mut records = span.iter().peekable();
        while !verifier.is_settled() {
            // The entries up to the next damaged record or the end.
            let run = std::iter::from_fn(|| match records.peek() {
                Some((seq, Ready::Entry(e))) if next.max(head) >= *seq => {
                    next = seq.saturating_add(1);
                    found_any = true;
                    records.next();
                    Some(e)
                }
                _ => None,
            });
            verifier.push_prepared(run);
            match records.next() {
                None => break,
                Some((seq, _)) if next.max(head) < *seq => {
                    ended = true;
                    break;
                }
                Some((seq, ready)) => {
                    next = seq.saturating_add(1);
                    found_any = true;
                    match ready {
                        Ready::Entry(e) => verifier.push_prepared([e]),
                        Ready::Damaged => verifier.push_malformed(*seq),
                    }
                }
            }
        }
        if ended || next.max(head) < end || end == first {
            break;
        }
        // The lane may be done already: then the buffer is not needed.
        let _ = back.send(span);
        first = end;
    }
    Ok(found_any)
}

/// Verifies the ledger held in `store` for the node `node_peer_id`: the
/// head checkpoint's signature, then the whole chain against it (see
/// [`ChainVerifier`]). `Ok(None)`: the store holds no ledger yet.
///
/// Integrity failures are [`LedgerError::Broken`], naming the first bad
/// entry; other errors are the store's.
pub fn verify_store(
    store: &Store,
    node_peer_id: &[u8],
    signatures: SignatureCheck,
) -> Result<Option<ChainSummary>, LedgerError> {
    let checkpoint = verified_checkpoint(store, node_peer_id)?;
    let head = checkpoint.as_ref().map_or(0, |cp| cp.seq);
    let mut verifier = ChainVerifier::new(
        node_peer_id,
        checkpoint.as_ref().map(|cp| (cp.seq, cp.hash)),
        signatures,
    )?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let preparer = verifier.preparer();
    let stop = AtomicBool::new(false);
    let found_any = std::thread::scope(|scope| {
        let lanes: Vec<_> = (0..threads)
            .map(|lane| {
                let (tx, rx) = sync_channel(READ_AHEAD);
                let (back_tx, back) = sync_channel(READ_AHEAD + 1);
                let lane = Lane {
                    store,
                    preparer: &preparer,
                    head,
                    lane: lane as u64,
                    lanes: threads as u64,
                    tx,
                    back,
                    stop: &stop,
                };
                scope.spawn(move || lane.run());
                (rx, back_tx)
            })
            .collect();
        let found = check_in_order(&mut verifier, &lanes, head);
        // Lanes waiting to hand over a batch see it refused and stop.
        stop.store(true, Ordering::Relaxed);
        drop(lanes);
        found
    })?;
    if !found_any && checkpoint.is_none() {
        return Ok(None);
    }
    let summary = verifier.finish()?;
    // The genesis entry is flushed with its checkpoint; any later entry
    // without one means the checkpoint was removed.
    if checkpoint.is_none() && summary.head_seq > 0 {
        return Err(ChainError::MissingCheckpoint.into());
    }
    Ok(Some(summary))
}
