//! A dossier manifest, as it comes out of the content.
#![no_main]

use confrere_protocol::dossier::Manifest;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::decode(data) {
        let _ = m.validate();
        let _ = format!("{m:?}");
        if let Ok(bytes) = m.encode() {
            let again = Manifest::decode(&bytes).expect("re-encoded manifest decodes");
            assert_eq!(again, m);
        }
    }
});
