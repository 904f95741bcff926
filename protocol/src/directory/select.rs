//! Which records of a practitioner are kept: the newest from each node, a
//! bounded number of nodes.

use std::cmp::Ordering;

use super::{VerifiedRecord, MAX_RECORDS_PER_ID};

/// What to do with an incoming record, given those held for its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Keep the incoming record and drop the held ones at these positions
    /// of `existing` (ascending): an older record of the same node, or the
    /// oldest-published records of other nodes past [`MAX_RECORDS_PER_ID`].
    Keep {
        /// Positions in `existing` to drop, ascending.
        drop: Vec<usize>,
    },
    /// Keep what is held unchanged; the incoming record is dropped.
    Ignore(Ignored),
}

/// Why an incoming record is not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ignored {
    /// The very same record is held.
    Duplicate,
    /// A record of the same node at least as new is held.
    NotNewer,
    /// [`MAX_RECORDS_PER_ID`] records of other nodes are held, all
    /// published later than the incoming one.
    Crowded,
    /// The held records are another practitioner's: they were not held
    /// under the incoming record's key.
    OtherPractitioner,
}

/// Which of two records of one node is newer: the higher sequence number,
/// then the later `published_at`, then the greater encoding (so that every
/// node settles on the same record).
fn newness(a: &VerifiedRecord, b: &VerifiedRecord) -> Ordering {
    a.sequence()
        .cmp(&b.sequence())
        .then(a.published_at().cmp(&b.published_at()))
        .then_with(|| a.encoded().cmp(b.encoded()))
}

/// Which of two records of different nodes was published later (the
/// oldest-published is dropped first), ties broken by PeerId.
fn age(a: &VerifiedRecord, b: &VerifiedRecord) -> Ordering {
    a.published_at()
        .cmp(&b.published_at())
        .then_with(|| a.peer_id().cmp(b.peer_id()))
}

/// Decides whether `incoming` joins the records `existing` held for one
/// national id, and which of those it displaces.
///
/// From one node (one PeerId) the newest record wins: the higher sequence
/// number, then the later `published_at`, then the greater encoding.
/// Records of different nodes of the practitioner are all kept, up to
/// [`MAX_RECORDS_PER_ID`]; past that the oldest-published records go, and
/// the incoming record itself is not kept if it is the oldest-published.
/// Expiry is not looked at: drop expired records first
/// ([`VerifiedRecord::is_expired`]).
pub fn select_records(existing: &[VerifiedRecord], incoming: &VerifiedRecord) -> Decision {
    let id = &incoming.identity().national_id;
    if existing.iter().any(|r| &r.identity().national_id != id) {
        return Decision::Ignore(Ignored::OtherPractitioner);
    }
    let mut drop = Vec::new();
    for (i, held) in existing.iter().enumerate() {
        if held.peer_id() != incoming.peer_id() {
            continue;
        }
        if held.encoded() == incoming.encoded() {
            return Decision::Ignore(Ignored::Duplicate);
        }
        if newness(held, incoming) != Ordering::Less {
            return Decision::Ignore(Ignored::NotNewer);
        }
        drop.push(i);
    }
    let mut others: Vec<usize> = (0..existing.len()).filter(|i| !drop.contains(i)).collect();
    others.sort_by(|&a, &b| age(&existing[a], &existing[b]));
    let excess = (others.len() + 1).saturating_sub(MAX_RECORDS_PER_ID);
    for &oldest in others.iter().take(excess) {
        if age(incoming, &existing[oldest]) == Ordering::Less {
            return Decision::Ignore(Ignored::Crowded);
        }
        drop.push(oldest);
    }
    drop.sort_unstable();
    Decision::Keep { drop }
}

/// Applies [`select_records`] to a held set: drops what the incoming
/// record displaces and adds it, or leaves the set unchanged.
pub fn merge_record(held: &mut Vec<VerifiedRecord>, incoming: VerifiedRecord) -> Decision {
    let decision = select_records(held, &incoming);
    if let Decision::Keep { drop } = &decision {
        for &i in drop.iter().rev() {
            held.remove(i);
        }
        held.push(incoming);
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;

    const GP: &str = "810001000016";
    const OTHER: &str = "810001000024";

    fn rec(peer: u8, sequence: u64, published_at: i64) -> VerifiedRecord {
        VerifiedRecord::for_test(GP, peer, sequence, published_at, 0)
    }

    #[test]
    fn first_record_is_kept() {
        assert_eq!(
            select_records(&[], &rec(1, 1, 100)),
            Decision::Keep { drop: vec![] }
        );
    }

    #[test]
    fn newer_sequence_of_a_node_replaces_its_older_record() {
        let held = [rec(2, 5, 100), rec(1, 1, 100)];
        assert_eq!(
            select_records(&held, &rec(1, 2, 90)),
            Decision::Keep { drop: vec![1] },
            "the sequence wins over published_at"
        );
    }

    #[test]
    fn older_or_equal_sequence_of_a_node_is_ignored() {
        let held = [rec(1, 5, 100)];
        assert_eq!(
            select_records(&held, &rec(1, 4, 200)),
            Decision::Ignore(Ignored::NotNewer)
        );
        assert_eq!(
            select_records(&held, &rec(1, 5, 100)),
            Decision::Ignore(Ignored::Duplicate)
        );
    }

    #[test]
    fn equal_sequence_ties_settle_the_same_way_everywhere() {
        let a = VerifiedRecord::for_test(GP, 1, 5, 100, 1);
        let b = VerifiedRecord::for_test(GP, 1, 5, 100, 2);
        // Whichever arrives first, b (the greater encoding) is what stays.
        assert_eq!(
            select_records(std::slice::from_ref(&a), &b),
            Decision::Keep { drop: vec![0] }
        );
        assert_eq!(
            select_records(std::slice::from_ref(&b), &a),
            Decision::Ignore(Ignored::NotNewer)
        );
        // Same sequence, later publication wins.
        let later = VerifiedRecord::for_test(GP, 1, 5, 101, 0);
        assert_eq!(
            select_records(std::slice::from_ref(&b), &later),
            Decision::Keep { drop: vec![0] }
        );
    }

    #[test]
    fn nodes_of_one_practitioner_are_all_kept() {
        let mut held = Vec::new();
        for peer in 0..u8::try_from(MAX_RECORDS_PER_ID).expect("small") {
            let d = merge_record(&mut held, rec(peer, 1, 100 + i64::from(peer)));
            assert_eq!(d, Decision::Keep { drop: vec![] });
        }
        assert_eq!(held.len(), MAX_RECORDS_PER_ID);
    }

    #[test]
    fn past_the_bound_the_oldest_published_node_is_dropped() {
        let n = u8::try_from(MAX_RECORDS_PER_ID).expect("small");
        // Published 109, 108, … so the oldest sits last.
        let held: Vec<_> = (0..n).map(|p| rec(p, 1, 110 - i64::from(p) - 1)).collect();
        let oldest = usize::from(n - 1);
        assert_eq!(
            select_records(&held, &rec(50, 1, 200)),
            Decision::Keep { drop: vec![oldest] }
        );
        // An incoming record older than all held is not kept.
        assert_eq!(
            select_records(&held, &rec(50, 1, 10)),
            Decision::Ignore(Ignored::Crowded)
        );
        // A node already held replaces its own record without crowding anyone.
        assert_eq!(
            select_records(&held, &rec(0, 2, 10)),
            Decision::Keep { drop: vec![0] }
        );
        let mut set = held;
        merge_record(&mut set, rec(50, 1, 200));
        assert_eq!(set.len(), MAX_RECORDS_PER_ID);
        assert!(set.iter().all(|r| r.peer_id()[0] != n - 1));
        assert!(set.iter().any(|r| r.peer_id()[0] == 50));
    }

    #[test]
    fn an_overfull_set_is_brought_back_to_the_bound() {
        let held: Vec<_> = (0..10u8).map(|p| rec(p, 1, 100 + i64::from(p))).collect();
        let mut set = held;
        assert_eq!(
            merge_record(&mut set, rec(60, 1, 500)),
            Decision::Keep {
                drop: vec![0, 1, 2]
            }
        );
        assert_eq!(set.len(), MAX_RECORDS_PER_ID);
    }

    #[test]
    fn another_practitioners_records_are_not_mixed_in() {
        let held = [VerifiedRecord::for_test(OTHER, 1, 1, 100, 0)];
        let mut set = held.to_vec();
        assert_eq!(
            merge_record(&mut set, rec(2, 1, 100)),
            Decision::Ignore(Ignored::OtherPractitioner)
        );
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn ignored_records_leave_the_set_unchanged() {
        let mut set = vec![rec(1, 5, 100)];
        assert_eq!(
            merge_record(&mut set, rec(1, 3, 100)),
            Decision::Ignore(Ignored::NotNewer)
        );
        assert_eq!(set.len(), 1);
        assert_eq!(set[0].sequence(), 5);
    }
}
