//! Small helpers every part of the daemon uses: the clock and time formats.

use confrere_protocol::UnixTime;

/// The current time.
pub(crate) fn now() -> UnixTime {
    crate::clock::system_now()
}

/// RFC 3339 of Unix seconds.
pub(crate) fn rfc3339(secs: i64) -> String {
    UnixTime::from_secs(secs).to_rfc3339()
}
