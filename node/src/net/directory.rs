//! The directory on Kademlia: publishing this node's record, storing and
//! serving verified ones, looking practitioners up.
//!
//! Flow (the record format and every check are the protocol crate's,
//! [`confrere_protocol::directory`]):
//!
//! 1. **Publish.** Once the node knows addresses others can dial (public,
//!    relayed, then listen addresses), it signs a record valid for
//!    [`RECORD_VALIDITY`], merges it into what it holds under its own key
//!    and puts the set on the [`Kademlia`](libp2p::kad) nodes closest to
//!    the key. Again every [`REPUBLISH_INTERVAL`], when its addresses
//!    change, after a failed put, and at once when the credential in force
//!    changes (a renewed card: [`LiveSession::replace_credential`]). Sequence numbers are the publication
//!    time in milliseconds (never less than the last one plus one), so they
//!    grow across restarts without a file.
//! 2. **Store.** Kademlia hands every record a peer asks to store to
//!    [`Directory::on_put`] (record filtering is on); the set is verified
//!    under this node's trust anchors and CRLs, merged into what is held,
//!    and only then written to the store that serves lookups.
//! 3. **Look up.** [`Directory::start_lookup`] starts a Kademlia query;
//!    every set a node returns is verified again here. The lookup ends with
//!    the first answer that holds a verified record, when the query ends,
//!    or at [`QUERY_TIMEOUT`]. What it found is remembered: a lookup that
//!    reaches no directory node (the uplink is down) answers the records an
//!    earlier one found, as long as they have not expired.
//!
//! Peers get into the routing table only once a Confrère session verified
//! them (see [`super::gate`]); requests of others are never answered.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use confrere_protocol::directory::{
    directory_key, encode_record_set, merge_record, sign_record, verify_record, verify_record_set,
    VerifiedRecord, MAX_ADDRESSES, MAX_ADDRESS_LEN, MAX_RECORDS_PER_ID,
};
use confrere_protocol::{NationalId, NodeCredential, Purpose, UnixTime, VerifyOptions};
use libp2p::kad::store::{MemoryStore, RecordStore};
use libp2p::kad::{self, QueryId, Quorum, Record, RecordKey};
use libp2p::{Multiaddr, PeerId};
use tokio::time::Instant;

use super::handle::{NetError, Reply};
use super::live::LiveSession;
use super::short_peer;
use crate::ledger::Libp2pNodeSigner;

/// How long a published record is valid.
pub const RECORD_VALIDITY: Duration = Duration::from_secs(24 * 3600);

/// How often a node publishes its record again, addresses unchanged.
pub const REPUBLISH_INTERVAL: Duration = Duration::from_secs(12 * 3600);

/// Bound on a lookup or a publication.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(15);

/// Keys (national ids) a node holds records for.
pub const MAX_HELD_KEYS: usize = 16_384;

/// Keys whose lookup results a node remembers.
const MAX_FOUND_KEYS: usize = 1024;

/// Wait after an address change before publishing, so that a burst of
/// changes makes one record.
const SETTLE: Duration = Duration::from_secs(2);

/// A directory node that connects again gets this node's record again
/// if the last put is older than this.
const REPUBLISH_AFTER_RECONNECT: Duration = Duration::from_secs(30);

/// Wait before publishing again after a failed put.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(20);

/// What the network knows to build a record and verify others'.
pub(super) struct DirectoryKeys {
    /// The credential records are published under and the trust they are
    /// verified with: those in force at each use.
    pub(super) session: Arc<LiveSession>,
    pub(super) signer: Libp2pNodeSigner,
    pub(super) now: fn() -> UnixTime,
}

struct Lookup {
    key: Vec<u8>,
    found: Vec<VerifiedRecord>,
    replies: Vec<Reply<Vec<VerifiedRecord>>>,
}

/// The directory state of one node; driven by the swarm task.
pub(super) struct Directory {
    keys: DirectoryKeys,
    own_key: Vec<u8>,
    /// Verified records held per key (what the store serves, decoded).
    held: HashMap<Vec<u8>, Vec<VerifiedRecord>>,
    last_sequence: u64,
    published_addrs: Vec<Multiaddr>,
    /// When to publish next (`None`: nothing to publish yet).
    publish_at: Option<Instant>,
    publishing: Option<QueryId>,
    lookups: HashMap<QueryId, Lookup>,
    warned_expired: bool,
    /// The last put reached no directory node.
    put_failed: bool,
    /// When a put last reached a directory node.
    last_published: Option<Instant>,
    /// Wakes when the session configuration in force changes.
    changes: tokio::sync::watch::Receiver<Arc<confrere_protocol::session::SessionConfig>>,
    /// The credential the node's record is made with (the one in force
    /// when the directory last looked).
    credential: confrere_protocol::credential::NodeCredential,
    /// The credential changed: publish as soon as no put is under way.
    credential_changed: bool,
    /// The verified records lookups found, per key: what a lookup answers
    /// when no directory node can be asked (the uplink is down), until the
    /// records expire.
    found: HashMap<Vec<u8>, Vec<VerifiedRecord>>,
}

impl Directory {
    pub(super) fn new(keys: DirectoryKeys) -> Result<Self, NetError> {
        let own = own_national_id(&keys.session.current().credential)?;
        let mut changes = keys.session.subscribe();
        let credential = changes.borrow_and_update().credential.clone();
        Ok(Directory {
            changes,
            credential,
            credential_changed: false,
            own_key: directory_key(&own),
            keys,
            held: HashMap::new(),
            last_sequence: 0,
            published_addrs: Vec::new(),
            publish_at: None,
            publishing: None,
            lookups: HashMap::new(),
            warned_expired: false,
            put_failed: false,
            last_published: None,
            found: HashMap::new(),
        })
    }

    fn opts(&self) -> VerifyOptions {
        VerifyOptions {
            at: (self.keys.now)(),
            revocation: self.keys.session.current().revocation,
            purpose: Purpose::Authentication,
        }
    }

    /// The node's dialable addresses are now `addrs`: publish soon if they
    /// changed.
    pub(super) fn addresses_are(&mut self, addrs: &[Multiaddr]) {
        let addrs = publishable(addrs);
        if addrs != self.published_addrs && !addrs.is_empty() {
            self.published_addrs = addrs;
            self.publish_at = Some(Instant::now() + SETTLE);
        }
    }

    /// A peer entered the routing table: a publication that failed for
    /// want of peers is tried again soon.
    pub(super) fn peer_added(&mut self) {
        if self.put_failed && self.publishing.is_none() && !self.published_addrs.is_empty() {
            self.publish_at = Some(Instant::now() + SETTLE);
            self.put_failed = false;
        }
    }

    /// A directory node connected again (it may have restarted, its
    /// records lost): publish soon, unless a put reached a directory node
    /// within [`REPUBLISH_AFTER_RECONNECT`].
    pub(super) fn server_back(&mut self) {
        let recent = self
            .last_published
            .is_some_and(|t| t.elapsed() < REPUBLISH_AFTER_RECONNECT);
        if !recent && self.publishing.is_none() && !self.published_addrs.is_empty() {
            self.publish_at = Some(Instant::now() + SETTLE);
        }
    }

    /// Called every second: publishes when due, drops expired records.
    pub(super) fn tick(&mut self, kad: &mut kad::Behaviour<MemoryStore>) {
        if self.changes.has_changed().unwrap_or(false) {
            let current = self.changes.borrow_and_update().credential.clone();
            if current != self.credential {
                tracing::info!(
                    not_after = %current.not_after(),
                    "the node credential was renewed: publishing this node's record again"
                );
                self.credential = current;
                self.credential_changed = true;
            }
        }
        if self.credential_changed && !self.published_addrs.is_empty() {
            self.publish_at = Some(Instant::now());
        }
        if let Some(at) = self.publish_at {
            if at <= Instant::now() && self.publishing.is_none() {
                self.publish(kad);
            }
        }
        let now = (self.keys.now)();
        self.held.retain(|key, records| {
            records.retain(|r| !r.is_expired(now));
            if records.is_empty() {
                kad.store_mut().remove(&RecordKey::new(key));
            }
            !records.is_empty()
        });
    }

    fn publish(&mut self, kad: &mut kad::Behaviour<MemoryStore>) {
        let now = (self.keys.now)();
        let millis = u64::try_from(now.as_secs())
            .unwrap_or(0)
            .saturating_mul(1000);
        let sequence = millis.max(self.last_sequence.saturating_add(1));
        let validity = i64::try_from(RECORD_VALIDITY.as_secs()).unwrap_or(i64::MAX);
        let session = self.keys.session.current();
        let expires = now.add_secs(validity).min(session.credential.not_after());
        if expires <= now {
            if !self.warned_expired {
                tracing::warn!(
                    "the node credential has expired: the node is not published in the directory"
                );
                self.warned_expired = true;
            }
            self.publish_at = None;
            return;
        }
        self.credential_changed = false;
        let addresses = self.published_addrs.iter().map(|a| a.to_vec()).collect();
        let record = match sign_record(
            &self.keys.signer,
            &session.credential,
            addresses,
            sequence,
            now,
            expires,
        )
        .and_then(|r| r.encode())
        .and_then(|bytes| verify_record(&bytes, &self.own_key, &session.trust, &self.opts()))
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "cannot publish this node in the directory");
                self.publish_at = Some(Instant::now() + REPUBLISH_INTERVAL);
                return;
            }
        };
        self.last_sequence = sequence;
        let held = self.held.entry(self.own_key.clone()).or_default();
        merge_record(held, record);
        let value = encode_record_set(held);
        let record = Record {
            key: RecordKey::new(&self.own_key),
            value,
            publisher: None,
            expires: Some(std::time::Instant::now() + RECORD_VALIDITY),
        };
        match kad.put_record(record, Quorum::One) {
            Ok(id) => {
                tracing::debug!(sequence, "publishing this node in the directory");
                self.publishing = Some(id);
                self.publish_at = None;
            }
            Err(e) => {
                tracing::warn!(error = ?e, "cannot store this node's directory record");
                self.publish_at = Some(Instant::now() + RETRY_AFTER_FAILURE);
                self.put_failed = true;
            }
        }
    }

    /// A put of this node's record ended.
    pub(super) fn on_put_result(&mut self, id: QueryId, ok: bool) {
        if self.publishing != Some(id) {
            return;
        }
        self.publishing = None;
        if ok {
            tracing::info!(
                addresses = self.published_addrs.len(),
                "published in the directory"
            );
            self.publish_at = Some(Instant::now() + REPUBLISH_INTERVAL);
            self.put_failed = false;
            self.last_published = Some(Instant::now());
        } else {
            tracing::debug!("no directory node took this node's record yet; trying again");
            self.publish_at = Some(Instant::now() + RETRY_AFTER_FAILURE);
            self.put_failed = true;
        }
    }

    /// A verified peer asks this node to store `record`: kept only as far
    /// as it verifies, merged with what is held.
    pub(super) fn on_put(
        &mut self,
        kad: &mut kad::Behaviour<MemoryStore>,
        source: &PeerId,
        record: Record,
    ) {
        let key = record.key.to_vec();
        let set = match verify_record_set(
            &record.value,
            &key,
            &self.keys.session.current().trust,
            &self.opts(),
        ) {
            Ok(set) => set,
            Err(e) => {
                tracing::debug!(peer = %short_peer(source), error = %e, "directory set refused");
                return;
            }
        };
        for refused in &set.refused {
            tracing::debug!(peer = %short_peer(source), error = %refused, "directory record refused");
        }
        if set.records.is_empty() {
            return;
        }
        if !self.held.contains_key(&key) && self.held.len() >= MAX_HELD_KEYS {
            tracing::debug!("directory store full; record not kept");
            return;
        }
        let held = self.held.entry(key.clone()).or_default();
        for r in set.records {
            merge_record(held, r);
        }
        held.truncate(MAX_RECORDS_PER_ID);
        let latest = held.iter().map(|r| r.expires_at()).max();
        let expires = latest.map(|at| {
            let left = at.as_secs().saturating_sub((self.keys.now)().as_secs());
            std::time::Instant::now() + Duration::from_secs(u64::try_from(left).unwrap_or(0))
        });
        let value = encode_record_set(held);
        if let Err(e) = kad.store_mut().put(Record {
            key: RecordKey::new(&key),
            value,
            publisher: None,
            expires,
        }) {
            tracing::debug!(error = ?e, "directory record not stored");
        }
    }

    /// Starts looking `national_id` up; `reply` gets the verified records.
    pub(super) fn start_lookup(
        &mut self,
        kad: &mut kad::Behaviour<MemoryStore>,
        national_id: &NationalId,
        reply: Reply<Vec<VerifiedRecord>>,
    ) {
        let key = directory_key(national_id);
        // Two lookups of one id at once share a query.
        if let Some(lookup) = self.lookups.values_mut().find(|l| l.key == key) {
            lookup.replies.push(reply);
            return;
        }
        let id = kad.get_record(RecordKey::new(&key));
        self.lookups.insert(
            id,
            Lookup {
                key,
                found: Vec::new(),
                replies: vec![reply],
            },
        );
    }

    /// A node (or the local store) answered lookup `id` with `record`.
    /// Returns whether the lookup is over.
    pub(super) fn on_found(&mut self, id: QueryId, from: Option<PeerId>, record: &Record) -> bool {
        let opts = self.opts();
        let Some(lookup) = self.lookups.get_mut(&id) else {
            return false;
        };
        match verify_record_set(
            &record.value,
            &lookup.key,
            &self.keys.session.current().trust,
            &opts,
        ) {
            Ok(set) => {
                for refused in &set.refused {
                    tracing::debug!(
                        from = %from.as_ref().map(short_peer).unwrap_or_else(|| "here".into()),
                        error = %refused,
                        "a directory record found was refused"
                    );
                }
                for r in set.records {
                    merge_record(&mut lookup.found, r);
                }
            }
            Err(e) => tracing::debug!(error = %e, "a directory answer was refused"),
        }
        if lookup.found.is_empty() {
            return false;
        }
        self.finish(id);
        true
    }

    /// Lookup `id` ended (query over, or failed): answers what was found,
    /// else what an earlier lookup of the key found and has not expired.
    pub(super) fn finish(&mut self, id: QueryId) {
        let Some(lookup) = self.lookups.remove(&id) else {
            return;
        };
        let now = (self.keys.now)();
        let answer = if lookup.found.is_empty() {
            let mut cached = self.found.get(&lookup.key).cloned().unwrap_or_default();
            cached.retain(|r| !r.is_expired(now));
            cached
        } else {
            if !self.found.contains_key(&lookup.key) && self.found.len() >= MAX_FOUND_KEYS {
                self.found
                    .retain(|_, records| records.iter().any(|r| !r.is_expired(now)));
                if self.found.len() >= MAX_FOUND_KEYS {
                    self.found.clear();
                }
            }
            self.found.insert(lookup.key.clone(), lookup.found.clone());
            lookup.found
        };
        for reply in lookup.replies {
            let _ = reply.send(Ok(answer.clone()));
        }
    }

    /// Whether `id` is a lookup of this directory.
    pub(super) fn is_lookup(&self, id: &QueryId) -> bool {
        self.lookups.contains_key(id)
    }
}

/// The national id the node credential's certificate names.
fn own_national_id(credential: &NodeCredential) -> Result<NationalId, NetError> {
    let leaf = credential
        .certificates()
        .first()
        .ok_or_else(|| NetError::Build("the node credential holds no certificate".into()))?;
    confrere_protocol::Certificate::from_der(leaf)
        .and_then(|c| c.practitioner())
        .map(|p| p.national_id)
        .map_err(|e| NetError::Build(format!("the node credential's certificate: {e}")))
}

/// The addresses a record carries: without `/p2p/` of this node, no
/// duplicates, none too long, at most [`MAX_ADDRESSES`].
fn publishable(addrs: &[Multiaddr]) -> Vec<Multiaddr> {
    let mut out: Vec<Multiaddr> = Vec::new();
    for a in addrs {
        let (bare, _) = super::split_peer(a);
        if bare.is_empty() || bare.to_vec().len() > MAX_ADDRESS_LEN || out.contains(&bare) {
            continue;
        }
        out.push(bare);
        if out.len() == MAX_ADDRESSES {
            break;
        }
    }
    out
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    #[test]
    fn publishable_addresses_drop_the_peer_suffix_duplicates_and_excess() {
        let peer = PeerId::random();
        let mut addrs: Vec<Multiaddr> = vec![
            format!("/ip4/198.18.0.2/tcp/4001/p2p/{peer}")
                .parse()
                .unwrap(),
            "/ip4/198.18.0.2/tcp/4001".parse().unwrap(),
        ];
        for port in 0..40u16 {
            addrs.push(format!("/ip4/10.0.0.1/tcp/{port}").parse().unwrap());
        }
        let out = publishable(&addrs);
        assert_eq!(out.len(), MAX_ADDRESSES);
        assert_eq!(out[0].to_string(), "/ip4/198.18.0.2/tcp/4001");
        assert_eq!(out[1].to_string(), "/ip4/10.0.0.1/tcp/0");
    }
}
