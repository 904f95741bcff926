//! X.509 certificates and CRLs, parsed once into owned values.
//!
//! `x509-parser` borrows from the DER it parses; the verifier and the session
//! need certificates that outlive their input buffers, so each certificate is
//! parsed once here and the fields the protocol uses are copied out. Nothing
//! in this module decides whether a certificate is acceptable: that is
//! [`crate::verify`]'s job.

use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo, X509Name};

use crate::error::CertError;
use crate::identity::{
    profession_label, KeyUsage, NationalId, PractitionerIdentity, PROFESSION_EXTENSION_OID,
};
use crate::time::UnixTime;

const OID_CN: &str = "2.5.4.3";
const OID_SN: &str = "2.5.4.4";
const OID_GN: &str = "2.5.4.42";
const OID_TITLE: &str = "2.5.4.12";

/// id-kp-clientAuth: the key purpose a node's authentication certificate needs.
pub const OID_EKU_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
/// anyExtendedKeyUsage.
pub const OID_EKU_ANY: &str = "2.5.29.37.0";

/// Extensions the verifier understands; any other critical extension is refused.
const KNOWN_EXTENSIONS: &[&str] = &[
    "2.5.29.14", // subjectKeyIdentifier
    "2.5.29.15", // keyUsage
    "2.5.29.17", // subjectAltName
    "2.5.29.19", // basicConstraints
    "2.5.29.31", // cRLDistributionPoints
    "2.5.29.32", // certificatePolicies
    "2.5.29.35", // authorityKeyIdentifier
    "2.5.29.37", // extKeyUsage
    "2.5.29.46", // freshestCRL
    PROFESSION_EXTENSION_OID,
];

/// A signature algorithm as named in a certificate or CRL.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// sha1WithRSAEncryption (refused).
    RsaSha1,
    /// sha256WithRSAEncryption.
    RsaSha256,
    /// sha384WithRSAEncryption.
    RsaSha384,
    /// sha512WithRSAEncryption.
    RsaSha512,
    /// ecdsa-with-SHA1 (refused).
    EcdsaSha1,
    /// ecdsa-with-SHA256.
    EcdsaSha256,
    /// ecdsa-with-SHA384.
    EcdsaSha384,
    /// Anything else, by OID.
    Other(String),
}

impl SignatureAlgorithm {
    fn from_oid(alg: &AlgorithmIdentifier<'_>) -> Self {
        match alg.algorithm.to_id_string().as_str() {
            "1.2.840.113549.1.1.5" => Self::RsaSha1,
            "1.2.840.113549.1.1.11" => Self::RsaSha256,
            "1.2.840.113549.1.1.12" => Self::RsaSha384,
            "1.2.840.113549.1.1.13" => Self::RsaSha512,
            "1.2.840.10045.4.1" => Self::EcdsaSha1,
            "1.2.840.10045.4.3.2" => Self::EcdsaSha256,
            "1.2.840.10045.4.3.3" => Self::EcdsaSha384,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Short name for messages.
    pub fn name(&self) -> String {
        match self {
            Self::RsaSha1 => "sha1WithRSA".into(),
            Self::RsaSha256 => "sha256WithRSA".into(),
            Self::RsaSha384 => "sha384WithRSA".into(),
            Self::RsaSha512 => "sha512WithRSA".into(),
            Self::EcdsaSha1 => "ecdsa-with-SHA1".into(),
            Self::EcdsaSha256 => "ecdsa-with-SHA256".into(),
            Self::EcdsaSha384 => "ecdsa-with-SHA384".into(),
            Self::Other(oid) => format!("algorithm {oid}"),
        }
    }
}

/// The kind of a subject public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    /// RSA with its modulus size in bits.
    Rsa {
        /// Modulus size in bits.
        bits: usize,
    },
    /// ECDSA on NIST P-256.
    EcP256,
    /// ECDSA on NIST P-384.
    EcP384,
    /// Anything else.
    Other,
}

/// A subject public key: its kind and the contents of the BIT STRING, which
/// is what `ring` verifies with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    /// RSA size or curve.
    pub kind: KeyKind,
    /// The subjectPublicKey BIT STRING contents.
    pub key: Vec<u8>,
}

impl PublicKey {
    fn from_spki(spki: &SubjectPublicKeyInfo<'_>) -> Self {
        let key = spki.subject_public_key.data.to_vec();
        let kind = match spki.algorithm.algorithm.to_id_string().as_str() {
            "1.2.840.113549.1.1.1" => match spki.parsed() {
                Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => KeyKind::Rsa {
                    bits: rsa.key_size(),
                },
                _ => KeyKind::Other,
            },
            "1.2.840.10045.2.1" => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string());
                match curve.as_deref() {
                    Some("1.2.840.10045.3.1.7") => KeyKind::EcP256,
                    Some("1.3.132.0.34") => KeyKind::EcP384,
                    _ => KeyKind::Other,
                }
            }
            _ => KeyKind::Other,
        };
        PublicKey { kind, key }
    }
}

/// One certificate, parsed, with the fields the protocol needs.
#[derive(Clone, Debug)]
pub struct Certificate {
    der: Vec<u8>,
    tbs: std::ops::Range<usize>,
    pub(crate) subject_raw: Vec<u8>,
    pub(crate) issuer_raw: Vec<u8>,
    subject: String,
    issuer: String,
    serial: Vec<u8>,
    not_before: UnixTime,
    not_after: UnixTime,
    pub(crate) signature_algorithm: SignatureAlgorithm,
    pub(crate) signature: Vec<u8>,
    public_key: PublicKey,
    pub(crate) basic_constraints: Option<(bool, Option<u32>)>,
    key_usage: KeyUsage,
    pub(crate) subject_key_id: Option<Vec<u8>>,
    pub(crate) authority_key_id: Option<Vec<u8>>,
    pub(crate) unknown_critical: Vec<String>,
    ext_key_usage: Option<Vec<String>>,
    policies: Vec<String>,
    crl_urls: Vec<String>,
    names: SubjectNames,
    profession_code: Result<Option<u32>, ()>,
}

#[derive(Clone, Debug, Default)]
struct SubjectNames {
    cn: Vec<String>,
    gn: Vec<String>,
    sn: Vec<String>,
    title: Vec<String>,
}

impl Certificate {
    /// Parses one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        // The parser's own error is a Rust debug string: not for users.
        let (rest, cert) = X509Certificate::from_der(der).map_err(|_| {
            CertError::Malformed("not an X.509 certificate (its bytes do not decode as one)".into())
        })?;
        if !rest.is_empty() {
            return Err(CertError::Malformed(
                "trailing bytes after the certificate".into(),
            ));
        }
        let tbs = tbs_range(der)?;
        let tbs_cert = &cert.tbs_certificate;
        if tbs_cert.signature != cert.signature_algorithm {
            return Err(CertError::Malformed(
                "the inner and outer signature algorithms differ".into(),
            ));
        }
        let mut basic_constraints = None;
        let mut key_usage = KeyUsage::default();
        let mut subject_key_id = None;
        let mut authority_key_id = None;
        let mut unknown_critical = Vec::new();
        let mut profession_code = Ok(None);
        let mut ext_key_usage = None;
        let mut policies = Vec::new();
        let mut crl_urls = Vec::new();
        let malformed_ext = |what: &str| CertError::Malformed(format!("bad {what} extension"));
        for ext in tbs_cert.extensions() {
            let oid = ext.oid.to_id_string();
            use x509_parser::extensions::ParsedExtension as P;
            match ext.parsed_extension() {
                P::BasicConstraints(bc) => {
                    basic_constraints = Some((bc.ca, bc.path_len_constraint));
                }
                P::KeyUsage(ku) => {
                    key_usage = KeyUsage {
                        digital_signature: ku.digital_signature(),
                        non_repudiation: ku.non_repudiation(),
                        key_encipherment: ku.key_encipherment(),
                        key_cert_sign: ku.key_cert_sign(),
                        crl_sign: ku.crl_sign(),
                        present: true,
                    }
                }
                P::SubjectKeyIdentifier(k) => subject_key_id = Some(k.0.to_vec()),
                P::AuthorityKeyIdentifier(a) => {
                    authority_key_id = a.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                P::ExtendedKeyUsage(eku) => ext_key_usage = Some(eku_oids(eku)),
                P::CertificatePolicies(list) => {
                    policies = list.iter().map(|p| p.policy_id.to_id_string()).collect()
                }
                P::CRLDistributionPoints(points) => crl_urls = distribution_point_uris(points),
                P::ParseError { .. } if oid == "2.5.29.37" => {
                    return Err(malformed_ext("extendedKeyUsage"))
                }
                P::ParseError { .. } if oid == "2.5.29.32" => {
                    return Err(malformed_ext("certificatePolicies"))
                }
                P::ParseError { .. } if oid == "2.5.29.19" => {
                    return Err(malformed_ext("basicConstraints"))
                }
                P::ParseError { .. } if oid == "2.5.29.15" => {
                    return Err(malformed_ext("keyUsage"))
                }
                _ => {}
            }
            if oid == PROFESSION_EXTENSION_OID {
                profession_code = parse_der_u32(ext.value).map(Some);
            }
            if ext.critical && !KNOWN_EXTENSIONS.contains(&oid.as_str()) {
                unknown_critical.push(oid);
            }
        }
        Ok(Certificate {
            der: der.to_vec(),
            tbs,
            subject_raw: tbs_cert.subject.as_raw().to_vec(),
            issuer_raw: tbs_cert.issuer.as_raw().to_vec(),
            subject: name_to_string(&tbs_cert.subject),
            issuer: name_to_string(&tbs_cert.issuer),
            serial: strip_leading_zeros(tbs_cert.raw_serial()).to_vec(),
            not_before: UnixTime::from_secs(tbs_cert.validity.not_before.timestamp()),
            not_after: UnixTime::from_secs(tbs_cert.validity.not_after.timestamp()),
            signature_algorithm: SignatureAlgorithm::from_oid(&cert.signature_algorithm),
            signature: cert.signature_value.data.to_vec(),
            public_key: PublicKey::from_spki(&tbs_cert.subject_pki),
            basic_constraints,
            key_usage,
            subject_key_id,
            authority_key_id,
            unknown_critical,
            ext_key_usage,
            policies,
            crl_urls,
            names: subject_names(&tbs_cert.subject),
            profession_code,
        })
    }

    /// The whole certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The signed part (TBSCertificate), DER.
    pub fn tbs_der(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }

    /// Subject, as `C=FR, title=…, GN=… + CN=… + SN=…`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Issuer name, same form as [`Certificate::subject`].
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Serial number, big-endian, without leading zero bytes.
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }

    /// Serial number in colon-separated hex.
    pub fn serial_hex(&self) -> String {
        hex_colon(&self.serial)
    }

    /// Start of validity.
    pub fn not_before(&self) -> UnixTime {
        self.not_before
    }

    /// End of validity.
    pub fn not_after(&self) -> UnixTime {
        self.not_after
    }

    /// The subject public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// Signature algorithm the issuer used.
    pub fn signature_algorithm(&self) -> &SignatureAlgorithm {
        &self.signature_algorithm
    }

    /// KeyUsage, as far as the protocol cares.
    pub fn key_usage(&self) -> KeyUsage {
        self.key_usage
    }

    /// The key purposes of the extendedKeyUsage extension, as OIDs, or `None`
    /// when the certificate has no such extension (then any purpose is allowed).
    pub fn extended_key_usage(&self) -> Option<&[String]> {
        self.ext_key_usage.as_deref()
    }

    /// The policy OIDs of the certificatePolicies extension (empty without one).
    pub fn policies(&self) -> &[String] {
        &self.policies
    }

    /// The URIs of its cRLDistributionPoints extension (full names only,
    /// every scheme, in the certificate's order): where the CRL of its
    /// issuer is published. [`crate::crl_fetch`] picks those fetched.
    pub fn crl_distribution_points(&self) -> &[String] {
        &self.crl_urls
    }

    /// Whether basicConstraints says this is a CA.
    pub fn is_ca(&self) -> bool {
        matches!(self.basic_constraints, Some((true, _)))
    }

    /// Whether subject and issuer names are the same.
    pub fn is_self_issued(&self) -> bool {
        self.subject_raw == self.issuer_raw
    }

    /// SHA-256 of the DER, as a short fingerprint for messages and logs.
    pub fn fingerprint(&self) -> [u8; 32] {
        let d = ring::digest::digest(&ring::digest::SHA256, &self.der);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }

    /// The subject's `title` attribute (the profession label), if any.
    pub fn title(&self) -> Option<&str> {
        self.names.title.first().map(String::as_str)
    }

    /// The practitioner the certificate names, read from every attribute of
    /// every RDN of the subject and from the profession extension.
    pub fn practitioner(&self) -> Result<PractitionerIdentity, CertError> {
        let single = |v: &[String], what: &str| -> Result<Option<String>, CertError> {
            match v {
                [] => Ok(None),
                [one] => Ok(Some(one.clone())),
                _ => Err(CertError::Malformed(format!(
                    "the subject names more than one {what}"
                ))),
            }
        };
        let cn = single(&self.names.cn, "national id (CN)")?.ok_or(CertError::NoNationalId)?;
        let national_id = NationalId::parse(&cn).map_err(CertError::InvalidNationalId)?;
        let given_name = single(&self.names.gn, "given name (GN)")?.unwrap_or_default();
        let surname = single(&self.names.sn, "surname (SN)")?.unwrap_or_default();
        let profession_code = self
            .profession_code
            .map_err(|()| CertError::Malformed("bad profession code extension".into()))?;
        let profession = profession_code
            .and_then(profession_label)
            .map(str::to_owned)
            .or_else(|| self.title().map(str::to_owned));
        Ok(PractitionerIdentity {
            national_id,
            given_name,
            surname,
            profession_code,
            profession,
        })
    }
}

/// The URIs named by full name in a cRLDistributionPoints extension.
fn distribution_point_uris(
    points: &x509_parser::extensions::CRLDistributionPoints<'_>,
) -> Vec<String> {
    use x509_parser::extensions::{DistributionPointName, GeneralName};
    points
        .iter()
        .filter_map(|p| match &p.distribution_point {
            Some(DistributionPointName::FullName(names)) => Some(names),
            _ => None,
        })
        .flatten()
        .filter_map(|n| match n {
            GeneralName::URI(uri) => Some((*uri).to_owned()),
            _ => None,
        })
        .collect()
}

/// A certificate revocation list, parsed.
#[derive(Clone, Debug)]
pub struct Crl {
    der: Vec<u8>,
    tbs: std::ops::Range<usize>,
    pub(crate) issuer_raw: Vec<u8>,
    issuer: String,
    this_update: UnixTime,
    next_update: Option<UnixTime>,
    number: Option<Vec<u8>>,
    pub(crate) revoked: Vec<(Vec<u8>, UnixTime)>,
    pub(crate) signature_algorithm: SignatureAlgorithm,
    pub(crate) signature: Vec<u8>,
    pub(crate) unknown_critical: Vec<String>,
}

impl Crl {
    /// Parses one DER CRL.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let (rest, crl) = CertificateRevocationList::from_der(der).map_err(|_| {
            CertError::Malformed("not an X.509 CRL (its bytes do not decode as one)".into())
        })?;
        if !rest.is_empty() {
            return Err(CertError::Malformed("trailing bytes after the CRL".into()));
        }
        let tbs = tbs_range(der)?;
        let mut unknown_critical = Vec::new();
        for ext in crl.extensions() {
            let oid = ext.oid.to_id_string();
            // cRLNumber and authorityKeyIdentifier are understood.
            if ext.critical && oid != "2.5.29.20" && oid != "2.5.29.35" {
                unknown_critical.push(oid);
            }
        }
        let revoked = crl
            .iter_revoked_certificates()
            .map(|r| {
                (
                    strip_leading_zeros(r.raw_serial()).to_vec(),
                    UnixTime::from_secs(r.revocation_date.timestamp()),
                )
            })
            .collect();
        Ok(Crl {
            der: der.to_vec(),
            tbs,
            issuer_raw: crl.tbs_cert_list.issuer.as_raw().to_vec(),
            issuer: name_to_string(&crl.tbs_cert_list.issuer),
            this_update: UnixTime::from_secs(crl.last_update().timestamp()),
            next_update: crl
                .next_update()
                .map(|t| UnixTime::from_secs(t.timestamp())),
            number: crl
                .crl_number()
                .map(|n| strip_leading_zeros(&n.to_bytes_be()).to_vec()),
            revoked,
            signature_algorithm: SignatureAlgorithm::from_oid(&crl.signature_algorithm),
            signature: crl.signature_value.data.to_vec(),
            unknown_critical,
        })
    }

    /// The whole CRL, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The signed part (TBSCertList), DER.
    pub fn tbs_der(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }

    /// Issuer name.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// thisUpdate.
    pub fn this_update(&self) -> UnixTime {
        self.this_update
    }

    /// nextUpdate, if the CRL has one.
    pub fn next_update(&self) -> Option<UnixTime> {
        self.next_update
    }

    /// The cRLNumber extension, big-endian without leading zeros, if present.
    pub fn number(&self) -> Option<&[u8]> {
        self.number.as_deref()
    }

    /// Number of revoked certificates listed.
    pub fn revoked_count(&self) -> usize {
        self.revoked.len()
    }
}

/// Reads every certificate from PEM (all `CERTIFICATE` blocks) or one DER.
pub fn parse_certificates(input: &[u8]) -> Result<Vec<Certificate>, CertError> {
    decode_pem_or_der(input, "CERTIFICATE")?
        .iter()
        .map(|der| Certificate::from_der(der))
        .collect()
}

/// Reads every CRL from PEM (all `X509 CRL` blocks) or one DER.
pub fn parse_crls(input: &[u8]) -> Result<Vec<Crl>, CertError> {
    decode_pem_or_der(input, "X509 CRL")?
        .iter()
        .map(|der| Crl::from_der(der))
        .collect()
}

fn decode_pem_or_der(input: &[u8], label: &str) -> Result<Vec<Vec<u8>>, CertError> {
    let trimmed = input.trim_ascii_start();
    if !trimmed.starts_with(b"-----BEGIN") {
        if trimmed.is_empty() {
            return Err(CertError::Malformed("the input is empty".into()));
        }
        return Ok(vec![input.to_vec()]);
    }
    let mut out = Vec::new();
    for pem in x509_parser::pem::Pem::iter_from_buffer(input) {
        let pem = pem.map_err(|e| CertError::Malformed(format!("bad PEM ({e})")))?;
        if pem.label == label {
            out.push(pem.contents);
        }
    }
    if out.is_empty() {
        return Err(CertError::Malformed(format!(
            "no PEM block labelled {label}"
        )));
    }
    Ok(out)
}

/// The byte range of the first element inside the outer SEQUENCE: the signed
/// part of a certificate or CRL.
fn tbs_range(der: &[u8]) -> Result<std::ops::Range<usize>, CertError> {
    let bad = || CertError::Malformed("bad DER framing".into());
    let (_, outer_hdr) = der_header(der).ok_or_else(bad)?;
    let inner = der.get(outer_hdr..).ok_or_else(bad)?;
    let (len, hdr) = der_header(inner).ok_or_else(bad)?;
    let end = outer_hdr
        .checked_add(hdr)
        .and_then(|x| x.checked_add(len))
        .ok_or_else(bad)?;
    if end > der.len() {
        return Err(bad());
    }
    Ok(outer_hdr..end)
}

/// Returns (content length, header length) of a DER SEQUENCE TLV.
fn der_header(b: &[u8]) -> Option<(usize, usize)> {
    if *b.first()? != 0x30 {
        return None;
    }
    let first = *b.get(1)?;
    if first < 0x80 {
        return Some((usize::from(first), 2));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | usize::from(*b.get(2 + i)?);
    }
    Some((len, 2 + n))
}

/// The key purposes an extendedKeyUsage lists, as dotted OIDs.
fn eku_oids(eku: &x509_parser::extensions::ExtendedKeyUsage<'_>) -> Vec<String> {
    let known = [
        (eku.any, OID_EKU_ANY),
        (eku.server_auth, "1.3.6.1.5.5.7.3.1"),
        (eku.client_auth, OID_EKU_CLIENT_AUTH),
        (eku.code_signing, "1.3.6.1.5.5.7.3.3"),
        (eku.email_protection, "1.3.6.1.5.5.7.3.4"),
        (eku.time_stamping, "1.3.6.1.5.5.7.3.8"),
        (eku.ocsp_signing, "1.3.6.1.5.5.7.3.9"),
    ];
    known
        .iter()
        .filter(|(set, _)| *set)
        .map(|(_, oid)| (*oid).to_owned())
        .chain(eku.other.iter().map(|o| o.to_id_string()))
        .collect()
}

/// A small non-negative DER INTEGER (the profession code).
fn parse_der_u32(v: &[u8]) -> Result<u32, ()> {
    match v {
        [0x02, len, rest @ ..] if usize::from(*len) == rest.len() && (1..=5).contains(len) => {
            if rest[0] & 0x80 != 0 {
                return Err(());
            }
            let digits = strip_leading_zeros(rest);
            if digits.len() > 4 {
                return Err(());
            }
            Ok(digits
                .iter()
                .fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
        }
        _ => Err(()),
    }
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|x| **x == 0).count();
    &b[n.min(b.len().saturating_sub(1))..]
}

fn hex_colon(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn subject_names(name: &X509Name<'_>) -> SubjectNames {
    let mut n = SubjectNames::default();
    for attr in name.iter_attributes() {
        let Ok(value) = attr.as_str() else { continue };
        let value = value.trim().to_owned();
        match attr.attr_type().to_id_string().as_str() {
            OID_CN => n.cn.push(value),
            OID_GN => n.gn.push(value),
            OID_SN => n.sn.push(value),
            OID_TITLE => n.title.push(value),
            _ => {}
        }
    }
    n
}

fn attr_short_name(oid: &str) -> String {
    match oid {
        "2.5.4.6" => "C".into(),
        "2.5.4.10" => "O".into(),
        "2.5.4.11" => "OU".into(),
        OID_CN => "CN".into(),
        OID_SN => "SN".into(),
        OID_GN => "GN".into(),
        OID_TITLE => "title".into(),
        "2.5.4.7" => "L".into(),
        "2.5.4.8" => "ST".into(),
        "2.5.4.5" => "serialNumber".into(),
        other => other.to_owned(),
    }
}

fn name_to_string(name: &X509Name<'_>) -> String {
    name.iter()
        .map(|rdn| {
            rdn.iter()
                .map(|attr| {
                    let v = attr.as_str().unwrap_or("<binary>");
                    format!(
                        "{}={}",
                        attr_short_name(&attr.attr_type().to_id_string()),
                        v
                    )
                })
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_integer() {
        assert_eq!(parse_der_u32(&[0x02, 0x01, 0x32]), Ok(50));
        assert_eq!(parse_der_u32(&[0x02, 0x02, 0x00, 0x80]), Ok(128));
        assert_eq!(parse_der_u32(&[0x02, 0x01, 0x80]), Err(()));
        assert_eq!(parse_der_u32(&[0x04, 0x01, 0x32]), Err(()));
        assert_eq!(parse_der_u32(&[0x02, 0x02, 0x32]), Err(()));
    }

    #[test]
    fn framing_rejects_garbage() {
        assert!(tbs_range(&[]).is_err());
        assert!(tbs_range(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_err());
        assert!(tbs_range(&[0x30, 0x03, 0x30, 0x05, 0x00]).is_err());
        assert!(Certificate::from_der(b"hello").is_err());
        assert!(parse_certificates(b"").is_err());
        assert!(parse_certificates(
            b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n"
        )
        .is_err());
    }
}
