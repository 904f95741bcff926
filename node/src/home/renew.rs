//! Renewing the node credential in place with the practitioner's new card
//! certificate (`confrere renew`).
//!
//! [`prepare_renewal`] reads the card (the key never leaves the command
//! line), checks the new certificate against the credential in force with
//! [`check_renewal_certificate`] before the card signs anything, has the
//! card sign a credential for the node's own keys (the Noise static key and
//! PeerId the current credential binds: only public parts of the home are
//! read) and runs [`check_renewal`] on it. Whoever applies the renewal —
//! the daemon, which runs [`check_renewal`] again on the bytes it receives,
//! or the command line when no daemon runs — writes it with
//! [`write_renewal`] and records it in the ledger.
//!
//! [`write_renewal`] keeps the files it replaces as `credential.bin.previous`
//! and `certificate.pem.previous` (rollback: stop the daemon, rename them
//! back), and replaces each file through a temporary file, a rename and an
//! fsync of the home: a crash leaves the old or the new file, never a mix.

use std::fs;
use std::path::{Path, PathBuf};

use confrere_protocol::credential::NodeCredential;
use confrere_protocol::ledger::LedgerEntry;
use confrere_protocol::{
    check_renewal, check_renewal_certificate, issue_credential, verify_certificate, Certificate,
    Purpose, Renewal, RenewalError, RevocationCheck, TrustStore, UnixTime, VerifyOptions,
};

use super::{card, load_trust, pem, CardSource, HomeError};
use crate::config::Config;
use crate::files;
use crate::ledger::{Ledger, LedgerError};

/// The credential file of a home.
pub const CREDENTIAL_FILE: &str = "credential.bin";
/// The certificate file of a home.
pub const CERTIFICATE_FILE: &str = "certificate.pem";
/// Suffix of the copies a renewal keeps of the files it replaced.
pub const PREVIOUS_SUFFIX: &str = ".previous";

/// Where the inputs of [`prepare_renewal`] come from.
#[derive(Debug)]
pub struct RenewRequest {
    /// The node's home.
    pub home: PathBuf,
    /// The new card: its certificate and the key that signs.
    pub card: CardSource,
    /// Intermediate CA certificates besides the home's own.
    pub chain: Vec<PathBuf>,
    /// The current time.
    pub now: UnixTime,
}

/// Why a renewal could not be made or applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenewError {
    /// The home or the card could not be read.
    #[error(transparent)]
    Home(#[from] HomeError),
    /// The renewal is refused.
    #[error(transparent)]
    Refused(#[from] RenewalError),
    /// Writing the new files failed (the old ones are in place).
    #[error("cannot write {path}: {source}")]
    Write {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The ledger could not record the renewal; the old files were put back.
    #[error("the ledger could not record the renewal: {0}")]
    Ledger(LedgerError),
}

impl RenewError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            RenewError::Home(e) => e.hint(),
            RenewError::Refused(e) => e.hint().into(),
            RenewError::Write { .. } => "check free space and the permissions of the home".into(),
            RenewError::Ledger(e) => e.hint().into(),
        }
    }
}

impl crate::fault::Fault for RenewError {
    fn code(&self) -> crate::fault::Code {
        use crate::fault::Code;
        match self {
            RenewError::Refused(RenewalError::Credential(
                confrere_protocol::CredentialError::Malformed(_),
            )) => Code::Invalid,
            RenewError::Refused(_) => Code::Refused,
            RenewError::Write { .. } => Code::Unavailable,
            RenewError::Home(_) | RenewError::Ledger(_) => Code::Internal,
        }
    }

    fn hint(&self) -> String {
        RenewError::hint(self)
    }
}

/// How long before the card certificate's end the node warns (`status`,
/// and the daemon's log at start): 60 days, time to get the new card and
/// run `confrere renew`.
pub const CARD_EXPIRY_WARNING_DAYS: i64 = 60;

/// The warning to show when the card certificate ending at `not_after` is
/// within [`CARD_EXPIRY_WARNING_DAYS`] of `now` (or past), none otherwise.
pub fn card_expiry_warning(not_after: UnixTime, now: UnixTime) -> Option<String> {
    if not_after.as_secs() - now.as_secs() > CARD_EXPIRY_WARNING_DAYS * 86_400 {
        return None;
    }
    let day = not_after.to_rfc3339().chars().take(10).collect::<String>();
    Some(if not_after <= now {
        format!("the card certificate expired on {day}: renew with `confrere renew`")
    } else {
        format!("the card certificate expires on {day}: renew with `confrere renew`")
    })
}

/// The public parts of a home a renewal needs: the credential in force and
/// the trust it verifies with.
#[derive(Debug)]
pub struct HomeTrust {
    /// The credential in force (`credential.bin`).
    pub credential: NodeCredential,
    /// Anchors, intermediates, CRLs and policies of the home.
    pub trust: TrustStore,
    /// Whether revocation is checked.
    pub revocation: RevocationCheck,
}

/// Reads the credential and trust of `dir`, never its private keys.
pub fn read_home_trust(dir: &Path) -> Result<HomeTrust, HomeError> {
    let bytes = files::read(&dir.join(CREDENTIAL_FILE))?;
    let credential = NodeCredential::decode(&bytes).map_err(|e| HomeError::Damaged {
        home: dir.display().to_string(),
        what: format!("{CREDENTIAL_FILE}: {e}"),
    })?;
    let config = Config::load(dir)?;
    let (trust, revocation) = super::home_trust(dir, &config)?;
    Ok(HomeTrust {
        credential,
        trust,
        revocation,
    })
}

/// Reads the new card, checks it against the credential in force, has it
/// sign a credential for the node's keys and checks that credential. See
/// the module docs.
pub fn prepare_renewal(req: &RenewRequest) -> Result<Renewal, RenewError> {
    let home = read_home_trust(&req.home)?;
    let opened = card::open_card(&req.card)?;
    let (leaf, card_chain) = (opened.leaf.clone(), opened.chain.clone());
    let (_, extra) = load_trust(&[], &req.chain, &[])?;
    let presented: Vec<Certificate> = card_chain.into_iter().chain(extra).collect();
    let opts = VerifyOptions {
        at: req.now,
        revocation: home.revocation,
        purpose: Purpose::Authentication,
    };
    let verified = verify_certificate(&leaf, &presented, &home.trust, &opts)
        .map_err(HomeError::Certificate)?;
    // Refused before the card signs anything.
    check_renewal_certificate(&home.credential, &verified)?;
    let signer = opened.into_signer(&req.card)?;
    let ship: Vec<Certificate> = verified
        .issuers()
        .iter()
        .filter(|c| !home.trust.anchors().iter().any(|a| a.der() == c.der()))
        .cloned()
        .collect();
    let credential = issue_credential(
        signer.as_ref(),
        &verified,
        &ship,
        *home.credential.noise_static(),
        home.credential.peer_id().to_vec(),
        req.now.add_secs(-300),
        leaf.not_after(),
    )
    .map_err(HomeError::Credential)?;
    Ok(check_renewal(
        &home.credential,
        &credential,
        &home.trust,
        &opts,
    )?)
}

/// Checks `bytes` (a credential another process made) as a renewal of the
/// credential in force, with the trust in force at `now`.
pub fn check_received_renewal(
    current: &NodeCredential,
    bytes: &[u8],
    trust: &TrustStore,
    revocation: RevocationCheck,
    now: UnixTime,
) -> Result<Renewal, RenewalError> {
    let new = NodeCredential::decode(bytes)
        .map_err(|e| RenewalError::Credential(confrere_protocol::CredentialError::Malformed(e)))?;
    let opts = VerifyOptions {
        at: now,
        revocation,
        purpose: Purpose::Authentication,
    };
    check_renewal(current, &new, trust, &opts)
}

/// Writes the renewed credential and certificate into `dir`, keeping the
/// replaced files as `*.previous`.
pub fn write_renewal(dir: &Path, renewal: &Renewal) -> Result<(), RenewError> {
    for name in [CERTIFICATE_FILE, CREDENTIAL_FILE] {
        let path = dir.join(name);
        if path.is_file() {
            let old = files::read(&path).map_err(HomeError::from)?;
            replace(dir, &previous(name), &old)?;
        }
    }
    let written = replace(
        dir,
        CERTIFICATE_FILE,
        pem("CERTIFICATE", renewal.certificate().der()).as_bytes(),
    )
    // The credential last: it is what the node runs with.
    .and_then(|()| replace(dir, CREDENTIAL_FILE, &renewal.credential().encode()));
    if written.is_err() {
        // Half-way: put the old pair back, so the home stays consistent.
        let _ = restore_previous(dir);
    }
    written
}

/// Puts the `*.previous` files back (a renewal the ledger could not record).
pub fn restore_previous(dir: &Path) -> Result<(), RenewError> {
    for name in [CREDENTIAL_FILE, CERTIFICATE_FILE] {
        let from = dir.join(previous(name));
        if from.is_file() {
            let old = files::read(&from).map_err(HomeError::from)?;
            replace(dir, name, &old)?;
        }
    }
    Ok(())
}

/// Writes the renewal into `dir` and records it in `ledger`; if the ledger
/// fails, the old files are put back. Blocking.
pub fn apply_renewal(
    dir: &Path,
    renewal: &Renewal,
    ledger: &Ledger,
    now: UnixTime,
) -> Result<LedgerEntry, RenewError> {
    write_renewal(dir, renewal)?;
    match ledger.append(renewal.ledger_entry(), now) {
        Ok(entry) => Ok(entry),
        Err(e) => {
            restore_previous(dir)?;
            Err(RenewError::Ledger(e))
        }
    }
}

fn previous(name: &str) -> String {
    format!("{name}{PREVIOUS_SUFFIX}")
}

/// Replaces `dir/name` through a temporary file and a rename, then fsyncs
/// `dir`.
fn replace(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), RenewError> {
    let target = dir.join(name);
    let err = |source| RenewError::Write {
        path: target.display().to_string(),
        source,
    };
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = fs::remove_file(&tmp);
    files::write_public_new(&tmp, bytes).map_err(err)?;
    if let Err(source) = fs::rename(&tmp, &target) {
        let _ = fs::remove_file(&tmp);
        return Err(err(source));
    }
    files::sync_dir(dir).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    #[test]
    fn the_card_warning_starts_60_days_before_its_end() {
        let now = UnixTime::from_secs(1_800_000_000);
        let end = |days: i64| now.add_secs(days * DAY);
        assert_eq!(card_expiry_warning(end(61), now), None);
        assert_eq!(card_expiry_warning(end(60).add_secs(1), now), None);
        let w = card_expiry_warning(end(60), now).expect("warning at 60 days");
        assert!(w.starts_with("the card certificate expires on "), "{w}");
        assert!(w.ends_with("renew with `confrere renew`"), "{w}");
        assert!(w.contains(&end(60).to_rfc3339()[..10]), "{w}");
        let past = card_expiry_warning(end(-1), now).expect("warning once expired");
        assert!(
            past.starts_with("the card certificate expired on "),
            "{past}"
        );
    }
}
