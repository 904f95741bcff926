//! The outbox's bookkeeping: which items are due, and checked changes of
//! their records.
//!
//! **Due items.** An index in memory holds, for every item still to be
//! delivered, its recipient and when it is next tried. It is built once
//! when the daemon starts (the only time every outbox record is
//! decrypted) and kept up to date by every change made through
//! [`Outbox`]; the worker takes from it the items that are due, and
//! decrypts only those. The index is a hint: the stored record says what
//! an item is, and an item whose record is gone or final is dropped from
//! the index when it comes up.
//!
//! **Checked changes.** An item is claimed before a delivery starts: its
//! record is read again from the store, under the index's lock, and the
//! claim is refused if it is final (delivered or failed) or already being
//! delivered. Every record a delivery writes is checked the same way: it
//! replaces the stored one only if that is not final and is still the one
//! of the same attempt. A delivered item therefore never changes state
//! again, whatever a stale copy of its record says.
//!
//! **Colleagues seen again.** An attempt that could not reach the
//! recipient marks the item as waiting for it; when a session with that
//! colleague is verified (or its node is found again), such items become
//! due at once instead of waiting out their backoff.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

use confrere_protocol::dossier::DossierId;

use super::records::{OutboxRecord, OutboxState};
use crate::store::{Store, StoreError, Tree};

type Id = [u8; 16];

/// An item still to be delivered, as the index knows it.
#[derive(Debug, Clone)]
struct Pending {
    /// Recipient's national id.
    to: String,
    /// Not tried before this instant (Unix seconds).
    next_attempt: i64,
    /// The last attempt could not reach the recipient.
    waiting_for_peer: bool,
    /// The recipient was seen while an attempt was under way: if that
    /// attempt cannot reach it, the item is tried again at once.
    seen_while_running: bool,
}

#[derive(Debug, Default)]
struct Index {
    /// `(next_attempt, id)` of every pending item.
    by_time: BTreeSet<(i64, Id)>,
    items: HashMap<Id, Pending>,
    /// Items a delivery holds.
    running: HashSet<Id>,
}

impl Index {
    fn insert(&mut self, id: Id, pending: Pending) {
        self.remove(&id);
        self.by_time.insert((pending.next_attempt, id));
        self.items.insert(id, pending);
    }

    fn remove(&mut self, id: &Id) -> Option<Pending> {
        let old = self.items.remove(id)?;
        self.by_time.remove(&(old.next_attempt, *id));
        Some(old)
    }

    fn set_next_attempt(&mut self, id: &Id, at: i64) {
        if let Some(mut p) = self.remove(id) {
            p.next_attempt = at;
            p.waiting_for_peer = false;
            p.seen_while_running = false;
            self.insert(*id, p);
        }
    }
}

/// Why a checked write of an outbox record was not made.
#[derive(Debug, thiserror::Error)]
pub(super) enum Refused {
    /// The stored record is final, or belongs to another attempt.
    #[error("the outbox item {0} was settled meanwhile; its record is left as it is")]
    Settled(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The outbox's index of due items and its checked record changes. See
/// the module documentation.
#[derive(Debug)]
pub(super) struct Outbox {
    store: Store,
    index: Mutex<Index>,
}

fn key_of(id: &str) -> Option<Id> {
    DossierId::parse_hex(id).ok().map(|d| *d.as_bytes())
}

fn pending_of(rec: &OutboxRecord) -> Pending {
    Pending {
        to: rec.to.clone(),
        next_attempt: rec.next_attempt,
        waiting_for_peer: false,
        seen_while_running: false,
    }
}

impl Outbox {
    /// Builds the index from the store: every record is read once. Also
    /// returns the ids of the final items, whose sealed copy should be gone.
    pub(super) fn load(store: Store) -> Result<(Outbox, Vec<Id>), StoreError> {
        let mut index = Index::default();
        let mut settled = Vec::new();
        let mut damaged = 0usize;
        store.scan_each::<OutboxRecord>(Tree::Outbox, |key, rec| {
            let (Ok(id), Ok(rec)) = (Id::try_from(key), rec) else {
                damaged += 1;
                return;
            };
            if rec.state.is_final() {
                settled.push(id);
            } else {
                index.insert(id, pending_of(&rec));
            }
        })?;
        if damaged > 0 {
            tracing::warn!(
                count = damaged,
                "outbox records that cannot be read are left out of the queue: the store is damaged; restore the home from its backup"
            );
        }
        Ok((
            Outbox {
                store,
                index: Mutex::new(index),
            },
            settled,
        ))
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores a new item and makes it due.
    pub(super) fn create(&self, rec: &OutboxRecord) -> Result<(), StoreError> {
        let id = key_of(&rec.id)
            .ok_or_else(|| StoreError::Internal("an outbox record without a valid id".into()))?;
        let mut index = self.index();
        self.store.put(Tree::Outbox, &id, rec)?;
        if !rec.state.is_final() {
            index.insert(id, pending_of(rec));
        }
        Ok(())
    }

    /// Claims up to `room` items due at `now` that no delivery holds: each
    /// record is read again from the store, and one that is final or gone
    /// leaves the index. A claimed item's record comes back with one more
    /// attempt counted (and stored), and stays held until
    /// [`release`](Outbox::release).
    pub(super) fn claim_due(&self, now: i64, room: usize) -> Vec<OutboxRecord> {
        let mut index = self.index();
        let mut claimed = Vec::new();
        let candidates: Vec<Id> = index
            .by_time
            .range(..=(now, [0xFF; 16]))
            .map(|(_, id)| *id)
            .filter(|id| !index.running.contains(id))
            .collect();
        for id in candidates {
            if claimed.len() + index.running.len() >= room {
                break;
            }
            let mut rec = match self.store.get::<OutboxRecord>(Tree::Outbox, &id) {
                Ok(Some(rec)) if !rec.state.is_final() => rec,
                Ok(_) => {
                    index.remove(&id);
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read an outbox record");
                    // Not again before a while: the store may recover.
                    index.set_next_attempt(&id, now + 1);
                    continue;
                }
            };
            rec.attempts = rec.attempts.saturating_add(1);
            if let Err(e) = self.store.put(Tree::Outbox, &id, &rec) {
                tracing::warn!(error = %e, "cannot update the outbox");
                index.set_next_attempt(&id, now + 1);
                continue;
            }
            claimed.push(rec);
        }
        for rec in &claimed {
            if let Some(id) = key_of(&rec.id) {
                index.running.insert(id);
                if let Some(p) = index.items.get_mut(&id) {
                    p.seen_while_running = false;
                }
            }
        }
        claimed
    }

    /// Writes the record of a claimed item if the stored one is not final
    /// and is of the same attempt; keeps the index in step. `waiting_for_peer`
    /// says that the attempt could not reach the recipient.
    /// Marks the item `id` failed with `reason` if it is not settled yet,
    /// under the lock deliveries write under: a delivery that finished
    /// first keeps its state. Whether the item was changed.
    pub(super) fn fail_if_open(&self, id: &str, reason: &str) -> Result<bool, StoreError> {
        let key = key_of(id)
            .ok_or_else(|| StoreError::Internal("an outbox record without a valid id".into()))?;
        let mut index = self.index();
        let changed = match self.store.get::<OutboxRecord>(Tree::Outbox, &key)? {
            Some(mut rec) if !rec.state.is_final() => {
                rec.state = OutboxState::Failed;
                rec.last_error = Some(reason.to_owned());
                self.store.put(Tree::Outbox, &key, &rec)?;
                true
            }
            _ => false,
        };
        index.remove(&key);
        Ok(changed)
    }

    pub(super) fn save(&self, rec: &OutboxRecord, waiting_for_peer: bool) -> Result<(), Refused> {
        let id = key_of(&rec.id)
            .ok_or_else(|| StoreError::Internal("an outbox record without a valid id".into()))?;
        let mut index = self.index();
        let stored = self.store.get::<OutboxRecord>(Tree::Outbox, &id)?;
        match stored {
            Some(s) if !s.state.is_final() && s.attempts == rec.attempts => {}
            _ => {
                // Settled by someone else (a revocation, a purge) or gone.
                if stored_is_final_or_gone(&self.store, &id) {
                    index.remove(&id);
                }
                return Err(Refused::Settled(short(&rec.id)));
            }
        }
        self.store.put(Tree::Outbox, &id, rec)?;
        if rec.state.is_final() {
            index.remove(&id);
        } else {
            let seen = index.items.get(&id).is_some_and(|p| p.seen_while_running);
            let mut p = pending_of(rec);
            p.seen_while_running = seen;
            p.waiting_for_peer = waiting_for_peer;
            if waiting_for_peer && seen {
                // Seen while this attempt failed to reach it: again now.
                p.next_attempt = 0;
                p.waiting_for_peer = false;
                p.seen_while_running = false;
            }
            index.insert(id, p);
        }
        Ok(())
    }

    /// Lets go of a claimed item.
    pub(super) fn release(&self, id: &str) {
        if let Some(id) = key_of(id) {
            self.index().running.remove(&id);
        }
    }

    /// The practitioner `national_id` was seen again: the items waiting
    /// for it become due now, and those being tried are tried again at
    /// once if the attempt under way cannot reach it. Returns how many
    /// became due.
    pub(super) fn peer_seen(&self, national_id: &str, now: i64) -> usize {
        let mut index = self.index();
        let Index { items, running, .. } = &mut *index;
        let mut waiting: Vec<Id> = Vec::new();
        for (id, p) in items.iter_mut().filter(|(_, p)| p.to == national_id) {
            if running.contains(id) {
                p.seen_while_running = true;
            } else if p.waiting_for_peer {
                waiting.push(*id);
            }
        }
        for id in &waiting {
            index.set_next_attempt(id, now);
        }
        waiting.len()
    }

    /// When the next pending item is due (Unix seconds), if any.
    #[cfg(test)]
    fn next_due(&self) -> Option<i64> {
        let index = self.index();
        index
            .by_time
            .iter()
            .find(|(_, id)| !index.running.contains(id))
            .map(|(at, _)| *at)
    }
}

fn stored_is_final_or_gone(store: &Store, id: &Id) -> bool {
    match store.get::<OutboxRecord>(Tree::Outbox, id) {
        Ok(Some(s)) => s.state.is_final(),
        Ok(None) => true,
        Err(_) => false,
    }
}

/// The first 8 characters of an id, for logs.
pub(super) fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

impl OutboxState {
    /// Whether an item in this state is settled for good (delivered, or
    /// failed): its record never changes again.
    pub fn is_final(self) -> bool {
        matches!(self, OutboxState::Delivered | OutboxState::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreKeySource;

    fn record(id: &DossierId, to: &str) -> OutboxRecord {
        OutboxRecord {
            id: id.to_string(),
            to: to.into(),
            state: OutboxState::Queued,
            last_error: None,
            created_at: 1,
            delivered_at: None,
            chunk_count: 1,
            content_len: 1,
            total_bytes: 1,
            acked_chunks: 0,
            attempts: 0,
            next_attempt: 0,
            in_reply_to: None,
            content_digest: String::new(),
            receipt: None,
            basis: None,
            path: None,
        }
    }

    fn outbox() -> (tempfile::TempDir, Store, Outbox) {
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open(home.path(), StoreKeySource::KeyFile).expect("open");
        let (outbox, settled) = Outbox::load(store.clone()).expect("load");
        assert!(settled.is_empty());
        (home, store, outbox)
    }

    fn stored(store: &Store, id: &DossierId) -> OutboxRecord {
        store
            .get::<OutboxRecord>(Tree::Outbox, id.as_bytes())
            .expect("get")
            .expect("present")
    }

    /// A consent revoked while a delivery finishes: the revocation fails
    /// only what is not settled, and a delivery's later write of an item
    /// the revocation failed is refused.
    #[test]
    fn a_revocation_fails_only_open_items() {
        let (_home, store, outbox) = outbox();
        let delivered = DossierId::random().expect("id");
        let queued = DossierId::random().expect("id");
        outbox
            .create(&record(&delivered, "810000000001"))
            .expect("create");
        outbox
            .create(&record(&queued, "810000000001"))
            .expect("create");
        let mut claimed = outbox.claim_due(10, 4);
        assert_eq!(claimed.len(), 2);
        let (d, q) = if claimed[0].id == delivered.to_string() {
            (0, 1)
        } else {
            (1, 0)
        };
        claimed[d].state = OutboxState::Delivered;
        outbox.save(&claimed[d], false).expect("delivered");
        // The revocation read both as open before the delivery finished.
        let why = "the consent was revoked before delivery";
        assert!(!outbox
            .fail_if_open(&delivered.to_string(), why)
            .expect("fail"));
        assert_eq!(stored(&store, &delivered).state, OutboxState::Delivered);
        assert!(outbox.fail_if_open(&queued.to_string(), why).expect("fail"));
        assert_eq!(stored(&store, &queued).state, OutboxState::Failed);
        // The attempt on the queued item ends afterwards: refused.
        claimed[q].state = OutboxState::Delivered;
        assert!(matches!(
            outbox.save(&claimed[q], false),
            Err(Refused::Settled(_))
        ));
        assert_eq!(stored(&store, &queued).state, OutboxState::Failed);
        assert!(outbox.claim_due(i64::MAX, 4).is_empty());
    }

    /// The race of issue 11: a delivery finishes between the worker's read
    /// of the outbox and its look at the running deliveries; the stale
    /// record must not start a second delivery nor overwrite the delivered
    /// one.
    #[test]
    fn a_delivered_item_is_never_claimed_or_overwritten_again() {
        let (_home, store, outbox) = outbox();
        let id = DossierId::random().expect("id");
        outbox.create(&record(&id, "810000000001")).expect("create");
        let mut first = outbox.claim_due(10, 4);
        assert_eq!(first.len(), 1);
        let stale = first[0].clone();
        // Claimed: not handed out twice.
        assert!(outbox.claim_due(10, 4).is_empty());
        let done = &mut first[0];
        done.state = OutboxState::Delivered;
        done.delivered_at = Some(10);
        outbox.save(done, false).expect("delivered");
        outbox.release(&done.id);
        // The worker comes round with the stale copy: nothing is due, and
        // writing the stale record (as a failed second attempt would) is
        // refused.
        assert!(outbox.claim_due(100, 4).is_empty());
        let mut failed = stale.clone();
        failed.state = OutboxState::Failed;
        failed.last_error = Some("the key of the dossier is gone".into());
        assert!(matches!(
            outbox.save(&failed, false),
            Err(Refused::Settled(_))
        ));
        let mut retry = stale;
        retry.state = OutboxState::Queued;
        assert!(outbox.save(&retry, false).is_err());
        let now = stored(&store, &id);
        assert_eq!(now.state, OutboxState::Delivered);
        assert_eq!(now.attempts, 1);
        // Even put back in the index by hand, a final record is not claimed.
        outbox.index().insert(
            *id.as_bytes(),
            Pending {
                to: "810000000001".into(),
                next_attempt: 0,
                waiting_for_peer: false,
                seen_while_running: false,
            },
        );
        assert!(outbox.claim_due(100, 4).is_empty());
        assert!(outbox.next_due().is_none(), "dropped from the index");
    }

    #[test]
    fn a_write_from_another_attempt_is_refused() {
        let (_home, store, outbox) = outbox();
        let id = DossierId::random().expect("id");
        outbox.create(&record(&id, "810000000001")).expect("create");
        let first = outbox.claim_due(10, 4).remove(0);
        outbox.release(&first.id);
        let second = outbox.claim_due(10, 4).remove(0);
        assert_eq!(second.attempts, 2);
        let mut old = first;
        old.state = OutboxState::Failed;
        assert!(outbox.save(&old, false).is_err());
        assert_eq!(stored(&store, &id).state, OutboxState::Queued);
    }

    #[test]
    fn backoff_holds_unless_the_colleague_is_seen_again() {
        let (_home, _store, outbox) = outbox();
        let a = DossierId::random().expect("id");
        let b = DossierId::random().expect("id");
        outbox.create(&record(&a, "810000000001")).expect("a");
        outbox.create(&record(&b, "810000000002")).expect("b");
        for mut rec in outbox.claim_due(10, 4) {
            rec.next_attempt = 70;
            outbox.save(&rec, true).expect("retry later");
            outbox.release(&rec.id);
        }
        assert!(outbox.claim_due(11, 4).is_empty(), "backing off");
        assert_eq!(outbox.next_due(), Some(70));
        // Another colleague seen: nothing changes.
        assert_eq!(outbox.peer_seen("810000000009", 12), 0);
        assert!(outbox.claim_due(12, 4).is_empty());
        assert_eq!(outbox.peer_seen("810000000001", 12), 1);
        let due = outbox.claim_due(12, 4);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].id, a.to_string());
        // Seen again while the attempt runs: nothing due now, but if the
        // attempt cannot reach it, the item is due again at once…
        assert_eq!(outbox.peer_seen("810000000001", 12), 0);
        let mut rec = due.into_iter().next().expect("claimed");
        rec.next_attempt = 80;
        outbox.save(&rec, true).expect("unreachable");
        outbox.release(&rec.id);
        assert_eq!(outbox.claim_due(13, 4).len(), 1);
        // …but not if it failed otherwise (the recipient was busy).
        assert_eq!(outbox.peer_seen("810000000001", 13), 0);
        let mut rec = outbox.claim_due(13, 4);
        assert!(rec.is_empty(), "still held");
        outbox.release(&a.to_string());
        rec = outbox.claim_due(13, 4);
        let mut busy = rec.remove(0);
        busy.next_attempt = 90;
        assert_eq!(outbox.peer_seen("810000000001", 14), 0);
        outbox.save(&busy, false).expect("busy");
        outbox.release(&busy.id);
        assert!(outbox.claim_due(14, 4).is_empty(), "backing off");
        assert_eq!(outbox.peer_seen("810000000001", 14), 0);
        assert!(outbox.claim_due(14, 4).is_empty(), "still backing off");
    }

    #[test]
    fn at_most_room_deliveries_at_once() {
        let (_home, _store, outbox) = outbox();
        for _ in 0..6 {
            let id = DossierId::random().expect("id");
            outbox.create(&record(&id, "810000000001")).expect("create");
        }
        let first = outbox.claim_due(10, 4);
        assert_eq!(first.len(), 4);
        assert!(outbox.claim_due(10, 4).is_empty());
        outbox.release(&first[0].id);
        assert_eq!(outbox.claim_due(10, 4).len(), 1);
    }

    #[test]
    fn the_index_is_built_from_the_store() {
        let (home, store, outbox) = outbox();
        let pending = DossierId::random().expect("id");
        let done = DossierId::random().expect("id");
        outbox.create(&record(&pending, "810000000001")).expect("a");
        let mut rec = record(&done, "810000000001");
        rec.state = OutboxState::Delivered;
        store.put(Tree::Outbox, done.as_bytes(), &rec).expect("put");
        // A record that does not decode is left out; the others load.
        store
            .put_bytes(Tree::Outbox, &[9u8; 16], b"not an outbox record")
            .expect("put");
        drop(outbox);
        let (again, settled) = Outbox::load(store).expect("load");
        assert_eq!(settled, vec![*done.as_bytes()]);
        let due = again.claim_due(10, 4);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].id, pending.to_string());
        drop(home);
    }
}
