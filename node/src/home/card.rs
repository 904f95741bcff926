//! The practitioner's card: where the authentication certificate and the
//! key that signs the node credential come from.
//!
//! A card is opened in two steps, so that nothing slow or secret is touched
//! before the certificate verifies: [`open_card`] reads the certificate
//! (and, for a `.p12`, decrypts the whole file, so a wrong password stops
//! everything at once; for a PKCS#11 token, logs in with the PIN and checks
//! the key on the token is the certificate's); [`OpenedCard::into_signer`] then gives the key that
//! signs. Enrollment and renewal both go through here.

use std::path::{Path, PathBuf};

use confrere_protocol::{
    open_pkcs12, CardSigner, Certificate, Pkcs12Error, Pkcs12Password, Pkcs8Signer,
};

use super::pkcs11::{open_token, KeyChoice, Pkcs11Error, Pkcs11Pin, TokenChoice};
use super::{read_certs, HomeError};
use crate::files;

/// Where the practitioner's authentication certificate and its key come
/// from.
#[derive(Debug)]
#[non_exhaustive]
pub enum CardSource {
    /// A certificate file and an unencrypted PKCS#8 key file.
    KeyFile {
        /// The authentication certificate, PEM or DER (further
        /// certificates in the file count as its chain).
        cert: PathBuf,
        /// The card key, PKCS#8 PEM or DER.
        key: PathBuf,
    },
    /// A PKCS#12 (`.p12`) software certificate: certificate, key and,
    /// often, intermediate CAs, under a password.
    Pkcs12 {
        /// The `.p12` file.
        file: PathBuf,
        /// Its password; used in memory only, wiped on drop.
        password: Pkcs12Password,
    },
    /// A smart card (or any token) read through a PKCS#11 module.
    Pkcs11 {
        /// The card middleware's PKCS#11 module (a shared library).
        module: PathBuf,
        /// Which token of the module.
        token: TokenChoice,
        /// Which certificate and key of the token.
        key: KeyChoice,
        /// The user PIN; passed to `C_Login` only, wiped on drop.
        pin: Pkcs11Pin,
    },
}

/// A card whose certificate has been read.
pub(crate) struct OpenedCard {
    /// The practitioner's authentication certificate.
    pub(crate) leaf: Certificate,
    /// Further certificates the card holds (its chain, as presented).
    pub(crate) chain: Vec<Certificate>,
    /// The key, when opening the card already gave it (a `.p12`).
    signer: Option<Box<dyn CardSigner>>,
}

/// Reads the certificate of `card` (and its key, when it comes with it).
pub(crate) fn open_card(card: &CardSource) -> Result<OpenedCard, HomeError> {
    match card {
        CardSource::KeyFile { cert, .. } => {
            let mut certs = read_certs(cert)?;
            let leaf = certs.remove(0);
            Ok(OpenedCard {
                leaf,
                chain: certs,
                signer: None,
            })
        }
        CardSource::Pkcs12 { file, password } => {
            let bytes = zeroize::Zeroizing::new(files::read(file)?);
            let card = open_pkcs12(&bytes, password).map_err(|error| HomeError::Pkcs12 {
                path: file.display().to_string(),
                error,
            })?;
            Ok(OpenedCard {
                leaf: card.certificate,
                chain: card.chain,
                signer: Some(Box::new(card.signer)),
            })
        }
        CardSource::Pkcs11 {
            module,
            token,
            key,
            pin,
        } => {
            let card = open_token(module, token, key, pin).map_err(|error| HomeError::Pkcs11 {
                module: module.display().to_string(),
                error,
            })?;
            Ok(OpenedCard {
                leaf: card.certificate,
                chain: Vec::new(),
                signer: Some(Box::new(card.signer)),
            })
        }
    }
}

impl OpenedCard {
    /// The key that signs for the card's certificate, checked to be its key.
    pub(crate) fn into_signer(self, card: &CardSource) -> Result<Box<dyn CardSigner>, HomeError> {
        match (self.signer, card) {
            (Some(signer), _) => Ok(signer),
            (None, CardSource::KeyFile { key, .. }) => Ok(Box::new(read_key(key, &self.leaf)?)),
            (None, CardSource::Pkcs12 { file, .. }) => Err(HomeError::Pkcs12 {
                path: file.display().to_string(),
                error: Pkcs12Error::NoKey,
            }),
            (None, CardSource::Pkcs11 { module, .. }) => Err(HomeError::Pkcs11 {
                module: module.display().to_string(),
                error: Pkcs11Error::NoKeyForCertificate {
                    certificates: Vec::new(),
                },
            }),
        }
    }
}

/// Reads a PKCS#8 card key and checks it is `leaf`'s.
fn read_key(key: &Path, leaf: &Certificate) -> Result<Pkcs8Signer, HomeError> {
    let key_bytes = zeroize::Zeroizing::new(files::read(key)?);
    Pkcs8Signer::from_pem_or_der(&key_bytes, leaf).map_err(|error| HomeError::Key {
        path: key.display().to_string(),
        error,
    })
}
