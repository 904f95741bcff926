//! The node's Noise static key pair.
//!
//! The node keeps one X25519 static key for all its sessions; its node
//! credential binds the public half to the practitioner's certificate.

use std::fmt;

use zeroize::Zeroizing;

/// The Noise protocol every Confrère session runs.
pub const NOISE_PATTERN: &str = "Noise_XX_25519_AESGCM_SHA256";

/// Why a key could not be made or read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key material has the wrong length.
    #[error("a Noise static key is 32 bytes")]
    BadLength,
    /// The random generator failed.
    #[error("the system random generator failed")]
    Random,
}

/// An X25519 static key pair. `Debug` shows the public half only; the secret
/// is wiped from memory on drop.
#[derive(Clone)]
pub struct NoiseKeypair {
    secret: Zeroizing<[u8; 32]>,
    public: [u8; 32],
}

impl fmt::Debug for NoiseKeypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoiseKeypair")
            .field("public", &short_hex(&self.public))
            .finish_non_exhaustive()
    }
}

fn short_hex(b: &[u8]) -> String {
    b.iter().take(4).map(|x| format!("{x:02x}")).collect()
}

impl NoiseKeypair {
    /// A fresh key pair from the system random generator.
    pub fn generate() -> Result<Self, KeyError> {
        let params = NOISE_PATTERN.parse().map_err(|_| KeyError::Random)?;
        let kp = snow::Builder::new(params)
            .generate_keypair()
            .map_err(|_| KeyError::Random)?;
        Self::from_secret_and_public(&kp.private, &kp.public)
    }

    /// Rebuilds a key pair from its secret; the public half is derived.
    pub fn from_secret(secret: &[u8]) -> Result<Self, KeyError> {
        let secret: [u8; 32] = secret.try_into().map_err(|_| KeyError::BadLength)?;
        let public = x25519_public(&secret);
        Ok(NoiseKeypair {
            secret: Zeroizing::new(secret),
            public,
        })
    }

    fn from_secret_and_public(secret: &[u8], public: &[u8]) -> Result<Self, KeyError> {
        let kp = Self::from_secret(secret)?;
        if kp.public.as_slice() != public {
            return Err(KeyError::BadLength);
        }
        Ok(kp)
    }

    /// The secret half (for the session, and the 0600 key file).
    pub fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// The public half.
    pub fn public(&self) -> &[u8; 32] {
        &self.public
    }
}

/// X25519 public key of a secret scalar, computed by the same Diffie-Hellman
/// implementation the Noise sessions use (snow's default resolver).
fn x25519_public(secret: &[u8; 32]) -> [u8; 32] {
    use snow::resolvers::{CryptoResolver, DefaultResolver};
    let mut out = [0u8; 32];
    if let Some(mut dh) = DefaultResolver.resolve_dh(&snow::params::DHChoice::Curve25519) {
        dh.set(secret);
        out.copy_from_slice(dh.pubkey());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_is_derived_from_secret() {
        let kp = NoiseKeypair::generate().expect("keygen");
        let again = NoiseKeypair::from_secret(kp.secret()).expect("reload");
        assert_eq!(kp.public(), again.public());
        assert_ne!(kp.public(), &[0u8; 32]);
        assert_eq!(
            NoiseKeypair::from_secret(&[1, 2, 3]).err(),
            Some(KeyError::BadLength)
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let kp = NoiseKeypair::from_secret(&[0x42; 32]).expect("key");
        let dbg = format!("{kp:?}");
        assert!(!dbg.contains("4242"), "{dbg}");
        assert!(!dbg.contains("66, 66"), "{dbg}");
    }
}
