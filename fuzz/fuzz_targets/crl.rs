//! CRLs from disk (PEM or DER): parsing, then revocation checking of the
//! fixture leaf with the CRL in the trust store.
#![no_main]

use confrere_fuzz::{auth_opts, intermediate, root, LEAF_PEM, ROOT_CRL_PEM};
use confrere_protocol::{parse_certificates, parse_crls, verify_certificate, TrustStore};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(crls) = parse_crls(data) else {
        return;
    };
    let mut trust = TrustStore::new(vec![root()]);
    for crl in parse_crls(ROOT_CRL_PEM).expect("fixture CRL") {
        trust.add_crl(crl);
    }
    for crl in crls.into_iter().take(4) {
        let _ = (
            crl.issuer(),
            crl.this_update(),
            crl.next_update(),
            crl.revoked_count(),
        );
        trust.add_crl(crl);
    }
    let leaf = parse_certificates(LEAF_PEM).expect("fixture leaf");
    let _ = verify_certificate(&leaf[0], &[intermediate()], &trust, &auth_opts());
});
