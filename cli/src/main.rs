//! The `confrere` binary: parses the command line and hands over to the
//! node library. No protocol logic lives here.

// Macros first: the modules below print with them.
#[macro_use]
mod out;

mod cli;
mod client;
mod commands;
mod error;
mod local_http;
// Checks of a home before a command opens it itself.
mod home;

use std::process::ExitCode;

use clap::Parser;
use confrere_protocol::UnixTime;

use cli::{
    CareTeamCommand, CertCommand, Cli, Command, ConsentCommand, CrlCommand, LedgerCommand,
    PeersCommand,
};

fn now() -> UnixTime {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    UnixTime::from_secs(i64::try_from(secs).unwrap_or(i64::MAX))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let now = now();
    let (result, json) = match &cli.command {
        Command::Cert(CertCommand::Inspect(a)) => (commands::cert::inspect(a, now), a.json),
        Command::Pki(p) => (commands::pki::run(p, now), false),
        Command::Init(a) => (commands::init::run(a, now), a.json),
        Command::Renew(a) => (commands::renew::run(a, now), a.json),
        Command::Run(a) => (commands::run::run(a), false),
        Command::Demo { dir } => (commands::demo::run(dir.as_deref(), now), false),
        Command::Crl(CrlCommand::Import(a)) => (commands::crl::import(a), a.json),
        Command::Crl(CrlCommand::Update(a)) => (commands::crl::update(a), a.json),
        Command::Status(a) => (commands::status::run(a), a.json),
        Command::Ui(a) => (commands::ui::run(a), false),
        Command::Peers(PeersCommand::Add(a)) => (commands::peers::add(a), a.json),
        Command::Peers(PeersCommand::List(a)) => (commands::peers::list(a), a.json),
        Command::Peers(PeersCommand::Find(a)) => (commands::peers::find(a), a.json),
        Command::Peers(PeersCommand::Remove(a)) => (commands::peers::remove(a), a.json),
        Command::Send(a) => (commands::send::run(a), a.json),
        Command::Outbox(a) => (commands::outbox::run(a), a.json),
        Command::Inbox(a) => (commands::inbox::run(a), a.json),
        Command::Consent(ConsentCommand::Grant(a)) => (commands::consent::grant(a), a.json),
        Command::Consent(ConsentCommand::List(a)) => (commands::consent::list(a), a.json),
        Command::Consent(ConsentCommand::Show(a)) => (commands::consent::show(a), a.json),
        Command::Consent(ConsentCommand::Revoke(a)) => (commands::consent::revoke(a), a.json),
        Command::CareTeam(CareTeamCommand::Record(a)) => {
            (commands::consent::care_team_record(a), a.json)
        }
        Command::Purge(a) => (commands::journal::purge(a), a.json),
        Command::Journal(a) => (
            commands::journal::run(a),
            a.format == cli::JournalFormat::Json,
        ),
        Command::Ledger(LedgerCommand::Show(a)) => (commands::ledger::show(a), a.json),
        Command::Ledger(LedgerCommand::Verify(a)) => (commands::ledger::verify(a), a.json),
        Command::Completions(a) => (commands::completions::completions(a), false),
        Command::Man(a) => (commands::completions::man(a), false),
    };
    match result {
        Ok(code) => code,
        Err(e) => e.report(json),
    }
}
