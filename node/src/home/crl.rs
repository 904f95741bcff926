//! The CRLs a home holds: taking new ones ([`import_crls`]) and saying how
//! fresh each CA's is ([`crl_states`]).
//!
//! The CRLs live in `trust/crls.pem`; `trust/crls-imported.txt` lists the
//! SHA-256 of every CRL taken after enrolment, one a line, each followed by
//! a space and where it came from (the file imported or the URL fetched;
//! older homes have the hash alone), so that status can say where each
//! came from. Whether a CRL is taken is decided
//! by [`confrere_protocol::crl::check_crl_update`]; this module reads and
//! writes the files.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use confrere_protocol::crl::{check_crl_update, held_crls, CrlUpdateError};
use confrere_protocol::{parse_crls, CertError, Crl, TrustStore, UnixTime};

use super::{load_trust, HomeError};
use crate::files;

/// The CRL file of a home.
pub const CRLS_FILE: &str = "trust/crls.pem";
/// The list of CRLs taken after enrolment (SHA-256, hex, and its origin, one a line).
pub const IMPORTED_FILE: &str = "trust/crls-imported.txt";
/// A CRL whose nextUpdate is closer than this is warned about (3 days).
pub const CRL_WARN_BEFORE_SECS: i64 = 3 * 24 * 3600;

/// Why CRLs were not imported. Nothing in the home changed.
#[derive(Debug, thiserror::Error)]
pub enum CrlImportError {
    /// The file holds no CRL that parses.
    #[error("{path} is not a CRL file: {error}")]
    BadInput {
        /// The file.
        path: String,
        /// What the parser said.
        error: CertError,
    },
    /// A CRL was refused.
    #[error("CRL {index} of {path} refused: {error}")]
    Refused {
        /// The file.
        path: String,
        /// Its position in the file, from 1.
        index: usize,
        /// Why.
        error: CrlUpdateError,
    },
    /// The home's trust material could not be read.
    #[error(transparent)]
    Home(#[from] HomeError),
    /// Writing the new CRL file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl CrlImportError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            CrlImportError::BadInput { error, .. } => error.hint().to_owned(),
            CrlImportError::Refused { error, .. } => format!(
                "{} (no CRL of this file was imported; nothing changed)",
                error.hint()
            ),
            CrlImportError::Home(e) => e.hint(),
            CrlImportError::Write { .. } => {
                "check that the home's trust/ directory is writable by this user".into()
            }
        }
    }
}

/// A CRL taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlChange {
    /// The CA.
    pub issuer: String,
    /// Its thisUpdate.
    pub this_update: UnixTime,
    /// Its nextUpdate.
    pub next_update: Option<UnixTime>,
    /// thisUpdate of the CRL it replaces, if one was held.
    pub replaced: Option<UnixTime>,
}

/// How fresh a CA's CRL is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// No CRL of the CA is held.
    Missing,
    /// Current, nextUpdate more than [`CRL_WARN_BEFORE_SECS`] away.
    Fresh,
    /// Current, nextUpdate closer than [`CRL_WARN_BEFORE_SECS`].
    ExpiresSoon,
    /// Past its nextUpdate (or has none): peers under this CA are refused.
    Stale,
}

impl Freshness {
    /// The word status shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Freshness::Missing => "missing",
            Freshness::Fresh => "fresh",
            Freshness::ExpiresSoon => "expires soon",
            Freshness::Stale => "stale",
        }
    }
}

/// A CA's CRL as status shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlState {
    /// The CA.
    pub ca: String,
    /// thisUpdate of the newest CRL held.
    pub this_update: Option<UnixTime>,
    /// Its nextUpdate.
    pub next_update: Option<UnixTime>,
    /// `enrolment` (`confrere init --crl`), `imported` (`confrere crl
    /// import`) or `fetched` (from a distribution point).
    pub source: Option<&'static str>,
    /// The file imported or the URL fetched, when known.
    pub origin: Option<String>,
    /// How fresh it is.
    pub freshness: Freshness,
}

fn sha256_hex(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The CRLs taken after enrolment: hash and origin (empty when unknown).
fn read_imported(home: &Path) -> Vec<(String, String)> {
    fs::read_to_string(home.join(IMPORTED_FILE))
        .map(|s| {
            s.lines()
                .map(|l| {
                    let (hash, origin) = l.trim().split_once(' ').unwrap_or((l.trim(), ""));
                    (hash.to_owned(), origin.to_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `origin` on one line, without control characters, at most 1024 characters.
fn one_line(origin: &str) -> String {
    origin
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(1024)
        .collect()
}

/// The home's trust material, as the daemon loads it (without the
/// `[trust] policies`, which CRLs do not depend on).
pub fn home_trust(home: &Path) -> Result<TrustStore, HomeError> {
    let present = |p: PathBuf| {
        fs::metadata(&p)
            .map(|m| m.len() > 0)
            .unwrap_or(false)
            .then_some(p)
    };
    let chain: Vec<PathBuf> = present(home.join("trust/chain.pem")).into_iter().collect();
    let crls: Vec<PathBuf> = present(home.join(CRLS_FILE)).into_iter().collect();
    Ok(load_trust(&[home.join("trust/anchors.pem")], &chain, &crls)?.0)
}

/// Writes `bytes` to `path` through a temporary file and a rename, mode 0644.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), CrlImportError> {
    let err = |source| CrlImportError::Write {
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    fs::rename(&tmp, path).map_err(err)?;
    if let Some(dir) = path.parent() {
        files::sync_dir(dir).map_err(err)?;
    }
    Ok(())
}

/// Takes the CRLs in `bytes` (PEM or DER, one or several) into the home
/// `home`: each must be signed by a CA of the home's trust material and be
/// newer than the CRL held for that CA. All or nothing: if one is
/// refused, the home is left unchanged. `source` names the input in
/// errors and is recorded as where the CRLs came from.
pub fn import_crls(
    home: &Path,
    bytes: &[u8],
    source: &str,
) -> Result<Vec<CrlChange>, CrlImportError> {
    let offered = parse_offered(bytes, source)?;
    let trust = home_trust(home)?;
    Ok(take_crls(home, &trust, offered, source)?.0)
}

/// The CRLs in `bytes` (PEM or DER), or why there are none.
pub fn parse_offered(bytes: &[u8], source: &str) -> Result<Vec<Crl>, CrlImportError> {
    parse_crls(bytes).map_err(|error| CrlImportError::BadInput {
        path: source.to_owned(),
        error,
    })
}

/// Takes `offered` into the home `home` whose trust material in force is
/// `trust` (see [`import_crls`]; all or nothing) and returns what changed
/// and the trust material with the new CRLs, the older CRLs of their CAs
/// dropped (anchors, intermediates and policies as in `trust`).
pub fn take_crls(
    home: &Path,
    trust: &TrustStore,
    offered: Vec<Crl>,
    source: &str,
) -> Result<(Vec<CrlChange>, TrustStore), CrlImportError> {
    let mut trust = trust.clone();
    let mut changes = Vec::new();
    for (i, crl) in offered.into_iter().enumerate() {
        let refused = |error| CrlImportError::Refused {
            path: source.to_owned(),
            index: i + 1,
            error,
        };
        let (issuer, replaced) = {
            let update = check_crl_update(&trust, &crl).map_err(refused)?;
            (
                update.issuer.subject().to_owned(),
                update.replaces.map(Crl::this_update),
            )
        };
        changes.push(CrlChange {
            issuer: issuer.clone(),
            this_update: crl.this_update(),
            next_update: crl.next_update(),
            replaced,
        });
        // Later CRLs of the same file are checked against this one.
        trust = with_crl(&trust, &issuer, crl);
    }
    let imported_before = read_imported(home);
    let new_hashes: Vec<String> = changes
        .iter()
        .filter_map(|ch| {
            trust
                .crls()
                .iter()
                .find(|c| c.issuer() == ch.issuer && c.this_update() == ch.this_update)
        })
        .map(|c| sha256_hex(c.der()))
        .collect();
    let held_hashes: Vec<String> = trust.crls().iter().map(|c| sha256_hex(c.der())).collect();
    let mut imported: Vec<(String, String)> = imported_before
        .into_iter()
        .filter(|(h, _)| held_hashes.contains(h) && !new_hashes.contains(h))
        .collect();
    let origin = one_line(source);
    imported.extend(new_hashes.into_iter().map(|h| (h, origin.clone())));
    let pem: String = trust
        .crls()
        .iter()
        .map(|c| super::pem("X509 CRL", c.der()))
        .collect();
    let list: String = imported
        .iter()
        .map(|(h, o)| {
            if o.is_empty() {
                format!("{h}\n")
            } else {
                format!("{h} {o}\n")
            }
        })
        .collect();
    // The list first: a CRL listed but not held is ignored.
    replace_file(&home.join(IMPORTED_FILE), list.as_bytes())?;
    replace_file(&home.join(CRLS_FILE), pem.as_bytes())?;
    Ok((changes, trust))
}

/// `trust` with `crl` in place of the CRLs of `issuer`.
fn with_crl(trust: &TrustStore, issuer: &str, crl: Crl) -> TrustStore {
    let mut next = TrustStore::new(trust.anchors().to_vec());
    for c in trust.intermediates() {
        next.add_intermediate(c.clone());
    }
    for c in trust.crls().iter().filter(|c| c.issuer() != issuer) {
        next.add_crl(c.clone());
    }
    next.add_crl(crl);
    // The policies were checked when `trust` was made.
    let _ = next.set_policies(trust.policies().to_vec());
    next
}

/// Each CA of `trust` with its newest CRL's dates, where it came from and
/// how fresh it is at `now`.
pub fn crl_states(home: &Path, trust: &TrustStore, now: UnixTime) -> Vec<CrlState> {
    let imported = read_imported(home);
    let taken = |c: &Crl| {
        let h = sha256_hex(c.der());
        imported
            .iter()
            .find(|(hash, _)| *hash == h)
            .map(|(_, o)| o.as_str())
    };
    let is_url = |o: &str| o.starts_with("http://") || o.starts_with("https://");
    held_crls(trust)
        .into_iter()
        .map(|(ca, crl)| {
            let freshness = match crl.map(Crl::next_update) {
                None => Freshness::Missing,
                Some(None) => Freshness::Stale,
                Some(Some(next)) if next < now => Freshness::Stale,
                Some(Some(next)) if next.as_secs() - now.as_secs() < CRL_WARN_BEFORE_SECS => {
                    Freshness::ExpiresSoon
                }
                Some(Some(_)) => Freshness::Fresh,
            };
            CrlState {
                ca: ca.subject().to_owned(),
                this_update: crl.map(Crl::this_update),
                next_update: crl.and_then(Crl::next_update),
                source: crl.map(|c| match taken(c) {
                    Some(o) if is_url(o) => "fetched",
                    Some(_) => "imported",
                    None => "enrolment",
                }),
                origin: crl
                    .and_then(taken)
                    .filter(|o| !o.is_empty())
                    .map(str::to_owned),
                freshness,
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "a test fails at the first unexpected value"
    )]

    use super::*;

    /// An OpenSSL-made fixture of the protocol crate.
    pub(crate) fn fixture(name: &str) -> Vec<u8> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/tests/fixtures/openssl");
        fs::read(dir.join(name)).unwrap()
    }

    /// A home with only its trust material: the fixtures' root, intermediate
    /// and the intermediate's older CRL.
    pub(crate) fn home() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("trust")).unwrap();
        fs::write(dir.path().join("trust/anchors.pem"), fixture("root.pem")).unwrap();
        fs::write(
            dir.path().join("trust/chain.pem"),
            fixture("intermediate.pem"),
        )
        .unwrap();
        fs::write(dir.path().join(CRLS_FILE), fixture("crl-stale.pem")).unwrap();
        dir
    }

    #[test]
    fn one_refused_crl_leaves_the_home_unchanged() {
        let dir = home();
        let file = [fixture("crl-root.pem"), fixture("crl-forged.pem")].concat();
        let err = import_crls(dir.path(), &file, "both.pem").unwrap_err();
        assert!(
            matches!(
                err,
                CrlImportError::Refused {
                    index: 2,
                    error: CrlUpdateError::BadSignature { .. },
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            fs::read(dir.path().join(CRLS_FILE)).unwrap(),
            fixture("crl-stale.pem")
        );
        assert!(!dir.path().join(IMPORTED_FILE).exists());
    }

    #[test]
    fn newer_crls_replace_the_held_ones_and_status_says_imported() {
        let dir = home();
        let file = [fixture("crl.pem"), fixture("crl-root.pem")].concat();
        let changes = import_crls(dir.path(), &file, "both.pem").unwrap();
        assert_eq!(changes.len(), 2);
        assert!(changes[0].replaced.is_some() && changes[1].replaced.is_none());
        let trust = home_trust(dir.path()).unwrap();
        assert_eq!(trust.crls().len(), 2, "the older CRL was dropped");
        let at = UnixTime::parse_rfc3339("2025-06-01T00:00:00Z").unwrap();
        let states = crl_states(dir.path(), &trust, at);
        assert!(states
            .iter()
            .all(|s| s.source == Some("imported") && s.freshness == Freshness::Fresh));
        assert!(states
            .iter()
            .all(|s| s.origin.as_deref() == Some("both.pem")));
        // The same file again: refused, as not newer.
        let err = import_crls(dir.path(), &file, "both.pem").unwrap_err();
        assert!(
            matches!(
                err,
                CrlImportError::Refused {
                    error: CrlUpdateError::NotNewer { .. },
                    ..
                }
            ),
            "{err:?}"
        );
        let late = UnixTime::parse_rfc3339("2025-06-29T00:00:00Z").unwrap();
        assert!(crl_states(dir.path(), &trust, late)
            .iter()
            .all(|s| s.freshness == Freshness::ExpiresSoon));
        let stale = UnixTime::parse_rfc3339("2025-07-02T00:00:00Z").unwrap();
        assert!(crl_states(dir.path(), &trust, stale)
            .iter()
            .all(|s| s.freshness == Freshness::Stale));
    }

    #[test]
    fn a_fetched_crl_is_recorded_with_its_url_and_an_old_list_still_reads() {
        let dir = home();
        let trust = home_trust(dir.path()).unwrap();
        let url = "http://crl.example.org/ac.crl";
        let (changes, next) = take_crls(
            dir.path(),
            &trust,
            parse_offered(&fixture("crl.pem"), url).unwrap(),
            url,
        )
        .unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(next.crls().len(), 1, "the older CRL was dropped");
        let at = UnixTime::parse_rfc3339("2025-06-01T00:00:00Z").unwrap();
        let states = crl_states(dir.path(), &next, at);
        let s = states.iter().find(|s| s.this_update.is_some()).unwrap();
        assert_eq!(
            (s.source, s.origin.as_deref()),
            (Some("fetched"), Some(url))
        );
        // A list written before origins were kept: the hash alone.
        let hash = sha256_hex(next.crls()[0].der());
        fs::write(dir.path().join(IMPORTED_FILE), format!("{hash}\n")).unwrap();
        let states = crl_states(dir.path(), &next, at);
        let s = states.iter().find(|s| s.this_update.is_some()).unwrap();
        assert_eq!((s.source, s.origin.as_deref()), (Some("imported"), None));
    }
}
