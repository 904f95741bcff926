//! Consent revocation that reaches the recipients: the sharer's signed
//! notice and the recipient's signed erasure receipt.
//!
//! Flow:
//!
//! ```text
//! sharer's node → recipient's node   Notice  (signed by the sharer's node key)
//! recipient's node → sharer's node   Erased  (signed erasure receipt, held = true)
//!                                  | NotHeld (the same receipt with held = false:
//!                                             "I hold no such dossier")
//! ```
//!
//! 1. The patient withdraws consent. For every dossier shared under it,
//!    the sharer's node calls [`sign_notice`] with its libp2p Ed25519 key
//!    (behind [`NodeSigner`]) and sends [`RevocationMessage::Notice`] in a
//!    session with the recipient's node, now or when it is reachable again.
//! 2. The recipient's node calls [`verify_notice`] with what it knows: the
//!    PeerId its session verified, the sender (`from`) it recorded for the
//!    dossier, its own national id, and the dossier it holds under that id,
//!    if any. The notice must come from the practitioner who shared: the
//!    node also checks that the session's verified practitioner is that
//!    sender. Then it erases the dossier (key and data) and records it.
//! 3. It calls [`sign_erasure`] (`held` false when it held no such dossier,
//!    e.g. a transfer never completed or an earlier erasure) and sends
//!    [`RevocationMessage::Erased`]. A repeated notice gets a receipt again.
//! 4. The sharer calls [`verify_erasure`] with the dossier and consent it
//!    revoked and the PeerId its session verified for the recipient, and
//!    keeps the receipt as the proof the revocation reached the recipient.
//!
//! Signatures are Ed25519 by the node key whose PeerId the message names,
//! checked with the key the PeerId carries (see
//! [`ed25519_key_from_peer_id`]).
//!
//! Encoding (integers big-endian), one message per session message:
//!
//! ```text
//! message = version:u8 (=1) | tag:u8 | body | signature:[64]
//! Notice  tag 0x20: consent_id:[16] | dossier_id:[16] | sharer:bytes8 (≤ 32)
//!                   | recipient:bytes8 (≤ 32) | revoked_at:i64
//!                   | reason:bytes16 (≤ 1024, UTF-8, no control characters)
//!                   | sharer_peer_id:bytes8 (≤ 64)
//! Erased  tag 0x21: consent_id:[16] | dossier_id:[16] | recipient:bytes8 (≤ 32)
//!                   | erased_at:i64 | held:u8 (0 | 1)
//!                   | recipient_peer_id:bytes8 (≤ 64)
//! signed (Notice) = "confrere/revocation-notice/v1\0" | body
//! signed (Erased) = "confrere/erasure-receipt/v1\0" | body
//! ```
//!
//! The tags stay clear of the transfer messages' (1 to 5): a revocation
//! message given to [`TransferMessage::decode`](crate::transfer::TransferMessage::decode)
//! is [`DecodeError::UnknownTag`], and a transfer message given to
//! [`RevocationMessage::decode`] too.

use std::fmt;

use ring::signature::{UnparsedPublicKey, ED25519};

use crate::codec::{DecodeError, Reader, Writer};
use crate::credential::MAX_PEER_ID;
use crate::dossier::manifest::{DossierId, MAX_NATIONAL_ID_LEN};
use crate::identity::NationalId;
use crate::receipt::{ed25519_key_from_peer_id, NodeSigner, ReceiptError, SIGNATURE_LEN};
use crate::time::UnixTime;

/// Domain-separation string prefixed to a notice's signed body.
pub const NOTICE_DOMAIN: &[u8] = b"confrere/revocation-notice/v1\0";
/// Domain-separation string prefixed to an erasure receipt's signed body.
pub const ERASURE_DOMAIN: &[u8] = b"confrere/erasure-receipt/v1\0";
/// The revocation protocol version, first byte of every message.
pub const REVOCATION_VERSION: u8 = 1;
/// Tag of [`RevocationMessage::Notice`].
pub const TAG_NOTICE: u8 = 0x20;
/// Tag of [`RevocationMessage::Erased`].
pub const TAG_ERASED: u8 = 0x21;
/// Longest reason, in bytes.
pub const MAX_REASON_LEN: usize = 1024;
/// Longest encoded Notice message.
pub const MAX_NOTICE_LEN: usize = 2
    + 16
    + 16
    + 2 * (1 + MAX_NATIONAL_ID_LEN)
    + 8
    + (2 + MAX_REASON_LEN)
    + (1 + MAX_PEER_ID)
    + SIGNATURE_LEN;
/// Longest encoded Erased message.
pub const MAX_ERASURE_LEN: usize =
    2 + 16 + 16 + (1 + MAX_NATIONAL_ID_LEN) + 8 + 1 + (1 + MAX_PEER_ID) + SIGNATURE_LEN;

/// Why a revocation message is refused or could not be made. The messages
/// name no patient, dossier or practitioner.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// The bytes are not a revocation message, or a field is out of its
    /// domain.
    #[error("malformed revocation message: {0}")]
    Malformed(#[from] DecodeError),
    /// The message is signed by another node than the one the session
    /// verified.
    #[error("the revocation message is signed by another node than the session's peer")]
    OtherPeer,
    /// The notice names another sharer than the practitioner who sent the
    /// dossier.
    #[error("the revocation notice does not come from the practitioner who shared the dossier")]
    OtherSharer,
    /// The notice is addressed to another practitioner.
    #[error("the revocation notice is addressed to another practitioner")]
    OtherRecipient,
    /// The message is about another dossier.
    #[error("the revocation message is about another dossier")]
    OtherDossier,
    /// The erasure receipt is for another consent.
    #[error("the erasure receipt is for another consent")]
    OtherConsent,
    /// The signer's PeerId does not hold an Ed25519 key.
    #[error("the signer's PeerId does not carry an Ed25519 key")]
    NotEd25519PeerId,
    /// The signature does not verify under the PeerId's key.
    #[error("the revocation message's signature does not verify")]
    BadSignature,
    /// The node key could not sign.
    #[error("the node key could not sign the revocation message")]
    SignerFailed,
    /// The node key signed with another key than its PeerId's.
    #[error("the node key does not match its PeerId")]
    SignerKeyMismatch,
}

/// The sharer node's signed statement that the consent a dossier was
/// shared under is revoked, and the recipient must erase it.
#[derive(Clone, PartialEq, Eq)]
pub struct RevocationNotice {
    /// The revoked consent.
    pub consent_id: [u8; 16],
    /// The dossier shared under it, to erase.
    pub dossier_id: DossierId,
    /// The sharer's national id (the dossier manifest's `from`).
    pub sharer: String,
    /// The recipient's national id (the dossier manifest's `to`).
    pub recipient: String,
    /// When the consent was revoked, by the sharer's clock.
    pub revoked_at: UnixTime,
    /// Why, as the sharer wrote it (≤ [`MAX_REASON_LEN`] bytes, no control
    /// characters; may be empty).
    pub reason: String,
    /// The sharer node's PeerId, whose key signs.
    pub sharer_peer_id: Vec<u8>,
    /// Ed25519 signature over [`NOTICE_DOMAIN`] and the body.
    pub signature: [u8; 64],
}

impl fmt::Debug for RevocationNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The reason is free text and may say something about the patient.
        f.debug_struct("RevocationNotice")
            .field("consent_id", &hex(&self.consent_id))
            .field("dossier_id", &self.dossier_id)
            .field("sharer", &self.sharer)
            .field("recipient", &self.recipient)
            .field("revoked_at", &self.revoked_at)
            .field("reason_len", &self.reason.len())
            .finish_non_exhaustive()
    }
}

/// The recipient node's signed statement that it erased a dossier after a
/// revocation notice (`held` true), or that it held no such dossier
/// (`held` false).
#[derive(Clone, PartialEq, Eq)]
pub struct ErasureReceipt {
    /// The revoked consent, as the notice named it.
    pub consent_id: [u8; 16],
    /// The dossier erased.
    pub dossier_id: DossierId,
    /// The recipient's national id.
    pub recipient: String,
    /// When the recipient erased it (or found it did not hold it), by its
    /// clock.
    pub erased_at: UnixTime,
    /// Whether the recipient held the dossier; false when it held no such
    /// dossier (a transfer never completed, or an earlier erasure).
    pub held: bool,
    /// The recipient node's PeerId, whose key signs.
    pub recipient_peer_id: Vec<u8>,
    /// Ed25519 signature over [`ERASURE_DOMAIN`] and the body.
    pub signature: [u8; 64],
}

impl fmt::Debug for ErasureReceipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErasureReceipt")
            .field("consent_id", &hex(&self.consent_id))
            .field("dossier_id", &self.dossier_id)
            .field("recipient", &self.recipient)
            .field("erased_at", &self.erased_at)
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_national_id(id: &str, field: &'static str) -> Result<(), DecodeError> {
    if id.len() > MAX_NATIONAL_ID_LEN {
        return Err(DecodeError::TooLong);
    }
    NationalId::parse(id).map_err(|_| DecodeError::Invalid(field))?;
    Ok(())
}

fn check_peer_id(peer_id: &[u8]) -> Result<(), DecodeError> {
    if peer_id.len() > MAX_PEER_ID {
        return Err(DecodeError::TooLong);
    }
    Ok(())
}

fn check_reason(reason: &str) -> Result<(), DecodeError> {
    if reason.len() > MAX_REASON_LEN {
        return Err(DecodeError::TooLong);
    }
    if reason.chars().any(char::is_control) {
        return Err(DecodeError::Invalid("reason"));
    }
    Ok(())
}

fn text(bytes: &[u8], field: &'static str) -> Result<String, DecodeError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| DecodeError::Invalid(field))
}

fn signature_array(signature: &[u8]) -> Result<[u8; 64], RevocationError> {
    signature
        .try_into()
        .map_err(|_| RevocationError::SignerKeyMismatch)
}

fn sign_with(signer: &dyn NodeSigner, msg: &[u8]) -> Result<[u8; 64], RevocationError> {
    let signature = signer.sign(msg).map_err(|e| match e {
        ReceiptError::SignerKeyMismatch => RevocationError::SignerKeyMismatch,
        _ => RevocationError::SignerFailed,
    })?;
    signature_array(&signature)
}

fn check_signature(
    peer_id: &[u8],
    msg: &[u8],
    signature: &[u8; 64],
) -> Result<(), RevocationError> {
    let key = ed25519_key_from_peer_id(peer_id).ok_or(RevocationError::NotEd25519PeerId)?;
    UnparsedPublicKey::new(&ED25519, key)
        .verify(msg, signature)
        .map_err(|_| RevocationError::BadSignature)
}

/// A signature made right now must verify: otherwise the signer's key is
/// not its PeerId's.
fn self_check(peer_id: &[u8], msg: &[u8], signature: &[u8; 64]) -> Result<(), RevocationError> {
    check_signature(peer_id, msg, signature).map_err(|e| match e {
        RevocationError::BadSignature => RevocationError::SignerKeyMismatch,
        other => other,
    })
}

impl RevocationNotice {
    fn check_fields(&self) -> Result<(), DecodeError> {
        check_national_id(&self.sharer, "sharer national id")?;
        check_national_id(&self.recipient, "recipient national id")?;
        check_reason(&self.reason)?;
        check_peer_id(&self.sharer_peer_id)
    }

    fn write_body(&self, w: &mut Writer) {
        w.raw(&self.consent_id)
            .raw(self.dossier_id.as_bytes())
            .bytes8(self.sharer.as_bytes())
            .bytes8(self.recipient.as_bytes())
            .i64(self.revoked_at.as_secs())
            .bytes16(self.reason.as_bytes())
            .bytes8(&self.sharer_peer_id);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let notice = RevocationNotice {
            consent_id: r.array()?,
            dossier_id: DossierId(r.array()?),
            sharer: text(r.bytes8(MAX_NATIONAL_ID_LEN)?, "sharer national id")?,
            recipient: text(r.bytes8(MAX_NATIONAL_ID_LEN)?, "recipient national id")?,
            revoked_at: UnixTime::from_secs(r.i64()?),
            reason: text(r.bytes16(MAX_REASON_LEN)?, "reason")?,
            sharer_peer_id: r.bytes8(MAX_PEER_ID)?.to_vec(),
            signature: r.array()?,
        };
        notice.check_fields()?;
        Ok(notice)
    }

    /// What the sharer's node key signs: [`NOTICE_DOMAIN`] and the body.
    pub fn signed_message(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.raw(NOTICE_DOMAIN);
        self.write_body(&mut w);
        w.finish()
    }
}

impl ErasureReceipt {
    fn check_fields(&self) -> Result<(), DecodeError> {
        check_national_id(&self.recipient, "recipient national id")?;
        check_peer_id(&self.recipient_peer_id)
    }

    fn write_body(&self, w: &mut Writer) {
        w.raw(&self.consent_id)
            .raw(self.dossier_id.as_bytes())
            .bytes8(self.recipient.as_bytes())
            .i64(self.erased_at.as_secs())
            .u8(u8::from(self.held))
            .bytes8(&self.recipient_peer_id);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let consent_id = r.array()?;
        let dossier_id = DossierId(r.array()?);
        let recipient = text(r.bytes8(MAX_NATIONAL_ID_LEN)?, "recipient national id")?;
        let erased_at = UnixTime::from_secs(r.i64()?);
        let held = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(DecodeError::Invalid("held flag")),
        };
        let receipt = ErasureReceipt {
            consent_id,
            dossier_id,
            recipient,
            erased_at,
            held,
            recipient_peer_id: r.bytes8(MAX_PEER_ID)?.to_vec(),
            signature: r.array()?,
        };
        receipt.check_fields()?;
        Ok(receipt)
    }

    /// What the recipient's node key signs: [`ERASURE_DOMAIN`] and the body.
    pub fn signed_message(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.raw(ERASURE_DOMAIN);
        self.write_body(&mut w);
        w.finish()
    }
}

/// One message of the revocation protocol; one per session message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevocationMessage {
    /// Sharer → recipient: the consent is revoked, erase the dossier.
    Notice(RevocationNotice),
    /// Recipient → sharer: erased, or not held.
    Erased(ErasureReceipt),
}

impl RevocationMessage {
    /// The message's name, for errors and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            RevocationMessage::Notice(_) => "Notice",
            RevocationMessage::Erased(r) if r.held => "Erased",
            RevocationMessage::Erased(_) => "NotHeld",
        }
    }

    /// Wire encoding. Fields out of bounds are refused (the signature is
    /// not checked: see [`verify_notice`] and [`verify_erasure`]).
    pub fn encode(&self) -> Result<Vec<u8>, DecodeError> {
        let mut w = Writer::new();
        w.u8(REVOCATION_VERSION);
        match self {
            RevocationMessage::Notice(n) => {
                n.check_fields()?;
                w.u8(TAG_NOTICE);
                n.write_body(&mut w);
                w.raw(&n.signature);
            }
            RevocationMessage::Erased(e) => {
                e.check_fields()?;
                w.u8(TAG_ERASED);
                e.write_body(&mut w);
                w.raw(&e.signature);
            }
        }
        Ok(w.finish())
    }

    /// Decodes a message (signature not checked). Input longer than the
    /// longest message is refused before it is read.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != REVOCATION_VERSION {
            return Err(DecodeError::Version(version));
        }
        let msg = match r.u8()? {
            TAG_NOTICE => {
                if bytes.len() > MAX_NOTICE_LEN {
                    return Err(DecodeError::TooLong);
                }
                RevocationMessage::Notice(RevocationNotice::read(&mut r)?)
            }
            TAG_ERASED => {
                if bytes.len() > MAX_ERASURE_LEN {
                    return Err(DecodeError::TooLong);
                }
                RevocationMessage::Erased(ErasureReceipt::read(&mut r)?)
            }
            tag => return Err(DecodeError::UnknownTag(tag)),
        };
        r.finish()?;
        Ok(msg)
    }
}

/// Signs a revocation notice with the sharer node's key. The signature is
/// checked under the signer's PeerId before the notice is returned.
pub fn sign_notice(
    signer: &dyn NodeSigner,
    consent_id: [u8; 16],
    dossier_id: DossierId,
    sharer: &str,
    recipient: &str,
    revoked_at: UnixTime,
    reason: &str,
) -> Result<RevocationNotice, RevocationError> {
    let mut notice = RevocationNotice {
        consent_id,
        dossier_id,
        sharer: sharer.to_owned(),
        recipient: recipient.to_owned(),
        revoked_at,
        reason: reason.to_owned(),
        sharer_peer_id: signer.peer_id(),
        signature: [0; 64],
    };
    notice.check_fields()?;
    let msg = notice.signed_message();
    notice.signature = sign_with(signer, &msg)?;
    self_check(&notice.sharer_peer_id, &msg, &notice.signature)?;
    Ok(notice)
}

/// Verifies a notice on the recipient's side: "the notice must come from
/// the practitioner who shared".
///
/// - `expected_sharer_peer_id`: the PeerId the session verified (its
///   credential binds it); the notice's signer must be that node.
/// - `expected_sharer_national_id`: the dossier's sender (`from`) as the
///   recipient recorded it; the notice's sharer must be that practitioner.
///   The node checks separately that the session's verified practitioner
///   is that sender. When the recipient holds no such dossier, it has no
///   recorded sender and passes the session's verified practitioner.
/// - `expected_recipient`: the recipient's own national id.
/// - `held_dossier`: the dossier the recipient holds under the notice's
///   dossier id, if any; it must be that dossier.
///
/// Then the signature, under the key the PeerId carries.
pub fn verify_notice(
    notice: &RevocationNotice,
    expected_sharer_peer_id: &[u8],
    expected_sharer_national_id: &str,
    expected_recipient: &str,
    held_dossier: Option<&DossierId>,
) -> Result<(), RevocationError> {
    notice.check_fields()?;
    if notice.sharer_peer_id.as_slice() != expected_sharer_peer_id {
        return Err(RevocationError::OtherPeer);
    }
    if notice.sharer != expected_sharer_national_id {
        return Err(RevocationError::OtherSharer);
    }
    if notice.recipient != expected_recipient {
        return Err(RevocationError::OtherRecipient);
    }
    if let Some(held) = held_dossier {
        if held != &notice.dossier_id {
            return Err(RevocationError::OtherDossier);
        }
    }
    check_signature(
        &notice.sharer_peer_id,
        &notice.signed_message(),
        &notice.signature,
    )
}

/// Signs an erasure receipt with the recipient node's key: `held` true
/// after erasing the dossier, false when it held no such dossier. The
/// signature is checked under the signer's PeerId before the receipt is
/// returned.
pub fn sign_erasure(
    signer: &dyn NodeSigner,
    consent_id: [u8; 16],
    dossier_id: DossierId,
    recipient: &str,
    erased_at: UnixTime,
    held: bool,
) -> Result<ErasureReceipt, RevocationError> {
    let mut receipt = ErasureReceipt {
        consent_id,
        dossier_id,
        recipient: recipient.to_owned(),
        erased_at,
        held,
        recipient_peer_id: signer.peer_id(),
        signature: [0; 64],
    };
    receipt.check_fields()?;
    let msg = receipt.signed_message();
    receipt.signature = sign_with(signer, &msg)?;
    self_check(&receipt.recipient_peer_id, &msg, &receipt.signature)?;
    Ok(receipt)
}

/// Verifies an erasure receipt on the sharer's side against what it knows:
/// the dossier and consent of the notice it sent, and the PeerId its
/// session verified for the recipient. Then the signature, under the key
/// the PeerId carries. Whether the recipient held the dossier is the
/// receipt's `held`.
pub fn verify_erasure(
    receipt: &ErasureReceipt,
    expected_dossier: &DossierId,
    expected_consent: &[u8; 16],
    expected_recipient_peer_id: &[u8],
) -> Result<(), RevocationError> {
    receipt.check_fields()?;
    if &receipt.dossier_id != expected_dossier {
        return Err(RevocationError::OtherDossier);
    }
    if &receipt.consent_id != expected_consent {
        return Err(RevocationError::OtherConsent);
    }
    if receipt.recipient_peer_id.as_slice() != expected_recipient_peer_id {
        return Err(RevocationError::OtherPeer);
    }
    check_signature(
        &receipt.recipient_peer_id,
        &receipt.signed_message(),
        &receipt.signature,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::Ed25519KeyPair;

    const GP: &str = "810001000016";
    const CARDIO: &str = "810001000024";

    fn key(seed: u8) -> Ed25519KeyPair {
        Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).expect("seed")
    }

    #[test]
    fn lengths_bound_the_largest_messages() {
        let long_id = "3".repeat(MAX_NATIONAL_ID_LEN);
        let notice = RevocationNotice {
            consent_id: [1; 16],
            dossier_id: DossierId([2; 16]),
            sharer: long_id.clone(),
            recipient: long_id.clone(),
            revoked_at: UnixTime::from_secs(0),
            reason: "é".repeat(MAX_REASON_LEN / 2),
            sharer_peer_id: vec![0; MAX_PEER_ID],
            signature: [3; 64],
        };
        let bytes = RevocationMessage::Notice(notice.clone())
            .encode()
            .expect("encodes");
        assert_eq!(bytes.len(), MAX_NOTICE_LEN);
        assert_eq!(
            RevocationMessage::decode(&bytes),
            Ok(RevocationMessage::Notice(notice))
        );
        let receipt = ErasureReceipt {
            consent_id: [1; 16],
            dossier_id: DossierId([2; 16]),
            recipient: long_id,
            erased_at: UnixTime::from_secs(0),
            held: true,
            recipient_peer_id: vec![0; MAX_PEER_ID],
            signature: [3; 64],
        };
        let bytes = RevocationMessage::Erased(receipt.clone())
            .encode()
            .expect("encodes");
        assert_eq!(bytes.len(), MAX_ERASURE_LEN);
        assert_eq!(
            RevocationMessage::decode(&bytes),
            Ok(RevocationMessage::Erased(receipt))
        );
    }

    #[test]
    fn reason_bounds() {
        assert_eq!(check_reason(""), Ok(()));
        assert_eq!(check_reason(&"a".repeat(MAX_REASON_LEN)), Ok(()));
        assert_eq!(
            check_reason(&"a".repeat(MAX_REASON_LEN + 1)),
            Err(DecodeError::TooLong)
        );
        for bad in ["a\nb", "\u{7f}", "tab\t", "\u{85}"] {
            assert_eq!(check_reason(bad), Err(DecodeError::Invalid("reason")));
        }
        assert_eq!(check_reason("Retrait du consentement — patient"), Ok(()));
    }

    #[test]
    fn kinds_and_debug_hide_the_reason() {
        let n = sign_notice(
            &key(1),
            [1; 16],
            DossierId([2; 16]),
            GP,
            CARDIO,
            UnixTime::from_secs(5),
            "secret-reason",
        )
        .expect("signs");
        let dbg = format!("{n:?}");
        assert!(!dbg.contains("secret-reason") && !dbg.contains("signature"));
        assert_eq!(RevocationMessage::Notice(n).kind(), "Notice");
        let held = sign_erasure(
            &key(2),
            [1; 16],
            DossierId([2; 16]),
            CARDIO,
            UnixTime::from_secs(6),
            true,
        )
        .expect("signs");
        let mut not_held = held.clone();
        not_held.held = false;
        assert_eq!(RevocationMessage::Erased(held).kind(), "Erased");
        assert_eq!(RevocationMessage::Erased(not_held).kind(), "NotHeld");
    }

    #[test]
    fn oversized_input_is_refused_before_reading() {
        let mut bytes = vec![REVOCATION_VERSION, TAG_ERASED];
        bytes.resize(MAX_ERASURE_LEN + 1, 0);
        assert_eq!(RevocationMessage::decode(&bytes), Err(DecodeError::TooLong));
        let mut bytes = vec![REVOCATION_VERSION, TAG_NOTICE];
        bytes.resize(MAX_NOTICE_LEN + 1, 0);
        assert_eq!(RevocationMessage::decode(&bytes), Err(DecodeError::TooLong));
    }
}
