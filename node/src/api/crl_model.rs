//! The local API's CRL routes: `POST /v1/crls/update` (fetch every CA's
//! CRL now) and `POST /v1/crls/import` (take CRLs given by hand), both
//! putting what they take in force at once.

use serde::{Deserialize, Serialize};

use crate::crls::{Outcome, Round};

/// `POST /v1/crls/update`: what the fetch did for each CA.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CrlUpdateReport {
    /// Each CA of the trust material.
    pub cas: Vec<CrlFetchResult>,
    /// Errors of `[crl] urls` no CA could be named for.
    #[serde(default)]
    pub other_errors: Vec<String>,
}

/// What a fetch did for one CA.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CrlFetchResult {
    /// The CA's subject.
    pub ca: String,
    /// `taken` (a newer CRL is in force), `current` (nothing newer was
    /// published), `refused` (what was fetched was forged, another PKI's
    /// or not a CRL: the one held stays), `unreachable` (no URL answered)
    /// or `no source` (no http(s) distribution point nor `[crl] urls`).
    pub outcome: String,
    /// The URL the CRL was taken, found current or refused from.
    pub url: Option<String>,
    /// thisUpdate of the CRL taken (RFC 3339).
    pub this_update: Option<String>,
    /// Its nextUpdate (RFC 3339).
    pub next_update: Option<String>,
    /// Why it was refused or unreachable.
    pub error: Option<String>,
}

/// `POST /v1/crls/import`: CRLs given by hand, as a file the daemon reads
/// (files travel as paths, never as bodies).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CrlImportRequest {
    /// The CRL file (PEM or DER, one or several CRLs), an absolute path;
    /// recorded as where they came from and shown by status.
    pub path: String,
}

/// `POST /v1/crls/import`: the CRLs taken (all or nothing).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CrlImportReport {
    /// Each CRL taken.
    pub imported: Vec<CrlTaken>,
}

/// A CRL taken by an import.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CrlTaken {
    /// The CA.
    pub ca: String,
    /// Its thisUpdate (RFC 3339).
    pub this_update: String,
    /// Its nextUpdate (RFC 3339).
    pub next_update: Option<String>,
    /// thisUpdate of the CRL it replaces, if one was held.
    pub replaced_this_update: Option<String>,
}

/// What `round` did, as `POST /v1/crls/update` answers it.
pub fn update_report(round: &Round) -> CrlUpdateReport {
    let cas = round
        .cas
        .iter()
        .map(|c| {
            let mut r = CrlFetchResult {
                ca: c.ca.clone(),
                outcome: c.outcome.as_str().to_owned(),
                error: c.outcome.error(),
                ..CrlFetchResult::default()
            };
            match &c.outcome {
                Outcome::Taken {
                    url,
                    this_update,
                    next_update,
                } => {
                    r.url = Some(url.clone());
                    r.this_update = Some(this_update.to_string());
                    r.next_update = next_update.map(|t| t.to_string());
                }
                Outcome::Current { url } | Outcome::Refused { url, .. } => {
                    r.url = Some(url.clone());
                }
                Outcome::Unreachable { .. } | Outcome::NoSource => {}
            }
            r
        })
        .collect();
    CrlUpdateReport {
        cas,
        other_errors: round.other_errors.clone(),
    }
}
