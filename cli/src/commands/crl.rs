//! `confrere crl import` (CRLs by hand, for offline sites) and `confrere
//! crl update` (fetch them now). With the daemon running, both go through
//! it, so that what is taken is in force at once; otherwise they work on
//! the home's files.

use std::process::ExitCode;

use confrere_node::api::crl_model::update_report;
use confrere_node::api::model::{CrlImportReport, CrlImportRequest, CrlTaken, CrlUpdateReport};
use confrere_node::crls::{fetch::fetch, run_round};
use confrere_node::home::crl::{import_crls, CrlImportError};
use confrere_node::home::Home;
use serde_json::json;

use crate::cli::{CrlImportArgs, CrlUpdateArgs};
use crate::client::output::{clean, print_json};
use crate::client::Client;
use crate::error::{CliError, EXIT_OK, EXIT_REFUSED};

/// Runs `crl import`.
pub(crate) fn import(args: &CrlImportArgs) -> Result<ExitCode, CliError> {
    let source = args.file.display().to_string();
    let bytes = std::fs::read(&args.file).map_err(|e| {
        CliError::input(
            format!("cannot read {source}: {e}"),
            "check the path to the CRL file",
        )
    })?;
    let absolute = std::path::absolute(&args.file).unwrap_or_else(|_| args.file.clone());
    let req = CrlImportRequest {
        path: absolute.display().to_string(),
    };
    let (report, by_daemon) = match Client::crl_import_if_running(&args.home, &req)? {
        Some(report) => (report, true),
        None => (offline_import(args, &bytes, &req.path)?, false),
    };
    if args.json {
        print_json(&json!({ "imported": report.imported, "in_force": by_daemon }))?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    for c in &report.imported {
        let next = c.next_update.as_deref().unwrap_or("none");
        let replaced = c.replaced_this_update.as_deref().map_or_else(
            || "none held before".to_owned(),
            |t| format!("replaces the one of {}", clean(t)),
        );
        outln!(
            "Imported the CRL of {}: this update {}, next update {} ({replaced}).",
            clean(&c.ca),
            clean(&c.this_update),
            clean(next)
        );
    }
    if by_daemon {
        outln!(
            "The running daemon put it in force: new sessions and open ones are checked under it."
        );
    } else {
        outln!("The daemon is not running: it uses the new CRL from its next start.");
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn offline_import(
    args: &CrlImportArgs,
    bytes: &[u8],
    source: &str,
) -> Result<CrlImportReport, CliError> {
    let changes = import_crls(&args.home, bytes, source).map_err(|e| {
        let hint = e.hint();
        match e {
            CrlImportError::Refused { .. } => CliError::refused(e, hint),
            _ => CliError::input(e, hint),
        }
    })?;
    Ok(CrlImportReport {
        imported: changes
            .into_iter()
            .map(|c| CrlTaken {
                ca: c.issuer,
                this_update: c.this_update.to_string(),
                next_update: c.next_update.map(|t| t.to_string()),
                replaced_this_update: c.replaced.map(|t| t.to_string()),
            })
            .collect(),
    })
}

/// Runs `crl update`.
pub(crate) fn update(args: &CrlUpdateArgs) -> Result<ExitCode, CliError> {
    let (report, by_daemon) = match Client::crl_update_if_running(&args.home)? {
        Some(report) => (report, true),
        None => (offline_update(args)?, false),
    };
    let failed = report
        .cas
        .iter()
        .any(|c| c.outcome == "refused" || c.outcome == "unreachable");
    let code = if failed { EXIT_REFUSED } else { EXIT_OK };
    if args.json {
        print_json(&json!({
            "cas": report.cas,
            "other_errors": report.other_errors,
            "in_force": by_daemon,
        }))?;
        return Ok(ExitCode::from(code));
    }
    for c in &report.cas {
        let ca = clean(&c.ca);
        let url = clean(c.url.as_deref().unwrap_or(""));
        let error = clean(c.error.as_deref().unwrap_or(""));
        match c.outcome.as_str() {
            "taken" => outln!(
                "{ca}: new CRL taken from {url}: this update {}, next update {}.",
                clean(c.this_update.as_deref().unwrap_or("")),
                clean(c.next_update.as_deref().unwrap_or("none"))
            ),
            "current" => outln!("{ca}: already current (nothing newer at {url})."),
            "refused" => outln!("{ca}: refused, the CRL held stays: {error}"),
            "unreachable" => outln!(
                "{ca}: unreachable, the CRL held stays: {error}. Check the network or the proxy (HTTP_PROXY / HTTPS_PROXY, [crl] proxy); the daemon tries again later."
            ),
            _ => outln!(
                "{ca}: no http(s) distribution point nor [crl] urls entry (ldap:// points are not fetched): add its URL to [crl] urls or import its CRL with `confrere crl import`."
            ),
        }
    }
    for e in &report.other_errors {
        outln!("[crl] urls: {}", clean(e));
    }
    if by_daemon {
        outln!("The running daemon fetched; what it took is in force.");
    } else {
        outln!("The daemon is not running: it uses what was taken from its next start.");
    }
    Ok(ExitCode::from(code))
}

fn offline_update(args: &CrlUpdateArgs) -> Result<CrlUpdateReport, CliError> {
    let home = Home::open(&args.home).map_err(|e| CliError::input(&e, e.hint()))?;
    let chain: Vec<confrere_protocol::Certificate> = home
        .credential
        .certificates()
        .iter()
        .filter_map(|der| confrere_protocol::Certificate::from_der(der).ok())
        .collect();
    let proxy = home.config.crl.proxy.clone();
    let now = confrere_node::clock::system_now();
    let round = run_round(
        &home.dir,
        &home.trust,
        &chain,
        &home.config.crl,
        now,
        |url| fetch(url, proxy.as_deref()),
    );
    Ok(update_report(&round))
}
