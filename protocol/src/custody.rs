//! Who may act on what a node holds under a dossier id.
//!
//! One id space names a node's own outgoing dossiers, its unfinished
//! inbound transfers and its inbox, and a colleague chooses the id it
//! offers or names in a revocation notice. Before acting on an id, the node
//! looks up what it holds under it ([`Held`]) and these functions decide,
//! against the practitioner its session verified:
//!
//! - [`answer_offer`]: an offer starts a transfer, resumes one, or gets the
//!   receipt of a dossier already received, and only from the practitioner
//!   who sent it; an id of the node's own outgoing dossiers is never taken
//!   (that would overwrite its key and chunks).
//! - [`revocation_scope`]: a revocation notice erases only a dossier (or an
//!   unfinished transfer) received from the notifier; for an id the node
//!   did not receive (unknown, or one of its own outgoing dossiers) it
//!   erases nothing.

/// What a node holds under a dossier id, as its records say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Held {
    /// Nothing.
    Nothing,
    /// One of the node's own outgoing dossiers (its outbox).
    Outbox,
    /// An inbound transfer not finished yet.
    Unfinished {
        /// The sender's national id, as its session verified it.
        from: String,
        /// The chunks its offer announced.
        chunk_count: u64,
    },
    /// A received dossier (in the inbox, erased or not).
    Received {
        /// The sender's national id, as its session verified it.
        from: String,
    },
}

/// What to do with an offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfferAnswer {
    /// A new transfer: check the quota, store the key, say Resume 0.
    Start,
    /// The transfer under way from this sender: resume where it stands.
    Resume,
    /// Received before from this sender: send its receipt again.
    AlreadyReceived,
}

/// What a revocation notice erases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Erasure {
    /// Nothing is erased: the node received no dossier of that id (the
    /// erasure receipt says it did not hold it).
    NotHeld,
    /// The unfinished transfer from the notifier: its key and chunks.
    Unfinished,
    /// The dossier received from the notifier: its key and chunks.
    Received,
}

/// Why a peer may not act on a dossier id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CustodyError {
    /// The id is one of this node's own outgoing dossiers.
    #[error("the dossier id is one of this node's own outgoing dossiers")]
    OwnDossier,
    /// The dossier was received from another practitioner.
    #[error("a dossier with this id was received from another practitioner")]
    ReceivedFromAnother,
    /// An unfinished transfer of this id comes from another practitioner.
    #[error("a transfer of a dossier with this id from another practitioner is under way")]
    UnfinishedFromAnother,
    /// The offer announces another length than the transfer under way.
    #[error("the offer announces {offered} chunks, the transfer under way {recorded}")]
    OtherLength {
        /// Announced by the transfer under way.
        recorded: u64,
        /// Announced by this offer.
        offered: u64,
    },
}

/// Whether the practitioner `peer` (the national id its session verified)
/// may get the receipt of a dossier this node received from
/// `recorded_sender` (the national id its inbox record keeps): only the
/// sender itself.
pub fn may_receive_receipt(recorded_sender: &str, peer: &str) -> Result<(), CustodyError> {
    if recorded_sender == peer {
        Ok(())
    } else {
        Err(CustodyError::ReceivedFromAnother)
    }
}

/// How to answer an offer of `offered_chunks` chunks from the practitioner
/// `peer` for an id under which the node holds `held`.
pub fn answer_offer(
    held: &Held,
    peer: &str,
    offered_chunks: u64,
) -> Result<OfferAnswer, CustodyError> {
    match held {
        Held::Nothing => Ok(OfferAnswer::Start),
        Held::Outbox => Err(CustodyError::OwnDossier),
        Held::Unfinished { from, chunk_count } => {
            if from != peer {
                return Err(CustodyError::UnfinishedFromAnother);
            }
            if *chunk_count != offered_chunks {
                return Err(CustodyError::OtherLength {
                    recorded: *chunk_count,
                    offered: offered_chunks,
                });
            }
            Ok(OfferAnswer::Resume)
        }
        Held::Received { from } => {
            may_receive_receipt(from, peer)?;
            Ok(OfferAnswer::AlreadyReceived)
        }
    }
}

/// What a revocation notice from the practitioner `notifier` (the
/// national id its session verified) erases, for an id under which the
/// node holds `held`. The notice itself (signature, sharer, recipient) is
/// checked by [`verify_notice`](crate::revocation::verify_notice).
pub fn revocation_scope(held: &Held, notifier: &str) -> Result<Erasure, CustodyError> {
    match held {
        Held::Nothing | Held::Outbox => Ok(Erasure::NotHeld),
        Held::Unfinished { from, .. } if from == notifier => Ok(Erasure::Unfinished),
        Held::Unfinished { .. } => Err(CustodyError::UnfinishedFromAnother),
        Held::Received { from } if from == notifier => Ok(Erasure::Received),
        Held::Received { .. } => Err(CustodyError::ReceivedFromAnother),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "810001000016";
    const C: &str = "810001000040";

    fn unfinished(from: &str) -> Held {
        Held::Unfinished {
            from: from.into(),
            chunk_count: 5,
        }
    }

    fn received(from: &str) -> Held {
        Held::Received { from: from.into() }
    }

    #[test]
    fn the_receipt_goes_only_to_the_sender() {
        assert_eq!(may_receive_receipt(A, A), Ok(()));
        assert_eq!(
            may_receive_receipt(A, C),
            Err(CustodyError::ReceivedFromAnother)
        );
    }

    #[test]
    fn an_offer_starts_resumes_or_gets_the_receipt_from_its_sender_only() {
        assert_eq!(answer_offer(&Held::Nothing, C, 5), Ok(OfferAnswer::Start));
        assert_eq!(answer_offer(&unfinished(A), A, 5), Ok(OfferAnswer::Resume));
        assert_eq!(
            answer_offer(&received(A), A, 9),
            Ok(OfferAnswer::AlreadyReceived)
        );
    }

    #[test]
    fn an_offer_for_a_dossier_received_from_another_is_refused() {
        assert_eq!(
            answer_offer(&received(A), C, 5),
            Err(CustodyError::ReceivedFromAnother)
        );
    }

    #[test]
    fn an_offer_for_a_transfer_under_way_from_another_is_refused() {
        assert_eq!(
            answer_offer(&unfinished(A), C, 5),
            Err(CustodyError::UnfinishedFromAnother)
        );
    }

    #[test]
    fn an_offer_of_another_length_than_the_transfer_under_way_is_refused() {
        assert_eq!(
            answer_offer(&unfinished(A), A, 6),
            Err(CustodyError::OtherLength {
                recorded: 5,
                offered: 6
            })
        );
    }

    #[test]
    fn an_offer_for_an_own_outgoing_dossier_is_refused() {
        assert_eq!(
            answer_offer(&Held::Outbox, A, 5),
            Err(CustodyError::OwnDossier)
        );
    }

    #[test]
    fn a_notice_erases_only_what_came_from_the_notifier() {
        assert_eq!(revocation_scope(&received(A), A), Ok(Erasure::Received));
        assert_eq!(revocation_scope(&unfinished(A), A), Ok(Erasure::Unfinished));
        assert_eq!(
            revocation_scope(&received(A), C),
            Err(CustodyError::ReceivedFromAnother)
        );
        assert_eq!(
            revocation_scope(&unfinished(A), C),
            Err(CustodyError::UnfinishedFromAnother)
        );
    }

    #[test]
    fn a_notice_for_an_id_not_received_erases_nothing() {
        assert_eq!(revocation_scope(&Held::Nothing, C), Ok(Erasure::NotHeld));
        assert_eq!(revocation_scope(&Held::Outbox, C), Ok(Erasure::NotHeld));
    }
}
