//! Transfer messages as they come out of a session: every message, and the
//! chunk view the receiver reads chunks with.
#![no_main]

use confrere_protocol::transfer::{ChunkView, TransferMessage};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(m) = TransferMessage::decode(data) {
        let _ = m.kind();
        if let Ok(bytes) = m.encode() {
            let again = TransferMessage::decode(&bytes).expect("re-encoded message decodes");
            assert_eq!(again, m);
        }
    }
    if let Ok(view) = ChunkView::decode(data) {
        let _ = format!("{view:?}");
    }
});
