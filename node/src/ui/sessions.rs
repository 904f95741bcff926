//! The web inbox's login links and sessions, held in memory only (a
//! restarted daemon forgets them all) and bounded in number.
//!
//! Links and session ids are 32 random bytes in hex; the tables hold their
//! SHA-256, never the values, so a lookup's timing tells nothing about a
//! valid one.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::guard::{self, Refusal};

/// Most sessions held at once; a new login past it ends the least
/// recently used one.
pub const MAX_SESSIONS: usize = 32;
/// Most login links waiting to be opened at once; a new link past it
/// drops the oldest.
pub const MAX_LINKS: usize = 8;

type Digest = [u8; 32];

/// A live session as a request sees it.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    /// The token its forms carry.
    pub(crate) csrf: String,
    last_seen: Instant,
}

/// The random generator failed.
#[derive(Debug)]
pub(crate) struct NoRandom;

/// The tables.
#[derive(Debug)]
pub(crate) struct Sessions {
    idle: Duration,
    inner: Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    links: HashMap<Digest, Instant>,
    sessions: HashMap<Digest, Session>,
}

impl Sessions {
    /// Empty tables; sessions end after `idle` without a request.
    pub(crate) fn new(idle: Duration) -> Self {
        Sessions {
            idle,
            inner: Mutex::new(Tables::default()),
        }
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        // The tables stay consistent through a panic (every change is one
        // insert or remove), so a poisoned lock is taken as it is.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new single-use login token, valid for [`guard::LINK_LIFETIME`].
    pub(crate) fn new_link(&self, now: Instant) -> Result<String, NoRandom> {
        let token = random_hex()?;
        let mut t = self.tables();
        t.links
            .retain(|_, issued| guard::check_link(*issued, now).is_ok());
        while t.links.len() >= MAX_LINKS {
            let oldest = t.links.iter().min_by_key(|(_, at)| **at).map(|(k, _)| *k);
            match oldest {
                Some(k) => t.links.remove(&k),
                None => break,
            };
        }
        t.links.insert(digest(&token), now);
        Ok(token)
    }

    /// Uses up a login token and opens a session: its id (for the cookie).
    /// The token is gone afterwards whether it was valid or not.
    pub(crate) fn redeem(&self, token: &str, now: Instant) -> Result<String, RedeemError> {
        let mut t = self.tables();
        let issued = t
            .links
            .remove(&digest(token))
            .ok_or(RedeemError::Refused(Refusal::UnknownLink))?;
        guard::check_link(issued, now).map_err(RedeemError::Refused)?;
        let id = random_hex().map_err(|_| RedeemError::NoRandom)?;
        let csrf = random_hex().map_err(|_| RedeemError::NoRandom)?;
        let idle = self.idle;
        t.sessions
            .retain(|_, s| guard::check_session(s.last_seen, now, idle).is_ok());
        while t.sessions.len() >= MAX_SESSIONS {
            let oldest = t
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => t.sessions.remove(&k),
                None => break,
            };
        }
        t.sessions.insert(
            digest(&id),
            Session {
                csrf,
                last_seen: now,
            },
        );
        Ok(id)
    }

    /// The session of a cookie, if live; its idle time starts again.
    pub(crate) fn touch(&self, id: Option<&str>, now: Instant) -> Result<Session, Refusal> {
        let key = digest(id.ok_or(Refusal::NoSession)?);
        let mut t = self.tables();
        let s = t.sessions.get_mut(&key).ok_or(Refusal::NoSession)?;
        if let Err(r) = guard::check_session(s.last_seen, now, self.idle) {
            t.sessions.remove(&key);
            return Err(r);
        }
        s.last_seen = now;
        Ok(s.clone())
    }

    /// Ends a session (logout).
    pub(crate) fn end(&self, id: &str) {
        self.tables().sessions.remove(&digest(id));
    }

    /// How many sessions are held (expired ones included until swept).
    #[cfg(test)]
    fn count(&self) -> usize {
        self.tables().sessions.len()
    }
}

/// Why a login link did not open a session.
#[derive(Debug)]
pub(crate) enum RedeemError {
    /// Unknown, used or expired.
    Refused(Refusal),
    /// The random generator failed.
    NoRandom,
}

fn digest(value: &str) -> Digest {
    let d = ring::digest::digest(&ring::digest::SHA256, value.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn random_hex() -> Result<String, NoRandom> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| NoRandom)?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(15 * 60);

    #[test]
    fn a_link_opens_one_session_once() {
        let s = Sessions::new(IDLE);
        let t0 = Instant::now();
        let link = s.new_link(t0).unwrap();
        assert_eq!(link.len(), 64);
        let id = s.redeem(&link, t0).unwrap();
        assert!(s.touch(Some(&id), t0).is_ok());
        assert!(matches!(
            s.redeem(&link, t0),
            Err(RedeemError::Refused(Refusal::UnknownLink))
        ));
    }

    #[test]
    fn an_expired_link_is_refused_and_used_up() {
        let s = Sessions::new(IDLE);
        let t0 = Instant::now();
        let link = s.new_link(t0).unwrap();
        let late = t0 + guard::LINK_LIFETIME + Duration::from_secs(1);
        assert!(matches!(
            s.redeem(&link, late),
            Err(RedeemError::Refused(Refusal::ExpiredLink))
        ));
        assert!(matches!(
            s.redeem(&link, t0),
            Err(RedeemError::Refused(Refusal::UnknownLink))
        ));
    }

    #[test]
    fn an_idle_session_ends_and_a_used_one_lives_on() {
        let s = Sessions::new(IDLE);
        let t0 = Instant::now();
        let id = s.redeem(&s.new_link(t0).unwrap(), t0).unwrap();
        let t1 = t0 + IDLE;
        assert!(s.touch(Some(&id), t1).is_ok());
        // Used at t1: still live an idle time later.
        assert!(s.touch(Some(&id), t1 + IDLE).is_ok());
        let late = t1 + IDLE + IDLE + Duration::from_secs(1);
        assert_eq!(
            s.touch(Some(&id), late).unwrap_err(),
            Refusal::SessionExpired
        );
        assert_eq!(s.touch(Some(&id), late).unwrap_err(), Refusal::NoSession);
    }

    #[test]
    fn unknown_or_missing_or_ended_sessions_are_refused() {
        let s = Sessions::new(IDLE);
        let t0 = Instant::now();
        assert_eq!(s.touch(None, t0).unwrap_err(), Refusal::NoSession);
        assert_eq!(s.touch(Some("nope"), t0).unwrap_err(), Refusal::NoSession);
        let id = s.redeem(&s.new_link(t0).unwrap(), t0).unwrap();
        s.end(&id);
        assert_eq!(s.touch(Some(&id), t0).unwrap_err(), Refusal::NoSession);
    }

    #[test]
    fn the_tables_are_bounded() {
        let s = Sessions::new(IDLE);
        let t0 = Instant::now();
        let first = s.redeem(&s.new_link(t0).unwrap(), t0).unwrap();
        for i in 1..(MAX_SESSIONS as u64 * 2) {
            let t = t0 + Duration::from_secs(i);
            s.redeem(&s.new_link(t).unwrap(), t).unwrap();
        }
        assert_eq!(s.count(), MAX_SESSIONS);
        // The least recently used went first.
        assert_eq!(s.touch(Some(&first), t0).unwrap_err(), Refusal::NoSession);
        let links: Vec<String> = (0..MAX_LINKS * 2)
            .map(|_| s.new_link(t0).unwrap())
            .collect();
        assert_eq!(s.tables().links.len(), MAX_LINKS);
        assert!(s.redeem(links.last().unwrap(), t0).is_ok());
    }
}
