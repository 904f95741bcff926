//! The node's ledger: append-only, every entry hash-chained to the one
//! before it and signed by the node, so that a changed, removed, moved or
//! cut-off entry is detected.
//!
//! Flow:
//!
//! 1. When a node starts its ledger it makes the genesis entry with
//!    [`append`] (`prev: None`): sequence number 0, a zero previous hash,
//!    and the practitioner the node serves (national id, name) with the
//!    node's PeerId.
//! 2. Before it acknowledges an action (a consent recorded, a dossier sent
//!    or received, opened, exported, erased, a revocation …), the node
//!    makes the next entry with [`append`]: sequence number one more, the
//!    previous entry's [`hash`](LedgerEntry::hash), the time, the
//!    [`EntryKind`] with the identifiers an audit needs and no document
//!    content. Its libp2p Ed25519 key (behind
//!    [`NodeSigner`](crate::receipt::NodeSigner)) signs
//!    `"confrere/ledger-signature/v1\0" | hash`. The node stores the entry,
//!    then a signed [`HeadCheckpoint`] of it, and makes both durable.
//! 3. To audit, [`verify_chain`] takes the entries in stored order, the
//!    node's PeerId (whose key verifies every signature) and the head
//!    checkpoint, and names the first bad entry if any ([`ChainError`]).
//!
//! The hash is SHA-256 over `"confrere/ledger-entry/v1\0"` and the
//! canonical encoding of every field but the signature ([`entry`]). The
//! entries carry the patient's INS (the patient's access journal is built
//! from them) and so stay in the node's encrypted store; nothing of a
//! dossier's content is recorded.
//!
//! Modules: [`kind`] (what an entry records and its encoding), [`entry`]
//! (the entry, its hash and signature, [`append`]), [`checkpoint`] (the
//! signed head), [`chain`] (verification).

pub mod chain;
pub mod checkpoint;
pub mod entry;
mod fields;
pub mod kind;

pub use chain::{
    verify_chain, verify_chain_with, ChainError, ChainSummary, ChainVerifier, EntryPreparer,
    PreparedEntry, SignatureCheck,
};
pub use checkpoint::{HeadCheckpoint, CHECKPOINT_DOMAIN, CHECKPOINT_LEN};
pub use entry::{
    append, append_after, append_encoded, AppendedEntry, EntryError, LedgerEntry, ENTRY_DOMAIN,
    MAX_ENTRY_LEN, SIGNATURE_DOMAIN,
};
pub use kind::{EntryKind, ShareBasis};
