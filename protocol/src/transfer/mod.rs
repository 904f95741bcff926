//! A dossier transfer over an established session: one transfer message
//! per session message.
//!
//! ```text
//! sender → recipient   Offer { dossier_id, key, chunk_count, content_len }
//!                      (the dossier key travels only here, inside the Noise session)
//! recipient → sender   Resume { dossier_id, next_index }
//!                          0 for a new transfer; k if chunks 0..k are already stored
//!                      | Complete { receipt }
//!                          already received earlier: a dossier is delivered exactly once
//!                      | Refuse { dossier_id, reason }
//!                          NotForMe, NoSpace (try later), TooLarge, Busy (try later),
//!                          Revoked, Other, OverQuota (try later: see [`quota`])
//! sender → recipient   Chunk { index, last, sealed } × (chunk_count − next_index)
//!                          the sealed chunks as the outbox holds them, in order
//! recipient → sender   Complete { receipt }
//!                          once the whole dossier verified against its manifest and
//!                          is durably stored; the sender verifies the receipt
//!                          (dossier, recipient PeerId, content SHA-256, signature)
//!                      | Refuse { … }
//!                          e.g. disk full mid-way: the sender keeps the dossier and
//!                          offers it again later; the recipient keeps the chunks it
//!                          stored, to resume
//! ```
//!
//! The recipient stores the sealed chunks as they arrive and feeds them to
//! a [`ContentOpener`](crate::dossier::ContentOpener) (after a restart, the
//! stored ones first), which checks the manifest and every document; the
//! [`ReceivingTransfer`] state machine checks each chunk's index, last flag
//! and length against the offer before it is stored. The
//! [`SendingTransfer`] state machine checks the recipient's answers and
//! verifies the receipt.
//!
//! [`message`] holds the encoding; [`state`] the two state machines;
//! [`quota`] the limits on unfinished inbound transfers.

pub mod message;
pub mod quota;
pub mod state;

pub use message::{
    encode_chunk, ChunkView, Offer, RefuseReason, TransferMessage, CHUNK_HEADER_LEN,
    TRANSFER_VERSION,
};
pub use state::{ReceiverStep, ReceivingTransfer, SenderStep, SendingTransfer, TransferError};
