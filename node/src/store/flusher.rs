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

/// A background flusher of one store; see the module documentation.
pub struct Flusher {
    store: Store,
    tx: Option<SyncSender<()>>,
    thread: Option<JoinHandle<Result<(), StoreError>>>,
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
        }
    }

    /// Asks for a flush of what was written so far, without waiting.
    /// `false` once the flushing thread has stopped on an error, which
    /// [`Flusher::finish`] returns.
    pub fn request(&self) -> bool {
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
    fn flushes_on_request_and_at_the_end() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open(home.path(), StoreKeySource::KeyFile).expect("open");
        let id = [7u8; 16];
        let f = Flusher::start(&store);
        let full = confrere_protocol::dossier::SEALED_CHUNK_LEN;
        for i in 0..8u64 {
            let len = if i == 7 { 1000 } else { full };
            store.put_chunk(&id, i, &vec![i as u8; len]).expect("put");
            assert!(f.request());
        }
        f.finish().expect("finish");
        assert_eq!(store.chunk_bytes(&id).expect("len"), 7 * full as u64 + 1000);
        assert_eq!(store.chunk_count_contiguous(&id).expect("count"), 7);
    }
}
