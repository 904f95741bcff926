//! Framing of Noise messages on a byte stream.
//!
//! ```text
//! frame = length:u16 (big-endian, 1..=65535) | body:[length]
//! ```
//!
//! The body is one Noise message. A length of zero is an error (no Noise
//! message is empty), and a body cannot exceed 65,535 bytes, the Noise
//! limit, which the `u16` prefix also bounds. [`FrameDecoder`] reassembles
//! frames from stream reads of any size while never holding more than one
//! maximal frame with its header.

use super::MAX_NOISE_MESSAGE_LEN;

/// Length of the frame header.
pub const FRAME_HEADER_LEN: usize = 2;

/// Largest frame body: one Noise message.
pub const MAX_FRAME_BODY_LEN: usize = MAX_NOISE_MESSAGE_LEN;

/// Largest frame, header included (65,537 bytes); also the most a
/// [`FrameDecoder`] ever buffers.
pub const MAX_FRAME_LEN: usize = FRAME_HEADER_LEN + MAX_FRAME_BODY_LEN;

/// A frame that breaks the framing rules.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A zero-length frame or message.
    #[error("empty frame")]
    Empty,
    /// A body longer than [`MAX_FRAME_BODY_LEN`].
    #[error("frame of {len} bytes exceeds the limit of {MAX_FRAME_BODY_LEN}")]
    Oversized {
        /// The body's length.
        len: usize,
    },
    /// The stream ended inside a frame.
    #[error("the stream ended inside a frame ({buffered} bytes of it received)")]
    Truncated {
        /// Bytes of the unfinished frame that were received.
        buffered: usize,
    },
}

/// Checks the length of a frame body (a Noise message).
pub(crate) fn check_body_len(len: usize) -> Result<(), FrameError> {
    if len == 0 {
        Err(FrameError::Empty)
    } else if len > MAX_FRAME_BODY_LEN {
        Err(FrameError::Oversized { len })
    } else {
        Ok(())
    }
}

/// Frames one message: its length as a big-endian `u16`, then the message.
pub fn encode_frame(body: &[u8]) -> Result<Vec<u8>, FrameError> {
    check_body_len(body.len())?;
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + body.len());
    out.extend_from_slice(&header(body.len()));
    out.extend_from_slice(body);
    Ok(out)
}

/// The header for a body of `len` bytes; callers have checked `len`.
pub(crate) fn header(len: usize) -> [u8; FRAME_HEADER_LEN] {
    u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes()
}

/// Reassembles frames from a byte stream.
///
/// Push what the stream delivers, then pop complete frame bodies. `push`
/// takes at most [`room`](FrameDecoder::room) bytes and says how many it
/// took; once every complete frame has been popped there is always room
/// for at least one more byte, so this loop always makes progress:
///
/// ```
/// # use confrere_protocol::session::{FrameDecoder, FrameError};
/// # fn handle(_: Vec<u8>) {}
/// # fn main() -> Result<(), FrameError> {
/// let mut decoder = FrameDecoder::new();
/// let read: &[u8] = &[0, 2, b'h', b'i', 0, 1];
/// let mut input = read;
/// while !input.is_empty() {
///     let taken = decoder.push(input);
///     input = &input[taken..];
///     while let Some(body) = decoder.pop()? {
///         handle(body);
///     }
/// }
/// // At the end of the stream, a partial frame is an error.
/// assert!(decoder.finish().is_err());
/// # Ok(())
/// # }
/// ```
///
/// After an error the decoder stays failed: every later `pop` returns the
/// same error and `push` takes nothing.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    failed: Option<FrameError>,
}

impl FrameDecoder {
    /// An empty decoder.
    pub fn new() -> Self {
        FrameDecoder::default()
    }

    /// Bytes held and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// How many bytes the next [`push`](FrameDecoder::push) can take.
    pub fn room(&self) -> usize {
        if self.failed.is_some() {
            0
        } else {
            MAX_FRAME_LEN - self.buffered()
        }
    }

    /// Takes bytes from the stream, as many as there is room for; returns
    /// how many it took.
    #[must_use = "bytes beyond the returned count were not taken"]
    pub fn push(&mut self, input: &[u8]) -> usize {
        let n = input.len().min(self.room());
        if n == 0 {
            return 0;
        }
        if self.buf.len() + n > MAX_FRAME_LEN {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(&input[..n]);
        n
    }

    /// The next complete frame's body, if one has arrived.
    pub fn pop(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let avail = &self.buf[self.start..];
        let Some(head) = avail.first_chunk::<FRAME_HEADER_LEN>() else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes(*head));
        if let Err(e) = check_body_len(len) {
            self.failed = Some(e.clone());
            return Err(e);
        }
        let Some(body) = avail.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + len) else {
            return Ok(None);
        };
        let body = body.to_vec();
        self.start += FRAME_HEADER_LEN + len;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        Ok(Some(body))
    }

    /// Moves bytes that follow the last frame popped, up to `out.len()`,
    /// into `out` and returns how many: the start of an attachment (see
    /// the session's module documentation), which the caller reads past
    /// the decoder once what the decoder held is taken.
    pub fn take_raw(&mut self, out: &mut [u8]) -> usize {
        if self.failed.is_some() {
            return 0;
        }
        let avail = &self.buf[self.start..];
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.start += n;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        n
    }

    /// Call at the end of the stream: fails if a frame was left unfinished
    /// (or an error occurred).
    pub fn finish(&self) -> Result<(), FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.buffered() {
            0 => Ok(()),
            buffered => Err(FrameError::Truncated { buffered }),
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(MAX_FRAME_LEN, 65_537);
        assert_eq!(check_body_len(65_535), Ok(()));
        assert_eq!(
            check_body_len(65_536),
            Err(FrameError::Oversized { len: 65_536 })
        );
        assert_eq!(check_body_len(0), Err(FrameError::Empty));
    }

    #[test]
    fn raw_bytes_after_a_frame_are_taken_as_they_are() {
        let mut d = FrameDecoder::new();
        // A frame, 5 raw bytes (an attachment), then another frame.
        let stream = [&[0u8, 2, b'h', b'i'][..], b"12345", &[0, 1, b'!']].concat();
        assert_eq!(d.push(&stream), stream.len());
        assert_eq!(d.pop().unwrap(), Some(b"hi".to_vec()));
        let mut raw = [0u8; 3];
        assert_eq!(d.take_raw(&mut raw), 3);
        assert_eq!(&raw, b"123");
        assert_eq!(d.take_raw(&mut raw[..2]), 2);
        assert_eq!(&raw[..2], b"45");
        assert_eq!(d.pop().unwrap(), Some(b"!".to_vec()));
        // Nothing held: nothing taken, and the stream may end here.
        assert_eq!(d.take_raw(&mut raw), 0);
        assert_eq!(d.finish(), Ok(()));
        // A failed decoder gives nothing.
        let mut d = FrameDecoder::new();
        assert_eq!(d.push(&[0, 0, 9]), 3);
        assert!(d.pop().is_err());
        assert_eq!(d.take_raw(&mut raw), 0);
    }

    #[test]
    fn compaction_keeps_the_partial_frame() {
        let mut d = FrameDecoder::new();
        // A small frame, then most of a maximal one: the buffer is full.
        let mut stream = encode_frame(b"x").unwrap();
        let big = encode_frame(&vec![7u8; MAX_FRAME_BODY_LEN]).unwrap();
        stream.extend_from_slice(&big);
        let taken = d.push(&stream);
        assert_eq!(taken, MAX_FRAME_LEN);
        assert_eq!(d.pop(), Ok(Some(b"x".to_vec())));
        assert_eq!(d.pop(), Ok(None));
        assert_eq!(d.room(), 3);
        // Taking the rest moves the partial frame to the front.
        assert_eq!(d.push(&stream[taken..]), 3);
        assert_eq!(d.buf.len(), MAX_FRAME_LEN);
        assert_eq!(d.pop(), Ok(Some(vec![7u8; MAX_FRAME_BODY_LEN])));
        assert_eq!(d.buffered(), 0);
        assert_eq!(d.finish(), Ok(()));
    }
}
