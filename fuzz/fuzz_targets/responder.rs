//! The responder side of the handshake: msg1 from an unknown initiator,
//! then msg3. The first byte splits the input into the two messages.
#![no_main]

use confrere_fuzz::{session_config, split_selector, NOW};
use confrere_protocol::session::Responder;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (split, rest) = split_selector(data);
    let at = usize::from(split).min(rest.len());
    let (msg1, msg3) = rest.split_at(at);
    let Ok(responder) = Responder::new(session_config()) else {
        panic!("the fixture configuration is refused");
    };
    if let Ok((awaiting, _msg2)) = responder.read_hello(msg1, NOW) {
        let _ = awaiting.read_finish(msg3, NOW);
    }
});
