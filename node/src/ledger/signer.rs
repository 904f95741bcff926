//! The node's libp2p identity key as the ledger's signer.

use confrere_protocol::receipt::{NodeSigner, ReceiptError};

/// Signs ledger entries (and checkpoints, receipts) with the node's libp2p
/// identity key. `Debug` shows the PeerId, never the key.
#[derive(Clone)]
pub struct Libp2pNodeSigner {
    key: libp2p_identity::Keypair,
    peer_id: Vec<u8>,
}

impl Libp2pNodeSigner {
    /// A signer over the node's identity key (`Home::libp2p`).
    pub fn new(key: libp2p_identity::Keypair) -> Self {
        let peer_id = key.public().to_peer_id().to_bytes();
        Libp2pNodeSigner { key, peer_id }
    }
}

impl std::fmt::Debug for Libp2pNodeSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Libp2pNodeSigner")
            .field("peer_id", &self.key.public().to_peer_id())
            .finish_non_exhaustive()
    }
}

impl NodeSigner for Libp2pNodeSigner {
    fn peer_id(&self) -> Vec<u8> {
        self.peer_id.clone()
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ReceiptError> {
        self.key.sign(msg).map_err(|_| ReceiptError::SignerFailed)
    }
}
