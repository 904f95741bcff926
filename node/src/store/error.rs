//! What can go wrong with the store, and what the user can do about it.
//!
//! Messages name files, trees and what happened; they never carry a
//! record's contents, a key, or a passphrase. Errors from `serde_json` are
//! reduced to their category and position, because its messages quote the
//! offending value.

use std::fmt;
use std::io;

use crate::fault::{Code, Fault};

/// Why the key file cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFileProblem {
    /// The store exists but its key file does not.
    Missing,
    /// The key file does not hold exactly 32 bytes.
    WrongLength(u64),
    /// The key file can be read or written by the group or by others
    /// (its Unix mode is given).
    TooOpen(u32),
    /// The path is not a regular file.
    NotAFile,
}

impl fmt::Display for KeyFileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileProblem::Missing => f.write_str("the store exists but its key file is missing"),
            KeyFileProblem::WrongLength(n) => {
                write!(f, "a store key file holds exactly 32 bytes, this one {n}")
            }
            KeyFileProblem::TooOpen(mode) => write!(
                f,
                "the key file is accessible to other users (mode {mode:o}); \
                 it must be readable by its owner only"
            ),
            KeyFileProblem::NotAFile => f.write_str("this is not a regular file"),
        }
    }
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process (or another `Store` in this process) holds the
    /// home's store lock.
    #[error(
        "{home}: another process is using this home (is `confrere run` already running for it?)"
    )]
    Locked {
        /// The home directory.
        home: String,
    },
    /// The passphrase does not open this store.
    #[error("the passphrase does not open the store in {home}")]
    WrongPassphrase {
        /// The home directory.
        home: String,
    },
    /// The key file does not open this store.
    #[error("{path} does not open the store in {home}")]
    WrongKeyFile {
        /// The key file.
        path: String,
        /// The home directory.
        home: String,
    },
    /// An empty passphrase was given.
    #[error("the store passphrase is empty")]
    EmptyPassphrase,
    /// The key file cannot be used.
    #[error("{path}: {problem}")]
    KeyFile {
        /// The key file.
        path: String,
        /// What is wrong with it.
        problem: KeyFileProblem,
    },
    /// The store's files are damaged, or a record fails authentication.
    #[error("the store in {home} is damaged: {what}")]
    Corrupt {
        /// The home directory.
        home: String,
        /// What was found damaged.
        what: String,
    },
    /// The disk (or the user's quota) is full.
    #[error("the disk is full: nothing already stored was lost")]
    NoSpace,
    /// Reading or writing a file failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, and on which path.
        what: String,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// A record decrypted but is not of the type asked for.
    #[error("a record of the {tree} tree is not of the expected type ({detail})")]
    Decode {
        /// The tree.
        tree: &'static str,
        /// The error's category and position, never the value.
        detail: String,
    },
    /// A value could not be serialized.
    #[error("a value for the {tree} tree could not be serialized ({detail})")]
    Encode {
        /// The tree.
        tree: &'static str,
        /// The error's category, never the value.
        detail: String,
    },
    /// The system random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// The storage engine misbehaved (a bug, not a user error).
    #[error("internal store error: {0}")]
    Internal(String),
}

impl StoreError {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            StoreError::Locked { .. } => {
                "stop the other `confrere` process using this home, or choose another --home"
            }
            StoreError::WrongPassphrase { .. } => {
                "set CONFRERE_PASSPHRASE to the passphrase this store was created with"
            }
            StoreError::WrongKeyFile { .. } => {
                "restore keys/store.key from the backup made with this store"
            }
            StoreError::EmptyPassphrase => {
                "set CONFRERE_PASSPHRASE to a non-empty passphrase, or unset it to use keys/store.key"
            }
            StoreError::KeyFile { problem, .. } => match problem {
                KeyFileProblem::Missing
                | KeyFileProblem::WrongLength(_)
                | KeyFileProblem::NotAFile => "restore keys/store.key from the backup of this home",
                KeyFileProblem::TooOpen(_) => {
                    "run `chmod 600` on the key file, and check nobody else copied it"
                }
            },
            StoreError::Corrupt { .. } => {
                "stop the node and restore the whole home from its backup"
            }
            StoreError::NoSpace => {
                "free disk space, then try again; what was stored before is kept, and deliveries under way resume by themselves"
            }
            StoreError::Io { .. } => "check the permissions and the health of the disk",
            StoreError::Decode { .. } | StoreError::Encode { .. } | StoreError::Internal(_) => {
                "this is a bug in Confrère: report it, with the node's log"
            }
            StoreError::Random => "retry; if it persists, the system random generator is unavailable",
        }
    }

    /// Whether the operation may succeed later without any change to the
    /// store (a full disk): the caller pauses instead of failing.
    pub fn is_no_space(&self) -> bool {
        matches!(self, StoreError::NoSpace)
    }

    /// An I/O error, with what was being done; a full disk becomes
    /// [`StoreError::NoSpace`].
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> StoreError {
        if is_no_space(&source) {
            StoreError::NoSpace
        } else {
            StoreError::Io {
                what: what.into(),
                source,
            }
        }
    }

    /// Maps an error of the storage engine.
    pub(crate) fn from_sled(error: sled::Error, home: &str, during: &str) -> StoreError {
        match error {
            sled::Error::Io(source) => StoreError::io(during.to_string(), source),
            sled::Error::Corruption { at, .. } => StoreError::Corrupt {
                home: home.to_string(),
                what: match at {
                    Some(at) => format!("the storage engine found damaged data at {at:?}"),
                    None => "the storage engine found damaged data".into(),
                },
            },
            sled::Error::Unsupported(why) => {
                StoreError::Internal(format!("{during}: unsupported: {why}"))
            }
            sled::Error::ReportableBug(what) => StoreError::Internal(format!("{during}: {what}")),
            sled::Error::CollectionNotFound(_) => {
                StoreError::Internal(format!("{during}: a tree vanished"))
            }
        }
    }

    /// A `serde_json` decoding error, without the value it may quote.
    pub(crate) fn decode(tree: &'static str, error: &serde_json::Error) -> StoreError {
        StoreError::Decode {
            tree,
            detail: json_detail(error),
        }
    }

    /// A `serde_json` encoding error, without the value it may quote.
    pub(crate) fn encode(tree: &'static str, error: &serde_json::Error) -> StoreError {
        StoreError::Encode {
            tree,
            detail: json_detail(error),
        }
    }
}

/// A full disk is `Unavailable` (the operation may succeed once space is
/// freed); anything else is `Internal`.
impl Fault for StoreError {
    fn code(&self) -> Code {
        match self {
            StoreError::NoSpace => Code::Unavailable,
            _ => Code::Internal,
        }
    }

    fn hint(&self) -> String {
        StoreError::hint(self).to_owned()
    }
}

/// Whether an I/O error means the disk or quota is full.
pub(crate) fn is_no_space(error: &io::Error) -> bool {
    if matches!(
        error.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) {
        return true;
    }
    // ENOSPC and EDQUOT on Linux, for errors re-created from a raw code
    // whose kind was lost.
    #[cfg(target_os = "linux")]
    if matches!(error.raw_os_error(), Some(28) | Some(122)) {
        return true;
    }
    false
}

fn json_detail(error: &serde_json::Error) -> String {
    let category = match error.classify() {
        serde_json::error::Category::Io => "I/O",
        serde_json::error::Category::Syntax => "syntax",
        serde_json::error::Category::Data => "data",
        serde_json::error::Category::Eof => "truncated",
    };
    if error.line() == 0 {
        format!("{category} error")
    } else {
        format!(
            "{category} error at line {}, column {}",
            error.line(),
            error.column()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_disk_becomes_no_space() {
        let e = StoreError::io("writing", io::Error::from(io::ErrorKind::StorageFull));
        assert!(e.is_no_space());
        assert!(e.to_string().contains("the disk is full"));
        assert!(e.to_string().contains("nothing already stored was lost"));
        // It promises no resumption: the operation may not have been queued.
        assert!(!e.to_string().contains("resume"));
        let sled_full = sled::Error::Io(io::Error::new(io::ErrorKind::StorageFull, "full"));
        assert!(StoreError::from_sled(sled_full, "h", "writing").is_no_space());
        #[cfg(target_os = "linux")]
        assert!(StoreError::io("w", io::Error::from_raw_os_error(28)).is_no_space());
        let other = StoreError::io(
            "reading x",
            io::Error::from(io::ErrorKind::PermissionDenied),
        );
        assert!(matches!(other, StoreError::Io { .. }));
        assert!(other.to_string().starts_with("reading x: "));
    }

    #[test]
    fn decode_errors_do_not_quote_the_value() {
        let err = serde_json::from_str::<u64>("\"ZYXWVUTSRQ-SECRET\"").expect_err("not a u64");
        assert!(
            err.to_string().contains("ZYXWVUTSRQ"),
            "premise: serde quotes"
        );
        let e = StoreError::decode("inbox", &err);
        assert!(!e.to_string().contains("ZYXWVUTSRQ"), "{e}");
        assert!(e.to_string().contains("inbox"));
    }

    #[test]
    fn every_error_has_a_hint() {
        let errors = [
            StoreError::Locked { home: "h".into() },
            StoreError::WrongPassphrase { home: "h".into() },
            StoreError::EmptyPassphrase,
            StoreError::KeyFile {
                path: "k".into(),
                problem: KeyFileProblem::TooOpen(0o644),
            },
            StoreError::Corrupt {
                home: "h".into(),
                what: "w".into(),
            },
            StoreError::NoSpace,
            StoreError::Random,
        ];
        for e in errors {
            assert!(!e.hint().is_empty());
            assert_eq!(Fault::hint(&e), e.hint());
            let expected = if e.is_no_space() {
                Code::Unavailable
            } else {
                Code::Internal
            };
            assert_eq!(e.code(), expected, "{e}");
            assert!(!e.to_string().is_empty());
        }
        let locked = StoreError::Locked { home: "h".into() };
        assert!(locked.to_string().contains(
            "another process is using this home (is `confrere run` already running for it?)"
        ));
    }
}
