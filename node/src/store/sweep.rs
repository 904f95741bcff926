//! Orphans: dossier files in `HOME/blobs/` that no record accounts for.
//!
//! A dossier's key and chunks are written before its record (the outbox
//! record once it is sealed, the transfer record once its key is kept). A
//! crash in between, or a failure the writer could not clean up after,
//! leaves a sealed copy of patient data with its key that neither purge
//! nor revocation can reach, since both start from a record. A sweep
//! destroys such files: the key first (overwritten, then removed), then
//! the chunks, then any half-written key (`<id>.key.tmp`).
//!
//! Dossiers whose files are being written are *held* (from
//! [`Store::put_wrapped_key`] on) and a sweep leaves them alone, so a
//! sweep may run while the node works.

use std::collections::BTreeSet;
use std::fs;
use std::io;

use super::{Store, StoreError, Tree};

/// Suffixes of the files a dossier has in `HOME/blobs/`.
const SUFFIXES: [&str; 3] = [".sealed", ".key", ".key.tmp"];

/// The dossier id a file of `HOME/blobs/` belongs to, if it is one of a
/// dossier's files.
fn id_of(name: &str) -> Option<[u8; 16]> {
    let stem = SUFFIXES.iter().find_map(|s| name.strip_suffix(s))?;
    let mut id = [0u8; 16];
    hex::decode_to_slice(stem, &mut id).ok()?;
    Some(id)
}

impl Store {
    /// Lets go of a dossier held since its key was stored (its record now
    /// exists, or it was given up and its files destroyed).
    pub fn let_go(&self, id: &[u8; 16]) {
        self.inner
            .blobs
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Destroys the files of every dossier in `HOME/blobs/` that has no
    /// record in any of `trees` and is not held (see the module
    /// documentation); returns the ids of those destroyed. Blocking.
    pub fn sweep_orphans(&self, trees: &[Tree]) -> Result<Vec<[u8; 16]>, StoreError> {
        let blobs = &self.inner.blobs;
        let ids: BTreeSet<[u8; 16]> = fs::read_dir(&blobs.dir)
            .map_err(|e| StoreError::io("listing the chunk directory", e))?
            .filter_map(|entry| {
                let name = entry.ok()?.file_name();
                id_of(name.to_str()?)
            })
            .collect();
        let mut destroyed = Vec::new();
        for id in ids {
            // Held for the whole check: a dossier being stored now waits
            // for it, or is skipped.
            let mut held = blobs.held.lock().unwrap_or_else(|p| p.into_inner());
            let mut recorded = false;
            for tree in trees {
                if self.contains(*tree, &id)? {
                    recorded = true;
                    break;
                }
            }
            if recorded {
                held.remove(&id);
                continue;
            }
            if held.contains(&id) {
                continue;
            }
            blobs.destroy_key_file(&id)?;
            self.remove_chunks(&id)?;
            let tmp = blobs.key_path(&id).with_extension("key.tmp");
            blobs.destroy_file(&tmp)?;
            drop(held);
            destroyed.push(id);
        }
        Ok(destroyed)
    }

    /// Whether any file of dossier `id` (key or chunks) is in `HOME/blobs/`.
    pub fn has_files(&self, id: &[u8; 16]) -> Result<bool, StoreError> {
        let blobs = &self.inner.blobs;
        for path in [blobs.key_path(id), blobs.path(id)] {
            match fs::metadata(&path) {
                Ok(_) => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("reading the chunk directory", e)),
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreKeySource;

    #[test]
    fn orphans_go_and_recorded_or_held_dossiers_stay() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open(home.path(), StoreKeySource::KeyFile).expect("open");
        let recorded = [1u8; 16];
        let orphan = [2u8; 16];
        let held = [3u8; 16];
        let torn = [4u8; 16];
        for id in [recorded, orphan, held] {
            store.put_wrapped_key(&id, b"wrapped key").expect("key");
            store.put_chunk(&id, 0, b"sealed chunk").expect("chunk");
        }
        store.flush().expect("flush");
        store
            .put(Tree::Outbox, &recorded, &"record")
            .expect("record");
        // The orphan was left by a writer that crashed: nobody holds it
        // in this process.
        store.let_go(&orphan);
        // A key cut short while it was written.
        let blobs = home.path().join("blobs");
        fs::write(
            blobs.join(format!("{}.key.tmp", hex::encode(torn))),
            b"half",
        )
        .expect("tmp");
        fs::write(blobs.join("README"), b"not a dossier").expect("other file");

        let mut gone = store
            .sweep_orphans(&[Tree::Outbox, Tree::Inbox, Tree::Transfers])
            .expect("sweep");
        gone.sort_unstable();
        assert_eq!(gone, vec![orphan, torn]);
        assert!(!store.has_files(&orphan).expect("files"));
        assert_eq!(store.get_wrapped_key(&orphan).expect("key"), None);
        assert!(store.has_files(&recorded).expect("files"));
        assert!(store.has_files(&held).expect("files"));
        assert_eq!(
            store.get_chunk(&recorded, 0).expect("chunk"),
            Some(b"sealed chunk".to_vec())
        );
        assert!(blobs.join("README").exists());
        let left: Vec<String> = fs::read_dir(&blobs)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !left
                .iter()
                .any(|n| n.starts_with(&hex::encode(orphan)) || n.starts_with(&hex::encode(torn))),
            "{left:?}"
        );
        // Once let go without a record, the held dossier is an orphan.
        store.let_go(&held);
        assert_eq!(
            store.sweep_orphans(&[Tree::Outbox]).expect("sweep"),
            vec![held]
        );
    }
}
