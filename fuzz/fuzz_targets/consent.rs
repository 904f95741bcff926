//! Consent and care-team records as read from the store.
#![no_main]

use confrere_fuzz::split_selector;
use confrere_protocol::consent::{CareTeamRecord, Consent};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (sel, rest) = split_selector(data);
    if sel & 1 == 0 {
        if let Ok(c) = Consent::decode(rest) {
            let _ = format!("{c:?}");
            if let Ok(bytes) = c.encode() {
                let again = Consent::decode(&bytes).expect("re-encoded consent decodes");
                assert_eq!(again, c);
            }
        }
    } else if let Ok(r) = CareTeamRecord::decode(rest) {
        let _ = format!("{r:?}");
        if let Ok(bytes) = r.encode() {
            let again = CareTeamRecord::decode(&bytes).expect("re-encoded record decodes");
            assert_eq!(again, r);
        }
    }
});
