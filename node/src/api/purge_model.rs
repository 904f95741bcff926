//! `POST /v1/purge`: erase dossiers past their retention period.

use serde::{Deserialize, Serialize};

use crate::daemon::purge::Purged;

/// The request.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PurgeRequest {
    /// Only list what would be erased.
    pub dry_run: bool,
}

/// One dossier past its retention period.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PurgedDossier {
    /// The dossier.
    pub dossier_id: String,
    /// `inbox` or `outbox`.
    pub box_name: String,
    /// The last event about it (RFC 3339).
    pub last_event: String,
    /// Whether it was erased (false in a dry run).
    pub erased: bool,
}

/// The answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PurgeReport {
    /// The retention period applied, in years.
    pub retention_years: u32,
    /// The dossiers past it.
    pub dossiers: Vec<PurgedDossier>,
}

impl PurgeReport {
    /// The API's view of what a purge did.
    pub(crate) fn of(purged: &Purged) -> Self {
        PurgeReport {
            retention_years: purged.retention_years,
            dossiers: purged
                .dossiers
                .iter()
                .map(|d| PurgedDossier {
                    dossier_id: d.dossier_id.to_string(),
                    box_name: d.box_name.to_owned(),
                    last_event: d.last_event.to_rfc3339(),
                    erased: d.erased,
                })
                .collect(),
        }
    }
}
