//! Where each CA's CRL is fetched from, and when.
//!
//! [`crl_sources`] reads the cRLDistributionPoints of the trust material's
//! certificates (and of the node's own chain): a certificate names where
//! its issuer's CRL is published. Only `http://` and `https://` URLs are
//! used ([`is_fetchable_url`]); `ldap://` and others are ignored.
//!
//! [`next_fetch`] decides when a CA's CRL is fetched next: ahead of its
//! nextUpdate (see [`FETCH_MARGIN_SECS`]), at once when none is held or it
//! is stale, and after a fetch that brought nothing newer, again after a
//! bounded backoff ([`RETRY_FIRST_SECS`] doubling up to
//! [`RETRY_MAX_SECS`]), so that a node never loops on a server that is down.
//! Whether a fetched CRL is taken is [`crate::crl::check_crl_update`]'s
//! decision.

use crate::certificate::{Certificate, Crl};
use crate::time::UnixTime;
use crate::verify::TrustStore;

/// Longest URL taken from a certificate or the configuration.
pub const MAX_URL_LEN: usize = 2048;

/// A CRL is fetched again at the latest this long before its nextUpdate
/// (one day), or at three quarters of its validity if that is earlier,
/// and never before half of its validity has passed (a CRL valid for
/// less than two days is fetched at half of its validity).
pub const FETCH_MARGIN_SECS: i64 = 24 * 3600;

/// Wait before the first retry after a fetch that failed or brought
/// nothing newer when one was due (one minute); it doubles at each
/// further failure.
pub const RETRY_FIRST_SECS: i64 = 60;

/// Longest wait between retries (one hour).
pub const RETRY_MAX_SECS: i64 = 3600;

/// Shortest wait between retries (five seconds): near its nextUpdate, the
/// wait after a failure is at most half of the time the CRL held has
/// left, but never shorter than this.
pub const RETRY_MIN_SECS: i64 = 5;

/// Whether `url` is one the node fetches: `http://` or `https://` (any
/// case), no more than [`MAX_URL_LEN`] bytes, no space or control
/// character.
pub fn is_fetchable_url(url: &str) -> bool {
    let lower = url
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let scheme_ok = lower.starts_with("http://") || lower.starts_with("https://");
    let rest_ok = url.len() <= MAX_URL_LEN
        && url.len() > "http://".len()
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    scheme_ok && rest_ok
}

/// A fetched CRL that is already past its nextUpdate (or has none).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the CRL of \"{issuer}\" served there is already stale (nextUpdate {next_update}): it is not taken, the CRL held stays; the publication site has not published a current one yet")]
pub struct StaleFetched {
    /// The CA named in the CRL.
    pub issuer: String,
    /// Its nextUpdate, or `none`.
    pub next_update: String,
}

/// Whether a fetched CRL is current at `now`. A stale one is never taken
/// from a distribution point: the node keeps the newest current CRL it
/// has (and status warns as it nears its nextUpdate). By hand, `confrere
/// crl import` still takes a newer stale CRL (the operator's choice).
pub fn check_fetched_current(crl: &Crl, now: UnixTime) -> Result<(), StaleFetched> {
    match crl.next_update() {
        Some(next) if next >= now => Ok(()),
        next => Err(StaleFetched {
            issuer: crl.issuer().to_owned(),
            next_update: next.map_or_else(|| "none".to_owned(), |t| t.to_string()),
        }),
    }
}

/// A CA of the trust material and the URLs its CRL is published at.
#[derive(Debug)]
pub struct CrlSource<'a> {
    /// The CA.
    pub ca: &'a Certificate,
    /// Fetchable URLs named by certificates it issued, each once, in the
    /// order met (anchors, intermediates, then `own_chain`).
    pub urls: Vec<String>,
}

/// Each CA of `trust` (anchors, then intermediates) with the fetchable
/// distribution points named by the certificates it issued among the
/// trust material and `own_chain` (the node's own certificate and chain).
pub fn crl_sources<'a>(trust: &'a TrustStore, own_chain: &[Certificate]) -> Vec<CrlSource<'a>> {
    let named: Vec<&Certificate> = trust
        .anchors()
        .iter()
        .chain(trust.intermediates())
        .chain(own_chain)
        .collect();
    trust
        .anchors()
        .iter()
        .chain(trust.intermediates())
        .map(|ca| {
            let mut urls: Vec<String> = Vec::new();
            for cert in named.iter().filter(|c| c.issuer_raw == ca.subject_raw) {
                for url in cert.crl_distribution_points() {
                    if is_fetchable_url(url) && !urls.contains(url) {
                        urls.push(url.clone());
                    }
                }
            }
            CrlSource { ca, urls }
        })
        .collect()
}

/// When the CRL `held` (its thisUpdate and nextUpdate) should be replaced:
/// see [`FETCH_MARGIN_SECS`]. `None` held, no nextUpdate, or dates out of
/// order: at once.
pub fn refresh_due(held: Option<(UnixTime, Option<UnixTime>)>, now: UnixTime) -> UnixTime {
    let Some((this, Some(next))) = held else {
        return now;
    };
    let validity = next.as_secs().saturating_sub(this.as_secs());
    if validity <= 0 {
        return now;
    }
    let before_next = (validity / 4).max(FETCH_MARGIN_SECS.min(validity / 2));
    UnixTime::from_secs(next.as_secs().saturating_sub(before_next))
}

/// The wait after `failures` fetches in a row that left a due CRL
/// unreplaced: [`RETRY_FIRST_SECS`], doubling, at most [`RETRY_MAX_SECS`].
pub fn retry_delay(failures: u32) -> i64 {
    let shift = failures.saturating_sub(1).min(20);
    RETRY_FIRST_SECS
        .saturating_mul(1_i64 << shift)
        .min(RETRY_MAX_SECS)
}

/// When a CA's CRL is fetched next: at [`refresh_due`], but after
/// `failures` unsuccessful attempts in a row (the last at `last_attempt`)
/// not before [`retry_delay`] has passed since it, or half of what the
/// held CRL had left then if that is shorter (at least
/// [`RETRY_MIN_SECS`]), so that a CRL about to go stale is tried again in
/// time.
pub fn next_fetch(
    held: Option<(UnixTime, Option<UnixTime>)>,
    failures: u32,
    last_attempt: Option<UnixTime>,
    now: UnixTime,
) -> UnixTime {
    let due = refresh_due(held, now);
    match last_attempt {
        Some(at) if failures > 0 => {
            let mut delay = retry_delay(failures);
            if let Some((_, Some(next))) = held {
                let left = next.as_secs().saturating_sub(at.as_secs());
                if left > 0 {
                    delay = delay.min((left / 2).max(RETRY_MIN_SECS));
                }
            }
            let retry = UnixTime::from_secs(at.as_secs().saturating_add(delay));
            due.max(retry)
        }
        _ => due,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_certificates;

    fn t(secs: i64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    const DAY: i64 = 24 * 3600;

    #[test]
    fn only_http_and_https_urls_are_fetched() {
        assert!(is_fetchable_url(
            "http://igc-sante.esante.gouv.fr/CRL/ACI-EL-PP-TEST.crl"
        ));
        assert!(is_fetchable_url("HTTPS://example.org/a.crl"));
        assert!(!is_fetchable_url(
            "ldap://annuaire-igc.esante.gouv.fr/cn=TEST?certificaterevocationlist"
        ));
        assert!(!is_fetchable_url("file:///etc/passwd"));
        assert!(!is_fetchable_url("http://"));
        assert!(!is_fetchable_url("http://a b/c.crl"));
        assert!(!is_fetchable_url("http://a/\nc.crl"));
        assert!(!is_fetchable_url(&format!(
            "http://a/{}",
            "x".repeat(MAX_URL_LEN)
        )));
        assert!(!is_fetchable_url("ht"));
    }

    #[test]
    fn a_week_long_crl_is_fetched_at_three_quarters_of_its_validity() {
        let due = refresh_due(Some((t(0), Some(t(8 * DAY)))), t(DAY));
        assert_eq!(due, t(6 * DAY));
    }

    #[test]
    fn a_month_long_crl_is_fetched_a_day_before_its_next_update_at_the_latest() {
        // 3/4 of 40 days is 30 days, earlier than a day before: 3/4 wins.
        assert_eq!(
            refresh_due(Some((t(0), Some(t(40 * DAY)))), t(0)),
            t(30 * DAY)
        );
        // A 2-day CRL: 3/4 is 36 h, a day before is 24 h: the earlier.
        assert_eq!(refresh_due(Some((t(0), Some(t(2 * DAY)))), t(0)), t(DAY));
    }

    #[test]
    fn a_short_crl_is_fetched_at_half_of_its_validity() {
        assert_eq!(refresh_due(Some((t(100), Some(t(140)))), t(100)), t(120));
    }

    #[test]
    fn a_missing_stale_or_dateless_crl_is_fetched_now() {
        assert_eq!(refresh_due(None, t(500)), t(500));
        assert_eq!(refresh_due(Some((t(0), None)), t(500)), t(500));
        assert_eq!(refresh_due(Some((t(10), Some(t(5)))), t(500)), t(500));
        // Stale: the due time is in the past, that is now.
        assert!(refresh_due(Some((t(0), Some(t(100)))), t(500)) <= t(500));
    }

    #[test]
    fn a_failure_backs_off_from_one_minute_doubling_to_one_hour() {
        assert_eq!(retry_delay(1), 60);
        assert_eq!(retry_delay(2), 120);
        assert_eq!(retry_delay(3), 240);
        assert_eq!(retry_delay(7), 3600);
        assert_eq!(retry_delay(u32::MAX), 3600);
        // Stale and failing: not before the backoff, never a busy loop.
        assert_eq!(next_fetch(None, 1, Some(t(1000)), t(1000)), t(1060));
        assert_eq!(next_fetch(None, 3, Some(t(1000)), t(1001)), t(1240));
        // A failure long ago: due now.
        assert_eq!(next_fetch(None, 1, Some(t(0)), t(5000)), t(5000));
        // Fresh: the due time wins over an earlier retry.
        let fresh = Some((t(0), Some(t(8 * DAY))));
        assert_eq!(next_fetch(fresh, 2, Some(t(DAY)), t(DAY)), t(6 * DAY));
        // No failure: the due time.
        assert_eq!(next_fetch(fresh, 0, Some(t(DAY)), t(DAY)), t(6 * DAY));
    }

    #[test]
    fn a_crl_about_to_go_stale_is_retried_within_half_of_what_it_has_left() {
        // 40 s of validity, due at 20 s, a failure at 20 s: 20 s left, the
        // retry at 30 s rather than a minute later.
        let short = Some((t(0), Some(t(40))));
        assert_eq!(next_fetch(short, 1, Some(t(20)), t(20)), t(30));
        // Never sooner than RETRY_MIN_SECS.
        assert_eq!(
            next_fetch(short, 3, Some(t(38)), t(38)),
            t(38 + RETRY_MIN_SECS)
        );
        // Stale already: the plain backoff.
        assert_eq!(next_fetch(short, 1, Some(t(50)), t(50)), t(110));
    }

    #[test]
    fn a_fetched_crl_past_its_next_update_is_not_taken() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openssl");
        let crl = crate::parse_crls(&std::fs::read(format!("{dir}/crl.pem")).expect("fixture"))
            .expect("crl")
            .remove(0);
        // crl.pem: lastUpdate 2025-05-01, nextUpdate 2025-07-01.
        let during = UnixTime::parse_rfc3339("2025-06-01T00:00:00Z").expect("time");
        let after = UnixTime::parse_rfc3339("2025-07-02T00:00:00Z").expect("time");
        assert!(check_fetched_current(&crl, during).is_ok());
        let err = check_fetched_current(&crl, after).expect_err("stale");
        assert!(err.to_string().contains("already stale"), "{err}");
    }

    #[test]
    fn each_ca_gets_the_points_named_by_the_certificates_it_issued() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openssl");
        let read = |n: &str| {
            parse_certificates(&std::fs::read(format!("{dir}/{n}")).expect("fixture"))
                .expect("certificate")
        };
        let mut trust = TrustStore::new(read("root.pem"));
        for c in read("intermediate.pem") {
            trust.add_intermediate(c);
        }
        let sources = crl_sources(&trust, &read("good-rsa.pem"));
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[0].ca.subject(), trust.anchors()[0].subject());
        // The OpenSSL fixtures name no distribution point.
        assert!(sources.iter().all(|s| s.urls.is_empty()));
    }
}
