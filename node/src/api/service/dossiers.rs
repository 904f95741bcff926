//! The local API's node, peer, send, inbox and outbox methods, and the
//! views they answer, built from the daemon's records.

use crate::api::directory_model::{directory_record, DirectoryRecord};
use crate::api::model::*;
use crate::daemon::common::rfc3339;
use crate::daemon::{inbox, sending, Engine, InboxRecord, InboxStatus, OutboxRecord, OutboxState};
use crate::daemon::{OpError, Outgoing, Queued, TypedPatient, UnfinishedSummary};
use crate::net::Entry;

/// An address-book entry as the API shows it.
pub(crate) fn peer_info(e: &Entry) -> PeerInfo {
    PeerInfo {
        peer_id: e.peer_id.clone(),
        addrs: e.addrs.clone(),
        national_id: e.national_id.clone(),
        name: e.name.clone(),
        last_seen: e.last_seen.clone(),
        last_error: e.last_error.clone(),
        credential_not_after: e.credential_not_after.clone(),
    }
}

/// An inbox item as the API shows it; the letter only when asked for.
fn inbox_item(r: &InboxRecord, with_letter: bool) -> InboxItem {
    InboxItem {
        id: r.id.clone(),
        from: r.from.clone(),
        from_name: r.from_name.clone(),
        patient: PatientSummary {
            ins: r.ins.clone(),
            family: r.family.clone(),
            given: r.given.clone(),
            birth_date: r.birth_date.clone(),
            sex: r.sex.clone(),
        },
        reason: r.reason.clone(),
        urgent: r.urgent,
        status: r.status.as_str().to_owned(),
        received_at: rfc3339(r.received_at),
        documents: r
            .documents
            .iter()
            .map(|d| DocumentInfo {
                name: d.name.clone(),
                media_type: d.media_type.clone(),
                size: d.size,
                sha256: d.sha256.clone(),
            })
            .collect(),
        in_reply_to: r.in_reply_to.clone(),
        letter: (with_letter && !r.letter.is_empty()).then(|| r.letter.clone()),
        decline_reason: r.decline_reason.clone(),
    }
}

/// An outbox item as the API shows it; `in_flight`: the sealed bytes a
/// transfer under way has sent so far.
fn outbox_item(r: &OutboxRecord, in_flight: Option<u64>) -> OutboxItem {
    let acked = r
        .acked_chunks
        .saturating_mul(confrere_protocol::dossier::SEALED_CHUNK_LEN as u64)
        .min(r.total_bytes);
    let sent = match r.state {
        OutboxState::Delivered => r.total_bytes,
        _ => in_flight.unwrap_or(acked).max(acked),
    };
    OutboxItem {
        id: r.id.clone(),
        to: r.to.clone(),
        state: r.state.as_str().to_owned(),
        last_error: r.last_error.clone(),
        created_at: rfc3339(r.created_at),
        delivered_at: r.delivered_at.map(rfc3339),
        sent_bytes: sent,
        total_bytes: r.total_bytes,
        attempts: r.attempts,
        in_reply_to: r.in_reply_to.clone(),
        path: r.path.clone(),
    }
}

fn unfinished_inbound(u: UnfinishedSummary) -> UnfinishedInbound {
    UnfinishedInbound {
        count: u.count,
        bytes: u.bytes,
        announced_bytes: u.announced_bytes,
        oldest_started_at: u.oldest_started_at.map(rfc3339),
    }
}

/// The answer to a send: the dossier, queued.
fn sent(q: Queued) -> Sent {
    Sent {
        id: q.id.to_string(),
        state: OutboxState::Queued.as_str().to_owned(),
        warnings: q.warnings,
    }
}

pub(crate) async fn status(engine: &Engine) -> Result<Status, ApiError> {
    let inbox = engine.inbox_records()?.len();
    let outbox = engine
        .outbox_records()?
        .iter()
        .filter(|r| r.state != OutboxState::Delivered)
        .count();
    let unfinished = crate::daemon::unfinished::summary(&engine.store).map_err(OpError::from)?;
    Ok(Status {
        national_id: engine.identity.national_id.to_string(),
        name: engine.identity.display_name(),
        peer_id: engine.net.local_peer_id().to_base58(),
        listen: engine
            .net
            .listen_addrs()
            .iter()
            .map(ToString::to_string)
            .collect(),
        reachability: engine.net.reachability().as_str().to_owned(),
        addresses: engine
            .net
            .dialable_addrs()
            .iter()
            .map(ToString::to_string)
            .collect(),
        bootstrap: engine
            .net
            .bootstrap_addrs()
            .iter()
            .map(ToString::to_string)
            .collect(),
        inbox,
        outbox,
        unfinished_inbound: unfinished_inbound(unfinished),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        crls: super::crls::crl_statuses(engine),
        card: super::credential::card_status(engine),
    })
}

pub(crate) async fn peers(engine: &Engine) -> Result<Vec<PeerInfo>, ApiError> {
    let book = engine.book.lock().await;
    Ok(book.entries().iter().map(peer_info).collect())
}

pub(crate) async fn add_peer(engine: &Engine, req: AddPeer) -> Result<PeerInfo, ApiError> {
    let added = engine.add_to_book(&req.multiaddr).await?;
    let mut info = peer_info(&added.entry);
    info.last_error = added.error;
    Ok(info)
}

pub(crate) async fn find_peers(
    engine: &Engine,
    national_id: String,
) -> Result<Vec<DirectoryRecord>, ApiError> {
    let records = engine.find_in_directory(&national_id).await?;
    Ok(records.iter().map(directory_record).collect())
}

pub(crate) async fn remove_peer(engine: &Engine, key: String) -> Result<Vec<PeerInfo>, ApiError> {
    let removed = engine.remove_from_book(&key).await?;
    Ok(removed.iter().map(peer_info).collect())
}

pub(crate) async fn send(engine: &Engine, req: SendRequest) -> Result<Sent, ApiError> {
    let outgoing = Outgoing {
        to: req.to,
        patient: TypedPatient {
            ins: req.patient.ins,
            family: req.patient.family,
            given: req.patient.given,
            birth_date: req.patient.birth_date,
            sex: req.patient.sex,
        },
        reason: req.reason,
        urgent: req.urgent,
        letter: req.letter,
        files: req.files,
        consent: req.consent,
        care_team: req.care_team,
    };
    Ok(sent(sending::send(engine, outgoing, None).await?))
}

pub(crate) async fn outbox(engine: &Engine) -> Result<Vec<OutboxItem>, ApiError> {
    let mut recs = engine.outbox_records()?;
    recs.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    let progress = engine
        .progress
        .lock()
        .map(|p| p.clone())
        .unwrap_or_default();
    Ok(recs
        .into_iter()
        .map(|r| outbox_item(&r, progress.get(&r.id).copied()))
        .collect())
}

pub(crate) async fn inbox(engine: &Engine) -> Result<Vec<InboxItem>, ApiError> {
    let recs = inbox::list(engine)?;
    Ok(recs.iter().map(|r| inbox_item(r, false)).collect())
}

pub(crate) async fn inbox_show(engine: &Engine, id: String) -> Result<InboxItem, ApiError> {
    Ok(inbox_item(&inbox::show(engine, &id).await?, true))
}

pub(crate) async fn inbox_open(
    engine: &Engine,
    id: String,
    req: OpenRequest,
) -> Result<Opened, ApiError> {
    let files = inbox::open(engine, &id, &req.out_dir).await?;
    Ok(Opened { files })
}

pub(crate) async fn inbox_accept(engine: &Engine, id: String) -> Result<InboxItem, ApiError> {
    let rec = inbox::set_status(engine, &id, InboxStatus::Accepted, None).await?;
    Ok(inbox_item(&rec, false))
}

pub(crate) async fn inbox_decline(
    engine: &Engine,
    id: String,
    req: DeclineRequest,
) -> Result<InboxItem, ApiError> {
    let rec = inbox::set_status(engine, &id, InboxStatus::Declined, Some(req.reason)).await?;
    Ok(inbox_item(&rec, false))
}

pub(crate) async fn inbox_reply(
    engine: &Engine,
    id: String,
    req: ReplyRequest,
) -> Result<Sent, ApiError> {
    Ok(sent(
        inbox::reply(engine, &id, req.letter, req.files).await?,
    ))
}
