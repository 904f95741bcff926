//! The local API's implementation: each [`NodeApi`] method of the
//! daemon's [`Engine`], by part (`dossiers`: the node, peers, sending, the
//! inbox and outbox; `records`: the ledger, journal, purge, consents and
//! care-team records; `crls`: the CRLs).

mod credential;
mod crls;
mod dossiers;
mod records;

use crate::api::model::*;
use crate::daemon::Engine;

impl NodeApi for Engine {
    async fn status(&self) -> Result<Status, ApiError> {
        dossiers::status(self).await
    }

    async fn peers(&self) -> Result<Vec<PeerInfo>, ApiError> {
        dossiers::peers(self).await
    }

    async fn add_peer(&self, req: AddPeer) -> Result<PeerInfo, ApiError> {
        dossiers::add_peer(self, req).await
    }

    async fn find_peers(
        &self,
        national_id: String,
    ) -> Result<Vec<crate::api::directory_model::DirectoryRecord>, ApiError> {
        dossiers::find_peers(self, national_id).await
    }

    async fn remove_peer(&self, key: String) -> Result<Vec<PeerInfo>, ApiError> {
        dossiers::remove_peer(self, key).await
    }

    async fn send(&self, req: SendRequest) -> Result<Sent, ApiError> {
        dossiers::send(self, req).await
    }

    async fn outbox(&self) -> Result<Vec<OutboxItem>, ApiError> {
        dossiers::outbox(self).await
    }

    async fn inbox(&self) -> Result<Vec<InboxItem>, ApiError> {
        dossiers::inbox(self).await
    }

    async fn inbox_show(&self, id: String) -> Result<InboxItem, ApiError> {
        dossiers::inbox_show(self, id).await
    }

    async fn inbox_open(&self, id: String, req: OpenRequest) -> Result<Opened, ApiError> {
        dossiers::inbox_open(self, id, req).await
    }

    async fn inbox_accept(&self, id: String) -> Result<InboxItem, ApiError> {
        dossiers::inbox_accept(self, id).await
    }

    async fn inbox_decline(&self, id: String, req: DeclineRequest) -> Result<InboxItem, ApiError> {
        dossiers::inbox_decline(self, id, req).await
    }

    async fn inbox_reply(&self, id: String, req: ReplyRequest) -> Result<Sent, ApiError> {
        dossiers::inbox_reply(self, id, req).await
    }

    async fn ledger(
        &self,
        since: Option<u64>,
    ) -> Result<Vec<crate::api::ledger_model::EntryView>, ApiError> {
        records::ledger(self, since).await
    }

    async fn ledger_verify(
        &self,
        every_signature: bool,
    ) -> Result<crate::api::ledger_model::VerifyReport, ApiError> {
        records::ledger_verify(self, every_signature).await
    }

    async fn purge(
        &self,
        req: crate::api::purge_model::PurgeRequest,
    ) -> Result<crate::api::purge_model::PurgeReport, ApiError> {
        records::purge(self, req).await
    }

    async fn journal(
        &self,
        patient_ins: String,
    ) -> Result<Vec<crate::api::journal_model::JournalLine>, ApiError> {
        records::journal(self, patient_ins).await
    }

    async fn consent_grant(&self, req: GrantConsentRequest) -> Result<ConsentInfo, ApiError> {
        records::consent_grant(self, req).await
    }

    async fn consent_list(
        &self,
        patient_ins: Option<String>,
    ) -> Result<Vec<ConsentInfo>, ApiError> {
        records::consent_list(self, patient_ins).await
    }

    async fn consent_show(&self, id: String) -> Result<ConsentInfo, ApiError> {
        records::consent_show(self, id).await
    }

    async fn consent_revoke(
        &self,
        id: String,
        req: RevokeConsentRequest,
    ) -> Result<ConsentInfo, ApiError> {
        records::consent_revoke(self, id, req).await
    }

    async fn care_team_record(&self, req: CareTeamRequest) -> Result<CareTeamInfo, ApiError> {
        records::care_team_record(self, req).await
    }

    async fn renew_credential(
        &self,
        req: RenewCredentialRequest,
    ) -> Result<RenewedCredential, ApiError> {
        credential::renew(self, req).await
    }

    async fn crl_update(&self) -> Result<crate::api::model::CrlUpdateReport, ApiError> {
        crls::update(self).await
    }

    async fn crl_import(
        &self,
        req: crate::api::model::CrlImportRequest,
    ) -> Result<crate::api::model::CrlImportReport, ApiError> {
        crls::import(self, req).await
    }
}
