//! The transfer messages and their encoding.
//!
//! ```text
//! message  = version:u8 (=1) | tag:u8 | body
//! Offer    tag 1: dossier_id:[16] | key:[32] | chunk_count:u64 | content_len:u64
//! Resume   tag 2: dossier_id:[16] | next_index:u64
//! Complete tag 3: receipt:bytes16 (≤ MAX_RECEIPT_LEN, a DeliveryReceipt)
//! Refuse   tag 4: dossier_id:[16] | reason:u8 (1 NotForMe, 2 NoSpace, 3 TooLarge,
//!                 4 Busy, 5 Revoked, 6 Other)
//! Chunk    tag 5: index:u64 | last:u8 (0 | 1) | sealed:bytes16
//! ```
//!
//! An Offer's `chunk_count` must be the count its `content_len` gives. A
//! Chunk's sealed bytes have the length their place allows: 65,296 unless
//! last. The 13-byte Chunk header ([`CHUNK_HEADER_LEN`]) and a full sealed
//! chunk fit one session message; [`encode_chunk`] writes a Chunk straight
//! from the stored sealed bytes and [`ChunkView::decode`] reads one
//! without copying them.

use std::fmt;

use crate::codec::{DecodeError, Reader, Writer};
use crate::dossier::content::{chunk_count, MANIFEST_LEN_PREFIX};
use crate::dossier::manifest::DossierId;
use crate::dossier::seal::{ChunkCipher, DossierKey, SEALED_CHUNK_LEN};
use crate::receipt::{DeliveryReceipt, ReceiptError, MAX_RECEIPT_LEN};

/// The transfer protocol version, first byte of every message.
pub const TRANSFER_VERSION: u8 = 1;
/// Bytes of a Chunk message before its sealed bytes.
pub const CHUNK_HEADER_LEN: usize = 1 + 1 + 8 + 1 + 2;

const TAG_OFFER: u8 = 1;
const TAG_RESUME: u8 = 2;
const TAG_COMPLETE: u8 = 3;
const TAG_REFUSE: u8 = 4;
const TAG_CHUNK: u8 = 5;

/// Why a recipient does not take (or stops taking) a dossier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefuseReason {
    /// The dossier is addressed to another practitioner.
    NotForMe,
    /// No room to store it now: try later.
    NoSpace,
    /// Larger than the recipient accepts.
    TooLarge,
    /// Too many transfers at once: try later.
    Busy,
    /// The consent it is shared under was revoked, or the sender is
    /// refused.
    Revoked,
    /// Anything else.
    Other,
    /// The sender has as many unfinished transfers, or announced bytes in
    /// them, as the recipient allows one sender: try later (see
    /// [`quota`](super::quota)).
    OverQuota,
}

impl RefuseReason {
    /// Wire code.
    pub fn code(self) -> u8 {
        match self {
            RefuseReason::NotForMe => 1,
            RefuseReason::NoSpace => 2,
            RefuseReason::TooLarge => 3,
            RefuseReason::Busy => 4,
            RefuseReason::Revoked => 5,
            RefuseReason::Other => 6,
            RefuseReason::OverQuota => 7,
        }
    }

    /// From the wire code.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => RefuseReason::NotForMe,
            2 => RefuseReason::NoSpace,
            3 => RefuseReason::TooLarge,
            4 => RefuseReason::Busy,
            5 => RefuseReason::Revoked,
            6 => RefuseReason::Other,
            7 => RefuseReason::OverQuota,
            _ => return None,
        })
    }

    /// Whether the sender should keep the dossier and offer it again later.
    pub fn is_temporary(self) -> bool {
        matches!(
            self,
            RefuseReason::NoSpace | RefuseReason::Busy | RefuseReason::OverQuota
        )
    }
}

/// The sender's offer of a dossier. The key travels only here, inside the
/// Noise session; `Debug` does not print it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// The dossier.
    pub dossier_id: DossierId,
    /// Its key, to open the chunks.
    pub key: DossierKey,
    /// Chunks in the dossier ([`chunk_count`] of `content_len`).
    pub chunk_count: u64,
    /// Plaintext bytes in its content.
    pub content_len: u64,
}

impl Offer {
    /// An offer with the chunk count `content_len` gives.
    pub fn new(dossier_id: DossierId, key: DossierKey, content_len: u64) -> Self {
        Offer {
            dossier_id,
            key,
            chunk_count: chunk_count(content_len),
            content_len,
        }
    }

    /// Checks the count is the one the length gives, and the length can
    /// hold a manifest.
    pub fn check(&self) -> Result<(), DecodeError> {
        if self.content_len <= MANIFEST_LEN_PREFIX as u64 {
            return Err(DecodeError::Invalid("content length"));
        }
        if self.chunk_count != chunk_count(self.content_len) {
            return Err(DecodeError::Invalid("chunk count"));
        }
        Ok(())
    }
}

/// One message of a dossier transfer; one per session message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferMessage {
    /// Sender → recipient: a dossier and its key.
    Offer(Offer),
    /// Recipient → sender: send the chunks from `next_index` on.
    Resume {
        /// The dossier.
        dossier_id: DossierId,
        /// The first chunk the recipient lacks (0 for a new transfer).
        next_index: u64,
    },
    /// Recipient → sender: the dossier is received, verified and stored.
    Complete {
        /// The recipient node's signed receipt.
        receipt: DeliveryReceipt,
    },
    /// Recipient → sender: not now, or not at all.
    Refuse {
        /// The dossier.
        dossier_id: DossierId,
        /// Why.
        reason: RefuseReason,
    },
    /// Sender → recipient: one sealed chunk.
    Chunk {
        /// Position, from 0.
        index: u64,
        /// Whether it is the last.
        last: bool,
        /// Ciphertext and tag, as sealed and stored.
        sealed: Vec<u8>,
    },
}

impl TransferMessage {
    /// The message's name, for errors and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            TransferMessage::Offer(_) => "Offer",
            TransferMessage::Resume { .. } => "Resume",
            TransferMessage::Complete { .. } => "Complete",
            TransferMessage::Refuse { .. } => "Refuse",
            TransferMessage::Chunk { .. } => "Chunk",
        }
    }

    /// Wire encoding. Fields out of bounds (an inconsistent offer, a
    /// receipt or chunk too long) are refused.
    pub fn encode(&self) -> Result<Vec<u8>, DecodeError> {
        let mut w = Writer::new();
        w.u8(TRANSFER_VERSION);
        match self {
            TransferMessage::Offer(o) => {
                o.check()?;
                w.u8(TAG_OFFER)
                    .raw(o.dossier_id.as_bytes())
                    .raw(o.key.as_bytes())
                    .raw(&o.chunk_count.to_be_bytes())
                    .raw(&o.content_len.to_be_bytes());
            }
            TransferMessage::Resume {
                dossier_id,
                next_index,
            } => {
                w.u8(TAG_RESUME)
                    .raw(dossier_id.as_bytes())
                    .raw(&next_index.to_be_bytes());
            }
            TransferMessage::Complete { receipt } => {
                let r = receipt.encode().map_err(|e| match e {
                    ReceiptError::Malformed(d) => d,
                    _ => DecodeError::Invalid("receipt"),
                })?;
                w.u8(TAG_COMPLETE).bytes16(&r);
            }
            TransferMessage::Refuse { dossier_id, reason } => {
                w.u8(TAG_REFUSE)
                    .raw(dossier_id.as_bytes())
                    .u8(reason.code());
            }
            TransferMessage::Chunk {
                index,
                last,
                sealed,
            } => return encode_chunk(*index, *last, sealed),
        }
        Ok(w.finish())
    }

    /// Decodes a message (the sealed bytes of a Chunk are copied; see
    /// [`ChunkView::decode`] to borrow them).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != TRANSFER_VERSION {
            return Err(DecodeError::Version(version));
        }
        let msg = match r.u8()? {
            TAG_OFFER => {
                let offer = Offer {
                    dossier_id: DossierId(r.array()?),
                    key: DossierKey::from_bytes(r.array()?),
                    chunk_count: u64::from_be_bytes(r.array()?),
                    content_len: u64::from_be_bytes(r.array()?),
                };
                offer.check()?;
                TransferMessage::Offer(offer)
            }
            TAG_RESUME => TransferMessage::Resume {
                dossier_id: DossierId(r.array()?),
                next_index: u64::from_be_bytes(r.array()?),
            },
            TAG_COMPLETE => TransferMessage::Complete {
                receipt: DeliveryReceipt::decode(r.bytes16(MAX_RECEIPT_LEN)?)?,
            },
            TAG_REFUSE => {
                let dossier_id = DossierId(r.array()?);
                let code = r.u8()?;
                TransferMessage::Refuse {
                    dossier_id,
                    reason: RefuseReason::from_code(code).ok_or(DecodeError::UnknownTag(code))?,
                }
            }
            TAG_CHUNK => {
                let view = ChunkView::decode(bytes)?;
                return Ok(TransferMessage::Chunk {
                    index: view.index,
                    last: view.last,
                    sealed: view.sealed.to_vec(),
                });
            }
            tag => return Err(DecodeError::UnknownTag(tag)),
        };
        r.finish()?;
        Ok(msg)
    }
}

/// A Chunk message read in place: the sealed bytes borrowed from the
/// session plaintext.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ChunkView<'a> {
    /// Position, from 0.
    pub index: u64,
    /// Whether it is the last.
    pub last: bool,
    /// Ciphertext and tag.
    pub sealed: &'a [u8],
}

impl fmt::Debug for ChunkView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkView")
            .field("index", &self.index)
            .field("last", &self.last)
            .field("len", &self.sealed.len())
            .finish()
    }
}

impl<'a> ChunkView<'a> {
    /// Decodes a Chunk message; another message is
    /// [`DecodeError::UnknownTag`].
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != TRANSFER_VERSION {
            return Err(DecodeError::Version(version));
        }
        let tag = r.u8()?;
        if tag != TAG_CHUNK {
            return Err(DecodeError::UnknownTag(tag));
        }
        let index = u64::from_be_bytes(r.array()?);
        let last = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(DecodeError::Invalid("last flag")),
        };
        let sealed = r.bytes16(SEALED_CHUNK_LEN)?;
        r.finish()?;
        ChunkCipher::check_length(index, last, sealed.len())
            .map_err(|_| DecodeError::Invalid("sealed chunk length"))?;
        Ok(ChunkView {
            index,
            last,
            sealed,
        })
    }
}

/// Encodes a Chunk message from sealed bytes as stored, copying them once.
pub fn encode_chunk(index: u64, last: bool, sealed: &[u8]) -> Result<Vec<u8>, DecodeError> {
    ChunkCipher::check_length(index, last, sealed.len())
        .map_err(|_| DecodeError::Invalid("sealed chunk length"))?;
    let mut out = Vec::with_capacity(CHUNK_HEADER_LEN + sealed.len());
    out.push(TRANSFER_VERSION);
    out.push(TAG_CHUNK);
    out.extend_from_slice(&index.to_be_bytes());
    out.push(u8::from(last));
    // check_length bounds it by SEALED_CHUNK_LEN < 65,536.
    out.extend_from_slice(&(sealed.len() as u16).to_be_bytes());
    out.extend_from_slice(sealed);
    Ok(out)
}
