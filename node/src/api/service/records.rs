//! The local API's ledger, journal, purge, consent and care-team methods.

use crate::api::model::*;
use crate::consent::BasisKind;
use crate::daemon::common::{now, store_err};
use crate::daemon::Engine;

pub(crate) async fn ledger(
    engine: &Engine,
    since: Option<u64>,
) -> Result<Vec<crate::ledger::EntryView>, ApiError> {
    engine
        .ledger
        .views_async(since)
        .await
        .map_err(ApiError::from)
}

pub(crate) async fn ledger_verify(
    engine: &Engine,
    every_signature: bool,
) -> Result<crate::ledger::VerifyReport, ApiError> {
    let signatures = crate::ledger::VerifyQuery {
        signatures: Some(every_signature),
        quick: None,
    }
    .signatures();
    engine
        .ledger
        .verify_report_async(signatures)
        .await
        .map_err(ApiError::from)
}

pub(crate) async fn purge(
    engine: &Engine,
    req: crate::api::purge_model::PurgeRequest,
) -> Result<crate::api::purge_model::PurgeReport, ApiError> {
    crate::daemon::purge::purge(engine, req).await
}

pub(crate) async fn journal(
    engine: &Engine,
    patient_ins: String,
) -> Result<Vec<crate::api::journal_model::JournalLine>, ApiError> {
    crate::daemon::journal::journal(engine, &patient_ins).await
}

pub(crate) async fn consent_grant(
    engine: &Engine,
    req: GrantConsentRequest,
) -> Result<ConsentInfo, ApiError> {
    let now = now();
    let consent = crate::consent::grant_request(&engine.store, &req, now)?;
    let entry = confrere_protocol::ledger::EntryKind::ConsentGranted {
        consent_id: consent.id.0,
        patient_ins: consent.patient_ins.clone(),
        recipients: consent.recipients.iter().map(ToString::to_string).collect(),
        purpose: consent.purpose.clone(),
        expires: consent.expires.map(|d| d.to_string()),
    };
    engine
        .record_basis(BasisKind::Consent, &consent.id, entry)
        .await?;
    Ok(ConsentInfo::new(&consent, now))
}

pub(crate) async fn consent_list(
    engine: &Engine,
    patient_ins: Option<String>,
) -> Result<Vec<ConsentInfo>, ApiError> {
    let now = now();
    let consents = crate::consent::list_request(&engine.store, patient_ins.as_deref())?;
    Ok(consents.iter().map(|c| ConsentInfo::new(c, now)).collect())
}

pub(crate) async fn consent_show(engine: &Engine, id: String) -> Result<ConsentInfo, ApiError> {
    let consent = crate::consent::get(&engine.store, &id)?;
    let mut info = ConsentInfo::new(&consent, now());
    info.recipient_states = crate::daemon::revocation::recipient_states(engine, &info.id);
    Ok(info)
}

pub(crate) async fn consent_revoke(
    engine: &Engine,
    id: String,
    req: RevokeConsentRequest,
) -> Result<ConsentInfo, ApiError> {
    let now = now();
    let consent = crate::consent::revoke(&engine.store, &id, req.reason.as_deref(), now)?;
    engine.flush().await.map_err(store_err)?;
    engine
        .record(confrere_protocol::ledger::EntryKind::ConsentRevoked {
            consent_id: consent.id.0,
            reason: req.reason.clone().unwrap_or_default(),
        })
        .await?;
    crate::daemon::revocation::fan_out(engine, consent.id.0, req.reason.as_deref().unwrap_or(""))
        .await?;
    let mut info = ConsentInfo::new(&consent, now);
    info.recipient_states = crate::daemon::revocation::recipient_states(engine, &info.id);
    Ok(info)
}

pub(crate) async fn care_team_record(
    engine: &Engine,
    req: CareTeamRequest,
) -> Result<CareTeamInfo, ApiError> {
    let record = crate::consent::care_team_request(&engine.store, &req, now())?;
    let entry = confrere_protocol::ledger::EntryKind::CareTeamRecorded {
        record_id: record.id.0,
        patient_ins: record.patient_ins.clone(),
        recipients: record.recipients.iter().map(ToString::to_string).collect(),
        informed_on: record.informed_on.to_string(),
    };
    engine
        .record_basis(BasisKind::CareTeam, &record.id, entry)
        .await?;
    Ok(CareTeamInfo::new(&record))
}
