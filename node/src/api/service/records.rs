//! The local API's ledger, journal, purge, consent and care-team methods.

use crate::api::consent_model::RecipientState;
use crate::api::journal_model::JournalLine;
use crate::api::ledger_model::{report, EntryView, VerifyQuery, VerifyReport};
use crate::api::model::*;
use crate::api::purge_model::{PurgeReport, PurgeRequest};
use crate::consent::BasisKind;
use crate::daemon::common::now;
use crate::daemon::Engine;

pub(crate) async fn ledger(
    engine: &Engine,
    since: Option<u64>,
) -> Result<Vec<EntryView>, ApiError> {
    let entries = engine.ledger.entries_async(since).await?;
    Ok(entries.iter().map(EntryView::of).collect())
}

pub(crate) async fn ledger_verify(
    engine: &Engine,
    every_signature: bool,
) -> Result<VerifyReport, ApiError> {
    let signatures = VerifyQuery {
        signatures: Some(every_signature),
        quick: None,
    }
    .signatures();
    // A broken chain is a report, not an error; errors are the store's.
    report(engine.ledger.verify_async(signatures).await.map(Some)).map_err(ApiError::from)
}

pub(crate) async fn purge(engine: &Engine, req: PurgeRequest) -> Result<PurgeReport, ApiError> {
    let purged = crate::daemon::purge::purge(engine, req.dry_run).await?;
    Ok(PurgeReport::of(&purged))
}

pub(crate) async fn journal(
    engine: &Engine,
    patient_ins: String,
) -> Result<Vec<JournalLine>, ApiError> {
    let events = crate::daemon::journal::journal(engine, &patient_ins).await?;
    Ok(events.iter().map(JournalLine::of).collect())
}

/// The API's view of a consent, with the dossiers shared under it.
fn with_recipient_states(engine: &Engine, mut info: ConsentInfo) -> ConsentInfo {
    info.recipient_states = crate::daemon::revocation::recipient_states(engine, &info.id)
        .iter()
        .map(RecipientState::of)
        .collect();
    info
}

pub(crate) async fn consent_grant(
    engine: &Engine,
    req: GrantConsentRequest,
) -> Result<ConsentInfo, ApiError> {
    let now = now();
    let consent = crate::consent::grant_as_typed(
        &engine.store,
        &req.patient_ins,
        &req.recipients,
        &req.purpose,
        req.expires.as_deref(),
        now,
    )?;
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
    let consents = crate::consent::list_as_typed(&engine.store, patient_ins.as_deref())?;
    Ok(consents.iter().map(|c| ConsentInfo::new(c, now)).collect())
}

pub(crate) async fn consent_show(engine: &Engine, id: String) -> Result<ConsentInfo, ApiError> {
    let consent = crate::consent::get(&engine.store, &id)?;
    Ok(with_recipient_states(
        engine,
        ConsentInfo::new(&consent, now()),
    ))
}

pub(crate) async fn consent_revoke(
    engine: &Engine,
    id: String,
    req: RevokeConsentRequest,
) -> Result<ConsentInfo, ApiError> {
    let now = now();
    let consent = crate::consent::revoke(&engine.store, &id, req.reason.as_deref(), now)?;
    engine.flush().await?;
    engine
        .record(confrere_protocol::ledger::EntryKind::ConsentRevoked {
            consent_id: consent.id.0,
            reason: req.reason.clone().unwrap_or_default(),
        })
        .await?;
    crate::daemon::revocation::fan_out(engine, consent.id.0, req.reason.as_deref().unwrap_or(""))
        .await?;
    Ok(with_recipient_states(
        engine,
        ConsentInfo::new(&consent, now),
    ))
}

pub(crate) async fn care_team_record(
    engine: &Engine,
    req: CareTeamRequest,
) -> Result<CareTeamInfo, ApiError> {
    let record = crate::consent::record_care_team_as_typed(
        &engine.store,
        &req.patient_ins,
        &req.recipients,
        &req.informed_on,
        now(),
    )?;
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
