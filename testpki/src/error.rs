//! Errors of the test PKI generator.
//!
//! Messages say what happened and what to do. None of them ever carries key material:
//! variants hold paths, identifiers and reasons, never key bytes.

use std::path::PathBuf;

use x509_cert::der;

/// Why a test PKI operation failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TestPkiError {
    /// The output directory already holds files.
    #[error("directory {} already exists and is not empty: choose another --out, or empty it first", path.display())]
    OutDirNotEmpty {
        /// The directory that was refused.
        path: PathBuf,
    },
    /// A path that must be a directory is something else.
    #[error("{} exists and is not a directory: choose another --out", path.display())]
    NotADirectory {
        /// The offending path.
        path: PathBuf,
    },
    /// A file to be written already exists.
    #[error("{} already exists: refusing to overwrite it; choose another --out or move the file away", path.display())]
    FileExists {
        /// The existing file.
        path: PathBuf,
    },
    /// A file system operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done ("create directory", "write", ...).
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A test CA directory lacks a file or holds something unreadable.
    #[error("{} is not a usable TEST CA directory ({reason}): create one with `confrere pki init-test --out DIR`", path.display())]
    BadCaDir {
        /// The CA directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The national id is neither an RPPS nor an ADELI identifier.
    #[error("national id {id:?} is not valid ({reason}): give `8` followed by the 11-digit RPPS number (whose last digit is a Luhn check digit), or `0` followed by the 9-character ADELI number")]
    InvalidNationalId {
        /// The identifier as given.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The profession code is not in the TRE_G15 table this generator knows.
    #[error("unknown profession code {code}: use one of the TRE_G15 codes {known}")]
    UnknownProfession {
        /// The code as given.
        code: u32,
        /// The known codes, comma separated.
        known: String,
    },
    /// A given name or surname is empty or unusable.
    #[error("{field} {problem}: give the practitioner's {field} as printed on their card")]
    InvalidName {
        /// "surname" or "given name".
        field: &'static str,
        /// What is wrong ("must not be empty", ...).
        problem: &'static str,
    },
    /// The requested validity period is empty or out of range.
    #[error("invalid validity period: {reason}")]
    InvalidValidity {
        /// What is wrong, and what to use instead.
        reason: String,
    },
    /// A key could not be generated or loaded.
    #[error("{what}: {reason}")]
    Key {
        /// Which key, doing what.
        what: &'static str,
        /// Why it failed (never key bytes).
        reason: String,
    },
    /// The system random generator or the signer failed.
    #[error("signing with the TEST CA key failed: check that the CA key files are intact")]
    Signing,
    /// A certificate file could not be read as a certificate.
    #[error("{} does not hold a readable certificate ({reason}): give the cert.pem written when the certificate was issued", path.display())]
    BadCertificate {
        /// The certificate file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The CA certificates and keys given do not belong together.
    #[error("the TEST CA certificates and keys do not belong together ({reason}): use the files of one CA directory, as written by `confrere pki init-test`")]
    InconsistentCa {
        /// What does not fit.
        reason: String,
    },
    /// The certificate was not issued by this CA's intermediate.
    #[error("the certificate was not issued by this TEST CA ({reason}): revoke it with the CA directory that issued it")]
    NotIssuedByThisCa {
        /// How the check failed.
        reason: &'static str,
    },
    /// An object identifier given for a policy or a key purpose is not one.
    #[error("{oid:?} is not an object identifier ({reason}): give dotted decimal arcs, such as 1.3.6.1.5.5.7.3.2")]
    InvalidOid {
        /// The identifier as given.
        oid: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A value could not be DER-encoded.
    #[error("cannot encode the certificate: {0}")]
    Der(#[from] der::Error),
}

impl TestPkiError {
    /// Builds an [`TestPkiError::Io`] for `action` on `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
