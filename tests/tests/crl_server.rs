//! CRLs fetched over HTTP, as processes: a tiny HTTP server on loopback
//! serves CRLs the test issues with the TEST PKI, named by `[crl] urls`.
//! `confrere crl update` takes a fresh one (status shows the URL), keeps
//! what it holds when the server serves a stale or a forged one or is
//! down (and schedules a retry); and a running node fetches by itself
//! across several short-lived reissues, keeps accepting its colleague,
//! and refuses that colleague from the next handshake on once a reissue
//! revokes its card, with no restart.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use confrere_testpki::{RevokedEntry, TestCa};
use confrere_tests::{
    enroll, free_port, scratch_run_dir, wait_delivered, wait_for, Card, Daemon, PatientArgs,
    SendCommand, TestPki, CARDIOLOGIST, GP,
};
use serde_json::Value;
use time::OffsetDateTime;

// ---------------------------------------------------------------------------
// The HTTP server
// ---------------------------------------------------------------------------

/// Serves `GET /NAME` from a map the test changes, on 127.0.0.1; stops
/// (and closes its port) when dropped.
struct CrlServer {
    port: u16,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CrlServer {
    fn start() -> CrlServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (files, stop) = (Arc::clone(&files), Arc::clone(&stop));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    if let Ok(s) = stream {
                        serve(s, &files);
                    }
                }
            })
        };
        CrlServer {
            port,
            files,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }

    fn put(&self, name: &str, body: Vec<u8>) {
        self.files.lock().unwrap().insert(name.to_owned(), body);
    }
}

impl Drop for CrlServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answers one request: the file named by the path, or 404.
fn serve(mut s: TcpStream, files: &Mutex<HashMap<String, Vec<u8>>>) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_owned();
    let body = files.lock().unwrap().get(&path).cloned();
    let answer = match body {
        Some(b) => [
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                b.len()
            )
            .into_bytes(),
            b,
        ]
        .concat(),
        None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
    };
    let _ = s.write_all(&answer);
}

// ---------------------------------------------------------------------------
// The nodes
// ---------------------------------------------------------------------------

/// The names the server serves the two CAs' CRLs under.
const INTERMEDIATE: &str = "ac-personnes.crl";
const ROOT: &str = "ac-racine.crl";

/// Serves CRLs numbered `number` of both CAs of `ca`, from a second ago
/// to `valid` from now, the intermediate's listing `revoked`.
fn publish(
    server: &CrlServer,
    ca: &TestCa,
    number: u64,
    valid: Duration,
    revoked: &[RevokedEntry],
) {
    let now = OffsetDateTime::now_utc();
    let this = now - time::Duration::seconds(1);
    let next = now + valid;
    server.put(INTERMEDIATE, ca.crl(revoked, number, this, next).unwrap());
    server.put(ROOT, ca.root_crl(number, this, next).unwrap());
}

/// Enrolls `card` in `dir/LABEL/home` with `[crl] urls` naming `urls`.
fn home_with_urls(dir: &Path, label: &str, card: &Card, pki: &TestPki, urls: &[String]) -> PathBuf {
    let home = dir.join(label).join("home");
    fs::create_dir_all(home.parent().unwrap()).unwrap();
    enroll(&home, card, &[pki]).code(0);
    let config = home.join("config.toml");
    let text = fs::read_to_string(&config).unwrap();
    let list: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
    let with = text.replacen(
        "\nurls = []\n",
        &format!("\nurls = [{}]\n", list.join(", ")),
        1,
    );
    assert_ne!(text, with, "config.toml has a [crl] urls line");
    fs::write(&config, with).unwrap();
    home
}

/// The status's CRL entry of the CA whose subject contains `name`.
fn crl_of(node: &Daemon, name: &str) -> Value {
    let status = node.json(["status"]);
    status["crls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["ca"].as_str().unwrap().contains(name))
        .cloned()
        .unwrap_or_else(|| panic!("no CA {name} in {status}"))
}

fn update(node: &Daemon) -> confrere_tests::Outcome {
    node.cli(["crl", "update", "--json"])
}

/// thisUpdate of what the server serves as `name`, as status shows it.
fn served_this_update(server: &CrlServer, name: &str) -> String {
    let der = server.files.lock().unwrap().get(name).cloned().unwrap();
    confrere_protocol::parse_crls(&der).unwrap()[0]
        .this_update()
        .to_string()
}

/// Sends a dossier of `doc` from `gp` to the cardiologist and waits until
/// it is delivered.
fn deliver(gp: &Daemon, doc: &Path, reason: &str, limit: Duration) {
    let id = SendCommand {
        to: CARDIOLOGIST.national_id,
        patient: PatientArgs {
            ins: "285057512345623",
            family: "DURAND",
            given: "MARIE",
            birth_date: "1985-05-12",
            sex: "F",
        },
        reason,
        urgent: false,
        letter: None,
        files: vec![doc.to_path_buf()],
    }
    .sent(gp);
    wait_delivered(gp, &id, limit);
}

fn serial_of(card: &Card, ca: &TestCa) -> Vec<u8> {
    let cert = confrere_protocol::parse_certificates(&fs::read(card.cert()).unwrap()).unwrap();
    ca.issued_serial(cert[0].der()).unwrap()
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

#[test]
fn crl_update_takes_a_fresh_crl_and_keeps_what_it_holds_when_the_server_fails() {
    let dir = scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-crl-server"));
    let pki = TestPki::init(&dir.join("pki"));
    let other = TestPki::init(&dir.join("other-pki"));
    let ca = TestCa::load(&pki.dir).unwrap();
    let forger = TestCa::load(&other.dir).unwrap();
    let card = pki.issue(&GP, &dir.join("card"));
    let server = CrlServer::start();
    let urls = [server.url(INTERMEDIATE), server.url(ROOT)];
    let home = home_with_urls(&dir, "gp", &card, &pki, &urls);
    let node = Daemon::start("gp", &home, free_port(), &dir.join("gp.log"));

    // Fresh CRLs: taken, in force, and status says where from.
    publish(&server, &ca, 20, Duration::from_secs(30 * 24 * 3600), &[]);
    let out = update(&node);
    out.code(0);
    let report = out.json();
    let cas = report["cas"].as_array().unwrap();
    assert_eq!(cas.len(), 2, "{report}");
    assert!(cas.iter().all(|c| c["outcome"] == "taken"), "{report}");
    assert_eq!(report["in_force"], true, "{report}");
    let held = crl_of(&node, "PERSONNES");
    assert_eq!(held["source"], "fetched", "{held}");
    assert_eq!(held["origin"], urls[0].as_str(), "{held}");
    assert_eq!(
        held["this_update"],
        served_this_update(&server, INTERMEDIATE).as_str()
    );
    assert_eq!(held["freshness"], "fresh", "{held}");
    assert!(held["last_fetch_error"].is_null(), "{held}");
    let before = fs::read(home.join("trust/crls.pem")).unwrap();

    // The same again: already current.
    let out = update(&node);
    out.code(0);
    assert!(
        out.json()["cas"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["outcome"] == "current"),
        "{out}"
    );

    // A newer CRL that is already stale: not taken, the fresh one stays.
    let now = OffsetDateTime::now_utc();
    server.put(
        INTERMEDIATE,
        ca.crl(
            &[],
            21,
            now - time::Duration::days(40),
            now - time::Duration::days(10),
        )
        .unwrap(),
    );
    let out = update(&node);
    out.code(1);
    let report = out.json();
    let inter = report["cas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["ca"].as_str().unwrap().contains("PERSONNES"))
        .unwrap()
        .clone();
    assert_eq!(inter["outcome"], "refused", "{report}");
    assert!(
        inter["error"].as_str().unwrap().contains("already stale"),
        "{report}"
    );
    assert_eq!(fs::read(home.join("trust/crls.pem")).unwrap(), before);
    assert_eq!(crl_of(&node, "PERSONNES")["freshness"], "fresh");

    // A forged CRL (another TEST PKI's key, the same CA names): refused.
    server.put(
        INTERMEDIATE,
        forger
            .crl(&[], 99, now, now + time::Duration::days(30))
            .unwrap(),
    );
    let human = node.cli(["crl", "update"]);
    human
        .code(1)
        .stdout_has("refused, the CRL held stays")
        .stdout_has("forged");
    assert_eq!(fs::read(home.join("trust/crls.pem")).unwrap(), before);

    // The server down: unreachable, a retry scheduled, nothing changed.
    drop(server);
    let human = node.cli(["crl", "update"]);
    human.code(1).stdout_has("unreachable, the CRL held stays");
    assert_eq!(fs::read(home.join("trust/crls.pem")).unwrap(), before);
    let held = crl_of(&node, "PERSONNES");
    assert!(
        held["last_fetch_error"]
            .as_str()
            .unwrap()
            .contains("unreachable"),
        "{held}"
    );
    let last = held["last_fetch"].as_str().unwrap();
    let next = held["next_fetch"].as_str().unwrap();
    assert!(
        next > last,
        "a retry is scheduled after the failure: {held}"
    );
    node.cli(["status"])
        .code(0)
        .stdout_has("failed")
        .stdout_has("next fetch");
}

#[test]
fn a_running_node_fetches_reissued_crls_by_itself_and_refuses_a_card_revoked_midway() {
    let dir =
        scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-crl-server-live"));
    let pki = TestPki::init(&dir.join("pki"));
    let ca = TestCa::load(&pki.dir).unwrap();
    let gp_card = pki.issue(&GP, &dir.join("gp-card"));
    let cardio_card = pki.issue(&CARDIOLOGIST, &dir.join("cardio-card"));
    let server = CrlServer::start();
    let urls = [server.url(INTERMEDIATE), server.url(ROOT)];
    let mut gp = Daemon::start(
        "gp",
        &home_with_urls(&dir, "gp", &gp_card, &pki, &urls),
        free_port(),
        &dir.join("gp.log"),
    );
    let cardio = Daemon::start(
        "cardio",
        &home_with_urls(&dir, "cardio", &cardio_card, &pki, &urls),
        free_port(),
        &dir.join("cardio.log"),
    );

    // Short-lived CRLs (40 s: each node fetches the next at half of that,
    // and retries within half of what is left if nothing newer is
    // published yet), taken once by hand; from then on the daemons fetch
    // by themselves.
    const VALID: Duration = Duration::from_secs(40);
    const WAIT: Duration = Duration::from_secs(90);
    publish(&server, &ca, 20, VALID, &[]);
    update(&gp).code(0);
    update(&cardio).code(0);
    let entry = gp.json(["peers", "add", &cardio.multiaddr()]);
    assert_eq!(entry["national_id"], CARDIOLOGIST.national_id, "{entry}");

    let doc = dir.join("ecg.txt");
    fs::write(&doc, "ECG: rythme sinusal.\n").unwrap();
    deliver(&gp, &doc, "avant les reemissions", WAIT);

    // Three reissues in a row: each node fetches each by itself; a
    // dossier is delivered after each.
    for number in 21..=23 {
        publish(&server, &ca, number, VALID, &[]);
        let expected = served_this_update(&server, INTERMEDIATE);
        for node in [&gp, &cardio] {
            wait_for(
                &format!("{} to fetch CRL {number} by itself", node.label()),
                WAIT,
                Duration::from_millis(500),
                || {
                    let held = crl_of(node, "PERSONNES");
                    if held["this_update"] == expected.as_str() && held["source"] == "fetched" {
                        Ok(())
                    } else {
                        Err(held.to_string())
                    }
                },
            );
        }
        deliver(&gp, &doc, &format!("apres la reemission {number}"), WAIT);
    }

    // A reissue revoking the cardiologist's card: the GP's node takes it
    // by itself and refuses the cardiologist from the next handshake on.
    let revoked = [RevokedEntry {
        serial: serial_of(&cardio_card, &ca),
        revoked_at: OffsetDateTime::now_utc() - time::Duration::minutes(1),
    }];
    publish(&server, &ca, 24, VALID, &revoked);
    let expected = served_this_update(&server, INTERMEDIATE);
    wait_for(
        "the GP's node to fetch the revoking CRL by itself",
        WAIT,
        Duration::from_millis(500),
        || {
            let held = crl_of(&gp, "PERSONNES");
            if held["this_update"] == expected.as_str() {
                Ok(())
            } else {
                Err(held.to_string())
            }
        },
    );
    let refused = gp.cli(["peers", "add", &cardio.multiaddr(), "--json"]);
    refused.code(1).stderr_has("was revoked");
    let entry = refused.json();
    let error = entry["last_error"].as_str().unwrap_or_default().to_owned();
    assert!(
        error.contains("was revoked"),
        "the revoked card is refused: {entry}"
    );
    assert!(gp.is_running(), "the GP's node was never restarted");
}
