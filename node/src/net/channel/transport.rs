//! The stream under a channel: frame decoding, the write buffer, and the
//! reading of attachments into memory reserved from the node's
//! [`MemoryBudget`] as their bytes arrive.

use std::io;

use confrere_protocol::session::{FrameDecoder, FrameError, SessionError};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{ChannelError, ABORT_GRACE, READ_CHUNK};
use crate::net::budget::{MemoryBudget, Reservation};

/// Any byte stream a channel can run on.
pub(super) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// The stream with its frame decoder and write buffer.
pub(super) struct Transport {
    pub(super) io: Box<dyn Io>,
    decoder: FrameDecoder,
    read_buf: Box<[u8]>,
    out: Vec<u8>,
    out_pos: usize,
    /// A message whose attachment is still being read.
    pending: Option<Pending>,
    /// Where the memory of received messages is reserved from.
    budget: MemoryBudget,
}

/// A received message and its attachment, read so far up to `filled`.
/// `message` grows as bytes arrive (by at most [`READ_CHUNK`] past
/// `filled`), its capacity held in `reservation`.
struct Pending {
    message: Vec<u8>,
    filled: usize,
    /// The whole message's length, attachment included.
    len: usize,
    reservation: Reservation,
}

impl Transport {
    pub(super) fn new(io: Box<dyn Io>) -> Self {
        Transport {
            io,
            decoder: FrameDecoder::new(),
            read_buf: vec![0u8; READ_CHUNK].into_boxed_slice(),
            out: Vec::new(),
            out_pos: 0,
            pending: None,
            budget: MemoryBudget::unlimited(),
        }
    }

    /// Reserves the memory of received messages from `budget` from now on.
    pub(super) fn set_budget(&mut self, budget: MemoryBudget) {
        self.budget = budget;
    }

    /// Whether a message's attachment is being read.
    pub(super) fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Starts reading a message of `head` and an attachment of `attached`
    /// bytes: nothing is allocated for the attachment yet.
    pub(super) fn expect_attachment(
        &mut self,
        head: Vec<u8>,
        attached: usize,
    ) -> Result<(), ChannelError> {
        let mut reservation = self.budget.reservation();
        if !reservation.grow_to(head.capacity()) {
            return Err(self.over_budget());
        }
        self.pending = Some(Pending {
            filled: head.len(),
            len: head.len().saturating_add(attached),
            message: head,
            reservation,
        });
        Ok(())
    }

    fn over_budget(&self) -> ChannelError {
        ChannelError::MemoryBudget {
            cap: self.budget.cap(),
        }
    }

    /// Reads the rest of the pending message's attachment: first what the
    /// decoder holds, then from the stream, into the message as it grows.
    /// Cancel-safe: what was read stays in `pending`.
    pub(super) async fn read_attachment(&mut self) -> Result<Option<Vec<u8>>, ChannelError> {
        let over_budget = self.over_budget();
        let Some(p) = self.pending.as_mut() else {
            return Ok(None);
        };
        while p.filled < p.len {
            if p.message.len() == p.filled {
                let end = p.filled + (p.len - p.filled).min(READ_CHUNK);
                if end > p.message.capacity() {
                    let cap = p.message.capacity().saturating_mul(2).clamp(end, p.len);
                    if !p.reservation.grow_to(cap) {
                        return Err(over_budget);
                    }
                    p.message.reserve_exact(cap - p.message.len());
                }
                p.message.resize(end, 0);
            }
            let n = self.decoder.take_raw(&mut p.message[p.filled..]);
            if n > 0 {
                p.filled += n;
                continue;
            }
            let n = match self.io.read(&mut p.message[p.filled..]).await {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                let buffered = p.filled;
                return Err(SessionError::from(FrameError::Truncated { buffered }).into());
            }
            p.filled += n;
        }
        Ok(self.pending.take().map(|p| p.message))
    }

    /// The next frame body, or `None` at a clean end of stream. Cancel-safe:
    /// bytes read are handed to the decoder in the same poll.
    pub(super) async fn read_frame(&mut self) -> Result<Option<Vec<u8>>, ChannelError> {
        loop {
            if let Some(body) = self.decoder.pop().map_err(SessionError::from)? {
                return Ok(Some(body));
            }
            // Reading no more than the decoder has room for means it takes
            // every byte; with every frame popped there is always room.
            let room = self.decoder.room().min(self.read_buf.len());
            if room == 0 {
                return Err(SessionError::Internal.into());
            }
            let n = match self.io.read(&mut self.read_buf[..room]).await {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                self.decoder.finish().map_err(SessionError::from)?;
                return Ok(None);
            }
            if self.decoder.push(&self.read_buf[..n]) != n {
                return Err(SessionError::Internal.into());
            }
        }
    }

    pub(super) fn queue(&mut self, framed: &[u8]) {
        self.out.extend_from_slice(framed);
    }

    pub(super) fn queued(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Writes out what is queued; progress survives cancellation.
    pub(super) async fn write_queued(&mut self) -> io::Result<()> {
        while self.out_pos < self.out.len() {
            let n = self.io.write(&self.out[self.out_pos..]).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.out_pos += n;
        }
        self.out.clear();
        self.out_pos = 0;
        Ok(())
    }

    pub(super) async fn flush(&mut self) -> io::Result<()> {
        self.write_queued().await?;
        self.io.flush().await
    }

    /// Closes the stream after an error, telling the peer nothing.
    pub(super) async fn abort(&mut self) {
        self.out.clear();
        self.out_pos = 0;
        let _ = tokio::time::timeout(ABORT_GRACE, self.io.close()).await;
    }
}
