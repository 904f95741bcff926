//! `confrere init`: enroll a node.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use confrere_node::home::{init, CardSource, HomeError, InitRequest};
use confrere_protocol::{Pkcs12Error, Pkcs12Password, RevocationCheck, UnixTime};
use serde_json::json;

use crate::cli::InitArgs;
use crate::error::{CliError, EXIT_OK};

/// Runs `init`.
pub(crate) fn run(args: &InitArgs, now: UnixTime) -> Result<ExitCode, CliError> {
    let card = match (&args.p12, &args.cert, &args.key) {
        (Some(file), _, _) => CardSource::Pkcs12 {
            file: file.clone(),
            password: p12_password(file)?,
        },
        (None, Some(cert), Some(key)) => CardSource::KeyFile {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => {
            return Err(CliError::input(
                "no card given",
                "give --cert FILE and --key FILE, or --p12 FILE",
            ))
        }
    };
    let req = InitRequest {
        home: args.home.clone(),
        card,
        chain: args.chain.clone(),
        trust: args.trust.clone(),
        crls: args.crl.clone(),
        revocation: if args.no_revocation_check {
            RevocationCheck::Off
        } else {
            RevocationCheck::Required
        },
        now,
    };
    let report = init(&req).map_err(to_cli)?;
    if args.json {
        let v = json!({
            "home": report.home.display().to_string(),
            "national_id": report.identity.national_id.as_str(),
            "name": report.identity.display_name(),
            "peer_id": report.peer_id,
            "credential_not_after": report.credential_not_after.to_rfc3339(),
        });
        outln!("{v:#}");
    } else {
        outln!(
            "Enrolled {} for {} ({}).",
            report.home.display(),
            report.identity.display_name(),
            report.identity.national_id
        );
        outln!("Peer id     {}", report.peer_id);
        outln!(
            "Credential  valid until {} (the certificate's end)",
            report.credential_not_after.to_rfc3339()
        );
        outln!("The card key was used once and was not copied into the home.");
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// The environment variable a `.p12` password is read from.
const P12_PASSWORD_VAR: &str = "CONFRERE_P12_PASSWORD";

/// The `.p12` password: from [`P12_PASSWORD_VAR`], else asked on the
/// terminal without echo. Never logged or stored.
fn p12_password(file: &Path) -> Result<Pkcs12Password, CliError> {
    if let Some(v) = std::env::var_os(P12_PASSWORD_VAR) {
        return v.into_string().map(Pkcs12Password::new).map_err(|_| {
            CliError::input(
                format!("{P12_PASSWORD_VAR} is not valid UTF-8"),
                "set it to the .p12 password as text",
            )
        });
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::input(
            "the .p12 password cannot be asked: standard input is not a terminal",
            format!("set {P12_PASSWORD_VAR} to the password of the .p12 file"),
        ));
    }
    rpassword::prompt_password(format!("Password for {}: ", file.display()))
        .map(Pkcs12Password::new)
        .map_err(|e| {
            CliError::input(
                format!("cannot read the .p12 password from the terminal: {e}"),
                format!("set {P12_PASSWORD_VAR} to the password of the .p12 file"),
            )
        })
}

fn to_cli(e: HomeError) -> CliError {
    let hint = e.hint();
    match e {
        HomeError::Read(_)
        | HomeError::BadInput { .. }
        | HomeError::NoTrustAnchor
        | HomeError::Pkcs12 {
            error:
                Pkcs12Error::NotPkcs12
                | Pkcs12Error::WrongPassword
                | Pkcs12Error::Unsupported(_)
                | Pkcs12Error::Certificate(_)
                | Pkcs12Error::Key(_),
            ..
        }
        | HomeError::Key {
            error: confrere_protocol::SignerError::UnsupportedKey(_),
            ..
        } => CliError::input(e, hint),
        _ => CliError::refused(e, hint),
    }
}
