//! What can go wrong with the ledger, and what the user can do about it.

use confrere_protocol::ledger::{ChainError, EntryError};

use crate::fault::{Code, Fault};
use crate::store::StoreError;

/// Why a ledger operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The store failed (disk, lock, damaged files).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger does not verify: it was tampered with or damaged.
    #[error("the ledger does not verify: {0}")]
    Broken(#[from] ChainError),
    /// The entry could not be made (invalid fields, or the node key failed).
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// The ledger in this store belongs to another practitioner or node.
    #[error(
        "the ledger in this store was started by another {what} ({found}); \
         it cannot be continued by this one"
    )]
    OtherOwner {
        /// `practitioner` or `node`.
        what: &'static str,
        /// Who the genesis entry names.
        found: String,
    },
    /// The practitioner's national id is not valid.
    #[error("the practitioner's national id is invalid: {0}")]
    NationalId(String),
    /// A background task running a ledger operation failed.
    #[error("the ledger task failed: {0}")]
    Task(String),
}

impl LedgerError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            LedgerError::Store(e) => e.hint(),
            LedgerError::Broken(e) => e.hint(),
            LedgerError::Entry(EntryError::Invalid(_)) => {
                "this is a bug in Confrère: report it, with the node's log"
            }
            LedgerError::Entry(_) => {
                "check that keys/libp2p.key is the key the node credential binds; \
                 restore the home from its backup if it is not"
            }
            LedgerError::OtherOwner { .. } => {
                "use the home this store was made in, or restore that home from its backup"
            }
            LedgerError::NationalId(_) => "check the node's certificate (`confrere status`)",
            LedgerError::Task(_) => "see the daemon's log; if it persists, restart the daemon",
        }
    }

    /// The chain error, when the ledger does not verify.
    pub fn chain_error(&self) -> Option<&ChainError> {
        match self {
            LedgerError::Broken(e) => Some(e),
            _ => None,
        }
    }
}

/// A full disk is `Unavailable`, a ledger that does not verify `Refused`,
/// anything else `Internal`.
impl Fault for LedgerError {
    fn code(&self) -> Code {
        match self {
            LedgerError::Store(e) => e.code(),
            LedgerError::Broken(_) => Code::Refused,
            _ => Code::Internal,
        }
    }

    fn hint(&self) -> String {
        LedgerError::hint(self).to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes the local API answered before errors were faults: a full
    /// disk `unavailable`, a broken ledger `refused`, anything else
    /// `internal`.
    #[test]
    fn each_failure_keeps_its_code_and_hint() {
        let full = LedgerError::Store(StoreError::NoSpace);
        assert_eq!(full.code(), Code::Unavailable);
        assert_eq!(Fault::hint(&full), StoreError::NoSpace.hint());
        let broken = LedgerError::Broken(ChainError::BadGenesis);
        assert_eq!(broken.code(), Code::Refused);
        assert_eq!(Fault::hint(&broken), ChainError::BadGenesis.hint());
        let task = LedgerError::Task("cancelled".into());
        assert_eq!(task.code(), Code::Internal);
        assert_eq!(Fault::hint(&task), task.hint());
        let damaged = LedgerError::Store(StoreError::Internal("x".into()));
        assert_eq!(damaged.code(), Code::Internal);
    }
}
