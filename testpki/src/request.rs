//! What a practitioner certificate should say ([`IssueRequest`]) and what issuing one gives
//! back ([`IssuedCert`]).

use std::fmt;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::error::TestPkiError;
use super::pem;
use super::profile;

/// Default validity of a practitioner certificate: three years, like IGC-Santé software
/// certificates.
pub const DEFAULT_VALIDITY_DAYS: u32 = 3 * 365;

/// The single KeyUsage bit of a practitioner certificate.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TestKeyUsage {
    /// `digitalSignature`, as on the card's authentication certificate (what a node
    /// credential is signed with).
    #[default]
    DigitalSignature,
    /// `nonRepudiation` only, as on the card's signature certificate.
    NonRepudiation,
}

/// What a practitioner certificate should say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRequest {
    /// National id exactly as it goes in the CN: `8` + RPPS (Luhn) or `0` + ADELI.
    pub national_id: String,
    /// Given name (GN).
    pub given: String,
    /// Surname (SN).
    pub surname: String,
    /// TRE_G15 profession code (see [`super::PROFESSIONS`]).
    pub profession_code: u32,
    /// Make an ECDSA P-256 key instead of RSA-2048.
    pub ecdsa: bool,
    /// Validity in days from issue, used unless `not_after` is set.
    pub validity_days: u32,
    /// The KeyUsage bit.
    pub key_usage: TestKeyUsage,
    /// Start of validity; default: one hour before `now` (room for clock skew).
    /// Set it (with `not_after`) to make a not-yet-valid or expired certificate.
    pub not_before: Option<OffsetDateTime>,
    /// End of validity; default: `now` + `validity_days`.
    pub not_after: Option<OffsetDateTime>,
    /// Key purposes (OIDs) of an extendedKeyUsage extension; `None` (the
    /// default) writes none, like the card's authentication certificate.
    pub ext_key_usage: Option<Vec<String>>,
    /// Certificate policy OIDs; `None` (the default) writes
    /// [`super::TEST_POLICY_OID`], an empty list no extension.
    pub policies: Option<Vec<String>>,
}

impl Default for IssueRequest {
    fn default() -> Self {
        Self {
            national_id: String::new(),
            given: String::new(),
            surname: String::new(),
            profession_code: 10,
            ecdsa: false,
            validity_days: DEFAULT_VALIDITY_DAYS,
            key_usage: TestKeyUsage::default(),
            not_before: None,
            not_after: None,
            ext_key_usage: None,
            policies: None,
        }
    }
}

impl IssueRequest {
    /// A request with the defaults: RSA-2048, digitalSignature, three years from now.
    pub fn new(
        national_id: impl Into<String>,
        given: impl Into<String>,
        surname: impl Into<String>,
        profession_code: u32,
    ) -> Self {
        Self {
            national_id: national_id.into(),
            given: given.into(),
            surname: surname.into(),
            profession_code,
            ..Self::default()
        }
    }

    /// The same request with an explicit validity period (for expired or future certificates).
    pub fn with_validity(mut self, not_before: OffsetDateTime, not_after: OffsetDateTime) -> Self {
        self.not_before = Some(not_before);
        self.not_after = Some(not_after);
        self
    }

    /// Checks the identity fields without issuing anything; returns the `title` label.
    pub fn validate(&self) -> Result<&'static str, TestPkiError> {
        profile::validate_national_id(&self.national_id)?;
        profile::validate_name("given name", &self.given)?;
        profile::validate_name("surname", &self.surname)?;
        profile::require_profession(self.profession_code)
    }
}

/// A certificate just issued, with its private key.
pub struct IssuedCert {
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The private key, PKCS#8 DER (wiped from memory when dropped).
    pub key_pkcs8_der: Zeroizing<Vec<u8>>,
    /// The serial number, big-endian magnitude.
    pub serial: Vec<u8>,
    /// Start of validity as written in the certificate.
    pub not_before: OffsetDateTime,
    /// End of validity as written in the certificate.
    pub not_after: OffsetDateTime,
}

impl IssuedCert {
    /// The certificate as PEM.
    pub fn cert_pem(&self) -> String {
        pem::encode(pem::CERTIFICATE, &self.cert_der).to_string()
    }

    /// The private key as PKCS#8 PEM (`PRIVATE KEY`), wiped from memory when dropped.
    pub fn key_pem(&self) -> Zeroizing<String> {
        pem::encode(pem::PRIVATE_KEY, &self.key_pkcs8_der)
    }

    /// The serial number in upper-case hex, as `openssl x509 -serial` shows it.
    pub fn serial_hex(&self) -> String {
        hex_upper(&self.serial)
    }
}

impl fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCert")
            .field("serial", &self.serial_hex())
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("cert_der_len", &self.cert_der.len())
            .field("key_pkcs8_der", &"<redacted>")
            .finish()
    }
}

/// Upper-case hex of `bytes`.
pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
