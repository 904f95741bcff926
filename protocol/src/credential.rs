//! The node credential: the card's statement that a node speaks for a
//! practitioner.
//!
//! Flow:
//!
//! 1. At enrollment (`confrere init`), the node makes its Noise static
//!    X25519 key and its libp2p identity; the practitioner's card key signs
//!    `CREDENTIAL_DOMAIN || body`, where the body binds both keys to the
//!    practitioner's certificate chain for a validity period no longer than
//!    the certificate's.
//! 2. In each session handshake the node sends its credential; the peer
//!    calls [`verify_credential`] with the static key Noise authenticated.
//!    Only that function makes a [`VerifiedPeer`].
//!
//! Encoding (all integers big-endian):
//!
//! ```text
//! body      = version:u8 (=1) | noise_static:[32] | peer_id:bytes8 (≤ 64)
//!           | not_before:i64 | not_after:i64
//!           | cert_count:u8 (1..=4) | cert:bytes16 (≤ 16384) × cert_count
//! credential = body | scheme:u8 (1 RSA-PKCS1-SHA256, 2 ECDSA-P256-SHA256)
//!            | signature:bytes16 (≤ 1024)
//! ```
//!
//! The first certificate is the practitioner's; the others are intermediates
//! that help the peer build a path to its own trust anchors.

use crate::certificate::Certificate;
use crate::codec::{DecodeError, Reader, Writer};
use crate::error::CertError;
use crate::identity::PractitionerIdentity;
use crate::signature::{verify_signature, SignatureCheck};
use crate::signer::{CardSigner, SignatureScheme, SignerError};
use crate::time::UnixTime;
use crate::verify::{verify_certificate, TrustStore, VerifiedCertificate, VerifyOptions};

/// Domain-separation string prefixed to the signed body.
pub const CREDENTIAL_DOMAIN: &[u8] = b"confrere/node-credential/v1\0";
/// The credential format version.
pub const CREDENTIAL_VERSION: u8 = 1;
/// Longest libp2p PeerId accepted.
pub const MAX_PEER_ID: usize = 64;
/// Most certificates a credential carries.
pub const MAX_CERTS: usize = 4;
/// Largest certificate accepted.
pub const MAX_CERT_LEN: usize = 16 * 1024;
/// Largest signature accepted (RSA-8192).
pub const MAX_SIGNATURE: usize = 1024;

/// A signed binding of a node's keys to a practitioner certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeCredential {
    noise_static: [u8; 32],
    peer_id: Vec<u8>,
    not_before: UnixTime,
    not_after: UnixTime,
    certificates: Vec<Vec<u8>>,
    scheme: SignatureScheme,
    signature: Vec<u8>,
}

impl std::fmt::Debug for NodeCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCredential")
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("certificates", &self.certificates.len())
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

/// Why a credential is refused or could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The bytes are not a credential.
    #[error("malformed node credential: {0}")]
    Malformed(#[from] DecodeError),
    /// The credential binds another Noise key than the one the peer proved.
    #[error("the node credential binds another Noise key than the one the peer holds")]
    WrongNoiseKey,
    /// The credential's validity has ended.
    #[error(
        "the node credential expired on {not_after}; the practitioner must enroll the node again"
    )]
    Expired {
        /// End of validity.
        not_after: UnixTime,
    },
    /// The credential's validity has not begun.
    #[error("the node credential is not valid before {not_before}")]
    NotYetValid {
        /// Start of validity.
        not_before: UnixTime,
    },
    /// The card signature does not verify under the certificate's key.
    #[error(
        "the node credential's signature does not verify under the practitioner's certificate"
    )]
    BadSignature,
    /// The certificate chain is refused.
    #[error("the practitioner certificate is refused: {0}")]
    Certificate(CertError),
    /// The credential claims to last longer than its certificate.
    #[error("the node credential would outlive the practitioner certificate")]
    OutlivesCertificate,
    /// The credential's validity period is empty or reversed.
    #[error("the node credential's validity period is empty")]
    EmptyValidity,
    /// The card key is of a kind that cannot sign credentials.
    #[error("the certificate's key type cannot sign node credentials")]
    UnsupportedKey,
    /// The card could not sign.
    #[error("the card key could not sign: {0}")]
    Signer(#[from] SignerError),
}

impl NodeCredential {
    fn body(&self) -> Writer {
        body(
            &self.noise_static,
            &self.peer_id,
            self.not_before,
            self.not_after,
            &self.certificates,
        )
    }

    /// Wire encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = self.body();
        w.u8(self.scheme.code()).bytes16(&self.signature);
        w.finish()
    }

    /// Decodes a credential (signature not checked: see [`verify_credential`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != CREDENTIAL_VERSION {
            return Err(DecodeError::Version(version));
        }
        let noise_static = r.array::<32>()?;
        let peer_id = r.bytes8(MAX_PEER_ID)?.to_vec();
        let not_before = UnixTime::from_secs(r.i64()?);
        let not_after = UnixTime::from_secs(r.i64()?);
        let count = usize::from(r.u8()?);
        if count == 0 || count > MAX_CERTS {
            return Err(DecodeError::Invalid("certificate count"));
        }
        let mut certificates = Vec::with_capacity(count);
        for _ in 0..count {
            certificates.push(r.bytes16(MAX_CERT_LEN)?.to_vec());
        }
        let code = r.u8()?;
        let scheme = SignatureScheme::from_code(code).ok_or(DecodeError::UnknownTag(code))?;
        let signature = r.bytes16(MAX_SIGNATURE)?.to_vec();
        r.finish()?;
        Ok(NodeCredential {
            noise_static,
            peer_id,
            not_before,
            not_after,
            certificates,
            scheme,
            signature,
        })
    }

    /// The node's Noise static public key.
    pub fn noise_static(&self) -> &[u8; 32] {
        &self.noise_static
    }

    /// The node's libp2p PeerId, as bytes.
    pub fn peer_id(&self) -> &[u8] {
        &self.peer_id
    }

    /// Start of validity.
    pub fn not_before(&self) -> UnixTime {
        self.not_before
    }

    /// End of validity.
    pub fn not_after(&self) -> UnixTime {
        self.not_after
    }

    /// The certificates, practitioner's first, DER.
    pub fn certificates(&self) -> &[Vec<u8>] {
        &self.certificates
    }
}

fn body(
    noise_static: &[u8; 32],
    peer_id: &[u8],
    not_before: UnixTime,
    not_after: UnixTime,
    certificates: &[Vec<u8>],
) -> Writer {
    let mut w = Writer::new();
    w.u8(CREDENTIAL_VERSION)
        .raw(noise_static)
        .bytes8(peer_id)
        .i64(not_before.as_secs())
        .i64(not_after.as_secs())
        .u8(u8::try_from(certificates.len()).unwrap_or(u8::MAX));
    for c in certificates {
        w.bytes16(c);
    }
    w
}

fn signed_message(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(CREDENTIAL_DOMAIN.len() + body.len());
    m.extend_from_slice(CREDENTIAL_DOMAIN);
    m.extend_from_slice(body);
    m
}

/// Has the card sign a credential for a node's keys.
///
/// `verified` is the practitioner certificate as the verifier accepted it;
/// `chain` the intermediates to ship with it. The validity may not extend
/// past the certificate's.
pub fn issue_credential(
    signer: &dyn CardSigner,
    verified: &VerifiedCertificate,
    chain: &[Certificate],
    noise_static: [u8; 32],
    peer_id: Vec<u8>,
    not_before: UnixTime,
    not_after: UnixTime,
) -> Result<NodeCredential, CredentialError> {
    let cert = verified.certificate();
    if not_after <= not_before {
        return Err(CredentialError::EmptyValidity);
    }
    if not_after > cert.not_after() {
        return Err(CredentialError::OutlivesCertificate);
    }
    if peer_id.len() > MAX_PEER_ID || chain.len() + 1 > MAX_CERTS {
        return Err(CredentialError::Malformed(DecodeError::TooLong));
    }
    let scheme =
        SignatureScheme::for_key(cert.public_key().kind).ok_or(CredentialError::UnsupportedKey)?;
    if scheme != signer.scheme() {
        return Err(SignerError::KeyDoesNotMatchCertificate.into());
    }
    let certificates: Vec<Vec<u8>> = std::iter::once(cert)
        .chain(chain.iter())
        .map(|c| c.der().to_vec())
        .collect();
    if certificates.iter().any(|c| c.len() > MAX_CERT_LEN) {
        return Err(CredentialError::Malformed(DecodeError::TooLong));
    }
    let msg = signed_message(
        &body(
            &noise_static,
            &peer_id,
            not_before,
            not_after,
            &certificates,
        )
        .finish(),
    );
    let signature = signer.sign(&msg)?;
    // A signer holding another key than the certificate's is caught here,
    // at enrollment, rather than by every peer later.
    verify_signature(cert.public_key(), &scheme.algorithm(), &msg, &signature)
        .map_err(|_| SignerError::KeyDoesNotMatchCertificate)?;
    Ok(NodeCredential {
        noise_static,
        peer_id,
        not_before,
        not_after,
        certificates,
        scheme,
        signature,
    })
}

/// A peer whose credential verified: the practitioner and the node's keys.
/// Only [`verify_credential`] makes one.
#[derive(Clone, Debug)]
pub struct VerifiedPeer {
    identity: PractitionerIdentity,
    certificate: Certificate,
    /// The other certificates the credential carried (its chain).
    chain: Vec<Certificate>,
    peer_id: Vec<u8>,
    noise_static: [u8; 32],
    credential_not_after: UnixTime,
}

impl VerifiedPeer {
    /// The practitioner the peer's node speaks for.
    pub fn identity(&self) -> &PractitionerIdentity {
        &self.identity
    }

    /// The practitioner's certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The libp2p PeerId the credential binds, as bytes.
    pub fn peer_id(&self) -> &[u8] {
        &self.peer_id
    }

    /// The Noise static key the credential binds.
    pub fn noise_static(&self) -> &[u8; 32] {
        &self.noise_static
    }

    /// When the credential ends.
    pub fn credential_not_after(&self) -> UnixTime {
        self.credential_not_after
    }
}

/// Whether a peer verified earlier is still acceptable under `trust` at
/// `opts.at`: its credential not expired and its certificate path (with
/// the chain its credential carried) still verifying, with revocation as
/// `opts` asks. For sessions already open when the trust in force changes
/// (a new CRL revoking the peer's card, a CRL gone stale): an `Err` means
/// the session must close.
pub fn recheck_peer(
    peer: &VerifiedPeer,
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> Result<(), CredentialError> {
    if opts.at > peer.credential_not_after {
        return Err(CredentialError::Expired {
            not_after: peer.credential_not_after,
        });
    }
    verify_certificate(&peer.certificate, &peer.chain, trust, opts)
        .map(|_| ())
        .map_err(CredentialError::Certificate)
}

/// What a node makes of its own credential when it starts.
#[derive(Debug)]
pub enum OwnCredential {
    /// Its peers will accept it.
    Valid(Box<VerifiedPeer>),
    /// Genuine, but its peers refuse it now (expired, not yet valid, card
    /// revoked, CRL missing or stale): the node may start, so that the
    /// practitioner can still read what was received, and must say why
    /// no colleague will talk to it.
    Refused(CredentialError),
}

/// Checks a node's own credential at start, with the home's own trust
/// store. `Err`: it is not genuine (altered, not signed by the card,
/// keys that are not the node's, a certificate outside the trust store):
/// the node must not start. A credential that is genuine but refused for
/// a reason of time, revocation, the certificate's stated purpose or a
/// policy the home does not list is [`OwnCredential::Refused`].
pub fn check_own_credential(
    cred: &NodeCredential,
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> Result<OwnCredential, CredentialError> {
    match verify_credential(cred, &cred.noise_static, trust, opts) {
        Ok(peer) => Ok(OwnCredential::Valid(Box::new(peer))),
        Err(
            e @ (CredentialError::Expired { .. }
            | CredentialError::NotYetValid { .. }
            | CredentialError::Certificate(
                CertError::Expired { .. }
                | CertError::NotYetValid { .. }
                | CertError::CaOutsideValidity { .. }
                | CertError::Revoked { .. }
                | CertError::CrlMissing { .. }
                | CertError::CrlStale { .. }
                | CertError::NotForClientAuth { .. }
                | CertError::PolicyNotAccepted { .. },
            )),
        ) => Ok(OwnCredential::Refused(e)),
        Err(e) => Err(e),
    }
}

/// Verifies a credential met outside a session, where no Noise handshake
/// proved its static key: a directory record carries one, and proves the
/// node's PeerId key by its own signature instead.
///
/// Checks everything [`verify_credential`] does except the Noise key
/// binding: the validity at `opts.at`, the card signature, that the
/// credential does not outlive its certificate, and the certificate chain
/// against `trust`, with revocation as `opts` asks. A [`VerifiedPeer`] made
/// here proves the credential, not that its holder holds the Noise key:
/// whoever uses it must prove the PeerId key (or the Noise key) otherwise.
pub fn verify_credential_alone(
    cred: &NodeCredential,
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> Result<VerifiedPeer, CredentialError> {
    verify_credential(cred, &cred.noise_static, trust, opts)
}

/// Verifies a peer's credential against the static key Noise authenticated.
///
/// Checks, in order: the key binding, the credential's validity at
/// `opts.at`, the card signature under the practitioner certificate, that
/// the credential does not outlive the certificate, and the certificate
/// itself with [`verify_certificate`].
pub fn verify_credential(
    cred: &NodeCredential,
    remote_static: &[u8],
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> Result<VerifiedPeer, CredentialError> {
    if remote_static != cred.noise_static.as_slice() {
        return Err(CredentialError::WrongNoiseKey);
    }
    if cred.not_after <= cred.not_before {
        return Err(CredentialError::EmptyValidity);
    }
    if opts.at < cred.not_before {
        return Err(CredentialError::NotYetValid {
            not_before: cred.not_before,
        });
    }
    if opts.at > cred.not_after {
        return Err(CredentialError::Expired {
            not_after: cred.not_after,
        });
    }
    let mut certs = cred
        .certificates
        .iter()
        .map(|der| Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CredentialError::Certificate)?;
    if certs.is_empty() {
        return Err(CredentialError::Malformed(DecodeError::Invalid(
            "certificate count",
        )));
    }
    let leaf = certs.remove(0);
    if SignatureScheme::for_key(leaf.public_key().kind) != Some(cred.scheme) {
        return Err(CredentialError::BadSignature);
    }
    let msg = signed_message(&cred.body().finish());
    match verify_signature(
        leaf.public_key(),
        &cred.scheme.algorithm(),
        &msg,
        &cred.signature,
    ) {
        Ok(()) => {}
        Err(SignatureCheck::KeySize(bits)) => {
            return Err(CredentialError::Certificate(CertError::RsaKeyTooSmall {
                subject: leaf.subject().to_owned(),
                bits,
            }))
        }
        Err(_) => return Err(CredentialError::BadSignature),
    }
    if cred.not_after > leaf.not_after() {
        return Err(CredentialError::OutlivesCertificate);
    }
    let verified =
        verify_certificate(&leaf, &certs, trust, opts).map_err(CredentialError::Certificate)?;
    Ok(VerifiedPeer {
        identity: verified.identity().clone(),
        certificate: leaf,
        chain: certs,
        peer_id: cred.peer_id.clone(),
        noise_static: cred.noise_static,
        credential_not_after: cred.not_after,
    })
}
