//! Bounded waits: a probe polled at a fixed pace for at most a given time
//! (and a bounded number of tries), and the waits on a dossier's state in an
//! outbox built on it.

use crate::daemon::Daemon;
use crate::dossiers::outbox_item;

/// Polls `probe` every `every` until it returns `Ok`, for at most `limit`
/// (and at most `limit / every + 1` times). `Err` carries the last
/// observation, shown if time runs out.
///
/// # Panics
///
/// If `probe` never succeeds in time.
#[track_caller]
pub fn wait_for<T>(
    what: &str,
    limit: std::time::Duration,
    every: std::time::Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let start = std::time::Instant::now();
    let max_tries = limit.as_millis() / every.as_millis().max(1) + 1;
    let mut last = String::new();
    let mut tries = 0u128;
    while tries < max_tries && start.elapsed() <= limit {
        tries += 1;
        match probe() {
            Ok(v) => return v,
            Err(seen) => last = seen,
        }
        std::thread::sleep(every);
    }
    panic!(
        "timed out after {:.1} s ({tries} tries) waiting for {what}; last seen:\n{last}",
        start.elapsed().as_secs_f64()
    )
}

/// Polls the outbox of `node` until dossier `id` is `delivered`, for at
/// most `limit`; returns the item.
///
/// # Panics
///
/// If it is not delivered in time, or its state becomes `failed`.
#[track_caller]
pub fn wait_delivered(node: &Daemon, id: &str, limit: std::time::Duration) -> serde_json::Value {
    wait_for(
        &format!("dossier {id} to be delivered from {}", node.label()),
        limit,
        std::time::Duration::from_millis(250),
        || {
            let item = outbox_item(node, id);
            match item.as_ref().map(|i| i["state"].as_str()) {
                Some(Some("delivered")) => item.ok_or_else(String::new),
                Some(Some("failed")) => panic!("dossier {id} failed: {item:?}"),
                _ => Err(format!("{item:?}")),
            }
        },
    )
}

/// Waits until dossier `id` is back in `node`'s outbox as queued with the
/// reason its last attempt failed (a recipient down, a transfer cut), and
/// returns its outbox item.
///
/// # Panics
///
/// If that does not happen within `limit`.
pub fn wait_queued_with_reason(
    node: &Daemon,
    id: &str,
    limit: std::time::Duration,
) -> serde_json::Value {
    wait_for(
        &format!(
            "dossier {id} to wait in {}'s outbox, with a reason",
            node.label()
        ),
        limit,
        std::time::Duration::from_millis(100),
        || {
            let item = outbox_item(node, id).ok_or("not in the outbox")?;
            if item["state"] == "queued" && item["last_error"].is_string() {
                Ok(item)
            } else {
                Err(item.to_string())
            }
        },
    )
}
