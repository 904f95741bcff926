//! The store's identity and key check.
//!
//! When a store is created it gets a random 16-byte id, kept twice: in
//! `HOME/store.id`, outside the database, and inside the key check record
//! (tree `store-internal`, sealed like any record). On every open:
//!
//! - the check record must open under the derived key, else the passphrase
//!   (or key file) is wrong: [`StoreError::WrongPassphrase`] rather than
//!   garbage later;
//! - the ids must match, else the database belongs to another home;
//! - if `store.id` exists the check record must too. `sled` recovers a log
//!   whose first segment is damaged (or a missing `store/` directory) as an
//!   *empty* database without any error; without this marker that loss
//!   would pass for a fresh store.
//!
//! The record is written and flushed before `store.id`, so a crash during
//! creation leaves either nothing (a fresh start) or a check record without
//! its id file, which the next open completes.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ring::rand::{SecureRandom, SystemRandom};

use super::crypt::{CryptError, RecordCipher};
use super::key::{self, StoreKeySource};
use super::StoreError;
use crate::files;

/// Name of the internal tree holding the check record.
pub(crate) const INTERNAL_TREE: &str = "store-internal";
/// Key of the check record.
pub(crate) const CHECK_KEY: &[u8] = b"key-check";
/// The check record's plaintext is this prefix followed by the store id.
const CHECK_PREFIX: &[u8] = b"confrere store key check v1\0";
/// Length of a store id.
pub(crate) const ID_LEN: usize = 16;

/// The path of the store id file in a home.
pub(crate) fn id_path(home: &Path) -> PathBuf {
    home.join("store.id")
}

/// Reads `HOME/store.id`, if present.
pub(crate) fn read_id(home: &Path) -> Result<Option<[u8; ID_LEN]>, StoreError> {
    let path = id_path(home);
    match fs::read(&path) {
        Ok(bytes) => <[u8; ID_LEN]>::try_from(bytes.as_slice())
            .map(Some)
            .map_err(|_| StoreError::Corrupt {
                home: home.display().to_string(),
                what: format!(
                    "{} holds {} bytes instead of {ID_LEN}",
                    path.display(),
                    bytes.len()
                ),
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(format!("reading {}", path.display()), e)),
    }
}

/// The error for a database that lost its contents while the home says a
/// store was created there.
pub(crate) fn lost_contents(home: &Path) -> StoreError {
    StoreError::Corrupt {
        home: home.display().to_string(),
        what: format!(
            "{} exists but the database under store/ is empty or unreadable \
             (its files were damaged, removed or replaced)",
            id_path(home).display()
        ),
    }
}

/// Verifies the check record found in the database against the key and
/// the id file, completing an interrupted creation.
pub(crate) fn verify(
    home: &Path,
    source: &StoreKeySource,
    cipher: &RecordCipher,
    sealed: &[u8],
    id_file: Option<[u8; ID_LEN]>,
) -> Result<(), StoreError> {
    let home_str = home.display().to_string();
    let corrupt = |what: &str| StoreError::Corrupt {
        home: home_str.clone(),
        what: what.into(),
    };
    let plain = match cipher.open(INTERNAL_TREE, CHECK_KEY, sealed) {
        Ok(plain) => plain,
        Err(CryptError::Authentication) => {
            return Err(match source {
                StoreKeySource::Passphrase(_) => StoreError::WrongPassphrase { home: home_str },
                StoreKeySource::KeyFile => StoreError::WrongKeyFile {
                    path: key::key_file_path(home).display().to_string(),
                    home: home_str,
                },
            })
        }
        Err(_) => return Err(corrupt("the key check record is damaged")),
    };
    let stored: [u8; ID_LEN] = plain
        .strip_prefix(CHECK_PREFIX)
        .and_then(|id| id.try_into().ok())
        .ok_or_else(|| corrupt("the key check record is damaged"))?;
    match id_file {
        Some(id) if id == stored => Ok(()),
        Some(_) => Err(corrupt(
            "the database under store/ belongs to another home (store.id differs)",
        )),
        None => write_id(home, &stored),
    }
}

/// For a new store: a fresh id, and the sealed check record to insert and
/// flush before calling [`write_id`].
pub(crate) fn new_check(cipher: &RecordCipher) -> Result<([u8; ID_LEN], Vec<u8>), StoreError> {
    let mut id = [0u8; ID_LEN];
    SystemRandom::new()
        .fill(&mut id)
        .map_err(|_| StoreError::Random)?;
    let mut plain = CHECK_PREFIX.to_vec();
    plain.extend_from_slice(&id);
    let sealed = cipher
        .seal(INTERNAL_TREE, CHECK_KEY, &plain)
        .map_err(|_| StoreError::Random)?;
    Ok((id, sealed))
}

/// Writes `HOME/store.id` (new file, then the directory synced).
pub(crate) fn write_id(home: &Path, id: &[u8; ID_LEN]) -> Result<(), StoreError> {
    let path = id_path(home);
    files::write_private_new(&path, id)
        .map_err(|e| StoreError::io(format!("writing {}", path.display()), e))?;
    files::sync_dir(home).map_err(|e| StoreError::io(format!("syncing {}", home.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> RecordCipher {
        RecordCipher::new(&[5u8; 32]).expect("cipher")
    }

    #[test]
    fn a_check_verifies_and_completes_the_id_file() {
        let home = tempfile::tempdir().expect("tempdir");
        let c = cipher();
        let (id, sealed) = new_check(&c).expect("check");
        assert_eq!(read_id(home.path()).expect("read"), None);
        verify(home.path(), &StoreKeySource::KeyFile, &c, &sealed, None).expect("verify");
        assert_eq!(read_id(home.path()).expect("read"), Some(id));
        verify(home.path(), &StoreKeySource::KeyFile, &c, &sealed, Some(id)).expect("again");
    }

    #[test]
    fn another_homes_database_is_refused() {
        let home = tempfile::tempdir().expect("tempdir");
        let c = cipher();
        let (id, sealed) = new_check(&c).expect("check");
        let mut other = id;
        other[0] ^= 1;
        let err = verify(
            home.path(),
            &StoreKeySource::KeyFile,
            &c,
            &sealed,
            Some(other),
        )
        .expect_err("other home");
        assert!(err.to_string().contains("another home"), "{err}");
    }

    #[test]
    fn wrong_key_is_named_after_its_source() {
        let home = tempfile::tempdir().expect("tempdir");
        let (_, sealed) = new_check(&cipher()).expect("check");
        let wrong = RecordCipher::new(&[6u8; 32]).expect("cipher");
        let source = StoreKeySource::Passphrase("x".into());
        let err = verify(home.path(), &source, &wrong, &sealed, None).expect_err("wrong");
        assert!(matches!(err, StoreError::WrongPassphrase { .. }));
        let err = verify(home.path(), &StoreKeySource::KeyFile, &wrong, &sealed, None)
            .expect_err("wrong");
        assert!(matches!(err, StoreError::WrongKeyFile { .. }));
        assert_eq!(read_id(home.path()).expect("read"), None);
    }

    #[test]
    fn an_id_file_of_the_wrong_length_is_corrupt() {
        let home = tempfile::tempdir().expect("tempdir");
        fs::write(id_path(home.path()), b"short").expect("write");
        assert!(matches!(
            read_id(home.path()),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
