//! Certificates from a peer's credential or from disk (PEM or DER): parsing,
//! identity extraction, and path validation both as the leaf and as a
//! presented intermediate.
#![no_main]

use confrere_fuzz::{auth_opts, intermediate, trust, LEAF_PEM};
use confrere_protocol::{
    parse_certificates, verify_certificate, Purpose, RevocationCheck, VerifyOptions,
};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(certs) = parse_certificates(data) else {
        return;
    };
    let trust = trust();
    // Revocation is the crl target's; here the path alone.
    let opts = VerifyOptions {
        revocation: RevocationCheck::Off,
        ..auth_opts()
    };
    let any = VerifyOptions {
        purpose: Purpose::Any,
        ..opts
    };
    let good_leaf = parse_certificates(LEAF_PEM).expect("fixture leaf");
    for c in certs.iter().take(4) {
        let _ = c.practitioner();
        let _ = (c.subject(), c.issuer(), c.serial_hex(), c.fingerprint());
        let _ = verify_certificate(c, &[intermediate()], &trust, &opts);
        let _ = verify_certificate(c, &[intermediate()], &trust, &any);
        // As an intermediate presented beside a good leaf.
        let _ = verify_certificate(&good_leaf[0], std::slice::from_ref(c), &trust, &opts);
    }
});
