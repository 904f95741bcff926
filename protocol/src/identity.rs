//! Who a practitioner is, as their health card certificate says it.
//!
//! An IGC-Santé practitioner certificate names its holder in the subject:
//! `C=FR`, `title=<profession label>` and one multi-valued RDN
//! `GN=<given name> + CN=<national id> + SN=<surname>`. The national id
//! carries its type in its first character (`8` RPPS, `0` ADELI, `3`
//! FINESS-based staff ids …); the numeric profession code (TRE_G15) sits in
//! the private extension `1.2.250.1.71.1.2.7` as a DER INTEGER.
//!
//! This module holds those values and the checks on them; reading them out
//! of a certificate is done in [`crate::certificate`].

use std::fmt;

/// OID of the IGC-Santé extension that holds the profession code.
pub const PROFESSION_EXTENSION_OID: &str = "1.2.250.1.71.1.2.7";

/// The kind of a national id, from its first character.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdType {
    /// `8` + 11-digit RPPS number (last digit a Luhn check digit).
    Rpps,
    /// `0` + 9-character ADELI number.
    Adeli,
    /// `3` + FINESS-based identifier of staff in an establishment.
    Finess,
    /// Any other prefix: kept as typed but not interpreted.
    Unknown(char),
}

impl IdType {
    /// Short lowercase name used in JSON (`rpps`, `adeli`, `finess`, `unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            IdType::Rpps => "rpps",
            IdType::Adeli => "adeli",
            IdType::Finess => "finess",
            IdType::Unknown(_) => "unknown",
        }
    }
}

impl fmt::Display for IdType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdType::Rpps => f.write_str("RPPS"),
            IdType::Adeli => f.write_str("ADELI"),
            IdType::Finess => f.write_str("FINESS"),
            IdType::Unknown(c) => write!(f, "unknown type '{c}'"),
        }
    }
}

/// Why a string is not a usable national id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NationalIdError {
    /// Empty string.
    #[error("the national id is empty")]
    Empty,
    /// Characters other than ASCII letters and digits.
    #[error("the national id may hold only ASCII letters and digits")]
    BadCharacters,
    /// `8…` but not 11 digits after the prefix.
    #[error("an RPPS id is 8 followed by 11 digits")]
    RppsLength,
    /// `8…` with a wrong check digit.
    #[error("the RPPS number fails its Luhn check digit")]
    RppsCheckDigit,
    /// `0…` but not 9 characters after the prefix.
    #[error("an ADELI id is 0 followed by 9 characters")]
    AdeliLength,
    /// Longer than any known id.
    #[error("the national id is too long")]
    TooLong,
}

/// A practitioner's national id with its type prefix, e.g. `899700075064`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NationalId(String);

impl NationalId {
    /// Checks and wraps an id as it appears in a certificate's CN.
    ///
    /// RPPS ids must carry 11 digits with a valid Luhn check digit, ADELI ids
    /// 9 characters; ids of other types are kept as long as they are short
    /// and alphanumeric.
    pub fn parse(s: &str) -> Result<Self, NationalIdError> {
        let first = s.chars().next().ok_or(NationalIdError::Empty)?;
        if !s.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(NationalIdError::BadCharacters);
        }
        if s.len() > 32 {
            return Err(NationalIdError::TooLong);
        }
        let rest = &s[1..];
        match first {
            '8' => {
                if rest.len() != 11 || !rest.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(NationalIdError::RppsLength);
                }
                if !luhn_valid(rest) {
                    return Err(NationalIdError::RppsCheckDigit);
                }
            }
            '0' if rest.len() != 9 => return Err(NationalIdError::AdeliLength),
            _ => {}
        }
        Ok(NationalId(s.to_owned()))
    }

    /// The id with its type prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The type given by the prefix.
    pub fn id_type(&self) -> IdType {
        match self.0.chars().next() {
            Some('8') => IdType::Rpps,
            Some('0') => IdType::Adeli,
            Some('3') => IdType::Finess,
            Some(c) => IdType::Unknown(c),
            None => IdType::Unknown('?'),
        }
    }

    /// The number without its type prefix (the RPPS or ADELI number itself).
    pub fn number(&self) -> &str {
        self.0.get(1..).unwrap_or("")
    }
}

impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Luhn check over a string of ASCII digits (the last one is the check digit).
pub fn luhn_valid(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if !i.is_multiple_of(2) {
                let dd = d * 2;
                if dd > 9 {
                    dd - 9
                } else {
                    dd
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Profession codes of the TRE_G15 nomenclature and their labels.
pub const PROFESSIONS: &[(u32, &str)] = &[
    (10, "Médecin"),
    (21, "Pharmacien"),
    (26, "Audioprothésiste"),
    (28, "Opticien-Lunetier"),
    (31, "Assistant dentaire"),
    (40, "Chirurgien-Dentiste"),
    (50, "Sage-Femme"),
    (60, "Infirmier"),
    (69, "Infirmier psychiatrique"),
    (70, "Masseur-Kinésithérapeute"),
    (80, "Pédicure-Podologue"),
    (81, "Orthoprothésiste"),
    (82, "Podo-Orthésiste"),
    (83, "Orthopédiste-Orthésiste"),
    (84, "Oculariste"),
    (85, "Epithésiste"),
    (86, "Technicien de laboratoire médical"),
    (91, "Orthophoniste"),
    (92, "Orthoptiste"),
    (93, "Psychologue"),
    (94, "Ergothérapeute"),
    (95, "Diététicien"),
    (96, "Psychomotricien"),
    (98, "Manipulateur ERM"),
];

/// The TRE_G15 label of a profession code, if the code is known.
pub fn profession_label(code: u32) -> Option<&'static str> {
    PROFESSIONS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, label)| *label)
}

/// Which uses the certificate's KeyUsage extension allows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyUsage {
    /// digitalSignature: the card's authentication certificate.
    pub digital_signature: bool,
    /// nonRepudiation (contentCommitment): the card's signature certificate.
    pub non_repudiation: bool,
    /// keyEncipherment.
    pub key_encipherment: bool,
    /// keyCertSign: a CA.
    pub key_cert_sign: bool,
    /// cRLSign: a CRL issuer.
    pub crl_sign: bool,
    /// Whether the extension was present at all.
    pub present: bool,
}

impl KeyUsage {
    /// Names of the allowed uses, in RFC 5280 spelling.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.digital_signature {
            v.push("digitalSignature");
        }
        if self.non_repudiation {
            v.push("nonRepudiation");
        }
        if self.key_encipherment {
            v.push("keyEncipherment");
        }
        if self.key_cert_sign {
            v.push("keyCertSign");
        }
        if self.crl_sign {
            v.push("cRLSign");
        }
        v
    }
}

/// The practitioner a certificate names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PractitionerIdentity {
    /// National id with its type prefix.
    pub national_id: NationalId,
    /// Given name (GN).
    pub given_name: String,
    /// Surname (SN).
    pub surname: String,
    /// TRE_G15 profession code from extension `1.2.250.1.71.1.2.7`.
    pub profession_code: Option<u32>,
    /// Profession label: the table's label for the code, else the subject's `title`.
    pub profession: Option<String>,
}

impl PractitionerIdentity {
    /// `GIVEN SURNAME`, as shown to users.
    pub fn display_name(&self) -> String {
        format!("{} {}", self.given_name, self.surname)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpps_of_the_real_test_card_parses() {
        let id = NationalId::parse("899700075064").expect("valid RPPS");
        assert_eq!(id.id_type(), IdType::Rpps);
        assert_eq!(id.number(), "99700075064");
        assert_eq!(id.id_type().as_str(), "rpps");
    }

    #[test]
    fn adeli_parses() {
        let id = NationalId::parse("00B6087510").expect("valid ADELI");
        assert_eq!(id.id_type(), IdType::Adeli);
        assert_eq!(id.number(), "0B6087510");
    }

    #[test]
    fn rejections() {
        assert_eq!(NationalId::parse(""), Err(NationalIdError::Empty));
        assert_eq!(
            NationalId::parse("899700075065"),
            Err(NationalIdError::RppsCheckDigit)
        );
        assert_eq!(
            NationalId::parse("8997000750"),
            Err(NationalIdError::RppsLength)
        );
        assert_eq!(
            NationalId::parse("8997000750a4"),
            Err(NationalIdError::RppsLength)
        );
        assert_eq!(NationalId::parse("0123"), Err(NationalIdError::AdeliLength));
        assert_eq!(
            NationalId::parse("8../../etc"),
            Err(NationalIdError::BadCharacters)
        );
        assert_eq!(
            NationalId::parse(&"3".repeat(40)),
            Err(NationalIdError::TooLong)
        );
        let other = NationalId::parse("3123456").expect("other types are kept");
        assert_eq!(other.id_type(), IdType::Finess);
        let unknown = NationalId::parse("5ABC").expect("unknown types are kept");
        assert_eq!(unknown.id_type(), IdType::Unknown('5'));
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("12a"));
    }

    #[test]
    fn professions() {
        assert_eq!(profession_label(50), Some("Sage-Femme"));
        assert_eq!(profession_label(10), Some("Médecin"));
        assert_eq!(profession_label(11), None);
    }

    #[test]
    fn key_usage_names() {
        let ku = KeyUsage {
            non_repudiation: true,
            present: true,
            ..KeyUsage::default()
        };
        assert_eq!(ku.names(), vec!["nonRepudiation"]);
    }
}
