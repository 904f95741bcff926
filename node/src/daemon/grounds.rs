//! Why a dossier may be queued: the proof [`sealing`](super::sealing)'s
//! queuing step takes, so that a send nobody checked does not compile.
//!
//! A dossier goes either under a record the consent policy checked for this
//! very patient, recipient and time (a [`CheckedShare`], which only
//! `consent::check_send` makes), or back to the colleague whose referral it
//! answers (a [`ReplyTo`], which only a referral received into the inbox
//! makes). A reply may also cite a record; it then goes under that record.

use confrere_protocol::dossier::{DossierId, Ins};
use confrere_protocol::ledger::ShareBasis;
use confrere_protocol::NationalId;

use super::error::OpError;
use super::records::InboxRecord;
use crate::consent::{CheckedShare, QueuedBasis};

/// A referral received into the inbox, to be answered: the dossier goes
/// back to its sender, about its patient. Made only from the inbox record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReplyTo {
    referral: DossierId,
    referrer: NationalId,
    patient: Ins,
}

impl ReplyTo {
    /// The reply to the referral `id`, whose inbox record is `rec`.
    pub(crate) fn referral(id: DossierId, rec: &InboxRecord) -> Result<Self, OpError> {
        if rec.id != id.to_string() {
            return Err(OpError::internal(format!(
                "the inbox record read for {id} is that of {}",
                rec.id
            )));
        }
        let damaged = |what: &str| {
            OpError::internal(format!(
                "the inbox record of {id} holds an invalid {what}: the store is damaged"
            ))
        };
        Ok(ReplyTo {
            referral: id,
            referrer: NationalId::parse(&rec.from).map_err(|_| damaged("sender"))?,
            patient: Ins::parse(&rec.ins).map_err(|_| damaged("patient INS"))?,
        })
    }

    /// The referral answered.
    pub(crate) fn referral_id(&self) -> DossierId {
        self.referral
    }

    /// Whether a dossier to `to` about `patient` answers this referral: it
    /// goes back to the referrer, about the same patient.
    pub(crate) fn answers(&self, to: &NationalId, patient: &Ins) -> bool {
        self.referrer == *to && self.patient == *patient
    }
}

/// The proof a dossier may be queued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Grounds {
    /// A record the consent policy checked for this share.
    Checked(CheckedShare),
    /// The answer to a referral, back to its sender (checked by
    /// [`Grounds::reply`]).
    Reply(Answer),
}

/// A [`ReplyTo`] whose recipient and patient were checked against the
/// dossier being queued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Answer(ReplyTo);

impl Grounds {
    /// A reply citing no record: allowed back to the referrer, about the
    /// referral's patient, and to no one else.
    pub(crate) fn reply(reply: ReplyTo, to: &NationalId, patient: &Ins) -> Result<Self, OpError> {
        if !reply.answers(to, patient) {
            return Err(OpError::ReplyElsewhere);
        }
        Ok(Grounds::Reply(Answer(reply)))
    }

    /// The basis the outbox keeps, re-checked before each delivery (a
    /// reply keeps none: it goes back to the referrer).
    pub(crate) fn queued(&self) -> Option<QueuedBasis> {
        match self {
            Grounds::Checked(share) => Some(share.queued()),
            Grounds::Reply(_) => None,
        }
    }

    /// The basis the ledger's `dossier_sent` entry names.
    pub(crate) fn ledger_basis(&self) -> ShareBasis {
        match self {
            Grounds::Checked(share) => share.ledger_basis(),
            Grounds::Reply(Answer(r)) => ShareBasis::Reply(r.referral),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::InboxStatus;

    fn inbox_record(id: DossierId, from: &str, ins: &str) -> InboxRecord {
        InboxRecord {
            id: id.to_string(),
            from: from.into(),
            from_name: "Dr Test".into(),
            ins: ins.into(),
            family: "MARTIN".into(),
            given: "Alice".into(),
            birth_date: "1980-05-17".into(),
            sex: "F".into(),
            reason: "avis".into(),
            urgent: false,
            letter: String::new(),
            status: InboxStatus::New,
            received_at: 0,
            documents: Vec::new(),
            in_reply_to: None,
            decline_reason: None,
            chunk_count: 0,
            receipt: String::new(),
        }
    }

    const REFERRER: &str = "810001000016";
    const OTHER: &str = "810002000015";
    const INS: &str = "285057512345623";

    #[test]
    fn a_reply_goes_back_to_the_referrer_about_its_patient_only() {
        let id = DossierId::random().expect("random");
        let reply = ReplyTo::referral(id, &inbox_record(id, REFERRER, INS)).expect("reply");
        assert_eq!(reply.referral_id(), id);
        let referrer = NationalId::parse(REFERRER).expect("id");
        let other = NationalId::parse(OTHER).expect("id");
        let ins = Ins::parse(INS).expect("ins");
        let grounds = Grounds::reply(reply.clone(), &referrer, &ins).expect("allowed");
        assert_eq!(grounds.ledger_basis(), ShareBasis::Reply(id));
        assert_eq!(grounds.queued(), None);
        assert!(matches!(
            Grounds::reply(reply.clone(), &other, &ins),
            Err(OpError::ReplyElsewhere)
        ));
        let another_patient = Ins::parse("269054958815780").expect("ins");
        assert!(matches!(
            Grounds::reply(reply, &referrer, &another_patient),
            Err(OpError::ReplyElsewhere)
        ));
    }

    #[test]
    fn a_reply_is_made_only_from_the_referral_s_own_damaged_or_not_record() {
        let id = DossierId::random().expect("random");
        let other_id = DossierId::random().expect("random");
        assert!(ReplyTo::referral(id, &inbox_record(other_id, REFERRER, INS)).is_err());
        assert!(ReplyTo::referral(id, &inbox_record(id, "not an id", INS)).is_err());
        assert!(ReplyTo::referral(id, &inbox_record(id, REFERRER, "123")).is_err());
    }
}
