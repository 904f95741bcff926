//! The in-memory TEST CA: a root and an intermediate that issue practitioner certificates
//! and sign CRLs. No file I/O here (see the crate root for the directory layout).

use std::fmt;

use time::{Duration, OffsetDateTime, UtcOffset};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::KeyUsages;
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::Certificate;
use zeroize::Zeroizing;

use super::cert::{self, oid, CertSpec, CrlSpec, RevokedEntry};
use super::error::TestPkiError;
use super::keys::{self, RsaSigner, SubjectKey, CA_KEY_BITS};
use super::pem;
use super::request::{IssueRequest, IssuedCert, TestKeyUsage};

/// Validity of the TEST root CA, in years from its start.
const ROOT_YEARS: i64 = 20;
/// Validity of the TEST intermediate CA, in years from its start.
const INTERMEDIATE_YEARS: i64 = 10;

/// Drops fractions of a second (X.509 times have none) and moves to UTC.
pub(crate) fn whole_seconds(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(UtcOffset::UTC);
    at - Duration::nanoseconds(i64::from(at.nanosecond()))
}

/// `at + by`, or an error if that leaves the representable range.
pub(crate) fn shifted(at: OffsetDateTime, by: Duration) -> Result<OffsetDateTime, TestPkiError> {
    at.checked_add(by)
        .ok_or_else(|| TestPkiError::InvalidValidity {
            reason: format!(
                "{at} shifted by {by} is out of range: use a date between years 1 and 9999"
            ),
        })
}

/// Whole years as days, counting the leap days of a typical span.
fn years(count: i64) -> Duration {
    Duration::days(365 * count + count / 4)
}

/// A TEST root and intermediate CA, with their keys, held in memory.
pub struct TestCa {
    root_der: Vec<u8>,
    root_key: RsaSigner,
    intermediate_der: Vec<u8>,
    intermediate_key: RsaSigner,
    /// The intermediate's subject (issuer of what it signs).
    intermediate_name: Name,
    /// The intermediate's key identifier (AKI of what it signs).
    intermediate_key_id: Vec<u8>,
    /// The root's subject (issuer of its CRL).
    root_name: Name,
    /// The root's key identifier.
    root_key_id: Vec<u8>,
}

impl fmt::Debug for TestCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa")
            .field("root_der_len", &self.root_der.len())
            .field("intermediate_der_len", &self.intermediate_der.len())
            .finish_non_exhaustive()
    }
}

impl TestCa {
    /// Makes a new TEST root and intermediate with [`CA_KEY_BITS`]-bit RSA keys. Both start
    /// one day before `now`; the root lasts 20 years, the intermediate 10.
    pub fn generate(now: OffsetDateTime) -> Result<Self, TestPkiError> {
        Self::generate_with_key_bits(now, CA_KEY_BITS)
    }

    /// Like [`TestCa::generate`] with another RSA size for the two CA keys (2048 to 4096
    /// bits; 4096 is what IGC-Santé uses, and takes seconds to generate).
    pub fn generate_with_key_bits(now: OffsetDateTime, bits: usize) -> Result<Self, TestPkiError> {
        if !(2048..=4096).contains(&bits) {
            return Err(TestPkiError::Key {
                what: "cannot generate the TEST CA keys",
                reason: format!("{bits} bits is not supported: use 2048 to 4096"),
            });
        }
        let start = shifted(whole_seconds(now), Duration::days(-1))?;
        let (root_key, intermediate_key) = RsaSigner::generate_two(bits)?;

        let root_name = cert::ca_name(cert::ROOT_CN)?;
        let root_id = root_key.key_identifier();
        let root_der = cert::sign_certificate(
            CertSpec {
                serial: &cert::random_serial()?,
                issuer: &root_name,
                subject: root_name.clone(),
                not_before: start,
                not_after: shifted(start, years(ROOT_YEARS))?,
                spki: root_key.spki().clone(),
                extensions: ca_extensions(None, &root_id, &root_id)?,
            },
            &root_key,
        )?;

        let intermediate_name = cert::ca_name(cert::INTERMEDIATE_CN)?;
        let intermediate_id = intermediate_key.key_identifier();
        let intermediate_der = cert::sign_certificate(
            CertSpec {
                serial: &cert::random_serial()?,
                issuer: &root_name,
                subject: intermediate_name.clone(),
                not_before: start,
                not_after: shifted(start, years(INTERMEDIATE_YEARS))?,
                spki: intermediate_key.spki().clone(),
                extensions: ca_extensions(Some(0), &intermediate_id, &root_id)?,
            },
            &root_key,
        )?;

        Ok(Self {
            root_der,
            root_key,
            intermediate_der,
            intermediate_key,
            intermediate_name,
            intermediate_key_id: intermediate_id,
            root_name,
            root_key_id: root_id,
        })
    }

    /// Rebuilds a CA from its certificates (DER) and PKCS#8 keys, checking that each key
    /// matches its certificate and that the intermediate is signed by the root.
    pub fn from_parts(
        root_der: Vec<u8>,
        root_key_pkcs8: Zeroizing<Vec<u8>>,
        intermediate_der: Vec<u8>,
        intermediate_key_pkcs8: Zeroizing<Vec<u8>>,
    ) -> Result<Self, TestPkiError> {
        let bad = |reason: String| TestPkiError::InconsistentCa { reason };
        let root_key =
            RsaSigner::from_pkcs8(root_key_pkcs8).map_err(|e| bad(format!("root key: {e}")))?;
        let intermediate_key = RsaSigner::from_pkcs8(intermediate_key_pkcs8)
            .map_err(|e| bad(format!("intermediate key: {e}")))?;
        let root = Certificate::from_der(&root_der)
            .map_err(|e| bad(format!("root certificate: {e}")))?
            .tbs_certificate;
        let intermediate = Certificate::from_der(&intermediate_der)
            .map_err(|e| bad(format!("intermediate certificate: {e}")))?;
        let same_key = |cert: &x509_cert::TbsCertificate, signer: &RsaSigner| {
            cert.subject_public_key_info.subject_public_key == signer.spki().subject_public_key
        };
        if !same_key(&root, &root_key) {
            return Err(bad(
                "the root key does not belong to the root certificate".to_owned()
            ));
        }
        if !same_key(&intermediate.tbs_certificate, &intermediate_key) {
            return Err(bad(
                "the intermediate key does not belong to the intermediate certificate".to_owned(),
            ));
        }
        if intermediate.tbs_certificate.issuer != root.subject
            || !signed_by(&intermediate, &root_key)
        {
            return Err(bad(
                "the intermediate certificate is not signed by the root".to_owned(),
            ));
        }
        let intermediate_name = intermediate.tbs_certificate.subject;
        let intermediate_key_id = intermediate_key.key_identifier();
        let root_name = root.subject;
        let root_key_id = root_key.key_identifier();
        Ok(Self {
            root_der,
            root_key,
            intermediate_der,
            intermediate_key,
            intermediate_name,
            intermediate_key_id,
            root_name,
            root_key_id,
        })
    }

    /// The root certificate (trust anchor), DER.
    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    /// The intermediate (issuing) certificate, DER.
    pub fn intermediate_der(&self) -> &[u8] {
        &self.intermediate_der
    }

    /// The root certificate, PEM.
    pub fn root_pem(&self) -> String {
        pem::encode(pem::CERTIFICATE, &self.root_der).to_string()
    }

    /// The intermediate certificate, PEM.
    pub fn intermediate_pem(&self) -> String {
        pem::encode(pem::CERTIFICATE, &self.intermediate_der).to_string()
    }

    /// The root private key as PKCS#8 PEM.
    pub(crate) fn root_key_pem(&self) -> Zeroizing<String> {
        pem::encode(pem::PRIVATE_KEY, self.root_key.pkcs8())
    }

    /// The intermediate private key as PKCS#8 PEM.
    pub(crate) fn intermediate_key_pem(&self) -> Zeroizing<String> {
        pem::encode(pem::PRIVATE_KEY, self.intermediate_key.pkcs8())
    }

    /// Issues a practitioner certificate with a fresh key pair, signed by the intermediate.
    pub fn issue(
        &self,
        req: &IssueRequest,
        now: OffsetDateTime,
    ) -> Result<IssuedCert, TestPkiError> {
        let title = req.validate()?;
        let now = whole_seconds(now);
        let not_before = match req.not_before {
            Some(at) => whole_seconds(at),
            None => shifted(now, Duration::hours(-1))?,
        };
        let not_after = match req.not_after {
            Some(at) => whole_seconds(at),
            None if req.validity_days == 0 => {
                return Err(TestPkiError::InvalidValidity {
                    reason: "validity_days is 0: give at least 1 day".to_owned(),
                })
            }
            None => shifted(now, Duration::days(i64::from(req.validity_days)))?,
        };
        if not_after <= not_before {
            return Err(TestPkiError::InvalidValidity {
                reason: format!("not_after {not_after} is not after not_before {not_before}"),
            });
        }

        let key = SubjectKey::generate(req.ecdsa)?;
        let subject = cert::practitioner_name(title, &req.given, &req.national_id, &req.surname)?;
        let usage = match req.key_usage {
            TestKeyUsage::DigitalSignature => KeyUsages::DigitalSignature,
            TestKeyUsage::NonRepudiation => KeyUsages::NonRepudiation,
        };
        let mut extensions = vec![
            cert::extension(
                oid::BASIC_CONSTRAINTS,
                false,
                &cert::basic_constraints(false, None),
            )?,
            cert::extension(
                oid::SUBJECT_KEY_ID,
                false,
                &cert::subject_key_id(&keys::key_identifier(&key.spki))?,
            )?,
            cert::extension(
                oid::AUTHORITY_KEY_ID,
                false,
                &cert::authority_key_id(&self.intermediate_key_id)?,
            )?,
            cert::extension(oid::KEY_USAGE, true, &cert::key_usage(usage))?,
            // The IGC-Santé profession code: a bare INTEGER.
            cert::extension(oid::PROFESSION_CODE, false, &req.profession_code)?,
        ];
        let policies = match &req.policies {
            None => vec![cert::parse_oid(cert::TEST_POLICY_OID)?],
            Some(list) => list
                .iter()
                .map(|p| cert::parse_oid(p))
                .collect::<Result<Vec<_>, _>>()?,
        };
        if !policies.is_empty() {
            extensions.push(cert::extension(
                oid::CERTIFICATE_POLICIES,
                false,
                &cert::certificate_policies(&policies),
            )?);
        }
        if let Some(purposes) = &req.ext_key_usage {
            let purposes = purposes
                .iter()
                .map(|p| cert::parse_oid(p))
                .collect::<Result<Vec<_>, _>>()?;
            extensions.push(cert::extension(
                oid::EXT_KEY_USAGE,
                false,
                &cert::ext_key_usage(&purposes),
            )?);
        }
        let serial = cert::random_serial()?;
        let cert_der = cert::sign_certificate(
            CertSpec {
                serial: &serial,
                issuer: &self.intermediate_name,
                subject,
                not_before,
                not_after,
                spki: key.spki,
                extensions,
            },
            &self.intermediate_key,
        )?;
        Ok(IssuedCert {
            cert_der,
            key_pkcs8_der: key.pkcs8,
            serial,
            not_before,
            not_after,
        })
    }

    /// Signs a v2 CRL listing `revoked`, with CRL number `crl_number`.
    pub fn crl(
        &self,
        revoked: &[RevokedEntry],
        crl_number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Vec<u8>, TestPkiError> {
        cert::sign_crl(
            &CrlSpec {
                issuer: &self.intermediate_name,
                issuer_key_id: &self.intermediate_key_id,
                this_update: whole_seconds(this_update),
                next_update: whole_seconds(next_update),
                revoked,
                crl_number,
            },
            &self.intermediate_key,
        )
    }

    /// Signs the root's CRL (an authority revocation list): it revokes no
    /// intermediate, but verifiers that check every certificate of the path
    /// need a current one.
    pub fn root_crl(
        &self,
        crl_number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Vec<u8>, TestPkiError> {
        cert::sign_crl(
            &CrlSpec {
                issuer: &self.root_name,
                issuer_key_id: &self.root_key_id,
                this_update: whole_seconds(this_update),
                next_update: whole_seconds(next_update),
                revoked: &[],
                crl_number,
            },
            &self.root_key,
        )
    }

    /// Checks that `cert_der` was issued by this CA's intermediate (issuer name and
    /// signature) and returns its serial number (big-endian magnitude).
    pub fn issued_serial(&self, cert_der: &[u8]) -> Result<Vec<u8>, TestPkiError> {
        let refuse = |reason| TestPkiError::NotIssuedByThisCa { reason };
        let cert = Certificate::from_der(cert_der)
            .map_err(|_| refuse("it is not a well-formed certificate"))?;
        if cert.tbs_certificate.issuer != self.intermediate_name {
            return Err(refuse("its issuer is not this CA's intermediate"));
        }
        if cert.signature_algorithm != self.intermediate_key.algorithm()? {
            return Err(refuse("it is not signed with sha256WithRSAEncryption"));
        }
        if !signed_by(&cert, &self.intermediate_key) {
            return Err(refuse(
                "its signature does not verify with this CA's intermediate key",
            ));
        }
        // The INTEGER's content octets, two's complement.
        let serial = cert.tbs_certificate.serial_number.as_bytes();
        match serial.first() {
            None => Err(refuse("its serial number is empty")),
            Some(first) if first & 0x80 != 0 => Err(refuse("its serial number is negative")),
            Some(_) => {
                let skip = serial.iter().take_while(|b| **b == 0).count();
                Ok(serial[skip..].to_vec())
            }
        }
    }
}

/// Whether `cert`'s signature over its TBSCertificate verifies with `key`.
fn signed_by(cert: &Certificate, key: &RsaSigner) -> bool {
    // Re-encoding gives back the signed bytes of a DER certificate; a certificate that was
    // not DER fails here, as it should.
    let Ok(tbs) = cert.tbs_certificate.to_der() else {
        return false;
    };
    match cert.signature.as_bytes() {
        Some(signature) => key.verifies(&tbs, signature),
        None => false,
    }
}

/// Extensions of a CA certificate, in the order of the IGC-Santé TEST CAs.
fn ca_extensions(
    path_len: Option<u8>,
    subject_id: &[u8],
    authority_id: &[u8],
) -> Result<Vec<Extension>, TestPkiError> {
    Ok(vec![
        cert::extension(
            oid::BASIC_CONSTRAINTS,
            true,
            &cert::basic_constraints(true, path_len),
        )?,
        cert::extension(
            oid::KEY_USAGE,
            true,
            &cert::key_usage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
        )?,
        cert::extension(
            oid::CERTIFICATE_POLICIES,
            false,
            &cert::certificate_policies(&[oid::ANY_POLICY]),
        )?,
        cert::extension(
            oid::SUBJECT_KEY_ID,
            false,
            &cert::subject_key_id(subject_id)?,
        )?,
        cert::extension(
            oid::AUTHORITY_KEY_ID,
            false,
            &cert::authority_key_id(authority_id)?,
        )?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_are_whole_utc_seconds() {
        let at = datetime!(2026-01-01 01:00:00.75 +1);
        assert_eq!(whole_seconds(at), datetime!(2026-01-01 0:00 UTC));
        assert_eq!(years(20), Duration::days(7305));
        assert!(shifted(datetime!(9999-12-31 0:00 UTC), Duration::days(2)).is_err());
    }

    #[test]
    fn issued_serial_checks_the_signature() {
        let now = datetime!(2026-06-01 12:00 UTC);
        let ca = TestCa::generate_with_key_bits(now, 2048).expect("test setup");
        let req = IssueRequest::new("899700075064", "CECILE", "SAGECH0007506", 50);
        let issued = ca.issue(&req, now).expect("test setup");
        assert_eq!(issued.not_before, datetime!(2026-06-01 11:00 UTC));
        assert_eq!(issued.not_after, datetime!(2029-05-31 12:00 UTC));
        assert_eq!(
            ca.issued_serial(&issued.cert_der).expect("test setup"),
            issued.serial
        );

        let mut tampered = issued.cert_der;
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(matches!(
            ca.issued_serial(&tampered),
            Err(TestPkiError::NotIssuedByThisCa { .. })
        ));
        assert!(matches!(
            ca.issued_serial(ca.root_der()),
            Err(TestPkiError::NotIssuedByThisCa { .. })
        ));
        assert!(TestCa::generate_with_key_bits(now, 1024).is_err());
    }
}
