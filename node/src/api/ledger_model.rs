//! The ledger as JSON: what `confrere ledger show --json` and
//! `confrere ledger verify --json` print, and what the local API answers
//! on `GET /v1/ledger` and `GET /v1/ledger/verify`.
//!
//! Field names are stable: scripts read them.
//!
//! ```text
//! entry  {"seq": 3, "time": "2024-03-01T10:00:00Z", "kind": "dossier_sent",
//!         "hash": HEX64, "prev_hash": HEX64, "signature": HEX128,
//!         ...the kind's fields: "dossier_id", "patient_ins", "to",
//!         "basis" ("consent" | "care_team" | "reply"), "basis_id" ...}
//! verify {"intact": true, "entries": 12, "head_seq": 11, "head_hash": HEX64,
//!         "national_id": "810001000016", "name": "Jeanne MARTIN",
//!         "problem": null}
//!        {"intact": false, ..., "problem": {"code": "seq_gap", "seq": 5,
//!         "message": "...", "hint": "..."}}
//! ```

use std::collections::BTreeMap;

use confrere_protocol::ledger::{ChainError, ChainSummary, EntryKind, LedgerEntry, SignatureCheck};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::ledger::LedgerError;

/// The query of `GET /v1/ledger`: `?since=SEQ`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShowQuery {
    /// Only the entries from this sequence number on.
    pub since: Option<u64>,
}

/// The query of `GET /v1/ledger/verify`. By default the hash chain is
/// checked up to the signed head checkpoint ([`SignatureCheck::Anchored`]);
/// `?signatures=true` also checks every entry's own signature
/// ([`SignatureCheck::Every`]).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct VerifyQuery {
    /// Every entry's signature too.
    pub signatures: Option<bool>,
    /// Accepted for scripts written when anchored verification was an
    /// option; it is the default now.
    pub quick: Option<bool>,
}

impl VerifyQuery {
    /// The signatures to check.
    pub fn signatures(&self) -> SignatureCheck {
        if self.signatures == Some(true) {
            SignatureCheck::Every
        } else {
            SignatureCheck::Anchored
        }
    }
}

/// One ledger entry, for people and scripts. `Debug` shows the sequence
/// number, kind and hash only (the fields hold patient data).
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct EntryView {
    /// Sequence number.
    pub seq: u64,
    /// When it was recorded (RFC 3339).
    pub time: String,
    /// The kind: `genesis`, `consent_granted`, `dossier_sent` …
    pub kind: String,
    /// The entry's hash, hex (what the access journal cites).
    pub hash: String,
    /// The previous entry's hash, hex.
    pub prev_hash: String,
    /// The node's signature, hex.
    pub signature: String,
    /// The kind's fields (`dossier_id`, `patient_ins`, `to` …).
    #[serde(flatten)]
    pub fields: BTreeMap<String, Value>,
}

impl std::fmt::Debug for EntryView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryView")
            .field("seq", &self.seq)
            .field("kind", &self.kind)
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

fn peer_id_text(bytes: &[u8]) -> String {
    libp2p_identity::PeerId::from_bytes(bytes)
        .map(|p| p.to_base58())
        .unwrap_or_else(|_| hex::encode(bytes))
}

fn kind_fields(kind: &EntryKind) -> Value {
    match kind {
        EntryKind::Genesis {
            national_id,
            name,
            peer_id,
        } => json!({"national_id": national_id, "name": name, "peer_id": peer_id_text(peer_id)}),
        EntryKind::ConsentGranted {
            consent_id,
            patient_ins,
            recipients,
            purpose,
            expires,
        } => json!({
            "consent_id": hex::encode(consent_id),
            "patient_ins": patient_ins.as_str(),
            "recipients": recipients,
            "purpose": purpose,
            "expires": expires,
        }),
        EntryKind::ConsentRevoked { consent_id, reason } => {
            json!({"consent_id": hex::encode(consent_id), "reason": reason})
        }
        EntryKind::CareTeamRecorded {
            record_id,
            patient_ins,
            recipients,
            informed_on,
        } => json!({
            "record_id": hex::encode(record_id),
            "patient_ins": patient_ins.as_str(),
            "recipients": recipients,
            "informed_on": informed_on,
        }),
        EntryKind::DossierSent {
            dossier_id,
            patient_ins,
            to,
            basis,
        } => json!({
            "dossier_id": dossier_id.to_string(),
            "patient_ins": patient_ins.as_str(),
            "to": to,
            "basis": basis.name(),
            "basis_id": hex::encode(basis.id()),
        }),
        EntryKind::DossierDelivered {
            dossier_id,
            to,
            receipt,
        } => json!({
            "dossier_id": dossier_id.to_string(),
            "to": to,
            "receipt": hex::encode(receipt),
        }),
        EntryKind::DossierReceived {
            dossier_id,
            patient_ins,
            from,
            from_name,
        } => json!({
            "dossier_id": dossier_id.to_string(),
            "patient_ins": patient_ins.as_str(),
            "from": from,
            "from_name": from_name,
        }),
        EntryKind::DossierOpened {
            dossier_id,
            patient_ins,
            by,
        } => json!({
            "dossier_id": dossier_id.to_string(),
            "patient_ins": patient_ins.as_str(),
            "by": by,
        }),
        EntryKind::DossierExported {
            dossier_id,
            patient_ins,
            files,
        } => json!({
            "dossier_id": dossier_id.to_string(),
            "patient_ins": patient_ins.as_str(),
            "files": files,
        }),
        EntryKind::DossierErased {
            dossier_id,
            patient_ins,
            reason,
        } => json!({
            "dossier_id": dossier_id.to_string(),
            "patient_ins": patient_ins.as_str(),
            "reason": reason,
        }),
        EntryKind::RevocationSent {
            consent_id,
            dossier_id,
            to,
        } => json!({
            "consent_id": hex::encode(consent_id),
            "dossier_id": dossier_id.to_string(),
            "to": to,
        }),
        EntryKind::RevocationReceived {
            consent_id,
            dossier_id,
            from,
        } => json!({
            "consent_id": hex::encode(consent_id),
            "dossier_id": dossier_id.to_string(),
            "from": from,
        }),
        EntryKind::ErasureReceiptReceived {
            dossier_id,
            from,
            receipt,
        } => json!({
            "dossier_id": dossier_id.to_string(),
            "from": from,
            "receipt": hex::encode(receipt),
        }),
        EntryKind::RetentionPurge {
            dossier_id,
            patient_ins,
        } => json!({
            "dossier_id": dossier_id.to_string(),
            "patient_ins": patient_ins.as_str(),
        }),
        EntryKind::CredentialRenewed {
            old_fingerprint,
            old_not_after,
            new_fingerprint,
            new_not_after,
        } => json!({
            "old_fingerprint": hex::encode(old_fingerprint),
            "old_not_after": old_not_after.to_rfc3339(),
            "new_fingerprint": hex::encode(new_fingerprint),
            "new_not_after": new_not_after.to_rfc3339(),
        }),
        // Kinds added later show their name only until they are listed here.
        _ => json!({}),
    }
}

impl EntryView {
    /// The view of an entry.
    pub fn of(entry: &LedgerEntry) -> EntryView {
        let fields = match kind_fields(&entry.kind) {
            Value::Object(map) => map.into_iter().collect(),
            _ => BTreeMap::new(),
        };
        EntryView {
            seq: entry.seq,
            time: entry.time.to_rfc3339(),
            kind: entry.kind.name().to_owned(),
            hash: hex::encode(entry.hash()),
            prev_hash: hex::encode(entry.prev_hash),
            signature: hex::encode(entry.signature),
            fields,
        }
    }
}

/// The first problem a verification found.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProblemView {
    /// Stable code: `bad_signature`, `broken_link`, `seq_gap`, `reordered`,
    /// `bad_genesis`, `truncated_tail`, `malformed`, `checkpoint_mismatch`,
    /// `bad_checkpoint`, `missing_checkpoint` …
    pub code: String,
    /// The first bad entry, when one is named.
    pub seq: Option<u64>,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: String,
}

/// The outcome of a ledger verification.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct VerifyReport {
    /// Whether the whole chain verified.
    pub intact: bool,
    /// Entries verified (the genesis entry included); 0 when broken or empty.
    pub entries: u64,
    /// The last entry's sequence number, when intact and not empty.
    pub head_seq: Option<u64>,
    /// The last entry's hash, hex, when intact and not empty.
    pub head_hash: Option<String>,
    /// The practitioner the genesis entry names.
    pub national_id: Option<String>,
    /// The practitioner's name.
    pub name: Option<String>,
    /// What is wrong, when not intact.
    pub problem: Option<ProblemView>,
}

impl VerifyReport {
    /// The report of an intact chain (`None`: no ledger yet, which is intact).
    pub fn intact(summary: Option<&ChainSummary>) -> VerifyReport {
        VerifyReport {
            intact: true,
            entries: summary.map_or(0, |s| s.entries),
            head_seq: summary.map(|s| s.head_seq),
            head_hash: summary.map(|s| hex::encode(s.head_hash)),
            national_id: summary.map(|s| s.national_id.clone()),
            name: summary.map(|s| s.name.clone()),
            problem: None,
        }
    }

    /// The report of a broken chain.
    pub fn broken(error: &ChainError) -> VerifyReport {
        VerifyReport {
            intact: false,
            entries: 0,
            head_seq: None,
            head_hash: None,
            national_id: None,
            name: None,
            problem: Some(ProblemView {
                code: error.code().to_owned(),
                seq: error.seq(),
                message: error.to_string(),
                hint: error.hint().to_owned(),
            }),
        }
    }
}

/// A verification's outcome as a report: a broken chain is a report, any
/// other error stays an error.
pub fn report(
    result: Result<Option<ChainSummary>, LedgerError>,
) -> Result<VerifyReport, LedgerError> {
    match result {
        Ok(summary) => Ok(VerifyReport::intact(summary.as_ref())),
        Err(LedgerError::Broken(e)) => Ok(VerifyReport::broken(&e)),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_is_anchored_unless_every_signature_is_asked_for() {
        let q = |signatures, quick| VerifyQuery { signatures, quick };
        assert_eq!(q(None, None).signatures(), SignatureCheck::Anchored);
        assert_eq!(q(Some(false), None).signatures(), SignatureCheck::Anchored);
        assert_eq!(q(None, Some(true)).signatures(), SignatureCheck::Anchored);
        assert_eq!(q(Some(true), None).signatures(), SignatureCheck::Every);
    }
}
