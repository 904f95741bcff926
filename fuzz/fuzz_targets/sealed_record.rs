//! What the node reads back from its store: sealed records, wrapped dossier
//! keys and sealed chunks. The first byte picks which, and for a chunk its
//! index and last flag.
#![no_main]

use confrere_fuzz::{dossier_key, split_selector, store_key, RECORD_AAD};
use confrere_protocol::dossier::{open_chunk, open_record, unwrap};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (sel, rest) = split_selector(data);
    let (key, id) = dossier_key();
    match sel % 4 {
        0 => {
            let _ = open_record(&store_key(), RECORD_AAD, rest);
        }
        1 => {
            let _ = unwrap(&store_key(), &id, rest);
        }
        _ => {
            let index = u64::from(sel >> 3);
            let last = sel & 4 != 0;
            let _ = open_chunk(&key, &id, index, last, rest);
        }
    }
});
