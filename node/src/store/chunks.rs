//! Sealed dossier chunks and wrapped per-dossier keys.
//!
//! Chunks arrive sealed by their dossier's key (the AEAD stream of the
//! protocol's dossier format) and are stored byte for byte: the outbox
//! sends them, the inbox keeps them as received, nobody re-encrypts.
//!
//! They live in one file per dossier, `HOME/blobs/<id>.sealed`, chunk `i`
//! at offset `i × SEALED_CHUNK_LEN` (every chunk but the last is full
//! size), not in sled: sled's memory grows with the bytes written to it
//! (about 450 MB resident for 1 GiB of 64 KiB values with a 16 MiB cache,
//! measured here), and a node's memory must not grow with dossier size.
//! The files hold ciphertext only. A chunk is durable after the next
//! [`flush`](Store::flush), which syncs the files written since.
//!
//! Per-dossier keys arrive wrapped by the caller (with
//! [`Store::key_wrapping_secret`]) and are stored as opaque bytes in
//! `HOME/blobs/<id>.key`, not in sled, whose log keeps removed values until
//! it reclaims the space. Destroying one overwrites and removes its file,
//! which erases its dossier.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use confrere_protocol::dossier::SEALED_CHUNK_LEN;

use super::{Store, StoreError};

mod stream;

pub use stream::ChunkReader;
pub(crate) use stream::ChunkWriter;

/// Directory of the chunk files, in the home.
pub(crate) const BLOBS_DIR: &str = "blobs";

/// Files kept open at once.
const MAX_OPEN: usize = 32;

const STRIDE: u64 = SEALED_CHUNK_LEN as u64;

/// The chunk files of a home.
pub(crate) struct Blobs {
    pub(super) dir: PathBuf,
    open: Mutex<HashMap<[u8; 16], File>>,
    dirty: Mutex<Vec<[u8; 16]>>,
    /// Dossiers whose files are being written before their record exists
    /// (see `sweep`): a sweep leaves them alone.
    pub(super) held: Mutex<std::collections::HashSet<[u8; 16]>>,
}

fn io_err(what: &str, e: io::Error) -> StoreError {
    StoreError::io(what.to_owned(), e)
}

impl Blobs {
    pub(crate) fn open(home: &Path) -> Result<Blobs, StoreError> {
        let dir = home.join(BLOBS_DIR);
        fs::create_dir_all(&dir).map_err(|e| io_err("creating the chunk directory", e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700));
        }
        Ok(Blobs {
            dir,
            open: Mutex::new(HashMap::new()),
            dirty: Mutex::new(Vec::new()),
            held: Mutex::new(std::collections::HashSet::new()),
        })
    }

    pub(super) fn path(&self, id: &[u8; 16]) -> PathBuf {
        self.dir.join(format!("{}.sealed", hex::encode(id)))
    }

    pub(super) fn key_path(&self, id: &[u8; 16]) -> PathBuf {
        self.dir.join(format!("{}.key", hex::encode(id)))
    }

    /// Runs `f` on the dossier's file, opened (and created if `create`).
    fn with_file<T>(
        &self,
        id: &[u8; 16],
        create: bool,
        f: impl FnOnce(&File) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if !open.contains_key(id) {
            let path = self.path(id);
            let file = match OpenOptions::new()
                .read(true)
                .write(true)
                .create(create)
                .truncate(false)
                .open(&path)
            {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound && !create => return Ok(None),
                Err(e) => return Err(io_err("opening a chunk file", e)),
            };
            if open.len() >= MAX_OPEN {
                // Sync before closing, so that what was written stays durable.
                for f in open.values() {
                    f.sync_data()
                        .map_err(|e| io_err("syncing a chunk file", e))?;
                }
                open.clear();
            }
            open.insert(*id, file);
        }
        match open.get(id) {
            Some(file) => f(file).map(Some),
            None => Ok(None),
        }
    }

    fn len(&self, id: &[u8; 16]) -> Result<u64, StoreError> {
        Ok(self
            .with_file(id, false, |f| {
                f.metadata()
                    .map(|m| m.len())
                    .map_err(|e| io_err("reading a chunk file", e))
            })?
            .unwrap_or(0))
    }

    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        let dirty: Vec<[u8; 16]> =
            std::mem::take(&mut *self.dirty.lock().unwrap_or_else(|p| p.into_inner()));
        if dirty.is_empty() {
            return Ok(());
        }
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        for id in &dirty {
            if let Some(f) = open.get(id) {
                f.sync_data()
                    .map_err(|e| io_err("syncing a chunk file", e))?;
            }
        }
        drop(open);
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err("syncing the chunk directory", e))
    }

    /// Marks the file of `id` for the next sync, opening it in the cache
    /// of open files if it is not (only those are synced).
    fn touch(&self, id: &[u8; 16]) -> Result<(), StoreError> {
        self.with_file(id, true, |_| Ok(()))?;
        self.mark_dirty(id);
        Ok(())
    }

    fn mark_dirty(&self, id: &[u8; 16]) {
        let mut d = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
        if !d.contains(id) {
            d.push(*id);
        }
    }
}

impl Store {
    /// Stores chunk `index` of dossier `id`, sealed, as it is. Chunks are
    /// written in order: `index` may be at most the number already held
    /// (a chunk written again replaces it and drops any after it). Durable
    /// after the next [`flush`](Store::flush).
    pub fn put_chunk(&self, id: &[u8; 16], index: u64, sealed: &[u8]) -> Result<(), StoreError> {
        if sealed.len() as u64 > STRIDE {
            return Err(StoreError::Internal("a sealed chunk is too long".into()));
        }
        let blobs = &self.inner.blobs;
        let offset = index
            .checked_mul(STRIDE)
            .ok_or_else(|| StoreError::Internal("chunk index out of range".into()))?;
        blobs.with_file(id, true, |f| {
            let len = f
                .metadata()
                .map_err(|e| io_err("reading a chunk file", e))?
                .len();
            let held = len / STRIDE;
            if index > held {
                return Err(StoreError::Internal(format!(
                    "chunk {index} written before chunk {held}"
                )));
            }
            if len > offset {
                f.set_len(offset)
                    .map_err(|e| io_err("truncating a chunk file", e))?;
            }
            f.write_all_at(sealed, offset)
                .map_err(|e| io_err("writing a chunk", e))
        })?;
        blobs.mark_dirty(id);
        Ok(())
    }

    /// Stores chunk `index` of dossier `id` at its place, whatever is held
    /// before it, and keeps what follows: for the sender, whose sealer
    /// hands out the chunks that carry the manifest last. Durable after
    /// the next [`flush`](Store::flush).
    pub fn put_chunk_at(&self, id: &[u8; 16], index: u64, sealed: &[u8]) -> Result<(), StoreError> {
        if sealed.len() as u64 > STRIDE {
            return Err(StoreError::Internal("a sealed chunk is too long".into()));
        }
        let offset = index
            .checked_mul(STRIDE)
            .ok_or_else(|| StoreError::Internal("chunk index out of range".into()))?;
        let blobs = &self.inner.blobs;
        blobs.with_file(id, true, |f| {
            f.write_all_at(sealed, offset)
                .map_err(|e| io_err("writing a chunk", e))
        })?;
        blobs.mark_dirty(id);
        Ok(())
    }

    /// A writer of the chunks of dossier `id` from chunk `first` on, in
    /// order, mostly past the page cache (see [`ChunkStream`]). With
    /// `truncate`, what the file held from `first` on is dropped (a
    /// transfer that resumes there); otherwise it stays until overwritten
    /// (the sender, who writes the first chunks last with
    /// [`put_chunk_at`](Store::put_chunk_at)).
    pub fn chunk_stream(
        &self,
        id: &[u8; 16],
        first: u64,
        truncate: bool,
    ) -> Result<ChunkStream, StoreError> {
        let blobs = &self.inner.blobs;
        let writer = ChunkWriter::create(&blobs.path(id), first, truncate)
            .map_err(|e| io_err("opening a chunk file", e))?;
        blobs.touch(id)?;
        Ok(ChunkStream {
            writer,
            store: self.clone(),
            id: *id,
        })
    }

    /// A reader of the chunks of dossier `id` from chunk `first` on, in
    /// order, past the page cache; `None` if none is held.
    pub fn chunk_reader(
        &self,
        id: &[u8; 16],
        first: u64,
    ) -> Result<Option<ChunkReader>, StoreError> {
        ChunkReader::open(&self.inner.blobs.path(id), first)
            .map_err(|e| io_err("opening a chunk file", e))
    }

    /// Chunk `index` of dossier `id`, if present.
    pub fn get_chunk(&self, id: &[u8; 16], index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(offset) = index.checked_mul(STRIDE) else {
            return Ok(None);
        };
        Ok(self
            .inner
            .blobs
            .with_file(id, false, |f| {
                let len = f
                    .metadata()
                    .map_err(|e| io_err("reading a chunk file", e))?
                    .len();
                if offset >= len {
                    return Ok(None);
                }
                let n = (len - offset).min(STRIDE) as usize;
                let mut buf = vec![0u8; n];
                f.read_exact_at(&mut buf, offset)
                    .map_err(|e| io_err("reading a chunk", e))?;
                Ok(Some(buf))
            })?
            .flatten())
    }

    /// How many whole chunks of dossier `id` are held from index 0: the
    /// index at which a transfer resumes. A short chunk at the end (the
    /// last chunk of a dossier, or one cut by a crash) is not counted, so
    /// it is sent again.
    pub fn chunk_count_contiguous(&self, id: &[u8; 16]) -> Result<u64, StoreError> {
        Ok(self.inner.blobs.len(id)? / STRIDE)
    }

    /// Total size in bytes of the chunks of dossier `id` held.
    pub fn chunk_bytes(&self, id: &[u8; 16]) -> Result<u64, StoreError> {
        self.inner.blobs.len(id)
    }

    /// Removes every chunk of dossier `id`; returns how many there were.
    pub fn remove_chunks(&self, id: &[u8; 16]) -> Result<u64, StoreError> {
        let blobs = &self.inner.blobs;
        let len = blobs.len(id)?;
        blobs
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        match fs::remove_file(blobs.path(id)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("removing a chunk file", e)),
        }
        Ok(len.div_ceil(STRIDE))
    }

    /// Stores the wrapped key of dossier `id` (opaque bytes; the caller
    /// wrapped it), in its own file `HOME/blobs/<id>.key` (0600), written
    /// atomically and synced: a key kept in sled would linger in its log
    /// after removal, and erasure must leave no copy in the node's files.
    ///
    /// The dossier is held from then on: a sweep of orphans
    /// ([`Store::sweep_orphans`]) leaves its files alone until its record
    /// exists, its key is destroyed, or [`Store::let_go`] is called.
    pub fn put_wrapped_key(&self, id: &[u8; 16], wrapped: &[u8]) -> Result<(), StoreError> {
        let blobs = &self.inner.blobs;
        blobs
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(*id);
        let path = blobs.key_path(id);
        let tmp = path.with_extension("key.tmp");
        let _ = fs::remove_file(&tmp);
        {
            let mut opts = OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let f = opts
                .open(&tmp)
                .map_err(|e| io_err("writing a dossier key", e))?;
            f.write_all_at(wrapped, 0)
                .and_then(|()| f.sync_all())
                .map_err(|e| io_err("writing a dossier key", e))?;
        }
        fs::rename(&tmp, &path).map_err(|e| io_err("writing a dossier key", e))?;
        File::open(&blobs.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err("syncing the chunk directory", e))
    }

    /// The wrapped key of dossier `id`, if it has not been destroyed.
    pub fn get_wrapped_key(&self, id: &[u8; 16]) -> Result<Option<Vec<u8>>, StoreError> {
        match fs::read(self.inner.blobs.key_path(id)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("reading a dossier key", e)),
        }
    }

    /// Destroys the key of dossier `id`: overwrites its file with zeros,
    /// syncs, removes it and syncs the directory. Once this returns, the
    /// dossier's chunks can no longer be opened here (crypto-shredding), and
    /// no file of the node holds the key. Says whether there was a key.
    /// Blocking; from async code, run it in `tokio::task::spawn_blocking`.
    pub fn destroy_key(&self, id: &[u8; 16]) -> Result<bool, StoreError> {
        let blobs = &self.inner.blobs;
        let destroyed = blobs.destroy_key_file(id)?;
        blobs
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        Ok(destroyed)
    }
}

impl Blobs {
    /// Overwrites the key file of `id` with zeros, syncs, removes it and
    /// syncs the directory; says whether there was one.
    pub(super) fn destroy_key_file(&self, id: &[u8; 16]) -> Result<bool, StoreError> {
        self.destroy_file(&self.key_path(id))
    }

    /// Overwrites `path` with zeros, syncs, removes it and syncs the
    /// directory; says whether there was a file.
    pub(super) fn destroy_file(&self, path: &Path) -> Result<bool, StoreError> {
        let len = match fs::metadata(path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_err("destroying a dossier key", e)),
        };
        if let Ok(f) = OpenOptions::new().write(true).open(path) {
            let zeros = vec![0u8; usize::try_from(len).unwrap_or(0)];
            f.write_all_at(&zeros, 0)
                .and_then(|()| f.sync_all())
                .map_err(|e| io_err("destroying a dossier key", e))?;
        }
        fs::remove_file(path).map_err(|e| io_err("destroying a dossier key", e))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err("syncing the chunk directory", e))?;
        Ok(true)
    }
}

/// Chunks of one dossier written in order through the store: a
/// [`ChunkWriter`] whose file the store's flushes sync. A chunk pushed is
/// in the file after the next [`write_out`](ChunkStream::write_out) (the
/// writer gathers about 1 MiB before it writes), and durable after the
/// store's flush that follows.
pub struct ChunkStream {
    writer: ChunkWriter,
    store: Store,
    id: [u8; 16],
}

impl std::fmt::Debug for ChunkStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkStream")
            .field("next", &self.writer.next_index())
            .finish_non_exhaustive()
    }
}

impl ChunkStream {
    /// The index of the next chunk to push.
    pub fn next_index(&self) -> u64 {
        self.writer.next_index()
    }

    /// Adds chunk `index`, which must be the next one.
    pub fn push(&mut self, index: u64, sealed: &[u8]) -> Result<(), StoreError> {
        self.writer
            .push(index, sealed)
            .map_err(|e| io_err("writing a chunk", e))?;
        self.store.inner.blobs.mark_dirty(&self.id);
        Ok(())
    }

    /// Puts every chunk pushed so far into the file; the store's next
    /// flush makes them durable.
    pub fn write_out(&mut self) -> Result<(), StoreError> {
        self.writer
            .write_out()
            .map_err(|e| io_err("writing a chunk", e))?;
        self.store.inner.blobs.touch(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreKeySource;

    fn full(b: u8) -> Vec<u8> {
        vec![b; SEALED_CHUNK_LEN]
    }

    #[test]
    fn dossiers_do_not_mix() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open(home.path(), StoreKeySource::KeyFile).expect("open");
        let a = [0xAAu8; 16];
        let mut b = a;
        b[15] = 0xAB;
        for i in 0..3 {
            store.put_chunk(&a, i, &full(1)).expect("put");
        }
        store.put_chunk(&a, 3, &[1u8; 10]).expect("put last");
        store.put_chunk(&b, 0, &[2u8; 7]).expect("put");
        assert_eq!(store.chunk_count_contiguous(&a).expect("count"), 3);
        assert_eq!(store.chunk_bytes(&a).expect("bytes"), 3 * STRIDE + 10);
        assert_eq!(store.get_chunk(&a, 3).expect("get"), Some(vec![1u8; 10]));
        assert_eq!(store.get_chunk(&a, 4).expect("get"), None);
        assert_eq!(store.chunk_bytes(&b).expect("bytes"), 7);
        assert_eq!(store.remove_chunks(&a).expect("remove"), 4);
        assert_eq!(store.chunk_count_contiguous(&a).expect("count"), 0);
        assert_eq!(store.get_chunk(&b, 0).expect("get"), Some(vec![2u8; 7]));
        assert_eq!(store.remove_chunks(&a).expect("remove"), 0);
    }

    #[test]
    fn chunks_go_in_order_and_a_rewrite_drops_what_follows() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open(home.path(), StoreKeySource::KeyFile).expect("open");
        let id = [7u8; 16];
        assert!(
            store.put_chunk(&id, 1, &full(1)).is_err(),
            "a gap is refused"
        );
        store.put_chunk(&id, 0, &full(1)).expect("0");
        store.put_chunk(&id, 1, &full(2)).expect("1");
        // A torn write of chunk 2 (cut by a crash) is not counted…
        store.put_chunk(&id, 2, &full(3)[..100]).expect("torn");
        assert_eq!(store.chunk_count_contiguous(&id).expect("count"), 2);
        // …and writing chunk 1 again drops everything after it.
        store.put_chunk(&id, 1, &full(4)).expect("again");
        assert_eq!(store.chunk_bytes(&id).expect("bytes"), 2 * STRIDE);
        assert_eq!(store.get_chunk(&id, 1).expect("get"), Some(full(4)));
        store.flush().expect("flush");
        drop(store);
        let store = Store::open(home.path(), StoreKeySource::KeyFile).expect("reopen");
        assert_eq!(store.chunk_count_contiguous(&id).expect("count"), 2);
    }
}
