//! Writing and reading a dossier's chunk file in one pass, past the page
//! cache.
//!
//! A dossier is written once, chunk after chunk, and read back once when
//! it is delivered or opened; nothing gains from keeping its gigabytes in
//! the page cache. Copying into the page cache is also what costs most
//! when a large dossier is stored: on this project's reference machine a
//! buffered write of 1 GiB takes about 1.9 s of CPU, a direct one 0.2 s.
//! So a [`ChunkWriter`] gathers the chunks in a buffer aligned to
//! [`ALIGN`] and writes whole aligned blocks with `O_DIRECT`; a
//! [`ChunkReader`] reads aligned windows the same way. Whatever is not
//! aligned (the start of a stream that begins mid-block, the tail of the
//! file) goes through the page cache as before.
//!
//! Where `O_DIRECT` is not available (tmpfs, other systems) or a direct
//! write fails as unsupported, both fall back to ordinary reads and writes:
//! the same bytes at the same offsets, only slower.
//!
//! Durability is unchanged: [`ChunkWriter::write_out`] puts every chunk
//! pushed so far into the file, and the store's next flush syncs it.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::STRIDE;
use crate::store::StoreError;

/// Alignment of direct reads and writes: offsets, lengths and buffers.
pub(crate) const ALIGN: usize = 4096;

/// Bytes gathered before a direct write (16 full chunks and a bit).
const WRITE_BATCH: usize = 1 << 20;

/// Bytes read at once by a [`ChunkReader`].
const READ_WINDOW: usize = 1 << 20;

fn align_down(x: u64) -> u64 {
    x - x % ALIGN as u64
}

fn align_up(x: u64) -> u64 {
    x.div_ceil(ALIGN as u64) * ALIGN as u64
}

/// A byte buffer whose usable part starts at an [`ALIGN`]ed address.
struct AlignedBuf {
    raw: Vec<u8>,
    start: usize,
    len: usize,
    cap: usize,
}

impl AlignedBuf {
    fn new(cap: usize) -> AlignedBuf {
        let raw = vec![0u8; cap + ALIGN];
        let start = raw.as_ptr().align_offset(ALIGN).min(ALIGN);
        AlignedBuf {
            raw,
            start,
            len: 0,
            cap,
        }
    }

    fn filled(&self) -> &[u8] {
        &self.raw[self.start..self.start + self.len]
    }

    fn spare(&mut self) -> &mut [u8] {
        &mut self.raw[self.start + self.len..self.start + self.cap]
    }

    fn extend(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.cap - self.len);
        self.spare()[..n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    /// Drops the first `n` bytes, moving the rest to the front.
    fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.raw
            .copy_within(self.start + n..self.start + self.len, self.start);
        self.len -= n;
    }
}

#[cfg(target_os = "linux")]
fn open_direct(path: &Path, write: bool) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = OpenOptions::new();
    opts.read(true).write(write).custom_flags(libc::O_DIRECT);
    opts.open(path).ok()
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path, _write: bool) -> Option<File> {
    None
}

/// Whether an error means "direct I/O is not supported here".
fn unsupported(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::InvalidInput || e.kind() == io::ErrorKind::Unsupported
}

/// Writes a run of consecutive chunks of one dossier's file; see the module
/// documentation.
pub(crate) struct ChunkWriter {
    plain: File,
    direct: Option<File>,
    buf: AlignedBuf,
    /// File offset of the first byte in `buf`.
    at: u64,
    /// Index of the next chunk expected.
    next: u64,
}

impl ChunkWriter {
    /// Starts writing at chunk `first` of the file at `path` (created if
    /// missing, mode 0600). The file is cut at that chunk when `truncate`;
    /// otherwise what follows is kept until it is overwritten.
    pub(super) fn create(path: &Path, first: u64, truncate: bool) -> io::Result<ChunkWriter> {
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let plain = opts.open(path)?;
        let at = first
            .checked_mul(STRIDE)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "chunk index too large"))?;
        if truncate && plain.metadata()?.len() > at {
            plain.set_len(at)?;
        }
        Ok(ChunkWriter {
            direct: open_direct(path, true),
            plain,
            buf: AlignedBuf::new(WRITE_BATCH + ALIGN + STRIDE as usize),
            at,
            next: first,
        })
    }

    /// The index of the next chunk to push.
    pub(crate) fn next_index(&self) -> u64 {
        self.next
    }

    /// Adds chunk `index`, which must be the next one. The chunk is in the
    /// file after the next [`write_out`](Self::write_out) at the latest.
    pub(crate) fn push(&mut self, index: u64, sealed: &[u8]) -> io::Result<()> {
        if index != self.next || sealed.len() as u64 > STRIDE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "chunk {index} pushed while chunk {} was expected",
                    self.next
                ),
            ));
        }
        if self.buf.len + sealed.len() > self.buf.cap {
            self.write_aligned()?;
        }
        self.buf.extend(sealed);
        self.next += 1;
        if self.buf.len >= WRITE_BATCH {
            self.write_aligned()?;
        }
        Ok(())
    }

    /// Writes the whole aligned blocks held, keeping the rest.
    fn write_aligned(&mut self) -> io::Result<()> {
        let end = self.at + self.buf.len as u64;
        // A stream that starts mid-block: its first bytes up to the block
        // boundary go through the page cache.
        let head_end = align_up(self.at).min(end);
        if head_end > self.at {
            let n = (head_end - self.at) as usize;
            self.plain.write_all_at(&self.buf.filled()[..n], self.at)?;
            self.buf.consume(n);
            self.at = head_end;
        }
        let aligned_end = align_down(end);
        if aligned_end > self.at {
            let n = (aligned_end - self.at) as usize;
            self.write_block(n)?;
            self.buf.consume(n);
            self.at = aligned_end;
        }
        Ok(())
    }

    /// Writes the first `n` bytes held (aligned in offset and length).
    fn write_block(&mut self, n: usize) -> io::Result<()> {
        if let Some(direct) = &self.direct {
            match direct.write_all_at(&self.buf.filled()[..n], self.at) {
                Ok(()) => return Ok(()),
                Err(e) if unsupported(&e) => self.direct = None,
                Err(e) => return Err(e),
            }
        }
        self.plain.write_all_at(&self.buf.filled()[..n], self.at)
    }

    /// Puts every chunk pushed so far into the file: whole blocks directly,
    /// the unaligned tail through the page cache (it is written again,
    /// directly, once the block it starts fills up).
    pub(crate) fn write_out(&mut self) -> io::Result<()> {
        self.write_aligned()?;
        if self.buf.len > 0 {
            self.plain.write_all_at(self.buf.filled(), self.at)?;
        }
        Ok(())
    }
}

/// Reads the chunks of one dossier's file in order; see the module
/// documentation.
pub struct ChunkReader {
    plain: File,
    direct: Option<File>,
    buf: AlignedBuf,
    /// File offset of the first byte in `buf`.
    at: u64,
    len: u64,
    next: u64,
}

impl ChunkReader {
    /// Opens the file at `path` to read from chunk `first`. `None` if the
    /// file does not exist.
    pub(super) fn open(path: &Path, first: u64) -> io::Result<Option<ChunkReader>> {
        let plain = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = plain.metadata()?.len();
        let at = first.saturating_mul(STRIDE);
        Ok(Some(ChunkReader {
            direct: open_direct(path, false),
            plain,
            buf: AlignedBuf::new(READ_WINDOW + ALIGN + STRIDE as usize),
            at,
            len,
            next: first,
        }))
    }

    /// The next chunk: its index and sealed bytes, or `None` past the end
    /// of the file. Every chunk but the file's last is full size.
    pub fn next_chunk(&mut self) -> Result<Option<(u64, &[u8])>, StoreError> {
        self.read_next()
            .map_err(|e| super::io_err("reading a chunk", e))
    }

    fn read_next(&mut self) -> io::Result<Option<(u64, &[u8])>> {
        let start = self.next.saturating_mul(STRIDE);
        if start >= self.len {
            return Ok(None);
        }
        let want = (self.len - start).min(STRIDE) as usize;
        let held_end = self.at + self.buf.len as u64;
        if start < self.at || start + want as u64 > held_end {
            self.fill(start)?;
        }
        let from = (start - self.at) as usize;
        let chunk = self.buf.filled().get(from..from + want).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the chunk file is shorter than it was",
            )
        })?;
        let index = self.next;
        self.next += 1;
        Ok(Some((index, chunk)))
    }

    /// Reads a window starting at the block that holds `start`.
    fn fill(&mut self, start: u64) -> io::Result<()> {
        let from = align_down(start);
        self.buf.len = 0;
        self.at = from;
        let want = (READ_WINDOW as u64).min(align_up(self.len) - from) as usize;
        let mut got = 0;
        while got < want {
            let spare = &mut self.buf.spare()[..want - got];
            let off = from + got as u64;
            let n = match &self.direct {
                Some(d) => match d.read_at(spare, off) {
                    Ok(n) => n,
                    Err(e) if unsupported(&e) => {
                        self.direct = None;
                        continue;
                    }
                    Err(e) => return Err(e),
                },
                None => self.plain.read_at(spare, off)?,
            };
            if n == 0 {
                break;
            }
            got += n;
            self.buf.len = got;
            // A direct read stops short only at the end of the file; what
            // follows must start on a block boundary again.
            if self.direct.is_some() && n % ALIGN != 0 {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(i: u64, len: usize) -> Vec<u8> {
        (0..len).map(|j| (i as usize * 31 + j) as u8).collect()
    }

    fn write_and_read(first: u64, count: u64, last_len: usize, out_every: u64) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.sealed");
        // Chunks before `first`, written the ordinary way.
        {
            let f = File::create(&path).expect("create");
            for i in 0..first {
                f.write_all_at(&chunk(i, STRIDE as usize), i * STRIDE)
                    .expect("head");
            }
        }
        let mut w = ChunkWriter::create(&path, first, true).expect("writer");
        for i in first..first + count {
            let len = if i + 1 == first + count {
                last_len
            } else {
                STRIDE as usize
            };
            w.push(i, &chunk(i, len)).expect("push");
            if out_every > 0 && i % out_every == 0 {
                w.write_out().expect("write out");
            }
        }
        w.write_out().expect("write out");
        drop(w);
        let total = (first + count - 1) * STRIDE + last_len as u64;
        assert_eq!(std::fs::metadata(&path).expect("meta").len(), total);
        let mut r = ChunkReader::open(&path, 0).expect("open").expect("exists");
        let mut n = 0;
        while let Some((i, bytes)) = r.next_chunk().expect("read") {
            let len = if i + 1 == first + count {
                last_len
            } else {
                STRIDE as usize
            };
            assert_eq!(i, n);
            assert_eq!(bytes, &chunk(i, len)[..], "chunk {i}");
            n += 1;
        }
        assert_eq!(n, first + count);
        // Reading may start at any chunk.
        let from = (first + count) / 2;
        let mut r = ChunkReader::open(&path, from)
            .expect("open")
            .expect("exists");
        let (i, bytes) = r.next_chunk().expect("read").expect("a chunk");
        assert_eq!(i, from);
        assert_eq!(bytes[..5], chunk(from, 5)[..]);
    }

    #[test]
    fn chunks_written_past_the_cache_read_back_the_same() {
        write_and_read(0, 40, 1000, 0);
        write_and_read(3, 40, STRIDE as usize, 0);
        write_and_read(1, 70, 17, 7);
        write_and_read(0, 1, 5, 0);
    }

    #[test]
    fn a_chunk_out_of_order_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.sealed");
        let mut w = ChunkWriter::create(&path, 0, true).expect("writer");
        w.push(0, &chunk(0, STRIDE as usize)).expect("first");
        assert!(w.push(2, &chunk(2, 10)).is_err());
        assert!(w.push(1, &vec![0u8; STRIDE as usize + 1]).is_err());
        assert_eq!(w.next_index(), 1);
    }

    #[test]
    fn truncating_cuts_the_file_at_the_first_chunk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.sealed");
        std::fs::write(&path, vec![9u8; 3 * STRIDE as usize]).expect("write");
        let mut w = ChunkWriter::create(&path, 1, true).expect("writer");
        w.push(1, &chunk(1, 10)).expect("push");
        w.write_out().expect("out");
        assert_eq!(std::fs::metadata(&path).expect("meta").len(), STRIDE + 10);
        assert!(ChunkReader::open(&dir.path().join("none"), 0)
            .expect("open")
            .is_none());
    }
}
