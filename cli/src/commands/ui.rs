//! `confrere ui`: a one-time login link to the node's web inbox, opened in
//! the browser (or printed).

use std::process::{Command, ExitCode, Stdio};

use clap::Args;

use crate::cli::DaemonHome;
use crate::client::Client;
use crate::error::{CliError, EXIT_OK};

/// Options of `ui`.
#[derive(Debug, Args)]
pub(crate) struct UiArgs {
    #[command(flatten)]
    pub home: DaemonHome,
    /// Print the link only; do not open a browser.
    #[arg(long)]
    pub print: bool,
}

/// Runs `ui`.
pub(crate) fn run(args: &UiArgs) -> Result<ExitCode, CliError> {
    let client = Client::connect(&args.home.home)?;
    let link = client.ui_login_link()?;
    if args.print || !has_display() {
        outln!("{}", link.url);
        if !args.print {
            eprintln!(
                "No display to open a browser on: open this link in the browser of this machine \
                 within {} seconds; it works once.",
                link.expires_in_seconds
            );
        }
        return Ok(ExitCode::from(EXIT_OK));
    }
    let opened = Command::new("xdg-open")
        .arg(&link.url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if opened {
        eprintln!(
            "The web inbox opens in your browser (the link works once, within {} seconds).",
            link.expires_in_seconds
        );
    } else {
        outln!("{}", link.url);
        eprintln!(
            "Could not start a browser (xdg-open): open this link in the browser of this machine \
             within {} seconds; it works once.",
            link.expires_in_seconds
        );
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// Whether a graphical session is there to open a browser in.
fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}
