//! Instants as the protocol sees them.
//!
//! The protocol crate never reads a clock: every check that depends on time
//! takes a [`UnixTime`] from its caller, so that tests can verify a
//! certificate "as of" any instant and the node decides what "now" means.

use std::fmt;

/// Seconds since 1970-01-01T00:00:00Z, UTC, as used in X.509 validity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(i64);

impl UnixTime {
    /// An instant from seconds since the Unix epoch.
    pub const fn from_secs(secs: i64) -> Self {
        UnixTime(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn as_secs(self) -> i64 {
        self.0
    }

    /// This instant moved by `secs` seconds (negative to go back), saturating.
    pub const fn add_secs(self, secs: i64) -> Self {
        UnixTime(self.0.saturating_add(secs))
    }

    /// RFC 3339 form (`2021-01-01T00:00:00Z`), or the raw number if out of range.
    pub fn to_rfc3339(self) -> String {
        match time::OffsetDateTime::from_unix_timestamp(self.0) {
            Ok(t) => t
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| self.0.to_string()),
            Err(_) => self.0.to_string(),
        }
    }

    /// Parses an RFC 3339 instant such as `2021-01-01T00:00:00Z`.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .ok()
            .map(|t| UnixTime(t.unix_timestamp()))
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = UnixTime::parse_rfc3339("2021-01-01T00:00:00Z");
        assert_eq!(t, Some(UnixTime::from_secs(1_609_459_200)));
        assert_eq!(
            UnixTime::from_secs(1_609_459_200).to_rfc3339(),
            "2021-01-01T00:00:00Z"
        );
        assert_eq!(UnixTime::parse_rfc3339("yesterday"), None);
    }
}
