//! The signed delivery receipt: the recipient node's statement that it
//! received, verified and durably stored a dossier.
//!
//! Flow:
//!
//! 1. The recipient's node has opened every chunk of the dossier, checked
//!    it against its manifest ([`ContentOpener`](crate::dossier::ContentOpener)
//!    gives the content digest) and stored it durably.
//! 2. It calls [`sign_receipt`] with its libp2p Ed25519 identity key
//!    (behind [`NodeSigner`]: this crate has no libp2p) and sends the
//!    receipt in the transfer's `Complete`. It keeps the receipt, to answer
//!    a repeated offer of the same dossier with the same `Complete`.
//! 3. The sender calls [`verify_receipt`] with what it knows: the dossier
//!    id, the PeerId its session's verified credential binds, and the
//!    content digest its sealer computed. A verified receipt goes to the
//!    ledger as the proof of the share.
//!
//! The Ed25519 public key comes out of the PeerId itself: a libp2p PeerId
//! of an Ed25519 key is the identity multihash of the key's protobuf
//! encoding, `0x00 0x24 | 0x08 0x01 0x12 0x20 | key:[32]`.
//!
//! Encoding (integers big-endian):
//!
//! ```text
//! body    = version:u8 (=1) | dossier_id:[16] | sender:bytes8 (≤ 32)
//!         | recipient:bytes8 (≤ 32) | content_digest:[32] | received_at:i64
//!         | recipient_peer_id:bytes8 (≤ 64)
//! receipt = body | signature:[64]
//! signed  = "confrere/delivery-receipt/v1\0" | body
//! ```

use std::fmt;

use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

use crate::codec::{DecodeError, Reader, Writer};
use crate::credential::MAX_PEER_ID;
use crate::dossier::manifest::{DossierId, MAX_NATIONAL_ID_LEN};
use crate::identity::NationalId;
use crate::time::UnixTime;

/// Domain-separation string prefixed to the signed body.
pub const RECEIPT_DOMAIN: &[u8] = b"confrere/delivery-receipt/v1\0";
/// The receipt format version.
pub const RECEIPT_VERSION: u8 = 1;
/// Ed25519 signature length.
pub const SIGNATURE_LEN: usize = 64;
/// Longest encoded receipt.
pub const MAX_RECEIPT_LEN: usize =
    1 + 16 + 2 * (1 + MAX_NATIONAL_ID_LEN) + 32 + 8 + (1 + MAX_PEER_ID) + SIGNATURE_LEN;

/// The bytes before the key in the PeerId of an Ed25519 key: identity
/// multihash (code 0, length 36) of the protobuf `PublicKey { Type:
/// Ed25519, Data: 32 bytes }`.
const ED25519_PEER_ID_PREFIX: [u8; 6] = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];

/// Why a receipt is refused or could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// The bytes are not a receipt, or a field is out of its domain.
    #[error("malformed delivery receipt: {0}")]
    Malformed(#[from] DecodeError),
    /// The receipt is for another dossier.
    #[error("the delivery receipt is for another dossier")]
    OtherDossier,
    /// The receipt names another node than the recipient's.
    #[error("the delivery receipt comes from another node than the recipient's")]
    OtherPeer,
    /// The receipt binds other content than what was sent.
    #[error("the delivery receipt acknowledges other content than what was sent")]
    OtherContent,
    /// The PeerId does not hold an Ed25519 key.
    #[error("the recipient's PeerId does not carry an Ed25519 key")]
    NotEd25519PeerId,
    /// The signature does not verify under the PeerId's key.
    #[error("the delivery receipt's signature does not verify")]
    BadSignature,
    /// The node key could not sign.
    #[error("the node key could not sign the receipt")]
    SignerFailed,
    /// The node key signed with another key than its PeerId's.
    #[error("the node key does not match its PeerId")]
    SignerKeyMismatch,
}

/// The node's libp2p identity key, as far as receipts need it. The node
/// implements it over its `libp2p::identity::Keypair`.
pub trait NodeSigner {
    /// The node's PeerId, as bytes.
    fn peer_id(&self) -> Vec<u8>;
    /// An Ed25519 signature of `msg` (64 bytes).
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ReceiptError>;
}

impl NodeSigner for Ed25519KeyPair {
    fn peer_id(&self) -> Vec<u8> {
        let mut key = [0u8; 32];
        key.copy_from_slice(self.public_key().as_ref());
        peer_id_from_ed25519_key(&key)
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ReceiptError> {
        Ok(Ed25519KeyPair::sign(self, msg).as_ref().to_vec())
    }
}

/// The Ed25519 public key a PeerId carries, if it is the PeerId of an
/// Ed25519 key.
pub fn ed25519_key_from_peer_id(peer_id: &[u8]) -> Option<[u8; 32]> {
    let key = peer_id.strip_prefix(&ED25519_PEER_ID_PREFIX[..])?;
    key.try_into().ok()
}

/// The PeerId of an Ed25519 public key.
pub fn peer_id_from_ed25519_key(key: &[u8; 32]) -> Vec<u8> {
    [&ED25519_PEER_ID_PREFIX[..], key].concat()
}

/// A recipient node's signed statement that it holds a dossier.
#[derive(Clone, PartialEq, Eq)]
pub struct DeliveryReceipt {
    /// The dossier received.
    pub dossier_id: DossierId,
    /// The sender's national id (the manifest's `from`).
    pub sender: String,
    /// The recipient's national id (the manifest's `to`).
    pub recipient: String,
    /// The content digest
    /// ([`ContentSummary::content_digest`](crate::dossier::ContentSummary)):
    /// it binds the manifest, hence every document's size and SHA-256.
    pub content_digest: [u8; 32],
    /// When the recipient stored it, by its clock.
    pub received_at: UnixTime,
    /// The recipient node's PeerId, whose key signs.
    pub recipient_peer_id: Vec<u8>,
    /// Ed25519 signature over [`RECEIPT_DOMAIN`] and the body.
    pub signature: [u8; 64],
}

impl fmt::Debug for DeliveryReceipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hash: String = self.content_digest[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        f.debug_struct("DeliveryReceipt")
            .field("dossier_id", &self.dossier_id)
            .field("sender", &self.sender)
            .field("recipient", &self.recipient)
            .field("content_digest", &format_args!("{hash}…"))
            .field("received_at", &self.received_at)
            .finish_non_exhaustive()
    }
}

fn check_fields(sender: &str, recipient: &str, peer_id: &[u8]) -> Result<(), DecodeError> {
    NationalId::parse(sender).map_err(|_| DecodeError::Invalid("sender national id"))?;
    NationalId::parse(recipient).map_err(|_| DecodeError::Invalid("recipient national id"))?;
    if sender.len() > MAX_NATIONAL_ID_LEN || recipient.len() > MAX_NATIONAL_ID_LEN {
        return Err(DecodeError::TooLong);
    }
    if peer_id.len() > MAX_PEER_ID {
        return Err(DecodeError::TooLong);
    }
    Ok(())
}

impl DeliveryReceipt {
    fn body(&self) -> Writer {
        let mut w = Writer::new();
        w.u8(RECEIPT_VERSION)
            .raw(self.dossier_id.as_bytes())
            .bytes8(self.sender.as_bytes())
            .bytes8(self.recipient.as_bytes())
            .raw(&self.content_digest)
            .i64(self.received_at.as_secs())
            .bytes8(&self.recipient_peer_id);
        w
    }

    /// What the recipient's node key signs: [`RECEIPT_DOMAIN`] and the body.
    pub fn signed_message(&self) -> Vec<u8> {
        [RECEIPT_DOMAIN, &self.body().finish()].concat()
    }

    /// Wire encoding. Fields out of bounds are refused.
    pub fn encode(&self) -> Result<Vec<u8>, ReceiptError> {
        check_fields(&self.sender, &self.recipient, &self.recipient_peer_id)?;
        let mut w = self.body();
        w.raw(&self.signature);
        Ok(w.finish())
    }

    /// Decodes a receipt (signature not checked: see [`verify_receipt`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != RECEIPT_VERSION {
            return Err(DecodeError::Version(version));
        }
        let dossier_id = DossierId(r.array()?);
        let sender = text(r.bytes8(MAX_NATIONAL_ID_LEN)?, "sender national id")?;
        let recipient = text(r.bytes8(MAX_NATIONAL_ID_LEN)?, "recipient national id")?;
        let content_digest = r.array()?;
        let received_at = UnixTime::from_secs(r.i64()?);
        let recipient_peer_id = r.bytes8(MAX_PEER_ID)?.to_vec();
        let signature = r.array()?;
        r.finish()?;
        check_fields(&sender, &recipient, &recipient_peer_id)?;
        Ok(DeliveryReceipt {
            dossier_id,
            sender,
            recipient,
            content_digest,
            received_at,
            recipient_peer_id,
            signature,
        })
    }
}

fn text(bytes: &[u8], field: &'static str) -> Result<String, DecodeError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| DecodeError::Invalid(field))
}

/// Signs a receipt with the recipient node's key. The signature is
/// checked under the signer's PeerId before the receipt is returned.
pub fn sign_receipt(
    signer: &dyn NodeSigner,
    dossier_id: DossierId,
    sender: &str,
    recipient: &str,
    content_digest: [u8; 32],
    received_at: UnixTime,
) -> Result<DeliveryReceipt, ReceiptError> {
    let recipient_peer_id = signer.peer_id();
    check_fields(sender, recipient, &recipient_peer_id)?;
    let mut receipt = DeliveryReceipt {
        dossier_id,
        sender: sender.to_owned(),
        recipient: recipient.to_owned(),
        content_digest,
        received_at,
        recipient_peer_id,
        signature: [0; 64],
    };
    let signature = signer.sign(&receipt.signed_message())?;
    receipt.signature = signature
        .as_slice()
        .try_into()
        .map_err(|_| ReceiptError::SignerKeyMismatch)?;
    check_signature(&receipt).map_err(|e| match e {
        ReceiptError::BadSignature => ReceiptError::SignerKeyMismatch,
        other => other,
    })?;
    Ok(receipt)
}

fn check_signature(receipt: &DeliveryReceipt) -> Result<(), ReceiptError> {
    let key = ed25519_key_from_peer_id(&receipt.recipient_peer_id)
        .ok_or(ReceiptError::NotEd25519PeerId)?;
    UnparsedPublicKey::new(&ED25519, key)
        .verify(&receipt.signed_message(), &receipt.signature)
        .map_err(|_| ReceiptError::BadSignature)
}

/// Verifies a receipt against what the sender knows: the dossier it sent,
/// the PeerId its session's verified credential binds for the recipient,
/// and the content digest its sealer computed. Then the signature, under
/// the key the PeerId carries.
pub fn verify_receipt(
    receipt: &DeliveryReceipt,
    expected_dossier: &DossierId,
    expected_recipient_peer_id: &[u8],
    expected_content_digest: &[u8; 32],
) -> Result<(), ReceiptError> {
    if &receipt.dossier_id != expected_dossier {
        return Err(ReceiptError::OtherDossier);
    }
    if receipt.recipient_peer_id.as_slice() != expected_recipient_peer_id {
        return Err(ReceiptError::OtherPeer);
    }
    if &receipt.content_digest != expected_content_digest {
        return Err(ReceiptError::OtherContent);
    }
    check_signature(receipt)
}
