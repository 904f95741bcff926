//! The INS (Identifiant National de Santé), the patient's national health
//! identifier.
//!
//! Flow: the sender's practitioner types or scans the INS into the dossier;
//! [`Ins::parse`] checks it before it enters a [`Manifest`]; the recipient's
//! manifest decoder runs the same checks, so a decoded manifest always
//! carries a well-formed INS.
//!
//! ```text
//! INS = NIR (13 characters) | key (2 digits)
//! NIR = sex (1) | year (2) | month (2) | department (2) | commune (3) | order (3)
//! key = 97 − (NIR mod 97), with the Corsican departments 2A and 2B read as
//!       19 and 18 for the computation
//! ```
//!
//! The sex digit is 1 or 2 (NIR), 3 (people born abroad awaiting their
//! number), 7 or 8 (NIA, temporary numbers). Month and commune are not
//! checked further here: the registry issues out-of-range values (unknown
//! month, temporary numbers) on purpose. Whether the sex, year and month
//! agree with the patient's stated sex and birth date is checked by the
//! sender with [`Patient::ins_agreement`](super::Patient::ins_agreement).
//!
//! An INS is patient data: errors never repeat the number, and `Debug`
//! prints `<redacted>`.
//!
//! [`Manifest`]: super::Manifest

use std::fmt;

/// Characters in an INS: 13 for the NIR, 2 for the key.
pub const INS_LEN: usize = 15;

/// Why a string is not a valid INS. No variant carries the number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InsError {
    /// Not 15 characters once spaces are removed.
    #[error("an INS is 15 characters (a 13-character NIR and a 2-digit key); found {found}")]
    Length {
        /// How many characters were found (spaces not counted).
        found: usize,
    },
    /// A character other than a digit, or than `2A`/`2B` in the department.
    #[error(
        "an INS holds only digits, apart from 2A or 2B as the department (characters 6 and 7)"
    )]
    Characters,
    /// The first digit is not 1, 2, 3, 7 or 8.
    #[error("an INS starts with 1, 2, 3, 7 or 8")]
    SexDigit,
    /// The 2-digit key does not match the NIR.
    #[error("the INS key does not match")]
    Key,
}

/// A checked INS: 15 ASCII characters, no spaces, `2A`/`2B` uppercase.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Ins(String);

impl fmt::Debug for Ins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ins(<redacted>)")
    }
}

impl Ins {
    /// Checks an INS as typed: spaces anywhere (usually between the groups,
    /// `2 69 05 49 588 157 80`) are removed, `2a`/`2b` are upper-cased.
    pub fn parse(s: &str) -> Result<Self, InsError> {
        let mut chars: Vec<u8> = Vec::with_capacity(INS_LEN);
        let mut found = 0usize;
        for c in s.chars().filter(|&c| c != ' ') {
            found += 1;
            if found > INS_LEN {
                continue;
            }
            // Non-ASCII characters are kept as a marker byte so that the
            // length is reported first and the character check fails after.
            chars.push(if c.is_ascii() { c as u8 } else { 0xff });
        }
        if found != INS_LEN {
            return Err(InsError::Length { found });
        }
        for (i, b) in chars.iter_mut().enumerate() {
            let ok = match i {
                5 => b.is_ascii_digit(),
                6 => {
                    b.make_ascii_uppercase();
                    b.is_ascii_digit() || *b == b'A' || *b == b'B'
                }
                _ => b.is_ascii_digit(),
            };
            if !ok {
                return Err(InsError::Characters);
            }
        }
        // A letter in the department is valid only after a 2 (2A, 2B).
        if chars[6].is_ascii_alphabetic() && chars[5] != b'2' {
            return Err(InsError::Characters);
        }
        if !matches!(chars[0], b'1' | b'2' | b'3' | b'7' | b'8') {
            return Err(InsError::SexDigit);
        }
        let key = u64::from(chars[13] - b'0') * 10 + u64::from(chars[14] - b'0');
        if nir_key(&chars[..13]) != key {
            return Err(InsError::Key);
        }
        // Every byte is ASCII by now.
        let s = chars.iter().map(|&b| char::from(b)).collect();
        Ok(Ins(s))
    }

    /// The 15 characters, without spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 13-character NIR (or NIA) without its key.
    pub fn nir(&self) -> &str {
        &self.0[..13]
    }

    /// The first digit: 1 or 2 for an NIR, 3 awaiting one, 7 or 8 for a
    /// temporary NIA.
    pub fn sex_digit(&self) -> u8 {
        self.0.as_bytes()[0] - b'0'
    }

    /// Whether this is a temporary number (NIA, first digit 7 or 8).
    pub fn is_temporary(&self) -> bool {
        matches!(self.sex_digit(), 7 | 8)
    }

    /// The INS in its usual printed groups: `2 69 05 49 588 157 80`.
    pub fn formatted(&self) -> String {
        let s = &self.0;
        format!(
            "{} {} {} {} {} {} {}",
            &s[0..1],
            &s[1..3],
            &s[3..5],
            &s[5..7],
            &s[7..10],
            &s[10..13],
            &s[13..15]
        )
    }
}

/// `97 − (NIR mod 97)`, reading `2A`/`2B` as `19`/`18`. `nir` is 13 checked
/// ASCII characters.
fn nir_key(nir: &[u8]) -> u64 {
    let corsica = match nir.get(5..7) {
        Some(b"2A") => Some(b"19"),
        Some(b"2B") => Some(b"18"),
        _ => None,
    };
    let mut n: u64 = 0;
    for (i, &b) in nir.iter().enumerate() {
        let digit = match (corsica, i) {
            (Some(d), 5) => d[0],
            (Some(d), 6) => d[1],
            _ => b,
        };
        n = n * 10 + u64::from(digit.wrapping_sub(b'0') % 10);
    }
    97 - n % 97
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    #[test]
    fn valid_numbers_parse() {
        // The textbook example, with and without spaces.
        let ins = Ins::parse("2 69 05 49 588 157 80").unwrap();
        assert_eq!(ins.as_str(), "269054958815780");
        assert_eq!(ins.nir(), "2690549588157");
        assert_eq!(ins.formatted(), "2 69 05 49 588 157 80");
        assert_eq!(ins.sex_digit(), 2);
        assert!(!ins.is_temporary());
        assert_eq!(Ins::parse("269054958815780"), Ok(ins));
        for ok in [
            "184027645108980",
            "182059999999906",
            "399129912345612",
            "799129912345606",
            "899129912345653",
        ] {
            assert_eq!(Ins::parse(ok).unwrap().as_str(), ok);
        }
        assert!(Ins::parse("899129912345653").unwrap().is_temporary());
    }

    #[test]
    fn corsica_reads_2a_as_19_and_2b_as_18() {
        let a = Ins::parse("2 81 02 2A 123 456 34").unwrap();
        assert_eq!(a.as_str(), "281022A12345634");
        let b = Ins::parse("281022b12345661").unwrap();
        assert_eq!(b.as_str(), "281022B12345661");
        assert_eq!(b.formatted(), "2 81 02 2B 123 456 61");
        // The same digits with the other department fail their key.
        assert_eq!(Ins::parse("281022A12345661"), Err(InsError::Key));
        assert_eq!(Ins::parse("281022B12345634"), Err(InsError::Key));
        // Letters only after a 2, only A or B, only in the department.
        assert_eq!(Ins::parse("281021A12345634"), Err(InsError::Characters));
        assert_eq!(Ins::parse("281022C12345634"), Err(InsError::Characters));
        assert_eq!(Ins::parse("28102A212345634"), Err(InsError::Characters));
        assert_eq!(Ins::parse("2810A2212345634"), Err(InsError::Characters));
    }

    #[test]
    fn each_rejection_has_its_variant() {
        assert_eq!(Ins::parse(""), Err(InsError::Length { found: 0 }));
        assert_eq!(
            Ins::parse("26905495881578"),
            Err(InsError::Length { found: 14 })
        );
        assert_eq!(
            Ins::parse("2690549588157800"),
            Err(InsError::Length { found: 16 })
        );
        assert_eq!(Ins::parse("26905495881578x"), Err(InsError::Characters));
        assert_eq!(Ins::parse("26905495881578é"), Err(InsError::Characters));
        assert_eq!(Ins::parse("2690549588157-0"), Err(InsError::Characters));
        assert_eq!(Ins::parse("\t69054958815780"), Err(InsError::Characters));
        assert_eq!(Ins::parse("469054958815780"), Err(InsError::SexDigit));
        assert_eq!(Ins::parse("069054958815780"), Err(InsError::SexDigit));
        assert_eq!(Ins::parse("269054958815781"), Err(InsError::Key));
        assert_eq!(Ins::parse("269054958815700"), Err(InsError::Key));
        // A transposition is caught by the key.
        assert_eq!(Ins::parse("296054958815780"), Err(InsError::Key));
    }

    #[test]
    fn nothing_prints_the_number() {
        let ins = Ins::parse("269054958815780").unwrap();
        assert_eq!(format!("{ins:?}"), "Ins(<redacted>)");
        for e in [
            Ins::parse("269054958815781").unwrap_err(),
            Ins::parse("26905495881578").unwrap_err(),
            Ins::parse("469054958815780").unwrap_err(),
            Ins::parse("26905495881578x").unwrap_err(),
        ] {
            let msg = format!("{e} {e:?}");
            assert!(!msg.contains("2690549"), "{msg}");
            assert!(!msg.contains("4690549"), "{msg}");
        }
    }
}
