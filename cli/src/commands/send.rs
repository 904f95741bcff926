//! `confrere send`: seal a dossier and queue it for a colleague.
//!
//! The documents are checked here (each must be a readable regular file)
//! and passed to the daemon as absolute paths: it reads them itself.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use confrere_node::api::model::{Patient, SendRequest};
use confrere_node::api::server::MAX_BODY;

use crate::cli::SendArgs;
use crate::client::output::{clean, print_json};
use crate::client::Client;
use crate::error::{CliError, EXIT_OK};

/// The largest letter accepted: the letter travels in the request body,
/// which the daemon bounds.
const MAX_LETTER: usize = MAX_BODY / 2;

/// Runs `send`.
pub(crate) fn run(args: &SendArgs) -> Result<ExitCode, CliError> {
    let files = documents(&args.files)?;
    let letter = args.letter.as_deref().map(letter).transpose()?;
    if files.is_empty() && letter.is_none() {
        return Err(CliError::input(
            "nothing to send: no document and no --letter",
            "name the documents after the options, and/or give the referral letter with --letter FILE",
        ));
    }
    let req = SendRequest {
        to: args.to.trim().to_owned(),
        patient: Patient {
            ins: args.patient_ins.trim().to_owned(),
            family: args.patient_family.trim().to_owned(),
            given: args.patient_given.trim().to_owned(),
            birth_date: args.birth_date.trim().to_owned(),
            sex: args.sex.as_str().to_owned(),
        },
        reason: args.reason.clone(),
        urgent: args.urgent,
        letter,
        files,
        consent: args.consent.as_deref().map(|id| id.trim().to_owned()),
        care_team: args.care_team.as_deref().map(|id| id.trim().to_owned()),
    };
    let client = Client::connect(&args.home.home)?;
    let total: u64 = req
        .files
        .iter()
        .filter_map(|p| fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    // The daemon reads, hashes and seals every byte before it answers.
    let spinner = super::progress::spinner("sealing", total);
    let sent = client.send(&req);
    super::progress::clear(spinner);
    let sent = sent?;
    for w in &sent.warnings {
        eprintln!("warning: {}", clean(w));
    }
    if let Some(limit) = args.wait {
        let item = wait_for_delivery(&client, &sent.id, limit)?;
        if args.json {
            print_json(&item)?;
        } else {
            outln!("{}", clean(&sent.id));
            outln!(
                "Delivered to {} at {}; the signed receipt is kept.",
                clean(&item.to),
                clean(item.delivered_at.as_deref().unwrap_or("?"))
            );
        }
        return Ok(ExitCode::from(EXIT_OK));
    }
    if args.json {
        print_json(&sent)?;
    } else {
        outln!("{}", clean(&sent.id));
        outln!(
            "Dossier {} for {}: `confrere outbox` follows its delivery.",
            clean(&sent.state),
            clean(&req.to)
        );
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// Checks that every document is a readable regular file; returns their
/// absolute paths.
pub(crate) fn documents(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    paths.iter().map(|p| document(p)).collect()
}

fn document(path: &Path) -> Result<PathBuf, CliError> {
    let shown = path.display();
    let cannot = |what: String| {
        CliError::input(
            format!("cannot read {shown}: {what}"),
            "check the path and the file's permissions; documents are given as regular files",
        )
    };
    let meta = fs::metadata(path).map_err(|e| cannot(e.to_string()))?;
    if !meta.is_file() {
        return Err(cannot(if meta.is_dir() {
            "it is a directory".into()
        } else {
            "it is not a regular file".into()
        }));
    }
    File::open(path).map_err(|e| cannot(e.to_string()))?;
    fs::canonicalize(path).map_err(|e| cannot(e.to_string()))
}

/// Reads a letter: a readable, UTF-8 text file of reasonable size.
pub(crate) fn letter(path: &Path) -> Result<String, CliError> {
    let shown = path.display();
    let bytes = fs::read(path).map_err(|e| {
        CliError::input(
            format!("cannot read {shown}: {e}"),
            "check the letter's path and permissions",
        )
    })?;
    if bytes.len() > MAX_LETTER {
        return Err(CliError::input(
            format!(
                "cannot read {shown}: the letter is larger than {} KiB",
                MAX_LETTER / 1024
            ),
            "send a long letter as a document (a FILE argument) instead of --letter",
        ));
    }
    String::from_utf8(bytes).map_err(|_| {
        CliError::input(
            format!("cannot read {shown}: it is not UTF-8 text"),
            "save the letter as plain UTF-8 text, or send it as a document (a FILE argument)",
        )
    })
}

/// While waiting, the pause between two looks at the outbox is a tenth of
/// the time waited so far, at least this: a small dossier's delivery is
/// seen within milliseconds, and a long one costs the daemon few looks.
const POLL_MIN: std::time::Duration = std::time::Duration::from_millis(2);
/// ... and at most this: the end of a large delivery is seen within 50 ms
/// (a look is one local API request, which lists the outbox).
const POLL_MAX: std::time::Duration = std::time::Duration::from_millis(50);

/// Polls the outbox until the dossier is delivered, failed, or `limit`
/// seconds have passed (0: no limit); a progress bar on a terminal only.
fn wait_for_delivery(
    client: &Client,
    id: &str,
    limit: u64,
) -> Result<confrere_node::api::model::OutboxItem, CliError> {
    let started = std::time::Instant::now();
    let bar = super::progress::bytes_bar();
    loop {
        let item = client
            .outbox()?
            .into_iter()
            .find(|o| o.id == id)
            .ok_or_else(|| {
                CliError::refused(
                    format!("dossier {id} is not in the outbox"),
                    "list it with `confrere outbox`",
                )
            })?;
        if let Some(bar) = &bar {
            bar.set_length(item.total_bytes);
            bar.set_position(item.sent_bytes);
            bar.set_message(item.state.clone());
        }
        match item.state.as_str() {
            "delivered" => {
                if let Some(bar) = &bar {
                    bar.finish_and_clear();
                }
                return Ok(item);
            }
            "failed" => {
                if let Some(bar) = &bar {
                    bar.abandon();
                }
                return Err(CliError::refused(
                    format!(
                        "dossier {id} was refused: {}",
                        clean(item.last_error.as_deref().unwrap_or("no reason given"))
                    ),
                    "see `confrere outbox`; the recipient's node said why",
                ));
            }
            _ => {}
        }
        if limit > 0 && started.elapsed().as_secs() >= limit {
            if let Some(bar) = &bar {
                bar.abandon();
            }
            return Err(CliError::refused(
                format!(
                    "dossier {id} is not delivered yet ({}{})",
                    clean(&item.state),
                    item.last_error
                        .as_deref()
                        .map(|e| format!(": {}", clean(e)))
                        .unwrap_or_default()
                ),
                "it stays in the outbox and is retried; `confrere outbox` follows it",
            ));
        }
        std::thread::sleep((started.elapsed() / 10).clamp(POLL_MIN, POLL_MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_must_be_readable_regular_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ok = dir.path().join("ecg.pdf");
        fs::write(&ok, b"%PDF").expect("write");
        let got = documents(std::slice::from_ref(&ok)).expect("readable");
        assert!(got[0].is_absolute());
        let missing = dir.path().join("nope.pdf");
        let e = documents(&[ok, missing]).expect_err("missing");
        assert_eq!(e.code, crate::error::EXIT_USAGE);
        assert!(e.message.contains("nope.pdf"), "{}", e.message);
        let e = documents(&[dir.path().to_path_buf()]).expect_err("a directory");
        assert!(e.message.contains("directory"), "{}", e.message);
    }

    #[test]
    fn letters_must_be_utf8() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("letter.txt");
        fs::write(&good, "Cher confrère,\n").expect("write");
        assert_eq!(letter(&good).expect("utf-8"), "Cher confrère,\n");
        let bad = dir.path().join("letter.bin");
        fs::write(&bad, [0xff, 0xfe, 0x00]).expect("write");
        let e = letter(&bad).expect_err("not utf-8");
        assert!(e.message.contains("UTF-8"), "{}", e.message);
    }
}
