//! The session configuration in force, which changes while the node runs.
//!
//! A node's sessions verify peers against trust material (anchors,
//! intermediates, CRLs) and present the node credential. Both change under
//! a running node: a CA reissues its CRL every few days, and a practitioner
//! renews the card. [`LiveSession`] holds the configuration in force; each
//! handshake and each directory record takes the one in force when it
//! starts, and whoever must react to a change (closing the sessions of a
//! peer whose card a new CRL revokes, republishing the directory record
//! under a renewed credential) subscribes with [`LiveSession::subscribe`].
//!
//! The node's keys (Noise static key, libp2p identity) never change here:
//! a renewed credential binds the same keys.

use std::fmt;
use std::sync::Arc;

use confrere_protocol::credential::NodeCredential;
use confrere_protocol::session::SessionConfig;
use confrere_protocol::TrustStore;
use tokio::sync::watch;

/// The session configuration in force; cheap to share.
pub struct LiveSession {
    current: watch::Sender<Arc<SessionConfig>>,
}

impl fmt::Debug for LiveSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveSession")
            .field("current", &*self.current.borrow())
            .finish()
    }
}

impl LiveSession {
    /// Starts with `config`.
    pub fn new(config: Arc<SessionConfig>) -> Self {
        let (current, _) = watch::channel(config);
        LiveSession { current }
    }

    /// The configuration in force now.
    pub fn current(&self) -> Arc<SessionConfig> {
        Arc::clone(&self.current.borrow())
    }

    /// Verifies peers against `trust` from now on (a new CRL, new
    /// intermediates). Sessions already open are not touched here: the
    /// subscribers decide.
    pub fn replace_trust(&self, trust: TrustStore) {
        self.current.send_modify(|c| {
            *c = Arc::new(SessionConfig {
                noise_key: c.noise_key.clone(),
                credential: c.credential.clone(),
                trust: Arc::new(trust),
                revocation: c.revocation,
            });
        });
    }

    /// Presents `credential` from now on. The caller checked that it binds
    /// the node's own keys.
    pub fn replace_credential(&self, credential: NodeCredential) {
        self.current.send_modify(|c| {
            *c = Arc::new(SessionConfig {
                noise_key: c.noise_key.clone(),
                credential,
                trust: Arc::clone(&c.trust),
                revocation: c.revocation,
            });
        });
    }

    /// A receiver that wakes at each change, holding the new configuration.
    pub fn subscribe(&self) -> watch::Receiver<Arc<SessionConfig>> {
        self.current.subscribe()
    }
}
