//! The manifest: what a dossier is (who sends it to whom, about which
//! patient, why) and which documents follow it in the sealed content.
//!
//! Flow: the sender's node makes a first pass over the attached files to
//! fill the [`DocumentEntry`] list (sanitized name, media type, size,
//! SHA-256), builds the [`Manifest`] and hands it to the
//! [`ContentSealer`](super::ContentSealer), which encodes it at the head of
//! the content and checks each document against its entry while sealing.
//! The recipient's [`ContentOpener`](super::ContentOpener) decodes it from
//! the first chunks; [`Manifest::decode`] checks every field, so a decoded
//! manifest is always well-formed.
//!
//! Encoding (integers big-endian):
//!
//! ```text
//! manifest  = version:u8 (=1) | dossier_id:[16] | from:bytes8 (≤ 32) | to:bytes8 (≤ 32)
//!           | created_at:i64
//!           | ins:[15] | family:bytes8 | given:bytes8 | birth_date:[10] (YYYY-MM-DD)
//!           | sex:u8 ('F' | 'M' | 'U')
//!           | reason:bytes16 (≤ 4,096) | urgent:u8 (0 | 1) | letter:bytes32 (≤ 262,144)
//!           | in_reply_to:u8 (0, or 1 followed by dossier_id:[16])
//!           | document_count:u16 (≤ 1,000) | document × document_count
//! document  = name:bytes8 | media_type:bytes8 (≤ 127) | size:u64 | sha256:[32]
//! ```
//!
//! Names, reason, letter and patient data are patient data: `Debug` prints
//! none of them and errors name the field, never its value.

use std::collections::HashSet;
use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};

use super::ins::{Ins, InsError, INS_LEN};
use super::names::{sanitize_document_name, NameError, MAX_DOCUMENT_NAME_LEN};
use super::patient::{BirthDate, Patient, PatientError, Sex, MAX_NAME_LEN};
use super::RandomError;
use crate::codec::{DecodeError, Reader, Writer};
use crate::identity::{NationalId, NationalIdError};
use crate::time::UnixTime;

/// The manifest format version.
pub const MANIFEST_VERSION: u8 = 1;
/// Longest national id in `from` and `to`.
pub const MAX_NATIONAL_ID_LEN: usize = 32;
/// Longest referral reason, in bytes of UTF-8.
pub const MAX_REASON_LEN: usize = 4 * 1024;
/// Longest referral letter, in bytes of UTF-8.
pub const MAX_LETTER_LEN: usize = 256 * 1024;
/// Longest media type.
pub const MAX_MEDIA_TYPE_LEN: usize = 127;
/// Most documents in a dossier.
pub const MAX_DOCUMENTS: usize = 1000;
/// Longest encoded manifest: every field at its bound.
pub const MAX_MANIFEST_LEN: usize = 1
    + 16
    + 2 * (1 + MAX_NATIONAL_ID_LEN)
    + 8
    + INS_LEN
    + 2 * (1 + MAX_NAME_LEN)
    + BirthDate::LEN
    + 1
    + (2 + MAX_REASON_LEN)
    + 1
    + (4 + MAX_LETTER_LEN)
    + (1 + 16)
    + 2
    + MAX_DOCUMENTS * (1 + MAX_DOCUMENT_NAME_LEN + 1 + MAX_MEDIA_TYPE_LEN + 8 + 32);

/// A dossier's identifier: 16 random bytes, shown as 32 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DossierId(pub [u8; 16]);

impl DossierId {
    /// A fresh random identifier.
    pub fn random() -> Result<Self, RandomError> {
        let mut id = [0u8; 16];
        SystemRandom::new().fill(&mut id).map_err(|_| RandomError)?;
        Ok(DossierId(id))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses 32 hex digits (either case).
    pub fn parse_hex(s: &str) -> Result<Self, DecodeError> {
        crate::codec::parse_hex16(s)
            .map(DossierId)
            .ok_or(DecodeError::Invalid("a dossier id is 32 hex digits"))
    }
}

impl fmt::Display for DossierId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for DossierId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DossierId({self})")
    }
}

/// Why a manifest is refused. No variant carries patient data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The bytes are not a manifest.
    #[error("malformed manifest: {0}")]
    Malformed(#[from] DecodeError),
    /// A manifest version this implementation does not speak.
    #[error("unsupported manifest version {0}")]
    Version(u8),
    /// The sender's national id is invalid.
    #[error("the manifest's sender id is invalid: {0}")]
    Sender(NationalIdError),
    /// The recipient's national id is invalid.
    #[error("the manifest's recipient id is invalid: {0}")]
    Recipient(NationalIdError),
    /// A patient field is invalid.
    #[error("{0}")]
    Patient(#[from] PatientError),
    /// A text field is longer than its bound.
    #[error("the referral {field} is longer than {max} bytes")]
    TextTooLong {
        /// `reason` or `letter`.
        field: &'static str,
        /// Its bound.
        max: usize,
    },
    /// A text field holds a control character other than tab and line breaks.
    #[error("the referral {field} holds a control character")]
    TextControl {
        /// `reason` or `letter`.
        field: &'static str,
    },
    /// More than [`MAX_DOCUMENTS`] documents.
    #[error("a dossier holds at most {MAX_DOCUMENTS} documents; this one lists {count}")]
    TooManyDocuments {
        /// How many are listed.
        count: usize,
    },
    /// A document name cannot be made safe.
    #[error("document {index}'s name is refused: {error}")]
    DocumentName {
        /// Position in the manifest, from 0.
        index: usize,
        /// Why.
        error: NameError,
    },
    /// A document name is not in its sanitized form.
    #[error("document {index}'s name is not a safe file name")]
    DocumentNameUnsafe {
        /// Position in the manifest, from 0.
        index: usize,
    },
    /// Two documents share a name (compared case-insensitively).
    #[error("document {index}'s name is the name of an earlier document")]
    DuplicateDocumentName {
        /// Position in the manifest of the second one, from 0.
        index: usize,
    },
    /// A media type is empty, too long, not printable ASCII or has no `/`.
    #[error("document {index}'s media type is invalid")]
    MediaType {
        /// Position in the manifest, from 0.
        index: usize,
    },
    /// The documents' sizes add up past what a dossier can carry.
    #[error("the documents' sizes add up to more than a dossier can carry")]
    ContentTooLong,
}

/// Why the dossier is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Referral {
    /// Short reason, shown in the recipient's inbox (≤ 4 KiB).
    pub reason: String,
    /// Whether the sender marked it urgent.
    pub urgent: bool,
    /// The referral letter (≤ 256 KiB).
    pub letter: String,
}

impl fmt::Debug for Referral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Referral")
            .field("urgent", &self.urgent)
            .field("reason_len", &self.reason.len())
            .field("letter_len", &self.letter.len())
            .finish_non_exhaustive()
    }
}

/// One document of the dossier, as it follows the manifest in the content.
#[derive(Clone, PartialEq, Eq)]
pub struct DocumentEntry {
    /// Sanitized file name (see [`sanitize_document_name`]).
    pub name: String,
    /// Media type, e.g. `application/pdf` (≤ 127 bytes).
    pub media_type: String,
    /// Exact size in bytes.
    pub size: u64,
    /// SHA-256 of the document's bytes.
    pub sha256: [u8; 32],
}

impl fmt::Debug for DocumentEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocumentEntry")
            .field("media_type", &self.media_type)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// What a dossier is and what it holds. `Debug` prints no patient data.
#[derive(Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Format version, [`MANIFEST_VERSION`].
    pub version: u8,
    /// The dossier's identifier (also bound into every sealed chunk).
    pub dossier_id: DossierId,
    /// The sender's national id (e.g. `8` + RPPS).
    pub from: String,
    /// The recipient's national id.
    pub to: String,
    /// When the sender made the dossier.
    pub created_at: UnixTime,
    /// Who the dossier is about.
    pub patient: Patient,
    /// Why it is sent.
    pub referral: Referral,
    /// The dossier this one answers (a specialist's report to a referral).
    pub in_reply_to: Option<DossierId>,
    /// The documents, in the order their bytes follow in the content.
    pub documents: Vec<DocumentEntry>,
}

impl fmt::Debug for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manifest")
            .field("version", &self.version)
            .field("dossier_id", &self.dossier_id)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("created_at", &self.created_at)
            .field("patient", &self.patient)
            .field("referral", &self.referral)
            .field("in_reply_to", &self.in_reply_to)
            .field("documents", &self.documents)
            .finish()
    }
}

fn check_text(text: &str, field: &'static str, max: usize) -> Result<(), ManifestError> {
    if text.len() > max {
        return Err(ManifestError::TextTooLong { field, max });
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(ManifestError::TextControl { field });
    }
    Ok(())
}

fn check_media_type(media_type: &str) -> bool {
    !media_type.is_empty()
        && media_type.len() <= MAX_MEDIA_TYPE_LEN
        && media_type.bytes().all(|b| (0x20..0x7f).contains(&b))
        && media_type
            .find('/')
            .is_some_and(|i| i > 0 && i + 1 < media_type.len())
}

impl Manifest {
    /// Checks every field against its bounds and rules (what
    /// [`Manifest::decode`] guarantees of what it returns).
    pub fn validate(&self) -> Result<(), ManifestError> {
        if self.version != MANIFEST_VERSION {
            return Err(ManifestError::Version(self.version));
        }
        NationalId::parse(&self.from).map_err(ManifestError::Sender)?;
        NationalId::parse(&self.to).map_err(ManifestError::Recipient)?;
        self.patient.validate(self.created_at)?;
        check_text(&self.referral.reason, "reason", MAX_REASON_LEN)?;
        check_text(&self.referral.letter, "letter", MAX_LETTER_LEN)?;
        let count = self.documents.len();
        if count > MAX_DOCUMENTS {
            return Err(ManifestError::TooManyDocuments { count });
        }
        let mut seen = HashSet::with_capacity(count);
        let mut total: u64 = 0;
        for (index, doc) in self.documents.iter().enumerate() {
            let safe = sanitize_document_name(&doc.name)
                .map_err(|error| ManifestError::DocumentName { index, error })?;
            if safe != doc.name {
                return Err(ManifestError::DocumentNameUnsafe { index });
            }
            if !seen.insert(doc.name.to_lowercase()) {
                return Err(ManifestError::DuplicateDocumentName { index });
            }
            if !check_media_type(&doc.media_type) {
                return Err(ManifestError::MediaType { index });
            }
            total = total
                .checked_add(doc.size)
                .ok_or(ManifestError::ContentTooLong)?;
        }
        // The content (length prefix, manifest, documents) must fit in u64.
        total
            .checked_add((4 + MAX_MANIFEST_LEN) as u64)
            .ok_or(ManifestError::ContentTooLong)?;
        Ok(())
    }

    /// Wire encoding, after [`Manifest::validate`].
    pub fn encode(&self) -> Result<Vec<u8>, ManifestError> {
        self.validate()?;
        let mut w = Writer::new();
        let p = &self.patient;
        w.u8(self.version)
            .raw(self.dossier_id.as_bytes())
            .bytes8(self.from.as_bytes())
            .bytes8(self.to.as_bytes())
            .i64(self.created_at.as_secs())
            .raw(p.ins.as_str().as_bytes())
            .bytes8(p.family.as_bytes())
            .bytes8(p.given.as_bytes())
            .raw(p.birth_date.to_iso().as_bytes())
            .u8(p.sex.code())
            .bytes16(self.referral.reason.as_bytes())
            .u8(u8::from(self.referral.urgent))
            .bytes32(self.referral.letter.as_bytes());
        match &self.in_reply_to {
            None => w.u8(0),
            Some(id) => w.u8(1).raw(id.as_bytes()),
        };
        w.u16(u16::try_from(self.documents.len()).unwrap_or(u16::MAX));
        for d in &self.documents {
            w.bytes8(d.name.as_bytes())
                .bytes8(d.media_type.as_bytes())
                .raw(&d.size.to_be_bytes())
                .raw(&d.sha256);
        }
        Ok(w.finish())
    }

    /// Decodes and validates a manifest.
    pub fn decode(bytes: &[u8]) -> Result<Self, ManifestError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != MANIFEST_VERSION {
            return Err(ManifestError::Version(version));
        }
        let dossier_id = DossierId(r.array()?);
        let from = utf8(r.bytes8(MAX_NATIONAL_ID_LEN)?, "sender id")?;
        let to = utf8(r.bytes8(MAX_NATIONAL_ID_LEN)?, "recipient id")?;
        let created_at = UnixTime::from_secs(r.i64()?);
        let ins = std::str::from_utf8(r.raw(INS_LEN)?)
            .map_err(|_| PatientError::Ins(InsError::Characters))
            .and_then(|s| {
                let ins = Ins::parse(s)?;
                // Only the canonical form: `2A`/`2B` upper case.
                if ins.as_str() != s {
                    return Err(PatientError::Ins(InsError::Characters));
                }
                Ok(ins)
            })?;
        let family = utf8(r.bytes8(MAX_NAME_LEN)?, "family name")?;
        let given = utf8(r.bytes8(MAX_NAME_LEN)?, "given names")?;
        let birth_date = std::str::from_utf8(r.raw(BirthDate::LEN)?)
            .map_err(|_| PatientError::BirthDateFormat)
            .and_then(BirthDate::parse)?;
        let sex = Sex::from_code(r.u8()?)?;
        let reason = utf8(r.bytes16(MAX_REASON_LEN)?, "reason")?;
        let urgent = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(DecodeError::Invalid("urgent flag").into()),
        };
        let letter = utf8(r.bytes32(MAX_LETTER_LEN)?, "letter")?;
        let in_reply_to = match r.u8()? {
            0 => None,
            1 => Some(DossierId(r.array()?)),
            t => return Err(DecodeError::UnknownTag(t).into()),
        };
        let count = usize::from(r.u16()?);
        if count > MAX_DOCUMENTS {
            return Err(ManifestError::TooManyDocuments { count });
        }
        let mut documents = Vec::with_capacity(count);
        for _ in 0..count {
            let name = utf8(r.bytes8(MAX_DOCUMENT_NAME_LEN)?, "document name")?;
            let media_type = utf8(r.bytes8(MAX_MEDIA_TYPE_LEN)?, "media type")?;
            let size = u64::from_be_bytes(r.array()?);
            let sha256 = r.array()?;
            documents.push(DocumentEntry {
                name,
                media_type,
                size,
                sha256,
            });
        }
        r.finish()?;
        let manifest = Manifest {
            version,
            dossier_id,
            from,
            to,
            created_at,
            patient: Patient {
                ins,
                family,
                given,
                birth_date,
                sex,
            },
            referral: Referral {
                reason,
                urgent,
                letter,
            },
            in_reply_to,
            documents,
        };
        manifest.validate()?;
        Ok(manifest)
    }
}

fn utf8(bytes: &[u8], field: &'static str) -> Result<String, DecodeError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_owned()),
        Err(_) => Err(DecodeError::Invalid(field)),
    }
}
