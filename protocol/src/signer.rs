//! Card access: whatever holds the practitioner's private key signs through
//! [`CardSigner`].
//!
//! The practice node runs unattended while the card stays in the
//! practitioner's wallet, so the card key signs once, at enrollment, the node
//! credential. The key comes from a PKCS#8 file (test PKI), a `.p12`
//! (software certificates) or a PKCS#11 smart card (the node's
//! `home::pkcs11`, which does the device I/O this crate does not).

use std::fmt;

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use zeroize::Zeroizing;

use crate::certificate::{Certificate, KeyKind, SignatureAlgorithm};

/// The signature schemes a card key signs credentials with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureScheme {
    /// RSA PKCS#1 v1.5 with SHA-256.
    RsaPkcs1Sha256,
    /// ECDSA on P-256 with SHA-256, DER signature.
    EcdsaP256Sha256,
}

impl SignatureScheme {
    /// Wire code.
    pub fn code(self) -> u8 {
        match self {
            SignatureScheme::RsaPkcs1Sha256 => 1,
            SignatureScheme::EcdsaP256Sha256 => 2,
        }
    }

    /// From the wire code.
    pub fn from_code(c: u8) -> Option<Self> {
        match c {
            1 => Some(SignatureScheme::RsaPkcs1Sha256),
            2 => Some(SignatureScheme::EcdsaP256Sha256),
            _ => None,
        }
    }

    /// The X.509 algorithm the scheme corresponds to.
    pub fn algorithm(self) -> SignatureAlgorithm {
        match self {
            SignatureScheme::RsaPkcs1Sha256 => SignatureAlgorithm::RsaSha256,
            SignatureScheme::EcdsaP256Sha256 => SignatureAlgorithm::EcdsaSha256,
        }
    }

    /// The scheme that a certificate's key signs with.
    pub fn for_key(kind: KeyKind) -> Option<Self> {
        match kind {
            KeyKind::Rsa { .. } => Some(SignatureScheme::RsaPkcs1Sha256),
            KeyKind::EcP256 => Some(SignatureScheme::EcdsaP256Sha256),
            _ => None,
        }
    }
}

/// Why the card key could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignerError {
    /// The key file is not an unencrypted PKCS#8 RSA or P-256 key.
    #[error("the key is not an unencrypted PKCS#8 RSA or ECDSA P-256 private key{0}")]
    UnsupportedKey(&'static str),
    /// The key is not the one the certificate certifies.
    #[error("the private key does not match the certificate's public key")]
    KeyDoesNotMatchCertificate,
    /// The card or key refused to sign.
    #[error("the card key could not sign")]
    SigningFailed,
}

/// Something that signs with a practitioner's card key.
pub trait CardSigner: Send + Sync {
    /// The scheme this key signs with.
    fn scheme(&self) -> SignatureScheme;
    /// Signs `msg` (the signer hashes it).
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignerError>;
}

/// The fixed message a card key signs to show that it is its certificate's
/// key (see [`check_card_key`]).
pub const CARD_KEY_CHALLENGE: &[u8] =
    b"confrere card key check: this signature proves nothing else";

/// Checks that `signer` holds the private key `cert` certifies: it must sign
/// with the scheme of the certificate's key, and its signature of
/// [`CARD_KEY_CHALLENGE`] must verify under the certificate's public key.
///
/// For keys whose public half cannot be read and compared (a smart card's),
/// this is what tells "the certificate's key" from "some key on the card".
pub fn check_card_key(signer: &dyn CardSigner, cert: &Certificate) -> Result<(), SignerError> {
    let Some(scheme) = SignatureScheme::for_key(cert.public_key().kind) else {
        return Err(SignerError::UnsupportedKey(
            " (the certificate's key is neither RSA nor ECDSA P-256)",
        ));
    };
    if signer.scheme() != scheme {
        return Err(SignerError::KeyDoesNotMatchCertificate);
    }
    let sig = signer.sign(CARD_KEY_CHALLENGE)?;
    crate::signature::verify_signature(
        cert.public_key(),
        &scheme.algorithm(),
        CARD_KEY_CHALLENGE,
        &sig,
    )
    .map_err(|_| SignerError::KeyDoesNotMatchCertificate)
}

enum Pkcs8Key {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
}

/// A card key read from a PKCS#8 file.
pub struct Pkcs8Signer {
    key: Pkcs8Key,
    rng: SystemRandom,
}

impl fmt::Debug for Pkcs8Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs8Signer")
            .field("scheme", &self.scheme())
            .finish_non_exhaustive()
    }
}

impl Pkcs8Signer {
    /// Loads a PKCS#8 DER key and checks it is the key `cert` certifies.
    pub fn from_pkcs8_der(der: &[u8], cert: &Certificate) -> Result<Self, SignerError> {
        let rng = SystemRandom::new();
        let (key, public) = if let Ok(kp) = RsaKeyPair::from_pkcs8(der) {
            let public = kp.public_key().as_ref().to_vec();
            (Pkcs8Key::Rsa(kp), public)
        } else if let Ok(kp) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der, &rng)
        {
            let public = kp.public_key().as_ref().to_vec();
            (Pkcs8Key::Ecdsa(kp), public)
        } else {
            return Err(SignerError::UnsupportedKey(""));
        };
        if public != cert.public_key().key {
            return Err(SignerError::KeyDoesNotMatchCertificate);
        }
        Ok(Pkcs8Signer { key, rng })
    }

    /// Loads a PKCS#8 key from PEM (`PRIVATE KEY`) or DER.
    pub fn from_pem_or_der(input: &[u8], cert: &Certificate) -> Result<Self, SignerError> {
        let der = pkcs8_der(input)?;
        Self::from_pkcs8_der(&der, cert)
    }
}

/// Extracts PKCS#8 DER from PEM or passes DER through; the copy is wiped on drop.
fn pkcs8_der(input: &[u8]) -> Result<Zeroizing<Vec<u8>>, SignerError> {
    if !input.trim_ascii_start().starts_with(b"-----BEGIN") {
        return Ok(Zeroizing::new(input.to_vec()));
    }
    for pem in x509_parser::pem::Pem::iter_from_buffer(input) {
        let pem = pem.map_err(|_| SignerError::UnsupportedKey(" (bad PEM)"))?;
        let contents = Zeroizing::new(pem.contents);
        match pem.label.as_str() {
            "PRIVATE KEY" => return Ok(contents),
            "ENCRYPTED PRIVATE KEY" => {
                return Err(SignerError::UnsupportedKey(
                    " (it is encrypted: decrypt it with `openssl pkcs8 -in KEY -out PLAIN`)",
                ))
            }
            "RSA PRIVATE KEY" | "EC PRIVATE KEY" => {
                return Err(SignerError::UnsupportedKey(
                    " (it is in the old PKCS#1/SEC1 form: convert it with `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY8`)",
                ))
            }
            _ => {}
        }
    }
    Err(SignerError::UnsupportedKey(" (no PRIVATE KEY block)"))
}

impl CardSigner for Pkcs8Signer {
    fn scheme(&self) -> SignatureScheme {
        match self.key {
            Pkcs8Key::Rsa(_) => SignatureScheme::RsaPkcs1Sha256,
            Pkcs8Key::Ecdsa(_) => SignatureScheme::EcdsaP256Sha256,
        }
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignerError> {
        match &self.key {
            Pkcs8Key::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public().modulus_len()];
                kp.sign(&ring::signature::RSA_PKCS1_SHA256, &self.rng, msg, &mut sig)
                    .map_err(|_| SignerError::SigningFailed)?;
                Ok(sig)
            }
            Pkcs8Key::Ecdsa(kp) => kp
                .sign(&self.rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignerError::SigningFailed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openssl/");

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}{name}")).expect("fixture")
    }

    fn cert(name: &str) -> Certificate {
        crate::parse_certificates(&fixture(name))
            .expect("certificate")
            .remove(0)
    }

    fn pkcs8(key: &str, cert_name: &str) -> Pkcs8Signer {
        Pkcs8Signer::from_pem_or_der(&fixture(key), &cert(cert_name)).expect("key")
    }

    /// Signs with another signer, or fails, or claims another scheme.
    struct Fake {
        scheme: SignatureScheme,
        inner: Option<Pkcs8Signer>,
    }

    impl CardSigner for Fake {
        fn scheme(&self) -> SignatureScheme {
            self.scheme
        }
        fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignerError> {
            match &self.inner {
                Some(s) => s.sign(msg),
                None => Err(SignerError::SigningFailed),
            }
        }
    }

    #[test]
    fn the_certificates_own_key_passes_the_card_key_check() {
        for (key, c) in [
            ("good-rsa.key.pem", "good-rsa.pem"),
            ("good-ecdsa.key.pem", "good-ecdsa.pem"),
        ] {
            check_card_key(&pkcs8(key, c), &cert(c)).expect("own key");
        }
    }

    #[test]
    fn another_key_fails_the_card_key_check() {
        let other = pkcs8("other-good-rsa.key.pem", "other-good-rsa.pem");
        assert_eq!(
            check_card_key(&other, &cert("good-rsa.pem")),
            Err(SignerError::KeyDoesNotMatchCertificate)
        );
    }

    #[test]
    fn a_key_of_the_wrong_kind_fails_the_card_key_check() {
        let ec = pkcs8("good-ecdsa.key.pem", "good-ecdsa.pem");
        assert_eq!(
            check_card_key(&ec, &cert("good-rsa.pem")),
            Err(SignerError::KeyDoesNotMatchCertificate)
        );
        // A signer claiming the right scheme but signing with an EC key.
        let liar = Fake {
            scheme: SignatureScheme::RsaPkcs1Sha256,
            inner: Some(ec),
        };
        assert_eq!(
            check_card_key(&liar, &cert("good-rsa.pem")),
            Err(SignerError::KeyDoesNotMatchCertificate)
        );
    }

    #[test]
    fn a_key_that_cannot_sign_fails_the_card_key_check() {
        let mute = Fake {
            scheme: SignatureScheme::RsaPkcs1Sha256,
            inner: None,
        };
        assert_eq!(
            check_card_key(&mute, &cert("good-rsa.pem")),
            Err(SignerError::SigningFailed)
        );
    }

    #[test]
    fn scheme_codes_round_trip() {
        for s in [
            SignatureScheme::RsaPkcs1Sha256,
            SignatureScheme::EcdsaP256Sha256,
        ] {
            assert_eq!(SignatureScheme::from_code(s.code()), Some(s));
        }
        assert_eq!(SignatureScheme::from_code(0), None);
        assert_eq!(SignatureScheme::from_code(3), None);
    }

    #[test]
    fn old_and_encrypted_pem_forms_are_refused_with_a_hint() {
        let pkcs1 = b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        let err = pkcs8_der(pkcs1).expect_err("pkcs1");
        assert!(err.to_string().contains("openssl pkcs8 -topk8"));
        let enc =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(pkcs8_der(enc)
            .expect_err("enc")
            .to_string()
            .contains("encrypted"));
        let cert = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(pkcs8_der(cert).is_err());
    }
}
