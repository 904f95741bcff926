//! A dossier's content as a sender with a valid key makes it: the plaintext
//! (manifest length, manifest, documents) is the input, sealed here into
//! chunks and read back by the recipient's content opener.
#![no_main]

use confrere_fuzz::{dossier_key, split_selector};
use confrere_protocol::dossier::{seal_chunk, ContentOpener, CHUNK_PLAINTEXT_LEN};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The first byte: bit 0 tells whether to announce the content length.
    let (flags, content) = split_selector(data);
    let (key, id) = dossier_key();
    let mut opener = ContentOpener::new(&key, id);
    if flags & 1 == 1 {
        opener = opener.expecting_len(content.len() as u64);
    }
    let pieces: Vec<&[u8]> = if content.is_empty() {
        vec![content]
    } else {
        content.chunks(CHUNK_PLAINTEXT_LEN).collect()
    };
    let n = pieces.len();
    for (i, piece) in pieces.into_iter().enumerate() {
        let last = i + 1 == n;
        let Ok(sealed) = seal_chunk(&key, &id, i as u64, last, piece) else {
            return;
        };
        if opener.push_chunk(i as u64, last, &sealed).is_err() {
            return;
        }
    }
    let _ = opener.finish();
});
