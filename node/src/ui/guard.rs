//! The web inbox's security decisions, as plain functions: is this `Host`
//! the node's own, this `Origin` the node's own origin, this CSRF token the
//! session's, this login link still valid, this session still live. The
//! handlers of [`super`] only drive them.

use std::time::{Duration, Instant};

/// How long a login link (`/ui/login?t=TOKEN`) stays valid after the
/// daemon made it: two minutes, enough to open it from the terminal.
pub const LINK_LIFETIME: Duration = Duration::from_secs(120);

/// Why a request to the web inbox is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No `Host` header.
    NoHost,
    /// A `Host` other than `127.0.0.1:PORT` or `localhost:PORT`: a page
    /// of another site reaching the node through a name that resolves to
    /// 127.0.0.1 (DNS rebinding).
    ForeignHost,
    /// An `Origin` other than the node's own on a form post.
    ForeignOrigin,
    /// A form post without the session's CSRF token, or with another one.
    BadCsrf,
    /// No session cookie, or one the node does not know.
    NoSession,
    /// A session idle for longer than `[ui] idle_minutes`.
    SessionExpired,
    /// A login link that is unknown or already used.
    UnknownLink,
    /// A login link older than [`LINK_LIFETIME`].
    ExpiredLink,
}

impl Refusal {
    /// What happened, in English (the page shows its translation).
    pub fn message(self) -> &'static str {
        match self {
            Refusal::NoHost => "the request has no Host header",
            Refusal::ForeignHost => {
                "this page is served only as 127.0.0.1 or localhost with the node's port"
            }
            Refusal::ForeignOrigin => "the form was sent from another site",
            Refusal::BadCsrf => "the form has no valid security token",
            Refusal::NoSession => "you are not logged in",
            Refusal::SessionExpired => "your session ended after a time without use",
            Refusal::UnknownLink => "this login link is unknown or was already used",
            Refusal::ExpiredLink => "this login link has expired",
        }
    }

    /// What to do about it.
    pub fn hint(self) -> &'static str {
        match self {
            Refusal::NoHost | Refusal::ForeignHost => {
                "open the link `confrere ui` prints, which leads to 127.0.0.1 and the node's port"
            }
            Refusal::ForeignOrigin | Refusal::BadCsrf => {
                "reload the page and send the form again from it"
            }
            Refusal::NoSession
            | Refusal::SessionExpired
            | Refusal::UnknownLink
            | Refusal::ExpiredLink => "run `confrere ui` for a new login link",
        }
    }

    /// The key of its message in the catalogue ([`super::i18n`]).
    pub fn key(self) -> &'static str {
        match self {
            Refusal::NoHost => "refusal.no_host",
            Refusal::ForeignHost => "refusal.foreign_host",
            Refusal::ForeignOrigin => "refusal.foreign_origin",
            Refusal::BadCsrf => "refusal.bad_csrf",
            Refusal::NoSession => "refusal.no_session",
            Refusal::SessionExpired => "refusal.session_expired",
            Refusal::UnknownLink => "refusal.unknown_link",
            Refusal::ExpiredLink => "refusal.expired_link",
        }
    }

    /// The key of its hint in the catalogue.
    pub fn hint_key(self) -> &'static str {
        match self {
            Refusal::NoHost | Refusal::ForeignHost => "hint.host",
            Refusal::ForeignOrigin | Refusal::BadCsrf => "hint.reload",
            Refusal::NoSession
            | Refusal::SessionExpired
            | Refusal::UnknownLink
            | Refusal::ExpiredLink => "hint.login",
        }
    }

    /// The HTTP status it is answered with.
    pub fn status(self) -> u16 {
        match self {
            Refusal::NoHost => 400,
            Refusal::ForeignHost => 421,
            Refusal::ForeignOrigin | Refusal::BadCsrf => 403,
            Refusal::NoSession
            | Refusal::SessionExpired
            | Refusal::UnknownLink
            | Refusal::ExpiredLink => 401,
        }
    }
}

/// The `Host` a request must carry: `127.0.0.1:PORT` or `localhost:PORT`
/// (ASCII case of `localhost` ignored), the port being the node's.
pub fn check_host(host: Option<&str>, port: u16) -> Result<(), Refusal> {
    let host = host.ok_or(Refusal::NoHost)?;
    let (name, p) = host.rsplit_once(':').ok_or(Refusal::ForeignHost)?;
    let own_name = name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost");
    if own_name && p == port.to_string() {
        Ok(())
    } else {
        Err(Refusal::ForeignHost)
    }
}

/// The `Origin` and `Sec-Fetch-Site` of a form post. `Origin` may be
/// absent (older browsers, other clients) or the node's own, `http://`
/// followed by the request's `Host` (which [`check_host`] has accepted).
/// Under the pages' `Referrer-Policy: no-referrer`, browsers send
/// `Origin: null` on their own forms' posts: `null` is taken only with
/// `Sec-Fetch-Site: same-origin`, which the browser sets and no page can
/// forge. Any other origin, and a `Sec-Fetch-Site` other than
/// `same-origin`, is refused.
pub fn check_origin(
    origin: Option<&str>,
    fetch_site: Option<&str>,
    host: &str,
) -> Result<(), Refusal> {
    match fetch_site {
        None | Some("same-origin") => {}
        Some(_) => return Err(Refusal::ForeignOrigin),
    }
    match origin {
        None => Ok(()),
        Some("null") if fetch_site == Some("same-origin") => Ok(()),
        Some(o) => match o.strip_prefix("http://") {
            Some(rest) if rest.eq_ignore_ascii_case(host) => Ok(()),
            _ => Err(Refusal::ForeignOrigin),
        },
    }
}

/// The CSRF token of a form post: present and equal to the session's,
/// compared in time independent of where they differ.
pub fn check_csrf(expected: &str, presented: Option<&str>) -> Result<(), Refusal> {
    let presented = presented.ok_or(Refusal::BadCsrf)?.as_bytes();
    let expected = expected.as_bytes();
    if expected.is_empty() || presented.len() != expected.len() {
        return Err(Refusal::BadCsrf);
    }
    let diff = expected
        .iter()
        .zip(presented)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff == 0 {
        Ok(())
    } else {
        Err(Refusal::BadCsrf)
    }
}

/// A login link made at `issued` is valid at `now` for [`LINK_LIFETIME`].
pub fn check_link(issued: Instant, now: Instant) -> Result<(), Refusal> {
    if now.saturating_duration_since(issued) <= LINK_LIFETIME {
        Ok(())
    } else {
        Err(Refusal::ExpiredLink)
    }
}

/// A session last used at `last_seen` is live at `now` unless idle for
/// longer than `idle`.
pub fn check_session(last_seen: Instant, now: Instant, idle: Duration) -> Result<(), Refusal> {
    if now.saturating_duration_since(last_seen) <= idle {
        Ok(())
    } else {
        Err(Refusal::SessionExpired)
    }
}

/// Every refusal, for the tests.
#[cfg(test)]
pub(super) const ALL: [Refusal; 8] = [
    Refusal::NoHost,
    Refusal::ForeignHost,
    Refusal::ForeignOrigin,
    Refusal::BadCsrf,
    Refusal::NoSession,
    Refusal::SessionExpired,
    Refusal::UnknownLink,
    Refusal::ExpiredLink,
];

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    #[test]
    fn the_node_s_own_host_is_accepted() {
        assert_eq!(check_host(Some("127.0.0.1:8421"), 8421), Ok(()));
        assert_eq!(check_host(Some("localhost:8421"), 8421), Ok(()));
        assert_eq!(check_host(Some("LocalHost:8421"), 8421), Ok(()));
    }

    #[test]
    fn a_foreign_host_is_refused() {
        let port = 8421;
        assert_eq!(check_host(None, port), Err(Refusal::NoHost));
        for host in [
            "evil.example:8421",
            "127.0.0.1.evil.example:8421",
            "127.0.0.1:8422",
            "127.0.0.1",
            "localhost",
            "localhost.:8421",
            "[::1]:8421",
            "127.0.0.2:8421",
            "",
            "evil.example:8421:8421",
        ] {
            assert_eq!(
                check_host(Some(host), port),
                Err(Refusal::ForeignHost),
                "{host}"
            );
        }
    }

    #[test]
    fn the_own_origin_or_none_is_accepted() {
        let own = "127.0.0.1:8421";
        assert_eq!(check_origin(None, None, own), Ok(()));
        assert_eq!(check_origin(None, Some("same-origin"), own), Ok(()));
        for site in [None, Some("same-origin")] {
            assert_eq!(
                check_origin(Some("http://127.0.0.1:8421"), site, own),
                Ok(())
            );
        }
        assert_eq!(
            check_origin(Some("http://localhost:8421"), None, "localhost:8421"),
            Ok(())
        );
        // A no-referrer page's own form: the browser says same-origin.
        assert_eq!(check_origin(Some("null"), Some("same-origin"), own), Ok(()));
    }

    #[test]
    fn a_post_from_another_site_is_refused() {
        let own = "127.0.0.1:8421";
        for site in ["cross-site", "same-site", "none", ""] {
            for origin in [None, Some("null"), Some("http://127.0.0.1:8421")] {
                assert_eq!(
                    check_origin(origin, Some(site), own),
                    Err(Refusal::ForeignOrigin),
                    "{origin:?} {site}"
                );
            }
        }
        // `null` without the browser's word that it is the same origin
        // (a sandboxed frame, a data: URL).
        assert_eq!(
            check_origin(Some("null"), None, own),
            Err(Refusal::ForeignOrigin)
        );
    }

    #[test]
    fn a_foreign_origin_is_refused() {
        let host = "127.0.0.1:8421";
        for origin in [
            "null",
            "http://evil.example",
            "http://localhost:8421",
            "https://127.0.0.1:8421",
            "http://127.0.0.1:8422",
            "http://127.0.0.1:8421/",
            "",
        ] {
            for site in [None, Some("same-origin")] {
                if origin == "null" && site.is_some() {
                    continue;
                }
                assert_eq!(
                    check_origin(Some(origin), site, host),
                    Err(Refusal::ForeignOrigin),
                    "{origin} {site:?}"
                );
            }
        }
    }

    #[test]
    fn the_session_s_csrf_token_is_accepted() {
        assert_eq!(check_csrf("abcd", Some("abcd")), Ok(()));
    }

    #[test]
    fn a_missing_or_wrong_csrf_token_is_refused() {
        assert_eq!(check_csrf("abcd", None), Err(Refusal::BadCsrf));
        assert_eq!(check_csrf("abcd", Some("")), Err(Refusal::BadCsrf));
        assert_eq!(check_csrf("abcd", Some("abce")), Err(Refusal::BadCsrf));
        assert_eq!(check_csrf("abcd", Some("abc")), Err(Refusal::BadCsrf));
        assert_eq!(check_csrf("abcd", Some("abcde")), Err(Refusal::BadCsrf));
        // A session without a token accepts nothing, not the empty token.
        assert_eq!(check_csrf("", Some("")), Err(Refusal::BadCsrf));
    }

    #[test]
    fn a_link_is_valid_for_two_minutes_only() {
        let t0 = Instant::now();
        assert_eq!(check_link(t0, t0), Ok(()));
        assert_eq!(check_link(t0, t0 + LINK_LIFETIME), Ok(()));
        assert_eq!(
            check_link(t0, t0 + LINK_LIFETIME + Duration::from_secs(1)),
            Err(Refusal::ExpiredLink)
        );
    }

    #[test]
    fn an_idle_session_expires() {
        let t0 = Instant::now();
        let idle = Duration::from_secs(15 * 60);
        assert_eq!(check_session(t0, t0 + idle, idle), Ok(()));
        assert_eq!(
            check_session(t0, t0 + idle + Duration::from_secs(1), idle),
            Err(Refusal::SessionExpired)
        );
    }

    #[test]
    fn every_refusal_says_what_to_do() {
        for r in ALL {
            assert!(!r.message().is_empty() && !r.hint().is_empty());
            assert!(r.status() >= 400);
        }
    }
}
