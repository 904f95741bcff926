//! Enrolled test nodes for the network tests: a TEST CA, card
//! certificates and homes made with the node's own code.
#![allow(
    dead_code,
    reason = "shared by several test files, each of which uses only part of it"
)]

use std::path::Path;
use std::sync::Arc;

use confrere_node::home::{self, CardSource, Home, InitRequest};
use confrere_node::net::system_now;
use confrere_protocol::session::SessionConfig;
use confrere_protocol::RevocationCheck;
use confrere_testpki::{IssueRequest, TestCa};
use libp2p::identity::Keypair;
use libp2p::PeerId;
use time::{Duration as TimeDuration, OffsetDateTime};

/// A node's identity, read back from its home.
pub(crate) struct Node {
    pub national_id: &'static str,
    pub session: Arc<SessionConfig>,
    pub keypair: Keypair,
}

impl Node {
    pub(crate) fn peer_id(&self) -> PeerId {
        self.keypair.public().to_peer_id()
    }
}

pub(crate) fn ca() -> TestCa {
    TestCa::generate_with_key_bits(OffsetDateTime::now_utc(), 2048).expect("test CA")
}

pub(crate) fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write test PKI file");
}

/// Issues a card certificate under `issuer` and enrolls a home trusting
/// the roots of `trusted`.
pub(crate) fn enroll(
    dir: &Path,
    label: &str,
    issuer: &TestCa,
    trusted: &[&TestCa],
    req: IssueRequest,
    revocation: RevocationCheck,
) -> Node {
    let now = OffsetDateTime::now_utc();
    let issued = issuer.issue(&req, now).expect("issue card certificate");
    let files = dir.join(format!("{label}-card"));
    std::fs::create_dir_all(&files).expect("card dir");
    write(&files.join("cert.pem"), &issued.cert_pem());
    write(&files.join("key.pem"), &issued.key_pem());
    write(&files.join("chain.pem"), &issuer.intermediate_pem());
    let mut trust = Vec::new();
    let mut crls = Vec::new();
    for (i, ca) in trusted.iter().enumerate() {
        let root = files.join(format!("root{i}.pem"));
        write(&root, &ca.root_pem());
        trust.push(root);
        let next = now + TimeDuration::days(30);
        let crl = ca.crl(&[], 1, now, next).expect("CRL");
        let root_crl = ca.root_crl(1, now, next).expect("root CRL");
        let path = files.join(format!("crl{i}.pem"));
        write(
            &path,
            &format!(
                "{}{}",
                home::pem("X509 CRL", &crl),
                home::pem("X509 CRL", &root_crl)
            ),
        );
        crls.push(path);
    }
    let home_dir = dir.join(format!("{label}-home"));
    home::init(&InitRequest {
        home: home_dir.clone(),
        card: CardSource::KeyFile {
            cert: files.join("cert.pem"),
            key: files.join("key.pem"),
        },
        chain: vec![files.join("chain.pem")],
        trust,
        crls,
        revocation,
        now: system_now(),
    })
    .expect("enroll node");
    let home = Home::open(&home_dir).expect("open home");
    Node {
        national_id: leak(req.national_id),
        session: Arc::new(home.session_config()),
        keypair: home.libp2p,
    }
}

pub(crate) fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}
