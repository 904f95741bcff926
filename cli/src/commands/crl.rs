//! `confrere crl import`: takes CRLs by hand into the home (offline sites).

use std::process::ExitCode;

use confrere_node::home::crl::{import_crls, CrlImportError};
use serde_json::json;

use crate::cli::CrlImportArgs;
use crate::client::output::{clean, print_json};
use crate::error::{CliError, EXIT_OK};

/// What the command says about the running daemon: it reads CRLs at start.
const DAEMON_NOTE: &str =
    "A running daemon takes the new CRL at its next start: restart it (`confrere run`) to use it now.";

/// Runs `crl import`.
pub(crate) fn import(args: &CrlImportArgs) -> Result<ExitCode, CliError> {
    let source = args.file.display().to_string();
    let bytes = std::fs::read(&args.file).map_err(|e| {
        CliError::input(
            format!("cannot read {source}: {e}"),
            "check the path to the CRL file",
        )
    })?;
    let changes = import_crls(&args.home, &bytes, &source).map_err(|e| {
        let hint = e.hint();
        match e {
            CrlImportError::Refused { .. } => CliError::refused(e, hint),
            _ => CliError::input(e, hint),
        }
    })?;
    if args.json {
        let crls: Vec<_> = changes
            .iter()
            .map(|c| {
                json!({
                    "ca": c.issuer,
                    "this_update": c.this_update.to_string(),
                    "next_update": c.next_update.map(|t| t.to_string()),
                    "replaced_this_update": c.replaced.map(|t| t.to_string()),
                })
            })
            .collect();
        print_json(&json!({ "imported": crls, "note": DAEMON_NOTE }))?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    for c in &changes {
        let next = c
            .next_update
            .map_or_else(|| "none".to_owned(), |t| t.to_string());
        let replaced = c.replaced.map_or_else(
            || "none held before".to_owned(),
            |t| format!("replaces the one of {t}"),
        );
        outln!(
            "Imported the CRL of {}: this update {}, next update {} ({replaced}).",
            clean(&c.issuer),
            c.this_update,
            next
        );
    }
    outln!("{DAEMON_NOTE}");
    Ok(ExitCode::from(EXIT_OK))
}
