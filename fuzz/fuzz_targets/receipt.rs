//! A delivery receipt, from a session or from the ledger, decoded and
//! verified.
#![no_main]

use confrere_protocol::receipt::{verify_receipt, DeliveryReceipt};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(r) = DeliveryReceipt::decode(data) else {
        return;
    };
    let _ = verify_receipt(&r, &r.dossier_id, &r.recipient_peer_id, &r.content_digest);
    let _ = format!("{r:?}");
    if let Ok(bytes) = r.encode() {
        let again = DeliveryReceipt::decode(&bytes).expect("re-encoded receipt decodes");
        assert_eq!(again, r);
    }
});
