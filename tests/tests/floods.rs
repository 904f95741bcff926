//! A flood of idle TCP connections against a real daemon started with a
//! low open-file limit (issue 11, item 7): 1,100 connections from
//! 127.0.0.2 exhausted the 1,024 descriptors of a node, after which its API
//! timed out and a colleague's deliveries failed. Now the daemon raises its
//! limit at start and closes all but a few connections of one address at
//! once: during the flood `status` answers and a colleague's dossier is
//! delivered.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use confrere_tests::{
    enroll, free_port, inbox, scratch_run_dir, wait_delivered, Card, Daemon, PatientArgs,
    Practitioner, SendCommand, TestPki, CARDIOLOGIST, GP,
};
use rlimit::Resource;

/// Idle connections in the flood.
const FLOOD: usize = 1_100;

/// The soft open-file limit the daemons are started with.
const DAEMON_SOFT_LIMIT: u64 = 512;

const PATIENT: PatientArgs<'static> = PatientArgs {
    ins: "285057512345623",
    family: "ZQWXYTEST",
    given: "Hortensia-Quivqa",
    birth_date: "1985-05-12",
    sex: "F",
};

fn node(dir: &Path, pki: &TestPki, label: &str, who: &Practitioner<'_>) -> Daemon {
    let card: Card = pki.issue(who, &dir.join(format!("card-{label}")));
    let home = dir.join(label).join("home");
    fs::create_dir_all(home.parent().unwrap()).unwrap();
    enroll(&home, &card, &[pki]).code(0);
    Daemon::start(label, &home, free_port(), &dir.join(format!("{label}.log")))
}

#[test]
fn a_daemon_flooded_with_idle_connections_still_answers_and_receives() {
    let (soft, hard) = Resource::NOFILE.get().unwrap();
    if hard < (FLOOD as u64) * 2 {
        eprintln!("skipped: the hard open-file limit ({hard}) is too low to flood from this test");
        return;
    }
    let base = scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-floods"));
    let tmp = tempfile::tempdir_in(&base).unwrap();
    let dir = tmp.path();
    let pki = TestPki::init(&dir.join("pki"));

    // The daemons start with a low soft limit (as under a default
    // systemd unit); this test takes its own back for the flood.
    Resource::NOFILE.set(DAEMON_SOFT_LIMIT, hard).unwrap();
    let started = std::panic::catch_unwind(|| {
        let gp = node(dir, &pki, "gp", &GP);
        let cardio = node(dir, &pki, "cardiologist", &CARDIOLOGIST);
        (gp, cardio)
    });
    Resource::NOFILE
        .set(soft.max(FLOOD as u64 * 2), hard)
        .unwrap();
    let (gp, cardio) = started.unwrap_or_else(|e| std::panic::resume_unwind(e));
    gp.json(["peers", "add", &cardio.multiaddr()]);

    // 1,100 idle connections to the cardiologist's node, held open.
    let target: SocketAddr = format!("127.0.0.1:{}", cardio.port()).parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let flood = rt.block_on(async {
        let mut held = Vec::new();
        for _ in 0..FLOOD {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
            if let Ok(Ok(conn)) =
                tokio::time::timeout(Duration::from_secs(5), socket.connect(target)).await
            {
                held.push(conn);
            }
        }
        held
    });
    assert!(flood.len() >= FLOOD / 2, "only {} connections", flood.len());

    // During the flood: the API answers and a dossier is delivered.
    let status = cardio.json(["status"]);
    assert_eq!(
        status["peer_id"].as_str(),
        Some(cardio.peer_id()),
        "{status}"
    );
    let letter = dir.join("courrier.txt");
    fs::write(&letter, "Cher confrère, merci de recevoir Mme Z.").unwrap();
    let id = SendCommand {
        to: CARDIOLOGIST.national_id,
        patient: PATIENT,
        reason: "avis cardiologique",
        urgent: false,
        letter: None,
        files: vec![letter],
    }
    .sent(&gp);
    wait_delivered(&gp, &id, Duration::from_secs(120));
    assert!(
        inbox(&cardio).iter().any(|d| d["id"] == id.as_str()),
        "not in the inbox"
    );
    assert!(
        !cardio.log_text().contains("Too many open files"),
        "{}",
        cardio.log_text()
    );
    drop(flood);
}
