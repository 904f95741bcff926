//! `confrere inbox [show|open|accept|decline|reply]`: the referrals received.
//!
//! Items are named by their dossier id, or by a unique prefix of it of at
//! least 8 characters (resolved by listing the inbox first).

use std::path::Path;
use std::process::ExitCode;

use confrere_node::api::model::{DeclineRequest, InboxItem, OpenRequest, ReplyRequest};

use crate::cli::{
    InboxArgs, InboxCommand, InboxDeclineArgs, InboxItemArgs, InboxOpenArgs, InboxReplyArgs,
};
use crate::client::output::{bytes, clean, clean_text, cut, print_json, short_id, Table};
use crate::client::Client;
use crate::commands::send;
use crate::error::{CliError, EXIT_OK};

/// The shortest id prefix taken for a full id.
const MIN_PREFIX: usize = 8;

/// Runs `inbox` and its subcommands.
pub(crate) fn run(args: &InboxArgs) -> Result<ExitCode, CliError> {
    let Some(home) = args.home.as_deref() else {
        return Err(CliError::input(
            "no home given",
            "name the node's home with --home DIR (or set CONFRERE_HOME)",
        ));
    };
    let json = args.json;
    match &args.command {
        None => list(home, json),
        Some(InboxCommand::Show(a)) => show(home, a, json),
        Some(InboxCommand::Open(a)) => open(home, a, json),
        Some(InboxCommand::Accept(a)) => accept(home, a, json),
        Some(InboxCommand::Decline(a)) => decline(home, a, json),
        Some(InboxCommand::Reply(a)) => reply(home, a, json),
    }
}

fn list(home: &Path, json: bool) -> Result<ExitCode, CliError> {
    let client = Client::connect(home)?;
    let items = client.inbox()?;
    if json {
        print_json(&items)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    if items.is_empty() {
        outln!("The inbox is empty.");
        return Ok(ExitCode::from(EXIT_OK));
    }
    // The daemon's order (urgent first, then newest) is kept.
    let mut table = Table::new(&[
        "ID", "!", "FROM", "PATIENT", "BORN", "REASON", "STATUS", "RECEIVED",
    ]);
    for item in &items {
        table.row(vec![
            short_id(&item.id),
            if item.urgent { "!" } else { "" }.to_owned(),
            cut(&item.from_name, 24),
            cut(
                &format!("{} {}", item.patient.family, item.patient.given),
                28,
            ),
            item.patient.birth_date.clone(),
            cut(&item.reason, 40),
            status_label(item),
            item.received_at.clone(),
        ]);
    }
    table.print();
    Ok(ExitCode::from(EXIT_OK))
}

fn status_label(item: &InboxItem) -> String {
    if item.in_reply_to.is_some() {
        format!("{} (reply)", item.status)
    } else {
        item.status.clone()
    }
}

/// Turns a unique prefix (≥ 8 characters) into the full id; other ids are
/// passed on unchanged (the daemon tells if there is no such item).
fn resolve(client: &Client, id: &str) -> Result<String, CliError> {
    let id = id.trim();
    if id.chars().count() < MIN_PREFIX {
        return Ok(id.to_owned());
    }
    let items = client.inbox()?;
    if items.iter().any(|i| i.id == id) {
        return Ok(id.to_owned());
    }
    let lower = id.to_ascii_lowercase();
    let matches: Vec<&InboxItem> = items
        .iter()
        .filter(|i| i.id.to_ascii_lowercase().starts_with(&lower))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Ok(id.to_owned()),
        many => Err(CliError::input(
            format!(
                "the id {} is ambiguous: {} inbox items start with it",
                clean(id),
                many.len()
            ),
            "give more characters of the id (`confrere inbox` lists them)",
        )),
    }
}

fn show(home: &Path, args: &InboxItemArgs, json: bool) -> Result<ExitCode, CliError> {
    let client = Client::connect(home)?;
    let id = resolve(&client, &args.id)?;
    let item = client.inbox_show(&id)?;
    if json {
        print_json(&item)?;
    } else {
        print_item(&item);
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn print_item(item: &InboxItem) {
    outln!("Dossier       {}", clean(&item.id));
    if let Some(r) = &item.in_reply_to {
        outln!("In reply to   {}", clean(r));
    }
    outln!(
        "From          {} ({})",
        clean(&item.from_name),
        clean(&item.from)
    );
    let p = &item.patient;
    if item.status == "revoked" {
        outln!("INS           {}", clean(&p.ins));
        outln!("Status        revoked");
        outln!("Received      {}", clean(&item.received_at));
        outln!("Erased        the patient withdrew consent: the documents, the letter and");
        outln!("              the patient's details were erased; the ledger keeps the facts");
        return;
    }
    outln!(
        "Patient       {} {}, born {}",
        clean(&p.family),
        clean(&p.given),
        clean(&p.birth_date)
    );
    outln!("INS           {}", clean(&p.ins));
    outln!(
        "Reason        {}{}",
        clean(&item.reason),
        if item.urgent { "  [URGENT]" } else { "" }
    );
    outln!("Status        {}", clean(&item.status));
    if let Some(r) = &item.decline_reason {
        outln!("Declined      {}", clean(r));
    }
    outln!("Received      {}", clean(&item.received_at));
    if item.documents.is_empty() {
        outln!("Documents     (none)");
    }
    for (i, d) in item.documents.iter().enumerate() {
        let label = if i == 0 { "Documents" } else { "" };
        outln!(
            "{label:<12}  {}  {}  {}",
            clean(&d.name),
            bytes(d.size),
            clean(&d.media_type)
        );
    }
    match &item.letter {
        Some(letter) => {
            outln!();
            outln!("{}", clean_text(letter).trim_end());
        }
        None => outln!("Letter        (none)"),
    }
}

fn open(home: &Path, args: &InboxOpenArgs, json: bool) -> Result<ExitCode, CliError> {
    let out_dir = std::path::absolute(&args.out).map_err(|e| {
        CliError::input(
            format!("cannot use {} as --out: {e}", args.out.display()),
            "give a directory path to write the documents to",
        )
    })?;
    let client = Client::connect(home)?;
    let id = resolve(&client, &args.id)?;
    // The daemon opens, checks and writes every document before it answers.
    // The size comes from the listing: `inbox show` would log an opening.
    let total = client
        .inbox()
        .ok()
        .and_then(|items| items.into_iter().find(|i| i.id == id))
        .map_or(0, |item| item.documents.iter().map(|d| d.size).sum());
    let spinner = super::progress::spinner("opening and checking", total);
    let opened = client.inbox_open(&id, &OpenRequest { out_dir });
    super::progress::clear(spinner);
    let opened = opened?;
    if json {
        print_json(&opened)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    outln!(
        "Opened {}: {} document(s) written (the opening is logged).",
        short_id(&id),
        opened.files.len()
    );
    for f in &opened.files {
        outln!("  {}", clean(&f.display().to_string()));
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn accept(home: &Path, args: &InboxItemArgs, json: bool) -> Result<ExitCode, CliError> {
    let client = Client::connect(home)?;
    let id = resolve(&client, &args.id)?;
    let item = client.inbox_accept(&id)?;
    if json {
        print_json(&item)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    outln!(
        "Accepted {}: {} {} from {}.",
        short_id(&item.id),
        clean(&item.patient.family),
        clean(&item.patient.given),
        clean(&item.from_name)
    );
    Ok(ExitCode::from(EXIT_OK))
}

fn decline(home: &Path, args: &InboxDeclineArgs, json: bool) -> Result<ExitCode, CliError> {
    if args.reason.trim().is_empty() {
        return Err(CliError::input(
            "the reason is empty",
            "say why with --reason TEXT: the referrer reads it",
        ));
    }
    let client = Client::connect(home)?;
    let id = resolve(&client, &args.id)?;
    let item = client.inbox_decline(
        &id,
        &DeclineRequest {
            reason: args.reason.clone(),
        },
    )?;
    if json {
        print_json(&item)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    outln!(
        "Declined {}: {} will be told.",
        short_id(&item.id),
        clean(&item.from_name)
    );
    Ok(ExitCode::from(EXIT_OK))
}

fn reply(home: &Path, args: &InboxReplyArgs, json: bool) -> Result<ExitCode, CliError> {
    let files = send::documents(&args.files)?;
    let letter = args.letter.as_deref().map(send::letter).transpose()?;
    if files.is_empty() && letter.is_none() {
        return Err(CliError::input(
            "nothing to send back: no document and no --letter",
            "name the documents after the options, and/or give the answer letter with --letter FILE",
        ));
    }
    let client = Client::connect(home)?;
    let id = resolve(&client, &args.id)?;
    let sent = client.inbox_reply(&id, &ReplyRequest { letter, files })?;
    if json {
        print_json(&sent)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    outln!("{}", clean(&sent.id));
    outln!(
        "Reply to {} {}: `confrere outbox` follows its delivery.",
        short_id(&id),
        clean(&sent.state)
    );
    Ok(ExitCode::from(EXIT_OK))
}
