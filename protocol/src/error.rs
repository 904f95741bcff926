//! Why a certificate or CRL is refused.
//!
//! Each rejection has its own variant so that callers and tests can tell them
//! apart; the `Display` text says what is wrong and [`CertError::hint`] what
//! the user can do about it. Messages name certificates by their subject,
//! which is public; they never carry key material.

use crate::identity::NationalIdError;
use crate::time::UnixTime;

/// A certificate, chain or CRL that the verifier refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// Not parseable as a certificate or CRL.
    #[error("unreadable certificate or CRL: {0}")]
    Malformed(String),
    /// The subject has no CN holding a national id.
    #[error("the certificate names no practitioner: its subject has no national id (CN)")]
    NoNationalId,
    /// The CN is not a valid national id.
    #[error("the certificate's national id is invalid: {0}")]
    InvalidNationalId(NationalIdError),
    /// The practitioner certificate's validity has ended.
    #[error("the certificate expired on {not_after}")]
    Expired {
        /// End of validity.
        not_after: UnixTime,
    },
    /// The practitioner certificate's validity has not begun.
    #[error("the certificate is not valid before {not_before}")]
    NotYetValid {
        /// Start of validity.
        not_before: UnixTime,
    },
    /// A CA certificate of the chain is outside its validity.
    #[error("the CA certificate \"{subject}\" is outside its validity period")]
    CaOutsideValidity {
        /// The CA's subject.
        subject: String,
    },
    /// No trust anchor or known CA with the issuer's name and key issued it.
    #[error("no trusted CA issued \"{subject}\" (its issuer \"{issuer}\" is unknown, or a CA of that name with another key)")]
    UnknownIssuer {
        /// The certificate whose issuer was not found.
        subject: String,
        /// The issuer name the certificate claims.
        issuer: String,
    },
    /// The practitioner certificate signs itself.
    #[error("the certificate is self-signed, not issued by a health PKI")]
    SelfSignedLeaf,
    /// An issuer in the chain is not a CA.
    #[error("the certificate was issued by \"{issuer}\", which is not a CA")]
    IssuerNotCa {
        /// The issuer's subject.
        issuer: String,
    },
    /// The issuer's KeyUsage does not allow signing certificates.
    #[error("the CA \"{issuer}\" may not sign certificates (no keyCertSign)")]
    IssuerCannotSign {
        /// The issuer's subject.
        issuer: String,
    },
    /// The practitioner certificate is itself a CA.
    #[error("the certificate is a CA certificate, not a practitioner's")]
    LeafIsCa,
    /// A CA's path length constraint is exceeded.
    #[error("the chain is longer than the CA \"{ca}\" allows (pathLenConstraint)")]
    PathTooLong {
        /// The CA whose constraint is violated.
        ca: String,
    },
    /// More CA certificates than any real chain has.
    #[error("the chain is too long")]
    ChainTooLong,
    /// A signature in the chain does not verify under its issuer's key.
    #[error("the signature on \"{subject}\" does not verify under its issuer's key")]
    BadSignature {
        /// The subject of the certificate whose signature is bad.
        subject: String,
    },
    /// An RSA key below 2048 bits.
    #[error("\"{subject}\" has an RSA key of {bits} bits; at least 2048 are required")]
    RsaKeyTooSmall {
        /// The certificate's subject.
        subject: String,
        /// Modulus size.
        bits: usize,
    },
    /// A SHA-1 signature.
    #[error("\"{subject}\" is signed with {algorithm}, which is no longer accepted")]
    WeakSignatureAlgorithm {
        /// The certificate or CRL issuer.
        subject: String,
        /// The algorithm.
        algorithm: String,
    },
    /// An algorithm or key type the verifier does not support.
    #[error("unsupported algorithm or key type: {0}")]
    UnsupportedAlgorithm(String),
    /// A critical extension the verifier does not understand.
    #[error("\"{subject}\" has a critical extension {oid} that is not understood")]
    UnsupportedCriticalExtension {
        /// The certificate's subject.
        subject: String,
        /// The extension's OID.
        oid: String,
    },
    /// The certificate may not be used to authenticate (no digitalSignature).
    #[error("the certificate does not allow authentication: its key usage is {usage}, not digitalSignature")]
    NotForAuthentication {
        /// The key usages it has.
        usage: String,
    },
    /// The certificate's extendedKeyUsage does not list clientAuth.
    #[error("the certificate is not meant to authenticate: its extended key usage is {purposes}, without clientAuth")]
    NotForClientAuth {
        /// The key purposes it lists.
        purposes: String,
    },
    /// The certificate carries none of the policies the trust configuration accepts.
    #[error("the certificate carries none of the accepted certificate policies (it carries {carried}; accepted: {accepted})")]
    PolicyNotAccepted {
        /// The policy OIDs the certificate carries (or "none").
        carried: String,
        /// The policy OIDs the trust configuration accepts.
        accepted: String,
    },
    /// Listed in its issuer's CRL.
    #[error("\"{subject}\" was revoked on {revoked_at}")]
    Revoked {
        /// The revoked certificate's subject.
        subject: String,
        /// Revocation date from the CRL.
        revoked_at: UnixTime,
    },
    /// No CRL of the issuer is configured.
    #[error("no CRL from \"{issuer}\" is available to check revocation")]
    CrlMissing {
        /// The CA whose CRL is missing.
        issuer: String,
    },
    /// The issuer's CRL is past its nextUpdate.
    #[error("the CRL from \"{issuer}\" is out of date (next update was due {next_update})")]
    CrlStale {
        /// The CA whose CRL is stale.
        issuer: String,
        /// nextUpdate of the newest CRL found (the epoch if it has none).
        next_update: UnixTime,
    },
    /// A CRL claims the issuer's name but its signature does not verify.
    #[error("a CRL claiming to be from \"{issuer}\" has a bad signature")]
    CrlBadSignature {
        /// The CA named in the CRL.
        issuer: String,
    },
    /// A CRL with features the verifier does not support (delta, partitioned).
    #[error("the CRL from \"{issuer}\" has a critical extension {oid} that is not understood")]
    CrlUnsupported {
        /// The CA.
        issuer: String,
        /// The extension's OID.
        oid: String,
    },
}

impl CertError {
    /// What the user can do about it, in one sentence.
    pub fn hint(&self) -> &'static str {
        use CertError::*;
        match self {
            Malformed(_) => "check that the file is a PEM or DER certificate (or CRL) and not a key or another format",
            NoNationalId | InvalidNationalId(_) => "use the practitioner's card certificate: its CN carries the RPPS or ADELI id",
            Expired { .. } => "renew the card certificate and enroll the node again with the new one",
            NotYetValid { .. } => "check the machine's clock, or wait until the certificate's validity begins",
            CaOutsideValidity { .. } => "update the CA certificates (--chain, --trust) from the PKI's publication site",
            UnknownIssuer { .. } => "give the issuing CA with --chain and the PKI's root with --trust; a CA with the right name but another key is an impostor",
            SelfSignedLeaf => "use a certificate issued by the health PKI, not a self-made one",
            IssuerNotCa { .. } | IssuerCannotSign { .. } => "the chain is wrong: give the real intermediate CA with --chain",
            LeafIsCa => "give the practitioner's own certificate, not a CA certificate",
            PathTooLong { .. } | ChainTooLong => "the chain has too many intermediate CAs; give only the issuing CA with --chain",
            BadSignature { .. } => "the certificate was altered or not issued by this CA; get a fresh copy from the card or the PKI",
            RsaKeyTooSmall { .. } | WeakSignatureAlgorithm { .. } | UnsupportedAlgorithm(_) => "this certificate uses weak or unsupported cryptography; use a current card certificate",
            UnsupportedCriticalExtension { .. } => "this certificate is not of the practitioner card profile",
            NotForAuthentication { .. } => "use the card's authentication certificate (digitalSignature), not its signature certificate",
            NotForClientAuth { .. } => "use the card's authentication certificate (its extended key usage lists clientAuth), not a certificate meant for another use",
            PolicyNotAccepted { .. } => "use a card certificate issued under an accepted policy, or add its policy to the trust configuration's policies list",
            Revoked { .. } => "the certificate was revoked by its CA; use a valid card",
            CrlMissing { .. } => "import the CA's current CRL with --crl, or pass --no-revocation-check to skip the check",
            CrlStale { .. } => "download the CA's current CRL and import it with --crl",
            CrlBadSignature { .. } => "the CRL was altered or forged; download it again from the PKI",
            CrlUnsupported { .. } => "import the CA's full CRL, not a delta or partitioned one",
        }
    }
}
