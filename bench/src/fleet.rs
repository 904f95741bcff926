//! The practitioners of the directory stage, made in this process: one
//! TEST CA in memory ([`confrere_testpki`]), one card per node
//! (RSA-2048, as on IGC-Santé cards) and a home enrolled with it
//! ([`confrere_node::home::init`], what `confrere init` does: a node
//! credential signed by the card key, binding the node's own Noise key and
//! libp2p key). Cards and homes are made on every core: RSA key generation
//! is the slow part.

use std::path::Path;
use std::sync::Arc;

use confrere_node::home::{self, CardSource, Home, InitRequest};
use confrere_node::net::system_now;
use confrere_protocol::session::SessionConfig;
use confrere_protocol::{NationalId, RevocationCheck};
use confrere_testpki::{IssueRequest, TestCa};
use libp2p::identity::Keypair;
use libp2p::PeerId;
use time::{Duration as TimeDuration, OffsetDateTime};

/// RSA size of the TEST CA's keys here: the smallest the test PKI makes
/// (chain verification is the same code path at any size).
const CA_KEY_BITS: usize = 2048;

/// Most practitioners the stage can make: distinct national ids
/// ([`national_id`]) run out beyond.
pub(crate) const MAX_MEMBERS: usize = 1_000_000;

/// One enrolled node: what its network is started with.
pub(crate) struct Member {
    /// The practitioner's national id.
    pub national_id: NationalId,
    /// The node's PeerId (the one its credential binds).
    pub peer: PeerId,
    /// The node's libp2p identity.
    pub keypair: Keypair,
    /// The node's session configuration (credential, Noise key, trust).
    pub session: Arc<SessionConfig>,
}

/// The `n`-th national id of the directory stage: `8` + an RPPS number
/// `1003` + six digits + its Luhn check digit (apart from the ids of the
/// other stages, `8` `1000300…`).
pub(crate) fn national_id(n: usize) -> String {
    let body = format!("1003{:06}", n % MAX_MEMBERS);
    let check = (0..10u8)
        .map(|d| format!("{body}{d}"))
        .find(|rpps| confrere_protocol::identity::luhn_valid(rpps))
        .unwrap_or_else(|| format!("{body}0"));
    format!("8{check}")
}

/// The CA's files every home is enrolled with.
struct Trust<'a> {
    ca: &'a TestCa,
    root: &'a Path,
    chain: &'a Path,
    crl: &'a Path,
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Makes a TEST CA and `n` practitioners' homes under `dir`; returns them
/// in order (member `i` has [`national_id`]`(i)`).
pub(crate) fn enroll_all(dir: &Path, n: usize) -> Result<Vec<Member>, String> {
    if n > MAX_MEMBERS {
        return Err(format!("at most {MAX_MEMBERS} nodes"));
    }
    let now = OffsetDateTime::now_utc();
    let ca = TestCa::generate_with_key_bits(now, CA_KEY_BITS)
        .map_err(|e| format!("cannot make the TEST CA: {e}"))?;
    let pki = dir.join("pki");
    std::fs::create_dir_all(&pki).map_err(|e| format!("cannot make {}: {e}", pki.display()))?;
    let (root, chain, crl) = (
        pki.join("root.pem"),
        pki.join("chain.pem"),
        pki.join("crl.pem"),
    );
    write(&root, &ca.root_pem())?;
    write(&chain, &ca.intermediate_pem())?;
    let next = now + TimeDuration::days(30);
    let crls = ca
        .crl(&[], 1, now, next)
        .and_then(|c| ca.root_crl(1, now, next).map(|r| (c, r)))
        .map_err(|e| format!("cannot sign the TEST CRLs: {e}"))?;
    write(
        &crl,
        &format!(
            "{}{}",
            home::pem("X509 CRL", &crls.0),
            home::pem("X509 CRL", &crls.1)
        ),
    )?;
    let trust = Trust {
        ca: &ca,
        root: &root,
        chain: &chain,
        crl: &crl,
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |p| p.get())
        .min(n.max(1));
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let trust = &trust;
                s.spawn(move || -> Result<Vec<(usize, Member)>, String> {
                    (t..n)
                        .step_by(threads)
                        .map(|i| enroll(dir, trust, i, now).map(|m| (i, m)))
                        .collect()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(n);
        for w in workers {
            all.extend(
                w.join()
                    .map_err(|_| "an enrolling thread panicked".to_owned())??,
            );
        }
        all.sort_by_key(|(i, _)| *i);
        Ok(all.into_iter().map(|(_, m)| m).collect())
    })
}

/// Issues practitioner `i`'s card and enrolls its home `DIR/homes/i`.
fn enroll(dir: &Path, trust: &Trust<'_>, i: usize, now: OffsetDateTime) -> Result<Member, String> {
    let nid = national_id(i);
    let req = IssueRequest::new(nid.clone(), "BENCH", format!("NODE{i}-TEST"), 10);
    let issued = trust
        .ca
        .issue(&req, now)
        .map_err(|e| format!("cannot issue card {i}: {e}"))?;
    let card = dir.join("cards").join(i.to_string());
    std::fs::create_dir_all(&card).map_err(|e| format!("cannot make {}: {e}", card.display()))?;
    write(&card.join("cert.pem"), &issued.cert_pem())?;
    write(&card.join("key.pem"), &issued.key_pem())?;
    let home_dir = dir.join("homes").join(i.to_string());
    home::init(&InitRequest {
        home: home_dir.clone(),
        card: CardSource::KeyFile {
            cert: card.join("cert.pem"),
            key: card.join("key.pem"),
        },
        chain: vec![trust.chain.to_path_buf()],
        trust: vec![trust.root.to_path_buf()],
        crls: vec![trust.crl.to_path_buf()],
        revocation: RevocationCheck::Required,
        now: system_now(),
    })
    .map_err(|e| format!("cannot enroll node {i}: {e}"))?;
    let home =
        Home::open(&home_dir).map_err(|e| format!("cannot open {}: {e}", home_dir.display()))?;
    let national_id =
        NationalId::parse(&nid).map_err(|e| format!("national id {nid} refused: {e}"))?;
    Ok(Member {
        national_id,
        peer: home.libp2p.public().to_peer_id(),
        keypair: home.libp2p.clone(),
        session: Arc::new(home.session_config()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_ids_pass_their_check_and_differ() {
        for n in [0, 1, 199, 999_999] {
            let id = national_id(n);
            assert_eq!(id.len(), 12, "{id}");
            assert!(NationalId::parse(&id).is_ok(), "{id}");
        }
        assert_ne!(national_id(1), national_id(2));
        assert_ne!(national_id(1), crate::nodes::national_id(1));
    }
}
