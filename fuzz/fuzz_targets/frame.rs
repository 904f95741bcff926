//! The session's frame decoder over a byte stream that arrives in pieces:
//! the first byte sets the piece size; attachments are read past the
//! decoder with `take_raw` when a piece does not fit.
#![no_main]

use confrere_protocol::session::frame::MAX_FRAME_BODY_LEN;
use confrere_protocol::session::FrameDecoder;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (step, mut rest) = confrere_fuzz::split_selector(data);
    let step = usize::from(step).max(1);
    let mut dec = FrameDecoder::new();
    let mut raw = [0u8; 97];
    for _ in 0..100_000 {
        if rest.is_empty() {
            break;
        }
        let piece = &rest[..step.min(rest.len())];
        let taken = dec.push(piece);
        assert!(taken <= piece.len());
        rest = &rest[taken..];
        loop {
            match dec.pop() {
                Ok(Some(body)) => assert!(body.len() <= MAX_FRAME_BODY_LEN),
                Ok(None) => break,
                Err(_) => {
                    assert!(dec.pop().is_err() && dec.finish().is_err() && dec.room() == 0);
                    return;
                }
            }
        }
        if taken == 0 && dec.take_raw(&mut raw) == 0 {
            break;
        }
    }
    let _ = dec.finish();
});
