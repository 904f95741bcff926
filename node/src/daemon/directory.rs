//! The directory and the address book: the verified records of a
//! practitioner's nodes (`peers find`), adding an address and verifying who
//! answers there (`peers add`), and removing entries (`peers remove`).

use confrere_protocol::directory::VerifiedRecord;
use confrere_protocol::NationalId;

use super::error::OpError;
use super::Engine;
use crate::net::{Entry, NetError};

/// An address added to the address book, and what dialling it showed.
#[derive(Clone, Debug)]
pub struct Added {
    /// The entry, as the book holds it after the attempt.
    pub entry: Entry,
    /// Why the address could not be verified, if it could not (none once a
    /// session through it verified the node).
    pub error: Option<String>,
}

impl Engine {
    /// The verified directory records of the practitioner `national_id`'s
    /// nodes; [`OpError::NotPublished`] when there is none.
    pub(crate) async fn find_in_directory(
        &self,
        national_id: &str,
    ) -> Result<Vec<VerifiedRecord>, OpError> {
        let id = NationalId::parse(national_id.trim())
            .map_err(|e| OpError::BadNationalId(e.to_string()))?;
        let records = self.net.find(&id).await.map_err(|e| match e {
            NetError::Stopped => OpError::NetworkStopped,
            e => OpError::DirectoryLookup {
                id: id.clone(),
                reason: e.to_string(),
            },
        })?;
        if records.is_empty() {
            return Err(OpError::NotPublished(id));
        }
        Ok(records)
    }

    /// Adds `multiaddr` to the address book, then dials that very address,
    /// on a new connection, to learn which practitioner's node answers
    /// there: only then is it verified. A node that cannot be reached is
    /// kept, with the error.
    pub(crate) async fn add_to_book(&self, multiaddr: &str) -> Result<Added, OpError> {
        let bad = |e: crate::net::AddrError| OpError::BadAddress(e.to_string());
        let (addr, peer) = crate::net::addressbook::parse_addr(multiaddr).map_err(bad)?;
        let entry = {
            let mut book = self.book.lock().await;
            let entry = book.add(multiaddr).map_err(bad)?;
            book.save().map_err(OpError::internal)?;
            entry
        };
        let mut target = addr.clone();
        if let Some(p) = peer {
            target.push(libp2p::multiaddr::Protocol::P2p(p));
        }
        match self.net.verify_address(target).await {
            Ok(ch) => {
                let verified = ch.peer().identity().clone();
                let credential_not_after = ch.peer().credential_not_after();
                let remote = ch.remote_peer_id();
                let _ = ch.close().await;
                self.peer_verified(
                    remote,
                    verified.national_id.as_str(),
                    &verified.display_name(),
                    &[addr],
                    credential_not_after,
                )
                .await;
                let book = self.book.lock().await;
                let entry = book.find_by_peer(&remote).cloned().unwrap_or(entry);
                // Verified through this very address: no error stands.
                Ok(Added { entry, error: None })
            }
            Err(e) => {
                let msg = e.to_string();
                let mut book = self.book.lock().await;
                book.record_error(multiaddr, &msg);
                let _ = book.save();
                Ok(Added {
                    entry,
                    error: Some(msg),
                })
            }
        }
    }

    /// Removes the address-book entries of PeerId or national id `key`
    /// and saves the book; [`OpError::UnknownPeer`] when none matches.
    pub(crate) async fn remove_from_book(&self, key: &str) -> Result<Vec<Entry>, OpError> {
        let mut book = self.book.lock().await;
        let removed = book.remove(key);
        if removed.is_empty() {
            let shown: String = key
                .trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(80)
                .collect();
            return Err(OpError::UnknownPeer(shown));
        }
        book.save()
            .map_err(|e| OpError::BookNotSaved(e.to_string()))?;
        Ok(removed)
    }
}
