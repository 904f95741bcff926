//! The local API's node, peer, send, inbox and outbox methods.

use crate::api::model::*;
use crate::daemon::common::{internal, store_err};
use crate::daemon::Engine;
use crate::daemon::{inbox, sending, InboxStatus, OutboxState};
use crate::net::Entry;

pub(crate) fn peer_info(e: &Entry) -> PeerInfo {
    PeerInfo {
        peer_id: e.peer_id.clone(),
        addrs: e.addrs.clone(),
        national_id: e.national_id.clone(),
        name: e.name.clone(),
        last_seen: e.last_seen.clone(),
        last_error: e.last_error.clone(),
    }
}

pub(crate) async fn status(engine: &Engine) -> Result<Status, ApiError> {
    let inbox = engine.inbox_records()?.len();
    let outbox = engine
        .outbox_records()?
        .iter()
        .filter(|r| r.state != OutboxState::Delivered)
        .count();
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
        unfinished_inbound: crate::daemon::unfinished::summary(&engine.store).map_err(store_err)?,
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

pub(crate) async fn peers(engine: &Engine) -> Result<Vec<PeerInfo>, ApiError> {
    let book = engine.book.lock().await;
    Ok(book.entries().iter().map(peer_info).collect())
}

pub(crate) async fn add_peer(engine: &Engine, req: AddPeer) -> Result<PeerInfo, ApiError> {
    let (addr, peer) = crate::net::addressbook::parse_addr(&req.multiaddr).map_err(|e| {
        ApiError::new(
            "invalid",
            e.to_string(),
            "give the address the colleague's `confrere status` prints",
        )
    })?;
    let entry = {
        let mut book = engine.book.lock().await;
        let entry = book.add(&req.multiaddr).map_err(|e| {
            ApiError::new(
                "invalid",
                e.to_string(),
                "give the address the colleague's `confrere status` prints",
            )
        })?;
        book.save().map_err(internal)?;
        entry
    };
    // Dial that very address, on a new connection, to learn which
    // practitioner's node answers there: only then is it verified.
    let mut target = addr.clone();
    if let Some(p) = peer {
        target.push(libp2p::multiaddr::Protocol::P2p(p));
    }
    let reached = engine.net.verify_address(target).await;
    match reached {
        Ok(ch) => {
            let verified = ch.peer().identity().clone();
            let remote = ch.remote_peer_id();
            let _ = ch.close().await;
            engine
                .peer_verified(
                    remote,
                    verified.national_id.as_str(),
                    &verified.display_name(),
                    &[addr],
                )
                .await;
            let book = engine.book.lock().await;
            let mut info = book
                .find_by_peer(&remote)
                .map(peer_info)
                .unwrap_or_else(|| peer_info(&entry));
            // Verified through this very address: no error stands.
            info.last_error = None;
            Ok(info)
        }
        Err(e) => {
            let msg = e.to_string();
            let mut book = engine.book.lock().await;
            book.record_error(&req.multiaddr, &msg);
            let _ = book.save();
            let mut info = peer_info(&entry);
            info.last_error = Some(msg);
            Ok(info)
        }
    }
}

pub(crate) async fn find_peers(
    engine: &Engine,
    national_id: String,
) -> Result<Vec<crate::api::directory_model::DirectoryRecord>, ApiError> {
    engine.find_in_directory(&national_id).await
}

pub(crate) async fn remove_peer(engine: &Engine, key: String) -> Result<Vec<PeerInfo>, ApiError> {
    engine.remove_from_book(&key).await
}

pub(crate) async fn send(engine: &Engine, req: SendRequest) -> Result<Sent, ApiError> {
    sending::send(engine, req, None).await
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
        .map(|r| sending::outbox_item(&r, progress.get(&r.id).copied()))
        .collect())
}

pub(crate) async fn inbox(engine: &Engine) -> Result<Vec<InboxItem>, ApiError> {
    inbox::list(engine)
}

pub(crate) async fn inbox_show(engine: &Engine, id: String) -> Result<InboxItem, ApiError> {
    inbox::show(engine, &id).await
}

pub(crate) async fn inbox_open(
    engine: &Engine,
    id: String,
    req: OpenRequest,
) -> Result<Opened, ApiError> {
    inbox::open(engine, &id, req).await
}

pub(crate) async fn inbox_accept(engine: &Engine, id: String) -> Result<InboxItem, ApiError> {
    inbox::set_status(engine, &id, InboxStatus::Accepted, None).await
}

pub(crate) async fn inbox_decline(
    engine: &Engine,
    id: String,
    req: DeclineRequest,
) -> Result<InboxItem, ApiError> {
    inbox::set_status(engine, &id, InboxStatus::Declined, Some(req.reason)).await
}

pub(crate) async fn inbox_reply(
    engine: &Engine,
    id: String,
    req: ReplyRequest,
) -> Result<Sent, ApiError> {
    inbox::reply(engine, &id, req).await
}
