//! `confrere ledger show|verify`: the node's tamper-evident ledger.
//!
//! Both read the store directly when the daemon is stopped. While it runs
//! the store is locked, and they ask the daemon instead (`GET /v1/ledger`,
//! `GET /v1/ledger/verify`), which reads the same store.
//!
//! `verify` exits 0 when the chain is intact (or empty), 1 when it is not,
//! naming the first bad entry and what is wrong with it.

use std::fs;
use std::io;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use confrere_node::api::ledger_model::{report, EntryView, VerifyReport};
use confrere_node::api::model::ApiError;
use confrere_node::api::server::TOKEN_FILE;
use confrere_node::home::Home;
use confrere_node::ledger::{read_entries, verify_store, LedgerError};
use confrere_node::store::{Store, StoreError, StoreKeySource};
use confrere_protocol::ledger::SignatureCheck;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::cli::{LedgerShowArgs, LedgerVerifyArgs};
use crate::client::output::{cut, print_json, Table};
use crate::error::{CliError, EXIT_DAEMON, EXIT_OK, EXIT_REFUSED};
use crate::local_http;

/// Where the ledger is read from.
enum Source {
    /// The store, opened here (the daemon is stopped).
    Store { store: Store, peer_id: Vec<u8> },
    /// The running daemon holds the store.
    Daemon,
    /// No store yet: the daemon never ran. It is not made here, so that the
    /// first `confrere run` makes it with the key source it is given.
    Empty,
}

/// Opens the home's store, or says that the daemon holds it.
fn open(home: &Path) -> Result<Source, CliError> {
    crate::home::require_home(home)?;
    // Home errors name the home themselves.
    let node = Home::open(home).map_err(|e| {
        let hint = e.hint();
        CliError::input(e, hint)
    })?;
    let peer_id = node.credential.peer_id().to_vec();
    drop(node);
    if !crate::home::store_exists(home) {
        return Ok(Source::Empty);
    }
    let passphrase = crate::home::passphrase();
    let given = passphrase.is_some();
    let key_source = match passphrase {
        Some(p) => StoreKeySource::Passphrase(p),
        None => StoreKeySource::KeyFile,
    };
    match Store::open(home, key_source) {
        Ok(store) => Ok(Source::Store { store, peer_id }),
        Err(StoreError::Locked { .. }) => Ok(Source::Daemon),
        Err(e) => {
            crate::home::check_key_source(home, given)?;
            Err(CliError::refused(
                format!("cannot open the store of {}: {e}", home.display()),
                e.hint(),
            ))
        }
    }
}

fn ledger_error(e: &LedgerError) -> CliError {
    CliError::refused(e.to_string(), e.hint())
}

/// Runs `ledger show`.
pub(crate) fn show(args: &LedgerShowArgs) -> Result<ExitCode, CliError> {
    let views: Vec<EntryView> = match open(&args.home)? {
        Source::Store { store, .. } => read_entries(&store, args.since)
            .map_err(|e| ledger_error(&e))?
            .iter()
            .map(EntryView::of)
            .collect(),
        Source::Daemon => {
            let route = match args.since {
                Some(n) => format!("/ledger?since={n}"),
                None => "/ledger".to_owned(),
            };
            daemon_get(&args.home, &route)?
        }
        Source::Empty => Vec::new(),
    };
    if args.json {
        print_json(&views)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    if views.is_empty() {
        match args.since {
            Some(n) => outln!("No ledger entry from {n} on."),
            None => {
                outln!("The ledger is empty: the daemon writes its first entry when it starts.")
            }
        }
        return Ok(ExitCode::from(EXIT_OK));
    }
    let mut table = Table::new(&["SEQ", "TIME", "KIND", "HASH", "DETAILS"]);
    for v in &views {
        table.row(vec![
            v.seq.to_string(),
            v.time.clone(),
            v.kind.clone(),
            v.hash.chars().take(12).collect(),
            details(v),
        ]);
    }
    table.print();
    Ok(ExitCode::from(EXIT_OK))
}

/// Runs `ledger verify`: exit 0 intact, 1 broken.
pub(crate) fn verify(args: &LedgerVerifyArgs) -> Result<ExitCode, CliError> {
    let signatures = if args.signatures {
        SignatureCheck::Every
    } else {
        SignatureCheck::Anchored
    };
    let report: VerifyReport = match open(&args.home)? {
        Source::Store { store, peer_id } => {
            report(verify_store(&store, &peer_id, signatures)).map_err(|e| ledger_error(&e))?
        }
        Source::Daemon if args.signatures => {
            daemon_get(&args.home, "/ledger/verify?signatures=true")?
        }
        Source::Daemon => daemon_get(&args.home, "/ledger/verify")?,
        Source::Empty => VerifyReport::intact(None),
    };
    if args.json {
        print_json(&report)?;
        let code = if report.intact { EXIT_OK } else { EXIT_REFUSED };
        return Ok(ExitCode::from(code));
    }
    match (&report.problem, report.head_seq) {
        (Some(p), _) => Err(CliError::refused(
            format!("the ledger is NOT intact: {}", p.message),
            p.hint.clone(),
        )),
        (None, None) => {
            outln!("The ledger is empty: the daemon writes its first entry when it starts.");
            Ok(ExitCode::from(EXIT_OK))
        }
        (None, Some(head)) => {
            let checked = if args.signatures {
                "every signature and link verified"
            } else {
                "every link verified up to the signed head checkpoint"
            };
            let entries = if report.entries == 1 {
                "1 entry".to_owned()
            } else {
                format!("{} entries", report.entries)
            };
            outln!("The ledger is intact: {entries} (0 to {head}), {checked}.");
            if let Some(hash) = &report.head_hash {
                outln!("Head          entry {head}, hash {hash}");
            }
            if let (Some(id), Some(name)) = (&report.national_id, &report.name) {
                outln!("Practitioner  {} ({})", cut(name, 60), cut(id, 32));
            }
            Ok(ExitCode::from(EXIT_OK))
        }
    }
}

/// The main fields of an entry, `key=value`, in a fixed order.
fn details(v: &EntryView) -> String {
    const ORDER: [&str; 20] = [
        "national_id",
        "name",
        "dossier_id",
        "consent_id",
        "record_id",
        "patient_ins",
        "to",
        "from",
        "from_name",
        "by",
        "recipients",
        "basis",
        "basis_id",
        "files",
        "purpose",
        "expires",
        "informed_on",
        "reason",
        "old_not_after",
        "new_not_after",
    ];
    let mut parts = Vec::new();
    for key in ORDER {
        let Some(value) = v.fields.get(key) else {
            continue;
        };
        let text = match value {
            Value::Null => continue,
            Value::String(s) if key.ends_with("_id") && s.len() == 32 => {
                s.chars().take(12).collect()
            }
            Value::String(s) => cut(s, 40),
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        parts.push(format!("{key}={text}"));
    }
    for key in ["receipt"] {
        if let Some(Value::String(hex)) = v.fields.get(key) {
            parts.push(format!("{key}={} bytes", hex.len() / 2));
        }
    }
    parts.join(" ")
}

// ----------------------------------------------------------------------------
// The daemon's local API, when it holds the store

/// Verifying a long ledger takes a while.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(3600);

fn daemon_error(message: impl Into<String>, hint: impl Into<String>) -> CliError {
    CliError {
        message: message.into(),
        hint: Some(hint.into()),
        code: EXIT_DAEMON,
    }
}

/// `GET /v1{route}` on the daemon that holds the store of `home`, over
/// its socket.
fn daemon_get<T: DeserializeOwned>(home: &Path, route: &str) -> Result<T, CliError> {
    let shown = home.display();
    let busy = || {
        daemon_error(
            format!("another process holds the store of {shown}, and no daemon answers for it"),
            "stop the other `confrere` process using this home, then retry",
        )
    };
    let token = match fs::read_to_string(home.join(TOKEN_FILE)) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(busy()),
        Err(e) => return Err(daemon_error(e.to_string(), "run as the daemon's user")),
    };
    let answer = local_http::request(
        home,
        "GET",
        route,
        &format!("Bearer {}", token.trim()),
        None,
        ANSWER_TIMEOUT,
    )
    .map_err(|f| match f {
        local_http::Failure::NotRunning => busy(),
        local_http::Failure::Broken(why) => daemon_error(
            format!("the daemon for {shown} does not answer: {why}"),
            "check the daemon's log; `confrere status` tells whether it runs",
        ),
    })?;
    match answer.status {
        200..=299 => serde_json::from_slice::<T>(&answer.body).map_err(|e| {
            daemon_error(
                format!("the daemon's answer could not be read: {e}"),
                "check that the daemon and the command line are the same version of Confrère",
            )
        }),
        404 => Err(CliError::refused(
            format!("the daemon running for {shown} does not serve the ledger"),
            format!(
                "stop the daemon (Ctrl-C in its terminal), then run the command again: \
                 it reads the ledger from the store of {shown} directly"
            ),
        )),
        status => {
            let body = serde_json::from_slice::<ApiError>(&answer.body).ok();
            Err(CliError::refused(
                body.as_ref().map_or_else(
                    || format!("the daemon answered HTTP {status}"),
                    |b| b.error.clone(),
                ),
                body.and_then(|b| b.hint)
                    .unwrap_or_else(|| "check the daemon's log".into()),
            ))
        }
    }
}
