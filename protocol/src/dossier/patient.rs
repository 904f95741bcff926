//! Who the dossier is about: the patient's INS identity (INS, family name,
//! given names, birth date, sex).
//!
//! Flow: the sender's node fills a [`Patient`] from its patient record and
//! [`Patient::validate`] checks it before sealing; the recipient's manifest
//! decoder runs the same checks, so every decoded [`Patient`] is
//! well-formed. All of it is patient data: `Debug` prints `<redacted>`, and
//! errors name the field, never its value.

use std::fmt;

use time::{Date, Month, OffsetDateTime};

use super::ins::{Ins, InsError};
use crate::time::UnixTime;

/// Longest family or given name, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 255;

/// How far ahead of UTC the earliest time zone runs (UTC+14), so that a
/// child born today anywhere is not "born in the future" by the UTC date of
/// the dossier.
const LATEST_TIMEZONE_SECS: i64 = 14 * 3600;

/// Why patient fields are refused. No variant carries a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatientError {
    /// The INS is not valid.
    #[error("the patient's INS is invalid: {0}")]
    Ins(#[from] InsError),
    /// The family name is empty or only white space.
    #[error("the patient's family name is empty")]
    FamilyNameEmpty,
    /// A name is longer than [`MAX_NAME_LEN`] bytes.
    #[error("the patient's {field} is longer than {MAX_NAME_LEN} bytes")]
    NameTooLong {
        /// `family name` or `given names`.
        field: &'static str,
    },
    /// A name holds a control character.
    #[error("the patient's {field} holds a control character")]
    NameControl {
        /// `family name` or `given names`.
        field: &'static str,
    },
    /// The birth date is not written `YYYY-MM-DD`.
    #[error("the patient's birth date is not written YYYY-MM-DD")]
    BirthDateFormat,
    /// The birth date is not a day of the calendar (e.g. a 30 February).
    #[error("the patient's birth date is not a real date")]
    BirthDateNotReal,
    /// The birth date is after the day the dossier was made.
    #[error("the patient's birth date is after the dossier's creation")]
    BirthDateInFuture,
    /// The dossier's creation time is outside the calendar's range.
    #[error("the dossier's creation time is out of range")]
    CreatedAtOutOfRange,
    /// An undefined sex code on the wire.
    #[error("unknown sex code {0}")]
    SexCode(u8),
    /// The INS's first digit gives the other sex than the one stated.
    #[error(
        "the patient's INS and sex disagree: its first digit is 1 (or 7) for a man, 2 (or 8) for a woman"
    )]
    InsSexMismatch,
    /// The INS's year of birth (digits 2 and 3) is not the birth date's.
    #[error("the patient's INS and birth date disagree: digits 2 and 3 of the INS are the last two digits of the year of birth")]
    InsYearMismatch,
    /// The INS's month of birth (digits 4 and 5) is not the birth date's.
    #[error("the patient's INS and birth date disagree: digits 4 and 5 of the INS are the month of birth")]
    InsMonthMismatch,
}

/// How the INS agrees with the stated sex and birth date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsAgreement {
    /// Everything the INS encodes matches.
    Agrees,
    /// The sex and year match, but the INS carries a code for an unknown
    /// month of birth (month digits outside 01–12), so the month could not
    /// be checked.
    MonthUnknown,
    /// The INS encodes nothing checkable here (first digit 3: a person born
    /// abroad awaiting a number) or the sex is stated as unknown and the
    /// rest matches.
    Unchecked,
}

/// Administrative sex, as the INS referential gives it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// Female.
    F,
    /// Male.
    M,
    /// Unknown or unspecified.
    U,
}

impl fmt::Debug for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sex(<redacted>)")
    }
}

impl Sex {
    /// Wire code: the ASCII letter `F`, `M` or `U`.
    pub fn code(self) -> u8 {
        match self {
            Sex::F => b'F',
            Sex::M => b'M',
            Sex::U => b'U',
        }
    }

    /// From the wire code.
    pub fn from_code(code: u8) -> Result<Self, PatientError> {
        match code {
            b'F' => Ok(Sex::F),
            b'M' => Ok(Sex::M),
            b'U' => Ok(Sex::U),
            other => Err(PatientError::SexCode(other)),
        }
    }
}

/// A birth date: a real calendar day, written `YYYY-MM-DD`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BirthDate(Date);

impl fmt::Debug for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BirthDate(<redacted>)")
    }
}

impl BirthDate {
    /// Length of the written form.
    pub const LEN: usize = 10;

    /// Parses `YYYY-MM-DD` (exactly: four-digit year, two-digit month and
    /// day).
    pub fn parse(s: &str) -> Result<Self, PatientError> {
        let b = s.as_bytes();
        let shape = b.len() == Self::LEN
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                _ => c.is_ascii_digit(),
            });
        if !shape {
            return Err(PatientError::BirthDateFormat);
        }
        let num = |r: std::ops::Range<usize>| {
            b[r].iter().fold(0u32, |n, &c| n * 10 + u32::from(c - b'0'))
        };
        let (year, month, day) = (num(0..4), num(5..7), num(8..10));
        Self::from_ymd(year, month, day)
    }

    /// A date from its numbers.
    pub fn from_ymd(year: u32, month: u32, day: u32) -> Result<Self, PatientError> {
        let year = i32::try_from(year).map_err(|_| PatientError::BirthDateNotReal)?;
        let month = u8::try_from(month)
            .ok()
            .and_then(|m| Month::try_from(m).ok())
            .ok_or(PatientError::BirthDateNotReal)?;
        let day = u8::try_from(day).map_err(|_| PatientError::BirthDateNotReal)?;
        Date::from_calendar_date(year, month, day)
            .map(BirthDate)
            .map_err(|_| PatientError::BirthDateNotReal)
    }

    /// The calendar date.
    pub fn date(&self) -> Date {
        self.0
    }

    /// The written form, `YYYY-MM-DD`.
    pub fn to_iso(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}",
            self.0.year(),
            u8::from(self.0.month()),
            self.0.day()
        )
    }

    /// Fails if this date comes after the day `at` falls on in the earliest
    /// time zone (UTC+14).
    pub fn check_not_after(&self, at: UnixTime) -> Result<(), PatientError> {
        let latest = OffsetDateTime::from_unix_timestamp(at.as_secs())
            .ok()
            .and_then(|t| t.checked_add(time::Duration::seconds(LATEST_TIMEZONE_SECS)))
            .ok_or(PatientError::CreatedAtOutOfRange)?;
        if self.0 > latest.date() {
            return Err(PatientError::BirthDateInFuture);
        }
        Ok(())
    }
}

/// The patient a dossier is about. `Debug` prints nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Patient {
    /// National health identifier.
    pub ins: Ins,
    /// Family name (birth name), as in the INS referential.
    pub family: String,
    /// Given names, as in the INS referential (may be empty).
    pub given: String,
    /// Birth date.
    pub birth_date: BirthDate,
    /// Administrative sex.
    pub sex: Sex,
}

impl fmt::Debug for Patient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Patient(<redacted>)")
    }
}

impl Patient {
    /// Checks the names and that the birth date is not after `created_at`
    /// (the INS and the date are checked by their types).
    pub fn validate(&self, created_at: UnixTime) -> Result<(), PatientError> {
        check_name(&self.family, "family name")?;
        if self.family.trim().is_empty() {
            return Err(PatientError::FamilyNameEmpty);
        }
        check_name(&self.given, "given names")?;
        self.birth_date.check_not_after(created_at)
    }

    /// Checks what the INS encodes against the stated sex and birth date:
    /// the first digit (1 or 7 for a man, 2 or 8 for a woman), digits 2–3
    /// (year of birth, last two digits) and 4–5 (month of birth, unless the
    /// registry's codes for an unknown month are used). A sender runs it
    /// before sealing; it is not part of [`Patient::validate`], so that a
    /// recipient never refuses a dossier for it.
    pub fn ins_agreement(&self) -> Result<InsAgreement, PatientError> {
        let digits = self.ins.as_str().as_bytes();
        let num = |i: usize| u32::from(digits[i] - b'0') * 10 + u32::from(digits[i + 1] - b'0');
        let man = match self.ins.sex_digit() {
            1 | 7 => true,
            2 | 8 => false,
            _ => return Ok(InsAgreement::Unchecked),
        };
        match (self.sex, man) {
            (Sex::M, false) | (Sex::F, true) => return Err(PatientError::InsSexMismatch),
            _ => {}
        }
        let year = u32::try_from(self.birth_date.date().year().rem_euclid(100)).unwrap_or(0);
        if num(1) != year {
            return Err(PatientError::InsYearMismatch);
        }
        let month = num(3);
        if !(1..=12).contains(&month) {
            return Ok(InsAgreement::MonthUnknown);
        }
        if month != u32::from(u8::from(self.birth_date.date().month())) {
            return Err(PatientError::InsMonthMismatch);
        }
        Ok(if self.sex == Sex::U {
            InsAgreement::Unchecked
        } else {
            InsAgreement::Agrees
        })
    }
}

fn check_name(name: &str, field: &'static str) -> Result<(), PatientError> {
    if name.len() > MAX_NAME_LEN {
        return Err(PatientError::NameTooLong { field });
    }
    if name.chars().any(char::is_control) {
        return Err(PatientError::NameControl { field });
    }
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    /// 2024-03-01T00:00:00Z.
    const MARCH_2024: UnixTime = UnixTime::from_secs(1_709_251_200);

    fn patient() -> Patient {
        Patient {
            ins: Ins::parse("269054958815780").unwrap(),
            family: "DUPONT".into(),
            given: "MARIE CLAIRE".into(),
            birth_date: BirthDate::parse("1969-05-14").unwrap(),
            sex: Sex::F,
        }
    }

    #[test]
    fn a_patient_validates() {
        assert_eq!(patient().validate(MARCH_2024), Ok(()));
        let mut p = patient();
        p.given = String::new();
        p.family = "N".repeat(MAX_NAME_LEN);
        assert_eq!(p.validate(MARCH_2024), Ok(()));
    }

    #[test]
    fn birth_dates() {
        let d = BirthDate::parse("2000-02-29").unwrap();
        assert_eq!(d.to_iso(), "2000-02-29");
        assert_eq!(d.date().year(), 2000);
        assert_eq!(
            BirthDate::parse("0001-01-01").unwrap().to_iso(),
            "0001-01-01"
        );
        for bad in [
            "",
            "2000-2-29",
            "2000/02/29",
            "20000-02-29",
            "2000-02-290",
            " 2000-02-29",
            "2000-0a-29",
            "２000-02-29",
            "+200-02-29",
        ] {
            assert_eq!(
                BirthDate::parse(bad),
                Err(PatientError::BirthDateFormat),
                "{bad}"
            );
        }
        for unreal in [
            "1900-02-29",
            "2023-02-29",
            "2024-04-31",
            "2024-13-01",
            "2024-00-10",
            "2024-01-00",
        ] {
            assert_eq!(
                BirthDate::parse(unreal),
                Err(PatientError::BirthDateNotReal),
                "{unreal}"
            );
        }
        assert_eq!(
            BirthDate::from_ymd(u32::MAX, 1, 1),
            Err(PatientError::BirthDateNotReal)
        );
    }

    #[test]
    fn the_ins_must_agree_with_sex_and_birth_date() {
        let p = patient();
        assert_eq!(p.ins_agreement(), Ok(InsAgreement::Agrees));
        let mut man = p.clone();
        man.sex = Sex::M;
        assert_eq!(man.ins_agreement(), Err(PatientError::InsSexMismatch));
        let mut unknown = p.clone();
        unknown.sex = Sex::U;
        assert_eq!(unknown.ins_agreement(), Ok(InsAgreement::Unchecked));
        let mut year = p.clone();
        year.birth_date = BirthDate::parse("1961-05-14").unwrap();
        assert_eq!(year.ins_agreement(), Err(PatientError::InsYearMismatch));
        // The same two digits a century apart agree.
        year.birth_date = BirthDate::parse("2069-05-14").unwrap();
        assert_eq!(year.ins_agreement(), Ok(InsAgreement::Agrees));
        let mut month = p.clone();
        month.birth_date = BirthDate::parse("1969-06-14").unwrap();
        assert_eq!(month.ins_agreement(), Err(PatientError::InsMonthMismatch));
        // A man's number (1 84 02 …) with a woman's sex.
        let mut m = p.clone();
        m.ins = Ins::parse("184027645108980").unwrap();
        m.birth_date = BirthDate::parse("1984-02-03").unwrap();
        m.sex = Sex::M;
        assert_eq!(m.ins_agreement(), Ok(InsAgreement::Agrees));
        m.sex = Sex::F;
        assert_eq!(m.ins_agreement(), Err(PatientError::InsSexMismatch));
        // Temporary numbers: 7 for a man, 8 for a woman.
        let mut nia = p.clone();
        nia.ins = Ins::parse("899129912345653").unwrap();
        nia.birth_date = BirthDate::parse("1999-12-01").unwrap();
        assert_eq!(nia.ins_agreement(), Ok(InsAgreement::Agrees));
        nia.sex = Sex::M;
        assert_eq!(nia.ins_agreement(), Err(PatientError::InsSexMismatch));
        nia.sex = Sex::F;
        nia.birth_date = BirthDate::parse("1998-12-01").unwrap();
        assert_eq!(nia.ins_agreement(), Err(PatientError::InsYearMismatch));
        // Month codes for an unknown month (20, 40, 99 …) leave the month
        // unchecked; sex and year still count.
        nia.ins = Ins::parse("899209912345684").unwrap();
        nia.birth_date = BirthDate::parse("1999-07-01").unwrap();
        assert_eq!(nia.ins_agreement(), Ok(InsAgreement::MonthUnknown));
        let mut unknown_month = p.clone();
        unknown_month.ins = Ins::parse("269409912345640").unwrap();
        assert_eq!(
            unknown_month.ins_agreement(),
            Ok(InsAgreement::MonthUnknown)
        );
        unknown_month.birth_date = BirthDate::parse("1970-05-14").unwrap();
        assert_eq!(
            unknown_month.ins_agreement(),
            Err(PatientError::InsYearMismatch)
        );
        // First digit 3: nothing to compare.
        let mut abroad = p;
        abroad.ins = Ins::parse("399129912345612").unwrap();
        abroad.sex = Sex::M;
        assert_eq!(abroad.ins_agreement(), Ok(InsAgreement::Unchecked));
        // No error message repeats the number or the date.
        for e in [
            PatientError::InsSexMismatch,
            PatientError::InsYearMismatch,
            PatientError::InsMonthMismatch,
        ] {
            let msg = e.to_string();
            assert!(!msg.contains("69") && !msg.contains("1969"), "{msg}");
        }
    }

    #[test]
    fn a_birth_date_after_the_dossier_is_refused() {
        let mut p = patient();
        p.birth_date = BirthDate::parse("2024-03-01").unwrap();
        assert_eq!(p.validate(MARCH_2024), Ok(()));
        // Born on 2 March in New Zealand while it is still 1 March in UTC.
        p.birth_date = BirthDate::parse("2024-03-02").unwrap();
        assert_eq!(p.validate(MARCH_2024.add_secs(10 * 3600)), Ok(()));
        assert_eq!(p.validate(MARCH_2024), Err(PatientError::BirthDateInFuture));
        p.birth_date = BirthDate::parse("2024-03-03").unwrap();
        assert_eq!(
            p.validate(MARCH_2024.add_secs(86_399)),
            Err(PatientError::BirthDateInFuture)
        );
        assert_eq!(
            p.validate(UnixTime::from_secs(i64::MAX)),
            Err(PatientError::CreatedAtOutOfRange)
        );
    }

    #[test]
    fn each_name_rejection_has_its_variant() {
        let mut p = patient();
        p.family = " \u{a0}".into();
        assert_eq!(p.validate(MARCH_2024), Err(PatientError::FamilyNameEmpty));
        p.family = "N".repeat(MAX_NAME_LEN + 1);
        assert_eq!(
            p.validate(MARCH_2024),
            Err(PatientError::NameTooLong {
                field: "family name"
            })
        );
        p.family = "DU\u{1b}[31mPONT".into();
        assert_eq!(
            p.validate(MARCH_2024),
            Err(PatientError::NameControl {
                field: "family name"
            })
        );
        let mut p = patient();
        p.given = "é".repeat(128);
        assert_eq!(
            p.validate(MARCH_2024),
            Err(PatientError::NameTooLong {
                field: "given names"
            })
        );
        p.given = "MARIE\nCLAIRE".into();
        assert_eq!(
            p.validate(MARCH_2024),
            Err(PatientError::NameControl {
                field: "given names"
            })
        );
    }

    #[test]
    fn sex_codes() {
        for s in [Sex::F, Sex::M, Sex::U] {
            assert_eq!(Sex::from_code(s.code()), Ok(s));
        }
        assert_eq!(Sex::from_code(b'X'), Err(PatientError::SexCode(b'X')));
    }

    #[test]
    fn debug_prints_nothing_of_the_patient() {
        let dbg = format!(
            "{:?} {:?} {:?}",
            patient(),
            patient().birth_date,
            patient().sex
        );
        for secret in ["DUPONT", "MARIE", "1969", "2690549", "F)"] {
            assert!(!dbg.contains(secret), "{dbg}");
        }
        assert!(dbg.contains("<redacted>"));
    }
}
