//! What one enrolled colleague with bad intent can do to another's node
//! (issue 11, items 10 to 12), with real daemons on loopback and the
//! colleague's node in this process, speaking the session itself:
//!
//! - offers that are never finished fill the disk only up to the sender's
//!   quota (count and announced bytes); past it the offer is refused as
//!   over quota, `status` shows the unfinished transfers, and another
//!   colleague's dossier is still delivered;
//! - offering the id of a dossier received from someone else gets no
//!   receipt;
//! - a revocation notice erases only a dossier received from the notifier:
//!   not the recipient's own outgoing dossier, not a dossier received from
//!   someone else.
//!
//! The GP and the cardiologist run as daemons; the radiologist's enrolled
//! home is the one with bad intent. Every daemon is killed when its guard
//! drops, the in-process network is shut down when its guard drops, every
//! wait is bounded, and all nodes listen on 127.0.0.1 without mDNS.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use confrere_node::home::Home;
use confrere_node::ledger::Libp2pNodeSigner;
use confrere_node::net::{system_now, NetConfig, Network, NetworkHandle, SecureChannel};
use confrere_protocol::dossier::content::chunk_count;
use confrere_protocol::dossier::{DossierId, DossierKey};
use confrere_protocol::revocation::{sign_notice, RevocationMessage};
use confrere_protocol::transfer::quota::announced_bytes;
use confrere_protocol::transfer::{Offer, RefuseReason, TransferMessage};
use confrere_tests::{
    confrere_cmd, enroll, free_port, inbox, run, scratch_run_dir, wait_delivered, wait_for, Card,
    Daemon, Outcome, Practitioner, TestPki, CARDIOLOGIST, GP, RADIOLOGIST,
};
use serde_json::Value;

const PATIENT_INS: &str = "285057512345623";
/// How long a delivery may take, the recipient's restart and the sender's
/// backoff included (debug builds on a busy 2-core machine).
const DELIVERY: Duration = Duration::from_secs(120);
/// How long one session exchange of the colleague may take.
const EXCHANGE: Duration = Duration::from_secs(30);
const GIB: u64 = 1 << 30;

fn shared_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-hostile"))
    })
}

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::init(&shared_dir().join("pki")))
}

fn card(who: &Practitioner<'static>) -> &'static Card {
    static CARDS: [OnceLock<Card>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let cell = match who.national_id {
        "810001000016" => &CARDS[0],
        "810001000024" => &CARDS[1],
        _ => &CARDS[2],
    };
    cell.get_or_init(|| pki().issue(who, &shared_dir().join(format!("card-{}", who.national_id))))
}

fn enrolled(dir: &Path, label: &str, who: &Practitioner<'static>) -> PathBuf {
    let home = dir.join(label).join("home");
    fs::create_dir_all(home.parent().unwrap()).unwrap();
    enroll(&home, card(who), &[pki()]).code(0);
    home
}

fn node(dir: &Path, label: &str, who: &Practitioner<'static>) -> Daemon {
    let home = enrolled(dir, label, who);
    Daemon::start(label, &home, free_port(), &dir.join(format!("{label}.log")))
}

#[track_caller]
fn connect(from: &Daemon, to: &Daemon, who: &Practitioner<'_>) {
    let entry = from.json(["peers", "add", &to.multiaddr()]);
    assert_eq!(entry["national_id"], who.national_id, "{entry}");
}

fn cli(node: &Daemon, args: &[&str]) -> Outcome {
    let mut cmd = confrere_cmd();
    cmd.args(args).arg("--home").arg(node.home());
    run(&mut cmd)
}

/// Grants consent to share with `to` and sends `doc` under it; returns
/// the consent and the dossier ids.
#[track_caller]
fn share(node: &Daemon, to: &str, doc: &Path) -> (String, String) {
    let out = cli(
        node,
        &[
            "consent",
            "grant",
            "--patient-ins",
            PATIENT_INS,
            "--to",
            to,
            "--purpose",
            "Avis (test)",
            "--json",
        ],
    );
    out.code(0);
    let consent = out.json()["id"].as_str().unwrap().to_owned();
    let mut cmd = confrere_cmd();
    cmd.args(["send", "--consent", &consent, "--home"])
        .arg(node.home())
        .args(["--to", to, "--patient-ins", PATIENT_INS])
        .args(["--patient-family", "QUIVREL", "--patient-given", "Odile"])
        .args(["--birth-date", "1985-05-12", "--sex", "F"])
        .args(["--reason", "Avis cardiologique", "--json"])
        .arg(doc);
    let out = run(&mut cmd);
    out.code(0);
    let id = out.json()["id"].as_str().unwrap().to_owned();
    (consent, id)
}

fn document(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("Compte rendu {name}: ECG sinusal.\n")).unwrap();
    path
}

fn key_file(node: &Daemon, id: &str) -> PathBuf {
    node.home().join("blobs").join(format!("{id}.key"))
}

fn sealed_file(node: &Daemon, id: &str) -> PathBuf {
    node.home().join("blobs").join(format!("{id}.sealed"))
}

/// Opens inbox item `id` of `node` into a new directory; the document's
/// text.
#[track_caller]
fn open_document(node: &Daemon, id: &str, out: &Path, name: &str) -> String {
    let out_s = out.to_str().unwrap();
    cli(node, &["inbox", "open", id, "--out", out_s, "--json"]).code(0);
    fs::read_to_string(out.join(name)).unwrap()
}

fn inbox_status(node: &Daemon, id: &str) -> Value {
    inbox(node)
        .into_iter()
        .find(|i| i["id"] == id)
        .map_or(Value::Null, |i| i["status"].clone())
}

/// The colleague's node, in this process: its network, on 127.0.0.1.
struct Colleague {
    rt: tokio::runtime::Runtime,
    net: NetworkHandle,
    home: Home,
}

impl Colleague {
    fn start(home: &Path) -> Colleague {
        let home = Home::open(home).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let net = rt.block_on(async {
            let mut config = NetConfig::new(
                home.libp2p.clone(),
                Arc::new(home.session_config()),
                system_now,
            );
            config.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
            config.mdns = false;
            let (net, mut events) = Network::start(config).await.unwrap();
            // Inbound sessions and other events are dropped.
            tokio::spawn(async move { while events.recv().await.is_some() {} });
            net
        });
        Colleague { rt, net, home }
    }

    async fn session(&self, node: &Daemon) -> SecureChannel {
        let peer = node.peer_id().parse().unwrap();
        let addr = format!("/ip4/127.0.0.1/tcp/{}", node.port())
            .parse()
            .unwrap();
        self.net.open_channel(peer, vec![addr]).await.unwrap()
    }

    /// Sends `msg` on a new session to `node` and returns its answer (none
    /// when it closes the session without one).
    fn exchange(&self, node: &Daemon, msg: Vec<u8>) -> Option<Vec<u8>> {
        self.rt.block_on(async {
            tokio::time::timeout(EXCHANGE, async {
                let mut ch = self.session(node).await;
                ch.send(&msg).await.unwrap();
                ch.flush().await.unwrap();
                let answer = ch.recv().await.ok().flatten();
                let _ = ch.close().await;
                answer
            })
            .await
            .expect("the exchange took too long")
        })
    }

    /// Offers dossier `id` of about `bytes` to `node`, sends no chunk, and
    /// returns the answer.
    fn offer(&self, node: &Daemon, id: DossierId, bytes: u64) -> TransferMessage {
        let offer = TransferMessage::Offer(Offer {
            dossier_id: id,
            key: DossierKey::generate().unwrap(),
            chunk_count: chunk_count(bytes),
            content_len: bytes,
        });
        let answer = self.exchange(node, offer.encode().unwrap());
        TransferMessage::decode(&answer.expect("no answer to the offer")).unwrap()
    }

    /// Sends a revocation notice for dossier `id` to `node` (serving
    /// `recipient`), signed by this node; the erasure receipt's `held`, or
    /// none when the notice is refused.
    fn revoke(&self, node: &Daemon, recipient: &str, id: DossierId) -> Option<bool> {
        let signer = Libp2pNodeSigner::new(self.home.libp2p.clone());
        let notice = sign_notice(
            &signer,
            [0x5a; 16],
            id,
            RADIOLOGIST.national_id,
            recipient,
            system_now(),
            "the patient withdrew consent",
        )
        .unwrap();
        let msg = RevocationMessage::Notice(notice).encode().unwrap();
        match RevocationMessage::decode(&self.exchange(node, msg)?).unwrap() {
            RevocationMessage::Erased(r) => Some(r.held),
            other => panic!("unexpected answer {other:?}"),
        }
    }
}

impl Drop for Colleague {
    fn drop(&mut self) {
        self.rt.block_on(async {
            let _ = tokio::time::timeout(Duration::from_secs(10), self.net.shutdown()).await;
        });
    }
}

fn id(byte: u8) -> DossierId {
    DossierId([byte; 16])
}

fn resumes_at_zero(answer: &TransferMessage, of: DossierId) -> bool {
    matches!(answer, TransferMessage::Resume { dossier_id, next_index: 0 } if *dossier_id == of)
}

fn over_quota(answer: &TransferMessage) -> bool {
    matches!(
        answer,
        TransferMessage::Refuse {
            reason: RefuseReason::OverQuota,
            ..
        }
    )
}

#[test]
fn unfinished_offers_from_one_colleague_stop_at_its_quota() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let gp = node(dir, "gp", &GP);
    let cardio = node(dir, "cardiologist", &CARDIOLOGIST);
    connect(&gp, &cardio, &CARDIOLOGIST);
    let mallory = Colleague::start(&enrolled(dir, "radiologist", &RADIOLOGIST));

    // A first large offer is taken; a second that would pass the quota of
    // announced bytes is refused, as over quota.
    let a = mallory.offer(&cardio, id(0xa1), 10 * GIB);
    assert!(resumes_at_zero(&a, id(0xa1)), "{a:?}");
    let a = mallory.offer(&cardio, id(0xa2), 10 * GIB);
    assert!(over_quota(&a), "{a:?}");
    // Smaller ones up to the count, then refused.
    for byte in [0xa3, 0xa4, 0xa5] {
        let a = mallory.offer(&cardio, id(byte), GIB);
        assert!(resumes_at_zero(&a, id(byte)), "{a:?}");
    }
    let a = mallory.offer(&cardio, id(0xa6), GIB);
    assert!(over_quota(&a), "{a:?}");
    // A transfer under way resumes: it is not a new one.
    let a = mallory.offer(&cardio, id(0xa1), 10 * GIB);
    assert!(resumes_at_zero(&a, id(0xa1)), "{a:?}");

    // A refused offer left nothing behind.
    for refused in [id(0xa2), id(0xa6)] {
        assert!(!key_file(&cardio, &refused.to_string()).exists());
    }
    assert!(key_file(&cardio, &id(0xa1).to_string()).exists());

    // `status` shows them.
    let status = cardio.json(["status"]);
    let u = &status["unfinished_inbound"];
    assert_eq!(u["count"], 4, "{status:#}");
    let announced = announced_bytes(chunk_count(10 * GIB)) + 3 * announced_bytes(chunk_count(GIB));
    assert_eq!(u["announced_bytes"], announced, "{status:#}");
    assert_eq!(u["bytes"], 0, "{status:#}");
    assert!(u["oldest_started_at"].is_string(), "{status:#}");
    let out = cli(&cardio, &["status"]);
    out.code(0)
        .stdout_has("Unfinished    4 inbound transfer(s)");

    // Another colleague's dossier still goes through.
    let doc = document(dir, "bilan.txt");
    let (_, sent) = share(&gp, CARDIOLOGIST.national_id, &doc);
    wait_delivered(&gp, &sent, DELIVERY);
    let gp_status = gp.json(["status"]);
    assert_eq!(gp_status["unfinished_inbound"]["count"], 0, "{gp_status:#}");
    assert!(gp_status["unfinished_inbound"]["oldest_started_at"].is_null());
}

#[test]
fn a_colleague_gets_no_receipt_and_erases_nothing_of_dossiers_it_did_not_send() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let gp = node(dir, "gp", &GP);
    let mut cardio = node(dir, "cardiologist", &CARDIOLOGIST);
    connect(&gp, &cardio, &CARDIOLOGIST);
    let mallory = Colleague::start(&enrolled(dir, "radiologist", &RADIOLOGIST));

    // The GP's dossier waits in its outbox while the cardiologist is away.
    assert!(cardio.stop(Duration::from_secs(20)).is_some());
    let doc = document(dir, "bilan.txt");
    let (consent, sent) = share(&gp, CARDIOLOGIST.national_id, &doc);
    let did = DossierId::parse_hex(&sent).unwrap();
    let gp_key = fs::read(key_file(&gp, &sent)).unwrap();

    // A notice from the radiologist naming it erases nothing on the GP's
    // node: the GP received no such dossier.
    assert_eq!(mallory.revoke(&gp, GP.national_id, did), Some(false));
    assert_eq!(fs::read(key_file(&gp, &sent)).unwrap(), gp_key);
    assert!(sealed_file(&gp, &sent).is_file());

    // It is still delivered, and reads as sent.
    cardio.restart();
    wait_delivered(&gp, &sent, DELIVERY);
    let text = open_document(&cardio, &sent, &dir.join("opened-1"), "bilan.txt");
    assert_eq!(text, fs::read_to_string(&doc).unwrap());

    // The radiologist offers the id of the dossier the cardiologist
    // received from the GP: refused, no receipt.
    let answer = mallory.offer(&cardio, did, 100_000);
    assert!(
        matches!(
            answer,
            TransferMessage::Refuse {
                reason: RefuseReason::Other,
                ..
            }
        ),
        "{answer:?}"
    );

    // The radiologist's notice for it is refused; the dossier stays.
    assert_eq!(mallory.revoke(&cardio, CARDIOLOGIST.national_id, did), None);
    assert_ne!(inbox_status(&cardio, &sent), "revoked");
    assert!(key_file(&cardio, &sent).is_file());
    let text = open_document(&cardio, &sent, &dir.join("opened-2"), "bilan.txt");
    assert_eq!(text, fs::read_to_string(&doc).unwrap());

    // The GP's own withdrawal still erases it.
    cli(
        &gp,
        &["consent", "revoke", &consent, "--reason", "patient request"],
    )
    .code(0);
    wait_for(
        "the cardiologist to erase the GP's dossier",
        DELIVERY,
        Duration::from_millis(250),
        || match inbox_status(&cardio, &sent) {
            s if s == "revoked" => Ok(()),
            s => Err(s.to_string()),
        },
    );
    assert!(!key_file(&cardio, &sent).exists());
    assert!(!sealed_file(&cardio, &sent).exists());
}
