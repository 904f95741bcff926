//! Verifying a whole chain: every signature, every link, the sequence, the
//! genesis entry and the head checkpoint, naming the first bad entry.
//!
//! Entries are taken in the order they are stored. The entry at position
//! `p` (0 for the first) must carry `seq == p`. For each one, in this
//! order:
//!
//! 1. position 0: a genesis entry (seq 0, zero previous hash) naming the
//!    node's PeerId, else [`ChainError::BadGenesis`];
//! 2. its signature under the node's key, else [`ChainError::BadSignature`]
//!    (the entry was altered: its hash changed, or the signature itself);
//! 3. its sequence number: a later one means entries are missing
//!    ([`ChainError::SeqGap`]), unless the missing one turns up further on,
//!    or an earlier one appears: then entries were moved
//!    ([`ChainError::Reordered`]);
//! 4. its previous-entry hash against the hash of the entry before it, else
//!    [`ChainError::BrokenLink`];
//! 5. at the checkpoint's sequence number, its hash against the
//!    checkpoint's, else [`ChainError::CheckpointMismatch`].
//!
//! At the end the chain must reach the checkpoint's entry, else
//! [`ChainError::TruncatedTail`]. Entries after the checkpoint are accepted
//! when they verify (a crash may come between an entry and its
//! checkpoint).
//!
//! Ed25519 verification dominates the cost; [`ChainVerifier`] spreads it
//! over the available cores, batch by batch, and keeps the answer the same
//! as a verification in order. A caller that reads entries on several
//! threads can instead have each thread [`prepare`](ChainVerifier::prepare)
//! its entries (decode, hash, signature) and feed the results in order
//! with [`push_prepared`](ChainVerifier::push_prepared): the checks in
//! order then cost little.
//!
//! [`SignatureCheck::Anchored`] verifies the signatures of the genesis
//! entry and of the entries after the checkpoint only. The others are then
//! authenticated through the hashes: each entry's hash is bound into the
//! next entry's, up to the signed checkpoint, so that changing any of them
//! breaks a link or the checkpoint. It is as strong an integrity check as
//! long as SHA-256 holds, and far faster (Ed25519 verification is what
//! costs: about a hundred times in memory); it does not show
//! that each entry, taken alone, carries a valid signature.

use std::num::NonZeroUsize;

use super::entry::{signature_verifies, LedgerEntry};
use super::kind::EntryKind;
use crate::codec::DecodeError;
use crate::receipt::ed25519_key_from_peer_id;
use crate::time::UnixTime;

/// Entries verified per batch.
const BATCH: usize = 4096;
/// Below this, a batch is verified on the calling thread.
const PARALLEL_MIN: usize = 256;
/// Most threads a verifier uses.
const MAX_THREADS: usize = 16;

/// Why a chain does not verify. Each variant names the first bad entry by
/// its position in the chain, which is the sequence number it should carry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The entry's signature does not verify under the node's key.
    #[error(
        "ledger entry {seq}: its signature does not verify under this node's key \
         (the entry was altered after it was recorded)"
    )]
    BadSignature {
        /// The entry.
        seq: u64,
    },
    /// The entry's previous-entry hash is not the hash of the entry before it.
    #[error(
        "ledger entry {seq}: it does not follow the entry before it \
         (its previous-entry hash differs: an entry was replaced)"
    )]
    BrokenLink {
        /// The entry.
        seq: u64,
    },
    /// Entries are missing: `found` comes where `expected` should be.
    #[error("ledger entry {expected} is missing: entry {found} comes in its place (entries were removed)")]
    SeqGap {
        /// The sequence number that should come next.
        expected: u64,
        /// The one that came.
        found: u64,
    },
    /// An entry stands out of its place.
    #[error("ledger entry {seq} stands where entry {expected} belongs (entries were moved)")]
    Reordered {
        /// The entry out of place.
        seq: u64,
        /// The position it stands at.
        expected: u64,
    },
    /// The first entry is not this node's genesis entry.
    #[error(
        "the ledger does not start with this node's genesis entry \
         (the first entry was removed or replaced, or the ledger is another node's)"
    )]
    BadGenesis,
    /// The chain ends before the entry the head checkpoint records.
    #[error(
        "the ledger ends at entry {found_seq}, but its head checkpoint records entry \
         {expected_seq} (entries were removed from the end)"
    )]
    TruncatedTail {
        /// The checkpoint's entry.
        expected_seq: u64,
        /// The last entry found.
        found_seq: u64,
    },
    /// The entry cannot be read (its stored record is damaged).
    #[error("ledger entry {seq} cannot be read: its stored record is damaged")]
    Malformed {
        /// The entry.
        seq: u64,
    },
    /// The entry at the checkpoint's sequence number has another hash.
    #[error("ledger entry {seq} is not the one the head checkpoint records (it was replaced)")]
    CheckpointMismatch {
        /// The entry.
        seq: u64,
    },
    /// The head checkpoint is unreadable or not signed by the node.
    #[error("the ledger's head checkpoint is damaged or not signed by this node")]
    BadCheckpoint,
    /// The ledger holds entries after the genesis one but no checkpoint.
    #[error("the ledger's head checkpoint is missing (it was removed)")]
    MissingCheckpoint,
    /// The node's PeerId carries no Ed25519 key to verify with.
    #[error("the node's PeerId does not carry an Ed25519 key")]
    NotEd25519PeerId,
}

impl ChainError {
    /// The first bad entry's sequence number, when one is named.
    pub fn seq(&self) -> Option<u64> {
        match self {
            ChainError::BadSignature { seq }
            | ChainError::BrokenLink { seq }
            | ChainError::Malformed { seq }
            | ChainError::CheckpointMismatch { seq } => Some(*seq),
            ChainError::SeqGap { expected, .. } => Some(*expected),
            ChainError::Reordered { expected, .. } => Some(*expected),
            ChainError::TruncatedTail { found_seq, .. } => Some(found_seq.saturating_add(1)),
            ChainError::BadGenesis => Some(0),
            ChainError::BadCheckpoint
            | ChainError::MissingCheckpoint
            | ChainError::NotEd25519PeerId => None,
        }
    }

    /// A stable code for JSON output (`bad_signature`, `seq_gap` …).
    pub fn code(&self) -> &'static str {
        match self {
            ChainError::BadSignature { .. } => "bad_signature",
            ChainError::BrokenLink { .. } => "broken_link",
            ChainError::SeqGap { .. } => "seq_gap",
            ChainError::Reordered { .. } => "reordered",
            ChainError::BadGenesis => "bad_genesis",
            ChainError::TruncatedTail { .. } => "truncated_tail",
            ChainError::Malformed { .. } => "malformed",
            ChainError::CheckpointMismatch { .. } => "checkpoint_mismatch",
            ChainError::BadCheckpoint => "bad_checkpoint",
            ChainError::MissingCheckpoint => "missing_checkpoint",
            ChainError::NotEd25519PeerId => "not_ed25519_peer_id",
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            ChainError::NotEd25519PeerId => {
                "the node's identity key is not an Ed25519 key: this home was not made by Confrère"
            }
            _ => {
                "the ledger was tampered with or damaged: keep a copy of the home as evidence, \
                 then restore the home from its latest backup and verify that copy"
            }
        }
    }
}

/// What a verified chain holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSummary {
    /// Entries in the chain, the genesis entry included.
    pub entries: u64,
    /// The last entry's sequence number.
    pub head_seq: u64,
    /// The last entry's hash.
    pub head_hash: [u8; 32],
    /// The practitioner the genesis entry names (national id).
    pub national_id: String,
    /// The practitioner's name, as the genesis entry gives it.
    pub name: String,
    /// When the ledger was started (the genesis entry's time).
    pub started: UnixTime,
    /// The last entry's time.
    pub last_time: UnixTime,
    /// The checkpoint's sequence number, if a checkpoint was given.
    pub checkpoint_seq: Option<u64>,
}

/// Which signatures a verification checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureCheck {
    /// Every entry's signature.
    #[default]
    Every,
    /// The genesis entry's and those after the checkpoint (all of them
    /// without a checkpoint); the rest are authenticated by the hash chain
    /// up to the signed checkpoint. See the module documentation.
    Anchored,
}

/// One entry made ready for the checks in order: decoded, hashed, and its
/// signature checked if the verifier checks it. Made by
/// [`ChainVerifier::prepare`] or [`ChainVerifier::prepare_entry`], on any
/// thread; fed with [`ChainVerifier::push_prepared`]. Holds no patient
/// data.
#[derive(Clone)]
pub struct PreparedEntry {
    seq: u64,
    time: UnixTime,
    prev_hash: [u8; 32],
    hash: [u8; 32],
    signature: [u8; 64],
    /// Whether the signature verifies (`true` when it is not checked).
    signature_ok: bool,
    /// A genesis entry's fields.
    genesis: Option<Box<GenesisFields>>,
}

#[derive(Clone)]
struct GenesisFields {
    national_id: String,
    name: String,
    peer_id: Vec<u8>,
}

impl std::fmt::Debug for PreparedEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedEntry")
            .field("seq", &self.seq)
            .field("genesis", &self.genesis.is_some())
            .field("signature_ok", &self.signature_ok)
            .finish_non_exhaustive()
    }
}

impl PreparedEntry {
    /// The sequence number the entry carries.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The entry's hash.
    pub fn hash(&self) -> &[u8; 32] {
        &self.hash
    }

    fn signature_verifies(&self, key: &[u8; 32]) -> bool {
        signature_verifies(key, &self.hash, &self.signature)
    }
}

/// Whether a verification with `signatures` against `expected_head`
/// checks the signature of an entry claiming `seq`.
fn wants_signature(
    signatures: SignatureCheck,
    expected_head: Option<(u64, [u8; 32])>,
    seq: u64,
) -> bool {
    match signatures {
        SignatureCheck::Every => true,
        SignatureCheck::Anchored => seq == 0 || expected_head.is_none_or(|(head, _)| seq > head),
    }
}

/// Prepares entries for one [`ChainVerifier`] ([`ChainVerifier::preparer`]),
/// on any thread: cheap to clone, and independent of the verifier's
/// progress.
#[derive(Clone)]
pub struct EntryPreparer {
    key: [u8; 32],
    signatures: SignatureCheck,
    expected_head: Option<(u64, [u8; 32])>,
}

impl std::fmt::Debug for EntryPreparer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryPreparer")
            .field("signatures", &self.signatures)
            .finish_non_exhaustive()
    }
}

impl EntryPreparer {
    /// Makes an entry ready for [`ChainVerifier::push_prepared`]: its
    /// hash, and its signature checked if the verifier checks it.
    pub fn prepare_entry(&self, entry: &LedgerEntry) -> PreparedEntry {
        let hash = entry.hash();
        let genesis = match &entry.kind {
            EntryKind::Genesis {
                national_id,
                name,
                peer_id,
            } => Some(Box::new(GenesisFields {
                national_id: national_id.clone(),
                name: name.clone(),
                peer_id: peer_id.clone(),
            })),
            _ => None,
        };
        self.prepared(entry, hash, genesis)
    }

    /// [`prepare_entry`](EntryPreparer::prepare_entry) from an entry's
    /// encoding (see [`LedgerEntry::decode_hashed`]). An error means the
    /// record is not an entry: report it with
    /// [`ChainVerifier::push_malformed`].
    pub fn prepare(&self, encoded: &[u8]) -> Result<PreparedEntry, DecodeError> {
        let (mut entry, hash) = LedgerEntry::decode_hashed(encoded)?;
        let genesis = match &mut entry.kind {
            EntryKind::Genesis {
                national_id,
                name,
                peer_id,
            } => Some(Box::new(GenesisFields {
                national_id: std::mem::take(national_id),
                name: std::mem::take(name),
                peer_id: std::mem::take(peer_id),
            })),
            _ => None,
        };
        Ok(self.prepared(&entry, hash, genesis))
    }

    fn prepared(
        &self,
        entry: &LedgerEntry,
        hash: [u8; 32],
        genesis: Option<Box<GenesisFields>>,
    ) -> PreparedEntry {
        let signature_ok = !wants_signature(self.signatures, self.expected_head, entry.seq)
            || entry.signature_verifies(&self.key, &hash);
        PreparedEntry {
            seq: entry.seq,
            time: entry.time,
            prev_hash: entry.prev_hash,
            hash,
            signature: entry.signature,
            signature_ok,
            genesis,
        }
    }
}

#[derive(Debug)]
enum State {
    Running,
    /// A later entry came where `expected` should be; the rest is scanned
    /// for `expected` to tell a removal from a move.
    Gap {
        expected: u64,
        found: u64,
    },
    Failed(ChainError),
}

/// Verifies a chain fed in batches, in order; see the module
/// documentation. [`verify_chain`] is the one-call form.
#[derive(Debug)]
pub struct ChainVerifier {
    key: [u8; 32],
    node_peer_id: Vec<u8>,
    expected_head: Option<(u64, [u8; 32])>,
    signatures: SignatureCheck,
    threads: usize,
    next: u64,
    prev_hash: [u8; 32],
    genesis: Option<(String, String, UnixTime)>,
    last_time: UnixTime,
    /// The last entry accepted (kept with [`SignatureCheck::Anchored`] only).
    last: Option<PreparedEntry>,
    state: State,
}

impl ChainVerifier {
    /// A verifier for the ledger of the node `node_peer_id`, which must
    /// reach `expected_head` (the verified head checkpoint's sequence
    /// number and hash) if given.
    pub fn new(
        node_peer_id: &[u8],
        expected_head: Option<(u64, [u8; 32])>,
        signatures: SignatureCheck,
    ) -> Result<Self, ChainError> {
        let key = ed25519_key_from_peer_id(node_peer_id).ok_or(ChainError::NotEd25519PeerId)?;
        let threads = std::thread::available_parallelism()
            .map(NonZeroUsize::get)
            .unwrap_or(1)
            .min(MAX_THREADS);
        Ok(ChainVerifier {
            key,
            node_peer_id: node_peer_id.to_vec(),
            expected_head,
            signatures,
            threads,
            next: 0,
            prev_hash: [0; 32],
            genesis: None,
            last_time: UnixTime::from_secs(0),
            last: None,
            state: State::Running,
        })
    }

    /// Uses at most `threads` threads (at least one) for signatures.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Whether the verdict is settled: more entries would not change it.
    pub fn is_settled(&self) -> bool {
        matches!(self.state, State::Failed(_))
    }

    /// Feeds the next entries, in order.
    pub fn push<'a>(&mut self, entries: impl IntoIterator<Item = &'a LedgerEntry>) {
        let mut entries = entries.into_iter();
        let mut batch: Vec<&LedgerEntry> = Vec::with_capacity(BATCH);
        loop {
            match self.state {
                State::Failed(_) => return,
                State::Gap { expected, found } => {
                    if entries.any(|e| e.seq == expected) {
                        self.state = State::Failed(ChainError::Reordered {
                            seq: found,
                            expected,
                        });
                    }
                    return;
                }
                State::Running => {}
            }
            batch.clear();
            batch.extend(entries.by_ref().take(BATCH));
            if batch.is_empty() {
                return;
            }
            let prepared = self.prepare_all(&batch);
            self.push_prepared(&prepared);
        }
    }

    /// Makes an entry ready for [`push_prepared`](ChainVerifier::push_prepared)
    /// (see [`EntryPreparer::prepare_entry`]).
    pub fn prepare_entry(&self, entry: &LedgerEntry) -> PreparedEntry {
        self.preparer().prepare_entry(entry)
    }

    /// Makes an encoded entry ready for
    /// [`push_prepared`](ChainVerifier::push_prepared) (see
    /// [`EntryPreparer::prepare`]).
    pub fn prepare(&self, encoded: &[u8]) -> Result<PreparedEntry, DecodeError> {
        self.preparer().prepare(encoded)
    }

    /// What prepares entries for this verifier, apart from it: on other
    /// threads while this one takes the entries prepared before.
    pub fn preparer(&self) -> EntryPreparer {
        EntryPreparer {
            key: self.key,
            signatures: self.signatures,
            expected_head: self.expected_head,
        }
    }

    /// Feeds the next entries, prepared, in order. Takes entries from
    /// `entries` only while the verdict is open.
    pub fn push_prepared<'a>(&mut self, entries: impl IntoIterator<Item = &'a PreparedEntry>) {
        let mut entries = entries.into_iter();
        let mut prev: Option<&PreparedEntry> = None;
        while let Some(entry) = entries.next() {
            match self.state {
                State::Failed(_) => break,
                State::Gap { expected, found } => {
                    if entry.seq == expected || entries.any(|e| e.seq == expected) {
                        self.state = State::Failed(ChainError::Reordered {
                            seq: found,
                            expected,
                        });
                    }
                    break;
                }
                State::Running => {}
            }
            match self.check_one(entry) {
                Ok(()) => prev = Some(entry),
                Err(e) => {
                    let state = self.refine(e, entry, prev.or(self.last.as_ref()));
                    self.state = state;
                }
            }
        }
        if self.signatures == SignatureCheck::Anchored {
            if let Some(prev) = prev {
                self.last = Some(prev.clone());
            }
        }
    }

    /// Records that the entry stored as `seq` could not be read, at the
    /// current position.
    pub fn push_malformed(&mut self, seq: u64) {
        if matches!(self.state, State::Running) {
            self.state = State::Failed(ChainError::Malformed { seq });
        }
    }

    /// The verdict.
    pub fn finish(self) -> Result<ChainSummary, ChainError> {
        match self.state {
            State::Failed(e) => return Err(e),
            State::Gap { expected, found } => return Err(ChainError::SeqGap { expected, found }),
            State::Running => {}
        }
        let Some(head_seq) = self.next.checked_sub(1) else {
            return Err(ChainError::BadGenesis);
        };
        if let Some((expected_seq, _)) = self.expected_head {
            if expected_seq > head_seq {
                return Err(ChainError::TruncatedTail {
                    expected_seq,
                    found_seq: head_seq,
                });
            }
        }
        let (national_id, name, started) = self.genesis.ok_or(ChainError::BadGenesis)?;
        Ok(ChainSummary {
            entries: self.next,
            head_seq,
            head_hash: self.prev_hash,
            national_id,
            name,
            started,
            last_time: self.last_time,
            checkpoint_seq: self.expected_head.map(|(s, _)| s),
        })
    }

    /// Whether the signature of an entry claiming `seq` is checked.
    fn wants_signature(&self, seq: u64) -> bool {
        wants_signature(self.signatures, self.expected_head, seq)
    }

    /// With [`SignatureCheck::Anchored`], an entry that fails a later
    /// check may have been altered: its signature (and, for a broken link,
    /// the previous entry's) decides which entry to name.
    fn refine(&self, error: State, entry: &PreparedEntry, prev: Option<&PreparedEntry>) -> State {
        if self.signatures == SignatureCheck::Every || self.next == 0 {
            return error;
        }
        let p = self.next;
        if matches!(error, State::Failed(ChainError::BrokenLink { .. })) {
            if let Some(prev) = prev {
                if !self.wants_signature(prev.seq) && !prev.signature_verifies(&self.key) {
                    return State::Failed(ChainError::BadSignature { seq: p - 1 });
                }
            }
        }
        if !self.wants_signature(entry.seq) && !entry.signature_verifies(&self.key) {
            return State::Failed(ChainError::BadSignature { seq: p });
        }
        error
    }

    fn check_one(&mut self, entry: &PreparedEntry) -> Result<(), State> {
        let p = self.next;
        let hash = &entry.hash;
        let signature_ok = entry.signature_ok;
        let fail = |e| Err(State::Failed(e));
        if p == 0 {
            let Some(genesis) = &entry.genesis else {
                return fail(ChainError::BadGenesis);
            };
            if entry.seq != 0 || entry.prev_hash != [0; 32] || genesis.peer_id != self.node_peer_id
            {
                return fail(ChainError::BadGenesis);
            }
            if !signature_ok {
                return fail(ChainError::BadSignature { seq: 0 });
            }
            self.genesis = Some((
                genesis.national_id.clone(),
                genesis.name.clone(),
                entry.time,
            ));
        } else {
            if !signature_ok {
                return fail(ChainError::BadSignature { seq: p });
            }
            if entry.seq > p {
                return Err(State::Gap {
                    expected: p,
                    found: entry.seq,
                });
            }
            if entry.seq < p {
                return fail(ChainError::Reordered {
                    seq: entry.seq,
                    expected: p,
                });
            }
            if entry.prev_hash != self.prev_hash || entry.genesis.is_some() {
                return fail(ChainError::BrokenLink { seq: p });
            }
        }
        if let Some((head, head_hash)) = self.expected_head {
            if head == p && head_hash != *hash {
                return fail(ChainError::CheckpointMismatch { seq: p });
            }
        }
        self.prev_hash = *hash;
        self.last_time = entry.time;
        self.next = p.saturating_add(1);
        Ok(())
    }

    /// Each entry prepared, spread over the threads.
    fn prepare_all(&self, batch: &[&LedgerEntry]) -> Vec<PreparedEntry> {
        let preparer = self.preparer();
        let one = |e: &LedgerEntry| preparer.prepare_entry(e);
        if self.threads <= 1 || batch.len() < PARALLEL_MIN {
            return batch.iter().map(|e| one(e)).collect();
        }
        let per_thread = batch.len().div_ceil(self.threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .chunks(per_thread)
                .map(|part| scope.spawn(move || part.iter().map(|e| one(e)).collect::<Vec<_>>()))
                .collect();
            let mut out = Vec::with_capacity(batch.len());
            for h in handles {
                match h.join() {
                    Ok(part) => out.extend(part),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            out
        })
    }
}

/// Verifies a whole chain, in stored order, for the node `node_peer_id`,
/// checking every signature; with `expected_head` (from a verified
/// [`HeadCheckpoint`](super::HeadCheckpoint)), the chain must reach it.
/// The error names the first bad entry.
pub fn verify_chain<'a>(
    entries: impl IntoIterator<Item = &'a LedgerEntry>,
    node_peer_id: &[u8],
    expected_head: Option<(u64, [u8; 32])>,
) -> Result<ChainSummary, ChainError> {
    verify_chain_with(entries, node_peer_id, expected_head, SignatureCheck::Every)
}

/// [`verify_chain`] with a choice of which signatures to check.
pub fn verify_chain_with<'a>(
    entries: impl IntoIterator<Item = &'a LedgerEntry>,
    node_peer_id: &[u8],
    expected_head: Option<(u64, [u8; 32])>,
    signatures: SignatureCheck,
) -> Result<ChainSummary, ChainError> {
    let mut v = ChainVerifier::new(node_peer_id, expected_head, signatures)?;
    v.push(entries);
    v.finish()
}
