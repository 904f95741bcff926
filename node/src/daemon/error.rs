//! Why an operation of the daemon failed (a send, the inbox, the directory,
//! the address book), with what to do about it and its [`Code`].
//!
//! Messages name dossiers, practitioners and records by id; they never
//! carry a patient's name, a reason or a letter. The local API turns each
//! into its answer in one place (`api::errors`).

use std::path::PathBuf;

use confrere_protocol::NationalId;

use crate::consent::PolicyError;
use crate::fault::{Code, Fault};
use crate::ledger::LedgerError;
use crate::store::StoreError;

/// What to check when nobody publishes a national id.
const NOT_PUBLISHED_HINT: &str = "check that the colleague's node is running (`confrere run`) \
     and has a bootstrap node configured ([network] bootstrap in its config.toml); check that \
     this node has one too: `confrere status` lists its bootstrap nodes (set them in \
     [network] bootstrap of config.toml, or give `confrere run --bootstrap MULTIADDR`); a node \
     that has just started publishes its record within a minute";

/// What to give as a colleague's national id.
const NATIONAL_ID_HINT: &str =
    "give the colleague's RPPS (8 + 11 digits) or ADELI (0 + 9 characters) id";

/// Why an operation of the daemon failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    // --- The store, the ledger, consents, and the node itself.
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger could not be read or appended to.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A consent or care-team rule refused, or its records failed.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Something failed inside the node (a task that could not run, a
    /// stored dossier that does not open).
    #[error("{0}")]
    Internal(String),
    /// A reply citing no record was addressed to someone other than the
    /// referrer, or about another patient.
    #[error("a reply that cites no consent or care-team record goes back to the colleague who sent the referral, about the same patient")]
    ReplyElsewhere,
    /// A consent or care-team record was stored, but could not be made
    /// durable or logged in the ledger; it was removed again.
    #[error("the {what} was not recorded: {source}")]
    NotRecorded {
        /// `consent` or `care-team record`.
        what: &'static str,
        /// Why.
        source: Box<OpError>,
    },
    /// A consent or care-team record is stored without its ledger entry,
    /// and could not be removed.
    #[error("the {what} {id} is stored but its ledger entry could not be written: {source}")]
    RecordedWithoutEntry {
        /// `consent` or `care-team record`.
        what: &'static str,
        /// The record's id.
        id: String,
        /// Why the entry could not be written.
        source: Box<OpError>,
    },

    // --- Dossier keys.
    /// A dossier's key is in the store but does not unwrap.
    #[error("the key of dossier {id} does not unwrap: {reason}")]
    KeyDoesNotUnwrap {
        /// The dossier.
        id: String,
        /// Why.
        reason: String,
    },
    /// The dossier was erased (its key destroyed on purpose).
    #[error("dossier {id} was erased ({why})")]
    Erased {
        /// The dossier.
        id: String,
        /// What erased it.
        why: &'static str,
    },
    /// A dossier's key is missing although nothing erased it.
    #[error(
        "the key of dossier {id} is missing from the store, although nothing erased it: the store is damaged (blobs/{id}.key was removed or lost)"
    )]
    KeyMissing {
        /// The dossier.
        id: String,
    },

    // --- A send: the request.
    /// The recipient's national id does not parse.
    #[error("the recipient's national id is invalid: {0}")]
    BadRecipient(String),
    /// The recipient is this node's own practitioner.
    #[error("the recipient is this node's own practitioner")]
    SelfRecipient,
    /// The directory could not be asked who serves the recipient.
    #[error("the directory could not be asked for {to}: {reason}")]
    RecipientLookup {
        /// The recipient.
        to: NationalId,
        /// Why.
        reason: String,
    },
    /// Neither the address book nor the directory knows the recipient.
    #[error("no known node serves {to}, and no node publishes it in the directory")]
    UnknownRecipient {
        /// The recipient.
        to: NationalId,
    },
    /// The patient's INS does not parse.
    #[error("the patient's INS is invalid: {0}")]
    BadIns(String),
    /// The patient's birth date does not parse.
    #[error("the birth date is invalid: {0}")]
    BadBirthDate(String),
    /// The patient's sex is not F, M or U.
    #[error("the sex must be F, M or U")]
    BadSex,
    /// The patient's details do not hold together.
    #[error("the patient is invalid: {0}")]
    BadPatient(String),
    /// The INS does not agree with the sex or birth date.
    #[error("{0}")]
    InsMismatch(String),
    /// A document cannot be read to be sent.
    #[error("{0}")]
    UnreadableDocument(String),
    /// A document's file name cannot be used in a dossier.
    #[error("the document name of {} cannot be used: {reason}", path.display())]
    BadDocumentName {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The dossier breaks a rule of the format (sizes, counts, lengths).
    #[error("the dossier is invalid: {0}")]
    BadDossier(String),

    // --- A send: sealing and queuing.
    /// Sealing failed (a file changed while it was read); nothing was queued.
    #[error("the dossier could not be sealed: {0}; nothing was queued")]
    SealFailed(String),
    /// A document could not be read while sealing; nothing was queued.
    #[error("a document could not be read: {0}; nothing was queued")]
    DocumentReadFailed(std::io::Error),
    /// The disk filled up while sealing or queuing; nothing was queued.
    #[error("the disk is full: the dossier could not be sealed and nothing was queued")]
    DiskFull,
    /// The store failed while sealing or queuing; nothing was queued.
    #[error("{0}; nothing was queued")]
    NotQueued(StoreError),
    /// The ledger entry of the send could not be written; nothing was
    /// queued.
    #[error("{0}; nothing was queued")]
    NotLogged(LedgerError),
    /// The dossier is queued but the store could not make it durable.
    #[error("dossier {id} is queued, but the store could not make it durable: {source}")]
    QueuedNotDurable {
        /// The dossier.
        id: String,
        /// Why.
        source: StoreError,
    },

    // --- The inbox.
    /// No inbox item has that id.
    #[error("no inbox item {0}")]
    NoInboxItem(String),
    /// The item's status does not allow the move asked for.
    #[error("{why}: it cannot be {what}")]
    RefusedMove {
        /// Why, from the item's status.
        why: &'static str,
        /// `accepted`, `declined` or `answered`.
        what: &'static str,
        /// The item was erased (revoked consent, retention).
        erased: bool,
    },
    /// The item was erased: its documents cannot be opened.
    #[error("dossier {id} was erased: {reason}")]
    ErasedItem {
        /// The dossier, shortened.
        id: String,
        /// Why it was erased.
        reason: String,
    },
    /// The output directory of an opening is not absolute.
    #[error("the output directory must be an absolute path")]
    OutDirNotAbsolute,
    /// The documents could not be written into the output directory.
    #[error("cannot write into {}: {reason}", dir.display())]
    CannotWrite {
        /// The output directory.
        dir: PathBuf,
        /// Why.
        reason: String,
    },

    // --- The directory and the address book.
    /// The national id looked up does not parse.
    #[error("the national id is invalid: {0}")]
    BadNationalId(String),
    /// The network has stopped (the daemon is shutting down).
    #[error("the network has stopped")]
    NetworkStopped,
    /// The directory could not be asked.
    #[error("the directory could not be asked for {id}: {reason}")]
    DirectoryLookup {
        /// The national id looked up.
        id: NationalId,
        /// Why.
        reason: String,
    },
    /// No node publishes the national id.
    #[error("no node publishes national id {0} in the directory")]
    NotPublished(NationalId),
    /// A multiaddr given for the address book is not usable.
    #[error("{0}")]
    BadAddress(String),
    /// No address-book entry has that PeerId or national id.
    #[error("the address book has no node with PeerId or national id {0}")]
    UnknownPeer(String),
    /// The address book could not be saved.
    #[error("the address book could not be saved: {0}")]
    BookNotSaved(String),
}

impl OpError {
    /// An internal error (a task that could not run).
    pub(crate) fn internal(what: impl std::fmt::Display) -> Self {
        OpError::Internal(what.to_string())
    }
}

impl Fault for OpError {
    fn code(&self) -> Code {
        match self {
            OpError::Store(e) | OpError::NotQueued(e) => e.code(),
            OpError::Ledger(e) | OpError::NotLogged(e) => e.code(),
            OpError::Policy(e) => e.code(),
            OpError::NotRecorded { source, .. } | OpError::RecordedWithoutEntry { source, .. } => {
                source.code()
            }
            OpError::Internal(_)
            | OpError::KeyDoesNotUnwrap { .. }
            | OpError::KeyMissing { .. }
            | OpError::BookNotSaved(_) => Code::Internal,
            OpError::Erased { .. } | OpError::NoInboxItem(_) => Code::NotFound,
            OpError::BadRecipient(_)
            | OpError::SelfRecipient
            | OpError::BadIns(_)
            | OpError::BadBirthDate(_)
            | OpError::BadSex
            | OpError::BadPatient(_)
            | OpError::InsMismatch(_)
            | OpError::UnreadableDocument(_)
            | OpError::BadDocumentName { .. }
            | OpError::BadDossier(_)
            | OpError::SealFailed(_)
            | OpError::DocumentReadFailed(_)
            | OpError::OutDirNotAbsolute
            | OpError::CannotWrite { .. }
            | OpError::BadNationalId(_)
            | OpError::BadAddress(_) => Code::Invalid,
            OpError::RecipientLookup { .. } => Code::Unreachable,
            OpError::UnknownRecipient { .. } => Code::UnknownRecipient,
            OpError::DiskFull | OpError::QueuedNotDurable { .. } | OpError::NetworkStopped => {
                Code::Unavailable
            }
            OpError::RefusedMove { .. }
            | OpError::ReplyElsewhere
            | OpError::ErasedItem { .. }
            | OpError::DirectoryLookup { .. } => Code::Refused,
            OpError::NotPublished(_) => Code::NotPublished,
            OpError::UnknownPeer(_) => Code::UnknownPeer,
        }
    }

    fn hint(&self) -> String {
        match self {
            OpError::Store(e) | OpError::NotQueued(e) => e.hint().to_string(),
            OpError::Ledger(e) | OpError::NotLogged(e) => e.hint().to_string(),
            OpError::Policy(e) => e.hint(),
            OpError::Internal(_) => {
                "see the daemon's log; if it persists, restart the daemon".into()
            }
            OpError::ReplyElsewhere => "to send it to another colleague or about another patient, send a new dossier citing the patient's consent or care-team record (`confrere send --consent ID`)".into(),
            OpError::NotRecorded { source, .. } => {
                format!("nothing was recorded; {}, then record it again", source.hint())
            }
            OpError::RecordedWithoutEntry { id, source, .. } => format!(
                "{}; then withdraw it (`confrere consent revoke {id}` for a consent) before recording it again, so that no duplicate is left",
                source.hint()
            ),
            OpError::KeyDoesNotUnwrap { .. } => "the store is damaged or another store key is in use; restore the home from its backup".into(),
            OpError::Erased { .. } => "nothing can be recovered from an erased dossier".into(),
            OpError::KeyMissing { .. } => "stop the node and restore the home from its backup; the dossier cannot be opened or sent without its key".into(),
            OpError::BadRecipient(_) | OpError::BadNationalId(_) => NATIONAL_ID_HINT.into(),
            OpError::SelfRecipient => "give a colleague's national id".into(),
            OpError::RecipientLookup { .. } => "check that this node reaches its bootstrap nodes (`confrere status`), then retry".into(),
            OpError::UnknownRecipient { .. } => "check the national id; check that the colleague's node runs with a bootstrap node ([network] bootstrap in config.toml) and that this node has one too (`confrere status` lists them); or add the colleague's node with `confrere peers add /ip4/ADDRESS/tcp/PORT/p2p/PEER_ID`".into(),
            OpError::BadIns(_) => "the INS is 13 digits and a 2-digit key, as on the patient's carte Vitale or INS record".into(),
            OpError::BadBirthDate(_) => "give the birth date as on the patient's INS record, written YYYY-MM-DD (e.g. 1985-02-28)".into(),
            OpError::BadSex => "use --sex F, M or U".into(),
            OpError::BadPatient(_) => "check the patient's details".into(),
            OpError::InsMismatch(_) => "check the INS, --sex and --birth-date against the patient's carte Vitale or INS record; one of them is mistyped".into(),
            OpError::UnreadableDocument(_) => "check that the file exists and is readable".into(),
            OpError::BadDocumentName { .. } => "rename the file".into(),
            OpError::BadDossier(_) => "check the reason, letter and files".into(),
            OpError::SealFailed(_) => "a file changed while it was being read; send again".into(),
            OpError::DocumentReadFailed(_) => "check that the file is readable and stays in place while it is sent; send again".into(),
            OpError::DiskFull => "free space on the disk that holds the node's home, then send the dossier again".into(),
            OpError::QueuedNotDurable { .. } => "look at `confrere outbox` before sending it again; if the disk is full, free space".into(),
            OpError::NoInboxItem(_) => "list the inbox with `confrere inbox` to see the ids".into(),
            OpError::RefusedMove { erased: true, .. } => "nothing more may be shared about it; only a new consent from the patient allows a new share".into(),
            OpError::RefusedMove { erased: false, .. } => "see its status with `confrere inbox show ID`; a new referral needs a new dossier".into(),
            OpError::ErasedItem { .. } => "its documents can no longer be opened; ask the referring practitioner if care requires them".into(),
            OpError::OutDirNotAbsolute => "give --out as a full path".into(),
            OpError::CannotWrite { .. } => "choose a directory you can write to, with enough free space".into(),
            OpError::NetworkStopped => "the daemon is shutting down: start it again".into(),
            OpError::DirectoryLookup { .. } => "check this node's network connection and its bootstrap nodes (`confrere status`)".into(),
            OpError::NotPublished(_) => NOT_PUBLISHED_HINT.into(),
            OpError::BadAddress(_) => "give the address the colleague's `confrere status` prints".into(),
            OpError::UnknownPeer(_) => "`confrere peers list` shows the entries, with their PeerId and national id".into(),
            OpError::BookNotSaved(_) => "check the home's permissions and free space, then retry".into(),
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    fn id() -> NationalId {
        NationalId::parse("810001000016").unwrap()
    }

    /// The codes the local API answered before the daemon had errors of
    /// its own (`api::errors` turns each into the same code string).
    #[test]
    fn each_failure_keeps_its_code() {
        let cases: Vec<(OpError, Code)> = vec![
            (OpError::Store(StoreError::NoSpace), Code::Unavailable),
            (OpError::Store(StoreError::Random), Code::Internal),
            (OpError::internal("x"), Code::Internal),
            (OpError::BadRecipient("x".into()), Code::Invalid),
            (OpError::SelfRecipient, Code::Invalid),
            (
                OpError::RecipientLookup {
                    to: id(),
                    reason: "x".into(),
                },
                Code::Unreachable,
            ),
            (
                OpError::UnknownRecipient { to: id() },
                Code::UnknownRecipient,
            ),
            (OpError::DiskFull, Code::Unavailable),
            (OpError::NotQueued(StoreError::Random), Code::Internal),
            (
                OpError::QueuedNotDurable {
                    id: "ab".into(),
                    source: StoreError::NoSpace,
                },
                Code::Unavailable,
            ),
            (OpError::NoInboxItem("ab".into()), Code::NotFound),
            (
                OpError::Erased {
                    id: "ab".into(),
                    why: "x",
                },
                Code::NotFound,
            ),
            (OpError::KeyMissing { id: "ab".into() }, Code::Internal),
            (
                OpError::RefusedMove {
                    why: "x",
                    what: "accepted",
                    erased: false,
                },
                Code::Refused,
            ),
            (OpError::OutDirNotAbsolute, Code::Invalid),
            (OpError::NetworkStopped, Code::Unavailable),
            (
                OpError::DirectoryLookup {
                    id: id(),
                    reason: "x".into(),
                },
                Code::Refused,
            ),
            (OpError::NotPublished(id()), Code::NotPublished),
            (OpError::UnknownPeer("x".into()), Code::UnknownPeer),
            (OpError::BookNotSaved("x".into()), Code::Internal),
        ];
        for (e, code) in cases {
            assert_eq!(e.code(), code, "{e}");
            assert!(!e.hint().is_empty(), "{e}");
        }
    }

    #[test]
    fn a_record_that_could_not_be_logged_keeps_the_cause_code_and_hint() {
        let cause = OpError::Store(StoreError::NoSpace);
        let cause_hint = cause.hint();
        let e = OpError::NotRecorded {
            what: "consent",
            source: Box::new(cause),
        };
        assert_eq!(e.code(), Code::Unavailable);
        assert!(
            e.to_string().starts_with("the consent was not recorded: "),
            "{e}"
        );
        assert_eq!(
            e.hint(),
            format!("nothing was recorded; {cause_hint}, then record it again")
        );
        let left = OpError::RecordedWithoutEntry {
            what: "consent",
            id: "ab12".into(),
            source: Box::new(OpError::internal("the ledger task failed")),
        };
        assert_eq!(left.code(), Code::Internal);
        assert!(
            left.hint().contains("confrere consent revoke ab12"),
            "{}",
            left.hint()
        );
    }

    #[test]
    fn messages_name_ids_not_patients() {
        let e = OpError::UnknownRecipient { to: id() };
        assert_eq!(
            e.to_string(),
            "no known node serves 810001000016, and no node publishes it in the directory"
        );
        let e = OpError::ErasedItem {
            id: "0123456789ab".into(),
            reason: "the patient withdrew consent".into(),
        };
        assert_eq!(
            e.to_string(),
            "dossier 0123456789ab was erased: the patient withdrew consent"
        );
    }
}
