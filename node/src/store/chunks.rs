//! Sealed dossier chunks and wrapped per-dossier keys.
//!
//! Chunks arrive sealed by their dossier's key (the AEAD stream of the
//! protocol's dossier format) and are stored byte for byte: the outbox
//! sends them, the inbox keeps them as received, nobody re-encrypts. The
//! key of a chunk is `dossier id (16 bytes) || chunk index (u64,
//! big-endian)`, so a dossier's chunks are contiguous and in index order.
//!
//! Per-dossier keys arrive wrapped by the caller (with
//! [`Store::key_wrapping_secret`]) and are stored as opaque bytes under the
//! dossier id. Destroying one erases its dossier.

use super::{Store, StoreError};

/// Name of the chunk tree.
pub(crate) const CHUNKS_TREE: &str = "chunks";
/// Name of the wrapped-key tree.
pub(crate) const KEYS_TREE: &str = "keys";

const ID_LEN: usize = 16;
const CHUNK_KEY_LEN: usize = ID_LEN + 8;

fn chunk_key(id: &[u8; ID_LEN], index: u64) -> [u8; CHUNK_KEY_LEN] {
    let mut key = [0u8; CHUNK_KEY_LEN];
    key[..ID_LEN].copy_from_slice(id);
    key[ID_LEN..].copy_from_slice(&index.to_be_bytes());
    key
}

fn chunk_index(key: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = key.get(ID_LEN..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

impl Store {
    /// Stores chunk `index` of dossier `id`, sealed, as it is (replacing a
    /// previous copy). Durable after the next [`flush`](Store::flush).
    pub fn put_chunk(&self, id: &[u8; 16], index: u64, sealed: &[u8]) -> Result<(), StoreError> {
        self.inner
            .chunks
            .insert(chunk_key(id, index), sealed)
            .map(|_| ())
            .map_err(|e| self.sled_error(e, "writing a chunk"))
    }

    /// Chunk `index` of dossier `id`, if present.
    pub fn get_chunk(&self, id: &[u8; 16], index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner
            .chunks
            .get(chunk_key(id, index))
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(|e| self.sled_error(e, "reading a chunk"))
    }

    /// How many chunks of dossier `id` are present from index 0 without a
    /// gap: the index at which a transfer resumes.
    pub fn chunk_count_contiguous(&self, id: &[u8; 16]) -> Result<u64, StoreError> {
        let mut next = 0u64;
        for key in self.inner.chunks.scan_prefix(id).keys() {
            let key = key.map_err(|e| self.sled_error(e, "reading chunks"))?;
            let index = chunk_index(&key)
                .filter(|_| key.len() == CHUNK_KEY_LEN)
                .ok_or_else(|| self.corrupt("a chunk key has the wrong length"))?;
            if index != next {
                break;
            }
            next += 1;
        }
        Ok(next)
    }

    /// Total size in bytes of the chunks of dossier `id` held.
    pub fn chunk_bytes(&self, id: &[u8; 16]) -> Result<u64, StoreError> {
        let mut total = 0u64;
        for item in self.inner.chunks.scan_prefix(id) {
            let (_, value) = item.map_err(|e| self.sled_error(e, "reading chunks"))?;
            total += value.len() as u64;
        }
        Ok(total)
    }

    /// Removes every chunk of dossier `id`, atomically; returns how many
    /// there were. Durable after the next [`flush`](Store::flush).
    pub fn remove_chunks(&self, id: &[u8; 16]) -> Result<u64, StoreError> {
        let mut batch = sled::Batch::default();
        let mut count = 0u64;
        for key in self.inner.chunks.scan_prefix(id).keys() {
            let key = key.map_err(|e| self.sled_error(e, "reading chunks"))?;
            batch.remove(key);
            count += 1;
        }
        self.inner
            .chunks
            .apply_batch(batch)
            .map_err(|e| self.sled_error(e, "removing chunks"))?;
        Ok(count)
    }

    /// Stores the wrapped key of dossier `id` (opaque bytes; the caller
    /// wrapped it). Durable after the next [`flush`](Store::flush).
    pub fn put_wrapped_key(&self, id: &[u8; 16], wrapped: &[u8]) -> Result<(), StoreError> {
        self.inner
            .keys
            .insert(id, wrapped)
            .map(|_| ())
            .map_err(|e| self.sled_error(e, "writing a dossier key"))
    }

    /// The wrapped key of dossier `id`, if it has not been destroyed.
    pub fn get_wrapped_key(&self, id: &[u8; 16]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner
            .keys
            .get(id)
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(|e| self.sled_error(e, "reading a dossier key"))
    }

    /// Destroys the key of dossier `id`, then flushes: once this returns,
    /// the dossier's chunks can no longer be opened here (crypto-shredding).
    /// Says whether there was a key. Blocks on the flush; from async code,
    /// run it in `tokio::task::spawn_blocking`.
    pub fn destroy_key(&self, id: &[u8; 16]) -> Result<bool, StoreError> {
        let existed = self
            .inner
            .keys
            .remove(id)
            .map_err(|e| self.sled_error(e, "destroying a dossier key"))?
            .is_some();
        self.flush()?;
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreKeySource;

    #[test]
    fn chunk_keys_sort_by_index() {
        let id = [3u8; 16];
        let mut keys: Vec<_> = [300u64, 2, 1 << 40, 0, 255, 256]
            .iter()
            .map(|&i| chunk_key(&id, i))
            .collect();
        keys.sort();
        let order: Vec<u64> = keys.iter().filter_map(|k| chunk_index(k)).collect();
        assert_eq!(order, vec![0, 2, 255, 256, 300, 1 << 40]);
    }

    #[test]
    fn dossiers_do_not_mix() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open(home.path(), StoreKeySource::KeyFile).expect("open");
        let a = [0xAAu8; 16];
        let mut b = a;
        b[15] = 0xAB;
        for i in 0..3 {
            store.put_chunk(&a, i, &[1u8; 10]).expect("put");
        }
        store.put_chunk(&b, 0, &[2u8; 7]).expect("put");
        assert_eq!(store.chunk_count_contiguous(&a).expect("count"), 3);
        assert_eq!(store.chunk_bytes(&a).expect("bytes"), 30);
        assert_eq!(store.chunk_bytes(&b).expect("bytes"), 7);
        assert_eq!(store.remove_chunks(&a).expect("remove"), 3);
        assert_eq!(store.chunk_count_contiguous(&a).expect("count"), 0);
        assert_eq!(store.chunk_count_contiguous(&b).expect("count"), 1);
        assert_eq!(store.remove_chunks(&a).expect("remove"), 0);
    }
}
