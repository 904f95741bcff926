//! `confrere status`: the running node at a glance.

use std::process::ExitCode;

use confrere_node::api::model::CrlStatus;

use crate::cli::StatusArgs;
use crate::client::output::{clean, print_json};
use crate::client::Client;
use crate::error::{CliError, EXIT_OK};

/// Runs `status`.
pub(crate) fn run(args: &StatusArgs) -> Result<ExitCode, CliError> {
    let client = Client::connect(&args.home.home)?;
    let status = client.status()?;
    if args.json {
        print_json(&status)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    outln!("Practitioner  {}", clean(&status.name));
    outln!("National id   {}", clean(&status.national_id));
    outln!("Peer id       {}", clean(&status.peer_id));
    if !status.card.not_after.is_empty() {
        outln!(
            "Card          valid until {}",
            clean(&status.card.not_after)
        );
    }
    if let Some(warning) = &status.card.warning {
        outln!("              warning: {}", clean(warning));
    }
    if status.listen.is_empty() {
        outln!("Listening on  (nothing yet)");
    }
    for (i, addr) in status.listen.iter().enumerate() {
        let label = if i == 0 { "Listening on" } else { "" };
        outln!("{label:<12}  {}", clean(addr));
    }
    outln!("Reachability  {}", clean(&status.reachability));
    if status.addresses.is_empty() {
        outln!("Addresses     (none known yet)");
    }
    for (i, addr) in status.addresses.iter().enumerate() {
        let label = if i == 0 { "Addresses" } else { "" };
        outln!("{label:<12}  {}", clean(addr));
    }
    if status.bootstrap.is_empty() {
        outln!("Bootstrap     none: colleagues are found on the local network and in the address book only ([network] bootstrap in config.toml)");
    }
    for (i, addr) in status.bootstrap.iter().enumerate() {
        let label = if i == 0 { "Bootstrap" } else { "" };
        outln!("{label:<12}  {}", clean(addr));
    }
    outln!("Inbox         {} dossier(s)", status.inbox);
    outln!("Outbox        {} not yet delivered", status.outbox);
    let u = &status.unfinished_inbound;
    match &u.oldest_started_at {
        Some(oldest) if u.count > 0 => outln!(
            "Unfinished    {} inbound transfer(s), {} received of {} announced, oldest started {}",
            u.count,
            mib(u.bytes),
            mib(u.announced_bytes),
            clean(oldest)
        ),
        _ => outln!("Unfinished    no inbound transfer"),
    }
    for (i, crl) in status.crls.iter().enumerate() {
        let label = if i == 0 { "CRLs" } else { "" };
        crl_lines(label, crl);
    }
    outln!("Daemon        confrère {}", clean(&status.version));
    Ok(ExitCode::from(EXIT_OK))
}

/// A CA's CRL: its dates and where it came from, the daemon's fetches,
/// then a warning when it is about to go stale or a plain statement when
/// it is and peers are refused.
fn crl_lines(label: &str, crl: &CrlStatus) {
    let ca = clean(&crl.ca);
    match (&crl.this_update, &crl.source) {
        (Some(this), Some(source)) => {
            let next = crl.next_update.as_deref().unwrap_or("none");
            let from = match &crl.origin {
                Some(o) => format!("{} ({})", clean(source), clean(o)),
                None => clean(source),
            };
            outln!(
                "{label:<12}  {ca}: this update {}, next update {}, from {from}",
                clean(this),
                clean(next)
            );
        }
        _ => outln!("{label:<12}  {ca}: no CRL held"),
    }
    let pad = "              ";
    if let Some(at) = &crl.last_fetch {
        match &crl.last_fetch_error {
            Some(e) => outln!("{pad}last fetch {} failed: {}", clean(at), clean(e)),
            None => outln!("{pad}last fetch {}", clean(at)),
        }
    }
    match &crl.next_fetch {
        Some(at) => outln!("{pad}next fetch {}", clean(at)),
        None if crl.fetch_urls.is_empty() => outln!(
            "{pad}not fetched by the daemon: no http(s) distribution point nor [crl] urls entry (ldap:// is not fetched); import it with `confrere crl import`"
        ),
        None => outln!("{pad}not fetched by the daemon ([crl] fetch = false): `confrere crl update` fetches it"),
    }
    let next = clean(crl.next_update.as_deref().unwrap_or("none"));
    match crl.freshness.as_str() {
        "expires soon" => outln!(
            "{pad}warning: this CRL goes stale on {next} (in less than 3 days): `confrere crl update` fetches a fresh one, `confrere crl import` takes one by hand"
        ),
        "stale" => outln!(
            "{pad}stale since {next}: peers are refused while this CRL is stale: `confrere crl update` fetches a fresh one, `confrere crl import` takes one by hand"
        ),
        "missing" if crl.refusing_peers => outln!(
            "{pad}peers under this CA are refused for want of its CRL: `confrere crl update` or `confrere crl import`"
        ),
        _ => {}
    }
}

/// Bytes as MiB, one decimal.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
