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
//! core, rather than looking each one up. Homes made before entries were
//! stored raw hold them as hex in a JSON string; they are read as well.
//!
//! A record that does not open (a changed byte in the sealed bytes fails
//! AES-GCM authentication), or opens to something that is not an entry,
//! is a damaged entry: reported as [`ChainError::Malformed`], never a
//! panic.

use confrere_protocol::ledger::{
    ChainError, ChainSummary, ChainVerifier, HeadCheckpoint, LedgerEntry, SignatureCheck,
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

/// Reads entries `from .. to` in key order; a sequence number with no
/// record is [`Slot::Missing`].
fn read_span(store: &Store, from: u64, to: u64) -> Result<Vec<Slot>, LedgerError> {
    let records = store.range_bytes(Tree::Ledger, &entry_key(from), &entry_key(to))?;
    let mut out = Vec::with_capacity(usize::try_from(to - from).unwrap_or(0));
    let mut next = from;
    for (key, opened) in records {
        let seq = key
            .as_slice()
            .try_into()
            .map(u64::from_be_bytes)
            .unwrap_or(u64::MAX);
        if seq < next || seq >= to {
            continue;
        }
        while next < seq {
            out.push(Slot::Missing);
            next += 1;
        }
        out.push(slot_of(opened)?);
        next += 1;
    }
    while next < to {
        out.push(Slot::Missing);
        next += 1;
    }
    Ok(out)
}

/// Reads entries `first .. first + count` (fewer at the end of the
/// sequence numbers), spread over `threads` threads.
fn read_range(
    store: &Store,
    first: u64,
    count: u64,
    threads: usize,
) -> Result<Vec<Slot>, LedgerError> {
    let end = first.saturating_add(count);
    if threads <= 1 {
        return read_span(store, first, end);
    }
    let per = (end - first).div_ceil(threads as u64).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = (first..end)
            .step_by(usize::try_from(per).unwrap_or(usize::MAX))
            .map(|from| {
                let to = from.saturating_add(per).min(end);
                scope.spawn(move || read_span(store, from, to))
            })
            .collect();
        let mut out = Vec::with_capacity(usize::try_from(end - first).unwrap_or(0));
        for part in parts {
            match part.join() {
                Ok(slots) => out.extend(slots?),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(out)
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
    let mut batch: Vec<LedgerEntry> = Vec::with_capacity(READ_BATCH);
    let mut found_any = false;
    let mut first = 0u64;
    'reading: while !verifier.is_settled() {
        let slots = read_range(store, first, READ_BATCH as u64, threads)?;
        for (seq, slot) in (first..).zip(slots) {
            match slot {
                Slot::Entry(e) => {
                    found_any = true;
                    batch.push(*e);
                }
                Slot::Missing if seq >= head => {
                    verifier.push(&batch);
                    break 'reading;
                }
                Slot::Missing => {}
                Slot::Damaged => {
                    found_any = true;
                    verifier.push(&batch);
                    batch.clear();
                    verifier.push_malformed(seq);
                }
            }
        }
        verifier.push(&batch);
        batch.clear();
        match first.checked_add(READ_BATCH as u64) {
            Some(next) => first = next,
            None => break,
        }
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
