//! The system clock, as the protocol's [`UnixTime`]: the one place the
//! node reads the time of day (the protocol crate takes `now` as an
//! argument everywhere).

use std::time::{SystemTime, UNIX_EPOCH};

use confrere_protocol::UnixTime;

/// The current time from the system clock (seconds; before 1970 negative).
pub fn system_now() -> UnixTime {
    let secs = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    UnixTime::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_now_is_after_2024() {
        assert!(system_now().as_secs() > 1_700_000_000);
    }
}
