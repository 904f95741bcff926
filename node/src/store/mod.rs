//! The node's encrypted store: records (outbox, inbox, transfers, dossiers,
//! peers, metadata), sealed dossier chunks and wrapped per-dossier keys, in
//! one `sled` database under the home.
//!
//! Files in the home:
//!
//! ```text
//! HOME/
//!   store.lock        exclusive advisory lock, held while a Store is open
//!   store/            the sled database
//!   store.id          the store's random id, also sealed inside it
//!   store.salt        passphrase salt (16 random bytes), passphrase mode only
//!   keys/store.key    32 random bytes (0600), key-file mode only
//! ```
//!
//! What is encrypted where:
//!
//! - **Records** ([`Store::put`]): serialized with `serde_json`, then sealed
//!   with AES-256-GCM under a key derived from the store key, bound to their
//!   tree and key. Record keys are identifiers and stay in the clear.
//! - **Chunks** ([`Store::put_chunk`]): already sealed by the per-dossier
//!   key when they reach the store, and kept as they are: nobody
//!   re-encrypts, and a resumed transfer restarts at
//!   [`Store::chunk_count_contiguous`].
//! - **Per-dossier keys** ([`Store::put_wrapped_key`]): the caller wraps them
//!   with [`Store::key_wrapping_secret`] and the store keeps the opaque
//!   bytes. [`Store::destroy_key`] removes one and flushes, which erases the
//!   dossier (crypto-shredding). `sled` may keep stale copies of removed
//!   values in old log segments until it reclaims them; those are still
//!   wrapped, so they are worthless without the store key.
//!
//! **Durability.** A write is durable only after [`Store::flush`] (blocking)
//! or [`Store::flush_async_safe`] (from async code) returns. Callers flush
//! before acknowledging anything to a peer or a user. `sled`'s own
//! `flush_async` deadlocks when several tasks use it (sled issue #1308) and
//! is never used.
//!
//! **One store per home.** [`Store::open`] takes an exclusive lock on
//! `HOME/store.lock`; a second open (from another process, or from this
//! one) fails with [`StoreError::Locked`]. A `Store` is a cheap handle:
//! clone it rather than opening the home twice. The lock is released when
//! the last clone is dropped.

mod check;
mod chunks;
mod crypt;
mod error;
mod flusher;
mod key;
mod records;
mod sweep;

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use chunks::{ChunkReader, ChunkStream};
pub use error::{KeyFileProblem, StoreError};
pub use flusher::Flusher;
pub use key::{KeyWrappingSecret, StoreKeySource, KEY_LEN, PBKDF2_ITERATIONS, SALT_LEN};
pub use records::Tree;

use crypt::RecordCipher;

/// Cache of the sled database: bounds the store's memory use.
pub const CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// How long to wait for `sled`'s own file lock when this process has just
/// closed the store (its background threads let go of the file shortly
/// after the last handle is dropped; on a loaded machine, more than 2 s
/// was seen). Only this process can hold it: the home's lock is ours.
const SLED_LOCK_WAIT: Duration = Duration::from_secs(10);

/// How long a held `HOME/store.lock` is tried again before the store is
/// said to be held by another process.
const HOME_LOCK_WAIT: Duration = Duration::from_millis(500);

/// The node's encrypted store. Cheap to clone; all clones share one
/// database. See the module documentation.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("home", &self.inner.home)
            .finish_non_exhaustive()
    }
}

/// Fields drop in order: the database closes before the lock is released.
struct Inner {
    records: [sled::Tree; Tree::ALL.len()],
    blobs: chunks::Blobs,
    db: sled::Db,
    cipher: RecordCipher,
    wrapping: KeyWrappingSecret,
    home: PathBuf,
    home_str: String,
    _lock: File,
}

impl Store {
    /// Opens (or, the first time, creates) the store of a home.
    ///
    /// The home directory must exist. Takes the home's store lock first, so
    /// a second opener fails with [`StoreError::Locked`] before touching
    /// anything. With a passphrase, key derivation takes a noticeable
    /// fraction of a second by design; call this from a blocking context.
    pub fn open(home: &Path, key_source: StoreKeySource) -> Result<Store, StoreError> {
        let home_str = home.display().to_string();
        match fs::metadata(home) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(StoreError::Io {
                    what: format!("opening the home {home_str}"),
                    source: io::Error::other("not a directory"),
                })
            }
            Err(e) => return Err(StoreError::io(format!("opening the home {home_str}"), e)),
        }
        let lock = lock_home(home, &home_str)?;
        let db_dir = home.join("store");
        make_private_dir(&db_dir)?;
        let db = open_sled(&db_dir, &home_str)?;
        let sled_err = |e, during: &str| StoreError::from_sled(e, &home_str, during);
        let open_tree = |name: &str| {
            db.open_tree(name)
                .map_err(|e| sled_err(e, &format!("opening the {name} tree")))
        };
        let id_file = check::read_id(home)?;
        let internal = open_tree(check::INTERNAL_TREE)?;
        let found = internal
            .get(check::CHECK_KEY)
            .map_err(|e| sled_err(e, "reading the key check"))?;
        if found.is_none() && id_file.is_some() {
            return Err(check::lost_contents(home));
        }
        let keys = key::derive(home, &key_source, found.is_some())?;
        let cipher = RecordCipher::new(&keys.record)
            .map_err(|_| StoreError::Internal("AES-256-GCM refused the record key".into()))?;
        match found {
            Some(sealed) => check::verify(home, &key_source, &cipher, &sealed, id_file)?,
            None => {
                let (id, sealed) = check::new_check(&cipher)?;
                internal
                    .insert(check::CHECK_KEY, sealed)
                    .map_err(|e| sled_err(e, "writing the key check"))?;
                db.flush()
                    .map_err(|e| sled_err(e, "flushing the new store"))?;
                check::write_id(home, &id)?;
            }
        }
        let records: [sled::Tree; Tree::ALL.len()] = Tree::ALL
            .iter()
            .map(|t| open_tree(t.name()))
            .collect::<Result<Vec<_>, _>>()?
            .try_into()
            .map_err(|_| StoreError::Internal("the record trees did not all open".into()))?;
        let blobs = chunks::Blobs::open(home)?;
        Ok(Store {
            inner: Arc::new(Inner {
                records,
                blobs,
                db,
                cipher,
                wrapping: keys.wrapping,
                home: home.to_path_buf(),
                home_str,
                _lock: lock,
            }),
        })
    }

    /// The home this store belongs to.
    pub fn home(&self) -> &Path {
        &self.inner.home
    }

    /// The secret with which to wrap per-dossier keys before
    /// [`put_wrapped_key`](Store::put_wrapped_key). Derived from the store
    /// key under its own label: it never equals the record key.
    pub fn key_wrapping_secret(&self) -> &KeyWrappingSecret {
        &self.inner.wrapping
    }

    /// Makes every write so far durable (blocking: `sled`'s `flush`).
    ///
    /// Call it before acknowledging anything. From async code use
    /// [`flush_async_safe`](Store::flush_async_safe) instead.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.blobs.sync()?;
        self.inner
            .db
            .flush()
            .map(|_| ())
            .map_err(|e| self.sled_error(e, "flushing"))
    }

    /// [`flush`](Store::flush) on tokio's blocking pool, for async callers.
    /// Safe to call from many tasks at once, unlike `sled`'s `flush_async`.
    pub async fn flush_async_safe(&self) -> Result<(), StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.flush())
            .await
            .map_err(|e| StoreError::Internal(format!("the flush task failed: {e}")))?
    }

    fn sled_error(&self, error: sled::Error, during: &str) -> StoreError {
        StoreError::from_sled(error, &self.inner.home_str, during)
    }

    fn corrupt(&self, what: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            home: self.inner.home_str.clone(),
            what: what.into(),
        }
    }
}

/// Takes the exclusive lock on `HOME/store.lock`.
///
/// `flock(2)` locks belong to the open file description, so a second open
/// in the same process is refused as well as one from another process.
fn lock_home(home: &Path, home_str: &str) -> Result<File, StoreError> {
    // `File::try_lock` would do, but is stable only since Rust 1.89 and the
    // workspace supports 1.85; `fs2` is what sled itself locks with.
    use fs2::FileExt;
    let path = home.join("store.lock");
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts
        .open(&path)
        .map_err(|e| StoreError::io(format!("opening {}", path.display()), e))?;
    // A lock can outlive its holder for a moment: a process that is
    // exiting, or a child forked (to run a program) while this process held
    // the lock, which keeps a copy of the descriptor until it execs.
    let started = std::time::Instant::now();
    loop {
        match file.try_lock_exclusive() {
            Ok(()) => return Ok(file),
            Err(e) if is_contended(&e) => {
                if started.elapsed() > HOME_LOCK_WAIT {
                    return Err(StoreError::Locked {
                        home: home_str.to_string(),
                    });
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(StoreError::io(format!("locking {}", path.display()), e)),
        }
    }
}

fn is_contended(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
        || e.raw_os_error() == fs2::lock_contended_error().raw_os_error()
}

fn make_private_dir(dir: &Path) -> Result<(), StoreError> {
    crate::files::create_private_dir(dir, false)
        .map_err(|e| StoreError::io(format!("creating {}", dir.display()), e))
}

/// Opens the sled database, waiting briefly if sled's own lock on its
/// files is still held by this process's previous, just-closed handle.
fn open_sled(dir: &Path, home_str: &str) -> Result<sled::Db, StoreError> {
    let config = sled::Config::new()
        .path(dir)
        .cache_capacity(CACHE_BYTES)
        .mode(sled::Mode::LowSpace);
    let started = std::time::Instant::now();
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e))
                if e.kind() == io::ErrorKind::Other
                    && e.to_string().contains("could not acquire lock") =>
            {
                // We hold HOME/store.lock, so the holder is this process.
                if started.elapsed() > SLED_LOCK_WAIT {
                    return Err(StoreError::Locked {
                        home: home_str.to_string(),
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                return Err(
                    match StoreError::from_sled(e, home_str, "opening the store") {
                        StoreError::Internal(what) => StoreError::Corrupt {
                            home: home_str.to_string(),
                            what,
                        },
                        other => other,
                    },
                )
            }
        }
    }
}
