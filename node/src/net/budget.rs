//! One memory budget for the buffers of received messages: every session
//! reserves from it as the bytes of a message (its attachment included)
//! arrive, and gives the bytes back when the message is handed over or the
//! session ends. A peer that announces a large attachment and sends
//! nothing holds nothing; peers that do send hold at most the budget
//! between them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A shared byte budget; cheap to clone.
#[derive(Clone, Debug)]
pub struct MemoryBudget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cap: usize,
    used: AtomicUsize,
}

impl MemoryBudget {
    /// A budget of `cap` bytes.
    pub fn new(cap: usize) -> Self {
        MemoryBudget {
            inner: Arc::new(Inner {
                cap,
                used: AtomicUsize::new(0),
            }),
        }
    }

    /// A budget that never runs out (for channels outside a network).
    pub fn unlimited() -> Self {
        MemoryBudget::new(usize::MAX)
    }

    /// The budget's size in bytes.
    pub fn cap(&self) -> usize {
        self.inner.cap
    }

    /// Bytes reserved now.
    pub fn in_use(&self) -> usize {
        self.inner.used.load(Ordering::Acquire)
    }

    /// An empty reservation, to grow with [`Reservation::grow_to`].
    pub fn reservation(&self) -> Reservation {
        Reservation {
            budget: self.clone(),
            held: 0,
        }
    }

    fn take(&self, n: usize) -> bool {
        self.inner
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|total| *total <= self.inner.cap)
            })
            .is_ok()
    }

    fn give(&self, n: usize) {
        self.inner.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// Bytes held from a [`MemoryBudget`], given back on drop.
#[derive(Debug)]
pub struct Reservation {
    budget: MemoryBudget,
    held: usize,
}

impl Reservation {
    /// Holds `total` bytes in all (never fewer than held already): `false`,
    /// and nothing more held, if the budget has not that much left.
    pub fn grow_to(&mut self, total: usize) -> bool {
        if total <= self.held {
            return true;
        }
        let more = total - self.held;
        if self.budget.take(more) {
            self.held = total;
            true
        } else {
            false
        }
    }

    /// Bytes held.
    pub fn held(&self) -> usize {
        self.held
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_stay_within_the_cap_and_return_on_drop() {
        let budget = MemoryBudget::new(100);
        let mut a = budget.reservation();
        let mut b = budget.reservation();
        assert!(a.grow_to(60));
        assert!(a.grow_to(40), "shrinking is a no-op");
        assert_eq!(a.held(), 60);
        assert!(!b.grow_to(41), "over the cap");
        assert_eq!(b.held(), 0);
        assert!(b.grow_to(40));
        assert_eq!(budget.in_use(), 100);
        drop(a);
        assert_eq!(budget.in_use(), 40);
        drop(b);
        assert_eq!(budget.in_use(), 0);
        assert!(MemoryBudget::unlimited().reservation().grow_to(usize::MAX));
    }
}
