//! What a send takes and gives back: the dossier as the practitioner
//! typed it ([`Outgoing`]), and the dossier sealed and queued ([`Queued`]).

use std::path::PathBuf;

use confrere_protocol::dossier::DossierId;

/// A patient as the sender typed them; checked when the dossier is sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypedPatient {
    /// INS: 13-digit NIR + 2-digit key.
    pub ins: String,
    /// Family name.
    pub family: String,
    /// Given names.
    pub given: String,
    /// Birth date, `YYYY-MM-DD`.
    pub birth_date: String,
    /// `F`, `M` or `U`.
    pub sex: String,
}

/// A dossier to send, as given: nothing of it is checked yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// The recipient's national id.
    pub to: String,
    /// The patient.
    pub patient: TypedPatient,
    /// Reason for referral.
    pub reason: String,
    /// Urgent referral.
    pub urgent: bool,
    /// Letter text.
    pub letter: Option<String>,
    /// Documents, absolute paths.
    pub files: Vec<PathBuf>,
    /// The consent cited: its id or a unique prefix.
    pub consent: Option<String>,
    /// The care-team record cited: its id or a unique prefix.
    pub care_team: Option<String>,
}

/// A dossier sealed into the store and queued in the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    /// The dossier.
    pub id: DossierId,
    /// What the sender should know but did not stop the send.
    pub warnings: Vec<String>,
}
