//! Unfinished inbound transfers: what the node holds under a dossier id,
//! the quota a new transfer is checked against (the protocol's
//! [`quota`](confrere_protocol::transfer::quota) decides), the transfers
//! under way, the periodic sweep that erases expired ones, and the summary
//! `status` shows.
//!
//! A transfer under way is marked for as long as its session takes it; the
//! sweep never erases a marked one, and an offer for a transfer being
//! erased is told to come back later. The marks live in this process only
//! (a restart ends every session).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use confrere_protocol::custody::Held;
use confrere_protocol::dossier::{DossierId, DossierKey};
use confrere_protocol::transfer::quota::{
    admit_transfer, announced_bytes, is_expired, Unfinished, UnfinishedLimits,
};
use confrere_protocol::transfer::RefuseReason;
use confrere_protocol::UnixTime;

use super::common::{now, rfc3339};
use super::engine::Engine;
use super::records::{InboxRecord, TransferRecord};
use crate::store::{Store, StoreError, Tree};

/// How often the node looks for expired unfinished transfers (and once at
/// start).
pub(crate) const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

/// The limits on unfinished inbound transfers in force: `[transfers]` of
/// the home's configuration (the protocol's defaults where unset).
pub(crate) fn limits(engine: &Engine) -> UnfinishedLimits {
    engine.home.config.transfers.limits()
}

/// What the node holds under dossier id `id`, from its records.
pub(crate) fn held(store: &Store, id: &DossierId) -> Result<Held, StoreError> {
    if store.contains(Tree::Outbox, id.as_bytes())? {
        return Ok(Held::Outbox);
    }
    if let Some(r) = store.get::<InboxRecord>(Tree::Inbox, id.as_bytes())? {
        return Ok(Held::Received { from: r.from });
    }
    if let Some(t) = store.get::<TransferRecord>(Tree::Transfers, id.as_bytes())? {
        return Ok(Held::Unfinished {
            from: t.from,
            chunk_count: t.chunk_count,
        });
    }
    Ok(Held::Nothing)
}

enum Mark {
    /// Taken by this many sessions.
    Receiving(usize),
    /// Being erased by the sweep.
    Erasing,
}

fn marks() -> MutexGuard<'static, HashMap<[u8; 16], Mark>> {
    static MARKS: OnceLock<Mutex<HashMap<[u8; 16], Mark>>> = OnceLock::new();
    MARKS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// A transfer under way; unmarked when dropped.
#[must_use]
pub(super) struct UnderWay([u8; 16]);

impl Drop for UnderWay {
    fn drop(&mut self) {
        let mut marks = marks();
        if let Some(Mark::Receiving(n)) = marks.get_mut(&self.0) {
            *n -= 1;
            if *n == 0 {
                marks.remove(&self.0);
            }
        }
    }
}

/// Why a transfer may not be taken now: the reason for the sender, the
/// reason for the log.
pub(super) struct NotNow(pub RefuseReason, pub String);

fn busy() -> NotNow {
    NotNow(
        RefuseReason::Busy,
        "the unfinished transfer of this dossier is being erased or taken by another session"
            .into(),
    )
}

fn stored(e: StoreError) -> NotNow {
    let reason = if e.is_no_space() {
        RefuseReason::NoSpace
    } else {
        RefuseReason::Busy
    };
    NotNow(reason, e.to_string())
}

/// Resumes the unfinished transfer of `id` (already recorded).
pub(super) fn resume(id: &DossierId) -> Result<UnderWay, NotNow> {
    let mut marks = marks();
    match marks.get_mut(id.as_bytes()) {
        Some(Mark::Erasing) => Err(busy()),
        Some(Mark::Receiving(n)) => {
            *n += 1;
            Ok(UnderWay(*id.as_bytes()))
        }
        None => {
            marks.insert(*id.as_bytes(), Mark::Receiving(1));
            Ok(UnderWay(*id.as_bytes()))
        }
    }
}

/// Starts a new transfer of `id` from `from`, if the sender's quota allows
/// it: stores the wrapped key and the transfer record.
pub(super) fn start(
    engine: &Engine,
    id: &DossierId,
    from: &str,
    key: &DossierKey,
    chunk_count: u64,
    content_len: u64,
) -> Result<UnderWay, NotNow> {
    // Held for the check and the records, so that two offers cannot both
    // pass the quota.
    let mut marks = marks();
    // Taken meanwhile by another session: not started over it.
    if marks.contains_key(id.as_bytes())
        || held(&engine.store, id).map_err(stored)? != Held::Nothing
    {
        return Err(busy());
    }
    let records: Vec<TransferRecord> = engine
        .store
        .scan::<TransferRecord>(Tree::Transfers)
        .map_err(stored)?
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let at = now();
    admit_transfer(
        from,
        chunk_count,
        records.iter().map(unfinished),
        at,
        &limits(engine),
    )
    .map_err(|e| NotNow(RefuseReason::OverQuota, format!("offer refused: {e}")))?;
    let t = TransferRecord {
        id: id.to_string(),
        from: from.to_owned(),
        chunk_count,
        content_len,
        started_at: at.as_secs(),
    };
    let wrapped = engine
        .wrap_key(id, key)
        .map_err(|e| NotNow(RefuseReason::Busy, e.to_string()))?;
    engine
        .store
        .put_wrapped_key(id.as_bytes(), &wrapped)
        .and_then(|()| engine.store.put(Tree::Transfers, id.as_bytes(), &t))
        .map_err(stored)?;
    marks.insert(*id.as_bytes(), Mark::Receiving(1));
    Ok(UnderWay(*id.as_bytes()))
}

fn unfinished(t: &TransferRecord) -> Unfinished<'_> {
    Unfinished {
        from: &t.from,
        chunk_count: t.chunk_count,
        started_at: UnixTime::from_secs(t.started_at),
    }
}

/// An unfinished transfer the sweep erased.
#[derive(Debug)]
pub(super) struct Expired {
    /// The dossier.
    pub id: DossierId,
    /// The sender's national id.
    pub from: String,
    /// Chunk bytes it held.
    pub bytes: u64,
    /// When it started (Unix seconds).
    pub started_at: i64,
}

/// Erases every unfinished transfer expired at `at` and not under way: its
/// key first (crypto-shredding), then its chunks, then its record.
pub(super) fn sweep_expired(
    store: &Store,
    at: UnixTime,
    limits: &UnfinishedLimits,
) -> Result<Vec<Expired>, StoreError> {
    let mut erased = Vec::new();
    for (_, t) in store.scan::<TransferRecord>(Tree::Transfers)? {
        if !is_expired(UnixTime::from_secs(t.started_at), at, limits) {
            continue;
        }
        let Ok(id) = DossierId::parse_hex(&t.id) else {
            continue;
        };
        {
            let mut marks = marks();
            if marks.contains_key(id.as_bytes()) {
                continue;
            }
            marks.insert(*id.as_bytes(), Mark::Erasing);
        }
        let result = (|| {
            let bytes = store.chunk_bytes(id.as_bytes())?;
            store.destroy_key(id.as_bytes())?;
            store.remove_chunks(id.as_bytes())?;
            store.remove(Tree::Transfers, id.as_bytes())?;
            Ok(bytes)
        })();
        marks().remove(id.as_bytes());
        erased.push(Expired {
            id,
            from: t.from,
            bytes: result?,
            started_at: t.started_at,
        });
    }
    if !erased.is_empty() {
        store.flush()?;
    }
    Ok(erased)
}

/// Sweeps expired unfinished transfers at start and every
/// [`SWEEP_INTERVAL`]; each erasure is logged (dossier id, sender, size:
/// no patient data, which an unfinished transfer may not even have shown).
pub(crate) async fn sweep_worker(engine: Arc<Engine>) {
    loop {
        let store = engine.store.clone();
        let limits = limits(&engine);
        let swept =
            tokio::task::spawn_blocking(move || sweep_expired(&store, now(), &limits)).await;
        match swept {
            Ok(Ok(expired)) => {
                for e in expired {
                    tracing::info!(
                        dossier = %e.id.to_string().get(..8).unwrap_or(""),
                        from = %e.from,
                        bytes = e.bytes,
                        started_at = %rfc3339(e.started_at),
                        "an unfinished inbound transfer expired: its key and chunks were destroyed"
                    );
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot erase expired unfinished transfers; trying again later")
            }
            Err(e) => tracing::warn!(error = %e, "the sweep of unfinished transfers failed"),
        }
        if engine.is_stopping() {
            return;
        }
        tokio::time::sleep(SWEEP_INTERVAL).await;
    }
}

/// Inbound transfers begun and not finished, at a glance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnfinishedSummary {
    /// How many.
    pub count: usize,
    /// Bytes of chunks they hold so far.
    pub bytes: u64,
    /// Sealed bytes their offers announced (what they may grow to).
    pub announced_bytes: u64,
    /// When the oldest started (Unix seconds); none without transfers.
    pub oldest_started_at: Option<i64>,
}

/// The unfinished inbound transfers at a glance.
pub(crate) fn summary(store: &Store) -> Result<UnfinishedSummary, StoreError> {
    let mut s = UnfinishedSummary::default();
    let mut oldest: Option<i64> = None;
    for (_, t) in store.scan::<TransferRecord>(Tree::Transfers)? {
        s.count += 1;
        s.announced_bytes = s
            .announced_bytes
            .saturating_add(announced_bytes(t.chunk_count));
        if let Ok(id) = DossierId::parse_hex(&t.id) {
            s.bytes = s
                .bytes
                .saturating_add(store.chunk_bytes(id.as_bytes()).unwrap_or(0));
        }
        oldest = Some(oldest.map_or(t.started_at, |o| o.min(t.started_at)));
    }
    s.oldest_started_at = oldest;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreKeySource;

    const DAY: i64 = 24 * 3600;

    fn record(store: &Store, id: DossierId, started_at: i64) {
        let t = TransferRecord {
            id: id.to_string(),
            from: "810001000040".into(),
            chunk_count: 3,
            content_len: 150_000,
            started_at,
        };
        store.put_wrapped_key(id.as_bytes(), &[7; 60]).expect("key");
        store
            .put_chunk(id.as_bytes(), 0, &[9; 1000])
            .expect("chunk");
        store
            .put(Tree::Transfers, id.as_bytes(), &t)
            .expect("record");
    }

    #[test]
    fn the_sweep_erases_expired_transfers_only_and_spares_those_under_way() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open(home.path(), StoreKeySource::KeyFile).expect("open");
        let old = DossierId([0xa1; 16]);
        let busy = DossierId([0xa2; 16]);
        let young = DossierId([0xa3; 16]);
        let start = 1_700_000_000;
        record(&store, old, start);
        record(&store, busy, start);
        record(&store, young, start + 6 * DAY);
        let before = summary(&store).expect("summary");
        assert_eq!(before.count, 3);
        assert!(before.bytes >= 3000, "{before:?}");
        assert_eq!(before.oldest_started_at, Some(start));

        let under_way = resume(&busy).ok().expect("mark");
        let limits = UnfinishedLimits::default();
        let at = UnixTime::from_secs(start + 7 * DAY);
        let erased = sweep_expired(&store, at, &limits).expect("sweep");
        assert_eq!(erased.len(), 1);
        assert_eq!(erased[0].id, old);
        assert_eq!(erased[0].from, "810001000040");
        assert!(store
            .get_wrapped_key(old.as_bytes())
            .expect("get")
            .is_none());
        assert_eq!(store.chunk_bytes(old.as_bytes()).expect("len"), 0);
        assert!(!store
            .contains(Tree::Transfers, old.as_bytes())
            .expect("contains"));
        for kept in [busy, young] {
            assert!(store
                .get_wrapped_key(kept.as_bytes())
                .expect("get")
                .is_some());
            assert!(store.chunk_bytes(kept.as_bytes()).expect("len") > 0);
        }

        // Once its session ends, the expired transfer goes at the next sweep.
        drop(under_way);
        let erased = sweep_expired(&store, at, &limits).expect("sweep");
        assert_eq!(erased.len(), 1);
        assert_eq!(erased[0].id, busy);
        let after = summary(&store).expect("summary");
        assert_eq!(after.count, 1);
        assert_eq!(after.oldest_started_at, Some(start + 6 * DAY));
    }

    #[test]
    fn an_offer_for_a_transfer_being_erased_is_told_to_come_back() {
        let id = DossierId([0xb1; 16]);
        marks().insert(*id.as_bytes(), Mark::Erasing);
        assert!(matches!(resume(&id), Err(NotNow(RefuseReason::Busy, _))));
        marks().remove(id.as_bytes());
        let a = resume(&id).ok().expect("first");
        let b = resume(&id).ok().expect("second");
        drop(a);
        assert!(marks().contains_key(id.as_bytes()));
        drop(b);
        assert!(!marks().contains_key(id.as_bytes()));
    }
}
