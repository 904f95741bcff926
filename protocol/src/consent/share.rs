//! The share decision: whether a record allows one share, and the proof
//! ([`ShareApproval`]) of a share that was checked (see the flow in the
//! module above).

use time::Date;

use super::date::{format_date, french_date};
use super::{CareTeamRecord, Consent, RecordId};
use crate::dossier::Ins;
use crate::identity::NationalId;
use crate::time::UnixTime;

/// The record a share cites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShareBasis<'a> {
    /// The patient's consent.
    Consent(&'a Consent),
    /// An exchange within the care team the patient was informed of.
    CareTeam(&'a CareTeamRecord),
}

impl ShareBasis<'_> {
    /// The record's kind.
    pub fn kind(&self) -> ShareBasisKind {
        match self {
            ShareBasis::Consent(_) => ShareBasisKind::Consent,
            ShareBasis::CareTeam(_) => ShareBasisKind::CareTeam,
        }
    }

    /// The record's id.
    pub fn id(&self) -> RecordId {
        match self {
            ShareBasis::Consent(c) => c.id,
            ShareBasis::CareTeam(t) => t.id,
        }
    }

    /// The patient it is about.
    pub fn patient_ins(&self) -> &Ins {
        match self {
            ShareBasis::Consent(c) => &c.patient_ins,
            ShareBasis::CareTeam(t) => &t.patient_ins,
        }
    }

    /// The practitioners it allows shares with.
    pub fn recipients(&self) -> &[NationalId] {
        match self {
            ShareBasis::Consent(c) => &c.recipients,
            ShareBasis::CareTeam(t) => &t.recipients,
        }
    }
}

/// Why a share is not allowed by the record it cites. No variant carries
/// patient data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShareRefusal {
    /// The record is about another patient.
    #[error("the record is about another patient")]
    WrongPatient,
    /// The recipient is not among the practitioners the record names.
    #[error("the record does not name the recipient")]
    RecipientNotNamed,
    /// The consent's last day is past.
    #[error("the consent expired at the end of {}", format_date(*.on))]
    Expired {
        /// Its last day.
        on: Date,
    },
    /// The patient withdrew the consent.
    #[error("the consent was revoked on {at}")]
    Revoked {
        /// When.
        at: UnixTime,
    },
    /// The care-team record says the patient was informed after today.
    #[error("the record says the patient was informed on {}, after today", format_date(*.on))]
    InformedInFuture {
        /// The day it gives.
        on: Date,
    },
    /// The current time is outside the calendar's range: no day-based
    /// check can be made, so the share is refused.
    #[error("the current time is outside the calendar's range")]
    ClockOutOfRange,
}

/// The kind of record a share rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShareBasisKind {
    /// The patient's consent.
    Consent,
    /// An exchange within the care team the patient was informed of.
    CareTeam,
}

/// Proof that a share was checked and allowed: the record it rests on, the
/// patient, the recipient and when. Only [`check_share`] makes one: its
/// fields are private and it cannot be read from bytes, so holding one
/// means the decision was made. `Debug` does not print the INS.
///
/// It cannot be built elsewhere:
///
/// ```compile_fail
/// use confrere_protocol::consent::{RecordId, ShareApproval, ShareBasisKind};
/// use confrere_protocol::dossier::Ins;
/// use confrere_protocol::{NationalId, UnixTime};
///
/// let forged = ShareApproval {
///     kind: ShareBasisKind::Consent,
///     basis_id: RecordId([7; 16]),
///     patient: Ins::parse("269054958815780").expect("ins"),
///     recipient: NationalId::parse("810002000015").expect("id"),
///     at: UnixTime::from_secs(1_750_000_000),
/// };
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a share approval is the proof a dossier may be queued"]
pub struct ShareApproval {
    kind: ShareBasisKind,
    basis_id: RecordId,
    patient: Ins,
    recipient: NationalId,
    at: UnixTime,
}

impl ShareApproval {
    /// The kind of record the share rests on.
    pub fn kind(&self) -> ShareBasisKind {
        self.kind
    }

    /// The id of the record the share rests on.
    pub fn basis_id(&self) -> RecordId {
        self.basis_id
    }

    /// The patient whose dossier may be shared.
    pub fn patient(&self) -> &Ins {
        &self.patient
    }

    /// The practitioner it may be shared with.
    pub fn recipient(&self) -> &NationalId {
        &self.recipient
    }

    /// When the share was checked.
    pub fn at(&self) -> UnixTime {
        self.at
    }
}

/// Decides whether `basis` allows sharing `patient`'s dossier with
/// `recipient` at `now`. The checks run in the order the module
/// documentation gives; the first that fails is the answer. Allowed, the
/// answer is the [`ShareApproval`] a dossier is queued with.
pub fn check_share(
    basis: &ShareBasis<'_>,
    patient: &Ins,
    recipient: &NationalId,
    now: UnixTime,
) -> Result<ShareApproval, ShareRefusal> {
    if basis.patient_ins() != patient {
        return Err(ShareRefusal::WrongPatient);
    }
    let today = french_date(now);
    if let ShareBasis::Consent(c) = basis {
        if let Some(r) = &c.revoked {
            return Err(ShareRefusal::Revoked { at: r.at });
        }
        if let Some(on) = c.expires {
            match today {
                None => return Err(ShareRefusal::ClockOutOfRange),
                Some(today) if today > on => return Err(ShareRefusal::Expired { on }),
                Some(_) => {}
            }
        }
    }
    if !basis.recipients().contains(recipient) {
        return Err(ShareRefusal::RecipientNotNamed);
    }
    if let ShareBasis::CareTeam(t) = basis {
        match today {
            None => return Err(ShareRefusal::ClockOutOfRange),
            Some(today) if t.informed_on > today => {
                return Err(ShareRefusal::InformedInFuture { on: t.informed_on })
            }
            Some(_) => {}
        }
    }
    Ok(ShareApproval {
        kind: basis.kind(),
        basis_id: basis.id(),
        patient: patient.clone(),
        recipient: recipient.clone(),
        at: now,
    })
}
