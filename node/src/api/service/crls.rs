//! The CRL routes and the CRLs of status: what [`Engine`]'s CRL keeper
//! holds and did, as the API shows it.

use std::io::Read;

use crate::api::crl_model::update_report;
use crate::api::model::{
    ApiError, CrlImportReport, CrlImportRequest, CrlStatus, CrlTaken, CrlUpdateReport,
};
use crate::crls::MAX_CRL_BYTES;
use crate::daemon::Engine;
use crate::home::crl::{crl_states, CrlImportError, Freshness};

/// Each CA's CRL as status shows it: from the trust material in force.
pub(super) fn crl_statuses(engine: &Engine) -> Vec<CrlStatus> {
    let trust = engine.trust();
    let mut fetches = engine.crl_fetches();
    let checking = engine.home.revocation == confrere_protocol::RevocationCheck::Required;
    crl_states(&engine.home.dir, &trust, crate::clock::system_now())
        .into_iter()
        .map(|c| {
            let fetch = fetches.remove(&c.ca);
            let state = fetch.as_ref().map(|f| f.state.clone()).unwrap_or_default();
            CrlStatus {
                refusing_peers: checking
                    && matches!(c.freshness, Freshness::Stale | Freshness::Missing),
                ca: c.ca,
                this_update: c.this_update.map(|t| t.to_string()),
                next_update: c.next_update.map(|t| t.to_string()),
                source: c.source.map(str::to_owned),
                freshness: c.freshness.as_str().to_owned(),
                origin: c.origin,
                fetch_urls: fetch.as_ref().map(|f| f.urls.clone()).unwrap_or_default(),
                last_fetch: state.last_attempt.map(|t| t.to_string()),
                last_fetch_error: state.last_error,
                next_fetch: fetch.and_then(|f| f.next).map(|t| t.to_string()),
            }
        })
        .collect()
}

pub(super) async fn update(engine: &Engine) -> Result<CrlUpdateReport, ApiError> {
    let round = engine
        .update_crls()
        .await
        .map_err(|e| ApiError::new("internal", e, "try again; the daemon's log says more"))?;
    Ok(update_report(&round))
}

pub(super) async fn import(
    engine: &Engine,
    req: CrlImportRequest,
) -> Result<CrlImportReport, ApiError> {
    let path = req.path.clone();
    let unreadable = |e: std::io::Error| {
        ApiError::new(
            "invalid",
            format!("cannot read {path}: {e}"),
            "check the path to the CRL file and that the daemon's user may read it",
        )
    };
    let mut bytes = Vec::new();
    std::fs::File::open(&req.path)
        .map_err(unreadable)?
        .take(MAX_CRL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_CRL_BYTES {
        return Err(ApiError::new(
            "invalid",
            format!("{path} is larger than {MAX_CRL_BYTES} bytes, more than a CRL may be"),
            "check that the file is the CA's CRL",
        ));
    }
    let changes = engine.import_crls(bytes, req.path).await.map_err(|e| {
        let hint = e.hint();
        let code = match e {
            CrlImportError::Refused { .. } => "refused",
            CrlImportError::BadInput { .. } => "invalid",
            _ => "internal",
        };
        ApiError::new(code, e.to_string(), hint)
    })?;
    Ok(CrlImportReport {
        imported: changes
            .into_iter()
            .map(|c| CrlTaken {
                ca: c.issuer,
                this_update: c.this_update.to_string(),
                next_update: c.next_update.map(|t| t.to_string()),
                replaced_this_update: c.replaced.map(|t| t.to_string()),
            })
            .collect(),
    })
}
