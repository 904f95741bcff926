//! Record encryption: AES-256-GCM under the store's record key.
//!
//! A sealed record is `version (1 byte) || nonce (12 bytes, random) ||
//! ciphertext || tag (16 bytes)`. The associated data binds the record to
//! its place: `confrere/store-record/v1\0 || tree name || \0 || record key`,
//! so a record copied to another key or tree no longer opens. The tree
//! names are fixed identifiers without NUL bytes, which keeps that encoding
//! unambiguous.
//!
//! Random 96-bit nonces are safe here for far more records than a practice
//! writes under one key (the bound for AES-GCM is about 2^32 messages).

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

const DOMAIN: &[u8] = b"confrere/store-record/v1\0";
const FORMAT_V1: u8 = 1;
const TAG_LEN: usize = 16;

/// Why a record could not be sealed or opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CryptError {
    /// The system random generator failed.
    Random,
    /// The bytes are not a sealed record of a known format.
    Malformed,
    /// The record fails authentication: wrong key, moved, or tampered.
    Authentication,
    /// The cryptographic library refused the key.
    Key,
}

/// Seals and opens records under one key.
pub(crate) struct RecordCipher {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordCipher(..)")
    }
}

fn aad(tree: &str, key: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(DOMAIN.len() + tree.len() + 1 + key.len());
    aad_into(&mut aad, tree, key);
    aad
}

fn aad_into(aad: &mut Vec<u8>, tree: &str, key: &[u8]) {
    aad.clear();
    aad.extend_from_slice(DOMAIN);
    aad.extend_from_slice(tree.as_bytes());
    aad.push(0);
    aad.extend_from_slice(key);
}

/// Opens many records one after the other into buffers of its own,
/// reused from one record to the next (no allocation per record). The
/// plaintext is wiped when the opener is dropped.
#[derive(Default)]
pub(crate) struct RecordOpener {
    aad: Vec<u8>,
    plain: Zeroizing<Vec<u8>>,
}

impl RecordOpener {
    /// [`RecordCipher::open`] into this opener's buffer; the plaintext
    /// stays there until the next call.
    pub(crate) fn open(
        &mut self,
        cipher: &RecordCipher,
        tree: &str,
        key: &[u8],
        sealed: &[u8],
    ) -> Result<&[u8], CryptError> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != FORMAT_V1 {
            return Err(CryptError::Malformed);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[1..1 + NONCE_LEN]);
        aad_into(&mut self.aad, tree, key);
        self.plain.clear();
        self.plain.extend_from_slice(&sealed[1 + NONCE_LEN..]);
        let opened = cipher
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.aad.as_slice()),
                &mut self.plain,
            )
            .map_err(|_| CryptError::Authentication)?;
        Ok(opened)
    }
}

impl RecordCipher {
    /// A cipher under a 32-byte key.
    pub(crate) fn new(key: &[u8; 32]) -> Result<RecordCipher, CryptError> {
        // AES-256 takes any 32-byte key: the error is ring refusing the
        // algorithm, not a property of the key.
        let unbound = UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptError::Key)?;
        Ok(RecordCipher {
            key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
        })
    }

    /// Seals `plaintext` as the record `key` of `tree`.
    pub(crate) fn seal(
        &self,
        tree: &str,
        key: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| CryptError::Random)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(tree, key)),
                &mut out[1 + NONCE_LEN..],
            )
            .map_err(|_| CryptError::Malformed)?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens the sealed record `key` of `tree`. The plaintext is wiped
    /// when dropped.
    pub(crate) fn open(
        &self,
        tree: &str,
        key: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptError> {
        let mut opener = RecordOpener::default();
        let len = opener.open(self, tree, key, sealed)?.len();
        let mut plain = std::mem::replace(&mut opener.plain, Zeroizing::new(Vec::new()));
        plain.truncate(len);
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(byte: u8) -> RecordCipher {
        RecordCipher::new(&[byte; 32]).expect("cipher")
    }

    #[test]
    fn round_trip_and_layout() {
        let c = cipher(7);
        let sealed = c.seal("inbox", b"k1", b"hello record").expect("seal");
        assert_eq!(sealed.len(), 1 + NONCE_LEN + 12 + TAG_LEN);
        assert_eq!(sealed[0], FORMAT_V1);
        let opened = c.open("inbox", b"k1", &sealed).expect("open");
        assert_eq!(opened.as_slice(), b"hello record");
    }

    #[test]
    fn nonces_are_fresh() {
        let c = cipher(7);
        let a = c.seal("inbox", b"k", b"same").expect("seal");
        let b = c.seal("inbox", b"k", b"same").expect("seal");
        assert_ne!(a, b);
    }

    #[test]
    fn records_are_bound_to_tree_key_and_cipher_key() {
        let c = cipher(7);
        let sealed = c.seal("inbox", b"k1", b"x").expect("seal");
        assert_eq!(
            c.open("outbox", b"k1", &sealed),
            Err(CryptError::Authentication)
        );
        assert_eq!(
            c.open("inbox", b"k2", &sealed),
            Err(CryptError::Authentication)
        );
        // Moving a byte between tree name and key changes the AAD.
        let s2 = c.seal("ab", b"c", b"x").expect("seal");
        assert_eq!(c.open("a", b"bc", &s2), Err(CryptError::Authentication));
        assert_eq!(
            cipher(8).open("inbox", b"k1", &sealed),
            Err(CryptError::Authentication)
        );
        let mut tampered = sealed;
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            c.open("inbox", b"k1", &tampered),
            Err(CryptError::Authentication)
        );
    }

    #[test]
    fn an_opener_opens_as_the_cipher_does() {
        let c = cipher(7);
        let mut opener = RecordOpener::default();
        let long = c.seal("inbox", b"k1", &[5u8; 300]).expect("seal");
        let short = c.seal("inbox", b"k2", b"hi").expect("seal");
        assert_eq!(
            opener.open(&c, "inbox", b"k1", &long).expect("open"),
            &[5u8; 300]
        );
        assert_eq!(
            opener.open(&c, "inbox", b"k2", &short).expect("open"),
            b"hi"
        );
        assert_eq!(
            opener.open(&c, "inbox", b"k1", &short).map(<[u8]>::to_vec),
            Err(CryptError::Authentication)
        );
        assert_eq!(
            opener.open(&c, "outbox", b"k1", &long).map(<[u8]>::to_vec),
            Err(CryptError::Authentication)
        );
        assert_eq!(
            opener.open(&c, "t", b"k", b"").map(<[u8]>::to_vec),
            Err(CryptError::Malformed)
        );
        assert_eq!(
            opener.open(&c, "inbox", b"k1", &long).expect("open").len(),
            300
        );
    }

    #[test]
    fn malformed_input_is_refused() {
        let c = cipher(7);
        assert_eq!(c.open("t", b"k", b""), Err(CryptError::Malformed));
        assert_eq!(c.open("t", b"k", &[1u8; 28]), Err(CryptError::Malformed));
        let mut sealed = c.seal("t", b"k", b"x").expect("seal");
        sealed[0] = 2;
        assert_eq!(c.open("t", b"k", &sealed), Err(CryptError::Malformed));
    }
}
