//! The IGC-Santé practitioner profile as far as test certificates need it: the TRE_G15
//! profession table and the national id formats.

use confrere_protocol::identity::{IdType, NationalId};

use super::error::TestPkiError;

pub use confrere_protocol::identity::{profession_label, PROFESSIONS};

/// Like [`profession_label`], with an error that lists the known codes.
pub(crate) fn require_profession(code: u32) -> Result<&'static str, TestPkiError> {
    profession_label(code).ok_or_else(|| TestPkiError::UnknownProfession {
        code,
        known: PROFESSIONS
            .iter()
            .map(|(c, label)| format!("{c} ({label})"))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The kind of a practitioner national id, told by its first character.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NationalIdKind {
    /// `8` + the 11-digit RPPS number.
    Rpps,
    /// `0` + the 9-character ADELI number.
    Adeli,
}

/// Checks a national id as it appears in the certificate CN with the
/// protocol's own rules: `8` + 11-digit RPPS with a valid Luhn check digit,
/// or `0` + 9 characters (ADELI). Other types are not issued here.
pub fn validate_national_id(id: &str) -> Result<NationalIdKind, TestPkiError> {
    let invalid = |reason: String| TestPkiError::InvalidNationalId {
        id: id.to_owned(),
        reason,
    };
    let parsed = NationalId::parse(id).map_err(|e| invalid(e.to_string()))?;
    match parsed.id_type() {
        IdType::Rpps => Ok(NationalIdKind::Rpps),
        IdType::Adeli => Ok(NationalIdKind::Adeli),
        _ => Err(invalid(
            "it must start with `8` (RPPS) or `0` (ADELI)".to_owned(),
        )),
    }
}

/// Checks a given name or surname: not blank, no control characters.
pub(crate) fn validate_name(field: &'static str, value: &str) -> Result<(), TestPkiError> {
    if value.trim().is_empty() {
        return Err(TestPkiError::InvalidName {
            field,
            problem: "must not be empty",
        });
    }
    if value.chars().any(char::is_control) {
        return Err(TestPkiError::InvalidName {
            field,
            problem: "must not contain control characters",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_ans_test_ids_are_accepted() {
        assert_eq!(
            validate_national_id("899700075064").ok(),
            Some(NationalIdKind::Rpps)
        );
        assert_eq!(
            validate_national_id("00B6087510").ok(),
            Some(NationalIdKind::Adeli)
        );
    }

    #[test]
    fn bad_ids_are_refused() {
        for bad in [
            "",
            "899700075065",  // wrong Luhn digit
            "89970007506",   // too short
            "8997000750640", // too long
            "8997000750a4",
            "0B6087510",   // ADELI too short
            "00B60875100", // ADELI too long
            "00B6087-10",
            "399700075064", // FINESS-based staff ids are not issued here
            "99700075064",
        ] {
            assert!(
                matches!(
                    validate_national_id(bad),
                    Err(TestPkiError::InvalidNationalId { .. })
                ),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn professions() {
        assert_eq!(profession_label(50), Some("Sage-Femme"));
        assert_eq!(profession_label(60), Some("Infirmier"));
        assert_eq!(profession_label(10), Some("Médecin"));
        let err = require_profession(11)
            .map(|_| ())
            .expect_err("must fail")
            .to_string();
        assert!(err.contains("unknown profession code 11"), "{err}");
        assert!(err.contains("50 (Sage-Femme)"), "{err}");
    }

    #[test]
    fn names() {
        assert!(validate_name("surname", "SAGECH0007506").is_ok());
        assert!(validate_name("surname", "  ").is_err());
        assert!(validate_name("given name", "").is_err());
        assert!(validate_name("given name", "A\nB").is_err());
    }
}
