//! The daemon's shared state, and the operations every part of it needs
//! (the ledger, the address book, sessions to colleagues, the store key).
//! The local API's implementation is `api::service`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use confrere_protocol::dossier::keywrap::{self, StoreKey};
use confrere_protocol::dossier::{DossierId, DossierKey};
use confrere_protocol::PractitionerIdentity;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{Mutex, Notify};

use super::common::now;
use super::error::OpError;
use super::records::{InboxRecord, OutboxRecord};
use super::DaemonError;
use crate::consent::BasisKind;
use crate::home::Home;
use crate::net::{AddressBook, NetworkHandle};
use crate::store::{Store, StoreError, Tree};
use confrere_protocol::consent::RecordId;

/// The daemon's state, shared by its tasks.
pub struct Engine {
    pub(crate) identity: PractitionerIdentity,
    pub(crate) home: Home,
    pub(crate) store: Store,
    pub(crate) net: NetworkHandle,
    pub(crate) book: Mutex<AddressBook>,
    pub(crate) wake: Notify,
    pub(crate) stopping: AtomicBool,
    /// Sealed bytes sent so far by transfers under way, by dossier id.
    pub(crate) progress: std::sync::Mutex<HashMap<String, u64>>,
    pub(crate) ledger: crate::ledger::Ledger,
    /// The outbox's index of due items and its checked record changes.
    pub(super) outbox: super::outbox::Outbox,
    /// Outbox items found settled at start, whose sealed copy the start-up
    /// sweep removes if a crash left it.
    pub(crate) settled_at_start: std::sync::Mutex<Vec<[u8; 16]>>,
    /// Held while a renewed credential is checked and put in force, so
    /// that two renewals never race.
    pub(crate) renewing: Mutex<()>,
    /// The CRLs' fetch state, and one change of them at a time.
    pub(crate) crls: super::crls::CrlKeeper,
    store_key: StoreKey,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("national_id", &self.identity.national_id)
            .finish_non_exhaustive()
    }
}

/// Colleagues of the address book greeted when the daemon starts (see
/// [`Engine::greet_colleagues`]).
pub(super) const GREETED: usize = 64;

impl Engine {
    /// Builds the engine over an opened home, store, network and address book.
    pub fn new(
        home: Home,
        store: Store,
        net: NetworkHandle,
        book: AddressBook,
    ) -> Result<Self, DaemonError> {
        let leaf = home
            .credential
            .certificates()
            .first()
            .ok_or_else(|| DaemonError::NodeCredential("it holds no certificate".into()))
            .and_then(|der| {
                confrere_protocol::Certificate::from_der(der)
                    .map_err(|e| DaemonError::NodeCredential(e.to_string()))
            })?;
        let identity = leaf
            .practitioner()
            .map_err(|e| DaemonError::NodeCredential(e.to_string()))?;
        let store_key = StoreKey::from_bytes(*store.key_wrapping_secret().as_bytes());
        let signer = std::sync::Arc::new(crate::ledger::Libp2pNodeSigner::new(home.libp2p.clone()));
        let ledger = crate::ledger::Ledger::open(
            store.clone(),
            signer,
            identity.national_id.as_str(),
            &identity.display_name(),
        )
        .map_err(DaemonError::Ledger)?;
        let (outbox, settled) = super::outbox::Outbox::load(store.clone())?;
        Ok(Engine {
            identity,
            home,
            store,
            net,
            book: Mutex::new(book),
            wake: Notify::new(),
            stopping: AtomicBool::new(false),
            progress: std::sync::Mutex::new(HashMap::new()),
            ledger,
            outbox,
            settled_at_start: std::sync::Mutex::new(settled),
            renewing: Mutex::new(()),
            crls: super::crls::CrlKeeper::default(),
            store_key,
        })
    }

    /// The practitioner this node speaks for.
    pub fn identity(&self) -> &PractitionerIdentity {
        &self.identity
    }

    /// The network handle.
    pub fn net(&self) -> &NetworkHandle {
        &self.net
    }

    /// Tells the tasks to stop taking new work.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake.notify_waiters();
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Appends an entry to the ledger; durable when it returns.
    pub(crate) async fn record(
        &self,
        kind: confrere_protocol::ledger::EntryKind,
    ) -> Result<(), OpError> {
        self.ledger.append_async(kind, now()).await?;
        Ok(())
    }

    /// Makes a consent or care-team record just stored durable and logs it
    /// in the ledger. If either fails, the record is removed so that it
    /// allows nothing and a new grant makes no duplicate; the error says
    /// whether that worked.
    pub(crate) async fn record_basis(
        &self,
        kind: BasisKind,
        id: &RecordId,
        entry: confrere_protocol::ledger::EntryKind,
    ) -> Result<(), OpError> {
        let recorded = match self.flush().await {
            Ok(()) => self.record(entry).await,
            Err(e) => Err(e.into()),
        };
        let Err(e) = recorded else { return Ok(()) };
        let what = match kind {
            BasisKind::Consent => "consent",
            BasisKind::CareTeam => "care-team record",
        };
        let store = self.store.clone();
        let discard_id = *id;
        let discarded = tokio::task::spawn_blocking(move || {
            crate::consent::discard_unrecorded(&store, kind, &discard_id)
        })
        .await;
        Err(match discarded {
            Ok(Ok(())) => OpError::NotRecorded {
                what,
                source: Box::new(e),
            },
            _ => {
                tracing::error!(kind = kind.as_str(), id = %id, "a record without its ledger entry could not be removed");
                OpError::RecordedWithoutEntry {
                    what,
                    id: id.to_string(),
                    source: Box::new(e),
                }
            }
        })
    }

    /// The ledger.
    pub fn ledger(&self) -> &crate::ledger::Ledger {
        &self.ledger
    }

    /// Flushes the store (blocking flush on a blocking thread).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.store.flush_async_safe().await
    }

    pub(crate) fn wrap_key(&self, id: &DossierId, key: &DossierKey) -> Result<Vec<u8>, OpError> {
        keywrap::wrap(&self.store_key, id, key).map_err(OpError::internal)
    }

    pub(crate) fn unwrap_key(&self, id: &DossierId) -> Result<DossierKey, OpError> {
        let wrapped = self
            .store
            .get_wrapped_key(id.as_bytes())?
            .ok_or_else(|| self.key_gone(id))?;
        keywrap::unwrap(&self.store_key, id, &wrapped).map_err(|e| OpError::KeyDoesNotUnwrap {
            id: id.to_string(),
            reason: e.to_string(),
        })
    }

    /// Why the key of a dossier is not in the store: erased, if its record
    /// or the ledger says so; otherwise missing, which only a damaged store
    /// (or a file removed by hand) explains.
    fn key_gone(&self, id: &DossierId) -> OpError {
        if let Some(why) = self.erasure_of(id) {
            return OpError::Erased {
                id: id.to_string(),
                why,
            };
        }
        OpError::KeyMissing { id: id.to_string() }
    }

    /// What erased a dossier, if its record or the ledger says it was.
    fn erasure_of(&self, id: &DossierId) -> Option<&'static str> {
        use confrere_protocol::ledger::EntryKind;
        if let Ok(Some(rec)) = self.store.get::<InboxRecord>(Tree::Inbox, id.as_bytes()) {
            if rec.status == super::InboxStatus::Revoked {
                return Some("the patient withdrew consent, or its retention period ended");
            }
        }
        if let Ok(Some(rec)) = self.store.get::<OutboxRecord>(Tree::Outbox, id.as_bytes()) {
            if rec.state.is_final() {
                return Some("its sealed copy is dropped once it is delivered or refused");
            }
        }
        let entries = self.ledger.entries(None).ok()?;
        entries
            .iter()
            .filter(|e| e.kind.dossier_id().as_ref() == Some(id))
            .find_map(|e| match e.kind {
                EntryKind::RetentionPurge { .. } => {
                    Some("purged at the end of its retention period")
                }
                EntryKind::DossierErased { .. } => Some("the ledger records its erasure"),
                EntryKind::RevocationReceived { .. } => Some("the patient withdrew consent"),
                EntryKind::RevocationSent { .. } => {
                    Some("the consent it was shared under was revoked")
                }
                _ => None,
            })
    }

    /// Records a peer a session verified.
    pub(crate) async fn peer_verified(
        &self,
        peer: PeerId,
        national_id: &str,
        name: &str,
        addrs: &[Multiaddr],
        credential_not_after: confrere_protocol::UnixTime,
    ) {
        let mut book = self.book.lock().await;
        book.record_verified(&peer, national_id, name, addrs, now());
        book.record_credential_end(&peer, credential_not_after);
        if let Err(e) = book.save() {
            tracing::warn!(error = %e, "cannot save the address book");
        }
        drop(book);
        // A colleague came back: what waits for it is tried now.
        self.colleague_seen(national_id);
    }

    /// The practitioner `national_id` was seen again: the outbox items
    /// that could not reach it become due now.
    pub(crate) fn colleague_seen(&self, national_id: &str) {
        let due = self.outbox.peer_seen(national_id, now().as_secs());
        if due > 0 {
            tracing::info!(
                count = due,
                to = %national_id,
                "a colleague is reachable again: its queued dossiers are tried now"
            );
        }
        self.wake.notify_one();
    }

    /// At start, opens (and closes) a session to each colleague of the
    /// address book, one after the other: a colleague whose outbox holds
    /// dossiers for this node, and backs off because this node was away,
    /// sees it again and sends them at once. At most [`GREETED`] of them,
    /// the most recently seen first.
    pub(crate) fn greet_colleagues(self: &Arc<Self>) {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut colleagues: Vec<(Option<String>, PeerId, Vec<Multiaddr>)> = {
                let book = engine.book.lock().await;
                book.entries()
                    .iter()
                    .filter(|e| e.national_id.is_some())
                    .filter_map(|e| Some((e.last_seen.clone(), e.peer()?, e.multiaddrs())))
                    .collect()
            };
            // RFC 3339 times sort as text; never seen last.
            colleagues.sort_by(|a, b| b.0.cmp(&a.0));
            for (_, peer, addrs) in colleagues.into_iter().take(GREETED) {
                if engine.is_stopping() {
                    return;
                }
                if let Ok(ch) = engine.net.open_channel(peer, addrs).await {
                    let _ = ch.close().await;
                }
            }
        });
    }

    /// Records a node mDNS found, and probes it to learn who it serves.
    pub(crate) async fn peer_discovered(self: &Arc<Self>, peer: PeerId, addrs: Vec<Multiaddr>) {
        {
            let book = self.book.lock().await;
            let known = book.find_by_peer(&peer).and_then(|e| e.national_id.clone());
            drop(book);
            if let Some(national_id) = known {
                // Found again on the network: what waits for it goes now.
                for a in &addrs {
                    let _ = self.net.add_address(peer, a.clone()).await;
                }
                self.colleague_seen(&national_id);
                return;
            }
        }
        for a in &addrs {
            let _ = self.net.add_address(peer, a.clone()).await;
        }
        let net = self.net.clone();
        tokio::spawn(async move {
            if let Ok(ch) = net.open_channel(peer, addrs).await {
                let _ = ch.close().await;
            }
        });
    }

    /// Opens a session to a node of the practitioner `national_id`: the
    /// one the address book knows (from `peers add`, mDNS or an earlier
    /// session), else those the directory lists, and checks that the
    /// session verified that very practitioner. Errors are for the
    /// outbox's `last_error`.
    pub(crate) async fn open_channel_to(
        &self,
        national_id: &str,
    ) -> Result<crate::net::SecureChannel, String> {
        let entry = self.book.lock().await.find_by_national_id(national_id);
        let mut last_error = None;
        if let Some(entry) = entry {
            let reached = match entry.peer() {
                Some(p) => self.net.open_channel(p, entry.multiaddrs()).await,
                None => match entry.multiaddrs().first() {
                    Some(a) => self.net.open_channel_addr(a.clone()).await,
                    None => Err(crate::net::NetError::NoAddress {
                        peer: national_id.to_owned(),
                    }),
                },
            };
            match reached {
                Ok(ch) => return serves(ch, national_id),
                Err(e) => last_error = Some(e.to_string()),
            }
        }
        let id = confrere_protocol::NationalId::parse(national_id).map_err(|e| e.to_string())?;
        let records = self.net.find(&id).await.map_err(|e| e.to_string())?;
        if records.is_empty() {
            return Err(last_error.unwrap_or_else(|| {
                format!(
                    "no known node serves {national_id}, and no node publishes it in the directory"
                )
            }));
        }
        for record in &records {
            let Ok(peer) = PeerId::from_bytes(record.peer_id()) else {
                continue;
            };
            let addrs: Vec<Multiaddr> = record
                .addresses()
                .iter()
                .filter_map(|a| Multiaddr::try_from(a.clone()).ok())
                .collect();
            match self.net.open_channel(peer, addrs).await {
                Ok(ch) => return serves(ch, national_id),
                Err(e) => last_error = Some(e.to_string()),
            }
        }
        Err(last_error.unwrap_or_else(|| format!("no node of {national_id} could be reached")))
    }

    pub(crate) fn outbox_records(&self) -> Result<Vec<OutboxRecord>, OpError> {
        Ok(self
            .store
            .scan::<OutboxRecord>(Tree::Outbox)?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    pub(crate) fn inbox_records(&self) -> Result<Vec<InboxRecord>, OpError> {
        Ok(self
            .store
            .scan::<InboxRecord>(Tree::Inbox)?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }
}

/// `ch` if its session verified the practitioner `national_id`.
fn serves(
    ch: crate::net::SecureChannel,
    national_id: &str,
) -> Result<crate::net::SecureChannel, String> {
    let serves = ch.peer().identity().national_id.to_string();
    if serves != national_id {
        return Err(format!(
            "the node reached serves {serves}, not {national_id}"
        ));
    }
    Ok(ch)
}
