//! What a ledger entry records: one [`EntryKind`] per event an audit needs,
//! with the identifiers of who, which patient and which dossier, and never
//! any document content.
//!
//! Encoding of the kind inside an entry (integers big-endian):
//!
//! ```text
//! kind        = tag:u8 | fields
//! national_id = bytes8 (≤ 32, a valid national id)
//! name, text  = bytes16 (UTF-8, ≤ 1,024 bytes)
//! ins         = [15] (a valid INS)
//! date        = [10] (YYYY-MM-DD, a real calendar day)
//! recipients  = count:u8 (1..=64) | national_id × count
//! basis       = tag:u8 (1 consent, 2 care team, 3 reply) | id:[16]
//! receipt     = bytes16 (≤ 4,096)
//!
//!  0 genesis                   national_id | name | peer_id:bytes8 (≤ 64)
//!  1 consent granted           consent_id:[16] | ins | recipients | purpose:text
//!                              | expires:u8 (0, or 1 then date)
//!  2 consent revoked           consent_id:[16] | reason:text
//!  3 care team recorded        record_id:[16] | ins | recipients | informed_on:date
//!  4 dossier sent              dossier_id:[16] | ins | to:national_id | basis
//!  5 dossier delivered         dossier_id:[16] | to:national_id | receipt
//!  6 dossier received          dossier_id:[16] | ins | from:national_id | from_name:name
//!  7 dossier opened            dossier_id:[16] | ins | by:national_id
//!  8 dossier exported          dossier_id:[16] | ins | files:u32
//!  9 dossier erased            dossier_id:[16] | ins | reason:text
//! 10 revocation sent           consent_id:[16] | dossier_id:[16] | to:national_id
//! 11 revocation received       consent_id:[16] | dossier_id:[16] | from:national_id
//! 12 erasure receipt received  dossier_id:[16] | from:national_id | receipt
//! 13 retention purge           dossier_id:[16] | ins
//! 14 credential renewed        old_cert_sha256:[32] | old_not_after:i64
//!                              | new_cert_sha256:[32] | new_not_after:i64
//! ```
//!
//! Every field is checked when an entry is made and again when it is
//! decoded, so the encoding is canonical: a decoded entry encodes back to
//! the same bytes, and its hash is the one its node signed.
//!
//! The patient's INS, the names and the free texts are patient data:
//! `Debug` prints the kind's name and identifiers only.

use std::fmt;

use crate::codec::{DecodeError, Reader, Writer};
use crate::credential::MAX_PEER_ID;
use crate::dossier::ins::Ins;
use crate::dossier::manifest::DossierId;
use crate::time::UnixTime;

use super::fields::{
    basis, check_date, check_national_id, check_receipt, check_recipients, check_text, date, ins,
    national_id, recipients, text, write_recipients,
};

/// Longest practitioner name, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 1024;
/// Longest free text (a consent's purpose, a revocation's or erasure's reason).
pub const MAX_TEXT_LEN: usize = 1024;
/// Most recipients a consent or a care-team record names.
pub const MAX_RECIPIENTS: usize = 64;
/// Longest encoded receipt kept in an entry (delivery or erasure receipt).
pub const MAX_ENTRY_RECEIPT_LEN: usize = 4096;
/// Length of a date, `YYYY-MM-DD`.
pub const DATE_LEN: usize = 10;

/// The record a share rests on (French public health code, art. L1110-4).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShareBasis {
    /// The patient's prior consent, by its id.
    Consent([u8; 16]),
    /// An exchange within the care team the patient was informed of, by
    /// its record's id.
    CareTeam([u8; 16]),
    /// The answer to a referral this node received: the referral's dossier.
    Reply(DossierId),
}

impl ShareBasis {
    fn tag(&self) -> u8 {
        match self {
            ShareBasis::Consent(_) => 1,
            ShareBasis::CareTeam(_) => 2,
            ShareBasis::Reply(_) => 3,
        }
    }

    /// `consent`, `care_team` or `reply`.
    pub fn name(&self) -> &'static str {
        match self {
            ShareBasis::Consent(_) => "consent",
            ShareBasis::CareTeam(_) => "care_team",
            ShareBasis::Reply(_) => "reply",
        }
    }

    /// The id of the record (or of the referral) cited.
    pub fn id(&self) -> [u8; 16] {
        match self {
            ShareBasis::Consent(id) | ShareBasis::CareTeam(id) => *id,
            ShareBasis::Reply(d) => d.0,
        }
    }
}

impl fmt::Debug for ShareBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name(), hex16(&self.id()))
    }
}

/// What a ledger entry records. Each variant holds what an audit needs —
/// who, which patient, which dossier, on which record — and no document
/// content.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryKind {
    /// The first entry: the practitioner the node serves, and the node.
    Genesis {
        /// The practitioner's national id.
        national_id: String,
        /// The practitioner's name, as the certificate gives it.
        name: String,
        /// The node's libp2p PeerId, whose key signs the ledger.
        peer_id: Vec<u8>,
    },
    /// The patient consented to sharing with the named practitioners.
    ConsentGranted {
        /// The consent's id.
        consent_id: [u8; 16],
        /// The patient.
        patient_ins: Ins,
        /// The practitioners the patient consented to share with.
        recipients: Vec<String>,
        /// What for.
        purpose: String,
        /// Last day of validity (`YYYY-MM-DD`), if any.
        expires: Option<String>,
    },
    /// The patient withdrew a consent.
    ConsentRevoked {
        /// The consent's id.
        consent_id: [u8; 16],
        /// Why, as recorded (may be empty).
        reason: String,
    },
    /// An exchange within the care team, the patient having been informed.
    CareTeamRecorded {
        /// The record's id.
        record_id: [u8; 16],
        /// The patient.
        patient_ins: Ins,
        /// The care-team members the exchange is with.
        recipients: Vec<String>,
        /// The day the patient was informed (`YYYY-MM-DD`).
        informed_on: String,
    },
    /// This node sealed a dossier and queued it for a colleague.
    DossierSent {
        /// The dossier.
        dossier_id: DossierId,
        /// The patient.
        patient_ins: Ins,
        /// The recipient's national id.
        to: String,
        /// The record the share rests on.
        basis: ShareBasis,
    },
    /// The recipient's node acknowledged a dossier with its signed receipt.
    DossierDelivered {
        /// The dossier.
        dossier_id: DossierId,
        /// The recipient's national id.
        to: String,
        /// The encoded, signed delivery receipt.
        receipt: Vec<u8>,
    },
    /// This node received, verified and stored a dossier.
    DossierReceived {
        /// The dossier.
        dossier_id: DossierId,
        /// The patient.
        patient_ins: Ins,
        /// The sender's national id, as its session verified it.
        from: String,
        /// The sender's name, from its certificate.
        from_name: String,
    },
    /// A practitioner opened (read) a received dossier.
    DossierOpened {
        /// The dossier.
        dossier_id: DossierId,
        /// The patient.
        patient_ins: Ins,
        /// Who opened it (national id).
        by: String,
    },
    /// A received dossier's documents were written out of the store.
    DossierExported {
        /// The dossier.
        dossier_id: DossierId,
        /// The patient.
        patient_ins: Ins,
        /// How many files were written.
        files: u32,
    },
    /// A dossier was erased from this node (its key destroyed).
    DossierErased {
        /// The dossier.
        dossier_id: DossierId,
        /// The patient.
        patient_ins: Ins,
        /// Why (a revocation, the user's request …).
        reason: String,
    },
    /// A revocation notice went to a node that received a dossier under
    /// the consent.
    RevocationSent {
        /// The consent withdrawn.
        consent_id: [u8; 16],
        /// The dossier shared under it.
        dossier_id: DossierId,
        /// The recipient's national id.
        to: String,
    },
    /// A sender's revocation notice reached this node.
    RevocationReceived {
        /// The consent withdrawn.
        consent_id: [u8; 16],
        /// The dossier to erase.
        dossier_id: DossierId,
        /// The sender's national id.
        from: String,
    },
    /// A recipient's signed erasure receipt reached this node.
    ErasureReceiptReceived {
        /// The dossier erased.
        dossier_id: DossierId,
        /// The recipient's national id.
        from: String,
        /// The encoded, signed erasure receipt.
        receipt: Vec<u8>,
    },
    /// A dossier was erased at the end of its retention period.
    RetentionPurge {
        /// The dossier.
        dossier_id: DossierId,
        /// The patient.
        patient_ins: Ins,
    },
    /// The node renewed its credential with the practitioner's new card
    /// certificate (same practitioner, same node keys).
    CredentialRenewed {
        /// SHA-256 of the DER of the certificate the old credential carried.
        old_fingerprint: [u8; 32],
        /// End of the old credential's validity.
        old_not_after: UnixTime,
        /// SHA-256 of the DER of the new certificate.
        new_fingerprint: [u8; 32],
        /// End of the new credential's validity.
        new_not_after: UnixTime,
    },
}

impl fmt::Debug for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct(self.name());
        if let Some(id) = self.dossier_id() {
            d.field("dossier_id", &id);
        }
        if let Some(id) = self.consent_id() {
            d.field("consent_id", &format_args!("{}", hex16(&id)));
        }
        d.finish_non_exhaustive()
    }
}

fn hex16(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

impl EntryKind {
    /// The kind's stable name (`genesis`, `consent_granted`, `dossier_sent` …),
    /// as JSON output uses it.
    pub fn name(&self) -> &'static str {
        match self {
            EntryKind::Genesis { .. } => "genesis",
            EntryKind::ConsentGranted { .. } => "consent_granted",
            EntryKind::ConsentRevoked { .. } => "consent_revoked",
            EntryKind::CareTeamRecorded { .. } => "care_team_recorded",
            EntryKind::DossierSent { .. } => "dossier_sent",
            EntryKind::DossierDelivered { .. } => "dossier_delivered",
            EntryKind::DossierReceived { .. } => "dossier_received",
            EntryKind::DossierOpened { .. } => "dossier_opened",
            EntryKind::DossierExported { .. } => "dossier_exported",
            EntryKind::DossierErased { .. } => "dossier_erased",
            EntryKind::RevocationSent { .. } => "revocation_sent",
            EntryKind::RevocationReceived { .. } => "revocation_received",
            EntryKind::ErasureReceiptReceived { .. } => "erasure_receipt_received",
            EntryKind::RetentionPurge { .. } => "retention_purge",
            EntryKind::CredentialRenewed { .. } => "credential_renewed",
        }
    }

    fn tag(&self) -> u8 {
        match self {
            EntryKind::Genesis { .. } => 0,
            EntryKind::ConsentGranted { .. } => 1,
            EntryKind::ConsentRevoked { .. } => 2,
            EntryKind::CareTeamRecorded { .. } => 3,
            EntryKind::DossierSent { .. } => 4,
            EntryKind::DossierDelivered { .. } => 5,
            EntryKind::DossierReceived { .. } => 6,
            EntryKind::DossierOpened { .. } => 7,
            EntryKind::DossierExported { .. } => 8,
            EntryKind::DossierErased { .. } => 9,
            EntryKind::RevocationSent { .. } => 10,
            EntryKind::RevocationReceived { .. } => 11,
            EntryKind::ErasureReceiptReceived { .. } => 12,
            EntryKind::RetentionPurge { .. } => 13,
            EntryKind::CredentialRenewed { .. } => 14,
        }
    }

    /// The patient the entry is about, when the entry names one.
    pub fn patient_ins(&self) -> Option<&Ins> {
        match self {
            EntryKind::ConsentGranted { patient_ins, .. }
            | EntryKind::CareTeamRecorded { patient_ins, .. }
            | EntryKind::DossierSent { patient_ins, .. }
            | EntryKind::DossierReceived { patient_ins, .. }
            | EntryKind::DossierOpened { patient_ins, .. }
            | EntryKind::DossierExported { patient_ins, .. }
            | EntryKind::DossierErased { patient_ins, .. }
            | EntryKind::RetentionPurge { patient_ins, .. } => Some(patient_ins),
            _ => None,
        }
    }

    /// The dossier the entry is about, when it names one.
    pub fn dossier_id(&self) -> Option<DossierId> {
        match self {
            EntryKind::DossierSent { dossier_id, .. }
            | EntryKind::DossierDelivered { dossier_id, .. }
            | EntryKind::DossierReceived { dossier_id, .. }
            | EntryKind::DossierOpened { dossier_id, .. }
            | EntryKind::DossierExported { dossier_id, .. }
            | EntryKind::DossierErased { dossier_id, .. }
            | EntryKind::RevocationSent { dossier_id, .. }
            | EntryKind::RevocationReceived { dossier_id, .. }
            | EntryKind::ErasureReceiptReceived { dossier_id, .. }
            | EntryKind::RetentionPurge { dossier_id, .. } => Some(*dossier_id),
            _ => None,
        }
    }

    /// The consent (or care-team record) the entry is about, when it names
    /// one: the record itself, or the record a share cites.
    pub fn consent_id(&self) -> Option<[u8; 16]> {
        match self {
            EntryKind::ConsentGranted { consent_id, .. }
            | EntryKind::ConsentRevoked { consent_id, .. }
            | EntryKind::RevocationSent { consent_id, .. }
            | EntryKind::RevocationReceived { consent_id, .. } => Some(*consent_id),
            EntryKind::CareTeamRecorded { record_id, .. } => Some(*record_id),
            EntryKind::DossierSent {
                basis: ShareBasis::Consent(id) | ShareBasis::CareTeam(id),
                ..
            } => Some(*id),
            _ => None,
        }
    }

    /// Checks every field against its domain and bounds.
    pub fn check(&self) -> Result<(), DecodeError> {
        match self {
            EntryKind::Genesis {
                national_id,
                name,
                peer_id,
            } => {
                check_national_id(national_id, "genesis national id")?;
                check_text(name, MAX_NAME_LEN, "genesis name")?;
                if peer_id.is_empty() || peer_id.len() > MAX_PEER_ID {
                    return Err(DecodeError::Invalid("genesis peer id"));
                }
            }
            EntryKind::ConsentGranted {
                recipients,
                purpose,
                expires,
                ..
            } => {
                check_recipients(recipients)?;
                check_text(purpose, MAX_TEXT_LEN, "consent purpose")?;
                if let Some(d) = expires {
                    check_date(d, "consent expiry date")?;
                }
            }
            EntryKind::ConsentRevoked { reason, .. } => {
                check_text(reason, MAX_TEXT_LEN, "revocation reason")?;
            }
            EntryKind::CareTeamRecorded {
                recipients,
                informed_on,
                ..
            } => {
                check_recipients(recipients)?;
                check_date(informed_on, "care-team information date")?;
            }
            EntryKind::DossierSent { to, .. } => check_national_id(to, "recipient national id")?,
            EntryKind::DossierDelivered { to, receipt, .. } => {
                check_national_id(to, "recipient national id")?;
                check_receipt(receipt)?;
            }
            EntryKind::DossierReceived {
                from, from_name, ..
            } => {
                check_national_id(from, "sender national id")?;
                check_text(from_name, MAX_NAME_LEN, "sender name")?;
            }
            EntryKind::DossierOpened { by, .. } => check_national_id(by, "reader national id")?,
            EntryKind::DossierExported { .. }
            | EntryKind::RetentionPurge { .. }
            | EntryKind::CredentialRenewed { .. } => {}
            EntryKind::DossierErased { reason, .. } => {
                check_text(reason, MAX_TEXT_LEN, "erasure reason")?;
            }
            EntryKind::RevocationSent { to, .. } => {
                check_national_id(to, "recipient national id")?;
            }
            EntryKind::RevocationReceived { from, .. } => {
                check_national_id(from, "sender national id")?;
            }
            EntryKind::ErasureReceiptReceived { from, receipt, .. } => {
                check_national_id(from, "recipient national id")?;
                check_receipt(receipt)?;
            }
        }
        Ok(())
    }

    /// Appends the kind's encoding. The fields must have passed
    /// [`check`](EntryKind::check): out-of-bounds lengths would be cut.
    pub(crate) fn write(&self, w: &mut Writer) {
        w.u8(self.tag());
        match self {
            EntryKind::Genesis {
                national_id,
                name,
                peer_id,
            } => {
                w.bytes8(national_id.as_bytes())
                    .bytes16(name.as_bytes())
                    .bytes8(peer_id);
            }
            EntryKind::ConsentGranted {
                consent_id,
                patient_ins,
                recipients,
                purpose,
                expires,
            } => {
                w.raw(consent_id).raw(patient_ins.as_str().as_bytes());
                write_recipients(w, recipients);
                w.bytes16(purpose.as_bytes());
                match expires {
                    None => w.u8(0),
                    Some(d) => w.u8(1).raw(d.as_bytes()),
                };
            }
            EntryKind::ConsentRevoked { consent_id, reason } => {
                w.raw(consent_id).bytes16(reason.as_bytes());
            }
            EntryKind::CareTeamRecorded {
                record_id,
                patient_ins,
                recipients,
                informed_on,
            } => {
                w.raw(record_id).raw(patient_ins.as_str().as_bytes());
                write_recipients(w, recipients);
                w.raw(informed_on.as_bytes());
            }
            EntryKind::DossierSent {
                dossier_id,
                patient_ins,
                to,
                basis,
            } => {
                w.raw(dossier_id.as_bytes())
                    .raw(patient_ins.as_str().as_bytes())
                    .bytes8(to.as_bytes())
                    .u8(basis.tag())
                    .raw(&basis.id());
            }
            EntryKind::DossierDelivered {
                dossier_id,
                to,
                receipt,
            } => {
                w.raw(dossier_id.as_bytes())
                    .bytes8(to.as_bytes())
                    .bytes16(receipt);
            }
            EntryKind::DossierReceived {
                dossier_id,
                patient_ins,
                from,
                from_name,
            } => {
                w.raw(dossier_id.as_bytes())
                    .raw(patient_ins.as_str().as_bytes())
                    .bytes8(from.as_bytes())
                    .bytes16(from_name.as_bytes());
            }
            EntryKind::DossierOpened {
                dossier_id,
                patient_ins,
                by,
            } => {
                w.raw(dossier_id.as_bytes())
                    .raw(patient_ins.as_str().as_bytes())
                    .bytes8(by.as_bytes());
            }
            EntryKind::DossierExported {
                dossier_id,
                patient_ins,
                files,
            } => {
                w.raw(dossier_id.as_bytes())
                    .raw(patient_ins.as_str().as_bytes())
                    .u32(*files);
            }
            EntryKind::DossierErased {
                dossier_id,
                patient_ins,
                reason,
            } => {
                w.raw(dossier_id.as_bytes())
                    .raw(patient_ins.as_str().as_bytes())
                    .bytes16(reason.as_bytes());
            }
            EntryKind::RevocationSent {
                consent_id,
                dossier_id,
                to,
            } => {
                w.raw(consent_id)
                    .raw(dossier_id.as_bytes())
                    .bytes8(to.as_bytes());
            }
            EntryKind::RevocationReceived {
                consent_id,
                dossier_id,
                from,
            } => {
                w.raw(consent_id)
                    .raw(dossier_id.as_bytes())
                    .bytes8(from.as_bytes());
            }
            EntryKind::ErasureReceiptReceived {
                dossier_id,
                from,
                receipt,
            } => {
                w.raw(dossier_id.as_bytes())
                    .bytes8(from.as_bytes())
                    .bytes16(receipt);
            }
            EntryKind::RetentionPurge {
                dossier_id,
                patient_ins,
            } => {
                w.raw(dossier_id.as_bytes())
                    .raw(patient_ins.as_str().as_bytes());
            }
            EntryKind::CredentialRenewed {
                old_fingerprint,
                old_not_after,
                new_fingerprint,
                new_not_after,
            } => {
                w.raw(old_fingerprint)
                    .i64(old_not_after.as_secs())
                    .raw(new_fingerprint)
                    .i64(new_not_after.as_secs());
            }
        }
    }

    /// Reads a kind and checks its fields.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<EntryKind, DecodeError> {
        let tag = r.u8()?;
        let kind = match tag {
            0 => EntryKind::Genesis {
                national_id: national_id(r)?,
                name: text(r, MAX_NAME_LEN, "genesis name")?,
                peer_id: r.bytes8(MAX_PEER_ID)?.to_vec(),
            },
            1 => EntryKind::ConsentGranted {
                consent_id: r.array()?,
                patient_ins: ins(r)?,
                recipients: recipients(r)?,
                purpose: text(r, MAX_TEXT_LEN, "consent purpose")?,
                expires: match r.u8()? {
                    0 => None,
                    1 => Some(date(r)?),
                    other => return Err(DecodeError::UnknownTag(other)),
                },
            },
            2 => EntryKind::ConsentRevoked {
                consent_id: r.array()?,
                reason: text(r, MAX_TEXT_LEN, "revocation reason")?,
            },
            3 => EntryKind::CareTeamRecorded {
                record_id: r.array()?,
                patient_ins: ins(r)?,
                recipients: recipients(r)?,
                informed_on: date(r)?,
            },
            4 => EntryKind::DossierSent {
                dossier_id: DossierId(r.array()?),
                patient_ins: ins(r)?,
                to: national_id(r)?,
                basis: basis(r)?,
            },
            5 => EntryKind::DossierDelivered {
                dossier_id: DossierId(r.array()?),
                to: national_id(r)?,
                receipt: r.bytes16(MAX_ENTRY_RECEIPT_LEN)?.to_vec(),
            },
            6 => EntryKind::DossierReceived {
                dossier_id: DossierId(r.array()?),
                patient_ins: ins(r)?,
                from: national_id(r)?,
                from_name: text(r, MAX_NAME_LEN, "sender name")?,
            },
            7 => EntryKind::DossierOpened {
                dossier_id: DossierId(r.array()?),
                patient_ins: ins(r)?,
                by: national_id(r)?,
            },
            8 => EntryKind::DossierExported {
                dossier_id: DossierId(r.array()?),
                patient_ins: ins(r)?,
                files: r.u32()?,
            },
            9 => EntryKind::DossierErased {
                dossier_id: DossierId(r.array()?),
                patient_ins: ins(r)?,
                reason: text(r, MAX_TEXT_LEN, "erasure reason")?,
            },
            10 => EntryKind::RevocationSent {
                consent_id: r.array()?,
                dossier_id: DossierId(r.array()?),
                to: national_id(r)?,
            },
            11 => EntryKind::RevocationReceived {
                consent_id: r.array()?,
                dossier_id: DossierId(r.array()?),
                from: national_id(r)?,
            },
            12 => EntryKind::ErasureReceiptReceived {
                dossier_id: DossierId(r.array()?),
                from: national_id(r)?,
                receipt: r.bytes16(MAX_ENTRY_RECEIPT_LEN)?.to_vec(),
            },
            13 => EntryKind::RetentionPurge {
                dossier_id: DossierId(r.array()?),
                patient_ins: ins(r)?,
            },
            14 => EntryKind::CredentialRenewed {
                old_fingerprint: r.array()?,
                old_not_after: UnixTime::from_secs(r.i64()?),
                new_fingerprint: r.array()?,
                new_not_after: UnixTime::from_secs(r.i64()?),
            },
            other => return Err(DecodeError::UnknownTag(other)),
        };
        kind.check()?;
        Ok(kind)
    }
}
