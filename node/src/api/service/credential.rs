//! `POST /v1/credential`: putting a renewed node credential in force while
//! the daemon runs, and the card's end in `status`.
//!
//! The command line reads the card and makes the credential; the daemon
//! never sees the card key, and never trusts the command line either: it
//! runs the protocol's renewal check again with the trust in force, writes
//! the files (keeping the previous ones), records the renewal in the
//! ledger, then presents the new credential from the next handshake on and
//! republishes its directory record.

use crate::api::model::{ApiError, CardStatus, RenewCredentialRequest, RenewedCredential};
use crate::daemon::Engine;
use crate::home::renew::{
    card_expiry_warning, check_received_renewal, restore_previous, write_renewal, RenewError,
};

/// Checks and puts in force a renewed credential.
pub(crate) async fn renew(
    engine: &Engine,
    req: RenewCredentialRequest,
) -> Result<RenewedCredential, ApiError> {
    let bytes = hex::decode(req.credential_hex.trim()).map_err(|_| {
        ApiError::new(
            "invalid",
            "the credential is not hex",
            "send the encoded node credential as hex in credential_hex",
        )
    })?;
    let _one_at_a_time = engine.renewing.lock().await;
    let live = engine.net().live_session();
    let config = live.current();
    let now = crate::clock::system_now();
    let renewal = check_received_renewal(
        &config.credential,
        &bytes,
        &config.trust,
        config.revocation,
        now,
    )
    .map_err(RenewError::from)?;
    let dir = engine.home.dir.clone();
    let written = renewal.clone();
    tokio::task::spawn_blocking(move || write_renewal(&dir, &written))
        .await
        .map_err(|e| {
            ApiError::new(
                "internal",
                format!("the renewal task failed: {e}"),
                "retry; the daemon's log says more",
            )
        })??;
    let entry = match engine
        .ledger
        .append_async(renewal.ledger_entry(), crate::clock::system_now())
        .await
    {
        Ok(entry) => entry,
        Err(e) => {
            let dir = engine.home.dir.clone();
            let restored = tokio::task::spawn_blocking(move || restore_previous(&dir)).await;
            if !matches!(restored, Ok(Ok(()))) {
                tracing::error!(
                    "the renewal could not be recorded and the previous credential files could not be put back"
                );
            }
            return Err(RenewError::Ledger(e).into());
        }
    };
    live.replace_credential(renewal.credential().clone());
    tracing::info!(
        not_after = %renewal.credential().not_after(),
        "the node credential was renewed: new sessions present it"
    );
    Ok(RenewedCredential {
        national_id: renewal.identity().national_id.to_string(),
        peer_id: engine.net().local_peer_id().to_base58(),
        old_not_after: renewal.old_not_after().to_rfc3339(),
        new_not_after: renewal.credential().not_after().to_rfc3339(),
        ledger_seq: Some(entry.seq),
    })
}

/// The card certificate of the credential in force, for `status`.
pub(crate) fn card_status(engine: &Engine) -> CardStatus {
    let config = engine.net().live_session().current();
    let not_after = confrere_protocol::renewal::credential_certificate(&config.credential)
        .map_or_else(|_| config.credential.not_after(), |c| c.not_after());
    CardStatus {
        not_after: not_after.to_rfc3339(),
        warning: card_expiry_warning(not_after, crate::clock::system_now()),
    }
}
