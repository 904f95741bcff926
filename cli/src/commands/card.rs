//! The card options shared by the commands the card signs for: which
//! certificate and key, and the secret that opens them.

use std::io::IsTerminal;
use std::path::Path;

use confrere_node::home::{CardSource, KeyChoice, Pkcs11Pin, TokenChoice};
use confrere_protocol::Pkcs12Password;

use crate::cli::CardArgs;
use crate::error::CliError;

/// The card the options name; asks for its secret when it needs one.
pub(crate) fn card_source(args: &CardArgs) -> Result<CardSource, CliError> {
    if let Some(module) = &args.pkcs11_module {
        let token = match (&args.token_label, &args.token_serial) {
            (Some(label), _) => TokenChoice::Label(label.clone()),
            (None, Some(serial)) => TokenChoice::Serial(serial.clone()),
            (None, None) => TokenChoice::OnlyOne,
        };
        let key = match (&args.key_label, &args.key_id) {
            (Some(label), _) => KeyChoice::Label(label.clone()),
            (None, Some(id)) => KeyChoice::Id(id.0.clone()),
            (None, None) => KeyChoice::OnlyOne,
        };
        return Ok(CardSource::Pkcs11 {
            module: module.clone(),
            token,
            key,
            pin: pkcs11_pin()?,
        });
    }
    match (&args.p12, &args.cert, &args.key) {
        (Some(file), _, _) => Ok(CardSource::Pkcs12 {
            file: file.clone(),
            password: p12_password(file)?,
        }),
        (None, Some(cert), Some(key)) => Ok(CardSource::KeyFile {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => Err(CliError::input(
            "no card given",
            "give --cert FILE and --key FILE, or --p12 FILE, or --pkcs11-module PATH",
        )),
    }
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

/// The environment variable a PKCS#11 token's PIN is read from.
const PKCS11_PIN_VAR: &str = "CONFRERE_PKCS11_PIN";

/// The card's PIN: from [`PKCS11_PIN_VAR`], else asked on the terminal
/// without echo. Never logged or stored; wiped on drop.
fn pkcs11_pin() -> Result<Pkcs11Pin, CliError> {
    if let Some(v) = std::env::var_os(PKCS11_PIN_VAR) {
        return v.into_string().map(Pkcs11Pin::new).map_err(|_| {
            CliError::input(
                format!("{PKCS11_PIN_VAR} is not valid UTF-8"),
                "set it to the card's PIN as text",
            )
        });
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::input(
            "the card's PIN cannot be asked: standard input is not a terminal",
            format!("set {PKCS11_PIN_VAR} to the card's PIN"),
        ));
    }
    rpassword::prompt_password("PIN of the card: ")
        .map(Pkcs11Pin::new)
        .map_err(|e| {
            CliError::input(
                format!("cannot read the card's PIN from the terminal: {e}"),
                format!("set {PKCS11_PIN_VAR} to the card's PIN"),
            )
        })
}
