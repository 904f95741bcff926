//! `confrere pki init-test | issue-test | revoke-test`: the TEST PKI.

use std::process::ExitCode;

use confrere_protocol::UnixTime;
use confrere_testpki::{self as testpki, IssueRequest, TestPkiError};

use crate::cli::{IssueTestArgs, PkiCommand};
use crate::error::{CliError, EXIT_OK};

/// Runs a `pki` subcommand.
pub(crate) fn run(cmd: &PkiCommand, now: UnixTime) -> Result<ExitCode, CliError> {
    let now = time::OffsetDateTime::from_unix_timestamp(now.as_secs())
        .map_err(|_| CliError::input("the system clock is out of range", "check the clock"))?;
    match cmd {
        PkiCommand::Init { out } => {
            testpki::init_test_ca(out, now).map_err(to_cli)?;
            outln!("Made a TEST PKI in {}:", out.display());
            outln!("  root.pem          TEST root CA (the trust anchor: --trust)");
            outln!("  intermediate.pem  TEST intermediate CA (--chain)");
            outln!("  crl.pem           CRLs of both CAs (--crl), valid 30 days");
            outln!("  *.key.pem         CA keys (0600): keep them out of any node's home");
            outln!(
                "Next: confrere pki issue-test --ca {} --national-id … --out …",
                out.display()
            );
        }
        PkiCommand::Issue(a) => issue(a, now)?,
        PkiCommand::Revoke { ca, cert } => {
            testpki::revoke_test(ca, cert, now).map_err(to_cli)?;
            outln!(
                "Revoked {}; {} now lists it.",
                cert.display(),
                ca.join("crl.pem").display()
            );
            outln!("Nodes see the revocation once they import the new CRL.");
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn issue(a: &IssueTestArgs, now: time::OffsetDateTime) -> Result<(), CliError> {
    let mut req = IssueRequest::new(
        a.national_id.clone(),
        a.given.clone(),
        a.surname.clone(),
        a.profession,
    );
    req.ecdsa = a.ecdsa;
    let issued = testpki::issue_test(&a.ca, &req, &a.out, now).map_err(to_cli)?;
    outln!(
        "Issued a TEST authentication certificate for {} {} ({}), serial {}:",
        a.given,
        a.surname,
        a.national_id,
        issued.serial_hex()
    );
    outln!("  cert.pem   certificate (--cert)");
    outln!("  key.pem    card key, PKCS#8, 0600 (--key)");
    outln!("  chain.pem  intermediate CA (--chain)");
    outln!("in {}", a.out.display());
    Ok(())
}

fn to_cli(e: TestPkiError) -> CliError {
    // Bad arguments are usage errors; the rest (existing files, a CA
    // directory that is not one, a certificate of another CA) are refusals.
    let code = match e {
        TestPkiError::InvalidNationalId { .. }
        | TestPkiError::UnknownProfession { .. }
        | TestPkiError::InvalidName { .. }
        | TestPkiError::BadCertificate { .. }
        | TestPkiError::Io { .. } => crate::error::EXIT_USAGE,
        _ => crate::error::EXIT_REFUSED,
    };
    // TestPkiError messages already say what to do.
    CliError {
        message: e.to_string(),
        hint: None,
        code,
    }
}
