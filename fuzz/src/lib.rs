//! What the fuzz targets share: the OpenSSL-made fixture PKI of
//! `protocol/tests/fixtures/openssl/` (valid at 2025-06-01T00:00:00Z), a
//! node key, and the fixed keys records and chunks are sealed under. Each
//! is made once per process.

use std::sync::{Arc, OnceLock};

use confrere_protocol::dossier::{DossierId, DossierKey, StoreKey};
use confrere_protocol::keys::NoiseKeypair;
use confrere_protocol::session::SessionConfig;
use confrere_protocol::{
    issue_credential, parse_certificates, parse_crls, verify_certificate, Certificate,
    NodeCredential, Pkcs8Signer, RevocationCheck, TrustStore, UnixTime, VerifyOptions,
};
use ring::signature::Ed25519KeyPair;

/// The fixtures' test instant, 2025-06-01T00:00:00Z.
pub const NOW: UnixTime = UnixTime::from_secs(1_748_736_000);

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../protocol/tests/fixtures/openssl/", $name)).as_slice()
    };
}

/// The fixture root certificate, PEM.
pub const ROOT_PEM: &[u8] = fixture!("root.pem");
/// The fixture intermediate, PEM.
pub const INTERMEDIATE_PEM: &[u8] = fixture!("intermediate.pem");
/// A valid practitioner certificate, PEM.
pub const LEAF_PEM: &[u8] = fixture!("good-rsa.pem");
/// Its key.
pub const LEAF_KEY_PEM: &[u8] = fixture!("good-rsa.key.pem");
/// The intermediate's CRL, PEM.
pub const CRL_PEM: &[u8] = fixture!("crl.pem");
/// The root's CRL, PEM.
pub const ROOT_CRL_PEM: &[u8] = fixture!("crl-root.pem");

fn one_cert(pem: &[u8]) -> Certificate {
    match parse_certificates(pem) {
        Ok(mut v) if !v.is_empty() => v.remove(0),
        _ => panic!("a fixture certificate does not parse"),
    }
}

/// The root, as a certificate.
pub fn root() -> Certificate {
    one_cert(ROOT_PEM)
}

/// The intermediate, as a certificate.
pub fn intermediate() -> Certificate {
    one_cert(INTERMEDIATE_PEM)
}

/// The fixture trust store: the root, both CRLs.
pub fn trust() -> Arc<TrustStore> {
    static TRUST: OnceLock<Arc<TrustStore>> = OnceLock::new();
    TRUST
        .get_or_init(|| {
            let mut t = TrustStore::new(vec![root()]);
            for pem in [CRL_PEM, ROOT_CRL_PEM] {
                for crl in parse_crls(pem).unwrap_or_default() {
                    t.add_crl(crl);
                }
            }
            Arc::new(t)
        })
        .clone()
}

/// Authentication at [`NOW`] with revocation checking.
pub fn auth_opts() -> VerifyOptions {
    VerifyOptions::authentication(NOW)
}

/// A credential of the good-rsa practitioner binding `noise_key`.
pub fn credential(noise_key: &NoiseKeypair) -> NodeCredential {
    let leaf = one_cert(LEAF_PEM);
    let chain = [intermediate()];
    let verified = verify_certificate(&leaf, &chain, &trust(), &auth_opts())
        .unwrap_or_else(|e| panic!("the fixture certificate does not verify: {e}"));
    let signer = Pkcs8Signer::from_pem_or_der(LEAF_KEY_PEM, &leaf)
        .unwrap_or_else(|e| panic!("the fixture key does not load: {e}"));
    issue_credential(
        &signer,
        &verified,
        &chain,
        *noise_key.public(),
        b"fuzz-peer".to_vec(),
        NOW.add_secs(-86_400),
        NOW.add_secs(86_400),
    )
    .unwrap_or_else(|e| panic!("cannot issue the fixture credential: {e}"))
}

/// A node configuration for the good-rsa practitioner (made once).
pub fn session_config() -> &'static SessionConfig {
    static CONFIG: OnceLock<SessionConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let noise_key = NoiseKeypair::generate().unwrap_or_else(|e| panic!("noise key: {e}"));
        let credential = credential(&noise_key);
        SessionConfig {
            noise_key,
            credential,
            trust: trust(),
            revocation: RevocationCheck::Required,
        }
    })
}

/// A fixed node signing key.
pub fn node_key() -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[7; 32]).unwrap_or_else(|e| panic!("seed: {e}"))
}

/// The node key's public half (computed once: it costs a scalar
/// multiplication).
pub fn node_public_key() -> [u8; 32] {
    static PUBLIC: OnceLock<[u8; 32]> = OnceLock::new();
    *PUBLIC.get_or_init(|| {
        use ring::signature::KeyPair;
        let mut public = [0u8; 32];
        public.copy_from_slice(node_key().public_key().as_ref());
        public
    })
}

/// The node's PeerId.
pub fn node_peer_id() -> Vec<u8> {
    static PEER_ID: OnceLock<Vec<u8>> = OnceLock::new();
    PEER_ID
        .get_or_init(|| confrere_protocol::receipt::peer_id_from_ed25519_key(&node_public_key()))
        .clone()
}

/// The fixed store key records are sealed under.
pub fn store_key() -> StoreKey {
    StoreKey::from_bytes([5; 32])
}

/// The fixed dossier key and id chunks are sealed under.
pub fn dossier_key() -> (DossierKey, DossierId) {
    (DossierKey::from_bytes([0x42; 32]), DossierId([0x11; 16]))
}

/// The AAD records are sealed with in the seeds.
pub const RECORD_AAD: &[u8] = b"outbox/11111111111111111111111111111111";

/// Splits `data` at the first byte: (selector, rest).
pub fn split_selector(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((s, rest)) => (*s, rest),
        None => (0, data),
    }
}
