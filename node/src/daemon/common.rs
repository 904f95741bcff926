//! Small helpers every part of the daemon uses: the clock, time formats,
//! and the errors of the store and of tasks that could not run.

use confrere_protocol::UnixTime;

pub use super::error::OpError;
use crate::store::StoreError;

/// The current time.
pub(crate) fn now() -> UnixTime {
    crate::net::system_now()
}

/// RFC 3339 of Unix seconds.
pub(crate) fn rfc3339(secs: i64) -> String {
    UnixTime::from_secs(secs).to_rfc3339()
}

/// The daemon's error for a store error (for `map_err`; `?` does the
/// same through `From`).
pub(crate) fn store_err(e: StoreError) -> OpError {
    OpError::Store(e)
}

/// An internal error (a task that could not run).
pub(crate) fn internal(what: impl std::fmt::Display) -> OpError {
    OpError::internal(what)
}
