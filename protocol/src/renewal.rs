//! Renewing a node's credential in place, when the practitioner's card
//! certificate is renewed.
//!
//! Flow:
//!
//! 1. Before the card signs anything, [`check_renewal_certificate`] checks
//!    the new certificate (already verified by
//!    [`verify_certificate`](crate::verify::verify_certificate)) against the
//!    credential in force: the same practitioner (national id), not the
//!    certificate already in use, not ending before it.
//! 2. The card signs a new credential for the node's own keys (the Noise
//!    static key and PeerId the current credential binds).
//! 3. Whoever applies it (the daemon, or the CLI when no daemon runs) calls
//!    [`check_renewal`] on the new credential: everything of step 1 again,
//!    plus the credential itself as a peer would verify it against the
//!    node's Noise key, with the trust in force and revocation as
//!    configured. Only that function makes a [`Renewal`], which is what the
//!    node needs to apply it.
//!
//! Decision on validity: a certificate that ends *before* the one in use is
//! refused ([`RenewalError::ShortensValidity`]): it is almost always an
//! older card given by mistake, and accepting it would cut the node's life
//! short. One that ends on the same day (a card reissued after a loss, say)
//! is accepted.

use crate::certificate::Certificate;
use crate::credential::{verify_credential, CredentialError, NodeCredential};
use crate::error::CertError;
use crate::identity::PractitionerIdentity;
use crate::ledger::EntryKind;
use crate::time::UnixTime;
use crate::verify::{Purpose, TrustStore, VerifiedCertificate, VerifyOptions};

/// Why a renewal is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenewalError {
    /// The credential in force cannot be read (its certificate is damaged).
    #[error("the node's current credential is unreadable: {0}")]
    CurrentUnreadable(CertError),
    /// The new certificate names another practitioner.
    #[error(
        "the new certificate is another practitioner's (national id {new}); this node serves {current}"
    )]
    OtherPractitioner {
        /// The national id the node serves.
        current: String,
        /// The national id of the new certificate.
        new: String,
    },
    /// The new certificate is the one the node already uses.
    #[error("this certificate is already in use by the node (it ends on {not_after})")]
    AlreadyInUse {
        /// Its end of validity.
        not_after: UnixTime,
    },
    /// The new certificate ends before the one in use.
    #[error(
        "the new certificate ends on {new_not_after}, before the one in use ({current_not_after})"
    )]
    ShortensValidity {
        /// End of the certificate in use.
        current_not_after: UnixTime,
        /// End of the new certificate.
        new_not_after: UnixTime,
    },
    /// The new credential binds other node keys than the node's own.
    #[error("the new credential binds another node's keys")]
    OtherNode,
    /// The new credential (or its certificate) is refused.
    #[error("the new credential is refused: {0}")]
    Credential(CredentialError),
}

impl RenewalError {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            RenewalError::CurrentUnreadable(_) => {
                "restore credential.bin from the home's backup (or credential.bin.previous)"
            }
            RenewalError::OtherPractitioner { .. } => {
                "give the new card certificate of the practitioner this node serves; another practitioner enrolls a node of their own with `confrere init`"
            }
            RenewalError::AlreadyInUse { .. } => {
                "nothing to do: give the new card's certificate once the card is renewed"
            }
            RenewalError::ShortensValidity { .. } => {
                "give the newest card certificate (check the card given is not an older one)"
            }
            RenewalError::OtherNode => "renew from this node's own home",
            RenewalError::Credential(CredentialError::Certificate(e)) => e.hint(),
            RenewalError::Credential(_) => "check the certificate and the card key",
        }
    }
}

/// A renewal that passed [`check_renewal`]: the new credential and what
/// the ledger records of it. Only [`check_renewal`] makes one.
#[derive(Clone, Debug)]
pub struct Renewal {
    credential: NodeCredential,
    certificate: Certificate,
    identity: PractitionerIdentity,
    old_fingerprint: [u8; 32],
    old_not_after: UnixTime,
}

impl Renewal {
    /// The new credential.
    pub fn credential(&self) -> &NodeCredential {
        &self.credential
    }

    /// The new practitioner certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The practitioner (the same before and after).
    pub fn identity(&self) -> &PractitionerIdentity {
        &self.identity
    }

    /// End of the old credential's validity.
    pub fn old_not_after(&self) -> UnixTime {
        self.old_not_after
    }

    /// The ledger entry that records the renewal.
    pub fn ledger_entry(&self) -> EntryKind {
        EntryKind::CredentialRenewed {
            old_fingerprint: self.old_fingerprint,
            old_not_after: self.old_not_after,
            new_fingerprint: self.certificate.fingerprint(),
            new_not_after: self.credential.not_after(),
        }
    }
}

/// The practitioner certificate a credential carries (its first).
pub fn credential_certificate(cred: &NodeCredential) -> Result<Certificate, CertError> {
    let der = cred
        .certificates()
        .first()
        .ok_or_else(|| CertError::Malformed("the credential holds no certificate".into()))?;
    Certificate::from_der(der)
}

/// Checks, before the card signs, that `new` can replace the certificate
/// of `current`: same practitioner, not the same certificate, not ending
/// earlier. `new` was verified by the caller (authentication purpose, the
/// trust in force, revocation as configured).
pub fn check_renewal_certificate(
    current: &NodeCredential,
    new: &VerifiedCertificate,
) -> Result<(), RenewalError> {
    let old = credential_certificate(current).map_err(RenewalError::CurrentUnreadable)?;
    compare(&old, new.certificate(), new.identity())
}

fn compare(
    old: &Certificate,
    new: &Certificate,
    new_identity: &PractitionerIdentity,
) -> Result<(), RenewalError> {
    let old_identity = old
        .practitioner()
        .map_err(RenewalError::CurrentUnreadable)?;
    if old_identity.national_id != new_identity.national_id {
        return Err(RenewalError::OtherPractitioner {
            current: old_identity.national_id.to_string(),
            new: new_identity.national_id.to_string(),
        });
    }
    if old.der() == new.der() {
        return Err(RenewalError::AlreadyInUse {
            not_after: old.not_after(),
        });
    }
    if new.not_after() < old.not_after() {
        return Err(RenewalError::ShortensValidity {
            current_not_after: old.not_after(),
            new_not_after: new.not_after(),
        });
    }
    Ok(())
}

/// Decides whether `new` may replace the credential in force `current`.
///
/// `new` must bind the node's own keys (the Noise static key and PeerId
/// `current` binds) and verify as a peer would verify it, at `opts.at`,
/// against `trust` with `opts.revocation` (the purpose is always
/// authentication); its certificate must pass [`check_renewal_certificate`].
pub fn check_renewal(
    current: &NodeCredential,
    new: &NodeCredential,
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> Result<Renewal, RenewalError> {
    let old = credential_certificate(current).map_err(RenewalError::CurrentUnreadable)?;
    if new.noise_static() != current.noise_static() || new.peer_id() != current.peer_id() {
        return Err(RenewalError::OtherNode);
    }
    let opts = VerifyOptions {
        at: opts.at,
        revocation: opts.revocation,
        purpose: Purpose::Authentication,
    };
    let peer = verify_credential(new, current.noise_static(), trust, &opts)
        .map_err(RenewalError::Credential)?;
    compare(&old, peer.certificate(), peer.identity())?;
    Ok(Renewal {
        credential: new.clone(),
        certificate: peer.certificate().clone(),
        identity: peer.identity().clone(),
        old_fingerprint: old.fingerprint(),
        old_not_after: current.not_after(),
    })
}
