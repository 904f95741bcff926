//! Damaging encoded messages, for the tests that decode damaged input
//! (it must never panic) and that tamper with signed messages (they must
//! be refused).

#![allow(
    dead_code,
    reason = "shared by several test files, each of which uses only part of it"
)]

use proptest::sample::Index;

/// Byte edits as proptest draws them: a position and the new byte.
pub(crate) type Edits = Vec<(Index, u8)>;

/// Overwrites one byte of `bytes` at each position of `edits`.
pub(crate) fn overwrite(bytes: &mut [u8], edits: &Edits) {
    if bytes.is_empty() {
        return;
    }
    for (i, b) in edits {
        let i = i.index(bytes.len());
        bytes[i] = *b;
    }
}

/// `bytes` overwritten at `edits`, then cut at `cut` when there is one.
pub(crate) fn damaged(bytes: &[u8], edits: &Edits, cut: Option<Index>) -> Vec<u8> {
    let mut out = bytes.to_vec();
    overwrite(&mut out, edits);
    if let Some(cut) = cut {
        out.truncate(cut.index(out.len() + 1));
    }
    out
}
