//! X.509 v3 certificates and v2 CRLs in the IGC-Santé shape, built from the `x509-cert`
//! types and signed by a [`RsaSigner`].
//!
//! The structures are filled in here rather than with the `x509-cert` 0.2 builder: its
//! profiles always mark basicConstraints critical and add their own extensions, while the
//! IGC-Santé practitioner profile writes `CA:FALSE` non-critical and fixes the extension
//! order; and it has no CRL builder.

use ring::rand::{SecureRandom, SystemRandom};
use time::{OffsetDateTime, UtcOffset};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::der::asn1::{
    Any, GeneralizedTime, OctetString, PrintableStringRef, SetOfVec, UtcTime, Utf8StringRef,
};
use x509_cert::der::{DateTime, Encode};
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, ExtendedKeyUsage, KeyUsage,
    KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{ObjectIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

use super::error::TestPkiError;
use super::keys::RsaSigner;

/// Object identifiers used in names and extensions.
pub(crate) mod oid {
    use x509_cert::spki::ObjectIdentifier as Oid;

    /// countryName.
    pub(crate) const COUNTRY: Oid = Oid::new_unwrap("2.5.4.6");
    /// organizationName.
    pub(crate) const ORGANIZATION: Oid = Oid::new_unwrap("2.5.4.10");
    /// organizationalUnitName.
    pub(crate) const ORGANIZATIONAL_UNIT: Oid = Oid::new_unwrap("2.5.4.11");
    /// commonName.
    pub(crate) const COMMON_NAME: Oid = Oid::new_unwrap("2.5.4.3");
    /// title.
    pub(crate) const TITLE: Oid = Oid::new_unwrap("2.5.4.12");
    /// givenName.
    pub(crate) const GIVEN_NAME: Oid = Oid::new_unwrap("2.5.4.42");
    /// surname.
    pub(crate) const SURNAME: Oid = Oid::new_unwrap("2.5.4.4");
    /// id-ce-subjectKeyIdentifier.
    pub(crate) const SUBJECT_KEY_ID: Oid = Oid::new_unwrap("2.5.29.14");
    /// id-ce-keyUsage.
    pub(crate) const KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
    /// id-ce-basicConstraints.
    pub(crate) const BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
    /// id-ce-cRLNumber.
    pub(crate) const CRL_NUMBER: Oid = Oid::new_unwrap("2.5.29.20");
    /// id-ce-certificatePolicies.
    pub(crate) const CERTIFICATE_POLICIES: Oid = Oid::new_unwrap("2.5.29.32");
    /// anyPolicy.
    pub(crate) const ANY_POLICY: Oid = Oid::new_unwrap("2.5.29.32.0");
    /// id-ce-extKeyUsage.
    pub(crate) const EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
    /// id-ce-authorityKeyIdentifier.
    pub(crate) const AUTHORITY_KEY_ID: Oid = Oid::new_unwrap("2.5.29.35");
    /// IGC-Santé private extension holding the TRE_G15 profession code as an INTEGER.
    pub(crate) const PROFESSION_CODE: Oid = Oid::new_unwrap("1.2.250.1.71.1.2.7");
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

/// Parses a dotted object identifier given by a caller (a policy, a key purpose).
pub(crate) fn parse_oid(dotted: &str) -> Result<ObjectIdentifier, TestPkiError> {
    let invalid = |reason: String| TestPkiError::InvalidOid {
        oid: dotted.to_owned(),
        reason,
    };
    // const-oid reads an empty arc ("1..2") as a number; refuse it here.
    if dotted
        .split('.')
        .any(|arc| arc.is_empty() || !arc.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid("every arc must be a decimal number".to_owned()));
    }
    ObjectIdentifier::new(dotted).map_err(|e| invalid(e.to_string()))
}

/// One AttributeTypeAndValue with a UTF8String value.
fn utf8_attribute(
    attribute: ObjectIdentifier,
    value: &str,
) -> Result<AttributeTypeAndValue, TestPkiError> {
    Ok(AttributeTypeAndValue {
        oid: attribute,
        value: Any::encode_from(&Utf8StringRef::new(value)?)?,
    })
}

/// One RDN; DER sorts the members of its SET by their encodings.
fn rdn(members: Vec<AttributeTypeAndValue>) -> Result<RelativeDistinguishedName, TestPkiError> {
    Ok(RelativeDistinguishedName(SetOfVec::try_from(members)?))
}

/// The `C=FR` RDN (PrintableString, as X.520 requires for countryName).
fn country_fr() -> Result<RelativeDistinguishedName, TestPkiError> {
    rdn(vec![AttributeTypeAndValue {
        oid: oid::COUNTRY,
        value: Any::encode_from(&PrintableStringRef::new("FR")?)?,
    }])
}

/// Name of a TEST CA: `C=FR, O=CONFRERE TEST, OU=IGC-SANTE TEST, CN=<common_name>`.
pub(crate) fn ca_name(common_name: &str) -> Result<Name, TestPkiError> {
    Ok(RdnSequence(vec![
        country_fr()?,
        rdn(vec![utf8_attribute(oid::ORGANIZATION, TEST_ORGANIZATION)?])?,
        rdn(vec![utf8_attribute(oid::ORGANIZATIONAL_UNIT, TEST_UNIT)?])?,
        rdn(vec![utf8_attribute(oid::COMMON_NAME, common_name)?])?,
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
) -> Result<Name, TestPkiError> {
    Ok(RdnSequence(vec![
        country_fr()?,
        rdn(vec![utf8_attribute(oid::TITLE, title)?])?,
        rdn(vec![
            utf8_attribute(oid::GIVEN_NAME, given)?,
            utf8_attribute(oid::COMMON_NAME, national_id)?,
            utf8_attribute(oid::SURNAME, surname)?,
        ])?,
    ]))
}

/// One Extension whose extnValue is the DER encoding of `value`.
pub(crate) fn extension(
    id: ObjectIdentifier,
    critical: bool,
    value: &impl Encode,
) -> Result<Extension, TestPkiError> {
    Ok(Extension {
        extn_id: id,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

/// BasicConstraints; `CA:FALSE` encodes as the empty SEQUENCE (DEFAULT FALSE is omitted).
pub(crate) fn basic_constraints(ca: bool, path_len: Option<u8>) -> BasicConstraints {
    BasicConstraints {
        ca,
        path_len_constraint: path_len,
    }
}

/// KeyUsage with the given bits.
pub(crate) fn key_usage(bits: impl Into<x509_cert::der::flagset::FlagSet<KeyUsages>>) -> KeyUsage {
    KeyUsage(bits.into())
}

/// SubjectKeyIdentifier holding `key_id`.
pub(crate) fn subject_key_id(key_id: &[u8]) -> Result<SubjectKeyIdentifier, TestPkiError> {
    Ok(SubjectKeyIdentifier(OctetString::new(key_id)?))
}

/// AuthorityKeyIdentifier holding only `[0] keyIdentifier`.
pub(crate) fn authority_key_id(key_id: &[u8]) -> Result<AuthorityKeyIdentifier, TestPkiError> {
    Ok(AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(key_id)?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    })
}

/// CertificatePolicies with bare PolicyInformation entries (no qualifiers).
pub(crate) fn certificate_policies(policies: &[ObjectIdentifier]) -> CertificatePolicies {
    CertificatePolicies(
        policies
            .iter()
            .map(|p| PolicyInformation {
                policy_identifier: *p,
                policy_qualifiers: None,
            })
            .collect(),
    )
}

/// ExtKeyUsageSyntax: a SEQUENCE of key purpose OIDs.
pub(crate) fn ext_key_usage(purposes: &[ObjectIdentifier]) -> ExtendedKeyUsage {
    ExtendedKeyUsage(purposes.to_vec())
}

/// X.509 `Time`: UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5), whole
/// seconds in UTC. Years before 1970 cannot be written.
pub(crate) fn x509_time(at: OffsetDateTime) -> Result<Time, TestPkiError> {
    let at = at.to_offset(UtcOffset::UTC);
    let out_of_range = || TestPkiError::InvalidValidity {
        reason: format!("{at} cannot be written in a certificate: use a date from 1970 to 9999"),
    };
    let year = u16::try_from(at.year()).map_err(|_| out_of_range())?;
    let date = DateTime::new(
        year,
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
    )
    .map_err(|_| out_of_range())?;
    if year <= 2049 {
        Ok(Time::UtcTime(
            UtcTime::from_date_time(date).map_err(|_| out_of_range())?,
        ))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_date_time(date)))
    }
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
    /// Issuer name.
    pub issuer: &'a Name,
    /// Subject name.
    pub subject: Name,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// The subject's public key.
    pub spki: SubjectPublicKeyInfoOwned,
    /// Extensions, in order.
    pub extensions: Vec<Extension>,
}

/// Builds the TBSCertificate, signs it with `signer` (sha256WithRSAEncryption) and
/// returns the certificate's DER.
pub(crate) fn sign_certificate(
    spec: CertSpec<'_>,
    signer: &RsaSigner,
) -> Result<Vec<u8>, TestPkiError> {
    let algorithm = signer.algorithm()?;
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(spec.serial)?,
        signature: algorithm.clone(),
        issuer: spec.issuer.clone(),
        validity: Validity {
            not_before: x509_time(spec.not_before)?,
            not_after: x509_time(spec.not_after)?,
        },
        subject: spec.subject,
        subject_public_key_info: spec.spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(spec.extensions),
    };
    let signature = signer.sign(&tbs.to_der()?)?;
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: algorithm,
        signature,
    };
    Ok(cert.to_der()?)
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
    /// Issuer name (the signing CA's subject).
    pub issuer: &'a Name,
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

/// Builds a v2 CertificateList, signs it with `signer` and returns its DER.
pub(crate) fn sign_crl(spec: &CrlSpec<'_>, signer: &RsaSigner) -> Result<Vec<u8>, TestPkiError> {
    let algorithm = signer.algorithm()?;
    let revoked = spec
        .revoked
        .iter()
        .map(|entry| {
            Ok(RevokedCert {
                serial_number: SerialNumber::new(&entry.serial)?,
                revocation_date: x509_time(entry.revoked_at)?,
                crl_entry_extensions: None,
            })
        })
        .collect::<Result<Vec<_>, TestPkiError>>()?;
    let tbs = TbsCertList {
        version: Version::V2,
        signature: algorithm.clone(),
        issuer: spec.issuer.clone(),
        this_update: x509_time(spec.this_update)?,
        next_update: Some(x509_time(spec.next_update)?),
        // RFC 5280 §5.1.2.6: with nothing revoked the list is absent, not empty.
        revoked_certificates: (!revoked.is_empty()).then_some(revoked),
        crl_extensions: Some(vec![
            extension(
                oid::AUTHORITY_KEY_ID,
                false,
                &authority_key_id(spec.issuer_key_id)?,
            )?,
            // CRLNumber ::= INTEGER (0..MAX)
            extension(oid::CRL_NUMBER, false, &spec.crl_number)?,
        ]),
    };
    let signature = signer.sign(&tbs.to_der()?)?;
    let crl = CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm: algorithm,
        signature,
    };
    Ok(crl.to_der()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(value: &impl Encode) -> Vec<u8> {
        value.to_der().expect("test setup")
    }

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
        let name = practitioner_name("Sage-Femme", "CECILE", "899700075064", "SAGECH0007506")
            .expect("test setup");
        assert_eq!(der(&name), expected);
    }

    #[test]
    fn extension_values() {
        // As in the ANS TEST certificates.
        assert_eq!(der(&basic_constraints(false, None)), [0x30, 0x00]);
        assert_eq!(
            der(&basic_constraints(true, Some(0))),
            [0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00]
        );
        let usage = |bits| der(&key_usage(bits));
        assert_eq!(usage(KeyUsages::DigitalSignature), [0x03, 0x02, 0x07, 0x80]);
        assert_eq!(usage(KeyUsages::NonRepudiation), [0x03, 0x02, 0x06, 0x40]);
        assert_eq!(
            der(&key_usage(KeyUsages::KeyCertSign | KeyUsages::CRLSign)),
            [0x03, 0x02, 0x01, 0x06]
        );
        assert_eq!(
            der(
                &extension(oid::KEY_USAGE, true, &key_usage(KeyUsages::NonRepudiation))
                    .expect("test setup")
            ),
            [
                0x30, 0x0e, 0x06, 0x03, 0x55, 0x1d, 0x0f, 0x01, 0x01, 0xff, 0x04, 0x04, 0x03, 0x02,
                0x06, 0x40
            ]
        );
        assert_eq!(
            der(&authority_key_id(&[0xab; 20]).expect("test setup"))[..4],
            [0x30, 0x16, 0x80, 0x14]
        );
        // The profession code: extnValue OCTET STRING { INTEGER 50 }, non-critical.
        assert_eq!(
            der(&extension(oid::PROFESSION_CODE, false, &50u32).expect("test setup")),
            [
                0x30, 0x0f, 0x06, 0x08, 0x2a, 0x81, 0x7a, 0x01, 0x47, 0x01, 0x02, 0x07, 0x04, 0x03,
                0x02, 0x01, 0x32
            ]
        );
        assert_eq!(der(&200u64), [0x02, 0x02, 0x00, 0xc8]);
        assert_eq!(
            der(&certificate_policies(&[oid::ANY_POLICY])),
            [0x30, 0x08, 0x30, 0x06, 0x06, 0x04, 0x55, 0x1d, 0x20, 0x00]
        );
        for bad in [
            "", "1", "3.1", "1.40", "1..2", "1.2.x", "1.2.-3", "1.2.+3", "1.2.",
        ] {
            assert!(
                matches!(parse_oid(bad), Err(TestPkiError::InvalidOid { .. })),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn times_follow_rfc5280() {
        use time::macros::datetime;
        let encoded = |at| x509_time(at).map(|t| der(&t));
        assert_eq!(
            encoded(datetime!(2019-06-14 15:43:43 +2)).ok(),
            Some(b"\x17\x0d190614134343Z".to_vec())
        );
        assert_eq!(
            encoded(datetime!(2049-12-31 23:59:59 UTC)).ok(),
            Some(b"\x17\x0d491231235959Z".to_vec())
        );
        assert_eq!(
            encoded(datetime!(2050-01-01 0:00 UTC)).ok(),
            Some(b"\x18\x0f20500101000000Z".to_vec())
        );
        assert!(matches!(
            x509_time(datetime!(1969-12-31 23:59:59 UTC)),
            Err(TestPkiError::InvalidValidity { .. })
        ));
    }

    #[test]
    fn serials_are_positive_16_octets() {
        for _ in 0..32 {
            let serial = random_serial().expect("test setup");
            let encoded = der(
                &SerialNumber::<x509_cert::certificate::Rfc5280>::new(&serial).expect("test setup"),
            );
            assert_eq!(encoded.len(), 18);
            assert_eq!(&encoded[2..], serial.as_slice());
        }
        // A magnitude with its top bit set stays positive.
        assert_eq!(
            der(
                &SerialNumber::<x509_cert::certificate::Rfc5280>::new(&[0x80, 0x01])
                    .expect("test setup")
            ),
            [0x02, 0x03, 0x00, 0x80, 0x01]
        );
    }
}
