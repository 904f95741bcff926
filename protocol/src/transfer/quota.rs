//! Limits on unfinished inbound transfers: how much one sender may leave
//! unfinished on a node, and when an unfinished transfer expires.
//!
//! An offer makes the recipient keep the dossier key and then every chunk
//! that arrives, until the last one. Without limits one card holder could
//! offer many large dossiers, send all chunks but the last, and fill the
//! recipient's disk. So:
//!
//! - a sender may have at most [`MAX_UNFINISHED_PER_SENDER`] unfinished
//!   transfers at once on a node;
//! - their announced sealed bytes, the new offer's included, may reach at
//!   most [`MAX_UNFINISHED_BYTES_PER_SENDER`]; a dossier larger than that
//!   (up to the node's largest dossier) is taken only as the sender's one
//!   unfinished transfer;
//! - an unfinished transfer expires [`UNFINISHED_MAX_AGE_SECS`] after it
//!   started: the node destroys its key and chunks.
//!
//! An offer over these limits is refused with
//! [`RefuseReason::OverQuota`](super::RefuseReason::OverQuota), a
//! temporary reason: the sender offers it again later. A transfer that
//! resumes is not a new one and is not checked again.

use crate::dossier::SEALED_CHUNK_LEN;
use crate::time::UnixTime;

/// Most unfinished inbound transfers one sender may have on a node at once.
pub const MAX_UNFINISHED_PER_SENDER: usize = 4;

/// Most sealed bytes one sender's unfinished inbound transfers may announce
/// together (16 GiB), unless a single one announces more.
pub const MAX_UNFINISHED_BYTES_PER_SENDER: u64 = 16 * 1024 * 1024 * 1024;

/// Age at which an unfinished inbound transfer expires (7 days).
pub const UNFINISHED_MAX_AGE_SECS: i64 = 7 * 24 * 3600;

/// The limits on unfinished inbound transfers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnfinishedLimits {
    /// Most unfinished transfers per sender.
    pub max_per_sender: usize,
    /// Most announced sealed bytes per sender.
    pub max_bytes_per_sender: u64,
    /// Age (seconds) at which an unfinished transfer expires.
    pub max_age_secs: i64,
}

impl Default for UnfinishedLimits {
    fn default() -> Self {
        UnfinishedLimits {
            max_per_sender: MAX_UNFINISHED_PER_SENDER,
            max_bytes_per_sender: MAX_UNFINISHED_BYTES_PER_SENDER,
            max_age_secs: UNFINISHED_MAX_AGE_SECS,
        }
    }
}

/// One unfinished inbound transfer, as the recipient recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unfinished<'a> {
    /// The sender's national id, as its session verified it.
    pub from: &'a str,
    /// The chunks its offer announced.
    pub chunk_count: u64,
    /// When its offer was first taken.
    pub started_at: UnixTime,
}

/// The sealed bytes an offer of `chunk_count` chunks may store (every
/// chunk counted full).
pub fn announced_bytes(chunk_count: u64) -> u64 {
    chunk_count.saturating_mul(SEALED_CHUNK_LEN as u64)
}

/// Whether an unfinished transfer that started at `started_at` has expired
/// at `now`.
pub fn is_expired(started_at: UnixTime, now: UnixTime, limits: &UnfinishedLimits) -> bool {
    now.as_secs().saturating_sub(started_at.as_secs()) >= limits.max_age_secs
}

/// Why a new transfer is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuotaError {
    /// The sender has as many unfinished transfers as allowed.
    #[error("{held} unfinished transfers from this practitioner already (at most {max})")]
    TooManyTransfers {
        /// Its unfinished transfers.
        held: usize,
        /// The limit.
        max: usize,
    },
    /// The sender's unfinished transfers, this one included, would
    /// announce more bytes than allowed.
    #[error(
        "unfinished transfers from this practitioner would hold {total} bytes (at most {max})"
    )]
    TooManyBytes {
        /// Announced bytes with this offer.
        total: u64,
        /// The limit.
        max: u64,
    },
}

/// Whether a new transfer of `chunk_count` chunks from `sender` may start,
/// given the node's unfinished transfers `held` (from every sender; the
/// expired ones are not counted) at `now`.
pub fn admit_transfer<'a>(
    sender: &str,
    chunk_count: u64,
    held: impl IntoIterator<Item = Unfinished<'a>>,
    now: UnixTime,
    limits: &UnfinishedLimits,
) -> Result<(), QuotaError> {
    let (count, bytes) = held
        .into_iter()
        .filter(|u| u.from == sender && !is_expired(u.started_at, now, limits))
        .fold((0usize, 0u64), |(n, b), u| {
            (n + 1, b.saturating_add(announced_bytes(u.chunk_count)))
        });
    if count >= limits.max_per_sender {
        return Err(QuotaError::TooManyTransfers {
            held: count,
            max: limits.max_per_sender,
        });
    }
    let total = bytes.saturating_add(announced_bytes(chunk_count));
    // Alone, a dossier of any size the node accepts may come.
    if count > 0 && total > limits.max_bytes_per_sender {
        return Err(QuotaError::TooManyBytes {
            total,
            max: limits.max_bytes_per_sender,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "810001000016";
    const C: &str = "810001000040";
    const GIB_CHUNKS: u64 = (1 << 30) / SEALED_CHUNK_LEN as u64;

    fn t(secs: i64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    fn u(from: &str, chunk_count: u64, started_at: i64) -> Unfinished<'_> {
        Unfinished {
            from,
            chunk_count,
            started_at: t(started_at),
        }
    }

    #[test]
    fn defaults_are_the_constants() {
        let l = UnfinishedLimits::default();
        assert_eq!(l.max_per_sender, 4);
        assert_eq!(l.max_bytes_per_sender, 16 << 30);
        assert_eq!(l.max_age_secs, 604_800);
    }

    #[test]
    fn a_first_transfer_is_admitted_whatever_its_size() {
        let l = UnfinishedLimits::default();
        assert_eq!(admit_transfer(C, 60 * GIB_CHUNKS, [], t(0), &l), Ok(()));
    }

    #[test]
    fn transfers_past_the_count_are_refused() {
        let l = UnfinishedLimits::default();
        let held = [u(C, 1, 0), u(C, 1, 0), u(C, 1, 0), u(C, 1, 0)];
        assert_eq!(
            admit_transfer(C, 1, held, t(10), &l),
            Err(QuotaError::TooManyTransfers { held: 4, max: 4 })
        );
        assert_eq!(
            admit_transfer(C, 1, held[..3].iter().copied(), t(10), &l),
            Ok(())
        );
    }

    #[test]
    fn bytes_past_the_quota_are_refused() {
        let l = UnfinishedLimits::default();
        let held = [u(C, 10 * GIB_CHUNKS, 0)];
        assert!(matches!(
            admit_transfer(C, 10 * GIB_CHUNKS, held, t(10), &l),
            Err(QuotaError::TooManyBytes { max, .. }) if max == 16 << 30
        ));
        assert_eq!(admit_transfer(C, 5 * GIB_CHUNKS, held, t(10), &l), Ok(()));
    }

    #[test]
    fn other_senders_do_not_count() {
        let l = UnfinishedLimits::default();
        let held = [u(A, 10 * GIB_CHUNKS, 0), u(A, 1, 0), u(A, 1, 0), u(A, 1, 0)];
        assert_eq!(admit_transfer(C, 10 * GIB_CHUNKS, held, t(10), &l), Ok(()));
    }

    #[test]
    fn expired_transfers_do_not_count() {
        let l = UnfinishedLimits::default();
        let held = [u(C, 1, 0), u(C, 1, 0), u(C, 1, 0), u(C, 1, 0)];
        assert_eq!(
            admit_transfer(C, 1, held, t(UNFINISHED_MAX_AGE_SECS), &l),
            Ok(())
        );
    }

    #[test]
    fn a_transfer_expires_at_its_age_limit() {
        let l = UnfinishedLimits::default();
        assert!(!is_expired(
            t(100),
            t(100 + UNFINISHED_MAX_AGE_SECS - 1),
            &l
        ));
        assert!(is_expired(t(100), t(100 + UNFINISHED_MAX_AGE_SECS), &l));
        // A start in the future (the clock went back) is not expired.
        assert!(!is_expired(t(1000), t(0), &l));
    }

    #[test]
    fn announced_bytes_saturate() {
        assert_eq!(announced_bytes(2), 2 * SEALED_CHUNK_LEN as u64);
        assert_eq!(announced_bytes(u64::MAX), u64::MAX);
    }
}
