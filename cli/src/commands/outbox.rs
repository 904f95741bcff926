//! `confrere outbox`: dossiers sent and their delivery.

use std::process::ExitCode;

use confrere_node::api::model::OutboxItem;

use crate::cli::OutboxArgs;
use crate::client::output::{bytes, clean, print_json, short_id, Table};
use crate::client::Client;
use crate::error::{CliError, EXIT_OK};

/// Runs `outbox`.
pub(crate) fn run(args: &OutboxArgs) -> Result<ExitCode, CliError> {
    let client = Client::connect(&args.home.home)?;
    let items = client.outbox()?;
    if args.json {
        print_json(&items)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    if items.is_empty() {
        outln!("The outbox is empty.");
        return Ok(ExitCode::from(EXIT_OK));
    }
    let mut table = Table::new(&[
        "ID",
        "TO",
        "STATE",
        "ATTEMPTS",
        "PROGRESS",
        "PATH",
        "QUEUED",
        "LAST ERROR",
    ]);
    for item in &items {
        table.row(vec![
            short_id(&item.id),
            item.to.clone(),
            state(item),
            item.attempts.to_string(),
            progress(item.sent_bytes, item.total_bytes),
            item.path
                .as_deref()
                .map(clean)
                .unwrap_or_else(|| "-".to_owned()),
            item.created_at.clone(),
            item.last_error.clone().unwrap_or_default(),
        ]);
    }
    table.print();
    Ok(ExitCode::from(EXIT_OK))
}

fn state(item: &OutboxItem) -> String {
    match &item.in_reply_to {
        Some(_) => format!("{} (reply)", item.state),
        None => item.state.clone(),
    }
}

/// `1.5 MiB / 3.0 MiB (50%)`.
fn progress(sent: u64, total: u64) -> String {
    if total == 0 {
        return bytes(sent);
    }
    let percent = sent.min(total).saturating_mul(100) / total;
    format!("{} / {} ({percent}%)", bytes(sent), bytes(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_readable() {
        assert_eq!(progress(0, 0), "0 B");
        assert_eq!(progress(512, 1024), "512 B / 1.0 KiB (50%)");
        assert_eq!(progress(2048, 2048), "2.0 KiB / 2.0 KiB (100%)");
    }
}
