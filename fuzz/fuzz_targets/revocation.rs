//! Revocation messages from a session: the sharer's notice and the
//! recipient's erasure receipt, decoded and verified.
#![no_main]

use confrere_protocol::revocation::{verify_erasure, verify_notice, RevocationMessage};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(m) = RevocationMessage::decode(data) else {
        return;
    };
    let _ = m.kind();
    match &m {
        RevocationMessage::Notice(n) => {
            let _ = verify_notice(n, &n.sharer_peer_id, &n.sharer, &n.recipient, None);
            let _ = verify_notice(
                n,
                &n.sharer_peer_id,
                &n.sharer,
                &n.recipient,
                Some(&n.dossier_id),
            );
        }
        RevocationMessage::Erased(r) => {
            let _ = verify_erasure(r, &r.dossier_id, &r.consent_id, &r.recipient_peer_id);
        }
    }
    if let Ok(bytes) = m.encode() {
        let again = RevocationMessage::decode(&bytes).expect("re-encoded message decodes");
        assert_eq!(again, m);
    }
});
