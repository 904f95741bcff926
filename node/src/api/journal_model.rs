//! The patient's access journal as the local API gives it
//! (`GET /v1/journal?patient_ins=INS`).

use serde::{Deserialize, Serialize};

use crate::daemon::journal::JournalEvent;

/// One event about a patient's dossiers, from this node's ledger.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct JournalLine {
    /// Ledger sequence number.
    pub seq: u64,
    /// When (RFC 3339).
    pub time: String,
    /// Ledger kind name (`dossier_sent`, `dossier_opened` …).
    pub kind: String,
    /// What happened, in words.
    pub what: String,
    /// National id of the practitioner who acted.
    pub who: String,
    /// Their name, if known.
    pub who_name: Option<String>,
    /// The dossier concerned, if any.
    pub dossier_id: Option<String>,
    /// The consent concerned, if any.
    pub consent_id: Option<String>,
    /// The node that recorded it: its practitioner's national id.
    pub node: String,
    /// The node's PeerId.
    pub node_peer_id: String,
    /// SHA-256 of the ledger entry, hex: check it with `confrere ledger show`.
    pub entry_hash: String,
}

impl JournalLine {
    /// The API's view of a journal event.
    pub(crate) fn of(e: &JournalEvent) -> Self {
        JournalLine {
            seq: e.seq,
            time: e.time.to_rfc3339(),
            kind: e.kind.to_owned(),
            what: e.what.clone(),
            who: e.who.clone(),
            who_name: e.who_name.clone(),
            dossier_id: e.dossier_id.map(|d| d.to_string()),
            consent_id: e.consent_id.map(hex::encode),
            node: e.node.clone(),
            node_peer_id: e.node_peer_id.clone(),
            entry_hash: hex::encode(e.entry_hash),
        }
    }
}

/// `GET /v1/journal` query.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct JournalQuery {
    /// The patient's INS.
    pub patient_ins: String,
}
