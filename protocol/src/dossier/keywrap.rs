//! The node's store key, and what it protects at rest: each dossier's key
//! (wrapped) and the small records the node keeps encrypted (inbox and
//! outbox entries).
//!
//! Flow:
//!
//! 1. At start-up the node gets its [`StoreKey`]: from a passphrase with
//!    [`StoreKey::derive_from_passphrase`] (PBKDF2-HMAC-SHA256,
//!    [`PBKDF2_ITERATIONS`] by default, a random salt kept next to the
//!    store), or from 32 bytes held elsewhere ([`StoreKey::from_bytes`]).
//! 2. Each dossier key is stored only as [`wrap`]ped under the store key,
//!    bound to its dossier id; [`unwrap`] gives it back to open the
//!    dossier. Erasing the wrapped key erases the dossier (crypto-shredding).
//! 3. Inbox and outbox entries are [`seal_record`]ed with the record's key
//!    in the store as associated data, so a record moved to another key
//!    does not open.
//!
//! Both constructions are AES-256-GCM with a random 96-bit nonce (the store
//! key lives long; random nonces stay safe for well over a million
//! records):
//!
//! ```text
//! wrapped = version:u8 (=1) | nonce:[12] | ciphertext:[32] | tag:[16]
//!           aad = "confrere/dossier-key-wrap/v1\0" | dossier_id:[16]
//! record  = version:u8 (=1) | nonce:[12] | ciphertext | tag:[16]
//!           aad = "confrere/store-record/v1\0" | caller's aad
//! ```

use std::fmt;
use std::num::NonZeroU32;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::pbkdf2;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::manifest::DossierId;
use super::seal::DossierKey;

/// Domain-separation string of a wrapped dossier key's associated data.
pub const KEY_WRAP_DOMAIN: &[u8] = b"confrere/dossier-key-wrap/v1\0";
/// Domain-separation string of a sealed record's associated data.
pub const RECORD_DOMAIN: &[u8] = b"confrere/store-record/v1\0";
/// The format version of wrapped keys and sealed records.
pub const WRAP_VERSION: u8 = 1;
/// Default PBKDF2-HMAC-SHA256 iterations (OWASP's 2023 figure).
pub const PBKDF2_ITERATIONS: u32 = 600_000;
/// Shortest salt accepted.
pub const MIN_SALT_LEN: usize = 16;
/// AES-GCM tag length.
const TAG_LEN: usize = 16;
/// Bytes a sealed record adds to its plaintext.
pub const RECORD_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;
/// Bytes of a wrapped dossier key: 61.
pub const WRAPPED_KEY_LEN: usize = RECORD_OVERHEAD + 32;

/// Why a key could not be derived, wrapped or unwrapped, or a record
/// sealed or opened. No variant carries key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WrapError {
    /// The system random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// The passphrase is empty.
    #[error("the store passphrase is empty")]
    EmptyPassphrase,
    /// The salt is shorter than [`MIN_SALT_LEN`].
    #[error("the store key salt must be at least {MIN_SALT_LEN} bytes")]
    SaltTooShort,
    /// Zero iterations.
    #[error("PBKDF2 needs at least one iteration")]
    NoIterations,
    /// The bytes are too short or, for a wrapped key, not 61 bytes.
    #[error("the wrapped value has the wrong length")]
    Length,
    /// A format this implementation does not read.
    #[error("unsupported wrapped value version {0}")]
    Version(u8),
    /// The tag does not verify: another store key, another dossier or
    /// record key, or damaged bytes.
    #[error("the wrapped value does not authenticate (wrong store key, misplaced, or damaged)")]
    Authentication,
}

/// The node's 32-byte store key. Wiped on drop; `Debug` prints nothing.
#[derive(Clone)]
pub struct StoreKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

impl StoreKey {
    /// A store key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        StoreKey(Zeroizing::new(bytes))
    }

    /// A fresh random store key.
    pub fn generate() -> Result<Self, WrapError> {
        let mut key = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(key.as_mut())
            .map_err(|_| WrapError::Random)?;
        Ok(StoreKey(key))
    }

    /// Derives the store key from a passphrase with PBKDF2-HMAC-SHA256
    /// (use [`PBKDF2_ITERATIONS`] unless testing) and a salt of at least
    /// [`MIN_SALT_LEN`] random bytes kept with the store.
    pub fn derive_from_passphrase(
        passphrase: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<Self, WrapError> {
        if passphrase.is_empty() {
            return Err(WrapError::EmptyPassphrase);
        }
        if salt.len() < MIN_SALT_LEN {
            return Err(WrapError::SaltTooShort);
        }
        let iterations = NonZeroU32::new(iterations).ok_or(WrapError::NoIterations)?;
        let mut key = Zeroizing::new([0u8; 32]);
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            salt,
            passphrase,
            key.as_mut(),
        );
        Ok(StoreKey(key))
    }

    /// The key bytes (to keep in an OS keyring, say).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn aead(&self) -> LessSafeKey {
        // AES-256-GCM accepts every 32-byte key.
        match UnboundKey::new(&AES_256_GCM, self.0.as_ref()) {
            Ok(k) => LessSafeKey::new(k),
            Err(_) => unreachable!("AES-256-GCM accepts every 32-byte key"),
        }
    }
}

/// A fresh random salt for [`StoreKey::derive_from_passphrase`].
pub fn random_salt() -> Result<[u8; MIN_SALT_LEN], WrapError> {
    let mut salt = [0u8; MIN_SALT_LEN];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| WrapError::Random)?;
    Ok(salt)
}

fn seal(store_key: &StoreKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, WrapError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| WrapError::Random)?;
    let mut out = Vec::with_capacity(RECORD_OVERHEAD + plaintext.len());
    out.push(WRAP_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = store_key
        .aead()
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut out[1 + NONCE_LEN..],
        )
        // Only inputs past 64 GiB are refused.
        .map_err(|_| WrapError::Length)?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

fn open(store_key: &StoreKey, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, WrapError> {
    if sealed.len() < RECORD_OVERHEAD {
        return Err(WrapError::Length);
    }
    if sealed[0] != WRAP_VERSION {
        return Err(WrapError::Version(sealed[0]));
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&sealed[1..1 + NONCE_LEN]);
    let mut buf = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
    let len = store_key
        .aead()
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut buf,
        )
        .map_err(|_| WrapError::Authentication)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

fn key_wrap_aad(id: &DossierId) -> [u8; KEY_WRAP_DOMAIN.len() + 16] {
    let mut aad = [0u8; KEY_WRAP_DOMAIN.len() + 16];
    aad[..KEY_WRAP_DOMAIN.len()].copy_from_slice(KEY_WRAP_DOMAIN);
    aad[KEY_WRAP_DOMAIN.len()..].copy_from_slice(id.as_bytes());
    aad
}

/// Wraps a dossier key under the store key, bound to its dossier id.
pub fn wrap(store_key: &StoreKey, id: &DossierId, key: &DossierKey) -> Result<Vec<u8>, WrapError> {
    seal(store_key, &key_wrap_aad(id), key.as_bytes())
}

/// Unwraps the key of dossier `id`.
pub fn unwrap(
    store_key: &StoreKey,
    id: &DossierId,
    wrapped: &[u8],
) -> Result<DossierKey, WrapError> {
    if wrapped.len() != WRAPPED_KEY_LEN {
        return Err(WrapError::Length);
    }
    let key = open(store_key, &key_wrap_aad(id), wrapped)?;
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&key);
    let out = DossierKey::from_bytes(bytes);
    zeroize::Zeroize::zeroize(&mut bytes);
    Ok(out)
}

/// Seals a record the node stores (an inbox or outbox entry); `aad` names
/// where it is stored (its key in the store), so it opens only there.
pub fn seal_record(
    store_key: &StoreKey,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, WrapError> {
    seal(store_key, &[RECORD_DOMAIN, aad].concat(), plaintext)
}

/// Opens a record sealed by [`seal_record`] with the same `aad`. The
/// plaintext is wiped when dropped.
pub fn open_record(
    store_key: &StoreKey,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, WrapError> {
    open(store_key, &[RECORD_DOMAIN, aad].concat(), sealed)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    const ID: DossierId = DossierId([3; 16]);

    fn store() -> StoreKey {
        StoreKey::from_bytes([5; 32])
    }

    #[test]
    fn wrap_round_trip_and_layout() {
        let key = DossierKey::generate().unwrap();
        let wrapped = wrap(&store(), &ID, &key).unwrap();
        assert_eq!(wrapped.len(), WRAPPED_KEY_LEN);
        assert_eq!(wrapped[0], WRAP_VERSION);
        assert_eq!(unwrap(&store(), &ID, &wrapped).unwrap(), key);
        // Fresh nonce each time.
        assert_ne!(wrap(&store(), &ID, &key).unwrap(), wrapped);
        // Independently: ring with the documented AAD.
        let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[5; 32]).unwrap());
        let mut body = wrapped[13..].to_vec();
        let nonce = Nonce::try_assume_unique_for_key(&wrapped[1..13]).unwrap();
        let aad = [KEY_WRAP_DOMAIN, &[3; 16]].concat();
        let plain = k
            .open_in_place(nonce, Aad::from(&aad[..]), &mut body)
            .unwrap();
        assert_eq!(plain, key.as_bytes());
    }

    #[test]
    fn each_unwrap_rejection_has_its_variant() {
        let key = DossierKey::from_bytes([9; 32]);
        let wrapped = wrap(&store(), &ID, &key).unwrap();
        assert_eq!(
            unwrap(&StoreKey::from_bytes([6; 32]), &ID, &wrapped),
            Err(WrapError::Authentication)
        );
        assert_eq!(
            unwrap(&store(), &DossierId([4; 16]), &wrapped),
            Err(WrapError::Authentication)
        );
        let mut flipped = wrapped.clone();
        flipped[30] ^= 1;
        assert_eq!(
            unwrap(&store(), &ID, &flipped),
            Err(WrapError::Authentication)
        );
        assert_eq!(
            unwrap(&store(), &ID, &wrapped[..60]),
            Err(WrapError::Length)
        );
        assert_eq!(unwrap(&store(), &ID, &[]), Err(WrapError::Length));
        let mut v2 = wrapped;
        v2[0] = 2;
        assert_eq!(unwrap(&store(), &ID, &v2), Err(WrapError::Version(2)));
        // A record is not a wrapped key, even with the right length.
        let record = seal_record(&store(), ID.as_bytes(), &[9; 32]).unwrap();
        assert_eq!(
            unwrap(&store(), &ID, &record),
            Err(WrapError::Authentication)
        );
    }

    #[test]
    fn records() {
        let sealed = seal_record(&store(), b"inbox/42", b"entry").unwrap();
        assert_eq!(sealed.len(), RECORD_OVERHEAD + 5);
        assert_eq!(
            &open_record(&store(), b"inbox/42", &sealed).unwrap()[..],
            b"entry"
        );
        assert_eq!(
            open_record(&store(), b"inbox/43", &sealed),
            Err(WrapError::Authentication)
        );
        assert_eq!(
            open_record(&store(), b"inbox/42", &sealed[..RECORD_OVERHEAD - 1]),
            Err(WrapError::Length)
        );
        let empty = seal_record(&store(), b"", b"").unwrap();
        assert_eq!(open_record(&store(), b"", &empty).unwrap().len(), 0);
        // A wrapped key does not open as a record.
        let wrapped = wrap(&store(), &ID, &DossierKey::from_bytes([1; 32])).unwrap();
        assert_eq!(
            open_record(&store(), ID.as_bytes(), &wrapped),
            Err(WrapError::Authentication)
        );
    }

    #[test]
    fn passphrases() {
        let salt = [7u8; 16];
        let a = StoreKey::derive_from_passphrase(b"correct horse", &salt, 2).unwrap();
        let b = StoreKey::derive_from_passphrase(b"correct horse", &salt, 2).unwrap();
        assert_eq!(a.as_bytes(), b.as_bytes());
        let other = StoreKey::derive_from_passphrase(b"correct horse", &[8; 16], 2).unwrap();
        assert_ne!(a.as_bytes(), other.as_bytes());
        // Computed independently (Python's hashlib.pbkdf2_hmac).
        let expected = [
            0xa0, 0xeb, 0xa8, 0x1d, 0xae, 0xd1, 0xe2, 0xfa, 0xfd, 0xf4, 0x94, 0xc9, 0x01, 0x74,
            0xd3, 0x72, 0xc1, 0xa2, 0xed, 0x54, 0x1a, 0x08, 0xa9, 0x36, 0x47, 0x20, 0x4c, 0x21,
            0x9f, 0xc4, 0x0d, 0x9b,
        ];
        assert_eq!(a.as_bytes(), &expected);
        assert_eq!(
            StoreKey::derive_from_passphrase(b"", &salt, 2).unwrap_err(),
            WrapError::EmptyPassphrase
        );
        assert_eq!(
            StoreKey::derive_from_passphrase(b"x", &salt[..15], 2).unwrap_err(),
            WrapError::SaltTooShort
        );
        assert_eq!(
            StoreKey::derive_from_passphrase(b"x", &salt, 0).unwrap_err(),
            WrapError::NoIterations
        );
        assert_eq!(format!("{a:?}"), "StoreKey(..)");
        assert_ne!(random_salt().unwrap(), random_salt().unwrap());
        assert_ne!(
            StoreKey::generate().unwrap().as_bytes(),
            StoreKey::generate().unwrap().as_bytes()
        );
    }
}
