//! Typed, encrypted records in named trees.
//!
//! A value is serialized with `serde_json` and sealed (see `crypt`) before
//! it reaches `sled`; the serialized bytes are wiped from memory once
//! sealed or decoded. Record keys are identifiers, kept in the clear so
//! that trees stay ordered and scannable.

use serde::de::DeserializeOwned;
use serde::Serialize;
use zeroize::Zeroizing;

use super::crypt::{CryptError, RecordOpener};
use super::{Store, StoreError};

/// A tree of records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Tree {
    /// Dossiers waiting to go out, and their progress.
    Outbox,
    /// Dossiers received.
    Inbox,
    /// Transfers under way, in either direction.
    Transfers,
    /// Dossier metadata.
    Dossiers,
    /// Known peers.
    Peers,
    /// Node-wide settings and counters.
    Meta,
    /// The node's ledger: one signed entry per record, keyed by its
    /// sequence number (8 bytes, big-endian).
    Ledger,
}

impl Tree {
    /// Every tree, in a fixed order.
    pub const ALL: [Tree; 7] = [
        Tree::Outbox,
        Tree::Inbox,
        Tree::Transfers,
        Tree::Dossiers,
        Tree::Peers,
        Tree::Meta,
        Tree::Ledger,
    ];

    /// The tree's name in the database (also bound into each record's
    /// encryption).
    pub const fn name(self) -> &'static str {
        match self {
            Tree::Outbox => "outbox",
            Tree::Inbox => "inbox",
            Tree::Transfers => "transfers",
            Tree::Dossiers => "dossiers",
            Tree::Peers => "peers",
            Tree::Meta => "meta",
            Tree::Ledger => "ledger",
        }
    }

    const fn index(self) -> usize {
        match self {
            Tree::Outbox => 0,
            Tree::Inbox => 1,
            Tree::Transfers => 2,
            Tree::Dossiers => 3,
            Tree::Peers => 4,
            Tree::Meta => 5,
            Tree::Ledger => 6,
        }
    }
}

impl std::fmt::Display for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Store {
    fn tree(&self, tree: Tree) -> &sled::Tree {
        &self.inner.records[tree.index()]
    }

    /// Stores `value` as the record `key` of `tree`, replacing any previous
    /// one. Durable after the next [`flush`](Store::flush).
    pub fn put<T: Serialize + ?Sized>(
        &self,
        tree: Tree,
        key: &[u8],
        value: &T,
    ) -> Result<(), StoreError> {
        let json = Zeroizing::new(
            serde_json::to_vec(value).map_err(|e| StoreError::encode(tree.name(), &e))?,
        );
        let sealed = self
            .inner
            .cipher
            .seal(tree.name(), key, &json)
            .map_err(|e| self.crypt_error(tree, e))?;
        self.tree(tree)
            .insert(key, sealed)
            .map_err(|e| self.sled_error(e, &format!("writing to the {tree} tree")))?;
        Ok(())
    }

    /// The record `key` of `tree`, if there is one.
    pub fn get<T: DeserializeOwned>(
        &self,
        tree: Tree,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        let sealed = self
            .tree(tree)
            .get(key)
            .map_err(|e| self.sled_error(e, &format!("reading the {tree} tree")))?;
        sealed
            .map(|sealed| self.decode(tree, key, &sealed))
            .transpose()
    }

    /// Removes the record `key` of `tree`; says whether there was one.
    pub fn remove(&self, tree: Tree, key: &[u8]) -> Result<bool, StoreError> {
        self.tree(tree)
            .remove(key)
            .map(|old| old.is_some())
            .map_err(|e| self.sled_error(e, &format!("removing from the {tree} tree")))
    }

    /// Whether `tree` holds a record `key` (without decrypting it).
    pub fn contains(&self, tree: Tree, key: &[u8]) -> Result<bool, StoreError> {
        self.tree(tree)
            .contains_key(key)
            .map_err(|e| self.sled_error(e, &format!("reading the {tree} tree")))
    }

    /// Every record of `tree`, in key order.
    pub fn scan<T: DeserializeOwned>(&self, tree: Tree) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
        self.scan_prefix(tree, &[])
    }

    /// The records of `tree` whose key starts with `prefix`, in key order.
    pub fn scan_prefix<T: DeserializeOwned>(
        &self,
        tree: Tree,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
        self.tree(tree)
            .scan_prefix(prefix)
            .map(|item| {
                let (key, sealed) =
                    item.map_err(|e| self.sled_error(e, &format!("reading the {tree} tree")))?;
                let value = self.decode(tree, &key, &sealed)?;
                Ok((key.to_vec(), value))
            })
            .collect()
    }

    /// Calls `visit` with each record of `tree`, in key order, decoded on
    /// its own: a damaged record comes as its error and does not hide the
    /// ones after it.
    pub fn scan_each<T: DeserializeOwned>(
        &self,
        tree: Tree,
        mut visit: impl FnMut(&[u8], Result<T, StoreError>),
    ) -> Result<(), StoreError> {
        for item in self.tree(tree).iter() {
            let (key, sealed) =
                item.map_err(|e| self.sled_error(e, &format!("reading the {tree} tree")))?;
            visit(&key, self.decode(tree, &key, &sealed));
        }
        Ok(())
    }

    /// Stores `bytes` as the record `key` of `tree`, sealed as they are
    /// (no JSON): for records that have their own binary encoding, like
    /// ledger entries. Durable after the next [`flush`](Store::flush).
    pub fn put_bytes(&self, tree: Tree, key: &[u8], bytes: &[u8]) -> Result<(), StoreError> {
        let sealed = self
            .inner
            .cipher
            .seal(tree.name(), key, bytes)
            .map_err(|e| self.crypt_error(tree, e))?;
        self.tree(tree)
            .insert(key, sealed)
            .map_err(|e| self.sled_error(e, &format!("writing to the {tree} tree")))?;
        Ok(())
    }

    /// The record `key` of `tree` stored with [`put_bytes`](Store::put_bytes).
    /// The bytes are wiped when dropped.
    pub fn get_bytes(
        &self,
        tree: Tree,
        key: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let sealed = self
            .tree(tree)
            .get(key)
            .map_err(|e| self.sled_error(e, &format!("reading the {tree} tree")))?;
        sealed
            .map(|sealed| {
                self.inner
                    .cipher
                    .open(tree.name(), key, &sealed)
                    .map_err(|e| self.crypt_error(tree, e))
            })
            .transpose()
    }

    /// Calls `visit` with each record of `tree` stored with
    /// [`put_bytes`](Store::put_bytes) whose key is in `from..to`, in key
    /// order: its key, and either its bytes or why it cannot be opened (a
    /// damaged record does not hide the ones after it). Nothing is kept:
    /// each record is opened into one buffer, reused, and wiped at the end.
    /// Stops at the first error `visit` returns.
    pub fn visit_range_bytes<E: From<StoreError>>(
        &self,
        tree: Tree,
        from: &[u8],
        to: &[u8],
        mut visit: impl FnMut(&[u8], Result<&[u8], StoreError>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut opener = RecordOpener::default();
        for item in self.tree(tree).range(from..to) {
            let (key, sealed) =
                item.map_err(|e| self.sled_error(e, &format!("reading the {tree} tree")))?;
            let opened = match opener.open(&self.inner.cipher, tree.name(), &key, &sealed) {
                Ok(bytes) => Ok(bytes),
                Err(e) => Err(self.crypt_error(tree, e)),
            };
            visit(&key, opened)?;
        }
        Ok(())
    }

    fn decode<T: DeserializeOwned>(
        &self,
        tree: Tree,
        key: &[u8],
        sealed: &[u8],
    ) -> Result<T, StoreError> {
        let json = self
            .inner
            .cipher
            .open(tree.name(), key, sealed)
            .map_err(|e| self.crypt_error(tree, e))?;
        serde_json::from_slice(&json).map_err(|e| StoreError::decode(tree.name(), &e))
    }

    fn crypt_error(&self, tree: Tree, error: CryptError) -> StoreError {
        match error {
            CryptError::Random => StoreError::Random,
            CryptError::Key => StoreError::Internal("AES-256-GCM refused the record key".into()),
            CryptError::Malformed => self.corrupt(format!(
                "a record of the {tree} tree is not a sealed record"
            )),
            CryptError::Authentication => self.corrupt(format!(
                "a record of the {tree} tree fails authentication (damaged or tampered with)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreKeySource;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Rec {
        n: u32,
        s: String,
    }

    fn store() -> (tempfile::TempDir, Store) {
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open(home.path(), StoreKeySource::KeyFile).expect("open");
        (home, store)
    }

    #[test]
    fn tree_names_are_distinct_and_none_prefixes_another() {
        for a in Tree::ALL {
            assert_eq!(Tree::ALL[a.index()], a);
            for b in Tree::ALL {
                if a != b {
                    assert!(!a.name().starts_with(b.name()));
                }
            }
        }
    }

    #[test]
    fn trees_are_separate() {
        let (_home, store) = store();
        let r = Rec {
            n: 1,
            s: "a".into(),
        };
        store.put(Tree::Inbox, b"k", &r).expect("put");
        assert_eq!(store.get::<Rec>(Tree::Inbox, b"k").expect("get"), Some(r));
        assert_eq!(store.get::<Rec>(Tree::Outbox, b"k").expect("get"), None);
        assert!(store.contains(Tree::Inbox, b"k").expect("contains"));
        assert!(!store.contains(Tree::Outbox, b"k").expect("contains"));
    }

    #[test]
    fn a_record_moved_to_another_key_is_refused() {
        let (_home, store) = store();
        store
            .put(
                Tree::Peers,
                b"a",
                &Rec {
                    n: 1,
                    s: "x".into(),
                },
            )
            .expect("put");
        let raw = store
            .tree(Tree::Peers)
            .get(b"a")
            .expect("raw")
            .expect("present");
        store.tree(Tree::Peers).insert(b"b", raw).expect("insert");
        let err = store.get::<Rec>(Tree::Peers, b"b").expect_err("moved");
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    }

    #[test]
    fn wrong_type_is_a_decode_error_without_the_value() {
        let (_home, store) = store();
        store
            .put(Tree::Meta, b"k", &"ZYXWVUTSRQ-SECRET")
            .expect("put");
        let err = store.get::<u64>(Tree::Meta, b"k").expect_err("type");
        assert!(matches!(err, StoreError::Decode { tree: "meta", .. }));
        assert!(!format!("{err} {err:?}").contains("ZYXWVUTSRQ"));
    }

    #[test]
    fn scan_prefix_and_remove() {
        let (_home, store) = store();
        for (k, n) in [(&b"a1"[..], 1), (b"a2", 2), (b"b1", 3)] {
            store
                .put(
                    Tree::Transfers,
                    k,
                    &Rec {
                        n,
                        s: String::new(),
                    },
                )
                .expect("put");
        }
        let a: Vec<(Vec<u8>, Rec)> = store.scan_prefix(Tree::Transfers, b"a").expect("scan");
        assert_eq!(a.iter().map(|(_, r)| r.n).collect::<Vec<_>>(), vec![1, 2]);
        assert!(store.remove(Tree::Transfers, b"a1").expect("remove"));
        assert!(!store.remove(Tree::Transfers, b"a1").expect("remove"));
        assert_eq!(store.scan::<Rec>(Tree::Transfers).expect("scan").len(), 2);
    }
}
