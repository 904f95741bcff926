//! Ledger entries and the signed head checkpoint, as read from the store.
#![no_main]

use confrere_fuzz::{node_peer_id, node_public_key, split_selector};
use confrere_protocol::ledger::{HeadCheckpoint, LedgerEntry};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (sel, rest) = split_selector(data);
    if sel & 1 == 1 {
        if let Ok(c) = HeadCheckpoint::decode(rest) {
            let _ = c.verify(&node_peer_id());
            let again = HeadCheckpoint::decode(&c.encode()).expect("re-encoded checkpoint decodes");
            assert_eq!(again.encode(), c.encode());
        }
        return;
    }
    if let Ok(e) = LedgerEntry::decode(rest) {
        let hash = e.hash();
        let (same, hashed) = LedgerEntry::decode_hashed(rest).expect("decode_hashed agrees");
        assert_eq!(hashed, hash);
        assert_eq!(same, e);
        let _ = e.signature_verifies(&node_public_key(), &hash);
        let _ = format!("{e:?}");
        if let Ok(bytes) = e.encode() {
            let again = LedgerEntry::decode(&bytes).expect("re-encoded entry decodes");
            assert_eq!(again, e);
        }
    } else {
        assert!(LedgerEntry::decode_hashed(rest).is_err());
    }
});
