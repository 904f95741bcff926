//! The field encodings and checks the ledger's entry kinds share
//! (national ids, texts, INS, dates, recipients, share bases, receipts).

use crate::codec::{DecodeError, Reader, Writer};
use crate::dossier::ins::{Ins, INS_LEN};
use crate::dossier::manifest::{DossierId, MAX_NATIONAL_ID_LEN};
use crate::dossier::patient::BirthDate;
use crate::identity::NationalId;

use super::kind::{ShareBasis, DATE_LEN, MAX_ENTRY_RECEIPT_LEN, MAX_RECIPIENTS};

pub(super) fn check_national_id(id: &str, field: &'static str) -> Result<(), DecodeError> {
    if id.len() > MAX_NATIONAL_ID_LEN {
        return Err(DecodeError::TooLong);
    }
    NationalId::parse(id)
        .map(|_| ())
        .map_err(|_| DecodeError::Invalid(field))
}

pub(super) fn check_text(s: &str, max: usize, field: &'static str) -> Result<(), DecodeError> {
    if s.len() > max {
        return Err(DecodeError::Invalid(field));
    }
    Ok(())
}

pub(super) fn check_date(s: &str, field: &'static str) -> Result<(), DecodeError> {
    match BirthDate::parse(s) {
        Ok(d) if d.to_iso() == s => Ok(()),
        _ => Err(DecodeError::Invalid(field)),
    }
}

pub(super) fn check_recipients(recipients: &[String]) -> Result<(), DecodeError> {
    if recipients.is_empty() || recipients.len() > MAX_RECIPIENTS {
        return Err(DecodeError::Invalid("recipient count"));
    }
    recipients
        .iter()
        .try_for_each(|r| check_national_id(r, "recipient national id"))
}

pub(super) fn check_receipt(receipt: &[u8]) -> Result<(), DecodeError> {
    if receipt.len() > MAX_ENTRY_RECEIPT_LEN {
        return Err(DecodeError::TooLong);
    }
    Ok(())
}

pub(super) fn write_recipients(w: &mut Writer, recipients: &[String]) {
    w.u8(u8::try_from(recipients.len()).unwrap_or(u8::MAX));
    for r in recipients {
        w.bytes8(r.as_bytes());
    }
}

pub(super) fn utf8(bytes: &[u8], field: &'static str) -> Result<String, DecodeError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| DecodeError::Invalid(field))
}

pub(super) fn national_id(r: &mut Reader<'_>) -> Result<String, DecodeError> {
    utf8(r.bytes8(MAX_NATIONAL_ID_LEN)?, "national id")
}

pub(super) fn text(
    r: &mut Reader<'_>,
    max: usize,
    field: &'static str,
) -> Result<String, DecodeError> {
    utf8(r.bytes16(max)?, field)
}

pub(super) fn ins(r: &mut Reader<'_>) -> Result<Ins, DecodeError> {
    let raw = r.raw(INS_LEN)?;
    let s = std::str::from_utf8(raw).map_err(|_| DecodeError::Invalid("patient INS"))?;
    match Ins::parse(s) {
        // Only the canonical form (no spaces, upper-case 2A/2B) is accepted.
        Ok(ins) if ins.as_str() == s => Ok(ins),
        _ => Err(DecodeError::Invalid("patient INS")),
    }
}

pub(super) fn date(r: &mut Reader<'_>) -> Result<String, DecodeError> {
    utf8(r.raw(DATE_LEN)?, "date")
}

pub(super) fn recipients(r: &mut Reader<'_>) -> Result<Vec<String>, DecodeError> {
    let n = usize::from(r.u8()?);
    if n == 0 || n > MAX_RECIPIENTS {
        return Err(DecodeError::Invalid("recipient count"));
    }
    (0..n).map(|_| national_id(r)).collect()
}

pub(super) fn basis(r: &mut Reader<'_>) -> Result<ShareBasis, DecodeError> {
    let tag = r.u8()?;
    let id: [u8; 16] = r.array()?;
    match tag {
        1 => Ok(ShareBasis::Consent(id)),
        2 => Ok(ShareBasis::CareTeam(id)),
        3 => Ok(ShareBasis::Reply(DossierId(id))),
        other => Err(DecodeError::UnknownTag(other)),
    }
}
