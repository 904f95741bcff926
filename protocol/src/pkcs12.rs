//! Software health certificates: a PKCS#12 (`.p12`) file holding the
//! practitioner's authentication certificate, its private key and, often,
//! the intermediate CA certificates.
//!
//! [`open_pkcs12`] decrypts the file in memory with the password, finds the
//! one private key it holds and the certificate that key belongs to, and
//! returns them as a [`Pkcs8Signer`] checked against that certificate. Both
//! OpenSSL 3's default form (PBES2, AES-256-CBC, PBKDF2-HMAC-SHA256) and the
//! legacy one (3DES/RC2 with SHA-1) are read.

use std::fmt;

use p12_keystore::error::Error as P12Error;
use p12_keystore::Pkcs12Archive;
use zeroize::Zeroizing;

use crate::certificate::Certificate;
use crate::error::CertError;
use crate::signer::{Pkcs8Signer, SignerError};

/// A `.p12` password: wiped from memory on drop, never shown by `Debug`.
pub struct Pkcs12Password(Zeroizing<String>);

impl Pkcs12Password {
    /// Wraps a password (the caller's copy is moved in, not copied).
    pub fn new(password: String) -> Self {
        Pkcs12Password(Zeroizing::new(password))
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Pkcs12Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pkcs12Password(..)")
    }
}

/// What a `.p12` file holds, ready to sign.
#[derive(Debug)]
pub struct Pkcs12Card {
    /// The certificate of the file's private key.
    pub certificate: Certificate,
    /// The other certificates in the file (intermediate CAs, usually).
    pub chain: Vec<Certificate>,
    /// The private key, checked to be the certificate's.
    pub signer: Pkcs8Signer,
}

/// Why a `.p12` file cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Pkcs12Error {
    /// The bytes are not a PKCS#12 file (or it is damaged).
    #[error("not a PKCS#12 (.p12) file, or a damaged one")]
    NotPkcs12,
    /// The password does not open the file.
    #[error("wrong password for the PKCS#12 file")]
    WrongPassword,
    /// The file uses an encryption or integrity scheme not supported.
    #[error("the PKCS#12 file uses an unsupported scheme: {0}")]
    Unsupported(&'static str),
    /// The file holds no private key.
    #[error("the PKCS#12 file holds no private key")]
    NoKey,
    /// The file holds several private keys: which card to use is ambiguous.
    #[error("the PKCS#12 file holds {0} private keys: which one is the card's is ambiguous")]
    SeveralKeys(usize),
    /// The file holds no certificate.
    #[error("the PKCS#12 file holds no certificate")]
    NoCertificate,
    /// No certificate in the file is the key's.
    #[error("the private key in the PKCS#12 file does not match any certificate in it")]
    KeyDoesNotMatchCertificate,
    /// A certificate in the file does not parse.
    #[error("a certificate in the PKCS#12 file is unreadable: {0}")]
    Certificate(CertError),
    /// The private key is of a kind not supported.
    #[error("{0}")]
    Key(SignerError),
}

impl Pkcs12Error {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Pkcs12Error::NotPkcs12 => {
                "give the .p12 file the health PKI issued; check it with `openssl pkcs12 -info -in FILE -noout`"
            }
            Pkcs12Error::WrongPassword => {
                "check the password (in CONFRERE_P12_PASSWORD, or typed at the prompt) and retry"
            }
            Pkcs12Error::Unsupported(_) => {
                "convert it: `openssl pkcs12 -in OLD.p12 -nodes | openssl pkcs12 -export -out NEW.p12`"
            }
            Pkcs12Error::NoKey | Pkcs12Error::NoCertificate => {
                "give the .p12 that holds both the card certificate and its private key, or use --cert and --key"
            }
            Pkcs12Error::SeveralKeys(_) => {
                "export the authentication certificate and its key alone into a .p12, or use --cert and --key"
            }
            Pkcs12Error::KeyDoesNotMatchCertificate => {
                "the file is inconsistent: ask the issuer for a new one, or use --cert and --key"
            }
            Pkcs12Error::Certificate(e) => e.hint(),
            Pkcs12Error::Key(_) => {
                "the key must be RSA or ECDSA P-256; ask the issuer for an authentication certificate"
            }
        }
    }
}

fn classify(e: &P12Error) -> Pkcs12Error {
    match e {
        // A MAC that does not verify, or a decryption whose padding is wrong.
        P12Error::MacError(_) | P12Error::UnpadError | P12Error::Pkcs5Error(_) => {
            Pkcs12Error::WrongPassword
        }
        P12Error::UnsupportedEncryptionScheme => Pkcs12Error::Unsupported("encryption"),
        P12Error::UnsupportedMacAlgorithm => Pkcs12Error::Unsupported("integrity check (MAC)"),
        _ => Pkcs12Error::NotPkcs12,
    }
}

/// Decrypts a `.p12` file and returns its certificate, the other
/// certificates it holds and its key, checked to be the certificate's.
///
/// Refuses a file with no key, with several keys (which card is meant is
/// ambiguous), or whose key matches none of its certificates.
pub fn open_pkcs12(data: &[u8], password: &Pkcs12Password) -> Result<Pkcs12Card, Pkcs12Error> {
    let archive = Pkcs12Archive::from_pkcs12(data, password.expose()).map_err(|e| classify(&e))?;
    let key = match archive.keys.as_slice() {
        [] => return Err(Pkcs12Error::NoKey),
        [one] => Zeroizing::new(one.key.as_der().to_vec()),
        several => return Err(Pkcs12Error::SeveralKeys(several.len())),
    };
    let mut certs = Vec::with_capacity(archive.certs.len());
    for bag in &archive.certs {
        let cert = Certificate::from_der(bag.cert.as_der()).map_err(Pkcs12Error::Certificate)?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err(Pkcs12Error::NoCertificate);
    }
    let mut unsupported = None;
    for i in 0..certs.len() {
        match Pkcs8Signer::from_pkcs8_der(&key, &certs[i]) {
            Ok(signer) => {
                let certificate = certs.remove(i);
                return Ok(Pkcs12Card {
                    certificate,
                    chain: certs,
                    signer,
                });
            }
            Err(e @ SignerError::UnsupportedKey(_)) => unsupported = Some(e),
            Err(_) => {}
        }
    }
    Err(unsupported.map_or(Pkcs12Error::KeyDoesNotMatchCertificate, Pkcs12Error::Key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows_in_debug() {
        let p = Pkcs12Password::new("s3cret-pass".into());
        let shown = format!("{p:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn bytes_that_are_not_pkcs12_are_refused() {
        let p = Pkcs12Password::new("x".into());
        for junk in [
            &b""[..],
            b"not a p12",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n",
        ] {
            assert_eq!(
                open_pkcs12(junk, &p).expect_err("junk"),
                Pkcs12Error::NotPkcs12
            );
        }
    }

    #[test]
    fn decryption_failures_read_as_a_wrong_password() {
        assert_eq!(classify(&P12Error::UnpadError), Pkcs12Error::WrongPassword);
        assert_eq!(
            classify(&P12Error::Pkcs5Error("bad".into())),
            Pkcs12Error::WrongPassword
        );
        assert_eq!(
            classify(&P12Error::UnsupportedEncryptionScheme),
            Pkcs12Error::Unsupported("encryption")
        );
        assert_eq!(classify(&P12Error::InvalidVersion), Pkcs12Error::NotPkcs12);
    }
}
