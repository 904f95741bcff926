//! The directory and the address book as the local API shows them:
//! `GET /v1/directory/{national_id}` ([`DirectoryRecord`]) and
//! `DELETE /v1/peers/{peer_id or national_id}`.

use serde::{Deserialize, Serialize};

/// API error code: no node publishes that national id in the directory
/// (HTTP 404; `confrere peers find` exits 4).
pub const NOT_PUBLISHED: &str = "not_published";

/// API error code: no address-book entry has that PeerId or national id
/// (HTTP 404; `confrere peers remove` exits 4).
pub const UNKNOWN_PEER: &str = "unknown_peer";

/// One verified directory record of a practitioner's node
/// (`GET /v1/directory/{national_id}`: one per node that publishes it).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DirectoryRecord {
    /// The practitioner's national id, from the node's credential.
    pub national_id: String,
    /// `GIVEN SURNAME`, from the card certificate.
    pub name: String,
    /// The profession's label, when the certificate gives one.
    pub profession: Option<String>,
    /// The TRE_G15 profession code, when the certificate gives one.
    pub profession_code: Option<u32>,
    /// The node's libp2p PeerId.
    pub peer_id: String,
    /// The node's addresses, each ending in `/p2p/PEER_ID`.
    pub addresses: Vec<String>,
    /// How the node is reached, from its addresses: `public` (a direct
    /// address outside private ranges), `relayed` (only through a relay)
    /// or `local network` (private or loopback addresses only).
    pub reachability: String,
    /// The record's sequence number (the newest per node is kept).
    pub sequence: u64,
    /// When the node published it (RFC 3339).
    pub published_at: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
}
