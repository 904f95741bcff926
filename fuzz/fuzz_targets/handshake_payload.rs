//! The handshake payload a peer sends in msg2/msg3, and the credential it
//! carries.
#![no_main]

use confrere_protocol::session::HandshakePayload;
use confrere_protocol::NodeCredential;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(p) = HandshakePayload::decode(data) {
        let again = HandshakePayload::decode(&p.encode()).expect("re-encoded payload decodes");
        assert_eq!(again.credential(), p.credential());
        let _ = NodeCredential::decode(p.credential());
    }
});
