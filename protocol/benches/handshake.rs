//! A full mutual session handshake in memory, with both credentials
//! verified (card signature, certificate chain to the fixture root, CRLs of
//! the intermediate and the root): the cost a node pays per connection.
//! Also one maximal transport message sealed and opened.
//!
//! `cargo bench -p confrere-protocol --bench handshake`

#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use confrere_protocol::keys::NoiseKeypair;
use confrere_protocol::session::{
    Established, Initiator, Responder, SessionConfig, MAX_PLAINTEXT_LEN,
};
use confrere_protocol::{
    issue_credential, parse_certificates, parse_crls, verify_certificate, Certificate, Pkcs8Signer,
    RevocationCheck, TrustStore, UnixTime, VerifyOptions,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// The fixtures' test instant, 2025-06-01T00:00:00Z.
const NOW: UnixTime = UnixTime::from_secs(1_748_736_000);

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/openssl")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

fn cert(name: &str) -> Certificate {
    parse_certificates(&fixture(name)).unwrap().remove(0)
}

fn node(name: &str, trust: &Arc<TrustStore>) -> SessionConfig {
    let leaf = cert(&format!("{name}.pem"));
    let chain = [cert("intermediate.pem")];
    let verified =
        verify_certificate(&leaf, &chain, trust, &VerifyOptions::authentication(NOW)).unwrap();
    let signer = Pkcs8Signer::from_pem_or_der(&fixture(&format!("{name}.key.pem")), &leaf).unwrap();
    let noise_key = NoiseKeypair::generate().unwrap();
    let credential = issue_credential(
        &signer,
        &verified,
        &chain,
        *noise_key.public(),
        name.as_bytes().to_vec(),
        NOW.add_secs(-86_400),
        NOW.add_secs(86_400),
    )
    .unwrap();
    SessionConfig {
        noise_key,
        credential,
        trust: Arc::clone(trust),
        revocation: RevocationCheck::Required,
    }
}

fn body(frame: &[u8]) -> &[u8] {
    &frame[2..]
}

fn handshake(a: &SessionConfig, b: &SessionConfig) -> (Established, Established) {
    let (i, m1) = Initiator::new(a).unwrap().write_hello().unwrap();
    let (r, m2) = Responder::new(b)
        .unwrap()
        .read_hello(body(&m1), NOW)
        .unwrap();
    let (ei, m3) = i.read_response(body(&m2), NOW).unwrap();
    let er = r.read_finish(body(&m3), NOW).unwrap();
    (ei, er)
}

fn bench(c: &mut Criterion) {
    let mut trust = TrustStore::new(vec![cert("root.pem")]);
    for f in ["crl.pem", "crl-root.pem"] {
        for crl in parse_crls(&fixture(f)).unwrap() {
            trust.add_crl(crl);
        }
    }
    let trust = Arc::new(trust);
    let a = node("good-rsa", &trust);
    let b = node("good-ecdsa", &trust);

    c.bench_function(
        "mutual handshake, RSA initiator, ECDSA responder, both verified",
        |bch| bch.iter(|| black_box(handshake(black_box(&a), black_box(&b)))),
    );

    let (mut i, mut r) = handshake(&a, &b);
    let msg = vec![0x42u8; MAX_PLAINTEXT_LEN];
    let mut g = c.benchmark_group("transport");
    g.throughput(Throughput::Bytes(MAX_PLAINTEXT_LEN as u64));
    g.bench_function("seal + open, 65,519 bytes", |bch| {
        bch.iter(|| {
            let frame = i.seal(black_box(&msg)).unwrap();
            black_box(r.open(body(&frame)).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
