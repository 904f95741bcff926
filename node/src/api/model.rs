//! The local API's requests and responses: JSON bodies exchanged between
//! the `confrere` command line and its node's daemon over
//! `http://127.0.0.1:PORT/v1/…` with `Authorization: Bearer TOKEN`.
//!
//! Field names are stable: scripts read them through `--json`.

use std::future::Future;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use super::consent_model::{
    CareTeamInfo, CareTeamRequest, ConsentInfo, ConsentQuery, GrantConsentRequest,
    RevokeConsentRequest,
};
pub use super::crl_model::{
    CrlFetchResult, CrlImportReport, CrlImportRequest, CrlTaken, CrlUpdateReport,
};
pub use super::directory_model::DirectoryRecord;
pub use super::journal_model::JournalLine;
pub use super::ledger_model::{EntryView, VerifyReport};
pub use super::purge_model::{PurgeReport, PurgeRequest};

/// `GET /v1/status`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Status {
    /// The practitioner's national id, with its type prefix.
    pub national_id: String,
    /// `GIVEN SURNAME`.
    pub name: String,
    /// This node's libp2p PeerId.
    pub peer_id: String,
    /// Multiaddrs the node listens on (without `/p2p/`).
    pub listen: Vec<String>,
    /// How other nodes can reach this one: `unknown`, `public`,
    /// `behind NAT` or `relayed`.
    #[serde(default)]
    pub reachability: String,
    /// The full addresses other nodes can dial this one at, each ending
    /// in `/p2p/PEER_ID`: public and relayed ones once known, then the
    /// local ones.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// The bootstrap nodes the node joins the directory through.
    #[serde(default)]
    pub bootstrap: Vec<String>,
    /// Items in the inbox.
    pub inbox: usize,
    /// Items in the outbox not yet delivered.
    pub outbox: usize,
    /// Inbound transfers begun and not finished.
    #[serde(default)]
    pub unfinished_inbound: UnfinishedInbound,
    /// The daemon's version.
    pub version: String,
    /// Each CA of the trust material with the CRL the daemon holds for it.
    #[serde(default)]
    pub crls: Vec<CrlStatus>,
    /// The card certificate of the credential in force: its end, and a
    /// warning within 60 days of it.
    #[serde(default)]
    pub card: CardStatus,
}

/// The card certificate the node's credential in force carries
/// (`Status::card`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CardStatus {
    /// End of the card certificate's validity (RFC 3339).
    pub not_after: String,
    /// "the card certificate expires on … : renew with `confrere renew`",
    /// within 60 days of its end (or past it); none otherwise.
    pub warning: Option<String>,
}

/// `POST /v1/credential`: a renewed node credential the command line made
/// with the practitioner's new card.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RenewCredentialRequest {
    /// The encoded node credential, hex.
    pub credential_hex: String,
}

/// The answer of `POST /v1/credential` (and what `confrere renew` reports).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RenewedCredential {
    /// The practitioner's national id (the same before and after).
    pub national_id: String,
    /// The node's PeerId (the same before and after).
    pub peer_id: String,
    /// End of the old credential's validity (RFC 3339).
    pub old_not_after: String,
    /// End of the new credential's validity (RFC 3339).
    pub new_not_after: String,
    /// The ledger entry that records the renewal, when one was written.
    pub ledger_seq: Option<u64>,
}

/// A CA's CRL as the daemon holds it (`Status::crls`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CrlStatus {
    /// The CA's subject.
    pub ca: String,
    /// thisUpdate of its newest CRL (RFC 3339), none when no CRL is held.
    pub this_update: Option<String>,
    /// Its nextUpdate (RFC 3339).
    pub next_update: Option<String>,
    /// Where it came from: `enrolment` (`confrere init --crl`) or
    /// `imported` (`confrere crl import`); none when no CRL is held.
    pub source: Option<String>,
    /// `fresh`, `expires soon` (nextUpdate less than 3 days away),
    /// `stale` (past nextUpdate: peers under this CA are refused) or
    /// `missing`.
    pub freshness: String,
    /// The file imported or the URL fetched the CRL held came from, when
    /// known (`source` is `imported` or `fetched`).
    #[serde(default)]
    pub origin: Option<String>,
    /// Whether peers whose certificates this CA issued are being refused
    /// now for want of a current CRL (stale or missing, with revocation
    /// checking on).
    #[serde(default)]
    pub refusing_peers: bool,
    /// The http(s) URLs the daemon fetches this CA's CRL from (its
    /// certificates' distribution points, then `[crl] urls`).
    #[serde(default)]
    pub fetch_urls: Vec<String>,
    /// When the daemon last tried to fetch it (RFC 3339).
    #[serde(default)]
    pub last_fetch: Option<String>,
    /// Why that fetch failed, if it did.
    #[serde(default)]
    pub last_fetch_error: Option<String>,
    /// When the daemon fetches it next (RFC 3339); none when it does not by
    /// itself (no URL, or `[crl] fetch = false`).
    #[serde(default)]
    pub next_fetch: Option<String>,
}

/// Inbound transfers begun and not finished (`Status::unfinished_inbound`):
/// each holds the dossier key and the chunks received so far until it
/// completes, is revoked or expires.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct UnfinishedInbound {
    /// How many.
    pub count: usize,
    /// Bytes of chunks they hold so far.
    pub bytes: u64,
    /// Sealed bytes their offers announced (what they may grow to).
    pub announced_bytes: u64,
    /// When the oldest started (RFC 3339); none without transfers.
    pub oldest_started_at: Option<String>,
}

/// One entry of the address book (`GET /v1/peers`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PeerInfo {
    /// libp2p PeerId, if known.
    pub peer_id: Option<String>,
    /// Known addresses.
    pub addrs: Vec<String>,
    /// The practitioner the peer's node serves, once a session verified it.
    pub national_id: Option<String>,
    /// The practitioner's name, once verified.
    pub name: Option<String>,
    /// When a session last verified it (RFC 3339).
    pub last_seen: Option<String>,
    /// Why the last attempt to reach it failed, if it did.
    pub last_error: Option<String>,
    /// End of the node credential its last verified session presented
    /// (RFC 3339); a renewed credential shows from the next session on.
    #[serde(default)]
    pub credential_not_after: Option<String>,
}

/// `POST /v1/peers`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AddPeer {
    /// A multiaddr, with or without `/p2p/PEER_ID`.
    pub multiaddr: String,
}

/// A patient as the sender types them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Patient {
    /// INS: 13-digit NIR + 2-digit key.
    pub ins: String,
    /// Family name.
    pub family: String,
    /// Given names.
    pub given: String,
    /// Birth date, `YYYY-MM-DD`.
    pub birth_date: String,
    /// `F`, `M` or `U`.
    pub sex: String,
}

/// `POST /v1/send`. The daemon reads the files itself (same machine).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SendRequest {
    /// Recipient's national id.
    pub to: String,
    /// The patient.
    pub patient: Patient,
    /// Reason for referral.
    pub reason: String,
    /// Urgent referral.
    pub urgent: bool,
    /// Letter text.
    pub letter: Option<String>,
    /// Documents, absolute paths.
    pub files: Vec<PathBuf>,
    /// The consent the send rests on: its id, or a unique prefix of at
    /// least 8 hex digits. A send cites a consent or a care-team record
    /// (not both); a reply needs neither.
    #[serde(default)]
    pub consent: Option<String>,
    /// The care-team record the send rests on: its id, or a unique prefix
    /// of at least 8 hex digits.
    #[serde(default)]
    pub care_team: Option<String>,
}

/// The answer to a send or a reply.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Sent {
    /// The dossier id.
    pub id: String,
    /// The outbox state right after the call (`queued` …).
    pub state: String,
    /// What the sender should know but did not stop the send (for example,
    /// an INS whose month of birth could not be checked). Absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One outbox item (`GET /v1/outbox`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutboxItem {
    /// Dossier id.
    pub id: String,
    /// Recipient's national id.
    pub to: String,
    /// `queued`, `sending`, `delivered` or `failed`.
    pub state: String,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// When it was queued (RFC 3339).
    pub created_at: String,
    /// When the receipt arrived (RFC 3339).
    pub delivered_at: Option<String>,
    /// Sealed bytes acknowledged by the recipient so far.
    pub sent_bytes: u64,
    /// Sealed bytes in all.
    pub total_bytes: u64,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// Id of the referral this answers, if it is a reply.
    pub in_reply_to: Option<String>,
    /// The path the delivery took: `direct`, `hole punched` or `relayed`
    /// (none until delivered).
    #[serde(default)]
    pub path: Option<String>,
}

/// A document of a dossier.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DocumentInfo {
    /// Sanitised file name.
    pub name: String,
    /// Media type.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// The patient as the inbox shows them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PatientSummary {
    /// INS.
    pub ins: String,
    /// Family name.
    pub family: String,
    /// Given names.
    pub given: String,
    /// Birth date.
    pub birth_date: String,
    /// `F`, `M` or `U` (empty from a daemon older than this field).
    #[serde(default)]
    pub sex: String,
}

/// One inbox item (`GET /v1/inbox`, `GET /v1/inbox/{id}`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct InboxItem {
    /// Dossier id.
    pub id: String,
    /// Sender's national id.
    pub from: String,
    /// Sender's name.
    pub from_name: String,
    /// The patient.
    pub patient: PatientSummary,
    /// Reason for referral.
    pub reason: String,
    /// Urgent referral.
    pub urgent: bool,
    /// `new`, `opened`, `accepted`, `declined`, `answered`.
    pub status: String,
    /// When it entered the inbox (RFC 3339).
    pub received_at: String,
    /// The documents.
    pub documents: Vec<DocumentInfo>,
    /// The referral this answers, if it is a reply.
    pub in_reply_to: Option<String>,
    /// The letter (only in `inbox show`).
    pub letter: Option<String>,
    /// Why it was declined, if it was.
    pub decline_reason: Option<String>,
}

/// `POST /v1/inbox/{id}/open`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OpenRequest {
    /// Directory to write the documents to (absolute).
    pub out_dir: PathBuf,
}

/// The answer to an open.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Opened {
    /// Files written, all inside `out_dir`.
    pub files: Vec<PathBuf>,
}

/// `POST /v1/inbox/{id}/decline`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeclineRequest {
    /// Why.
    pub reason: String,
}

/// `POST /v1/inbox/{id}/reply`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReplyRequest {
    /// Letter text.
    pub letter: Option<String>,
    /// Documents, absolute paths.
    pub files: Vec<PathBuf>,
}

/// An error body: what happened, what to do, and a stable code.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiError {
    /// Stable machine-readable code: `not_found`, `invalid`, `refused`,
    /// `unknown_recipient`, `not_published`, `unknown_peer`,
    /// `unauthorized`, `unavailable`, `internal`.
    pub code: String,
    /// What happened.
    pub error: String,
    /// What to do next.
    pub hint: Option<String>,
}

impl ApiError {
    /// An error with a code, a message and a hint.
    pub fn new(code: &str, error: impl Into<String>, hint: impl Into<String>) -> Self {
        ApiError {
            code: code.to_owned(),
            error: error.into(),
            hint: Some(hint.into()),
        }
    }
}

/// What the daemon does for the API. The HTTP layer only translates.
///
/// Every method is required: a node that lacks one does not compile,
/// rather than answering "not wired" at run time.
pub trait NodeApi: Send + Sync + 'static {
    /// Node status.
    fn status(&self) -> impl Future<Output = Result<Status, ApiError>> + Send;
    /// The address book.
    fn peers(&self) -> impl Future<Output = Result<Vec<PeerInfo>, ApiError>> + Send;
    /// Adds an address to the address book and tries to reach it.
    fn add_peer(&self, req: AddPeer) -> impl Future<Output = Result<PeerInfo, ApiError>> + Send;
    /// Seals a dossier and queues it.
    fn send(&self, req: SendRequest) -> impl Future<Output = Result<Sent, ApiError>> + Send;
    /// The outbox, newest first.
    fn outbox(&self) -> impl Future<Output = Result<Vec<OutboxItem>, ApiError>> + Send;
    /// The inbox: urgent first, then newest.
    fn inbox(&self) -> impl Future<Output = Result<Vec<InboxItem>, ApiError>> + Send;
    /// One inbox item with its letter.
    fn inbox_show(&self, id: String) -> impl Future<Output = Result<InboxItem, ApiError>> + Send;
    /// Writes the documents into a directory; marks the item opened.
    fn inbox_open(
        &self,
        id: String,
        req: OpenRequest,
    ) -> impl Future<Output = Result<Opened, ApiError>> + Send;
    /// Accepts a referral.
    fn inbox_accept(&self, id: String) -> impl Future<Output = Result<InboxItem, ApiError>> + Send;
    /// Declines a referral.
    fn inbox_decline(
        &self,
        id: String,
        req: DeclineRequest,
    ) -> impl Future<Output = Result<InboxItem, ApiError>> + Send;
    /// Sends a dossier back to the referrer, linked to the referral.
    fn inbox_reply(
        &self,
        id: String,
        req: ReplyRequest,
    ) -> impl Future<Output = Result<Sent, ApiError>> + Send;

    /// Records a patient's consent (`POST /v1/consents`).
    fn consent_grant(
        &self,
        req: GrantConsentRequest,
    ) -> impl Future<Output = Result<ConsentInfo, ApiError>> + Send;

    /// The ledger's entries from `since` on (`GET /v1/ledger?since=SEQ`).
    fn ledger(
        &self,
        since: Option<u64>,
    ) -> impl Future<Output = Result<Vec<EntryView>, ApiError>> + Send;

    /// Verifies the ledger: the hash chain up to the signed head
    /// checkpoint, and with `every_signature` every entry's own signature
    /// too (`GET /v1/ledger/verify[?signatures=true]`). A broken chain is a
    /// report with `intact: false`, not an error.
    fn ledger_verify(
        &self,
        every_signature: bool,
    ) -> impl Future<Output = Result<VerifyReport, ApiError>> + Send;

    /// Erases the dossiers past their retention period (`POST /v1/purge`).
    fn purge(
        &self,
        req: PurgeRequest,
    ) -> impl Future<Output = Result<PurgeReport, ApiError>> + Send;

    /// The patient's access journal from this node's ledger
    /// (`GET /v1/journal?patient_ins=`).
    fn journal(
        &self,
        patient_ins: String,
    ) -> impl Future<Output = Result<Vec<JournalLine>, ApiError>> + Send;

    /// The consents, newest first; only those of a patient (INS as typed)
    /// if given (`GET /v1/consents?patient_ins=`).
    fn consent_list(
        &self,
        patient_ins: Option<String>,
    ) -> impl Future<Output = Result<Vec<ConsentInfo>, ApiError>> + Send;

    /// One consent, by id or unique prefix (`GET /v1/consents/{id}`).
    fn consent_show(
        &self,
        id: String,
    ) -> impl Future<Output = Result<ConsentInfo, ApiError>> + Send;

    /// Revokes a consent (`POST /v1/consents/{id}/revoke`).
    fn consent_revoke(
        &self,
        id: String,
        req: RevokeConsentRequest,
    ) -> impl Future<Output = Result<ConsentInfo, ApiError>> + Send;

    /// The verified directory records of a practitioner's nodes
    /// (`GET /v1/directory/{national_id}`).
    fn find_peers(
        &self,
        national_id: String,
    ) -> impl Future<Output = Result<Vec<DirectoryRecord>, ApiError>> + Send;

    /// Removes an address-book entry by PeerId or national id
    /// (`DELETE /v1/peers/{key}`); answers the entries removed.
    fn remove_peer(
        &self,
        key: String,
    ) -> impl Future<Output = Result<Vec<PeerInfo>, ApiError>> + Send;

    /// Records an exchange within the patient's care team
    /// (`POST /v1/care-team`).
    fn care_team_record(
        &self,
        req: CareTeamRequest,
    ) -> impl Future<Output = Result<CareTeamInfo, ApiError>> + Send;

    /// Checks and puts in force a renewed node credential: files, ledger,
    /// sessions and directory record (`POST /v1/credential`).
    fn renew_credential(
        &self,
        req: RenewCredentialRequest,
    ) -> impl Future<Output = Result<RenewedCredential, ApiError>> + Send;

    /// Fetches every CA's CRL now and puts what is newer in force
    /// (`POST /v1/crls/update`).
    fn crl_update(&self) -> impl Future<Output = Result<CrlUpdateReport, ApiError>> + Send;

    /// Takes CRLs given by hand and puts them in force
    /// (`POST /v1/crls/import`).
    fn crl_import(
        &self,
        req: CrlImportRequest,
    ) -> impl Future<Output = Result<CrlImportReport, ApiError>> + Send;
}
