//! The store key: where it comes from, and the keys derived from it.
//!
//! The store key is 32 bytes, either random in `HOME/keys/store.key` (made
//! 0600 on first open) or derived from a passphrase with
//! PBKDF2-HMAC-SHA256 ([`PBKDF2_ITERATIONS`] rounds, random 16-byte salt in
//! `HOME/store.salt`). Two keys are derived from it with HKDF-SHA256 under
//! distinct labels: the record key, which encrypts the store's records, and
//! the [`KeyWrappingSecret`], with which the caller wraps per-dossier keys.
//! Neither is ever written to disk.

use std::fmt;
use std::fs;
use std::io;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use ring::rand::{SecureRandom, SystemRandom};
use ring::{hkdf, pbkdf2};
use zeroize::{Zeroize, Zeroizing};

use super::error::{KeyFileProblem, StoreError};
use crate::files;

/// PBKDF2-HMAC-SHA256 rounds for a passphrase (OWASP's 2023 figure).
pub const PBKDF2_ITERATIONS: u32 = 600_000;
/// Length of the passphrase salt in `HOME/store.salt`.
pub const SALT_LEN: usize = 16;
/// Length of the store key and of the keys derived from it.
pub const KEY_LEN: usize = 32;

const ROUNDS: NonZeroU32 = match NonZeroU32::new(PBKDF2_ITERATIONS) {
    Some(n) => n,
    None => panic!("PBKDF2_ITERATIONS must not be zero"),
};
const HKDF_SALT: &[u8] = b"confrere/store-key/v1";
const RECORD_KEY_LABEL: &[u8] = b"confrere/store-key/v1/records";
const WRAPPING_KEY_LABEL: &[u8] = b"confrere/store-key/v1/key-wrapping";

/// Where the store key comes from. The caller reads `CONFRERE_PASSPHRASE`
/// and chooses; the store does not read the environment.
///
/// The passphrase is wiped from memory when this value is dropped, and
/// `Debug` never shows it.
pub enum StoreKeySource {
    /// Derive the key from this passphrase (salt in `HOME/store.salt`).
    Passphrase(String),
    /// Use the random key in `HOME/keys/store.key`, made on first open.
    KeyFile,
}

impl fmt::Debug for StoreKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreKeySource::Passphrase(_) => f.write_str("Passphrase(..)"),
            StoreKeySource::KeyFile => f.write_str("KeyFile"),
        }
    }
}

impl Drop for StoreKeySource {
    fn drop(&mut self) {
        if let StoreKeySource::Passphrase(p) = self {
            p.zeroize();
        }
    }
}

/// The secret with which the caller wraps per-dossier keys before handing
/// them to [`Store::put_wrapped_key`](super::Store::put_wrapped_key).
///
/// It is derived from the store key under its own label, so it never
/// equals the key that encrypts records. Wiped on drop; `Debug` never shows
/// it.
#[derive(Clone)]
pub struct KeyWrappingSecret(Zeroizing<[u8; KEY_LEN]>);

impl KeyWrappingSecret {
    /// The 32 secret bytes (to build the protocol's key-wrapping key from).
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for KeyWrappingSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyWrappingSecret(..)")
    }
}

/// The keys derived from the store key.
pub(crate) struct DerivedKeys {
    /// Encrypts the records.
    pub(crate) record: Zeroizing<[u8; KEY_LEN]>,
    /// Given to the caller for wrapping per-dossier keys.
    pub(crate) wrapping: KeyWrappingSecret,
}

impl fmt::Debug for DerivedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DerivedKeys(..)")
    }
}

/// The path of the key file in a home.
pub(crate) fn key_file_path(home: &Path) -> PathBuf {
    home.join("keys").join("store.key")
}

/// The path of the passphrase salt in a home.
pub(crate) fn salt_path(home: &Path) -> PathBuf {
    home.join("store.salt")
}

/// Reads (or, for a new store, makes) the store key and derives the keys.
///
/// `initialised` says whether the store already exists: then a missing key
/// file or salt is an error, never replaced by a fresh one that could not
/// open it.
pub(crate) fn derive(
    home: &Path,
    source: &StoreKeySource,
    initialised: bool,
) -> Result<DerivedKeys, StoreError> {
    let master = match source {
        StoreKeySource::KeyFile => key_from_file(home, initialised)?,
        StoreKeySource::Passphrase(p) => {
            if p.is_empty() {
                return Err(StoreError::EmptyPassphrase);
            }
            let salt = read_or_make_salt(home, initialised)?;
            key_from_passphrase(p.as_bytes(), &salt)
        }
    };
    Ok(DerivedKeys {
        record: expand(&master, RECORD_KEY_LABEL)?,
        wrapping: KeyWrappingSecret(expand(&master, WRAPPING_KEY_LABEL)?),
    })
}

fn expand(master: &[u8; KEY_LEN], label: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>, StoreError> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(master);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    let info = [label];
    prk.expand(&info, hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(out.as_mut_slice()))
        .map_err(|_| StoreError::Internal("HKDF refused a 32-byte output".into()))?;
    Ok(out)
}

/// PBKDF2-HMAC-SHA256 of the passphrase.
pub(crate) fn key_from_passphrase(passphrase: &[u8], salt: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        ROUNDS,
        salt,
        passphrase,
        out.as_mut_slice(),
    );
    out
}

fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, StoreError> {
    let mut out = Zeroizing::new([0u8; N]);
    SystemRandom::new()
        .fill(out.as_mut_slice())
        .map_err(|_| StoreError::Random)?;
    Ok(out)
}

fn read_or_make_salt(home: &Path, initialised: bool) -> Result<[u8; SALT_LEN], StoreError> {
    let path = salt_path(home);
    let corrupt = |what: String| StoreError::Corrupt {
        home: home.display().to_string(),
        what,
    };
    match fs::read(&path) {
        Ok(bytes) => <[u8; SALT_LEN]>::try_from(bytes.as_slice()).map_err(|_| {
            corrupt(format!(
                "{} holds {} bytes instead of {SALT_LEN}",
                path.display(),
                bytes.len()
            ))
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if initialised {
                return Err(corrupt(format!(
                    "{} is missing: without it the passphrase cannot open the store",
                    path.display()
                )));
            }
            let salt = random::<SALT_LEN>()?;
            write_new_private(&path, salt.as_slice())?;
            Ok(*salt)
        }
        Err(e) => Err(StoreError::io(format!("reading {}", path.display()), e)),
    }
}

fn key_from_file(home: &Path, initialised: bool) -> Result<Zeroizing<[u8; KEY_LEN]>, StoreError> {
    let path = key_file_path(home);
    let refuse = |problem| StoreError::KeyFile {
        path: path.display().to_string(),
        problem,
    };
    let meta = match fs::metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if initialised {
                return Err(refuse(KeyFileProblem::Missing));
            }
            return make_key_file(&path);
        }
        Err(e) => return Err(StoreError::io(format!("reading {}", path.display()), e)),
    };
    if !meta.is_file() {
        return Err(refuse(KeyFileProblem::NotAFile));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(refuse(KeyFileProblem::TooOpen(mode)));
        }
    }
    if meta.len() != KEY_LEN as u64 {
        return Err(refuse(KeyFileProblem::WrongLength(meta.len())));
    }
    let bytes = Zeroizing::new(
        fs::read(&path).map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?,
    );
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    if bytes.len() != KEY_LEN {
        return Err(refuse(KeyFileProblem::WrongLength(bytes.len() as u64)));
    }
    key.copy_from_slice(&bytes);
    Ok(key)
}

fn make_key_file(path: &Path) -> Result<Zeroizing<[u8; KEY_LEN]>, StoreError> {
    if let Some(dir) = path.parent() {
        if !dir.is_dir() {
            make_private_dir(dir)?;
        }
    }
    let key = random::<KEY_LEN>()?;
    write_new_private(path, key.as_slice())?;
    Ok(key)
}

fn make_private_dir(dir: &Path) -> Result<(), StoreError> {
    crate::files::create_private_dir(dir, true)
        .map_err(|e| StoreError::io(format!("creating {}", dir.display()), e))
}

/// Writes a new 0600 file and makes its directory entry durable.
fn write_new_private(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    files::write_private_new(path, bytes)
        .map_err(|e| StoreError::io(format!("writing {}", path.display()), e))?;
    if let Some(dir) = path.parent() {
        files::sync_dir(dir)
            .map_err(|e| StoreError::io(format!("syncing {}", dir.display()), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let source = StoreKeySource::Passphrase("correct horse".into());
        assert_eq!(format!("{source:?}"), "Passphrase(..)");
        let secret = KeyWrappingSecret(Zeroizing::new([0xAB; KEY_LEN]));
        let shown = format!("{secret:?}");
        assert!(!shown.contains("171") && !shown.to_lowercase().contains("ab, "));
        assert_eq!(shown, "KeyWrappingSecret(..)");
    }

    #[test]
    fn derived_keys_are_distinct_and_stable() {
        let master = [9u8; KEY_LEN];
        let a = expand(&master, RECORD_KEY_LABEL).expect("expand");
        let b = expand(&master, WRAPPING_KEY_LABEL).expect("expand");
        assert_ne!(*a, *b);
        assert_ne!(*a, master);
        assert_eq!(*a, *expand(&master, RECORD_KEY_LABEL).expect("expand"));
    }

    #[test]
    fn key_file_is_made_private_once() {
        let home = tempfile::tempdir().expect("tempdir");
        let first = derive(home.path(), &StoreKeySource::KeyFile, false).expect("make");
        let again = derive(home.path(), &StoreKeySource::KeyFile, true).expect("read");
        assert_eq!(*first.record, *again.record);
        assert_eq!(first.wrapping.as_bytes(), again.wrapping.as_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = key_file_path(home.path());
            let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dir_mode = fs::metadata(path.parent().expect("parent"))
                .expect("meta")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(dir_mode, 0o700);
        }
    }

    #[test]
    fn missing_key_file_of_an_existing_store_is_not_replaced() {
        let home = tempfile::tempdir().expect("tempdir");
        let err = derive(home.path(), &StoreKeySource::KeyFile, true).expect_err("missing");
        assert!(matches!(
            err,
            StoreError::KeyFile {
                problem: KeyFileProblem::Missing,
                ..
            }
        ));
        assert!(!key_file_path(home.path()).exists());
    }

    #[test]
    fn key_file_of_the_wrong_length_is_refused() {
        let home = tempfile::tempdir().expect("tempdir");
        let path = key_file_path(home.path());
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        files::write_private_new(&path, &[1u8; 31]).expect("write");
        let err = derive(home.path(), &StoreKeySource::KeyFile, false).expect_err("short");
        assert!(matches!(
            err,
            StoreError::KeyFile {
                problem: KeyFileProblem::WrongLength(31),
                ..
            }
        ));
    }

    #[test]
    fn empty_passphrase_is_refused() {
        let home = tempfile::tempdir().expect("tempdir");
        let err = derive(
            home.path(),
            &StoreKeySource::Passphrase(String::new()),
            false,
        )
        .expect_err("empty");
        assert!(matches!(err, StoreError::EmptyPassphrase));
        assert!(!salt_path(home.path()).exists());
    }

    #[test]
    fn missing_salt_of_an_existing_store_is_reported() {
        let home = tempfile::tempdir().expect("tempdir");
        let err = derive(home.path(), &StoreKeySource::Passphrase("p".into()), true)
            .expect_err("no salt");
        assert!(matches!(err, StoreError::Corrupt { .. }));
        assert!(err.to_string().contains("store.salt"));
    }
}
