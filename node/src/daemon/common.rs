//! Small helpers every part of the daemon uses: the clock, time formats,
//! and the errors of the store and of tasks that could not run.

use confrere_protocol::UnixTime;

use crate::api::model::ApiError;
use crate::store::StoreError;

/// The current time.
pub(crate) fn now() -> UnixTime {
    crate::net::system_now()
}

/// RFC 3339 of Unix seconds.
pub(crate) fn rfc3339(secs: i64) -> String {
    UnixTime::from_secs(secs).to_rfc3339()
}

/// An API error from a store error.
pub(crate) fn store_err(e: StoreError) -> ApiError {
    let hint = e.hint().to_owned();
    let code = if matches!(e, StoreError::NoSpace) {
        "unavailable"
    } else {
        "internal"
    };
    ApiError::new(code, e.to_string(), hint)
}

/// An internal error (a task that could not run).
pub(crate) fn internal(what: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        "internal",
        what.to_string(),
        "see the daemon's log; if it persists, restart the daemon",
    )
}
