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
//! Verification reads entries in key order, a range at a time on each
//! core, rather than looking each one up; each core opens, decodes, hashes
//! (and checks the signature of) the entries it reads, into buffers reused
//! from one record to the next, and hands over only what the checks in
//! order need ([`PreparedEntry`]). Homes made before entries were
//! stored raw hold them as hex in a JSON string; they are read as well.
//!
//! A record that does not open (a changed byte in the sealed bytes fails
//! AES-GCM authentication), or opens to something that is not an entry,
//! is a damaged entry: reported as [`ChainError::Malformed`], never a
//! panic.

use confrere_protocol::ledger::{
    ChainError, ChainSummary, ChainVerifier, HeadCheckpoint, LedgerEntry, PreparedEntry,
    SignatureCheck,
};

use super::error::LedgerError;
use crate::store::{Store, StoreError, Tree};

/// Key of the head checkpoint in [`Tree::Meta`].
pub const HEAD_KEY: &[u8] = b"ledger-head";

/// Entries read from the store per verification batch.
const READ_BATCH: usize = 32_768;

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
    verifier: &ChainVerifier,
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
                Ok(bytes) => verifier
                    .prepare(bytes)
                    .ok()
                    .or_else(|| legacy_hex(bytes).and_then(|raw| verifier.prepare(&raw).ok()))
                    .map_or(Ready::Damaged, Ready::Entry),
                Err(e) if is_damage(&e) => Ready::Damaged,
                Err(e) => return Err(LedgerError::Store(e)),
            };
            out.push((seq, ready));
            Ok(())
        },
    )
}

/// [`prepare_span`] over `first .. end`, spread over as many threads as
/// `spans` holds buffers, into them, in order.
fn prepare_range(
    store: &Store,
    verifier: &ChainVerifier,
    first: u64,
    end: u64,
    spans: &mut [Span],
) -> Result<(), LedgerError> {
    let per = (end - first).div_ceil(spans.len().max(1) as u64).max(1);
    let range = |i: usize| {
        let from = first.saturating_add(per.saturating_mul(i as u64)).min(end);
        (from, from.saturating_add(per).min(end))
    };
    let Some((mine, others)) = spans.split_first_mut() else {
        return Ok(());
    };
    std::thread::scope(|scope| {
        let spawned: Vec<_> = others
            .iter_mut()
            .enumerate()
            .map(|(i, out)| {
                let (from, to) = range(i + 1);
                scope.spawn(move || prepare_span(store, verifier, from, to, out))
            })
            .collect();
        let (from, to) = range(0);
        let result = prepare_span(store, verifier, from, to, mine);
        for part in spawned {
            match part.join() {
                Ok(done) => done?,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        result
    })
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
    let per_thread = READ_BATCH.div_ceil(threads);
    let mut spans: Vec<Span> = (0..threads)
        .map(|_| Vec::with_capacity(per_thread))
        .collect();
    let mut found_any = false;
    let mut first = 0u64;
    while !verifier.is_settled() {
        let end = first.saturating_add(READ_BATCH as u64);
        prepare_range(store, &verifier, first, end, &mut spans)?;
        // The next sequence number expected. One with no record at or
        // after the head ends the ledger; one before it is left to the
        // verifier to name (the next entry comes out of its place).
        let mut next = first;
        let mut ended = false;
        let mut records = spans.iter().flatten().peekable();
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
        first = end;
    }
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
