//! A TEST PKI in the shape of IGC-Santé, for tests, demos and development: a root and an
//! intermediate CA that issue practitioner certificates and publish a CRL.
//!
//! Everything it makes says TEST in the issuer names (`O=CONFRERE TEST, OU=IGC-SANTE TEST`,
//! `CN=TEST AC ...`); nothing it makes can pass for a real health card certificate with a
//! relying party that trusts the real IGC-Santé roots.
//!
//! Practitioner certificates imitate the real ones (see `testdata/ans-test-certs/`):
//! subject `C=FR, title=<profession label>, GN=<given> + CN=<national id> + SN=<surname>`
//! (the last three in one multi-valued RDN), RSA-2048 (or ECDSA P-256 on request) signed
//! with sha256WithRSA, KeyUsage critical digitalSignature (or nonRepudiation), and the
//! TRE_G15 profession code as an INTEGER in extension `1.2.250.1.71.1.2.7`.
//!
//! Two levels of API:
//! - in memory: [`TestCa::generate`], [`TestCa::issue`], [`TestCa::crl`], for tests that
//!   need certificates (including expired or not-yet-valid ones, see
//!   [`IssueRequest::with_validity`]);
//! - on disk: [`init_test_ca`], [`issue_test`], [`revoke_test`], [`refresh_crl_test`],
//!   working on the directory layout named in [`files`].
//!
//! Certificates, CRLs, names and extensions are the typed structures of the RustCrypto
//! `x509-cert` crate, encoded and parsed back by its `der` crate: nothing here writes or
//! reads DER by hand.

#![warn(missing_docs)]

mod ca;
mod cert;
mod error;
mod keys;
mod pem;
mod profile;
mod request;
mod store;

use std::fs;
use std::path::Path;

use time::{Duration, OffsetDateTime};
use x509_cert::der::Decode;
use zeroize::Zeroizing;

pub use ca::TestCa;
pub use cert::{RevokedEntry, INTERMEDIATE_CN, ROOT_CN, TEST_POLICY_OID};
pub use error::TestPkiError;
pub use keys::{CA_KEY_BITS, PRACTITIONER_RSA_BITS};
pub use profile::{profession_label, validate_national_id, NationalIdKind, PROFESSIONS};
pub use request::{IssueRequest, IssuedCert, TestKeyUsage, DEFAULT_VALIDITY_DAYS};

use ca::whole_seconds;
use store::{Access, CaState, Replace, Rollback};

/// How long a CRL is valid: `nextUpdate` is `thisUpdate` plus this many days.
pub const CRL_VALIDITY_DAYS: i64 = 30;

/// File names of a TEST CA directory and of an issued-certificate directory.
pub mod files {
    /// Root CA certificate (the trust anchor), PEM.
    pub const ROOT_CERT: &str = "root.pem";
    /// Root CA private key, PKCS#8 PEM, mode 0600.
    pub const ROOT_KEY: &str = "root.key.pem";
    /// Intermediate (issuing) CA certificate, PEM.
    pub const INTERMEDIATE_CERT: &str = "intermediate.pem";
    /// Intermediate CA private key, PKCS#8 PEM, mode 0600.
    pub const INTERMEDIATE_KEY: &str = "intermediate.key.pem";
    /// Current CRLs, PEM: the intermediate's, then the root's.
    pub const CRL: &str = "crl.pem";
    /// CA state: revoked serials with their dates, next CRL number (JSON).
    pub const STATE: &str = "ca.json";
    /// Issued practitioner certificate, PEM.
    pub const CERT: &str = "cert.pem";
    /// Issued practitioner private key, PKCS#8 PEM, mode 0600.
    pub const KEY: &str = "key.pem";
    /// The intermediate certificate, for building the chain, PEM.
    pub const CHAIN: &str = "chain.pem";
}

impl TestCa {
    /// Loads the CA kept in a directory made by [`init_test_ca`], checking that its
    /// certificates and keys belong together.
    pub fn load(ca_dir: &Path) -> Result<Self, TestPkiError> {
        let bad = |reason: String| TestPkiError::BadCaDir {
            path: ca_dir.to_path_buf(),
            reason,
        };
        let read = |name: &str, label: &str| -> Result<Zeroizing<Vec<u8>>, TestPkiError> {
            let text = Zeroizing::new(
                fs::read(ca_dir.join(name)).map_err(|e| bad(format!("cannot read {name}: {e}")))?,
            );
            pem::decode_first(&text, label).map_err(|e| bad(format!("{name}: {e}")))
        };
        let root = read(files::ROOT_CERT, pem::CERTIFICATE)?;
        let root_key = read(files::ROOT_KEY, pem::PRIVATE_KEY)?;
        let intermediate = read(files::INTERMEDIATE_CERT, pem::CERTIFICATE)?;
        let intermediate_key = read(files::INTERMEDIATE_KEY, pem::PRIVATE_KEY)?;
        TestCa::from_parts(
            root.to_vec(),
            root_key,
            intermediate.to_vec(),
            intermediate_key,
        )
        .map_err(|e| bad(e.to_string()))
    }
}

fn load_state(ca_dir: &Path) -> Result<CaState, TestPkiError> {
    let path = ca_dir.join(files::STATE);
    let bad = |reason: String| TestPkiError::BadCaDir {
        path: ca_dir.to_path_buf(),
        reason,
    };
    let text =
        fs::read_to_string(&path).map_err(|e| bad(format!("cannot read {}: {e}", files::STATE)))?;
    CaState::from_json(&text).map_err(|e| bad(format!("{}: {e}", files::STATE)))
}

fn state_json(ca_dir: &Path, state: &CaState) -> Result<String, TestPkiError> {
    state.to_json().map_err(|reason| TestPkiError::BadCaDir {
        path: ca_dir.to_path_buf(),
        reason: format!("cannot serialize the CA state: {reason}"),
    })
}

/// Signs a CRL valid from `now` for [`CRL_VALIDITY_DAYS`], PEM-armoured.
fn crl_pem(ca: &TestCa, state: &CaState, now: OffsetDateTime) -> Result<String, TestPkiError> {
    let next_update = ca::shifted(now, Duration::days(CRL_VALIDITY_DAYS))?;
    let crl = ca.crl(&state.revoked, state.next_crl_number, now, next_update)?;
    let root_crl = ca.root_crl(state.next_crl_number, now, next_update)?;
    // Both CAs' CRLs in one file: the issuing CA's, then the root's.
    Ok(format!(
        "{}{}",
        pem::encode(pem::X509_CRL, &crl).as_str(),
        pem::encode(pem::X509_CRL, &root_crl).as_str()
    ))
}

/// Creates a TEST CA in the directory `out` (created if missing; refused if it exists and
/// is not empty): see [`files`] for what it holds. The first CRL is empty, CRL number 1,
/// valid from `now` for 30 days. On failure nothing is left behind.
pub fn init_test_ca(out: &Path, now: OffsetDateTime) -> Result<TestCa, TestPkiError> {
    // Fail fast, before the slow key generation; checked again before writing.
    if out.exists() {
        store::prepare_dir(out, true)?;
    }
    let now = whole_seconds(now);
    let ca = TestCa::generate(now)?;
    let mut state = CaState {
        next_crl_number: 1,
        revoked: Vec::new(),
    };
    let crl = crl_pem(&ca, &state, now)?;
    state.next_crl_number += 1;
    let state_text = state_json(out, &state)?;

    let mut rollback = Rollback::default();
    if store::prepare_dir(out, true)? {
        rollback.created_dir(out);
    }
    let (root, root_key) = (ca.root_pem(), ca.root_key_pem());
    let (intermediate, intermediate_key) = (ca.intermediate_pem(), ca.intermediate_key_pem());
    let contents: [(&str, &[u8], Access); 6] = [
        (files::ROOT_CERT, root.as_bytes(), Access::Public),
        (files::ROOT_KEY, root_key.as_bytes(), Access::Secret),
        (
            files::INTERMEDIATE_CERT,
            intermediate.as_bytes(),
            Access::Public,
        ),
        (
            files::INTERMEDIATE_KEY,
            intermediate_key.as_bytes(),
            Access::Secret,
        ),
        (files::CRL, crl.as_bytes(), Access::Public),
        (files::STATE, state_text.as_bytes(), Access::Public),
    ];
    for (name, bytes, access) in contents {
        rollback.created_file(store::write_file(out, name, bytes, access, Replace::Never)?);
    }
    store::sync_dir(out)?;
    rollback.commit();
    Ok(ca)
}

/// Issues a practitioner certificate from the TEST CA in `ca_dir` and writes `cert.pem`,
/// `key.pem` (mode 0600) and `chain.pem` into `out` (created if missing). Existing files
/// are never overwritten; on failure nothing is left behind.
pub fn issue_test(
    ca_dir: &Path,
    req: &IssueRequest,
    out: &Path,
    now: OffsetDateTime,
) -> Result<IssuedCert, TestPkiError> {
    req.validate()?;
    let ca = TestCa::load(ca_dir)?;
    if out.exists() {
        store::prepare_dir(out, false)?;
        for name in [files::CERT, files::KEY, files::CHAIN] {
            let path = out.join(name);
            if path.exists() {
                return Err(TestPkiError::FileExists { path });
            }
        }
    }
    let issued = ca.issue(req, now)?;

    let mut rollback = Rollback::default();
    if store::prepare_dir(out, false)? {
        rollback.created_dir(out);
    }
    let (cert, key, chain) = (issued.cert_pem(), issued.key_pem(), ca.intermediate_pem());
    let contents: [(&str, &[u8], Access); 3] = [
        (files::CERT, cert.as_bytes(), Access::Public),
        (files::KEY, key.as_bytes(), Access::Secret),
        (files::CHAIN, chain.as_bytes(), Access::Public),
    ];
    for (name, bytes, access) in contents {
        rollback.created_file(store::write_file(out, name, bytes, access, Replace::Never)?);
    }
    store::sync_dir(out)?;
    rollback.commit();
    Ok(issued)
}

/// Revokes a certificate issued by the TEST CA in `ca_dir`: records its serial and the
/// time `now` in the state file and re-signs `crl.pem` (thisUpdate `now`, nextUpdate 30
/// days later, next CRL number). Revoking an already revoked certificate changes nothing.
/// Certificates of any other CA are refused.
///
/// Not meant for concurrent use: two revocations running at once on the same CA directory
/// can lose one of them (each rewrites `crl.pem` and `ca.json` from what it read).
pub fn revoke_test(
    ca_dir: &Path,
    cert_pem_path: &Path,
    now: OffsetDateTime,
) -> Result<(), TestPkiError> {
    let ca = TestCa::load(ca_dir)?;
    let mut state = load_state(ca_dir)?;
    let text = fs::read(cert_pem_path).map_err(|e| TestPkiError::io("read", cert_pem_path, e))?;
    let bad_cert = |reason: String| TestPkiError::BadCertificate {
        path: cert_pem_path.to_path_buf(),
        reason,
    };
    let der = pem::decode_first(&text, pem::CERTIFICATE).map_err(bad_cert)?;
    x509_cert::Certificate::from_der(&der).map_err(|e| bad_cert(e.to_string()))?;
    let serial = ca.issued_serial(&der)?;
    if state.revoked.iter().any(|entry| entry.serial == serial) {
        return Ok(());
    }
    let now = whole_seconds(now);
    state.revoked.push(RevokedEntry {
        serial,
        revoked_at: now,
    });
    publish_crl(&ca, ca_dir, state, now)
}

/// Re-signs `crl.pem` of the TEST CA in `ca_dir` with the same revoked certificates, a
/// fresh thisUpdate/nextUpdate and the next CRL number (a CRL lasts 30 days).
pub fn refresh_crl_test(ca_dir: &Path, now: OffsetDateTime) -> Result<(), TestPkiError> {
    let ca = TestCa::load(ca_dir)?;
    let state = load_state(ca_dir)?;
    publish_crl(&ca, ca_dir, state, whole_seconds(now))
}

/// Writes the CRL for `state`, then the state with its CRL number moved on. The CRL goes
/// first: if the state write then fails, the CRL already lists everything and a retry
/// repeats the operation.
fn publish_crl(
    ca: &TestCa,
    ca_dir: &Path,
    mut state: CaState,
    now: OffsetDateTime,
) -> Result<(), TestPkiError> {
    let crl = crl_pem(ca, &state, now)?;
    state.next_crl_number += 1;
    let state_text = state_json(ca_dir, &state)?;
    store::write_file(
        ca_dir,
        files::CRL,
        crl.as_bytes(),
        Access::Public,
        Replace::Atomically,
    )?;
    store::write_file(
        ca_dir,
        files::STATE,
        state_text.as_bytes(),
        Access::Public,
        Replace::Atomically,
    )?;
    store::sync_dir(ca_dir)
}
