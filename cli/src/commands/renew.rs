//! `confrere renew`: renew the node credential with the practitioner's new
//! card certificate.
//!
//! The card is read here, never by the daemon. When the daemon runs (it
//! holds the store), the new credential goes to it (`POST /v1/credential`)
//! and it checks and applies it; otherwise the home and the ledger are
//! updated here.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use confrere_node::api::model::{RenewCredentialRequest, RenewedCredential};
use confrere_node::home::renew::{
    apply_renewal, prepare_renewal, write_renewal, RenewError, RenewRequest,
};
use confrere_node::home::Home;
use confrere_node::ledger::{Ledger, Libp2pNodeSigner};
use confrere_node::store::{Store, StoreError, StoreKeySource};
use confrere_protocol::{Renewal, UnixTime};
use serde_json::json;

use super::card;
use crate::cli::RenewArgs;
use crate::client::output::print_json;
use crate::client::Client;
use crate::error::{CliError, EXIT_OK};

/// Runs `renew`.
pub(crate) fn run(args: &RenewArgs, now: UnixTime) -> Result<ExitCode, CliError> {
    crate::home::require_home(&args.home)?;
    let card = card::card_source(&args.card)?;
    let req = RenewRequest {
        home: args.home.clone(),
        card,
        chain: args.chain.clone(),
        now,
    };
    let renewal = prepare_renewal(&req).map_err(to_cli)?;
    let (renewed, by_daemon) = match open_store(&args.home)? {
        Some(store) => (apply_here(&args.home, &renewal, Some(store), now)?, false),
        None if crate::home::store_exists(&args.home) => {
            let client = Client::connect(&args.home)?;
            let renewed = client.renew_credential(&RenewCredentialRequest {
                credential_hex: hex::encode(renewal.credential().encode()),
            })?;
            (renewed, true)
        }
        None => (apply_here(&args.home, &renewal, None, now)?, false),
    };
    if args.json {
        print_json(&json!({
            "home": args.home.display().to_string(),
            "national_id": renewed.national_id,
            "peer_id": renewed.peer_id,
            "old_not_after": renewed.old_not_after,
            "new_not_after": renewed.new_not_after,
            "ledger_seq": renewed.ledger_seq,
            "applied_by": if by_daemon { "daemon" } else { "command" },
        }))?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    outln!(
        "Renewed the credential of {} for {} ({}).",
        args.home.display(),
        renewal.identity().display_name(),
        renewed.national_id
    );
    outln!("Peer id     {} (unchanged)", renewed.peer_id);
    outln!(
        "Credential  valid until {} (was {})",
        renewed.new_not_after,
        renewed.old_not_after
    );
    match renewed.ledger_seq {
        Some(seq) => outln!("Ledger      entry {seq} records the renewal"),
        None => outln!("Ledger      none yet: the daemon never ran on this home"),
    }
    if by_daemon {
        outln!(
            "The running daemon presents the new credential from the next handshake on and republished its directory record."
        );
    } else {
        outln!("The node presents the new credential from its next start (`confrere run`).");
    }
    outln!("The replaced files are kept as credential.bin.previous and certificate.pem.previous.");
    Ok(ExitCode::from(EXIT_OK))
}

/// The home's store when it can be opened here; none when the daemon holds
/// it or it was never made.
fn open_store(home: &Path) -> Result<Option<Store>, CliError> {
    if !crate::home::store_exists(home) {
        return Ok(None);
    }
    let passphrase = crate::home::passphrase();
    let given = passphrase.is_some();
    let key_source = match passphrase {
        Some(p) => StoreKeySource::Passphrase(p),
        None => StoreKeySource::KeyFile,
    };
    match Store::open(home, key_source) {
        Ok(store) => Ok(Some(store)),
        Err(StoreError::Locked { .. }) => Ok(None),
        Err(e) => {
            crate::home::check_key_source(home, given)?;
            Err(CliError::refused(
                format!("cannot open the store of {}: {e}", home.display()),
                e.hint(),
            ))
        }
    }
}

/// Applies the renewal with no daemon: the files, and the ledger when the
/// store exists.
fn apply_here(
    dir: &Path,
    renewal: &Renewal,
    store: Option<Store>,
    now: UnixTime,
) -> Result<RenewedCredential, CliError> {
    // Opening the home checks that its keys are the ones the credential binds.
    let home = Home::open(dir).map_err(|e| {
        let hint = e.hint();
        CliError::input(e, hint)
    })?;
    let peer_id = home.libp2p.public().to_peer_id().to_base58();
    let ledger_seq = match store {
        Some(store) => {
            let identity = renewal.identity();
            let signer = Arc::new(Libp2pNodeSigner::new(home.libp2p));
            let ledger = Ledger::open(
                store,
                signer,
                identity.national_id.as_str(),
                &identity.display_name(),
            )
            .map_err(|e| CliError::refused(e.to_string(), e.hint()))?;
            let entry = apply_renewal(dir, renewal, &ledger, now).map_err(to_cli)?;
            Some(entry.seq)
        }
        None => {
            write_renewal(dir, renewal).map_err(to_cli)?;
            None
        }
    };
    Ok(RenewedCredential {
        national_id: renewal.identity().national_id.to_string(),
        peer_id,
        old_not_after: renewal.old_not_after().to_rfc3339(),
        new_not_after: renewal.credential().not_after().to_rfc3339(),
        ledger_seq,
    })
}

fn to_cli(e: RenewError) -> CliError {
    match e {
        RenewError::Home(e) => super::init::to_cli(e),
        e => {
            let hint = e.hint();
            CliError::refused(e, hint)
        }
    }
}
