//! Signature checks with `ring`, for certificates, CRLs and credentials.
//!
//! `ring` verifies with the contents of the subjectPublicKey BIT STRING: the
//! PKCS#1 RSAPublicKey for RSA, the uncompressed point for ECDSA. ECDSA
//! signatures in X.509 are DER-encoded, hence the `_ASN1` algorithms.

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

use crate::certificate::{KeyKind, PublicKey, SignatureAlgorithm};

/// Smallest RSA modulus accepted anywhere.
pub const MIN_RSA_BITS: usize = 2048;

/// Largest RSA modulus accepted (ring's limit).
pub const MAX_RSA_BITS: usize = 8192;

/// Why a signature was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureCheck {
    /// SHA-1 or another algorithm no longer accepted.
    Weak,
    /// An algorithm, or an algorithm and key pairing, that is not supported.
    Unsupported(String),
    /// RSA key outside 2048..=8192 bits.
    KeySize(usize),
    /// The signature does not verify.
    Invalid,
}

/// Verifies `sig` over `msg` with `key`, as named by `alg`.
pub fn verify_signature(
    key: &PublicKey,
    alg: &SignatureAlgorithm,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), SignatureCheck> {
    if let KeyKind::Rsa { bits } = key.kind {
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(SignatureCheck::KeySize(bits));
        }
    }
    let algorithm: &'static dyn VerificationAlgorithm = match (alg, key.kind) {
        (SignatureAlgorithm::RsaSha1 | SignatureAlgorithm::EcdsaSha1, _) => {
            return Err(SignatureCheck::Weak)
        }
        (SignatureAlgorithm::RsaSha256, KeyKind::Rsa { .. }) => {
            &signature::RSA_PKCS1_2048_8192_SHA256
        }
        (SignatureAlgorithm::RsaSha384, KeyKind::Rsa { .. }) => {
            &signature::RSA_PKCS1_2048_8192_SHA384
        }
        (SignatureAlgorithm::RsaSha512, KeyKind::Rsa { .. }) => {
            &signature::RSA_PKCS1_2048_8192_SHA512
        }
        (SignatureAlgorithm::EcdsaSha256, KeyKind::EcP256) => &signature::ECDSA_P256_SHA256_ASN1,
        (SignatureAlgorithm::EcdsaSha384, KeyKind::EcP256) => &signature::ECDSA_P256_SHA384_ASN1,
        (SignatureAlgorithm::EcdsaSha256, KeyKind::EcP384) => &signature::ECDSA_P384_SHA256_ASN1,
        (SignatureAlgorithm::EcdsaSha384, KeyKind::EcP384) => &signature::ECDSA_P384_SHA384_ASN1,
        (alg, kind) => {
            return Err(SignatureCheck::Unsupported(format!(
                "{} with a {kind:?} key",
                alg.name()
            )))
        }
    };
    UnparsedPublicKey::new(algorithm, &key.key)
        .verify(msg, sig)
        .map_err(|_| SignatureCheck::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

    fn p256() -> (EcdsaKeyPair, PublicKey) {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("keygen");
        let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .expect("load");
        let pk = PublicKey {
            kind: KeyKind::EcP256,
            key: kp.public_key().as_ref().to_vec(),
        };
        (kp, pk)
    }

    #[test]
    fn ecdsa_good_and_bad() {
        let (kp, pk) = p256();
        let sig = kp.sign(&SystemRandom::new(), b"msg").expect("sign");
        let alg = SignatureAlgorithm::EcdsaSha256;
        assert_eq!(verify_signature(&pk, &alg, b"msg", sig.as_ref()), Ok(()));
        assert_eq!(
            verify_signature(&pk, &alg, b"msh", sig.as_ref()),
            Err(SignatureCheck::Invalid)
        );
        assert_eq!(
            verify_signature(&pk, &SignatureAlgorithm::EcdsaSha1, b"msg", sig.as_ref()),
            Err(SignatureCheck::Weak)
        );
        assert!(matches!(
            verify_signature(&pk, &SignatureAlgorithm::RsaSha256, b"msg", sig.as_ref()),
            Err(SignatureCheck::Unsupported(_))
        ));
    }

    #[test]
    fn small_rsa_is_refused_before_verifying() {
        let pk = PublicKey {
            kind: KeyKind::Rsa { bits: 1024 },
            key: vec![0; 10],
        };
        assert_eq!(
            verify_signature(&pk, &SignatureAlgorithm::RsaSha256, b"m", b"s"),
            Err(SignatureCheck::KeySize(1024))
        );
    }
}
