//! The CRLs while the daemon runs: fetched ahead of their nextUpdate and
//! after failures ([`crl_worker`], on the schedule of
//! [`confrere_protocol::crl_fetch::next_fetch`]), now on request
//! ([`Engine::update_crls`], `POST /v1/crls/update`), or imported by hand
//! through the API ([`Engine::import_crls`]). Each CRL taken is written to
//! the home and put in force at once ([`crate::net::LiveSession::replace_trust`]):
//! the next handshake verifies under it, and open sessions recheck their
//! peer (see [`crate::net::SecureChannel`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use confrere_protocol::crl::held_crls;
use confrere_protocol::crl_fetch::{next_fetch, refresh_due, RETRY_MAX_SECS};
use confrere_protocol::{Certificate, Crl, TrustStore, UnixTime};
use tokio::sync::Notify;

use super::common::now;
use super::Engine;
use crate::crls::{fetch::fetch, round_urls, run_round, Outcome, Round};
use crate::home::crl::{parse_offered, take_crls, CrlChange, CrlImportError};

/// The fetches of one CA, as status shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FetchState {
    /// When a round last tried this CA.
    pub last_attempt: Option<UnixTime>,
    /// Why it failed, if it did.
    pub last_error: Option<String>,
    /// Rounds in a row that left its due CRL unreplaced.
    pub failures: u32,
}

/// The daemon's CRL keeper: one change at a time, and the fetch state.
#[derive(Debug, Default)]
pub(crate) struct CrlKeeper {
    /// Held while a round or an import runs: one writer of the CRL files.
    busy: tokio::sync::Mutex<()>,
    state: std::sync::Mutex<BTreeMap<String, FetchState>>,
    /// Wakes the worker to compute its next fetch again.
    wake: Notify,
}

/// A CA's fetch state and when its CRL is fetched next (none: never by
/// itself, no source or fetching off).
#[derive(Clone, Debug)]
pub(crate) struct CaFetch {
    /// The state.
    pub state: FetchState,
    /// The URLs fetched for it (those its certificates name; `[crl] urls`
    /// are fetched for every CA).
    pub urls: Vec<String>,
    /// When it is fetched next.
    pub next: Option<UnixTime>,
}

impl Engine {
    /// The trust material in force (the live session's).
    pub(crate) fn trust(&self) -> Arc<TrustStore> {
        Arc::clone(&self.net.live_session().current().trust)
    }

    /// The node's own certificate and chain, as its credential carries them.
    fn own_chain(&self) -> Vec<Certificate> {
        self.home
            .credential
            .certificates()
            .iter()
            .filter_map(|der| Certificate::from_der(der).ok())
            .collect()
    }

    /// Each CA's fetch state, with its URLs and next fetch.
    pub(crate) fn crl_fetches(&self) -> BTreeMap<String, CaFetch> {
        let trust = self.trust();
        let cfg = &self.home.config.crl;
        let urls = round_urls(&trust, &self.own_chain(), cfg);
        let state = self
            .crls
            .state
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        let at = now();
        held_crls(&trust)
            .into_iter()
            .map(|(ca, crl)| {
                let subject = ca.subject().to_owned();
                let mine: Vec<String> = urls
                    .iter()
                    .filter(|(_, c)| c.as_deref().is_none_or(|c| c == subject))
                    .map(|(u, _)| u.clone())
                    .collect();
                let st = state.get(&subject).cloned().unwrap_or_default();
                let next = (cfg.fetch && !mine.is_empty())
                    .then(|| next_fetch(held(crl), st.failures, st.last_attempt, at));
                (
                    subject,
                    CaFetch {
                        state: st,
                        urls: mine,
                        next,
                    },
                )
            })
            .collect()
    }

    /// Fetches every CA's CRL now, takes what is newer and puts it in force.
    pub async fn update_crls(&self) -> Result<Round, String> {
        let _busy = self.crls.busy.lock().await;
        let trust = self.trust();
        let before: Vec<(String, Held)> = held_crls(&trust)
            .into_iter()
            .map(|(ca, crl)| (ca.subject().to_owned(), held(crl)))
            .collect();
        let (dir, chain, cfg) = (
            self.home.dir.clone(),
            self.own_chain(),
            self.home.config.crl.clone(),
        );
        let proxy = cfg.proxy.clone();
        let in_force = TrustStore::clone(&trust);
        let round = tokio::task::spawn_blocking(move || {
            run_round(&dir, &in_force, &chain, &cfg, now(), |url| {
                fetch(url, proxy.as_deref())
            })
        })
        .await
        .map_err(|e| format!("the CRL fetch stopped: {e}"))?;
        let at = now();
        if let Ok(mut state) = self.crls.state.lock() {
            for ca in &round.cas {
                let was = before
                    .iter()
                    .find(|(s, _)| *s == ca.ca)
                    .and_then(|(_, h)| *h);
                let due = refresh_due(was, at) <= at;
                let st = state.entry(ca.ca.clone()).or_default();
                st.last_attempt = Some(at);
                st.last_error = match &ca.outcome {
                    Outcome::NoSource => Some(
                        "no distribution point (http or https) nor [crl] urls entry gave a CRL of this CA".to_owned(),
                    ),
                    o => o.error(),
                };
                match &ca.outcome {
                    Outcome::Taken { .. } => st.failures = 0,
                    Outcome::Current { .. } if !due => st.failures = 0,
                    _ => st.failures = st.failures.saturating_add(1),
                }
            }
        }
        if let Some(t) = &round.trust {
            self.put_in_force(t.clone(), "fetched");
        }
        for ca in &round.cas {
            match &ca.outcome {
                Outcome::Taken {
                    url,
                    this_update,
                    next_update,
                } => {
                    tracing::info!(ca = %ca.ca, %url, %this_update, next_update = ?next_update.map(|t| t.to_string()), "new CRL taken and in force")
                }
                Outcome::Refused { url, reason } => {
                    tracing::warn!(ca = %ca.ca, %url, %reason, "fetched CRL refused; the one held stays")
                }
                Outcome::Unreachable { errors } => {
                    tracing::warn!(ca = %ca.ca, errors = %errors.join("; "), "CRL fetch failed; retried later")
                }
                _ => {}
            }
        }
        self.crls.wake.notify_one();
        Ok(round)
    }

    /// Takes the CRLs in `bytes` (PEM or DER) like `confrere crl import`
    /// does, with `source` as where they came from, and puts them in force.
    pub async fn import_crls(
        &self,
        bytes: Vec<u8>,
        source: String,
    ) -> Result<Vec<CrlChange>, CrlImportError> {
        let _busy = self.crls.busy.lock().await;
        let in_force = TrustStore::clone(&self.trust());
        let dir = self.home.dir.clone();
        let (changes, trust) = tokio::task::spawn_blocking(move || {
            let offered = parse_offered(&bytes, &source)?;
            take_crls(&dir, &in_force, offered, &source)
        })
        .await
        .map_err(|e| CrlImportError::Write {
            path: "trust/crls.pem".into(),
            source: std::io::Error::other(e.to_string()),
        })??;
        self.put_in_force(trust, "imported");
        self.crls.wake.notify_one();
        Ok(changes)
    }

    fn put_in_force(&self, trust: TrustStore, how: &str) {
        self.net.live_session().replace_trust(trust);
        tracing::info!(how, "the trust material in force changed: new handshakes verify under it and open sessions recheck their peer");
    }
}

/// The thisUpdate and nextUpdate of the CRL held, if one is.
type Held = Option<(UnixTime, Option<UnixTime>)>;

/// The thisUpdate and nextUpdate of `crl`.
fn held(crl: Option<&Crl>) -> Held {
    crl.map(|c| (c.this_update(), c.next_update()))
}

/// Fetches each CA's CRL when it is due (see the module docs), until the
/// daemon stops. Does nothing with `[crl] fetch = false`.
pub(crate) async fn crl_worker(engine: Arc<Engine>) {
    if !engine.home.config.crl.fetch {
        return;
    }
    loop {
        if engine.is_stopping() {
            return;
        }
        let at = now();
        let due = engine.crl_fetches().values().filter_map(|f| f.next).min();
        let wait_secs = match due {
            Some(d) => d
                .as_secs()
                .saturating_sub(at.as_secs())
                .clamp(0, RETRY_MAX_SECS),
            None => RETRY_MAX_SECS,
        };
        if wait_secs > 0 {
            let wait = Duration::from_secs(u64::try_from(wait_secs).unwrap_or(1));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = engine.crls.wake.notified() => {}
            }
            continue;
        }
        if let Err(e) = engine.update_crls().await {
            tracing::warn!(reason = %e, "CRL fetch round failed");
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    }
}
