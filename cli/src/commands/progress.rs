//! Progress on the terminal for the long operations: a bar when the
//! amount of work is known as it goes (a transfer), a spinner with the
//! size and the time so far while the daemon seals or opens a dossier.
//! Drawn on stderr, and only when stderr is a terminal: scripts and pipes
//! see nothing of it.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

/// A bar of bytes, or `None` when stderr is not a terminal.
pub(crate) fn bytes_bar() -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    Some(bar)
}

/// A spinner saying `what` (e.g. "sealing") about `bytes` bytes with the
/// time so far, while a request runs; `None` when stderr is not a terminal
/// or the work is too small to be worth one.
pub(crate) fn spinner(what: &str, bytes: u64) -> Option<ProgressBar> {
    // Below this, the operation ends before a spinner would be seen.
    const WORTH_IT: u64 = 16 * 1024 * 1024;
    if bytes < WORTH_IT || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("{what} {}…", HumanBytes(bytes)));
    bar.enable_steady_tick(Duration::from_millis(120));
    Some(bar)
}

/// Clears a spinner or bar, if there is one.
pub(crate) fn clear(bar: Option<ProgressBar>) {
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}
