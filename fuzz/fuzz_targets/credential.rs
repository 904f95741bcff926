//! A peer's node credential: decoding, then the whole verification (card
//! certificate path, revocation, signature over the Noise key).
#![no_main]

use confrere_fuzz::{auth_opts, trust};
use confrere_protocol::{verify_credential, NodeCredential};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(cred) = NodeCredential::decode(data) {
        let again = NodeCredential::decode(&cred.encode()).expect("re-encoded credential decodes");
        assert_eq!(again.encode(), cred.encode());
        let noise = *cred.noise_static();
        let _ = verify_credential(&cred, &noise, &trust(), &auth_opts());
    }
});
