//! A practice node's home directory: its keys, its node credential and the
//! trust material it verifies peers with.
//!
//! Layout:
//!
//! ```text
//! HOME/
//!   config.toml            settings, commented
//!   certificate.pem        the practitioner's card certificate
//!   credential.bin         the node credential the card key signed
//!   keys/noise.key         Noise static X25519 secret (0600)
//!   keys/libp2p.key        libp2p identity, protobuf-encoded (0600)
//!   trust/anchors.pem      trust anchors (roots of the health PKI)
//!   trust/chain.pem        intermediate CAs (own chain and known CAs)
//!   trust/crls.pem         CRLs, PEM
//! ```
//!
//! The card's private key is never copied into the home: it signs the
//! credential once, at enrollment, and stays with the practitioner.
//!
//! [`init`] builds the whole home in a temporary directory beside the
//! target and renames it into place, so a refused certificate or a failure
//! half-way leaves nothing behind.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use confrere_protocol::credential::{issue_credential, NodeCredential};
use confrere_protocol::keys::NoiseKeypair;
use confrere_protocol::session::SessionConfig;
use confrere_protocol::{
    parse_certificates, parse_crls, verify_certificate, CertError, Certificate, CredentialError,
    Crl, Pkcs12Error, PractitionerIdentity, Purpose, RevocationCheck, SignerError, TrustStore,
    UnixTime, VerifyOptions,
};

use crate::config::{Config, ConfigError};
use crate::files::{self, ReadError};

mod card;
mod config_text;
pub mod crl;
mod pkcs11;
pub mod renew;

pub use card::CardSource;
pub use pkcs11::{KeyChoice, Pkcs11Error, Pkcs11Pin, TokenChoice};

use config_text::config_text;

/// Where the inputs of [`init`] come from.
#[derive(Debug)]
pub struct InitRequest {
    /// The home directory to create (must be absent or empty).
    pub home: PathBuf,
    /// Where the practitioner's certificate and card key come from.
    pub card: CardSource,
    /// Intermediate CA certificates.
    pub chain: Vec<PathBuf>,
    /// Trust anchors (at least one file).
    pub trust: Vec<PathBuf>,
    /// CRLs.
    pub crls: Vec<PathBuf>,
    /// Whether revocation is checked (here and for every peer).
    pub revocation: RevocationCheck,
    /// The current time.
    pub now: UnixTime,
}

/// What [`init`] made.
#[derive(Clone, Debug)]
pub struct InitReport {
    /// The home directory.
    pub home: PathBuf,
    /// The practitioner the node now speaks for.
    pub identity: PractitionerIdentity,
    /// The node's libp2p PeerId, base58.
    pub peer_id: String,
    /// End of the credential's validity.
    pub credential_not_after: UnixTime,
}

/// Why a home could not be made or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HomeError {
    /// An input file is unreadable.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// An input file is not what it should be.
    #[error("{path}: {error}")]
    BadInput {
        /// The file.
        path: String,
        /// What is wrong.
        error: CertError,
    },
    /// The certificate does not verify.
    #[error("the certificate is refused: {0}")]
    Certificate(CertError),
    /// The key file cannot be used with the certificate.
    #[error("{path}: {error}")]
    Key {
        /// The key file.
        path: String,
        /// What is wrong.
        error: SignerError,
    },
    /// The `.p12` file cannot be used.
    #[error("{path}: {error}")]
    Pkcs12 {
        /// The `.p12` file.
        path: String,
        /// What is wrong.
        error: Pkcs12Error,
    },
    /// The card key on a PKCS#11 token cannot be used.
    #[error("PKCS#11 module {module}: {error}")]
    Pkcs11 {
        /// The module.
        module: String,
        /// What is wrong.
        error: Pkcs11Error,
    },
    /// The credential could not be made.
    #[error("the node credential could not be made: {0}")]
    Credential(CredentialError),
    /// The home directory exists and holds files.
    #[error("{0} already exists and is not an empty directory")]
    AlreadyExists(String),
    /// No trust anchor was given.
    #[error("no trust anchor given")]
    NoTrustAnchor,
    /// A file of the home is missing or damaged.
    #[error("the home {home} is damaged: {what}")]
    Damaged {
        /// The home.
        home: String,
        /// What is wrong.
        what: String,
    },
    /// Writing the home failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Key generation failed.
    #[error("key generation failed: {0}")]
    KeyGeneration(String),
    /// `config.toml` is unreadable, or holds an unknown key or a bad value.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl HomeError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            HomeError::Read(_) => "check the path and the file's permissions".into(),
            HomeError::BadInput { error, .. } | HomeError::Certificate(error) => {
                error.hint().into()
            }
            HomeError::Credential(CredentialError::Certificate(error)) => error.hint().into(),
            HomeError::Key { .. } => "give the PKCS#8 private key that belongs to --cert".into(),
            HomeError::Pkcs12 { error, .. } => error.hint().into(),
            HomeError::Pkcs11 { error, .. } => error.hint().into(),
            HomeError::Credential(_) => "check the certificate and the key".into(),
            HomeError::AlreadyExists(_) => {
                "choose another --home, or remove the old one if it is truly unused".into()
            }
            HomeError::NoTrustAnchor => {
                "give the health PKI's root certificate with --trust".into()
            }
            HomeError::Damaged { .. } => {
                "restore the home from its backup, or enroll again with `confrere init`".into()
            }
            HomeError::Write { .. } => {
                "check free space and permissions of the target directory".into()
            }
            HomeError::KeyGeneration(_) => {
                "retry; if it persists, the system random generator is unavailable".into()
            }
            HomeError::Config(e) => e.hint(),
        }
    }
}

pub(crate) fn read_certs(path: &Path) -> Result<Vec<Certificate>, HomeError> {
    let bytes = files::read(path)?;
    parse_certificates(&bytes).map_err(|error| HomeError::BadInput {
        path: path.display().to_string(),
        error,
    })
}

fn read_crls(path: &Path) -> Result<Vec<Crl>, HomeError> {
    let bytes = files::read(path)?;
    parse_crls(&bytes).map_err(|error| HomeError::BadInput {
        path: path.display().to_string(),
        error,
    })
}

/// Trust material read from files: anchors, intermediates, CRLs.
pub fn load_trust(
    trust: &[PathBuf],
    chain: &[PathBuf],
    crls: &[PathBuf],
) -> Result<(TrustStore, Vec<Certificate>), HomeError> {
    let mut anchors = Vec::new();
    for p in trust {
        anchors.extend(read_certs(p)?);
    }
    let mut store = TrustStore::new(anchors);
    let mut intermediates = Vec::new();
    for p in chain {
        for c in read_certs(p)? {
            store.add_intermediate(c.clone());
            intermediates.push(c);
        }
    }
    for p in crls {
        for c in read_crls(p)? {
            store.add_crl(c);
        }
    }
    Ok((store, intermediates))
}

/// Enrolls a node: checks the certificate, makes the node's keys, has the
/// card key sign the credential and writes the home. See the module docs.
pub fn init(req: &InitRequest) -> Result<InitReport, HomeError> {
    if req.trust.is_empty() {
        return Err(HomeError::NoTrustAnchor);
    }
    let home_str = req.home.display().to_string();
    if req.home.exists() && !req.home.is_dir() {
        return Err(HomeError::AlreadyExists(home_str));
    }
    let absent = files::is_absent_or_empty_dir(&req.home).map_err(|source| HomeError::Write {
        path: home_str.clone(),
        source,
    })?;
    if !absent {
        return Err(HomeError::AlreadyExists(home_str));
    }
    // A .p12 or a PKCS#11 token is opened first: a wrong password or PIN
    // stops here, before anything is written. A key file is read after the
    // certificate verifies.
    let opened = card::open_card(&req.card)?;
    let (leaf, certs) = (opened.leaf.clone(), opened.chain.clone());
    let (trust, intermediates) = load_trust(&req.trust, &req.chain, &req.crls)?;
    // Extra certificates in the --cert or .p12 file count as its chain.
    let presented: Vec<Certificate> = certs.into_iter().chain(intermediates).collect();
    let opts = VerifyOptions {
        at: req.now,
        revocation: req.revocation,
        purpose: Purpose::Authentication,
    };
    let verified =
        verify_certificate(&leaf, &presented, &trust, &opts).map_err(HomeError::Certificate)?;
    let signer = opened.into_signer(&req.card)?;
    let noise = NoiseKeypair::generate().map_err(|e| HomeError::KeyGeneration(e.to_string()))?;
    let libp2p = libp2p_identity::Keypair::generate_ed25519();
    let peer_id = libp2p.public().to_peer_id();
    let libp2p_bytes = zeroize::Zeroizing::new(
        libp2p
            .to_protobuf_encoding()
            .map_err(|e| HomeError::KeyGeneration(e.to_string()))?,
    );
    // Ship the intermediates of the verified path (not the anchor) so that
    // peers can build the path to their own copy of the root.
    let ship: Vec<Certificate> = verified
        .issuers()
        .iter()
        .filter(|c| !trust.anchors().iter().any(|a| a.der() == c.der()))
        .cloned()
        .collect();
    let not_before = req.now.add_secs(-300);
    let credential = issue_credential(
        signer.as_ref(),
        &verified,
        &ship,
        *noise.public(),
        peer_id.to_bytes(),
        not_before,
        leaf.not_after(),
    )
    .map_err(HomeError::Credential)?;

    let staging = Staging::new(&req.home)?;
    staging.write_home(&HomeFiles {
        leaf: &leaf,
        credential: &credential,
        noise: &noise,
        libp2p: &libp2p_bytes,
        trust: &trust,
        identity: verified.identity(),
        peer_id: &peer_id.to_base58(),
        revocation: req.revocation,
    })?;
    staging.commit()?;
    Ok(InitReport {
        home: req.home.clone(),
        identity: verified.identity().clone(),
        peer_id: peer_id.to_base58(),
        credential_not_after: credential.not_after(),
    })
}

struct HomeFiles<'a> {
    leaf: &'a Certificate,
    credential: &'a NodeCredential,
    noise: &'a NoiseKeypair,
    libp2p: &'a [u8],
    trust: &'a TrustStore,
    identity: &'a PractitionerIdentity,
    peer_id: &'a str,
    revocation: RevocationCheck,
}

/// A temporary directory beside the home, renamed into place on commit and
/// removed if dropped before.
struct Staging {
    tmp: Option<tempfile::TempDir>,
    target: PathBuf,
}

impl Staging {
    fn new(target: &Path) -> Result<Self, HomeError> {
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let werr = |source| HomeError::Write {
            path: parent.display().to_string(),
            source,
        };
        fs::create_dir_all(&parent).map_err(werr)?;
        let tmp = tempfile::Builder::new()
            .prefix(".confrere-init-")
            .tempdir_in(&parent)
            .map_err(|source| HomeError::Write {
                path: parent.display().to_string(),
                source,
            })?;
        Ok(Staging {
            tmp: Some(tmp),
            target: target.to_path_buf(),
        })
    }

    fn path(&self) -> &Path {
        self.tmp.as_ref().map_or(Path::new("."), |t| t.path())
    }

    fn write_home(&self, f: &HomeFiles<'_>) -> Result<(), HomeError> {
        let root = self.path();
        let w = |rel: &str, bytes: &[u8], private: bool| -> Result<(), HomeError> {
            let p = root.join(rel);
            let res = if private {
                files::write_private_new(&p, bytes)
            } else {
                files::write_public_new(&p, bytes)
            };
            res.map_err(|source| HomeError::Write {
                path: p.display().to_string(),
                source,
            })
        };
        let mkdir = |rel: &str| {
            let p = root.join(rel);
            fs::create_dir(&p).map_err(|source| HomeError::Write {
                path: p.display().to_string(),
                source,
            })
        };
        mkdir("keys")?;
        mkdir("trust")?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let p = root.join("keys");
            fs::set_permissions(&p, fs::Permissions::from_mode(0o700)).map_err(|source| {
                HomeError::Write {
                    path: p.display().to_string(),
                    source,
                }
            })?;
        }
        w("keys/noise.key", f.noise.secret(), true)?;
        w("keys/libp2p.key", f.libp2p, true)?;
        w(
            "certificate.pem",
            pem("CERTIFICATE", f.leaf.der()).as_bytes(),
            false,
        )?;
        w("credential.bin", &f.credential.encode(), false)?;
        let anchors: String = f
            .trust
            .anchors()
            .iter()
            .map(|c| pem("CERTIFICATE", c.der()))
            .collect();
        w("trust/anchors.pem", anchors.as_bytes(), false)?;
        let chain: String = f
            .trust
            .intermediates()
            .iter()
            .map(|c| pem("CERTIFICATE", c.der()))
            .collect();
        w("trust/chain.pem", chain.as_bytes(), false)?;
        let crls: String = f
            .trust
            .crls()
            .iter()
            .map(|c| pem("X509 CRL", c.der()))
            .collect();
        w("trust/crls.pem", crls.as_bytes(), false)?;
        let config = config_text(
            &f.identity.display_name(),
            f.identity.national_id.as_str(),
            f.peer_id,
            f.revocation,
        );
        w("config.toml", config.as_bytes(), false)?;
        files::sync_dir(root).map_err(|source| HomeError::Write {
            path: root.display().to_string(),
            source,
        })
    }

    fn commit(mut self) -> Result<(), HomeError> {
        let Some(tmp) = self.tmp.take() else {
            return Ok(());
        };
        let staged = tmp.keep();
        // rename(2) replaces an empty directory atomically.
        if let Err(source) = fs::rename(&staged, &self.target) {
            let _ = fs::remove_dir_all(&staged);
            return Err(HomeError::Write {
                path: self.target.display().to_string(),
                source,
            });
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(&self.target, fs::Permissions::from_mode(0o700));
        }
        if let Some(parent) = self.target.parent() {
            let _ = files::sync_dir(if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            });
        }
        Ok(())
    }
}

/// PEM armour.
pub fn pem(label: &str, der: &[u8]) -> String {
    pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der).unwrap_or_default()
}

/// A home read back from disk, ready to run sessions.
pub struct Home {
    /// The directory.
    pub dir: PathBuf,
    /// The node credential.
    pub credential: NodeCredential,
    /// The Noise static key pair.
    pub noise: NoiseKeypair,
    /// The libp2p identity.
    pub libp2p: libp2p_identity::Keypair,
    /// Trust anchors, intermediates, CRLs and the accepted certificate
    /// policies (`[trust] policies`).
    pub trust: TrustStore,
    /// Whether peers' revocation status is checked.
    pub revocation: RevocationCheck,
    /// The settings of `config.toml`, read and checked when the home was
    /// opened.
    pub config: Config,
}

impl fmt::Debug for Home {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Home")
            .field("dir", &self.dir)
            .field("credential", &self.credential)
            .field("noise", &self.noise)
            .finish_non_exhaustive()
    }
}

impl Home {
    /// The configuration the node's sessions run with.
    pub fn session_config(&self) -> SessionConfig {
        SessionConfig {
            noise_key: self.noise.clone(),
            credential: self.credential.clone(),
            trust: Arc::new(self.trust.clone()),
            revocation: self.revocation,
        }
    }

    /// Opens a home made by [`init`].
    pub fn open(dir: &Path) -> Result<Home, HomeError> {
        let damaged = |what: String| HomeError::Damaged {
            home: dir.display().to_string(),
            what,
        };
        if !dir.join("credential.bin").is_file() {
            return Err(damaged(
                "no credential.bin: this is not a Confrère home (run `confrere init`)".into(),
            ));
        }
        let cred_bytes = files::read(&dir.join("credential.bin"))?;
        let credential = NodeCredential::decode(&cred_bytes)
            .map_err(|e| damaged(format!("credential.bin: {e}")))?;
        let noise_bytes = zeroize::Zeroizing::new(files::read(&dir.join("keys/noise.key"))?);
        let noise = NoiseKeypair::from_secret(&noise_bytes)
            .map_err(|e| damaged(format!("keys/noise.key: {e}")))?;
        if noise.public() != credential.noise_static() {
            return Err(damaged(
                "keys/noise.key is not the key the credential binds".into(),
            ));
        }
        let lp_bytes = zeroize::Zeroizing::new(files::read(&dir.join("keys/libp2p.key"))?);
        let libp2p = libp2p_identity::Keypair::from_protobuf_encoding(&lp_bytes)
            .map_err(|_| damaged("keys/libp2p.key is unreadable".into()))?;
        if libp2p.public().to_peer_id().to_bytes() != credential.peer_id() {
            return Err(damaged(
                "keys/libp2p.key is not the identity the credential binds".into(),
            ));
        }
        let config = Config::load(dir)?;
        let (trust, revocation) = home_trust(dir, &config)?;
        Ok(Home {
            dir: dir.to_path_buf(),
            credential,
            noise,
            libp2p,
            trust,
            revocation,
            config,
        })
    }
}

/// The trust material of a home (anchors, intermediates, CRLs, the
/// accepted policies of `config`) and whether revocation is checked.
pub(crate) fn home_trust(
    dir: &Path,
    config: &Config,
) -> Result<(TrustStore, RevocationCheck), HomeError> {
    let revocation = if config.trust.revocation_check {
        RevocationCheck::Required
    } else {
        RevocationCheck::Off
    };
    let (mut trust, _) = load_trust(
        &[dir.join("trust/anchors.pem")],
        &[dir.join("trust/chain.pem")]
            .into_iter()
            .filter(|p| fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false))
            .collect::<Vec<_>>(),
        &[dir.join("trust/crls.pem")]
            .into_iter()
            .filter(|p| fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false))
            .collect::<Vec<_>>(),
    )?;
    // The config reader checked each policy with the same function.
    trust
        .set_policies(config.trust.policies.clone())
        .map_err(|e| {
            HomeError::Config(crate::config::ConfigError::Invalid {
                path: dir.join(crate::config::CONFIG_FILE),
                line: None,
                message: format!("[trust] policies: {e}"),
            })
        })?;
    Ok((trust, revocation))
}
