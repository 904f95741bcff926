//! Fetching the CRLs: one round fetches every distribution point of the
//! trust material ([`confrere_protocol::crl_fetch::crl_sources`]) and every
//! URL of `[crl] urls`, and takes each CRL fetched into the home the way
//! `confrere crl import` does ([`crate::home::crl::take_crls`]: verified
//! under its CA, newer than the one held, written atomically, its URL
//! recorded as where it came from).
//!
//! [`run_round`] is blocking (HTTP, files): `confrere crl update` calls it
//! directly when no daemon runs; the daemon on its blocking pool, then puts
//! the new trust material in force.

use std::path::Path;

use confrere_protocol::crl::CrlUpdateError;
use confrere_protocol::crl_fetch::{check_fetched_current, crl_sources};
use confrere_protocol::{Certificate, TrustStore, UnixTime};

use crate::config::CrlSection;
use crate::home::crl::{parse_offered, take_crls, CrlImportError};

pub mod fetch;

pub use fetch::{FetchError, FETCH_TIMEOUT, MAX_CRL_BYTES};

/// What a round did for one CA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A newer CRL was taken.
    Taken {
        /// Where from.
        url: String,
        /// Its thisUpdate.
        this_update: UnixTime,
        /// Its nextUpdate.
        next_update: Option<UnixTime>,
    },
    /// What was fetched is not newer than the CRL held.
    Current {
        /// Where from.
        url: String,
    },
    /// What was fetched was refused (forged, not a CRL, another PKI's).
    Refused {
        /// Where from.
        url: String,
        /// Why, in words.
        reason: String,
    },
    /// No URL of this CA answered.
    Unreachable {
        /// Each URL's error, in words.
        errors: Vec<String>,
    },
    /// Neither the certificates nor `[crl] urls` name where this CA's CRL
    /// is published (ldap:// points are not fetched).
    NoSource,
}

impl Outcome {
    /// The word `crl update --json` and the API use.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Taken { .. } => "taken",
            Outcome::Current { .. } => "current",
            Outcome::Refused { .. } => "refused",
            Outcome::Unreachable { .. } => "unreachable",
            Outcome::NoSource => "no source",
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Outcome::Taken { .. } => 4,
            Outcome::Current { .. } => 3,
            Outcome::Refused { .. } => 2,
            Outcome::Unreachable { .. } => 1,
            Outcome::NoSource => 0,
        }
    }

    /// The error to show as the last fetch's, if the round failed for the CA.
    pub fn error(&self) -> Option<String> {
        match self {
            Outcome::Refused { url, reason } => Some(format!("{url}: {reason}")),
            Outcome::Unreachable { errors } => Some(errors.join("; ")),
            _ => None,
        }
    }
}

/// A CA and what the round did for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaOutcome {
    /// The CA's subject.
    pub ca: String,
    /// What happened.
    pub outcome: Outcome,
}

/// What a round did.
#[derive(Debug)]
pub struct Round {
    /// Each CA of the trust material, in its order.
    pub cas: Vec<CaOutcome>,
    /// The trust material with the CRLs taken, if any was.
    pub trust: Option<TrustStore>,
    /// Errors of `[crl] urls` that no CA could be named for.
    pub other_errors: Vec<String>,
}

impl Round {
    /// Whether a CRL was taken.
    pub fn changed(&self) -> bool {
        self.trust.is_some()
    }
}

/// The URLs a round fetches, each with the CA its certificates name it
/// for (none for `[crl] urls`).
pub fn round_urls(
    trust: &TrustStore,
    own_chain: &[Certificate],
    config: &CrlSection,
) -> Vec<(String, Option<String>)> {
    let mut urls: Vec<(String, Option<String>)> = Vec::new();
    for source in crl_sources(trust, own_chain) {
        for url in source.urls {
            if !urls.iter().any(|(u, _)| *u == url) {
                urls.push((url, Some(source.ca.subject().to_owned())));
            }
        }
    }
    for url in &config.urls {
        if !urls.iter().any(|(u, _)| u == url) {
            urls.push((url.clone(), None));
        }
    }
    urls
}

/// Fetches every URL of [`round_urls`] with `get` and takes what is newer
/// into `home`, whose trust material in force is `trust`. Each CRL is
/// taken or refused on its own: a refused one leaves the others.
pub fn run_round(
    home: &Path,
    trust: &TrustStore,
    own_chain: &[Certificate],
    config: &CrlSection,
    now: UnixTime,
    get: impl Fn(&str) -> Result<Vec<u8>, FetchError>,
) -> Round {
    let mut current = trust.clone();
    let mut changed = false;
    let mut results: Vec<CaOutcome> = Vec::new();
    let mut unattributed: Vec<String> = Vec::new();
    let ca_of_issuer = |t: &TrustStore, issuer: &str| {
        t.anchors()
            .iter()
            .chain(t.intermediates())
            .find(|c| c.subject() == issuer)
            .map(|c| c.subject().to_owned())
    };
    for (url, expected) in round_urls(trust, own_chain, config) {
        let body = match get(&url) {
            Ok(b) => b,
            Err(e) => {
                match expected {
                    Some(ca) => results.push(CaOutcome {
                        ca,
                        outcome: Outcome::Unreachable {
                            errors: vec![e.to_string()],
                        },
                    }),
                    None => unattributed.push(e.to_string()),
                }
                continue;
            }
        };
        let offered = match parse_offered(&body, &url) {
            Ok(o) => o,
            Err(e) => {
                let outcome = Outcome::Refused {
                    url: url.clone(),
                    reason: format!("not a CRL: {}", e.hint()),
                };
                match expected {
                    Some(ca) => results.push(CaOutcome { ca, outcome }),
                    None => unattributed.push(format!("{url}: what it sent is not a CRL")),
                }
                continue;
            }
        };
        for crl in offered {
            let issuer = crl.issuer().to_owned();
            let (this_update, next_update) = (crl.this_update(), crl.next_update());
            let ca = ca_of_issuer(&current, &issuer).or_else(|| expected.clone());
            let outcome = match check_fetched_current(&crl, now)
                .map_err(|e| e.to_string())
                .map(|()| take_crls(home, &current, vec![crl], &url))
            {
                Err(reason) => Outcome::Refused {
                    url: url.clone(),
                    reason,
                },
                Ok(taken) => match taken {
                    Ok((_, next)) => {
                        current = next;
                        changed = true;
                        Outcome::Taken {
                            url: url.clone(),
                            this_update,
                            next_update,
                        }
                    }
                    Err(CrlImportError::Refused {
                        error: CrlUpdateError::NotNewer { .. },
                        ..
                    }) => Outcome::Current { url: url.clone() },
                    Err(CrlImportError::Refused { error, .. }) => Outcome::Refused {
                        url: url.clone(),
                        reason: format!("{error} ({})", error.hint()),
                    },
                    Err(e) => Outcome::Refused {
                        url: url.clone(),
                        reason: format!("{e} ({})", e.hint()),
                    },
                },
            };
            match (ca, outcome.error()) {
                (Some(ca), _) => results.push(CaOutcome { ca, outcome }),
                (None, Some(e)) => unattributed.push(e),
                (None, None) => {}
            }
        }
    }
    let cas = current
        .anchors()
        .iter()
        .chain(current.intermediates())
        .map(|ca| {
            let subject = ca.subject().to_owned();
            let mut best = Outcome::NoSource;
            for r in results.iter().filter(|r| r.ca == subject) {
                best = merge(best, &r.outcome);
            }
            if best == Outcome::NoSource && !unattributed.is_empty() {
                best = Outcome::Unreachable {
                    errors: unattributed.clone(),
                };
            }
            CaOutcome {
                ca: subject,
                outcome: best,
            }
        })
        .collect();
    Round {
        cas,
        trust: changed.then_some(current),
        other_errors: unattributed,
    }
}

/// The better of two outcomes for a CA (errors of unreachable URLs add up).
fn merge(a: Outcome, b: &Outcome) -> Outcome {
    match (a, b) {
        (Outcome::Unreachable { mut errors }, Outcome::Unreachable { errors: more }) => {
            errors.extend(more.iter().cloned());
            Outcome::Unreachable { errors }
        }
        (a, b) if b.rank() > a.rank() => b.clone(),
        (a, _) => a,
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "a test fails at the first unexpected value"
    )]

    use std::fs;

    use super::*;
    use crate::home::crl::tests::{fixture, home};
    use crate::home::crl::{crl_states, home_trust, CRLS_FILE};

    /// The fixtures' test instant.
    fn at() -> UnixTime {
        UnixTime::parse_rfc3339("2025-06-01T00:00:00Z").unwrap()
    }

    fn config(urls: &[&str]) -> CrlSection {
        CrlSection {
            urls: urls.iter().map(|u| (*u).to_owned()).collect(),
            ..CrlSection::default()
        }
    }

    fn served(url: &str) -> Result<Vec<u8>, FetchError> {
        match url {
            "http://a/crl.pem" => Ok(fixture("crl.pem")),
            "http://a/stale.pem" => Ok(fixture("crl-stale.pem")),
            "http://b/forged.pem" => Ok(fixture("crl-forged.pem")),
            "http://b/junk" => Ok(b"<html>not found</html>".to_vec()),
            _ => Err(FetchError::Unreachable {
                url: url.to_owned(),
                reason: "connection refused".into(),
            }),
        }
    }

    #[test]
    fn a_newer_crl_is_taken_with_its_url_and_failures_are_said_per_ca() {
        let dir = home();
        let trust = home_trust(dir.path()).unwrap();
        let cfg = config(&["http://b/forged.pem", "http://a/crl.pem", "http://c/down"]);
        let round = run_round(dir.path(), &trust, &[], &cfg, at(), served);
        let taken = round.trust.as_ref().expect("a CRL was taken");
        assert_eq!(round.cas.len(), 2);
        // The root's CRL: only the unreachable URL could have been it.
        assert!(
            matches!(&round.cas[0].outcome, Outcome::Unreachable { errors } if errors[0].contains("http://c/down")),
            "{:?}",
            round.cas[0]
        );
        // The intermediate's: the forged one refused, the genuine taken.
        assert!(
            matches!(&round.cas[1].outcome, Outcome::Taken { url, .. } if url == "http://a/crl.pem"),
            "{:?}",
            round.cas[1]
        );
        let at = UnixTime::parse_rfc3339("2025-06-01T00:00:00Z").unwrap();
        let states = crl_states(dir.path(), taken, at);
        assert_eq!(states[1].origin.as_deref(), Some("http://a/crl.pem"));
        assert_eq!(states[1].source, Some("fetched"));
    }

    #[test]
    fn a_forged_an_older_or_a_junk_answer_changes_nothing() {
        let dir = home();
        let before = fs::read(dir.path().join(CRLS_FILE)).unwrap();
        let trust = home_trust(dir.path()).unwrap();
        let cfg = config(&["http://b/forged.pem"]);
        let round = run_round(dir.path(), &trust, &[], &cfg, at(), served);
        assert!(!round.changed());
        assert!(
            matches!(&round.cas[1].outcome, Outcome::Refused { reason, .. } if reason.contains("forged")),
            "{:?}",
            round.cas[1]
        );
        let round = run_round(
            dir.path(),
            &trust,
            &[],
            &config(&["http://a/stale.pem"]),
            at(),
            served,
        );
        // The CRL held served again, stale by now: not taken.
        assert!(!round.changed());
        assert!(matches!(round.cas[1].outcome, Outcome::Refused { .. }));
        // The newer one served twice: taken, then current.
        let cfg = config(&["http://a/crl.pem"]);
        let copy = tempfile::tempdir().unwrap();
        fs::create_dir(copy.path().join("trust")).unwrap();
        for f in ["trust/anchors.pem", "trust/chain.pem", CRLS_FILE] {
            fs::copy(dir.path().join(f), copy.path().join(f)).unwrap();
        }
        let taken = run_round(copy.path(), &trust, &[], &cfg, at(), served);
        let again = run_round(
            copy.path(),
            taken.trust.as_ref().unwrap(),
            &[],
            &cfg,
            at(),
            served,
        );
        assert!(matches!(again.cas[1].outcome, Outcome::Current { .. }));
        // A newer CRL, but stale when fetched: not taken.
        let late = UnixTime::parse_rfc3339("2025-07-02T00:00:00Z").unwrap();
        let round = run_round(
            dir.path(),
            &trust,
            &[],
            &config(&["http://a/crl.pem"]),
            late,
            served,
        );
        assert!(!round.changed());
        assert!(
            matches!(&round.cas[1].outcome, Outcome::Refused { reason, .. } if reason.contains("already stale")),
            "{:?}",
            round.cas[1]
        );
        let round = run_round(
            dir.path(),
            &trust,
            &[],
            &config(&["http://b/junk"]),
            at(),
            served,
        );
        assert!(!round.changed());
        assert!(
            round.other_errors[0].contains("not a CRL"),
            "{:?}",
            round.other_errors
        );
        assert_eq!(fs::read(dir.path().join(CRLS_FILE)).unwrap(), before);
    }
}
