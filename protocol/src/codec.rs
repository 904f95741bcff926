//! Bounds-checked binary encoding shared by every wire message.
//!
//! Integers are big-endian. Variable-length fields carry a length prefix
//! (u8, u16 or u32 as the field requires) and every decoder states the
//! largest length it accepts, so a damaged or hostile length can neither
//! make the reader run past its input nor make it allocate more than the
//! field may hold. Decoding never panics.

/// Why bytes could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended inside a field.
    #[error("message truncated")]
    Truncated,
    /// A length field exceeds what the field may hold.
    #[error("field too long")]
    TooLong,
    /// Bytes left over after the message.
    #[error("trailing bytes after the message")]
    Trailing,
    /// A version this implementation does not speak.
    #[error("unsupported version {0}")]
    Version(u8),
    /// A tag or enumeration value that is not defined.
    #[error("unknown value {0} in a tagged field")]
    UnknownTag(u8),
    /// A field whose value is out of its domain.
    #[error("invalid field: {0}")]
    Invalid(&'static str),
}

/// Appends fields to a buffer.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Writer::default()
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// Two bytes, big-endian.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Four bytes, big-endian.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Eight bytes, big-endian, two's complement.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Raw bytes with no length (fixed-size fields).
    pub fn raw(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// Bytes with a u8 length prefix. Callers keep `v` under 256 bytes.
    pub fn bytes8(&mut self, v: &[u8]) -> &mut Self {
        let n = u8::try_from(v.len()).unwrap_or(u8::MAX);
        self.u8(n).raw(&v[..usize::from(n)])
    }

    /// Bytes with a u16 length prefix. Callers keep `v` under 64 KiB.
    pub fn bytes16(&mut self, v: &[u8]) -> &mut Self {
        let n = u16::try_from(v.len()).unwrap_or(u16::MAX);
        self.u16(n).raw(&v[..usize::from(n)])
    }

    /// Bytes with a u32 length prefix.
    pub fn bytes32(&mut self, v: &[u8]) -> &mut Self {
        let n = u32::try_from(v.len()).unwrap_or(u32::MAX);
        self.u32(n).raw(&v[..n as usize])
    }

    /// The encoded bytes.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads fields from a byte slice.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Takes `n` raw bytes.
    pub fn raw(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.raw(N)?);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// Two bytes, big-endian.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Four bytes, big-endian.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Eight bytes, big-endian, two's complement.
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// Bytes with a u8 length prefix, at most `max` long.
    pub fn bytes8(&mut self, max: usize) -> Result<&'a [u8], DecodeError> {
        let n = usize::from(self.u8()?);
        self.limited(n, max)
    }

    /// Bytes with a u16 length prefix, at most `max` long.
    pub fn bytes16(&mut self, max: usize) -> Result<&'a [u8], DecodeError> {
        let n = usize::from(self.u16()?);
        self.limited(n, max)
    }

    /// Bytes with a u32 length prefix, at most `max` long.
    pub fn bytes32(&mut self, max: usize) -> Result<&'a [u8], DecodeError> {
        let n = usize::try_from(self.u32()?).map_err(|_| DecodeError::TooLong)?;
        self.limited(n, max)
    }

    fn limited(&mut self, n: usize, max: usize) -> Result<&'a [u8], DecodeError> {
        if n > max {
            return Err(DecodeError::TooLong);
        }
        self.raw(n)
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Fails unless every byte was read.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Trailing)
        }
    }
}

/// Parses exactly 32 hex digits (either case) into 16 bytes: the written
/// form of every 16-byte identifier (dossiers, consents, care-team records).
pub fn parse_hex16(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        *o = hex_value(pair[0])? << 4 | hex_value(pair[1])?;
    }
    Some(out)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_bytes() {
        let mut w = Writer::new();
        w.u8(1)
            .u16(0x0203)
            .u32(0x0405_0607)
            .i64(-1)
            .bytes8(b"ab")
            .bytes16(b"c");
        let b = w.finish();
        assert_eq!(
            b,
            [
                1, 2, 3, 4, 5, 6, 7, 255, 255, 255, 255, 255, 255, 255, 255, 2, b'a', b'b', 0, 1,
                b'c'
            ]
        );
        let mut r = Reader::new(&b);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u16(), Ok(0x0203));
        assert_eq!(r.u32(), Ok(0x0405_0607));
        assert_eq!(r.i64(), Ok(-1));
        assert_eq!(r.bytes8(2), Ok(&b"ab"[..]));
        assert_eq!(r.bytes16(0), Err(DecodeError::TooLong));
    }

    #[test]
    fn hex16() {
        let id = parse_hex16("00FFaa0102030405060708090a0b0c0d");
        assert_eq!(
            id,
            Some([0, 0xff, 0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13])
        );
        assert_eq!(parse_hex16("00"), None);
        assert_eq!(parse_hex16(&"g".repeat(32)), None);
        assert_eq!(parse_hex16(&"0".repeat(33)), None);
    }

    #[test]
    fn truncation_and_trailing() {
        assert_eq!(
            Reader::new(&[0, 5, 1]).bytes16(10),
            Err(DecodeError::Truncated)
        );
        assert_eq!(Reader::new(&[1]).u16(), Err(DecodeError::Truncated));
        let mut r = Reader::new(&[1, 2]);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.finish(), Err(DecodeError::Trailing));
    }
}
