//! The stored form of consents and care-team records, with the bounded
//! codec of the wire messages. The node keeps these bytes (sealed by its
//! store); the ledger can hash them.
//!
//! ```text
//! consent    = kind:u8 (=1) | version:u8 (=1) | id:[16] | ins:bytes8 (= 15)
//!            | recipients | purpose:bytes16 (≤ 1024) | granted_at:i64
//!            | expires:(0 | 1 day) | revoked:(0 | 1 at:i64 reason:(0 | 1 bytes16 (≤ 1024)))
//! care-team  = kind:u8 (=2) | version:u8 (=1) | id:[16] | ins:bytes8 (= 15)
//!            | recipients | informed_on:day | recorded_at:i64
//! recipients = count:u8 (1..=64) | national_id:bytes8 (≤ 32) × count
//! day        = year:u16 | month:u8 | day:u8
//! ```
//!
//! Decoding checks every bound, then runs the record's `validate`, so a
//! decoded record holds the same invariants as a new one (except that its
//! days may since have passed).

use time::Date;

use super::date::date_from_ymd;
use super::{CareTeamRecord, Consent, ConsentError, RecordId, Revocation};
use super::{MAX_PURPOSE_LEN, MAX_REASON_LEN, MAX_RECIPIENTS};
use crate::codec::{DecodeError, Reader, Writer};
use crate::dossier::ins::INS_LEN;
use crate::dossier::manifest::MAX_NATIONAL_ID_LEN;
use crate::dossier::Ins;
use crate::identity::NationalId;
use crate::time::UnixTime;

/// First byte of a stored consent.
const KIND_CONSENT: u8 = 1;
/// First byte of a stored care-team record.
const KIND_CARE_TEAM: u8 = 2;
/// The format version.
const VERSION: u8 = 1;

impl Consent {
    /// The stored form, after [`Consent::validate`].
    pub fn encode(&self) -> Result<Vec<u8>, ConsentError> {
        self.validate()?;
        let mut w = Writer::new();
        w.u8(KIND_CONSENT).u8(VERSION).raw(self.id.as_bytes());
        w.bytes8(self.patient_ins.as_str().as_bytes());
        write_recipients(&mut w, &self.recipients)?;
        w.bytes16(self.purpose.as_bytes())
            .i64(self.granted_at.as_secs());
        match self.expires {
            None => w.u8(0),
            Some(d) => write_day(w.u8(1), d),
        };
        match &self.revoked {
            None => {
                w.u8(0);
            }
            Some(r) => {
                w.u8(1).i64(r.at.as_secs());
                match &r.reason {
                    None => w.u8(0),
                    Some(reason) => w.u8(1).bytes16(reason.as_bytes()),
                };
            }
        }
        Ok(w.finish())
    }

    /// Reads the stored form back, and validates it.
    pub fn decode(bytes: &[u8]) -> Result<Self, ConsentError> {
        let mut r = Reader::new(bytes);
        header(&mut r, KIND_CONSENT)?;
        let id = RecordId(r.array()?);
        let patient_ins = read_ins(&mut r)?;
        let recipients = read_recipients(&mut r)?;
        let purpose = utf8(r.bytes16(MAX_PURPOSE_LEN)?, "the purpose is not UTF-8")?;
        let granted_at = UnixTime::from_secs(r.i64()?);
        let expires = match flag(&mut r)? {
            false => None,
            true => Some(read_day(&mut r)?),
        };
        let revoked = match flag(&mut r)? {
            false => None,
            true => {
                let at = UnixTime::from_secs(r.i64()?);
                let reason = match flag(&mut r)? {
                    false => None,
                    true => Some(utf8(
                        r.bytes16(MAX_REASON_LEN)?,
                        "the revocation reason is not UTF-8",
                    )?),
                };
                Some(Revocation { at, reason })
            }
        };
        r.finish()?;
        let consent = Consent {
            id,
            patient_ins,
            recipients,
            purpose,
            granted_at,
            expires,
            revoked,
        };
        consent.validate()?;
        Ok(consent)
    }
}

impl CareTeamRecord {
    /// The stored form, after [`CareTeamRecord::validate`].
    pub fn encode(&self) -> Result<Vec<u8>, ConsentError> {
        self.validate()?;
        let mut w = Writer::new();
        w.u8(KIND_CARE_TEAM).u8(VERSION).raw(self.id.as_bytes());
        w.bytes8(self.patient_ins.as_str().as_bytes());
        write_recipients(&mut w, &self.recipients)?;
        write_day(&mut w, self.informed_on);
        w.i64(self.recorded_at.as_secs());
        Ok(w.finish())
    }

    /// Reads the stored form back, and validates it.
    pub fn decode(bytes: &[u8]) -> Result<Self, ConsentError> {
        let mut r = Reader::new(bytes);
        header(&mut r, KIND_CARE_TEAM)?;
        let id = RecordId(r.array()?);
        let patient_ins = read_ins(&mut r)?;
        let recipients = read_recipients(&mut r)?;
        let informed_on = read_day(&mut r)?;
        let recorded_at = UnixTime::from_secs(r.i64()?);
        r.finish()?;
        let record = CareTeamRecord {
            id,
            patient_ins,
            recipients,
            informed_on,
            recorded_at,
        };
        record.validate()?;
        Ok(record)
    }
}

fn header(r: &mut Reader<'_>, kind: u8) -> Result<(), DecodeError> {
    let found = r.u8()?;
    if found != kind {
        return Err(DecodeError::UnknownTag(found));
    }
    match r.u8()? {
        VERSION => Ok(()),
        v => Err(DecodeError::Version(v)),
    }
}

fn flag(r: &mut Reader<'_>) -> Result<bool, DecodeError> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        t => Err(DecodeError::UnknownTag(t)),
    }
}

fn utf8(bytes: &[u8], what: &'static str) -> Result<String, DecodeError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| DecodeError::Invalid(what))
}

fn read_ins(r: &mut Reader<'_>) -> Result<Ins, ConsentError> {
    let raw = r.bytes8(INS_LEN)?;
    let text =
        std::str::from_utf8(raw).map_err(|_| DecodeError::Invalid("the INS is not ASCII"))?;
    Ok(Ins::parse(text)?)
}

fn write_recipients(w: &mut Writer, recipients: &[NationalId]) -> Result<(), ConsentError> {
    let count = u8::try_from(recipients.len()).map_err(|_| ConsentError::TooManyRecipients {
        count: recipients.len(),
    })?;
    w.u8(count);
    for id in recipients {
        w.bytes8(id.as_str().as_bytes());
    }
    Ok(())
}

fn read_recipients(r: &mut Reader<'_>) -> Result<Vec<NationalId>, ConsentError> {
    let count = usize::from(r.u8()?);
    if count > MAX_RECIPIENTS {
        return Err(ConsentError::TooManyRecipients { count });
    }
    (0..count)
        .map(|i| {
            let raw = r.bytes8(MAX_NATIONAL_ID_LEN)?;
            let text = std::str::from_utf8(raw)
                .map_err(|_| DecodeError::Invalid("a recipient's national id is not ASCII"))?;
            NationalId::parse(text).map_err(|source| ConsentError::Recipient {
                position: i + 1,
                source,
            })
        })
        .collect()
}

fn write_day(w: &mut Writer, d: Date) -> &mut Writer {
    // `validate` keeps years within 1..=9999, which fit a u16.
    let year = u16::try_from(d.year()).unwrap_or(0);
    w.u16(year).u8(u8::from(d.month())).u8(d.day())
}

fn read_day(r: &mut Reader<'_>) -> Result<Date, ConsentError> {
    let (year, month, day) = (r.u16()?, r.u8()?, r.u8()?);
    date_from_ymd(year, month.into(), day.into()).map_err(|_| ConsentError::DateOutOfRange)
}
