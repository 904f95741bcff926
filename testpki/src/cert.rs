//! X.509 v3 certificates and v2 CRLs in the IGC-Santé shape, assembled with the DER writer.

use ring::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;

use super::der::{self, DerError};
use super::error::TestPkiError;
use super::keys::{self, RsaSigner};

/// Object identifiers used in names and extensions.
pub(crate) mod oid {
    /// countryName.
    pub const COUNTRY: &str = "2.5.4.6";
    /// organizationName.
    pub const ORGANIZATION: &str = "2.5.4.10";
    /// organizationalUnitName.
    pub const ORGANIZATIONAL_UNIT: &str = "2.5.4.11";
    /// commonName.
    pub const COMMON_NAME: &str = "2.5.4.3";
    /// title.
    pub const TITLE: &str = "2.5.4.12";
    /// givenName.
    pub const GIVEN_NAME: &str = "2.5.4.42";
    /// surname.
    pub const SURNAME: &str = "2.5.4.4";
    /// id-ce-subjectKeyIdentifier.
    pub const SUBJECT_KEY_ID: &str = "2.5.29.14";
    /// id-ce-keyUsage.
    pub const KEY_USAGE: &str = "2.5.29.15";
    /// id-ce-basicConstraints.
    pub const BASIC_CONSTRAINTS: &str = "2.5.29.19";
    /// id-ce-cRLNumber.
    pub const CRL_NUMBER: &str = "2.5.29.20";
    /// id-ce-certificatePolicies.
    pub const CERTIFICATE_POLICIES: &str = "2.5.29.32";
    /// anyPolicy.
    pub const ANY_POLICY: &str = "2.5.29.32.0";
    /// id-ce-extKeyUsage.
    pub const EXT_KEY_USAGE: &str = "2.5.29.37";
    /// id-ce-authorityKeyIdentifier.
    pub const AUTHORITY_KEY_ID: &str = "2.5.29.35";
    /// IGC-Santé private extension holding the TRE_G15 profession code as an INTEGER.
    pub const PROFESSION_CODE: &str = "1.2.250.1.71.1.2.7";
}

/// The certificate policy written in practitioner certificates made by this generator.
///
/// Made up for Confrère tests, under the arc of the IGC-Santé TEST policies
/// (`1.2.250.1.213.1.7.2`, whose real policies look like `1.2.250.1.213.1.7.2.1.1.1.1`);
/// arc `999` is not a policy of the ANS, so no real relying party gives it any meaning.
pub const TEST_POLICY_OID: &str = "1.2.250.1.213.1.7.2.999.1";

/// Organization written in every TEST CA name.
pub(crate) const TEST_ORGANIZATION: &str = "CONFRERE TEST";
/// Organizational unit written in every TEST CA name.
pub(crate) const TEST_UNIT: &str = "IGC-SANTE TEST";
/// Common name of the TEST root CA.
pub const ROOT_CN: &str = "TEST AC RACINE CONFRERE";
/// Common name of the TEST intermediate (issuing) CA.
pub const INTERMEDIATE_CN: &str = "TEST AC CONFRERE PERSONNES";

/// KeyUsage bit numbers (RFC 5280 §4.2.1.3).
pub(crate) mod key_usage_bit {
    /// digitalSignature.
    pub const DIGITAL_SIGNATURE: u8 = 0;
    /// nonRepudiation (contentCommitment).
    pub const NON_REPUDIATION: u8 = 1;
    /// keyCertSign.
    pub const KEY_CERT_SIGN: u8 = 5;
    /// cRLSign.
    pub const CRL_SIGN: u8 = 6;
}

/// One AttributeTypeAndValue with a UTF8String value.
fn utf8_attribute(attribute: &str, value: &str) -> Result<Vec<u8>, DerError> {
    Ok(der::sequence([
        der::oid(attribute)?,
        der::utf8_string(value),
    ]))
}

/// The `C=FR` RDN (PrintableString, as X.520 requires for countryName).
fn country_fr() -> Result<Vec<u8>, DerError> {
    Ok(der::set_of([der::sequence([
        der::oid(oid::COUNTRY)?,
        der::printable_string("FR")?,
    ])]))
}

/// Name of a TEST CA: `C=FR, O=CONFRERE TEST, OU=IGC-SANTE TEST, CN=<common_name>`.
pub(crate) fn ca_name(common_name: &str) -> Result<Vec<u8>, DerError> {
    Ok(der::sequence([
        country_fr()?,
        der::set_of([utf8_attribute(oid::ORGANIZATION, TEST_ORGANIZATION)?]),
        der::set_of([utf8_attribute(oid::ORGANIZATIONAL_UNIT, TEST_UNIT)?]),
        der::set_of([utf8_attribute(oid::COMMON_NAME, common_name)?]),
    ]))
}

/// Practitioner subject: `C=FR, title=<label>`, then one multi-valued RDN holding
/// `GN=<given> + CN=<national id> + SN=<surname>`.
///
/// DER sorts the members of that SET by their encodings, so the order in the certificate
/// (and in `openssl x509 -text`) depends on the lengths of the values: with the names of
/// the ANS TEST certificates it is GN, CN, SN; with a long given name GN comes last.
/// Readers must look attributes up by type, never by position.
pub(crate) fn practitioner_name(
    title: &str,
    given: &str,
    national_id: &str,
    surname: &str,
) -> Result<Vec<u8>, DerError> {
    Ok(der::sequence([
        country_fr()?,
        der::set_of([utf8_attribute(oid::TITLE, title)?]),
        der::set_of([
            utf8_attribute(oid::GIVEN_NAME, given)?,
            utf8_attribute(oid::COMMON_NAME, national_id)?,
            utf8_attribute(oid::SURNAME, surname)?,
        ]),
    ]))
}

/// One Extension: `SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }`.
pub(crate) fn extension(id: &str, critical: bool, value: &[u8]) -> Result<Vec<u8>, DerError> {
    let mut parts = vec![der::oid(id)?];
    if critical {
        parts.push(der::boolean(true));
    }
    parts.push(der::octet_string(value));
    Ok(der::sequence(parts))
}

/// BasicConstraints value; `CA:FALSE` is the empty SEQUENCE (DEFAULT FALSE is omitted).
pub(crate) fn basic_constraints(ca: bool, path_len: Option<u64>) -> Vec<u8> {
    let mut parts = Vec::new();
    if ca {
        parts.push(der::boolean(true));
    }
    if let Some(len) = path_len {
        parts.push(der::integer_u64(len));
    }
    der::sequence(parts)
}

/// AuthorityKeyIdentifier value holding only `[0] keyIdentifier`.
pub(crate) fn authority_key_id(key_id: &[u8]) -> Result<Vec<u8>, DerError> {
    Ok(der::sequence([der::implicit_primitive(0, key_id)?]))
}

/// CertificatePolicies value with bare PolicyInformation entries (no qualifiers).
pub(crate) fn certificate_policies(policies: &[&str]) -> Result<Vec<u8>, DerError> {
    let infos = policies
        .iter()
        .map(|p| Ok(der::sequence([der::oid(p)?])))
        .collect::<Result<Vec<_>, DerError>>()?;
    Ok(der::sequence(infos))
}

/// ExtKeyUsageSyntax value: a SEQUENCE of key purpose OIDs.
pub(crate) fn ext_key_usage(purposes: &[&str]) -> Result<Vec<u8>, DerError> {
    let oids = purposes
        .iter()
        .map(|p| der::oid(p))
        .collect::<Result<Vec<_>, DerError>>()?;
    Ok(der::sequence(oids))
}

/// A random positive 16-octet serial number (top bit clear, next bit set so it stays
/// exactly 16 octets in DER, 126 random bits).
pub(crate) fn random_serial() -> Result<Vec<u8>, TestPkiError> {
    let mut serial = [0u8; 16];
    SystemRandom::new()
        .fill(&mut serial)
        .map_err(|_| TestPkiError::Key {
            what: "cannot draw a serial number",
            reason: "the system random generator failed".to_owned(),
        })?;
    serial[0] = (serial[0] & 0x7f) | 0x40;
    Ok(serial.to_vec())
}

/// What goes into one certificate.
#[derive(Debug)]
pub(crate) struct CertSpec<'a> {
    /// Serial number magnitude (big-endian, positive).
    pub serial: &'a [u8],
    /// Issuer Name encoding.
    pub issuer: &'a [u8],
    /// Subject Name encoding.
    pub subject: &'a [u8],
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// SubjectPublicKeyInfo encoding.
    pub spki: &'a [u8],
    /// Encoded Extension values, in order.
    pub extensions: Vec<Vec<u8>>,
}

/// Builds the TBSCertificate and signs it with `signer` (sha256WithRSAEncryption).
pub(crate) fn sign_certificate(
    spec: &CertSpec<'_>,
    signer: &RsaSigner,
) -> Result<Vec<u8>, TestPkiError> {
    let algorithm = keys::sha256_with_rsa()?;
    let tbs = der::sequence([
        der::explicit(0, &der::integer_u64(2))?,
        der::integer_unsigned(spec.serial),
        algorithm.clone(),
        spec.issuer.to_vec(),
        der::sequence([
            der::x509_time(spec.not_before)?,
            der::x509_time(spec.not_after)?,
        ]),
        spec.subject.to_vec(),
        spec.spki.to_vec(),
        der::explicit(3, &der::sequence(&spec.extensions))?,
    ]);
    sign_tbs(tbs, algorithm, signer)
}

/// Wraps a to-be-signed structure as `SEQUENCE { tbs, algorithm, signature BIT STRING }`.
fn sign_tbs(tbs: Vec<u8>, algorithm: Vec<u8>, signer: &RsaSigner) -> Result<Vec<u8>, TestPkiError> {
    let signature = signer.sign(&tbs)?;
    Ok(der::sequence([
        tbs,
        algorithm,
        der::bit_string(&signature, 0)?,
    ]))
}

/// One revoked certificate as a CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Serial number magnitude, big-endian (as shown by `openssl x509 -serial`).
    pub serial: Vec<u8>,
    /// When the certificate was revoked.
    pub revoked_at: OffsetDateTime,
}

/// What goes into one CRL.
#[derive(Debug)]
pub(crate) struct CrlSpec<'a> {
    /// Issuer Name encoding (the intermediate's subject).
    pub issuer: &'a [u8],
    /// Key identifier of the issuing key (for the AKI extension).
    pub issuer_key_id: &'a [u8],
    /// Issue time.
    pub this_update: OffsetDateTime,
    /// Time by which the next CRL will be out.
    pub next_update: OffsetDateTime,
    /// Certificates listed as revoked.
    pub revoked: &'a [RevokedEntry],
    /// Monotonic CRL number.
    pub crl_number: u64,
}

/// Builds a v2 CertificateList and signs it with `signer`.
pub(crate) fn sign_crl(spec: &CrlSpec<'_>, signer: &RsaSigner) -> Result<Vec<u8>, TestPkiError> {
    let algorithm = keys::sha256_with_rsa()?;
    let mut fields = vec![
        der::integer_u64(1), // v2
        algorithm.clone(),
        spec.issuer.to_vec(),
        der::x509_time(spec.this_update)?,
        der::x509_time(spec.next_update)?,
    ];
    // RFC 5280 §5.1.2.6: with nothing revoked the list is absent, not empty.
    if !spec.revoked.is_empty() {
        let entries = spec
            .revoked
            .iter()
            .map(|entry| {
                Ok(der::sequence([
                    der::integer_unsigned(&entry.serial),
                    der::x509_time(entry.revoked_at)?,
                ]))
            })
            .collect::<Result<Vec<_>, DerError>>()?;
        fields.push(der::sequence(entries));
    }
    let extensions = der::sequence([
        extension(
            oid::AUTHORITY_KEY_ID,
            false,
            &authority_key_id(spec.issuer_key_id)?,
        )?,
        extension(oid::CRL_NUMBER, false, &der::integer_u64(spec.crl_number))?,
    ]);
    fields.push(der::explicit(0, &extensions)?);
    sign_tbs(der::sequence(fields), algorithm, signer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn practitioner_name_matches_the_ans_test_certificate() {
        // Subject of testdata/ans-test-certs/sage-femme-elementaire.pem, byte for byte
        // (offsets 215..311 of that certificate).
        let expected: &[u8] = &[
            0x30, 0x5e, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'F',
            b'R', 0x31, 0x13, 0x30, 0x11, 0x06, 0x03, 0x55, 0x04, 0x0c, 0x0c, 0x0a, b'S', b'a',
            b'g', b'e', b'-', b'F', b'e', b'm', b'm', b'e', 0x31, 0x3a, 0x30, 0x0d, 0x06, 0x03,
            0x55, 0x04, 0x2a, 0x0c, 0x06, b'C', b'E', b'C', b'I', b'L', b'E', 0x30, 0x13, 0x06,
            0x03, 0x55, 0x04, 0x03, 0x0c, 0x0c, b'8', b'9', b'9', b'7', b'0', b'0', b'0', b'7',
            b'5', b'0', b'6', b'4', 0x30, 0x14, 0x06, 0x03, 0x55, 0x04, 0x04, 0x0c, 0x0d, b'S',
            b'A', b'G', b'E', b'C', b'H', b'0', b'0', b'0', b'7', b'5', b'0', b'6',
        ];
        let name = practitioner_name("Sage-Femme", "CECILE", "899700075064", "SAGECH0007506");
        assert_eq!(name.as_deref(), Ok(expected));
    }

    #[test]
    fn extension_values() {
        // As in the ANS TEST certificates.
        assert_eq!(basic_constraints(false, None), [0x30, 0x00]);
        assert_eq!(
            basic_constraints(true, Some(0)),
            [0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00]
        );
        assert_eq!(
            extension(oid::KEY_USAGE, true, &der::named_bits(&[1])),
            Ok(vec![
                0x30, 0x0e, 0x06, 0x03, 0x55, 0x1d, 0x0f, 0x01, 0x01, 0xff, 0x04, 0x04, 0x03, 0x02,
                0x06, 0x40
            ])
        );
        assert_eq!(
            authority_key_id(&[0xab; 20]).map(|v| v[..4].to_vec()),
            Ok(vec![0x30, 0x16, 0x80, 0x14])
        );
    }

    #[test]
    fn serials_are_positive_16_octets() {
        for _ in 0..32 {
            let serial = random_serial().expect("test setup");
            assert_eq!(der::integer_unsigned(&serial).len(), 18);
        }
    }
}
