//! The card options shared by the commands the card signs for: which
//! certificate and key, and the secret that opens them.

use std::io::IsTerminal;
use std::path::Path;

use confrere_node::home::CardSource;
use confrere_protocol::Pkcs12Password;

use crate::cli::CardArgs;
use crate::error::CliError;

/// The card the options name; asks for its secret when it needs one.
pub(crate) fn card_source(args: &CardArgs) -> Result<CardSource, CliError> {
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
            "give --cert FILE and --key FILE, or --p12 FILE",
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
