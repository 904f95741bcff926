//! Files of the test PKI: atomic writes, clean-up of half-made output, and the CA state
//! file (`ca.json`) that lists revoked serials and the next CRL number.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::cert::RevokedEntry;
use super::error::TestPkiError;
use super::request::hex_upper;

/// Who may read a file written by the generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Certificates, CRLs, state: mode 0644.
    Public,
    /// Private keys: mode 0600.
    Secret,
}

impl Access {
    #[cfg(unix)]
    fn mode(self) -> u32 {
        match self {
            Access::Public => 0o644,
            Access::Secret => 0o600,
        }
    }
}

/// Whether [`write_file`] may replace an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replace {
    /// Refuse if the file exists.
    Never,
    /// Replace it atomically.
    Atomically,
}

/// Writes `contents` to `dir/name` atomically: into a temporary file of the same directory
/// (created with mode 0600, so a key is never readable by others even briefly), flushed to
/// disk, given its final mode, then renamed into place.
pub(crate) fn write_file(
    dir: &Path,
    name: &str,
    contents: &[u8],
    access: Access,
    replace: Replace,
) -> Result<PathBuf, TestPkiError> {
    let path = dir.join(name);
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| TestPkiError::io("create a temporary file in", dir, e))?;
    temp.write_all(contents)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| TestPkiError::io("write", temp.path(), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(temp.path(), fs::Permissions::from_mode(access.mode()))
            .map_err(|e| TestPkiError::io("set permissions of", temp.path(), e))?;
    }
    #[cfg(not(unix))]
    let _ = access;
    let persisted = match replace {
        Replace::Never => temp.persist_noclobber(&path),
        Replace::Atomically => temp.persist(&path),
    };
    match persisted {
        Ok(_) => Ok(path),
        Err(e) if e.error.kind() == ErrorKind::AlreadyExists => {
            Err(TestPkiError::FileExists { path })
        }
        Err(e) => Err(TestPkiError::io(
            "rename a temporary file to",
            path,
            e.error,
        )),
    }
}

/// Flushes a directory's entries (the renames) to disk.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), TestPkiError> {
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| TestPkiError::io("flush directory", dir, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Makes sure `dir` is a usable output directory, creating it (mode 0700) when missing.
/// With `must_be_empty`, an existing directory must hold nothing. Returns whether it
/// was created here.
pub(crate) fn prepare_dir(dir: &Path, must_be_empty: bool) -> Result<bool, TestPkiError> {
    match fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => Err(TestPkiError::NotADirectory {
            path: dir.to_path_buf(),
        }),
        Ok(_) => {
            if must_be_empty {
                let mut entries =
                    fs::read_dir(dir).map_err(|e| TestPkiError::io("list", dir, e))?;
                if entries.next().is_some() {
                    return Err(TestPkiError::OutDirNotEmpty {
                        path: dir.to_path_buf(),
                    });
                }
            }
            Ok(false)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            create_private_dir(dir).map_err(|e| TestPkiError::io("create directory", dir, e))?;
            Ok(true)
        }
        Err(e) => Err(TestPkiError::io("inspect", dir, e)),
    }
}

/// Creates `dir` and its missing parents, mode 0700 (a CA directory holds private keys).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Removes what an operation created unless it is committed, so a failure leaves no
/// half-made output behind.
#[derive(Debug, Default)]
pub(crate) struct Rollback {
    dir: Option<PathBuf>,
    files: Vec<PathBuf>,
    committed: bool,
}

impl Rollback {
    /// Records that `dir` was created by this operation.
    pub(crate) fn created_dir(&mut self, dir: &Path) {
        self.dir = Some(dir.to_path_buf());
    }

    /// Records that `file` was created by this operation.
    pub(crate) fn created_file(&mut self, file: PathBuf) {
        self.files.push(file);
    }

    /// Keeps everything: the operation succeeded.
    pub(crate) fn commit(mut self) {
        self.committed = true;
    }
}

impl Drop for Rollback {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        // Best effort: the original error is what the caller reports.
        for file in self.files.iter().rev() {
            let _ = fs::remove_file(file);
        }
        if let Some(dir) = &self.dir {
            // Only empty: never delete what someone else put there meanwhile.
            let _ = fs::remove_dir(dir);
        }
    }
}

/// The state file format tag, so a later format can be told apart.
const STATE_FORMAT: &str = "confrere-test-ca-state/1";

#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    format: String,
    next_crl_number: u64,
    revoked: Vec<RevokedLine>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RevokedLine {
    /// Upper-case hex serial.
    serial: String,
    /// RFC 3339 UTC.
    revoked_at: String,
}

/// What the CA remembers between runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CaState {
    /// CRL number for the next CRL signed.
    pub next_crl_number: u64,
    /// Revoked certificates, in revocation order.
    pub revoked: Vec<RevokedEntry>,
}

impl CaState {
    /// Serializes the state as pretty JSON.
    pub(crate) fn to_json(&self) -> Result<String, String> {
        let revoked = self
            .revoked
            .iter()
            .map(|entry| {
                Ok(RevokedLine {
                    serial: hex_upper(&entry.serial),
                    revoked_at: entry
                        .revoked_at
                        .format(&Rfc3339)
                        .map_err(|e| e.to_string())?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let file = StateFile {
            format: STATE_FORMAT.to_owned(),
            next_crl_number: self.next_crl_number,
            revoked,
        };
        let mut text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
        text.push('\n');
        Ok(text)
    }

    /// Reads a state serialized by [`CaState::to_json`].
    pub(crate) fn from_json(text: &str) -> Result<Self, String> {
        let file: StateFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if file.format != STATE_FORMAT {
            return Err(format!(
                "unknown format {:?}, expected {STATE_FORMAT:?}",
                file.format
            ));
        }
        let revoked = file
            .revoked
            .iter()
            .map(|line| {
                let serial = hex_decode(&line.serial)
                    .ok_or_else(|| format!("bad serial {:?}", line.serial))?;
                let revoked_at = OffsetDateTime::parse(&line.revoked_at, &Rfc3339)
                    .map_err(|e| format!("bad revocation time {:?}: {e}", line.revoked_at))?;
                Ok(RevokedEntry { serial, revoked_at })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self {
            next_crl_number: file.next_crl_number,
            revoked,
        })
    }
}

/// Decodes hex (either case, even length, non-empty).
fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn state_round_trips() {
        let state = CaState {
            next_crl_number: 7,
            revoked: vec![RevokedEntry {
                serial: vec![0x40, 0x0a, 0xff],
                revoked_at: datetime!(2026-03-01 12:00:00 UTC),
            }],
        };
        let text = state.to_json().expect("test setup");
        assert!(text.contains("\"400AFF\""), "{text}");
        assert!(text.contains("2026-03-01T12:00:00Z"), "{text}");
        assert_eq!(CaState::from_json(&text), Ok(state));
        assert!(CaState::from_json("{}").is_err());
    }

    #[test]
    fn hex() {
        assert_eq!(hex_decode("00ffA0"), Some(vec![0, 0xff, 0xa0]));
        assert_eq!(hex_decode("abc"), None);
        assert_eq!(hex_decode("zz"), None);
        assert_eq!(hex_decode(""), None);
    }

    #[test]
    fn no_clobber_and_rollback() {
        let dir = tempfile::tempdir().expect("test setup");
        let path = write_file(dir.path(), "a.pem", b"one", Access::Public, Replace::Never)
            .expect("test setup");
        let again = write_file(dir.path(), "a.pem", b"two", Access::Public, Replace::Never);
        assert!(matches!(again, Err(TestPkiError::FileExists { .. })));
        assert_eq!(fs::read(&path).expect("test setup"), b"one");
        write_file(
            dir.path(),
            "a.pem",
            b"two",
            Access::Public,
            Replace::Atomically,
        )
        .expect("test setup");
        assert_eq!(fs::read(&path).expect("test setup"), b"two");

        let sub = dir.path().join("new/deeper");
        assert!(prepare_dir(&sub, true).expect("test setup"));
        let mut rollback = Rollback::default();
        rollback.created_dir(&sub);
        rollback.created_file(
            write_file(&sub, "k", b"x", Access::Secret, Replace::Never).expect("test setup"),
        );
        drop(rollback);
        assert!(!sub.exists());
        // Left: a.pem and the parent `new` (made by the recursive creation); no temporary file.
        assert_eq!(fs::read_dir(dir.path()).expect("test setup").count(), 2);
    }
}
