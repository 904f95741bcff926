//! What allows a practitioner to share a patient's dossier, and the
//! decision whether one share is allowed.
//!
//! The French public health code (art. L1110-4) gives two grounds:
//!
//! - within the patient's **care team**, the information strictly needed
//!   for the care may be exchanged once the patient was informed and did
//!   not object: a [`CareTeamRecord`] says with whom and since when the
//!   patient knows;
//! - outside it, the patient's prior **consent** is needed, for a purpose,
//!   and may be withdrawn at any time: a [`Consent`] names the recipients,
//!   the purpose, an optional last day, and its revocation.
//!
//! Every send cites one record; [`check_share`] is the whole decision:
//!
//! ```text
//! check_share(basis, patient INS, recipient, now)
//!   WrongPatient       the record is about another patient
//!   Revoked { at }     the consent was withdrawn        (consents only)
//!   Expired { on }     its last day is past             (consents only)
//!   RecipientNotNamed  the recipient is not among those it names
//!   InformedInFuture   the patient is said to be informed after today
//!                                                       (care-team only)
//! ```
//!
//! The first failing check, in that order, is the refusal. A share that
//! passes them all gets a [`ShareApproval`]: the proof that it was checked
//! (which record, which patient, which recipient, when). Only
//! [`check_share`] makes one, and a node queues a dossier only with one,
//! so that a send without a checked basis does not compile. Days (an
//! expiry, the day the patient was informed) are read in French legal time
//! (see [`date`]): a consent that expires on 30 June covers sends until
//! midnight at the end of 30 June in Paris.
//!
//! The protocol decides; the node stores the records (see
//! [`Consent::encode`]) and asks. Time comes in as an argument.
//!
//! Records hold patient data (the INS, and free text that may name the
//! patient): `Debug` prints neither, and no error carries them.

pub mod date;
mod encoding;
mod share;

use std::collections::HashSet;
use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};
use time::Date;

use crate::codec::DecodeError;
use crate::dossier::{Ins, InsError, RandomError};
use crate::identity::{NationalId, NationalIdError};
use crate::time::UnixTime;

pub use date::{format_date, french_date, parse_date, DateError};
pub use share::{check_share, ShareApproval, ShareBasis, ShareBasisKind, ShareRefusal};

/// Longest purpose of a consent, in bytes of UTF-8.
pub const MAX_PURPOSE_LEN: usize = 1024;
/// Longest reason given for a revocation, in bytes of UTF-8.
pub const MAX_REASON_LEN: usize = 1024;
/// Most recipients one record may name.
pub const MAX_RECIPIENTS: usize = 64;

/// The identifier of a consent or a care-team record: 16 random bytes,
/// shown as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId(pub [u8; 16]);

impl RecordId {
    /// Length of the written form.
    pub const HEX_LEN: usize = 32;

    /// A fresh random identifier.
    pub fn random() -> Result<Self, RandomError> {
        let mut id = [0u8; 16];
        SystemRandom::new().fill(&mut id).map_err(|_| RandomError)?;
        Ok(RecordId(id))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses 32 hex digits (either case).
    pub fn parse_hex(s: &str) -> Result<Self, DecodeError> {
        crate::codec::parse_hex16(s)
            .map(RecordId)
            .ok_or(DecodeError::Invalid(
                "a consent or care-team record id is 32 hex digits",
            ))
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({self})")
    }
}

/// Why a consent or care-team record is refused, or cannot be revoked.
/// No variant carries an INS or free text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    /// No recipient is named.
    #[error("no recipient is named")]
    NoRecipient,
    /// More recipients than [`MAX_RECIPIENTS`].
    #[error("{count} recipients are named; at most {MAX_RECIPIENTS} may be")]
    TooManyRecipients {
        /// How many were named.
        count: usize,
    },
    /// A recipient is not a valid national id.
    #[error("recipient {position} is not a valid national id: {source}")]
    Recipient {
        /// Its position in the list, from 1.
        position: usize,
        /// What is wrong with it.
        source: NationalIdError,
    },
    /// A recipient is named twice.
    #[error("recipient {recipient} is named twice")]
    DuplicateRecipient {
        /// The recipient (a practitioner's id, not patient data).
        recipient: NationalId,
    },
    /// The purpose is empty or only white space.
    #[error("the purpose is empty")]
    PurposeEmpty,
    /// The purpose is longer than [`MAX_PURPOSE_LEN`] bytes.
    #[error("the purpose is {len} bytes long; at most {MAX_PURPOSE_LEN} are allowed")]
    PurposeTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The purpose holds a control character (a line break, an escape).
    #[error("the purpose holds a control character (a line break, a tab or an escape)")]
    PurposeControl,
    /// The revocation reason is longer than [`MAX_REASON_LEN`] bytes.
    #[error("the reason is {len} bytes long; at most {MAX_REASON_LEN} are allowed")]
    ReasonTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The revocation reason holds a control character.
    #[error("the reason holds a control character (a line break, a tab or an escape)")]
    ReasonControl,
    /// The consent's last day is already past.
    #[error("the expiry day {} is already past", format_date(*.on))]
    ExpiresInPast {
        /// The day given.
        on: Date,
    },
    /// The day the patient was informed is after today.
    #[error("the day the patient was informed, {}, is after today", format_date(*.on))]
    InformedInFuture {
        /// The day given.
        on: Date,
    },
    /// A day outside the years 0001 to 9999.
    #[error("a day is outside the years 0001 to 9999")]
    DateOutOfRange,
    /// The current time is outside the calendar's range.
    #[error("the current time is outside the calendar's range")]
    ClockOutOfRange,
    /// The consent was revoked already.
    #[error("the consent was already revoked on {at}")]
    AlreadyRevoked {
        /// When it was revoked.
        at: UnixTime,
    },
    /// Stored bytes are not a record of this kind.
    #[error("malformed consent or care-team record: {0}")]
    Malformed(#[from] DecodeError),
    /// The stored INS is not valid.
    #[error("the record's patient INS is invalid: {0}")]
    Ins(#[from] InsError),
}

/// Where a consent stands at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConsentState {
    /// It allows shares with the recipients it names.
    Active,
    /// The patient withdrew it.
    Revoked,
    /// Its last day is past.
    Expired,
}

impl ConsentState {
    /// `active`, `revoked` or `expired` (the API's spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentState::Active => "active",
            ConsentState::Revoked => "revoked",
            ConsentState::Expired => "expired",
        }
    }
}

impl fmt::Display for ConsentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The withdrawal of a consent. `Debug` does not print the reason.
#[derive(Clone, PartialEq, Eq)]
pub struct Revocation {
    /// When it was recorded.
    pub at: UnixTime,
    /// Why, as the practitioner wrote it (may name the patient).
    pub reason: Option<String>,
}

impl fmt::Debug for Revocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocation")
            .field("at", &self.at)
            .field("reason", &self.reason.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A patient's consent to share their dossier with named practitioners
/// for a purpose. `Debug` prints neither the INS nor the texts.
///
/// Build one with [`Consent::new`]; a consent read back from storage is
/// checked by [`Consent::decode`].
#[derive(Clone, PartialEq, Eq)]
pub struct Consent {
    /// Its identifier.
    pub id: RecordId,
    /// The patient.
    pub patient_ins: Ins,
    /// The practitioners it allows shares with, in the order given.
    pub recipients: Vec<NationalId>,
    /// What it is for, as the practitioner wrote it.
    pub purpose: String,
    /// When it was recorded.
    pub granted_at: UnixTime,
    /// Its last day (French legal time), if it has one.
    pub expires: Option<Date>,
    /// Its withdrawal, once withdrawn.
    pub revoked: Option<Revocation>,
}

impl fmt::Debug for Consent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consent")
            .field("id", &self.id)
            .field("patient_ins", &self.patient_ins)
            .field("recipients", &self.recipients)
            .field("purpose", &"<redacted>")
            .field("granted_at", &self.granted_at)
            .field("expires", &self.expires.map(format_date))
            .field("revoked", &self.revoked)
            .finish()
    }
}

impl Consent {
    /// A new consent, granted at `now`: at least one recipient, each a
    /// valid national id named once; a purpose (trimmed) of 1 to
    /// [`MAX_PURPOSE_LEN`] bytes without control characters; a last day,
    /// if any, that is today or later.
    pub fn new<S: AsRef<str>>(
        id: RecordId,
        patient_ins: Ins,
        recipients: &[S],
        purpose: &str,
        expires: Option<Date>,
        now: UnixTime,
    ) -> Result<Self, ConsentError> {
        let consent = Consent {
            id,
            patient_ins,
            recipients: parse_recipients(recipients)?,
            purpose: purpose.trim().to_owned(),
            granted_at: now,
            expires,
            revoked: None,
        };
        consent.validate()?;
        if let Some(on) = expires {
            let today = french_date(now).ok_or(ConsentError::ClockOutOfRange)?;
            if on < today {
                return Err(ConsentError::ExpiresInPast { on });
            }
        }
        Ok(consent)
    }

    /// Checks what must hold of any consent, new or stored: the
    /// recipients, the purpose, the day's range and the revocation reason.
    /// (Whether the last day is past is a matter of [`Consent::state`].)
    pub fn validate(&self) -> Result<(), ConsentError> {
        check_recipients(&self.recipients)?;
        check_purpose(&self.purpose)?;
        if self.expires.is_some_and(|d| !date::is_writable(d)) {
            return Err(ConsentError::DateOutOfRange);
        }
        if let Some(reason) = self.revoked.as_ref().and_then(|r| r.reason.as_deref()) {
            check_reason(reason)?;
        }
        Ok(())
    }

    /// Records the patient's withdrawal at `at`. A reason (trimmed; empty
    /// means none) is at most [`MAX_REASON_LEN`] bytes, without control
    /// characters. Refuses a consent already revoked.
    pub fn revoke(&mut self, at: UnixTime, reason: Option<&str>) -> Result<(), ConsentError> {
        if let Some(r) = &self.revoked {
            return Err(ConsentError::AlreadyRevoked { at: r.at });
        }
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if let Some(r) = reason {
            check_reason(r)?;
        }
        self.revoked = Some(Revocation {
            at,
            reason: reason.map(str::to_owned),
        });
        Ok(())
    }

    /// Where the consent stands at `now`: revoked, else expired once its
    /// last day is past, else active. A time outside the calendar's range
    /// counts as expired for a consent with a last day.
    pub fn state(&self, now: UnixTime) -> ConsentState {
        if self.revoked.is_some() {
            return ConsentState::Revoked;
        }
        match self.expires {
            Some(on) if french_date(now).is_none_or(|today| today > on) => ConsentState::Expired,
            _ => ConsentState::Active,
        }
    }

    /// Whether it names `recipient`.
    pub fn names(&self, recipient: &NationalId) -> bool {
        self.recipients.contains(recipient)
    }
}

/// A record that the patient was informed, on a day, that their
/// information would be exchanged within their care team with the named
/// practitioners, and did not object. `Debug` does not print the INS.
#[derive(Clone, PartialEq, Eq)]
pub struct CareTeamRecord {
    /// Its identifier.
    pub id: RecordId,
    /// The patient.
    pub patient_ins: Ins,
    /// The members of the care team shares may go to.
    pub recipients: Vec<NationalId>,
    /// The day the patient was informed (French legal time).
    pub informed_on: Date,
    /// When the record was made.
    pub recorded_at: UnixTime,
}

impl fmt::Debug for CareTeamRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CareTeamRecord")
            .field("id", &self.id)
            .field("patient_ins", &self.patient_ins)
            .field("recipients", &self.recipients)
            .field("informed_on", &format_date(self.informed_on))
            .field("recorded_at", &self.recorded_at)
            .finish()
    }
}

impl CareTeamRecord {
    /// A new record, made at `now`: at least one recipient, each a valid
    /// national id named once; the patient informed today or before.
    pub fn new<S: AsRef<str>>(
        id: RecordId,
        patient_ins: Ins,
        recipients: &[S],
        informed_on: Date,
        now: UnixTime,
    ) -> Result<Self, ConsentError> {
        let record = CareTeamRecord {
            id,
            patient_ins,
            recipients: parse_recipients(recipients)?,
            informed_on,
            recorded_at: now,
        };
        record.validate()?;
        let today = french_date(now).ok_or(ConsentError::ClockOutOfRange)?;
        if informed_on > today {
            return Err(ConsentError::InformedInFuture { on: informed_on });
        }
        Ok(record)
    }

    /// Checks what must hold of any record, new or stored.
    pub fn validate(&self) -> Result<(), ConsentError> {
        check_recipients(&self.recipients)?;
        if !date::is_writable(self.informed_on) {
            return Err(ConsentError::DateOutOfRange);
        }
        Ok(())
    }

    /// Whether it names `recipient`.
    pub fn names(&self, recipient: &NationalId) -> bool {
        self.recipients.contains(recipient)
    }
}

fn parse_recipients<S: AsRef<str>>(given: &[S]) -> Result<Vec<NationalId>, ConsentError> {
    if given.len() > MAX_RECIPIENTS {
        return Err(ConsentError::TooManyRecipients { count: given.len() });
    }
    given
        .iter()
        .enumerate()
        .map(|(i, s)| {
            NationalId::parse(s.as_ref().trim()).map_err(|source| ConsentError::Recipient {
                position: i + 1,
                source,
            })
        })
        .collect()
}

fn check_recipients(recipients: &[NationalId]) -> Result<(), ConsentError> {
    if recipients.is_empty() {
        return Err(ConsentError::NoRecipient);
    }
    if recipients.len() > MAX_RECIPIENTS {
        return Err(ConsentError::TooManyRecipients {
            count: recipients.len(),
        });
    }
    let mut seen = HashSet::with_capacity(recipients.len());
    // A `NationalId` exists only once parsed: no need to check each again.
    for r in recipients {
        if !seen.insert(r) {
            return Err(ConsentError::DuplicateRecipient {
                recipient: r.clone(),
            });
        }
    }
    Ok(())
}

fn check_purpose(purpose: &str) -> Result<(), ConsentError> {
    if purpose.trim().is_empty() {
        return Err(ConsentError::PurposeEmpty);
    }
    if purpose.len() > MAX_PURPOSE_LEN {
        return Err(ConsentError::PurposeTooLong { len: purpose.len() });
    }
    if purpose.chars().any(char::is_control) {
        return Err(ConsentError::PurposeControl);
    }
    Ok(())
}

fn check_reason(reason: &str) -> Result<(), ConsentError> {
    if reason.len() > MAX_REASON_LEN {
        return Err(ConsentError::ReasonTooLong { len: reason.len() });
    }
    if reason.chars().any(char::is_control) {
        return Err(ConsentError::ReasonControl);
    }
    Ok(())
}
