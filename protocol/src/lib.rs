//! The Confrère protocol core: practitioner identity from health card
//! certificates, certificate path and CRL verification, the node credential,
//! the Noise session and the wire format.
//!
//! This crate does no I/O. It takes bytes and the current time as arguments
//! and returns bytes, values and events; the `confrere-node` crate drives it.

#![warn(missing_docs)]

pub mod certificate;
pub mod codec;
pub mod consent;
pub mod credential;
pub mod crl;
pub mod crl_fetch;
pub mod custody;
pub mod directory;
pub mod dossier;
pub mod error;
pub mod identity;
pub mod keys;
pub mod ledger;
pub mod pkcs12;
pub mod receipt;
pub mod renewal;
pub mod revocation;
pub mod session;
pub mod signature;
pub mod signer;
pub mod time;
pub mod transfer;
pub mod verify;

pub use certificate::{parse_certificates, parse_crls, Certificate, Crl};
pub use credential::{
    check_own_credential, issue_credential, verify_credential, CredentialError, NodeCredential,
    OwnCredential, VerifiedPeer,
};
pub use error::CertError;
pub use identity::{IdType, NationalId, PractitionerIdentity};
pub use pkcs12::{open_pkcs12, Pkcs12Card, Pkcs12Error, Pkcs12Password};
pub use renewal::{check_renewal, check_renewal_certificate, Renewal, RenewalError};
pub use signer::{
    check_card_key, CardSigner, Pkcs8Signer, SignatureScheme, SignerError, CARD_KEY_CHALLENGE,
};
pub use time::UnixTime;
pub use verify::{
    check_policy_oid, verify_certificate, InvalidPolicy, Purpose, RevocationCheck, TrustStore,
    VerifiedCertificate, VerifyOptions,
};
