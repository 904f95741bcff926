//! The two sides of one transfer as small state machines: they check each
//! message against what the transfer allows at that point, and tell the
//! node what to do next. They hold no chunks and no keys.
//!
//! ```text
//! SendingTransfer                              ReceivingTransfer
//! new(id, summary, peer) → offer(key) ──▶     from_offer(offer, stored) → Resume
//! on_message(Resume)  → SendChunks { from } ◀──
//! next_chunk() → (index, last) ×n ──▶          on_chunk(index, last, len) → Received | ReceivedLast
//! on_message(Complete) → Delivered (receipt    ◀── complete(receipt)
//!   verified against id, peer, content digest)
//! on_message(Refuse)  → Refused(reason)        ◀── refuse(reason), at any point
//! ```

use super::message::{Offer, RefuseReason, TransferMessage};
use crate::dossier::content::{sealed_chunk_len, ContentSummary};
use crate::dossier::manifest::DossierId;
use crate::dossier::seal::DossierKey;
use crate::receipt::{verify_receipt, DeliveryReceipt, ReceiptError};

/// Why a transfer stops: the peer broke the protocol or its receipt does
/// not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// A message about another dossier.
    #[error("the peer's {kind} names another dossier")]
    OtherDossier {
        /// The message.
        kind: &'static str,
    },
    /// A message the transfer does not allow at this point.
    #[error("unexpected {kind} while {state}")]
    Unexpected {
        /// The message.
        kind: &'static str,
        /// What the transfer was waiting for.
        state: &'static str,
    },
    /// A Resume past the dossier's end.
    #[error("the recipient asks to resume at chunk {next_index} of {chunk_count}")]
    ResumeBeyondEnd {
        /// Asked.
        next_index: u64,
        /// Chunks in the dossier.
        chunk_count: u64,
    },
    /// More chunks stored than the offer holds.
    #[error("{stored} chunks are stored for a dossier of {chunk_count}")]
    StoredBeyondEnd {
        /// Stored.
        stored: u64,
        /// Chunks in the dossier.
        chunk_count: u64,
    },
    /// An offer whose chunk count is not the one its length gives.
    #[error("the offer's chunk count does not match its length")]
    InconsistentOffer,
    /// A chunk other than the next one.
    #[error("chunk {got} came while chunk {expected} was expected")]
    ChunkOutOfOrder {
        /// Expected.
        expected: u64,
        /// Received.
        got: u64,
    },
    /// A chunk after the dossier's last.
    #[error("chunk {index} is past the dossier's {chunk_count} chunks")]
    ChunkBeyondEnd {
        /// Received.
        index: u64,
        /// Chunks in the dossier.
        chunk_count: u64,
    },
    /// A last flag on another chunk than the last, or missing on the last.
    #[error("chunk {index}'s last flag does not match its place")]
    LastFlag {
        /// The chunk.
        index: u64,
    },
    /// A chunk whose sealed length is not the one its place gives.
    #[error("chunk {index} is {got} bytes sealed, not {expected}")]
    ChunkLength {
        /// The chunk.
        index: u64,
        /// Expected.
        expected: usize,
        /// Received.
        got: usize,
    },
    /// A Complete before every chunk was sent.
    #[error("the recipient completed the transfer before chunk {next_index} was sent")]
    CompleteBeforeEnd {
        /// The next chunk that would have been sent.
        next_index: u64,
    },
    /// The receipt does not verify.
    #[error("the delivery receipt is refused: {0}")]
    Receipt(#[from] ReceiptError),
    /// Completing before every chunk was received.
    #[error("{received} of {chunk_count} chunks received: the transfer is not complete")]
    NotAllReceived {
        /// Received.
        received: u64,
        /// Chunks in the dossier.
        chunk_count: u64,
    },
    /// A message after the transfer ended.
    #[error("the transfer is over")]
    Finished,
}

/// What the sender does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SenderStep {
    /// Send the chunks from `from` on ([`SendingTransfer::next_chunk`]).
    SendChunks {
        /// The first chunk the recipient lacks.
        from: u64,
    },
    /// The recipient holds the dossier: the receipt verified.
    Delivered(DeliveryReceipt),
    /// The recipient refused; keep the dossier if the reason is temporary.
    Refused(RefuseReason),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SendState {
    Offered,
    Sending { next: u64 },
    Done,
}

/// The sender's side of one transfer.
#[derive(Clone, Debug)]
pub struct SendingTransfer {
    dossier_id: DossierId,
    summary: ContentSummary,
    recipient_peer_id: Vec<u8>,
    state: SendState,
}

impl SendingTransfer {
    /// A transfer of the dossier sealed with `summary` to the node whose
    /// session credential binds `recipient_peer_id`.
    pub fn new(dossier_id: DossierId, summary: ContentSummary, recipient_peer_id: Vec<u8>) -> Self {
        SendingTransfer {
            dossier_id,
            summary,
            recipient_peer_id,
            state: SendState::Offered,
        }
    }

    /// The offer to send first.
    pub fn offer(&self, key: &DossierKey) -> TransferMessage {
        TransferMessage::Offer(Offer {
            dossier_id: self.dossier_id,
            key: key.clone(),
            chunk_count: self.summary.chunk_count,
            content_len: self.summary.content_len,
        })
    }

    /// Whether the transfer ended (delivered or refused).
    pub fn is_finished(&self) -> bool {
        self.state == SendState::Done
    }

    /// Takes the recipient's message.
    pub fn on_message(&mut self, msg: TransferMessage) -> Result<SenderStep, TransferError> {
        let kind = msg.kind();
        let state_name = match self.state {
            SendState::Offered => "waiting for the answer to the offer",
            SendState::Sending { .. } => "sending chunks",
            SendState::Done => return Err(TransferError::Finished),
        };
        match msg {
            TransferMessage::Resume {
                dossier_id,
                next_index,
            } if self.state == SendState::Offered => {
                self.check_dossier(&dossier_id, kind)?;
                let chunk_count = self.summary.chunk_count;
                if next_index > chunk_count {
                    return Err(TransferError::ResumeBeyondEnd {
                        next_index,
                        chunk_count,
                    });
                }
                self.state = SendState::Sending { next: next_index };
                Ok(SenderStep::SendChunks { from: next_index })
            }
            TransferMessage::Complete { receipt } => {
                if let SendState::Sending { next } = self.state {
                    if next < self.summary.chunk_count {
                        return Err(TransferError::CompleteBeforeEnd { next_index: next });
                    }
                }
                verify_receipt(
                    &receipt,
                    &self.dossier_id,
                    &self.recipient_peer_id,
                    &self.summary.content_digest,
                )?;
                self.state = SendState::Done;
                Ok(SenderStep::Delivered(receipt))
            }
            TransferMessage::Refuse { dossier_id, reason } => {
                self.check_dossier(&dossier_id, kind)?;
                self.state = SendState::Done;
                Ok(SenderStep::Refused(reason))
            }
            _ => Err(TransferError::Unexpected {
                kind,
                state: state_name,
            }),
        }
    }

    /// The next chunk to send, `(index, last)`, once the recipient said
    /// where to start; `None` when all were sent (then wait for Complete).
    pub fn next_chunk(&mut self) -> Option<(u64, bool)> {
        match &mut self.state {
            SendState::Sending { next } if *next < self.summary.chunk_count => {
                let index = *next;
                *next += 1;
                Some((index, *next == self.summary.chunk_count))
            }
            _ => None,
        }
    }

    fn check_dossier(&self, id: &DossierId, kind: &'static str) -> Result<(), TransferError> {
        if id == &self.dossier_id {
            Ok(())
        } else {
            Err(TransferError::OtherDossier { kind })
        }
    }
}

/// What the recipient does after a chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiverStep {
    /// Store it and wait for the next.
    Received,
    /// Store it: that was the last. Verify the dossier, store it durably,
    /// then [`ReceivingTransfer::complete`].
    ReceivedLast,
}

/// The recipient's side of one transfer.
#[derive(Clone, Debug)]
pub struct ReceivingTransfer {
    dossier_id: DossierId,
    chunk_count: u64,
    content_len: u64,
    next: u64,
    finished: bool,
}

impl ReceivingTransfer {
    /// Accepts an offer of which `stored` chunks (0..stored) are already
    /// stored; returns the transfer and the Resume to send.
    pub fn from_offer(
        offer: &Offer,
        stored: u64,
    ) -> Result<(Self, TransferMessage), TransferError> {
        offer
            .check()
            .map_err(|_| TransferError::InconsistentOffer)?;
        if stored > offer.chunk_count {
            return Err(TransferError::StoredBeyondEnd {
                stored,
                chunk_count: offer.chunk_count,
            });
        }
        let t = ReceivingTransfer {
            dossier_id: offer.dossier_id,
            chunk_count: offer.chunk_count,
            content_len: offer.content_len,
            next: stored,
            finished: false,
        };
        let resume = TransferMessage::Resume {
            dossier_id: offer.dossier_id,
            next_index: stored,
        };
        Ok((t, resume))
    }

    /// The dossier.
    pub fn dossier_id(&self) -> DossierId {
        self.dossier_id
    }

    /// The next chunk expected (= chunks stored so far).
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// Whether every chunk has been received.
    pub fn all_received(&self) -> bool {
        self.next == self.chunk_count
    }

    /// Checks a chunk's place, last flag and sealed length.
    pub fn on_chunk(
        &mut self,
        index: u64,
        last: bool,
        sealed_len: usize,
    ) -> Result<ReceiverStep, TransferError> {
        if self.finished {
            return Err(TransferError::Finished);
        }
        if index >= self.chunk_count {
            return Err(TransferError::ChunkBeyondEnd {
                index,
                chunk_count: self.chunk_count,
            });
        }
        if index != self.next {
            return Err(TransferError::ChunkOutOfOrder {
                expected: self.next,
                got: index,
            });
        }
        let is_last = index + 1 == self.chunk_count;
        if last != is_last {
            return Err(TransferError::LastFlag { index });
        }
        let expected = sealed_chunk_len(self.content_len, index).unwrap_or(0);
        if sealed_len != expected {
            return Err(TransferError::ChunkLength {
                index,
                expected,
                got: sealed_len,
            });
        }
        self.next += 1;
        Ok(if is_last {
            ReceiverStep::ReceivedLast
        } else {
            ReceiverStep::Received
        })
    }

    /// Takes a message other than through [`on_chunk`](Self::on_chunk):
    /// a Chunk is checked; anything else is unexpected.
    pub fn on_message(&mut self, msg: &TransferMessage) -> Result<ReceiverStep, TransferError> {
        match msg {
            TransferMessage::Chunk {
                index,
                last,
                sealed,
            } => self.on_chunk(*index, *last, sealed.len()),
            _ if self.finished => Err(TransferError::Finished),
            other => Err(TransferError::Unexpected {
                kind: other.kind(),
                state: "receiving chunks",
            }),
        }
    }

    /// The Complete to send once every chunk is received, the dossier
    /// verified and durably stored.
    pub fn complete(&mut self, receipt: DeliveryReceipt) -> Result<TransferMessage, TransferError> {
        if self.finished {
            return Err(TransferError::Finished);
        }
        if !self.all_received() {
            return Err(TransferError::NotAllReceived {
                received: self.next,
                chunk_count: self.chunk_count,
            });
        }
        if receipt.dossier_id != self.dossier_id {
            return Err(TransferError::OtherDossier { kind: "Complete" });
        }
        self.finished = true;
        Ok(TransferMessage::Complete { receipt })
    }

    /// The Refuse to send (out of space mid-way, say); the chunks stored so
    /// far stay for a later resume.
    pub fn refuse(&mut self, reason: RefuseReason) -> TransferMessage {
        self.finished = true;
        TransferMessage::Refuse {
            dossier_id: self.dossier_id,
            reason,
        }
    }
}
