//! The dossier: what a practitioner sends, sealed once by the sender's node.
//!
//! Flow:
//!
//! ```text
//! sender's node                                          recipient's node
//!
//! documents ─ first pass: size, SHA-256, sanitized name (names)
//! Manifest { dossier id, from, to, patient (ins), referral, documents }
//! DossierKey::generate(); wrap it under the StoreKey (keywrap)
//! ContentSealer: manifest_len | manifest | documents  ─▶ sealed chunks (seal)
//!   in the outbox; the key is sent only inside the Noise session (transfer)
//!                       ── Offer, Chunk × n ──▶
//!                                                ContentOpener: chunks in order,
//!                                                manifest and documents verified;
//!                                                sealed chunks stored as received,
//!                                                key wrapped under its StoreKey
//!                       ◀── Complete { DeliveryReceipt } ──
//! ```
//!
//! Nothing is re-encrypted on the way: the chunks the sender sealed are
//! what its outbox holds, what crosses the wire and what the recipient
//! stores. Destroying a dossier's key (its wrapped form) erases the dossier.
//!
//! Modules: [`ins`] (the patient's national health identifier),
//! [`patient`], [`manifest`], [`names`] (safe document names), [`seal`]
//! (the chunked AEAD stream), [`content`] (the plaintext inside the chunks,
//! streaming sealer and opener), [`keywrap`] (the store key, wrapped
//! dossier keys, sealed records).

pub mod content;
pub mod ins;
pub mod keywrap;
pub mod manifest;
pub mod names;
pub mod patient;
pub mod seal;

pub use content::{
    chunk_count, content_len, ContentEvent, ContentOpener, ContentSealer, ContentSummary,
    OpenError, SealError, SealedChunk,
};
pub use ins::{Ins, InsError};
pub use keywrap::{open_record, seal_record, unwrap, wrap, StoreKey, WrapError};
pub use manifest::{DocumentEntry, DossierId, Manifest, ManifestError, Referral};
pub use names::{sanitize_document_name, unique_name, NameError};
pub use patient::{BirthDate, InsAgreement, Patient, PatientError, Sex};
pub use seal::{
    open_chunk, seal_chunk, ChunkCipher, ChunkError, DossierKey, CHUNK_PLAINTEXT_LEN,
    SEALED_CHUNK_LEN,
};

/// The system random generator failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the system random generator failed")]
pub struct RandomError;
