//! `confrere demo`: what Confrère does today, played end to end on this
//! machine with a TEST PKI, narrated step by step.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use confrere_node::home::{init, Home, InitRequest};
use confrere_node::pump::{connect_in_memory, PumpError};
use confrere_node::testpki::{self, IssueRequest};
use confrere_protocol::{RevocationCheck, UnixTime};

use crate::error::{CliError, EXIT_OK};

struct Practice {
    label: &'static str,
    national_id: &'static str,
    given: &'static str,
    surname: &'static str,
    profession: u32,
}

const GP: Practice = Practice {
    label: "gp",
    national_id: "810001000016",
    given: "CLAIRE",
    surname: "MARTIN-TEST",
    profession: 10,
};

const CARDIO: Practice = Practice {
    label: "cardiologist",
    national_id: "810001000024",
    given: "PAUL",
    surname: "LEROY-TEST",
    profession: 10,
};

fn step(n: u32, text: &str) {
    println!("\n[{n}] {text}");
}

fn fail(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::refused(
        format!("the demo failed while {what}: {e}"),
        "run it again with --dir DIR to keep the files and look at them",
    )
}

fn to_time(now: UnixTime) -> Result<time::OffsetDateTime, CliError> {
    time::OffsetDateTime::from_unix_timestamp(now.as_secs())
        .map_err(|_| CliError::input("the system clock is out of range", "check the clock"))
}

fn enroll(
    dir: &Path,
    pki: &Path,
    p: &Practice,
    now: UnixTime,
) -> Result<(PathBuf, Home), CliError> {
    let card = dir.join(format!("{}-card", p.label));
    let req = IssueRequest::new(p.national_id, p.given, p.surname, p.profession);
    testpki::issue_test(pki, &req, &card, to_time(now)?)
        .map_err(|e| fail("issuing a card certificate", e))?;
    let home = dir.join(format!("{}-home", p.label));
    let report = init(&InitRequest {
        home: home.clone(),
        cert: card.join("cert.pem"),
        key: card.join("key.pem"),
        chain: vec![card.join("chain.pem")],
        trust: vec![pki.join("root.pem")],
        crls: vec![pki.join("crl.pem")],
        revocation: RevocationCheck::Required,
        now,
    })
    .map_err(|e| fail("enrolling a node", e))?;
    println!(
        "    {} {} ({}) enrolled {}; node peer id {}",
        p.given,
        p.surname,
        p.national_id,
        home.display(),
        report.peer_id
    );
    let opened = Home::open(&home).map_err(|e| fail("opening a home", e))?;
    Ok((card, opened))
}

/// Runs the demo in `dir` (made if missing) or in a temporary directory.
pub fn run(dir: Option<&Path>, now: UnixTime) -> Result<ExitCode, CliError> {
    let tmp;
    let dir = match dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| {
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
            d.to_path_buf()
        }
        None => {
            tmp = tempfile::tempdir().map_err(|e| fail("making a temporary directory", e))?;
            tmp.path().to_path_buf()
        }
    };
    println!("Confrère demo: two practices prove who they are to each other with their");
    println!("health card certificates, then talk over an end-to-end encrypted session.");
    println!(
        "Everything happens in {} with TEST certificates.",
        dir.display()
    );

    step(
        1,
        "A TEST health PKI in the IGC-Santé shape: a root CA, an issuing CA, their CRLs.",
    );
    let pki = dir.join("pki");
    testpki::init_test_ca(&pki, to_time(now)?).map_err(|e| fail("making the TEST PKI", e))?;
    println!("    made {}", pki.display());

    step(2, "Each practitioner's card certificate is issued, and the card key enrolls the practice node.");
    let (gp_card, gp) = enroll(&dir, &pki, &GP, now)?;
    let (_, cardio) = enroll(&dir, &pki, &CARDIO, now)?;
    println!("    The card keys signed each node's credential once; they are not in the homes.");

    step(
        3,
        "The GP's node opens a Noise XX session to the cardiologist's node (here, in memory).",
    );
    let mut pair = connect_in_memory(&gp.session_config(), &cardio.session_config(), now)
        .map_err(|e| fail("the first handshake", e))?;
    let seen_by_gp = pair.initiator.peer().identity();
    let seen_by_cardio = pair.responder.peer().identity();
    println!(
        "    the GP's node verified:  {} ({}), {}",
        seen_by_gp.display_name(),
        seen_by_gp.national_id,
        seen_by_gp.profession.as_deref().unwrap_or("?")
    );
    println!(
        "    the cardiologist's node verified: {} ({})",
        seen_by_cardio.display_name(),
        seen_by_cardio.national_id
    );
    let sealed = pair
        .initiator
        .seal(b"Referral: chest pain on exertion, ECG attached.")
        .map_err(|e| fail("sealing a message", e))?;
    let opened = pair
        .responder
        .open(&sealed[2..])
        .map_err(|e| fail("opening a message", e))?;
    println!(
        "    a {}-byte message crossed as {} encrypted bytes and arrived intact: {}",
        opened.len(),
        sealed.len(),
        opened == b"Referral: chest pain on exertion, ECG attached."
    );

    step(4, "An impostor: a CA with the very same names but its own keys issues a card in the cardiologist's name.");
    let fake_pki = dir.join("impostor-pki");
    testpki::init_test_ca(&fake_pki, to_time(now)?)
        .map_err(|e| fail("making the impostor PKI", e))?;
    let fake_dir = dir.join("impostor");
    std::fs::create_dir_all(&fake_dir).map_err(|e| fail("making a directory", e))?;
    let (_, fake) = enroll(&fake_dir, &fake_pki, &CARDIO, now)?;
    match connect_in_memory(&gp.session_config(), &fake.session_config(), now) {
        Err(PumpError::Initiator(e)) => println!("    the GP's node refused it: {e}"),
        Err(e) => println!("    refused: {e}"),
        Ok(_) => return Err(fail("the impostor test", "the impostor was accepted")),
    }

    step(
        5,
        "The GP's card is revoked; the cardiologist's node imports the new CRL.",
    );
    testpki::revoke_test(&pki, &gp_card.join("cert.pem"), to_time(now)?)
        .map_err(|e| fail("revoking", e))?;
    let mut cardio_config = cardio.session_config();
    let crl_bytes = std::fs::read(pki.join("crl.pem")).map_err(|e| fail("reading the CRL", e))?;
    let mut trust = cardio.trust.clone();
    for crl in confrere_protocol::parse_crls(&crl_bytes).map_err(|e| fail("reading the CRL", e))? {
        trust.add_crl(crl);
    }
    cardio_config.trust = std::sync::Arc::new(trust);
    match connect_in_memory(&gp.session_config(), &cardio_config, now) {
        Err(PumpError::Responder(e)) => println!("    the cardiologist's node refused the GP: {e}"),
        Err(e) => println!("    refused: {e}"),
        Ok(_) => return Err(fail("the revocation test", "the revoked card was accepted")),
    }

    println!("\nDone. Next: `confrere cert inspect` on a real card certificate, `confrere init` to enroll a node.");
    Ok(ExitCode::from(EXIT_OK))
}
