//! Why a consent operation or a send is refused, and what to do about it.
//!
//! Messages name records by id and practitioners by national id; they
//! never carry an INS, a purpose or a reason.

use confrere_protocol::consent::{ConsentError, DateError, ShareRefusal};
use confrere_protocol::dossier::InsError;
use confrere_protocol::{NationalId, UnixTime};

use super::{BasisKind, CitedBasis};
use crate::fault::{Code, Fault};
use crate::store::StoreError;

/// Why a consent operation, or the check of a send, failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The record asked for is refused by the consent rules.
    #[error("the {kind} cannot be recorded: {source}")]
    Invalid {
        /// Consent or care-team record.
        kind: BasisKind,
        /// What is wrong.
        source: ConsentError,
    },
    /// The patient's INS is not valid.
    #[error("the patient's INS is invalid: {0}")]
    Ins(#[from] InsError),
    /// A day is not written `YYYY-MM-DD` or is not a real day.
    #[error("{field} is not a usable day: {source}")]
    Date {
        /// Which field: `the expiry day`, `the day the patient was informed`.
        field: &'static str,
        /// What is wrong.
        source: DateError,
    },
    /// The text given as a record id is not one (it is not repeated: it
    /// may be anything, even patient data typed in the wrong place).
    #[error(
        "the {kind} id given is not one: an id is 32 hex digits, or a unique prefix of at least 8"
    )]
    BadId {
        /// Consent or care-team record.
        kind: BasisKind,
    },
    /// No record has that id.
    #[error("no {kind} has the id {id}")]
    NotFound {
        /// Consent or care-team record.
        kind: BasisKind,
        /// The id or prefix given.
        id: String,
    },
    /// More than one record starts with that prefix.
    #[error("more than one {kind} has an id starting with {prefix}")]
    Ambiguous {
        /// Consent or care-team record.
        kind: BasisKind,
        /// The prefix given.
        prefix: String,
    },
    /// The consent was revoked already.
    #[error("consent {id} was already revoked on {at}")]
    AlreadyRevoked {
        /// The consent.
        id: String,
        /// When it was revoked.
        at: UnixTime,
    },
    /// A send cites no record.
    #[error("no consent or care-team record is cited for this send")]
    NoBasis,
    /// A send cites both a consent and a care-team record.
    #[error("a send cites one record: a consent or a care-team record, not both")]
    BothBases,
    /// The cited record does not allow this send.
    #[error("{basis} does not allow sending to {recipient}: {refusal}")]
    Refused {
        /// The record cited.
        basis: CitedBasis,
        /// The recipient of the send.
        recipient: NationalId,
        /// Why.
        refusal: ShareRefusal,
    },
    /// The record a queued send cited no longer allows it (revoked or
    /// expired since the send was queued).
    #[error("{basis} no longer allows this send: {refusal}")]
    NoLongerAllows {
        /// The record cited.
        basis: CitedBasis,
        /// Why.
        refusal: ShareRefusal,
    },
    /// A stored record does not read back.
    #[error("{kind} {id} in the store is damaged: {source}")]
    Damaged {
        /// Consent or care-team record.
        kind: BasisKind,
        /// Its id.
        id: String,
        /// What is wrong.
        source: ConsentError,
    },
    /// The system random generator failed.
    #[error("cannot make a record id: the system random generator failed")]
    Random,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A request to change (`Invalid`), a record that does not exist
/// (`NotFound`), a share the records do not allow (`Refused`), a full disk
/// (`Unavailable`), or a damaged store (`Internal`).
impl Fault for PolicyError {
    fn code(&self) -> Code {
        match self {
            PolicyError::Invalid { .. }
            | PolicyError::Ins(_)
            | PolicyError::Date { .. }
            | PolicyError::BadId { .. }
            | PolicyError::Ambiguous { .. }
            | PolicyError::NoBasis
            | PolicyError::BothBases => Code::Invalid,
            PolicyError::NotFound { .. } => Code::NotFound,
            PolicyError::AlreadyRevoked { .. }
            | PolicyError::Refused { .. }
            | PolicyError::NoLongerAllows { .. } => Code::Refused,
            PolicyError::Store(e) => e.code(),
            PolicyError::Damaged { .. } | PolicyError::Random => Code::Internal,
        }
    }

    fn hint(&self) -> String {
        match self {
            PolicyError::Invalid { source, .. } => invalid_hint(source).into(),
            PolicyError::Ins(_) => "the INS is 13 digits and a 2-digit key, as on the patient's carte Vitale or INS record".into(),
            PolicyError::Date { .. } => "write the day YYYY-MM-DD, e.g. 2025-06-30".into(),
            PolicyError::BadId { kind, .. } | PolicyError::NotFound { kind, .. } => {
                format!("check the id: {}", where_ids_are(*kind))
            }
            PolicyError::Ambiguous { kind, .. } => format!(
                "give more digits of the id: {}",
                where_ids_are(*kind)
            ),
            PolicyError::AlreadyRevoked { .. } => {
                "nothing to do: no dossier can be sent under it any more".into()
            }
            PolicyError::NoBasis => "cite the record that allows the share: --consent ID (`confrere consent grant` records one) or --care-team ID (`confrere care-team record` records one)".into(),
            PolicyError::BothBases => "give either --consent or --care-team, not both".into(),
            PolicyError::Refused { refusal, .. } | PolicyError::NoLongerAllows { refusal, .. } => {
                refusal_hint(*refusal).into()
            }
            PolicyError::Damaged { .. } => {
                "stop the node and restore the home from its backup".into()
            }
            PolicyError::Random => {
                "retry; if it persists, the system random generator is unavailable".into()
            }
            PolicyError::Store(e) => e.hint().into(),
        }
    }
}

fn where_ids_are(kind: BasisKind) -> &'static str {
    match kind {
        BasisKind::Consent => "`confrere consent list` shows them",
        BasisKind::CareTeam => {
            "`confrere care-team record` printed it when it recorded the exchange"
        }
    }
}

fn invalid_hint(e: &ConsentError) -> &'static str {
    match e {
        ConsentError::NoRecipient | ConsentError::TooManyRecipients { .. } => {
            "name each practitioner with --to NATIONAL_ID (at most 64)"
        }
        ConsentError::Recipient { .. } => {
            "give each recipient's RPPS (8 + 11 digits) or ADELI (0 + 9 characters) id"
        }
        ConsentError::DuplicateRecipient { .. } => "name each practitioner once",
        ConsentError::PurposeEmpty
        | ConsentError::PurposeTooLong { .. }
        | ConsentError::PurposeControl => {
            "give the purpose in one line of at most 1 KiB, e.g. --purpose \"Cardiology opinion\""
        }
        ConsentError::ReasonTooLong { .. } | ConsentError::ReasonControl => {
            "give the reason in one line of at most 1 KiB"
        }
        ConsentError::ExpiresInPast { .. } => {
            "give today or a later day with --expires, or leave it out for a consent valid until revoked"
        }
        ConsentError::InformedInFuture { .. } => {
            "give the day the patient was informed: today or earlier"
        }
        ConsentError::ClockOutOfRange => "check this machine's clock",
        _ => "check the values given",
    }
}

fn refusal_hint(r: ShareRefusal) -> &'static str {
    match r {
        ShareRefusal::WrongPatient => {
            "check --consent or --care-team and --patient-ins; `confrere consent list --patient-ins INS` lists the patient's consents"
        }
        ShareRefusal::RecipientNotNamed => {
            "cite a record that names this colleague, or record one: `confrere consent grant --patient-ins INS --to NATIONAL_ID --purpose TEXT`"
        }
        ShareRefusal::Expired { .. } => {
            "the consent is over: record a new one with the patient (`confrere consent grant …`)"
        }
        ShareRefusal::Revoked { .. } => {
            "the patient withdrew this consent: nothing more may be sent under it; only a new consent from the patient allows a new share"
        }
        ShareRefusal::InformedInFuture { .. } => {
            "the record gives a day after today: record the exchange again with the day the patient was informed (`confrere care-team record … --informed-on YYYY-MM-DD`)"
        }
        _ => "check this machine's clock",
    }
}
