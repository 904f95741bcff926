//! `confrere demo`: the three stories Confrère is for, played end to end on
//! this machine with a TEST PKI and three practices whose nodes run as real
//! daemons on loopback, narrated step by step.
//!
//! 1. A GP records the patient's consent and refers her to a cardiologist
//!    (and sends the imaging request to a radiologist).
//! 2. The cardiologist works through his inbox: opens the referral (the
//!    opening is logged), accepts it, and replies with his report, which
//!    lands in the GP's inbox linked to the referral.
//! 3. The patient withdraws consent: both colleagues' copies are erased and
//!    their nodes return signed erasure receipts. Then the patient's access
//!    journal, and every ledger verified.
//!
//! The nodes are child processes; they are stopped at the end, on error, and
//! on SIGINT/SIGTERM, so the demo leaves no process behind.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use confrere_node::api::consent_model::{GrantConsentRequest, RevokeConsentRequest};
use confrere_node::api::model::{AddPeer, OpenRequest, Patient, ReplyRequest, SendRequest};
use confrere_node::home::{init, CardSource, InitRequest};
use confrere_protocol::{RevocationCheck, UnixTime};
use confrere_testpki::{self as testpki, IssueRequest};

use crate::client::Client;
use crate::error::{CliError, EXIT_OK};

struct Practice {
    label: &'static str,
    national_id: &'static str,
    given: &'static str,
    surname: &'static str,
}

const GP: Practice = Practice {
    label: "gp",
    national_id: "810001000016",
    given: "CLAIRE",
    surname: "MARTIN-TEST",
};
const CARDIO: Practice = Practice {
    label: "cardiologist",
    national_id: "810001000024",
    given: "PAUL",
    surname: "LEROY-TEST",
};
const RADIO: Practice = Practice {
    label: "radiologist",
    national_id: "810001000032",
    given: "ALICE",
    surname: "RAYON-TEST",
};

const PATIENT_INS: &str = "285057512345623";
const WAIT: Duration = Duration::from_secs(40);

fn step(n: u32, text: &str) {
    println!("\n[{n}] {text}");
}

fn fail(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::refused(
        format!("the demo failed while {what}: {e}"),
        "run it again with --dir DIR to keep the files and the nodes' logs",
    )
}

fn to_time(now: UnixTime) -> Result<time::OffsetDateTime, CliError> {
    time::OffsetDateTime::from_unix_timestamp(now.as_secs())
        .map_err(|_| CliError::input("the system clock is out of range", "check the clock"))
}

/// The nodes the demo started. A node is started with the lock held, and
/// stopping takes the lock and marks the set stopped, so that an interrupt
/// arriving while a node starts cannot leave it behind.
#[derive(Clone, Default)]
struct Nodes(Arc<Mutex<(bool, Vec<Child>)>>);

impl Nodes {
    /// Starts a node unless the demo is stopping.
    fn spawn(&self, cmd: &mut Command) -> Result<(), CliError> {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if guard.0 {
            return Err(fail("starting a node", "the demo is stopping"));
        }
        let child = cmd.spawn().map_err(|e| fail("starting a node", e))?;
        guard.1.push(child);
        Ok(())
    }

    /// Stops every node; no node starts afterwards.
    fn stop_all(&self) {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        guard.0 = true;
        let children = &mut guard.1;
        for c in children.iter_mut() {
            // SIGTERM lets a node flush and stop cleanly; kill after a grace period.
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for c in children.iter_mut() {
            while Instant::now() < deadline {
                if matches!(c.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        children.clear();
    }
}

fn free_port() -> Result<u16, CliError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| fail("choosing a loopback port", e))
}

fn wait_until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> Result<T, CliError> {
    let start = Instant::now();
    for _ in 0..2000 {
        if let Some(v) = f() {
            return Ok(v);
        }
        if start.elapsed() > WAIT {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(fail(what, "it did not happen in time"))
}

struct Node {
    home: PathBuf,
    client: Client,
    multiaddr: String,
}

fn enroll_and_start(
    dir: &Path,
    pki: &Path,
    p: &Practice,
    now: UnixTime,
    nodes: &Nodes,
) -> Result<Node, CliError> {
    let card = dir.join(format!("{}-card", p.label));
    let req = IssueRequest::new(p.national_id, p.given, p.surname, 10);
    testpki::issue_test(pki, &req, &card, to_time(now)?)
        .map_err(|e| fail("issuing a card certificate", e))?;
    let home = dir.join(format!("{}-home", p.label));
    init(&InitRequest {
        home: home.clone(),
        card: CardSource::KeyFile {
            cert: card.join("cert.pem"),
            key: card.join("key.pem"),
        },
        chain: vec![card.join("chain.pem")],
        trust: vec![pki.join("root.pem")],
        crls: vec![pki.join("crl.pem")],
        revocation: RevocationCheck::Required,
        now,
    })
    .map_err(|e| fail("enrolling a node", e))?;
    let port = free_port()?;
    let exe = std::env::current_exe().map_err(|e| fail("finding the confrere binary", e))?;
    let log = fs::File::create(dir.join(format!("{}.log", p.label)))
        .map_err(|e| fail("creating a log file", e))?;
    nodes.spawn(
        Command::new(exe)
            .args(["run", "--no-mdns", "--listen"])
            .arg(format!("/ip4/127.0.0.1/tcp/{port}"))
            .arg("--home")
            .arg(&home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log),
    )?;
    let client = wait_until("waiting for a node to start", || {
        Client::connect(&home).ok().filter(|c| c.status().is_ok())
    })?;
    let status = client
        .status()
        .map_err(|e| fail("asking a node", e.message))?;
    println!(
        "    {} {} ({}) runs a node on 127.0.0.1:{port}",
        p.given, p.surname, p.national_id
    );
    Ok(Node {
        home,
        client,
        multiaddr: format!("/ip4/127.0.0.1/tcp/{port}/p2p/{}", status.peer_id),
    })
}

fn write(path: &Path, text: &str) -> Result<PathBuf, CliError> {
    fs::write(path, text).map_err(|e| fail("writing a sample document", e))?;
    Ok(path.to_path_buf())
}

fn api<T>(what: &str, r: Result<T, CliError>) -> Result<T, CliError> {
    r.map_err(|e| fail(what, e.message))
}

fn wait_delivered(node: &Node, id: &str) -> Result<(), CliError> {
    wait_until("waiting for a delivery", || {
        node.client
            .outbox()
            .ok()?
            .into_iter()
            .find(|o| o.id == id && o.state == "delivered")
    })
    .map(|_| ())
}

fn patient() -> Patient {
    Patient {
        ins: PATIENT_INS.into(),
        family: "DURAND-TEST".into(),
        given: "MARIE".into(),
        birth_date: "1985-05-12".into(),
        sex: "F".into(),
    }
}

/// Runs the demo in `dir` (made if missing) or in a temporary directory.
pub(crate) fn run(dir: Option<&Path>, now: UnixTime) -> Result<ExitCode, CliError> {
    let tmp;
    let dir = match dir {
        Some(d) => {
            fs::create_dir_all(d).map_err(|e| {
                CliError::input(
                    format!("cannot create {}: {e}", d.display()),
                    "choose another --dir",
                )
            })?;
            if !confrere_node::files::is_absent_or_empty_dir(d).unwrap_or(false) {
                return Err(CliError::input(
                    format!("{} is not empty", d.display()),
                    "give --dir a new or empty directory",
                ));
            }
            d.canonicalize().map_err(|e| fail("reading --dir", e))?
        }
        None => {
            tmp = tempfile::tempdir().map_err(|e| fail("making a temporary directory", e))?;
            tmp.path().to_path_buf()
        }
    };
    let nodes = Nodes::default();
    {
        let nodes = nodes.clone();
        let _ = ctrlc::set_handler(move || {
            eprintln!("\ninterrupted: stopping the demo's nodes");
            nodes.stop_all();
            std::process::exit(130);
        });
    }
    let result = stories(&dir, now, &nodes);
    nodes.stop_all();
    result
}

fn stories(dir: &Path, now: UnixTime, nodes: &Nodes) -> Result<ExitCode, CliError> {
    let started = Instant::now();
    println!("Confrère demo: three practices, three stories, TEST certificates only.");
    println!("Working in {}.", dir.display());

    step(
        1,
        "A TEST health PKI in the IGC-Santé shape, and three practices enrolled with their cards.",
    );
    let pki = dir.join("pki");
    testpki::init_test_ca(&pki, to_time(now)?).map_err(|e| fail("making the TEST PKI", e))?;
    let gp = enroll_and_start(dir, &pki, &GP, now, nodes)?;
    let cardio = enroll_and_start(dir, &pki, &CARDIO, now, nodes)?;
    let radio = enroll_and_start(dir, &pki, &RADIO, now, nodes)?;
    for (n, who) in [(&cardio, &CARDIO), (&radio, &RADIO)] {
        let info = api(
            "adding a colleague",
            gp.client.add_peer(&AddPeer {
                multiaddr: n.multiaddr.clone(),
            }),
        )?;
        println!(
            "    the GP's node reached {} and verified it serves {} ({})",
            info.peer_id
                .as_deref()
                .map(|p| &p[..12.min(p.len())])
                .unwrap_or("?"),
            info.name.as_deref().unwrap_or(who.surname),
            info.national_id.as_deref().unwrap_or("?")
        );
    }

    step(
        2,
        "Story 1: the GP records Mrs DURAND's consent and refers her to the cardiologist.",
    );
    let consent = api(
        "recording consent",
        gp.client.consent_grant(&GrantConsentRequest {
            patient_ins: PATIENT_INS.into(),
            recipients: vec![CARDIO.national_id.into(), RADIO.national_id.into()],
            purpose: "cardiology opinion and imaging".into(),
            expires: None,
        }),
    )?;
    println!(
        "    consent {} recorded in the GP's ledger",
        &consent.id[..12]
    );
    let docs = dir.join("documents");
    fs::create_dir_all(&docs).map_err(|e| fail("making a directory", e))?;
    let ecg = write(
        &docs.join("ecg-2026-11.txt"),
        "ECG: sinus rhythm 72/min, ST depression V4-V6 on exertion.\n",
    )?;
    let labs = write(
        &docs.join("labs.txt"),
        "Troponin < 14 ng/L; LDL 1.9 g/L; HbA1c 6.1 %.\n",
    )?;
    let referral = api(
        "sending the referral",
        gp.client.send(&SendRequest {
            to: CARDIO.national_id.into(),
            patient: patient(),
            reason: "chest pain on exertion".into(),
            urgent: true,
            letter: Some(
                "Dear colleague, could you see Mrs DURAND about chest pain on exertion?".into(),
            ),
            files: vec![ecg.clone(), labs],
            consent: Some(consent.id.clone()),
            care_team: None,
        }),
    )?;
    let imaging = api(
        "sending the imaging request",
        gp.client.send(&SendRequest {
            to: RADIO.national_id.into(),
            patient: patient(),
            reason: "coronary CT angiography".into(),
            urgent: false,
            letter: Some("Coronary CT angiography, please.".into()),
            files: vec![ecg],
            consent: Some(consent.id.clone()),
            care_team: None,
        }),
    )?;
    wait_delivered(&gp, &referral.id)?;
    wait_delivered(&gp, &imaging.id)?;
    println!(
        "    both dossiers sealed once, sent, verified by the recipients; signed receipts are in"
    );

    step(
        3,
        "Story 2: the cardiologist works through his referral inbox.",
    );
    let inbox = api("listing the inbox", cardio.client.inbox())?;
    for i in &inbox {
        println!(
            "    {} {} from {} — {} {} — {}",
            if i.urgent { "URGENT" } else { "routine" },
            &i.id[..12],
            i.from_name,
            i.patient.family,
            i.patient.given,
            i.reason
        );
    }
    let shown = api(
        "opening the referral",
        cardio.client.inbox_show(&referral.id),
    )?;
    println!(
        "    he reads the letter (the opening is logged): {}",
        shown.letter.unwrap_or_default()
    );
    let out = dir.join("cardiologist-opened");
    let opened = api(
        "writing the documents",
        cardio.client.inbox_open(
            &referral.id,
            &OpenRequest {
                out_dir: out.clone(),
            },
        ),
    )?;
    println!(
        "    {} document(s) written to {}",
        opened.files.len(),
        out.display()
    );
    api("accepting", cardio.client.inbox_accept(&referral.id))?;
    let report = write(
        &docs.join("cardiology-report.txt"),
        "Stress test positive; coronary CT advised; start statin.\n",
    )?;
    let reply = api(
        "replying",
        cardio.client.inbox_reply(
            &referral.id,
            &ReplyRequest {
                letter: Some("Dear colleague, my report is attached.".into()),
                files: vec![report],
            },
        ),
    )?;
    wait_delivered(&cardio, &reply.id)?;
    let back = wait_until("waiting for the reply", || {
        gp.client
            .inbox()
            .ok()?
            .into_iter()
            .find(|i| i.in_reply_to.as_deref() == Some(referral.id.as_str()))
    })?;
    println!(
        "    his report reached the GP's inbox, linked to the referral {} (\"{}\")",
        &referral.id[..12],
        back.reason
    );

    step(4, "Story 3: the patient withdraws her consent.");
    api(
        "revoking consent",
        gp.client.consent_revoke(
            &consent.id,
            &RevokeConsentRequest {
                reason: Some("patient request".into()),
            },
        ),
    )?;
    let shown = wait_until("waiting for the erasure receipts", || {
        let c = gp.client.consent_show(&consent.id).ok()?;
        (c.recipient_states.len() == 2 && c.recipient_states.iter().all(|r| r.state == "erased"))
            .then_some(c)
    })?;
    for r in &shown.recipient_states {
        println!(
            "    {} erased dossier {} — signed erasure receipt at {}",
            r.national_id,
            &r.dossier_id[..12],
            r.receipt_at.as_deref().unwrap_or("?")
        );
    }
    let item = api("showing the erased referral", cardio.client.inbox())?
        .into_iter()
        .find(|i| i.id == referral.id);
    println!(
        "    the cardiologist's inbox shows it {}; it can no longer be opened",
        item.map(|i| i.status).unwrap_or_default()
    );

    step(
        5,
        "The patient's access journal, as the GP's node recorded it.",
    );
    for l in api("reading the journal", gp.client.journal(PATIENT_INS))? {
        println!(
            "    {}  {} {}  #{} {}",
            l.time,
            l.who_name.unwrap_or(l.who),
            l.what,
            l.seq,
            &l.entry_hash[..16]
        );
    }

    step(6, "Every ledger verified (hash chain and signatures).");
    for (n, p) in [(&gp, &GP), (&cardio, &CARDIO), (&radio, &RADIO)] {
        let r = api("verifying a ledger", n.client.ledger_verify())?;
        if !r.intact {
            return Err(fail(
                "verifying a ledger",
                format!("{}'s ledger is broken", p.label),
            ));
        }
        println!(
            "    {}: {} entries, intact ({})",
            p.label,
            r.entries,
            n.home.display()
        );
    }
    println!(
        "\nDone in {:.1} s. Next: the README's tour, `confrere --help`.",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::from(EXIT_OK))
}
