//! What the daemon keeps in its store, record by record. Every record is
//! encrypted at rest by the store; the dossiers' documents are kept only as
//! sealed chunks.

use serde::{Deserialize, Serialize};

/// State of an outbox item.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OutboxState {
    /// Sealed and waiting for the recipient to be reachable.
    Queued,
    /// A transfer is under way.
    Sending,
    /// The recipient's signed receipt is in.
    Delivered,
    /// Refused for good by the recipient (it will not be retried).
    Failed,
}

impl OutboxState {
    /// The name the API shows.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Queued => "queued",
            OutboxState::Sending => "sending",
            OutboxState::Delivered => "delivered",
            OutboxState::Failed => "failed",
        }
    }
}

/// A dossier this node sends.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OutboxRecord {
    /// Dossier id, hex.
    pub id: String,
    /// Recipient's national id.
    pub to: String,
    /// State.
    pub state: OutboxState,
    /// Last error, if any.
    pub last_error: Option<String>,
    /// Queued at (Unix seconds).
    pub created_at: i64,
    /// Receipt time (Unix seconds).
    pub delivered_at: Option<i64>,
    /// Number of sealed chunks.
    pub chunk_count: u64,
    /// Length of the plaintext content stream.
    pub content_len: u64,
    /// Sealed bytes in all.
    pub total_bytes: u64,
    /// Chunks the recipient has acknowledged holding (resume point).
    pub acked_chunks: u64,
    /// Attempts so far.
    pub attempts: u32,
    /// Not before this instant (Unix seconds) is the next attempt made.
    pub next_attempt: i64,
    /// The referral this answers.
    pub in_reply_to: Option<String>,
    /// The content digest, hex (to check the receipt).
    pub content_digest: String,
    /// The recipient's signed receipt, encoded, hex.
    pub receipt: Option<String>,
    /// The consent or care-team record the send cites (none for a reply).
    #[serde(default)]
    pub basis: Option<crate::consent::QueuedBasis>,
    /// The path the delivery took, as `ConnectionPath::as_str` words it
    /// ("direct", "hole punched", "relayed"); none before a delivery, and
    /// for records written before paths were kept.
    #[serde(default)]
    pub path: Option<String>,
}

/// Status of an inbox item.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum InboxStatus {
    /// Not opened yet.
    New,
    /// Its documents were written out at least once.
    Opened,
    /// Accepted.
    Accepted,
    /// Declined.
    Declined,
    /// Answered by a reply.
    Answered,
    /// Erased because the patient withdrew consent.
    Revoked,
}

impl InboxStatus {
    /// The name the API shows.
    pub fn as_str(self) -> &'static str {
        match self {
            InboxStatus::New => "new",
            InboxStatus::Opened => "opened",
            InboxStatus::Accepted => "accepted",
            InboxStatus::Declined => "declined",
            InboxStatus::Answered => "answered",
            InboxStatus::Revoked => "revoked",
        }
    }

    /// Whether the practitioner may move an item from this status to
    /// `next` (accept, decline, reply); if not, why. An erased dossier
    /// stays erased; a declined referral is not then accepted or answered,
    /// nor an answered one declined. Accepting or declining again is
    /// allowed (a decline's reason may be corrected).
    pub fn can_become(self, next: InboxStatus) -> Result<(), &'static str> {
        use InboxStatus::*;
        match (self, next) {
            (Revoked, _) => Err("the patient withdrew consent and this dossier was erased"),
            (Declined, Accepted | Answered) => Err("this referral was declined"),
            (Answered, Declined) => Err("this referral was answered already"),
            _ => Ok(()),
        }
    }
}

/// A document as the inbox lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DocumentRecord {
    /// Sanitised name.
    pub name: String,
    /// Media type.
    pub media_type: String,
    /// Size.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// A dossier this node received, complete and verified.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InboxRecord {
    /// Dossier id, hex.
    pub id: String,
    /// Sender's national id (as its session verified it).
    pub from: String,
    /// Sender's name (from its certificate).
    pub from_name: String,
    /// Patient INS.
    pub ins: String,
    /// Patient family name.
    pub family: String,
    /// Patient given names.
    pub given: String,
    /// Birth date.
    pub birth_date: String,
    /// Sex.
    pub sex: String,
    /// Reason for referral.
    pub reason: String,
    /// Urgent.
    pub urgent: bool,
    /// The letter.
    pub letter: String,
    /// Status.
    pub status: InboxStatus,
    /// Received at (Unix seconds).
    pub received_at: i64,
    /// The documents.
    pub documents: Vec<DocumentRecord>,
    /// The referral this answers.
    pub in_reply_to: Option<String>,
    /// Why it was declined.
    pub decline_reason: Option<String>,
    /// Chunks it is stored in.
    pub chunk_count: u64,
    /// The receipt this node signed, encoded, hex (sent again if the
    /// sender asks twice).
    pub receipt: String,
}

impl InboxRecord {
    /// Marks the item erased after the patient withdrew consent, and drops
    /// what it held of the patient beyond the INS the ledger keeps: names,
    /// birth date, reason, letter and the documents' names and hashes.
    pub fn erase(&mut self) {
        self.status = InboxStatus::Revoked;
        self.decline_reason = None;
        self.family.clear();
        self.given.clear();
        self.birth_date.clear();
        self.reason.clear();
        self.letter.clear();
        self.documents.clear();
    }
}

/// A transfer being received.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TransferRecord {
    /// Dossier id, hex.
    pub id: String,
    /// Sender's national id.
    pub from: String,
    /// Chunks announced.
    pub chunk_count: u64,
    /// Content length announced.
    pub content_len: u64,
    /// Started at (Unix seconds).
    pub started_at: i64,
}

#[cfg(test)]
mod status_tests {
    use super::InboxStatus::{self, *};

    #[test]
    fn inbox_status_moves() {
        let all = [New, Opened, Accepted, Declined, Answered, Revoked];
        for from in all {
            for to in [Accepted, Declined, Answered] {
                let allowed = from.can_become(to).is_ok();
                let expected = !matches!(
                    (from, to),
                    (Revoked, _) | (Declined, Accepted | Answered) | (Answered, Declined)
                );
                assert_eq!(allowed, expected, "{from:?} -> {to:?}");
            }
        }
        assert!(InboxStatus::Revoked
            .can_become(Accepted)
            .is_err_and(|why| why.contains("withdrew consent")));
    }
}
