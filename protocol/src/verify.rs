//! Certificate path validation against configured trust anchors.
//!
//! Flow of [`verify_certificate`]:
//!
//! 1. checks on the practitioner certificate alone: not a CA, not
//!    self-signed, key and signature algorithm strong enough, no unknown
//!    critical extension, within validity at the given instant, key usage
//!    and extended key usage fit for the purpose, a valid national id in the
//!    subject, and one of the accepted certificate policies when the trust
//!    store lists any;
//! 2. a path from it to a trust anchor, built depth-first from the
//!    presented chain, the configured intermediates and the anchors, where
//!    every issuer is a CA allowed to sign certificates, within validity,
//!    whose path length constraint holds and whose key verifies the
//!    signature below it (a CA with the right name but another key — an
//!    impostor — is skipped by its key identifier or fails the signature);
//! 3. when revocation checking is on (the default), for every certificate of
//!    the path below the anchor, the newest CRL of its issuer that verifies
//!    under the issuer's key: it must exist and not be past its nextUpdate,
//!    and no CRL the issuer signed may list the certificate, whatever the
//!    revocation date it gives (a date after the verifier's clock means a
//!    clock behind the CA's, not a certificate still good).
//!
//! Only this module can make a [`VerifiedCertificate`]: whatever needs a
//! checked practitioner takes one.

use crate::certificate::{Certificate, Crl, KeyKind, OID_EKU_CLIENT_AUTH};
use crate::error::CertError;
use crate::identity::PractitionerIdentity;
use crate::signature::{verify_signature, SignatureCheck, MIN_RSA_BITS};
use crate::time::UnixTime;

/// Longest path accepted, anchor excluded.
pub const MAX_PATH_LEN: usize = 6;

/// What the verifier trusts: anchors, known intermediates, CRLs and the
/// accepted certificate policies.
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    anchors: Vec<Certificate>,
    intermediates: Vec<Certificate>,
    crls: Vec<Crl>,
    policies: Vec<String>,
}

/// A policy in the trust configuration that is not an OID.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("\"{value}\" is not a certificate policy OID: write it in dotted decimal, such as 1.2.250.1.213.1.7.2.1.1.1.1 (the IGC-Santé TEST policy)")]
pub struct InvalidPolicy {
    /// The value as given (cut to 64 characters).
    pub value: String,
}

/// Checks that `oid` is a dotted-decimal OID (at least two arcs, the first
/// 0, 1 or 2, digits only, no leading zeros): the form the `policies` list
/// takes.
pub fn check_policy_oid(oid: &str) -> Result<(), InvalidPolicy> {
    let arcs: Vec<&str> = oid.split('.').collect();
    let arc_ok = |a: &&str| {
        !a.is_empty()
            && a.len() <= 20
            && a.bytes().all(|b| b.is_ascii_digit())
            && (a.len() == 1 || !a.starts_with('0'))
    };
    if arcs.len() >= 2 && matches!(arcs[0], "0" | "1" | "2") && arcs.iter().all(arc_ok) {
        Ok(())
    } else {
        Err(InvalidPolicy {
            value: oid.chars().take(64).collect(),
        })
    }
}

impl TrustStore {
    /// A store trusting these anchors (self-signed roots of the health PKI).
    pub fn new(anchors: Vec<Certificate>) -> Self {
        TrustStore {
            anchors,
            intermediates: Vec::new(),
            crls: Vec::new(),
            policies: Vec::new(),
        }
    }

    /// Adds a CA certificate that may be used to build paths (not trusted by itself).
    pub fn add_intermediate(&mut self, cert: Certificate) {
        self.intermediates.push(cert);
    }

    /// Adds a CRL; its signature is checked when it is used.
    pub fn add_crl(&mut self, crl: Crl) {
        self.crls.push(crl);
    }

    /// The trust anchors.
    pub fn anchors(&self) -> &[Certificate] {
        &self.anchors
    }

    /// The known intermediates.
    pub fn intermediates(&self) -> &[Certificate] {
        &self.intermediates
    }

    /// The CRLs.
    pub fn crls(&self) -> &[Crl] {
        &self.crls
    }

    /// Sets the accepted certificate policies (OIDs). Empty, the default,
    /// accepts any policy or none; otherwise a practitioner certificate must
    /// carry at least one of them (anyPolicy in a certificate counts only if
    /// listed itself).
    pub fn set_policies(&mut self, policies: Vec<String>) -> Result<(), InvalidPolicy> {
        for p in &policies {
            check_policy_oid(p)?;
        }
        self.policies = policies;
        Ok(())
    }

    /// The accepted certificate policies (empty: any).
    pub fn policies(&self) -> &[String] {
        &self.policies
    }

    fn is_anchor(&self, c: &Certificate) -> bool {
        self.anchors.iter().any(|a| a.der() == c.der())
    }
}

/// Whether revocation is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RevocationCheck {
    /// A current CRL of every issuer is required (the default).
    #[default]
    Required,
    /// No revocation check (explicitly asked for).
    Off,
}

/// What the certificate is to be used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Purpose {
    /// Authenticating a node: the leaf must allow digitalSignature.
    #[default]
    Authentication,
    /// Any purpose: only the chain is checked (`cert inspect`).
    Any,
}

/// How to verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifyOptions {
    /// The instant at which the certificate must be valid.
    pub at: UnixTime,
    /// Revocation checking.
    pub revocation: RevocationCheck,
    /// The intended use.
    pub purpose: Purpose,
}

impl VerifyOptions {
    /// Authentication at `at` with revocation checking: the strict default.
    pub fn authentication(at: UnixTime) -> Self {
        VerifyOptions {
            at,
            revocation: RevocationCheck::Required,
            purpose: Purpose::Authentication,
        }
    }
}

/// A practitioner certificate that chains to a trust anchor. Only
/// [`verify_certificate`] makes one.
#[derive(Clone, Debug)]
pub struct VerifiedCertificate {
    leaf: Certificate,
    issuers: Vec<Certificate>,
    identity: PractitionerIdentity,
    verified_at: UnixTime,
}

impl VerifiedCertificate {
    /// The practitioner certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.leaf
    }

    /// The issuers from the leaf's issuer up to and including the anchor.
    pub fn issuers(&self) -> &[Certificate] {
        &self.issuers
    }

    /// The practitioner the certificate names.
    pub fn identity(&self) -> &PractitionerIdentity {
        &self.identity
    }

    /// The instant it was verified at.
    pub fn verified_at(&self) -> UnixTime {
        self.verified_at
    }
}

/// Verifies a practitioner certificate; see the module documentation.
///
/// `presented` holds intermediates that came with the certificate (from a
/// `--chain` file or a peer's credential); they are used to build the path
/// but trusted only if they chain to an anchor.
pub fn verify_certificate(
    leaf: &Certificate,
    presented: &[Certificate],
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> Result<VerifiedCertificate, CertError> {
    check_leaf(leaf, opts)?;
    let identity = leaf.practitioner()?;
    check_policies(leaf, &trust.policies)?;
    let pool: Vec<&Certificate> = trust
        .anchors
        .iter()
        .chain(presented.iter())
        .chain(trust.intermediates.iter())
        .collect();
    let issuers = build_path(leaf, &pool, trust, opts.at, 0, 0)?;
    if opts.revocation == RevocationCheck::Required {
        let mut child = leaf;
        for issuer in &issuers {
            check_revocation(child, issuer, &trust.crls, opts.at)?;
            child = issuer;
        }
    }
    Ok(VerifiedCertificate {
        leaf: leaf.clone(),
        issuers,
        identity,
        verified_at: opts.at,
    })
}

fn check_leaf(leaf: &Certificate, opts: &VerifyOptions) -> Result<(), CertError> {
    if leaf.is_ca() {
        return Err(CertError::LeafIsCa);
    }
    // Same names and signed by its own key: a self-made certificate. (Same
    // names but another signer is judged by the path search below.)
    if leaf.is_self_issued()
        && verify_signature(
            leaf.public_key(),
            &leaf.signature_algorithm,
            leaf.tbs_der(),
            &leaf.signature,
        )
        .is_ok()
    {
        return Err(CertError::SelfSignedLeaf);
    }
    check_key_and_extensions(leaf)?;
    if opts.at < leaf.not_before() {
        return Err(CertError::NotYetValid {
            not_before: leaf.not_before(),
        });
    }
    if opts.at > leaf.not_after() {
        return Err(CertError::Expired {
            not_after: leaf.not_after(),
        });
    }
    let ku = leaf.key_usage();
    if opts.purpose == Purpose::Authentication && ku.present && !ku.digital_signature {
        let names = ku.names();
        return Err(CertError::NotForAuthentication {
            usage: if names.is_empty() {
                "empty".into()
            } else {
                names.join(", ")
            },
        });
    }
    if opts.purpose == Purpose::Authentication {
        check_ext_key_usage(leaf)?;
    }
    Ok(())
}

/// An extendedKeyUsage, when present, must list clientAuth: a certificate of
/// the same PKI meant for e-mail or server use does not authenticate a node.
/// anyExtendedKeyUsage alone does not do (as with OpenSSL's sslclient purpose).
fn check_ext_key_usage(leaf: &Certificate) -> Result<(), CertError> {
    match leaf.extended_key_usage() {
        None => Ok(()),
        Some(list) if list.iter().any(|p| p == OID_EKU_CLIENT_AUTH) => Ok(()),
        Some(list) => Err(CertError::NotForClientAuth {
            purposes: if list.is_empty() {
                "empty".into()
            } else {
                list.iter()
                    .map(|p| eku_name(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        }),
    }
}

fn eku_name(oid: &str) -> String {
    match oid {
        "2.5.29.37.0" => "anyExtendedKeyUsage".into(),
        "1.3.6.1.5.5.7.3.1" => "serverAuth".into(),
        "1.3.6.1.5.5.7.3.2" => "clientAuth".into(),
        "1.3.6.1.5.5.7.3.3" => "codeSigning".into(),
        "1.3.6.1.5.5.7.3.4" => "emailProtection".into(),
        "1.3.6.1.5.5.7.3.8" => "timeStamping".into(),
        "1.3.6.1.5.5.7.3.9" => "OCSPSigning".into(),
        other => other.to_owned(),
    }
}

/// With a non-empty list of accepted policies, the leaf must carry one.
fn check_policies(leaf: &Certificate, accepted: &[String]) -> Result<(), CertError> {
    if accepted.is_empty() || leaf.policies().iter().any(|p| accepted.contains(p)) {
        return Ok(());
    }
    Err(CertError::PolicyNotAccepted {
        carried: if leaf.policies().is_empty() {
            "none".into()
        } else {
            leaf.policies().join(", ")
        },
        accepted: accepted.join(", "),
    })
}

fn check_key_and_extensions(c: &Certificate) -> Result<(), CertError> {
    match c.public_key().kind {
        KeyKind::Rsa { bits } if bits < MIN_RSA_BITS => {
            return Err(CertError::RsaKeyTooSmall {
                subject: c.subject().to_owned(),
                bits,
            })
        }
        KeyKind::Other => {
            return Err(CertError::UnsupportedAlgorithm(format!(
                "the key type of \"{}\"",
                c.subject()
            )))
        }
        _ => {}
    }
    if let Some(oid) = c.unknown_critical.first() {
        return Err(CertError::UnsupportedCriticalExtension {
            subject: c.subject().to_owned(),
            oid: oid.clone(),
        });
    }
    Ok(())
}

/// Finds the issuers of `child` up to an anchor, depth-first.
fn build_path(
    child: &Certificate,
    pool: &[&Certificate],
    trust: &TrustStore,
    at: UnixTime,
    depth: usize,
    intermediates_below: usize,
) -> Result<Vec<Certificate>, CertError> {
    if depth >= MAX_PATH_LEN {
        return Err(CertError::ChainTooLong);
    }
    let mut err = CertError::UnknownIssuer {
        subject: child.subject().to_owned(),
        issuer: child.issuer().to_owned(),
    };
    for cand in pool.iter().copied() {
        if cand.subject_raw != child.issuer_raw || cand.der() == child.der() {
            continue;
        }
        if let (Some(aki), Some(ski)) = (&child.authority_key_id, &cand.subject_key_id) {
            if aki != ski {
                continue;
            }
        }
        if let Err(e) = check_issuer(child, cand, at, intermediates_below) {
            err = prefer(err, e);
            continue;
        }
        if trust.is_anchor(cand) {
            return Ok(vec![cand.clone()]);
        }
        let below = intermediates_below + usize::from(!cand.is_self_issued());
        match build_path(cand, pool, trust, at, depth + 1, below) {
            Ok(mut rest) => {
                rest.insert(0, cand.clone());
                return Ok(rest);
            }
            Err(e) => err = prefer(err, e),
        }
    }
    Err(err)
}

/// Keeps the more telling of two path errors: anything beats "unknown issuer".
fn prefer(current: CertError, new: CertError) -> CertError {
    match current {
        CertError::UnknownIssuer { .. } => new,
        other => other,
    }
}

fn check_issuer(
    child: &Certificate,
    issuer: &Certificate,
    at: UnixTime,
    intermediates_below: usize,
) -> Result<(), CertError> {
    let name = || issuer.subject().to_owned();
    match issuer.basic_constraints {
        Some((true, pathlen)) => {
            if let Some(max) = pathlen {
                if intermediates_below > max as usize {
                    return Err(CertError::PathTooLong { ca: name() });
                }
            }
        }
        _ => return Err(CertError::IssuerNotCa { issuer: name() }),
    }
    let ku = issuer.key_usage();
    if ku.present && !ku.key_cert_sign {
        return Err(CertError::IssuerCannotSign { issuer: name() });
    }
    check_key_and_extensions(issuer)?;
    if at < issuer.not_before() || at > issuer.not_after() {
        return Err(CertError::CaOutsideValidity { subject: name() });
    }
    verify_signature(
        issuer.public_key(),
        &child.signature_algorithm,
        child.tbs_der(),
        &child.signature,
    )
    .map_err(|e| signature_error(e, child.subject(), issuer.subject()))
}

fn signature_error(e: SignatureCheck, signed: &str, signer: &str) -> CertError {
    match e {
        SignatureCheck::Invalid => CertError::BadSignature {
            subject: signed.to_owned(),
        },
        SignatureCheck::Weak => CertError::WeakSignatureAlgorithm {
            subject: signed.to_owned(),
            algorithm: "SHA-1".into(),
        },
        SignatureCheck::KeySize(bits) => CertError::RsaKeyTooSmall {
            subject: signer.to_owned(),
            bits,
        },
        SignatureCheck::Unsupported(what) => CertError::UnsupportedAlgorithm(what),
    }
}

fn check_revocation(
    cert: &Certificate,
    issuer: &Certificate,
    crls: &[Crl],
    at: UnixTime,
) -> Result<(), CertError> {
    let issuer_name = || issuer.subject().to_owned();
    let mut err = CertError::CrlMissing {
        issuer: issuer_name(),
    };
    let mut newest: Option<&Crl> = None;
    let mut verified: Vec<&Crl> = Vec::new();
    for crl in crls.iter().filter(|c| c.issuer_raw == cert.issuer_raw) {
        if let Some(oid) = crl.unknown_critical.first() {
            err = CertError::CrlUnsupported {
                issuer: issuer_name(),
                oid: oid.clone(),
            };
            continue;
        }
        let ku = issuer.key_usage();
        let signed = (!ku.present || ku.crl_sign)
            && verify_signature(
                issuer.public_key(),
                &crl.signature_algorithm,
                crl.tbs_der(),
                &crl.signature,
            )
            .map_err(|e| {
                if e == SignatureCheck::Weak {
                    err = CertError::WeakSignatureAlgorithm {
                        subject: format!("CRL of {}", issuer.subject()),
                        algorithm: "SHA-1".into(),
                    };
                }
            })
            .is_ok();
        if !signed {
            if !matches!(err, CertError::WeakSignatureAlgorithm { .. }) {
                err = CertError::CrlBadSignature {
                    issuer: issuer_name(),
                };
            }
            continue;
        }
        verified.push(crl);
        if newest.is_none_or(|n| crl.this_update() > n.this_update()) {
            newest = Some(crl);
        }
    }
    // Freshness is judged on the newest CRL the issuer signed.
    let crl = newest.ok_or(err)?;
    match crl.next_update() {
        Some(next) if next >= at => {}
        next => {
            return Err(CertError::CrlStale {
                issuer: issuer_name(),
                next_update: next.unwrap_or(UnixTime::from_secs(0)),
            })
        }
    }
    // A revocation listed in any CRL the issuer signed counts, even in one
    // older than the newest (two CRLs of the same second cannot be ordered),
    // and whatever its date: a revocation dated after `at` says the local
    // clock is behind the CA's, not that the certificate is still good.
    if let Some((_, revoked_at)) = verified
        .iter()
        .flat_map(|c| c.revoked.iter())
        .find(|(serial, _)| serial.as_slice() == cert.serial())
    {
        return Err(CertError::Revoked {
            subject: cert.subject().to_owned(),
            revoked_at: *revoked_at,
        });
    }
    Ok(())
}
