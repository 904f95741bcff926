//! `HOME/peers.json`: where practitioners' nodes were reached.
//!
//! A small JSON file, not patient data: per known node, its PeerId (once a
//! session verified it), its addresses, the practitioner its credential
//! named, when it was last verified and the last error met reaching it.
//! Written atomically (temporary file, fsync, rename).
//!
//! ```json
//! { "version": 1,
//!   "peers": [ { "peer_id": "12D3KooW…", "addrs": ["/ip4/192.0.2.10/tcp/4001"],
//!                "national_id": "810001000016", "name": "CLAIRE MARTIN-TEST",
//!                "last_seen": "2025-01-01T12:00:00Z", "last_error": null } ] }
//! ```
//!
//! The national id and name are only ever written from a verified session
//! ([`AddressBook::record_verified`]); an address typed by the user carries
//! no identity until a session verifies whoever answers there.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use confrere_protocol::UnixTime;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};

use super::split_peer;
use crate::files;

/// The file's name in the home.
pub const PEERS_FILE: &str = "peers.json";

/// The file format version.
const FORMAT_VERSION: u32 = 1;

/// Largest file accepted.
const MAX_FILE_LEN: u64 = 8 * 1024 * 1024;

/// Addresses kept per entry (the most recent).
const MAX_ADDRS: usize = 16;

/// Longest error message kept.
const MAX_ERROR_LEN: usize = 500;

/// An example for error messages.
const EXAMPLE: &str = "/ip4/192.0.2.10/tcp/4001 or /ip4/192.0.2.10/udp/4001/quic-v1/p2p/12D3KooW…";

/// One known node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its libp2p PeerId (base58), once known.
    #[serde(default)]
    pub peer_id: Option<String>,
    /// Its addresses, multiaddrs without `/p2p/`.
    #[serde(default)]
    pub addrs: Vec<String>,
    /// The practitioner's national id, from a verified session.
    #[serde(default)]
    pub national_id: Option<String>,
    /// The practitioner's name, from a verified session.
    #[serde(default)]
    pub name: Option<String>,
    /// When a session last verified it (RFC 3339).
    #[serde(default)]
    pub last_seen: Option<String>,
    /// The last error met reaching it, cleared by a verified session.
    #[serde(default)]
    pub last_error: Option<String>,
    /// End of the node credential its last verified session presented
    /// (RFC 3339): a renewed credential shows here from the next session.
    #[serde(default)]
    pub credential_not_after: Option<String>,
}

impl Entry {
    /// Its PeerId, if known and well-formed.
    pub fn peer(&self) -> Option<PeerId> {
        self.peer_id.as_deref().and_then(|p| p.parse().ok())
    }

    /// Its addresses that parse.
    pub fn multiaddrs(&self) -> Vec<Multiaddr> {
        self.addrs.iter().filter_map(|a| a.parse().ok()).collect()
    }

    fn last_seen_time(&self) -> Option<UnixTime> {
        self.last_seen.as_deref().and_then(UnixTime::parse_rfc3339)
    }

    fn merge_addr(&mut self, addr: String) {
        if let Some(pos) = self.addrs.iter().position(|a| *a == addr) {
            self.addrs.remove(pos);
        }
        self.addrs.push(addr);
        if self.addrs.len() > MAX_ADDRS {
            let excess = self.addrs.len() - MAX_ADDRS;
            self.addrs.drain(..excess);
        }
    }
}

/// An address the user gave that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddrError {
    /// Not a multiaddr at all.
    #[error("'{input}' is not a multiaddr ({reason}); write it like {EXAMPLE}")]
    NotAMultiaddr {
        /// What was given.
        input: String,
        /// What the parser said.
        reason: String,
    },
    /// A multiaddr with nothing to dial (only a node id), or with `/p2p/`
    /// elsewhere than at the end.
    #[error("'{input}' gives no address to dial; write it like {EXAMPLE}")]
    NotDialable {
        /// What was given.
        input: String,
    },
}

/// The address book could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddressBookError {
    /// Reading failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file is not an address book.
    #[error("{path} is damaged: {reason}; move it aside to start an empty address book")]
    Damaged {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Writing failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },
}

#[derive(Serialize, Deserialize)]
struct FileFormat {
    version: u32,
    #[serde(default)]
    peers: Vec<Entry>,
}

/// The address book of a home; see the module docs. Changes are in memory
/// until [`save`](Self::save).
#[derive(Clone, Debug)]
pub struct AddressBook {
    path: PathBuf,
    entries: Vec<Entry>,
}

/// Parses a multiaddr the user gave: the address without `/p2p/`, and the
/// PeerId if it had one.
pub fn parse_addr(input: &str) -> Result<(Multiaddr, Option<PeerId>), AddrError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(AddrError::NotAMultiaddr {
            input: String::new(),
            reason: "nothing was given".to_owned(),
        });
    }
    let addr: Multiaddr =
        input
            .parse()
            .map_err(|e: libp2p::multiaddr::Error| AddrError::NotAMultiaddr {
                input: input.to_owned(),
                reason: e.to_string(),
            })?;
    let (bare, peer) = split_peer(&addr);
    let not_dialable = || AddrError::NotDialable {
        input: input.to_owned(),
    };
    if bare.is_empty() || bare.iter().any(|p| matches!(p, Protocol::P2p(_))) {
        return Err(not_dialable());
    }
    Ok((bare, peer))
}

impl AddressBook {
    /// Reads `HOME/peers.json`; an absent file is an empty book.
    pub fn load(home: &Path) -> Result<Self, AddressBookError> {
        let path = home.join(PEERS_FILE);
        let shown = path.display().to_string();
        let read_err = |source| AddressBookError::Read {
            path: shown.clone(),
            source,
        };
        let len = match fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(AddressBook {
                    path,
                    entries: Vec::new(),
                })
            }
            Err(e) => return Err(read_err(e)),
        };
        let damaged = |reason: String| AddressBookError::Damaged {
            path: shown.clone(),
            reason,
        };
        if len > MAX_FILE_LEN {
            return Err(damaged(format!(
                "{len} bytes, more than the {MAX_FILE_LEN} an address book may hold"
            )));
        }
        let text = fs::read(&path).map_err(read_err)?;
        let file: FileFormat =
            serde_json::from_slice(&text).map_err(|e| damaged(format!("not valid JSON: {e}")))?;
        if file.version != FORMAT_VERSION {
            return Err(damaged(format!(
                "format version {}, this node reads version {FORMAT_VERSION}",
                file.version
            )));
        }
        Ok(AddressBook {
            path,
            entries: file.peers,
        })
    }

    /// The file this book is saved to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Adds an address the user gave, with or without a `/p2p/PEER_ID`
    /// suffix, to the entry of that node (or of that address), or to a new
    /// one; returns the entry.
    pub fn add(&mut self, multiaddr: &str) -> Result<Entry, AddrError> {
        let (bare, peer) = parse_addr(multiaddr)?;
        let addr = bare.to_string();
        let index = match peer {
            Some(peer) => {
                let id = peer.to_base58();
                // Its entry, or one made from this address before the node
                // was known, or a new one.
                let found = self.position_by_peer(&id).or_else(|| {
                    self.entries
                        .iter()
                        .position(|e| e.peer_id.is_none() && e.addrs.contains(&addr))
                });
                match found {
                    Some(i) => {
                        self.entries[i].peer_id = Some(id);
                        i
                    }
                    None => self.push(Some(id)),
                }
            }
            None => self
                .entries
                .iter()
                .position(|e| e.addrs.contains(&addr))
                .unwrap_or_else(|| self.push(None)),
        };
        self.entries[index].merge_addr(addr);
        Ok(self.entries[index].clone())
    }

    /// Records that a session verified `peer`, a node of the practitioner
    /// `national_id` / `name`, reachable at `addrs`: entries that only knew
    /// one of these addresses are folded into the node's entry, and its
    /// last error is cleared.
    pub fn record_verified(
        &mut self,
        peer: &PeerId,
        national_id: &str,
        name: &str,
        addrs: &[Multiaddr],
        now: UnixTime,
    ) -> Entry {
        let id = peer.to_base58();
        let addrs: Vec<String> = addrs.iter().map(|a| split_peer(a).0.to_string()).collect();
        let shares_addr =
            |e: &Entry| e.peer_id.is_none() && e.addrs.iter().any(|a| addrs.contains(a));
        let index = match self.position_by_peer(&id) {
            Some(i) => i,
            None => match self.entries.iter().position(shares_addr) {
                Some(i) => i,
                None => self.push(None),
            },
        };
        self.entries[index].peer_id = Some(id.clone());
        // Fold the other address-only entries for these addresses into it.
        let mut folded = Vec::new();
        self.entries.retain_mut(|e| {
            if shares_addr(e) {
                folded.append(&mut e.addrs);
                false
            } else {
                true
            }
        });
        let Some(index) = self.position_by_peer(&id) else {
            // Unreachable: the entry was just given this PeerId.
            return Entry::default();
        };
        let entry = &mut self.entries[index];
        for addr in folded.into_iter().chain(addrs) {
            entry.merge_addr(addr);
        }
        entry.national_id = Some(national_id.to_owned());
        entry.name = Some(name.to_owned());
        entry.last_seen = Some(now.to_rfc3339());
        entry.last_error = None;
        entry.clone()
    }

    /// Notes the end of the credential a session of `peer` just verified.
    pub fn record_credential_end(&mut self, peer: &PeerId, not_after: UnixTime) {
        if let Some(i) = self.position_by_peer(&peer.to_base58()) {
            self.entries[i].credential_not_after = Some(not_after.to_rfc3339());
        }
    }

    /// Records an error met reaching a node, named by its PeerId or by one
    /// of its addresses. Returns whether an entry matched.
    pub fn record_error(&mut self, peer_or_addr: &str, msg: &str) -> bool {
        let key = peer_or_addr.trim();
        let (as_addr, as_peer) = match parse_addr(key) {
            Ok((addr, peer)) => (Some(addr.to_string()), peer.map(|p| p.to_base58())),
            Err(_) => (None, Some(key.to_owned())),
        };
        let msg: String = msg.chars().take(MAX_ERROR_LEN).collect();
        let mut found = false;
        for e in &mut self.entries {
            let by_peer = as_peer.is_some() && e.peer_id == as_peer;
            let by_addr =
                as_peer.is_none() && as_addr.as_ref().is_some_and(|a| e.addrs.contains(a));
            if by_peer || by_addr {
                e.last_error = Some(msg.clone());
                found = true;
            }
        }
        found
    }

    /// Removes the entry of the node with PeerId `key`, or every entry of
    /// the practitioner with national id `key` (a practitioner may run
    /// several nodes); returns the entries removed, none if nothing
    /// matched. The caller saves the book.
    pub fn remove(&mut self, key: &str) -> Vec<Entry> {
        let key = key.trim();
        if key.is_empty() {
            return Vec::new();
        }
        let mut removed = Vec::new();
        self.entries.retain(|e| {
            let matches =
                e.peer_id.as_deref() == Some(key) || e.national_id.as_deref() == Some(key);
            if matches {
                removed.push(e.clone());
            }
            !matches
        });
        removed
    }

    /// The entry of the node most recently verified for this national id.
    pub fn find_by_national_id(&self, national_id: &str) -> Option<Entry> {
        self.entries
            .iter()
            .filter(|e| e.national_id.as_deref() == Some(national_id))
            .max_by_key(|e| e.last_seen_time())
            .cloned()
    }

    /// The entry of a node.
    pub fn find_by_peer(&self, peer: &PeerId) -> Option<&Entry> {
        self.position_by_peer(&peer.to_base58())
            .map(|i| &self.entries[i])
    }

    /// Writes the book to its file, atomically.
    pub fn save(&self) -> Result<(), AddressBookError> {
        let shown = self.path.display().to_string();
        let werr = |source| AddressBookError::Write {
            path: shown.clone(),
            source,
        };
        let file = FileFormat {
            version: FORMAT_VERSION,
            peers: self.entries.clone(),
        };
        let mut text = serde_json::to_vec_pretty(&file).map_err(|e| werr(e.into()))?;
        text.push(b'\n');
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".peers-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(werr)?;
        tmp.write_all(&text).map_err(werr)?;
        tmp.as_file().sync_all().map_err(werr)?;
        tmp.persist(&self.path).map_err(|e| werr(e.error))?;
        files::sync_dir(dir).map_err(werr)
    }

    fn position_by_peer(&self, id: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.peer_id.as_deref() == Some(id))
    }

    fn push(&mut self, peer_id: Option<String>) -> usize {
        self.entries.push(Entry {
            peer_id,
            ..Entry::default()
        });
        self.entries.len() - 1
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    #[test]
    fn remove_by_peer_id_or_national_id_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let mut book = AddressBook::load(dir.path()).unwrap();
        let (a, b, c) = (PeerId::random(), PeerId::random(), PeerId::random());
        let now = UnixTime::from_secs(1_700_000_000);
        book.record_verified(&a, "810001000016", "A", &[addr("/ip4/10.0.0.1/tcp/1")], now);
        book.record_verified(&b, "810001000016", "A", &[addr("/ip4/10.0.0.2/tcp/1")], now);
        book.record_verified(&c, "810001000024", "C", &[addr("/ip4/10.0.0.3/tcp/1")], now);
        book.add("/ip4/10.0.0.9/tcp/1").unwrap();
        assert!(book.remove("810009999999").is_empty());
        assert!(book.remove("").is_empty());
        assert_eq!(book.entries().len(), 4);
        let gone = book.remove(&c.to_base58());
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].national_id.as_deref(), Some("810001000024"));
        assert_eq!(book.remove(" 810001000016 ").len(), 2);
        assert_eq!(book.entries().len(), 1);
        book.save().unwrap();
        assert_eq!(AddressBook::load(dir.path()).unwrap().entries().len(), 1);
    }

    #[test]
    fn add_accepts_multiaddrs_with_or_without_a_peer() {
        let dir = tempfile::tempdir().unwrap();
        let mut book = AddressBook::load(dir.path()).unwrap();
        let peer = PeerId::random();
        let e = book.add("/ip4/192.0.2.1/tcp/4001").unwrap();
        assert_eq!(e.peer_id, None);
        assert_eq!(e.addrs, ["/ip4/192.0.2.1/tcp/4001"]);
        // The same address with its node: the entry learns the node.
        let e = book
            .add(&format!(" /ip4/192.0.2.1/tcp/4001/p2p/{peer} "))
            .unwrap();
        assert_eq!(e.peer(), Some(peer));
        assert_eq!(book.entries().len(), 1);
        let e = book
            .add(&format!("/ip4/192.0.2.2/udp/4001/quic-v1/p2p/{peer}"))
            .unwrap();
        assert_eq!(e.addrs.len(), 2);
        assert_eq!(book.entries().len(), 1);
    }

    #[test]
    fn add_refuses_what_is_not_a_dialable_multiaddr() {
        let dir = tempfile::tempdir().unwrap();
        let mut book = AddressBook::load(dir.path()).unwrap();
        for bad in [
            "192.0.2.1:4001",
            "",
            "http://example.org",
            "/ip4/999.0.0.1/tcp/1",
        ] {
            let e = book.add(bad).unwrap_err();
            assert!(matches!(e, AddrError::NotAMultiaddr { .. }), "{bad}: {e}");
            assert!(e.to_string().contains("/ip4/192.0.2.10/tcp/4001"), "{e}");
        }
        let only_peer = format!("/p2p/{}", PeerId::random());
        assert!(matches!(
            book.add(&only_peer),
            Err(AddrError::NotDialable { .. })
        ));
        assert!(book.entries().is_empty());
    }

    #[test]
    fn verification_folds_address_entries_and_finds_the_latest_node() {
        let dir = tempfile::tempdir().unwrap();
        let mut book = AddressBook::load(dir.path()).unwrap();
        book.add("/ip4/192.0.2.1/tcp/4001").unwrap();
        book.add("/ip4/192.0.2.9/tcp/4001").unwrap();
        assert!(book.record_error("/ip4/192.0.2.1/tcp/4001", "connection refused"));
        let old = PeerId::random();
        let new = PeerId::random();
        let t0 = UnixTime::from_secs(1_700_000_000);
        let e = book.record_verified(
            &old,
            "810001000016",
            "CLAIRE MARTIN-TEST",
            &[addr("/ip4/192.0.2.1/tcp/4001")],
            t0,
        );
        assert_eq!(e.peer(), Some(old));
        assert_eq!(e.last_error, None);
        assert_eq!(book.entries().len(), 2);
        // The practitioner enrolled a new node: the latest one is found.
        book.record_verified(
            &new,
            "810001000016",
            "CLAIRE MARTIN-TEST",
            &[addr("/ip4/192.0.2.5/tcp/4001")],
            t0.add_secs(60),
        );
        let found = book.find_by_national_id("810001000016").unwrap();
        assert_eq!(found.peer(), Some(new));
        assert!(book.find_by_national_id("810001000024").is_none());
        assert!(book.record_error(&new.to_base58(), "timed out"));
        assert!(!book.record_error(&PeerId::random().to_base58(), "x"));

        book.save().unwrap();
        let again = AddressBook::load(dir.path()).unwrap();
        assert_eq!(again.entries(), book.entries());
        let leftovers = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "only peers.json remains");
    }

    #[test]
    fn a_damaged_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(PEERS_FILE), b"{not json").unwrap();
        let e = AddressBook::load(dir.path()).unwrap_err();
        assert!(matches!(e, AddressBookError::Damaged { .. }), "{e}");
    }
}
