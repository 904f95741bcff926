//! The local API's consent and care-team bodies (French public health
//! code, art. L1110-4): what `confrere consent …` and `confrere care-team
//! record` send to the daemon, and what it answers.
//!
//! Routes:
//!
//! ```text
//! POST /v1/consents                 GrantConsentRequest   → ConsentInfo
//! GET  /v1/consents?patient_ins=INS (filter optional)     → [ConsentInfo], newest first
//! GET  /v1/consents/{id}                                  → ConsentInfo
//! POST /v1/consents/{id}/revoke     RevokeConsentRequest  → ConsentInfo
//! POST /v1/care-team                CareTeamRequest       → CareTeamInfo
//! ```
//!
//! `{id}` is the record's 32 hex digits, or a unique prefix of at least 8.
//! Instants are RFC 3339, days `YYYY-MM-DD` (French legal time). Field
//! names are stable: scripts read them through `--json`.
//!
//! These bodies carry the patient's INS and free text that may name the
//! patient: their `Debug` prints neither.

use std::fmt;

use confrere_protocol::consent::{format_date, CareTeamRecord, Consent};
use confrere_protocol::UnixTime;
use serde::{Deserialize, Serialize};

use crate::daemon::revocation::SharedDossier;

const REDACTED: &str = "<redacted>";

fn redacted<T>(v: &Option<T>) -> Option<&'static str> {
    v.as_ref().map(|_| REDACTED)
}

/// `POST /v1/consents`: record a patient's consent.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GrantConsentRequest {
    /// The patient's INS: 13-digit NIR and its 2-digit key.
    pub patient_ins: String,
    /// The practitioners the patient allows shares with (national ids).
    pub recipients: Vec<String>,
    /// What the consent is for (at most 1 KiB).
    pub purpose: String,
    /// Its last day, `YYYY-MM-DD`; none: until revoked.
    #[serde(default)]
    pub expires: Option<String>,
}

impl fmt::Debug for GrantConsentRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrantConsentRequest")
            .field("patient_ins", &REDACTED)
            .field("recipients", &self.recipients)
            .field("purpose", &REDACTED)
            .field("expires", &self.expires)
            .finish()
    }
}

/// The query of `GET /v1/consents`.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConsentQuery {
    /// Only the consents of this patient (INS).
    #[serde(default)]
    pub patient_ins: Option<String>,
}

impl fmt::Debug for ConsentQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentQuery")
            .field("patient_ins", &redacted(&self.patient_ins))
            .finish()
    }
}

/// `POST /v1/consents/{id}/revoke`: the patient withdraws a consent.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RevokeConsentRequest {
    /// Why, if the practitioner says (at most 1 KiB).
    #[serde(default)]
    pub reason: Option<String>,
}

impl fmt::Debug for RevokeConsentRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevokeConsentRequest")
            .field("reason", &redacted(&self.reason))
            .finish()
    }
}

/// `POST /v1/care-team`: record that the patient was informed of an
/// exchange within their care team.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CareTeamRequest {
    /// The patient's INS.
    pub patient_ins: String,
    /// The members of the care team shares may go to (national ids).
    pub recipients: Vec<String>,
    /// The day the patient was informed, `YYYY-MM-DD`.
    pub informed_on: String,
}

impl fmt::Debug for CareTeamRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CareTeamRequest")
            .field("patient_ins", &REDACTED)
            .field("recipients", &self.recipients)
            .field("informed_on", &self.informed_on)
            .finish()
    }
}

/// A consent as the API shows it.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConsentInfo {
    /// The consent id, 32 hex digits.
    pub id: String,
    /// The patient's INS.
    pub patient_ins: String,
    /// The practitioners it allows shares with (national ids).
    pub recipients: Vec<String>,
    /// What it is for.
    pub purpose: String,
    /// When it was recorded (RFC 3339).
    pub granted_at: String,
    /// Its last day (`YYYY-MM-DD`), if any.
    pub expires: Option<String>,
    /// `active`, `revoked` or `expired`, at the time of the answer.
    pub state: String,
    /// When it was revoked (RFC 3339).
    pub revoked_at: Option<String>,
    /// Why, if a reason was given.
    pub revoke_reason: Option<String>,
    /// Each dossier shared under it and, once the consent is revoked, whether
    /// its recipient erased it.
    #[serde(default)]
    pub recipient_states: Vec<RecipientState>,
}

/// A dossier shared under a consent, and where its erasure stands.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecipientState {
    /// The recipient's national id.
    pub national_id: String,
    /// The dossier.
    pub dossier_id: String,
    /// `shared` (consent active), `pending` (revocation notice not yet
    /// acknowledged) or `erased` (signed erasure receipt in).
    pub state: String,
    /// When the erasure receipt arrived (RFC 3339).
    pub receipt_at: Option<String>,
    /// Whether the recipient held the dossier (false: never completed).
    pub held: Option<bool>,
    /// Why the notice has not reached it yet, if it tried.
    pub last_error: Option<String>,
}

impl RecipientState {
    /// The API's view of a dossier shared under a consent.
    pub(crate) fn of(shared: &SharedDossier) -> Self {
        RecipientState {
            national_id: shared.national_id.clone(),
            dossier_id: shared.dossier_id.clone(),
            state: shared.state.as_str().to_owned(),
            receipt_at: shared
                .receipt_at
                .map(|secs| UnixTime::from_secs(secs).to_rfc3339()),
            held: shared.held,
            last_error: shared.last_error.clone(),
        }
    }
}

impl fmt::Debug for ConsentInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentInfo")
            .field("id", &self.id)
            .field("patient_ins", &REDACTED)
            .field("recipients", &self.recipients)
            .field("purpose", &REDACTED)
            .field("granted_at", &self.granted_at)
            .field("expires", &self.expires)
            .field("state", &self.state)
            .field("revoked_at", &self.revoked_at)
            .field("revoke_reason", &redacted(&self.revoke_reason))
            .finish()
    }
}

impl ConsentInfo {
    /// The API's view of `consent`, its state taken at `now`.
    pub fn new(consent: &Consent, now: UnixTime) -> Self {
        ConsentInfo {
            id: consent.id.to_string(),
            patient_ins: consent.patient_ins.as_str().to_owned(),
            recipients: consent.recipients.iter().map(ToString::to_string).collect(),
            purpose: consent.purpose.clone(),
            granted_at: consent.granted_at.to_rfc3339(),
            expires: consent.expires.map(format_date),
            state: consent.state(now).as_str().to_owned(),
            revoked_at: consent.revoked.as_ref().map(|r| r.at.to_rfc3339()),
            revoke_reason: consent.revoked.as_ref().and_then(|r| r.reason.clone()),
            recipient_states: Vec::new(),
        }
    }
}

/// A care-team record as the API shows it.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CareTeamInfo {
    /// The record id, 32 hex digits.
    pub id: String,
    /// The patient's INS.
    pub patient_ins: String,
    /// The members of the care team shares may go to (national ids).
    pub recipients: Vec<String>,
    /// The day the patient was informed (`YYYY-MM-DD`).
    pub informed_on: String,
    /// When the record was made (RFC 3339).
    pub recorded_at: String,
}

impl fmt::Debug for CareTeamInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CareTeamInfo")
            .field("id", &self.id)
            .field("patient_ins", &REDACTED)
            .field("recipients", &self.recipients)
            .field("informed_on", &self.informed_on)
            .field("recorded_at", &self.recorded_at)
            .finish()
    }
}

impl CareTeamInfo {
    /// The API's view of `record`.
    pub fn new(record: &CareTeamRecord) -> Self {
        CareTeamInfo {
            id: record.id.to_string(),
            patient_ins: record.patient_ins.as_str().to_owned(),
            recipients: record.recipients.iter().map(ToString::to_string).collect(),
            informed_on: format_date(record.informed_on),
            recorded_at: record.recorded_at.to_rfc3339(),
        }
    }
}
