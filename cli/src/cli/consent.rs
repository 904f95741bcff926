//! `confrere consent`, `purge`, `journal` and `care-team`: their options.

use clap::{Args, Subcommand};

use super::inbox::parse_day;
use super::DaemonHome;

/// `confrere consent …`
#[derive(Debug, Subcommand)]
pub(crate) enum ConsentCommand {
    /// Record a patient's consent to share their dossier with the named
    /// colleagues for a purpose; prints the consent's id, which `send
    /// --consent` cites.
    #[command(after_help = "\
Without --expires the consent holds until it is revoked. The expiry day is
read in French legal time: the consent covers sends until midnight at its end.

Example:
  confrere consent grant --home ~/confrere --patient-ins 255081416802538 \\
      --to 810002000015 --to 899700075064 --purpose \"Cardiology opinion\" \\
      --expires 2025-12-31")]
    Grant(ConsentGrantArgs),
    /// List the consents recorded on this node, newest first.
    #[command(after_help = "\
Example:
  confrere consent list --home ~/confrere
  confrere consent list --patient-ins 255081416802538 --json")]
    List(ConsentListArgs),
    /// Show one consent and its state (active, revoked or expired).
    #[command(after_help = "\
Example:
  confrere consent show 3f2a9c1e --home ~/confrere
  confrere consent show 3f2a9c1e --json")]
    Show(ConsentShowArgs),
    /// Revoke a consent: the patient withdrew it. Nothing more can be sent
    /// under it.
    #[command(after_help = "\
Example:
  confrere consent revoke 3f2a9c1e --reason \"Withdrawn by the patient on the phone\" --home ~/confrere")]
    Revoke(ConsentRevokeArgs),
}

/// Options of `consent grant`.
#[derive(Debug, Args)]
pub(crate) struct ConsentGrantArgs {
    /// The patient's INS: 13-digit NIR and its 2-digit key.
    #[arg(long, value_name = "INS")]
    pub patient_ins: String,
    /// A colleague the patient allows shares with (national id: 8 + RPPS,
    /// or 0 + ADELI); repeatable, or several after one --to.
    #[arg(long = "to", value_name = "NATIONAL_ID", required = true, num_args = 1..)]
    pub to: Vec<String>,
    /// What the consent is for, in one line (at most 1 KiB).
    #[arg(long, value_name = "TEXT")]
    pub purpose: String,
    /// The consent's last day (none: until revoked).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
    pub expires: Option<String>,
    #[command(flatten)]
    pub home: DaemonHome,
    /// Print the consent as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `consent list`.
#[derive(Debug, Args)]
pub(crate) struct ConsentListArgs {
    /// Only this patient's consents (INS).
    #[arg(long, value_name = "INS")]
    pub patient_ins: Option<String>,
    #[command(flatten)]
    pub home: DaemonHome,
    /// Print the consents as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `purge`.
#[derive(Debug, Args)]
pub(crate) struct PurgeArgs {
    /// Only list the dossiers past their retention period.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub home: DaemonHome,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `journal`.
#[derive(Debug, Args)]
pub(crate) struct JournalArgs {
    /// The patient's INS.
    #[arg(long, value_name = "INS")]
    pub patient_ins: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: JournalFormat,
    #[command(flatten)]
    pub home: DaemonHome,
}

/// Output formats of `journal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum JournalFormat {
    /// One line per event.
    Text,
    /// A JSON list.
    Json,
    /// CSV with a header line.
    Csv,
    /// A FHIR R4 Bundle of AuditEvent resources.
    Fhir,
}

/// Options of `consent show`.
#[derive(Debug, Args)]
pub(crate) struct ConsentShowArgs {
    /// The consent id, or a unique prefix of it (at least 8 characters).
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub home: DaemonHome,
    /// Print the consent as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `consent revoke`.
#[derive(Debug, Args)]
pub(crate) struct ConsentRevokeArgs {
    /// The consent id, or a unique prefix of it (at least 8 characters).
    #[arg(value_name = "ID")]
    pub id: String,
    /// Why, in one line (kept with the consent).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    #[command(flatten)]
    pub home: DaemonHome,
    /// Print the revoked consent as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `confrere care-team …`
#[derive(Debug, Subcommand)]
pub(crate) enum CareTeamCommand {
    /// Record that the patient was informed, on a day, that their
    /// information is exchanged with these members of their care team, and
    /// did not object; prints the record's id, which `send --care-team`
    /// cites.
    #[command(after_help = "\
Example:
  confrere care-team record --home ~/confrere --patient-ins 255081416802538 \\
      --to 899700075064 --informed-on 2025-06-01")]
    Record(CareTeamRecordArgs),
}

/// Options of `care-team record`.
#[derive(Debug, Args)]
pub(crate) struct CareTeamRecordArgs {
    /// The patient's INS: 13-digit NIR and its 2-digit key.
    #[arg(long, value_name = "INS")]
    pub patient_ins: String,
    /// A member of the care team (national id: 8 + RPPS, or 0 + ADELI);
    /// repeatable, or several after one --to.
    #[arg(long = "to", value_name = "NATIONAL_ID", required = true, num_args = 1..)]
    pub to: Vec<String>,
    /// The day the patient was informed (today or earlier).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
    pub informed_on: String,
    #[command(flatten)]
    pub home: DaemonHome,
    /// Print the record as JSON.
    #[arg(long)]
    pub json: bool,
}
