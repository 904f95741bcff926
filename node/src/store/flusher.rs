//! Flushing the store beside a long write.
//!
//! Sealing or receiving a large dossier writes gigabytes into the page
//! cache; a flush at the end would then wait for all of it to reach the
//! disk, and flushes on the writing thread stop the writing while they
//! wait. A [`Flusher`] flushes on a thread of its own whenever asked, so
//! the disk writes back what was written while the next chunks are being
//! written, and the last flush ([`Flusher::finish`]) has little left to do.
//!
//! Durability is what [`Store::flush`] gives: what was written before the
//! call that returned. Chunks written since the last completed flush may
//! be lost in a crash; whoever resumes checks the chunks it holds.

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::thread::JoinHandle;

use super::{Store, StoreError};

/// Chunks written between two requests for a flush (about 4 MiB).
pub(crate) const CHUNKS_PER_FLUSH: u32 = 64;

/// A background flusher of one store; see the module documentation.
pub struct Flusher {
    store: Store,
    tx: Option<SyncSender<()>>,
    thread: Option<JoinHandle<Result<(), StoreError>>>,
    /// Chunks written since the last request.
    since: u32,
}

impl std::fmt::Debug for Flusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flusher").finish_non_exhaustive()
    }
}

impl Flusher {
    /// Starts the flushing thread.
    pub fn start(store: &Store) -> Flusher {
        // One request waiting at most: asking again while a flush is due
        // changes nothing.
        let (tx, rx) = sync_channel::<()>(1);
        let st = store.clone();
        let thread = std::thread::Builder::new()
            .name("confrere-flush".into())
            .spawn(move || {
                for () in rx {
                    st.flush()?;
                }
                Ok(())
            })
            .ok();
        Flusher {
            store: store.clone(),
            tx: Some(tx),
            thread,
            since: 0,
        }
    }

    /// Counts one chunk written; every [`CHUNKS_PER_FLUSH`] chunks, asks
    /// for a flush of what was written so far, without waiting. An error
    /// is the one that stopped the flushing thread (a full disk): the
    /// flusher is then spent.
    pub fn chunk_written(&mut self) -> Result<(), StoreError> {
        self.since += 1;
        if self.since < CHUNKS_PER_FLUSH {
            return Ok(());
        }
        self.since = 0;
        if self.request() {
            return Ok(());
        }
        self.tx = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(StoreError::Internal("the flushing thread failed".into())),
            _ => Err(StoreError::Internal("the flushing thread stopped".into())),
        }
    }

    /// Asks for a flush without waiting; `false` once the flushing thread
    /// has stopped.
    fn request(&self) -> bool {
        match &self.tx {
            Some(tx) => !matches!(tx.try_send(()), Err(TrySendError::Disconnected(()))),
            None => false,
        }
    }

    /// Waits for the flushes asked for, then flushes what is left: once it
    /// returns `Ok`, everything written before the call is durable.
    pub fn finish(mut self) -> Result<(), StoreError> {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap_or_else(|_| {
                Err(StoreError::Internal("the flushing thread failed".into()))
            })?;
        }
        self.store.flush()
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        // Ends the thread after the flush under way, if any.
        self.tx = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreKeySource;

    #[test]
    fn flushes_every_few_chunks_and_at_the_end() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open(home.path(), StoreKeySource::KeyFile).expect("open");
        let id = [7u8; 16];
        let mut f = Flusher::start(&store);
        let full = confrere_protocol::dossier::SEALED_CHUNK_LEN;
        for i in 0..u64::from(CHUNKS_PER_FLUSH) + 8 {
            let len = if i == u64::from(CHUNKS_PER_FLUSH) + 7 {
                1000
            } else {
                full
            };
            store.put_chunk(&id, i, &vec![i as u8; len]).expect("put");
            f.chunk_written().expect("flush asked");
        }
        f.finish().expect("finish");
        let whole = u64::from(CHUNKS_PER_FLUSH) + 7;
        assert_eq!(
            store.chunk_bytes(&id).expect("len"),
            whole * full as u64 + 1000
        );
        assert_eq!(store.chunk_count_contiguous(&id).expect("count"), whole);
    }
}
