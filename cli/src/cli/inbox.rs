//! `confrere inbox` and its commands: their options.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `confrere inbox [COMMAND]`: no command lists the inbox. `--home` and
/// `--json` go before or after the command.
#[derive(Debug, Args)]
pub(crate) struct InboxArgs {
    /// What to do with an item.
    #[command(subcommand)]
    pub command: Option<InboxCommand>,
    /// The node's home directory (its daemon must be running).
    #[arg(long, env = "CONFRERE_HOME", value_name = "DIR", global = true)]
    pub home: Option<PathBuf>,
    /// Print the answer as JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

/// `confrere inbox …`
#[derive(Debug, Subcommand)]
pub(crate) enum InboxCommand {
    /// Show one referral: sender, patient, reason, letter, documents.
    #[command(after_help = "\
Example:
  confrere inbox show 3f2a9c1e --home ~/confrere
  confrere inbox show 3f2a9c1e --json")]
    Show(InboxItemArgs),
    /// Write a referral's documents into a directory (the opening is logged).
    #[command(after_help = "\
Example:
  confrere inbox open 3f2a9c1e --out ./referral --home ~/confrere")]
    Open(InboxOpenArgs),
    /// Accept a referral.
    #[command(after_help = "\
Example:
  confrere inbox accept 3f2a9c1e --home ~/confrere")]
    Accept(InboxItemArgs),
    /// Decline a referral, saying why (the sender is told).
    #[command(after_help = "\
Example:
  confrere inbox decline 3f2a9c1e --reason \"No slot before March; see Dr Petit\" --home ~/confrere")]
    Decline(InboxDeclineArgs),
    /// Answer a referral: send a dossier back to the referrer, linked to it.
    #[command(after_help = "\
Example:
  confrere inbox reply 3f2a9c1e --letter report.txt echo.pdf --home ~/confrere")]
    Reply(InboxReplyArgs),
}

/// An inbox item's id: in full, or a unique prefix of at least 8 characters.
#[derive(Debug, Args)]
pub(crate) struct InboxItemArgs {
    /// The dossier id, or a unique prefix of it (at least 8 characters).
    #[arg(value_name = "ID")]
    pub id: String,
}

/// Options of `inbox open`.
#[derive(Debug, Args)]
pub(crate) struct InboxOpenArgs {
    /// The dossier id, or a unique prefix of it (at least 8 characters).
    #[arg(value_name = "ID")]
    pub id: String,
    /// The directory to write the documents to (made if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Options of `inbox decline`.
#[derive(Debug, Args)]
pub(crate) struct InboxDeclineArgs {
    /// The dossier id, or a unique prefix of it (at least 8 characters).
    #[arg(value_name = "ID")]
    pub id: String,
    /// Why: the sender reads it.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
}

/// Options of `inbox reply`.
#[derive(Debug, Args)]
pub(crate) struct InboxReplyArgs {
    /// The referral's dossier id, or a unique prefix of it (at least 8 characters).
    #[arg(value_name = "ID")]
    pub id: String,
    /// The answer letter: a UTF-8 text file.
    #[arg(long, value_name = "FILE")]
    pub letter: Option<PathBuf>,
    /// The documents to send back.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// Checks that a day is written `YYYY-MM-DD` (the daemon checks the rest).
pub(super) fn parse_day(s: &str) -> Result<String, String> {
    use confrere_protocol::consent::DateError;
    confrere_protocol::consent::parse_date(s.trim())
        .map(confrere_protocol::consent::format_date)
        .map_err(|e| match e {
            DateError::Format => "a day is written YYYY-MM-DD, e.g. 2025-06-30".to_owned(),
            other => format!("{other} (write it YYYY-MM-DD, e.g. 2025-06-30)"),
        })
}
