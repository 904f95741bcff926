//! The value held under a directory key: the records of a practitioner's
//! nodes, together.
//!
//! A Kademlia node holds one value per key, and a practitioner may run
//! several nodes, so the value is a set of records: each node puts a set
//! holding its own record; a node storing or receiving a set verifies each
//! record, merges them into what it holds ([`merge_record`](super::merge_record))
//! and serves its merged set.
//!
//! ```text
//! set = count:u8 (0..=8) | record:bytes16 (≤ 16384) × count
//! ```

use super::{verify_record, DirectoryError, VerifiedRecord, MAX_RECORDS_PER_ID, MAX_RECORD_LEN};
use crate::codec::{DecodeError, Reader, Writer};
use crate::verify::{TrustStore, VerifyOptions};

/// Largest encoded set: [`MAX_RECORDS_PER_ID`] records of at most
/// [`MAX_RECORD_LEN`] bytes (128 KiB and 17 bytes). Checked before anything
/// is decoded.
pub const MAX_SET_LEN: usize = 1 + MAX_RECORDS_PER_ID * (2 + MAX_RECORD_LEN);

/// What a set held: the records that verified, and why the others did not.
#[derive(Clone, Debug)]
pub struct VerifiedSet {
    /// The records that verified, in the set's order.
    pub records: Vec<VerifiedRecord>,
    /// Why each of the other records was refused.
    pub refused: Vec<DirectoryError>,
}

/// The set of these records, at most [`MAX_RECORDS_PER_ID`] of them (any
/// more are left out). Each was verified, so each fits its length prefix.
pub fn encode_record_set(records: &[VerifiedRecord]) -> Vec<u8> {
    let records = &records[..records.len().min(MAX_RECORDS_PER_ID)];
    let mut w = Writer::new();
    w.u8(u8::try_from(records.len()).unwrap_or(u8::MAX));
    for r in records {
        w.bytes16(r.encoded());
    }
    w.finish()
}

/// The records of a set, undecoded. The set's own framing is checked
/// (size, count, lengths, no trailing bytes); the records are not.
pub fn decode_record_set(bytes: &[u8]) -> Result<Vec<&[u8]>, DirectoryError> {
    if bytes.len() > MAX_SET_LEN {
        return Err(DirectoryError::TooLarge { len: bytes.len() });
    }
    let mut r = Reader::new(bytes);
    let count = usize::from(r.u8()?);
    if count > MAX_RECORDS_PER_ID {
        return Err(DecodeError::Invalid("record count").into());
    }
    let mut records = Vec::with_capacity(count);
    for _ in 0..count {
        records.push(r.bytes16(MAX_RECORD_LEN)?);
    }
    r.finish()?;
    Ok(records)
}

/// Verifies each record of a set found (or to be stored) under `key`, with
/// [`verify_record`]. `Err` only when the set itself is malformed; a set
/// whose records are all refused is `Ok` with none verified (a record
/// that expired on its way is not the sender's fault).
pub fn verify_record_set(
    bytes: &[u8],
    key: &[u8],
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> Result<VerifiedSet, DirectoryError> {
    let mut set = VerifiedSet {
        records: Vec::new(),
        refused: Vec::new(),
    };
    for record in decode_record_set(bytes)? {
        match verify_record(record, key, trust, opts) {
            Ok(v) => set.records.push(v),
            Err(e) => set.refused.push(e),
        }
    }
    Ok(set)
}
