//! Command errors: what happened, what to do, and the exit code.

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

/// Exit code: success.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code: refused or invalid.
pub(crate) const EXIT_REFUSED: u8 = 1;
/// Exit code: usage error or unusable input.
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code: the daemon is unreachable (not running, or not answering).
pub(crate) const EXIT_DAEMON: u8 = 3;
/// Exit code: what was asked for does not exist (`peers find`: no node
/// publishes that national id; `peers remove`: no such entry).
pub(crate) const EXIT_NOT_FOUND: u8 = 4;

/// An error a command reports to the user.
#[derive(Debug)]
pub(crate) struct CliError {
    /// What happened.
    pub message: String,
    /// What to do next.
    pub hint: Option<String>,
    /// The process exit code.
    pub code: u8,
}

impl CliError {
    /// Refused or invalid (exit 1).
    pub(crate) fn refused(message: impl fmt::Display, hint: impl Into<String>) -> Self {
        CliError {
            message: message.to_string(),
            hint: Some(hint.into()),
            code: EXIT_REFUSED,
        }
    }

    /// Unusable input (exit 2).
    pub(crate) fn input(message: impl fmt::Display, hint: impl Into<String>) -> Self {
        CliError {
            message: message.to_string(),
            hint: Some(hint.into()),
            code: EXIT_USAGE,
        }
    }

    /// Prints the error to stderr, as JSON when asked.
    pub(crate) fn report(&self, json: bool) -> ExitCode {
        if json {
            let v = serde_json::json!({
                "error": self.message,
                "hint": self.hint,
                "exit_code": self.code,
            });
            // The exit code tells the error even when nobody reads stdout.
            let _ = writeln!(std::io::stdout(), "{v}");
        }
        eprintln!("error: {}", self.message);
        if let Some(h) = &self.hint {
            eprintln!("hint: {h}");
        }
        ExitCode::from(self.code)
    }
}
