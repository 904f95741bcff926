//! `confrere init`: enroll a node.

use std::process::ExitCode;

use confrere_node::home::{init, HomeError, InitRequest, Pkcs11Error};
use confrere_protocol::{Pkcs12Error, RevocationCheck, UnixTime};
use serde_json::json;

use super::card;
use crate::cli::InitArgs;
use crate::error::{CliError, EXIT_OK};

/// Runs `init`.
pub(crate) fn run(args: &InitArgs, now: UnixTime) -> Result<ExitCode, CliError> {
    let card = card::card_source(&args.card)?;
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

/// The command error of a home or card error.
pub(crate) fn to_cli(e: HomeError) -> CliError {
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
        }
        | HomeError::Pkcs11 {
            error:
                Pkcs11Error::ModuleMissing
                | Pkcs11Error::NotAModule(_)
                | Pkcs11Error::NoToken
                | Pkcs11Error::TokenNotFound { .. }
                | Pkcs11Error::SeveralTokens { .. }
                | Pkcs11Error::KeyNotFound { .. }
                | Pkcs11Error::SeveralKeys { .. }
                | Pkcs11Error::WrongPin { .. },
            ..
        } => CliError::input(e, hint),
        _ => CliError::refused(e, hint),
    }
}
