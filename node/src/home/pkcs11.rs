//! The card key on a PKCS#11 token: a CPS smart card read through its
//! middleware's module (or any token, SoftHSM2 in the tests).
//!
//! The module is loaded, the token chosen (by label, by serial, or the only
//! one holding a certificate), the user logged in with the PIN, and the
//! certificate paired with the private key of the same `CKA_ID`. Before the
//! key is handed out it signs a fixed challenge that must verify under the
//! certificate ([`confrere_protocol::check_card_key`]): a token without the
//! certificate's key, or with a key that may not sign, is refused there.
//! The key never leaves the token; the PIN is passed to `C_Login` only.

use std::fmt;

use confrere_protocol::CertError;
use zeroize::Zeroizing;

mod choose;
mod token;

pub(crate) use token::open_token;

/// The user PIN of a PKCS#11 token. Wiped from memory on drop; its Debug
/// form does not show it.
pub struct Pkcs11Pin(Zeroizing<String>);

impl Pkcs11Pin {
    /// Wraps a PIN (the caller's copy is moved in, not copied).
    pub fn new(pin: String) -> Self {
        Pkcs11Pin(Zeroizing::new(pin))
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Pkcs11Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pkcs11Pin(..)")
    }
}

/// Which token of the module holds the card.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenChoice {
    /// The only token that holds a certificate.
    OnlyOne,
    /// The token with this label.
    Label(String),
    /// The token with this serial number.
    Serial(String),
}

/// Which certificate and key of the token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyChoice {
    /// The only certificate whose private key is also on the token.
    OnlyOne,
    /// The certificate or key with this label.
    Label(String),
    /// The certificate and key with this `CKA_ID`.
    Id(Vec<u8>),
}

/// Why the card key on a PKCS#11 token cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Pkcs11Error {
    /// No file at the module's path.
    #[error("no PKCS#11 module at this path")]
    ModuleMissing,
    /// The file does not load as a PKCS#11 module.
    #[error("not a PKCS#11 module: {0}")]
    NotAModule(String),
    /// The module or the token failed a call.
    #[error("the token failed: {0}")]
    Device(String),
    /// No slot of the module holds a token.
    #[error("no token is present (is the card in the reader?)")]
    NoToken,
    /// The named token is not there.
    #[error("no token {wanted}; tokens present: {}", .tokens.join(", "))]
    TokenNotFound {
        /// The label or serial asked for.
        wanted: String,
        /// The tokens present.
        tokens: Vec<String>,
    },
    /// Several tokens could be meant.
    #[error("several tokens hold a certificate: {}", .tokens.join(", "))]
    SeveralTokens {
        /// The tokens that could be meant.
        tokens: Vec<String>,
    },
    /// No token holds a certificate.
    #[error("no certificate on the token{}", if .tokens.is_empty() { String::new() } else { format!("s present: {}", .tokens.join(", ")) })]
    NoCertificate {
        /// The tokens present (empty when one was named).
        tokens: Vec<String>,
    },
    /// No certificate of the token has its private key there.
    #[error("no private key on the token goes with its certificates ({})", .certificates.join(", "))]
    NoKeyForCertificate {
        /// The certificates on the token.
        certificates: Vec<String>,
    },
    /// The certificate or key named is not there.
    #[error("no certificate or key {wanted} with its key on the token; there are: {}", .candidates.join("; "))]
    KeyNotFound {
        /// The label or id asked for.
        wanted: String,
        /// The certificate and key pairs on the token.
        candidates: Vec<String>,
    },
    /// Several certificates with their keys could be meant.
    #[error("several certificates have their key on the token: {}", .candidates.join("; "))]
    SeveralKeys {
        /// The pairs that could be meant.
        candidates: Vec<String>,
    },
    /// `C_Login` refused the PIN.
    #[error("the PIN was refused by the token{}", if *.final_try { " (one try is left before the card locks)" } else { "" })]
    WrongPin {
        /// The token says the next wrong PIN locks it.
        final_try: bool,
    },
    /// The PIN is locked after too many wrong tries.
    #[error("the token's PIN is locked after too many wrong PINs")]
    PinLocked,
    /// The certificate on the token does not parse.
    #[error("the certificate {label} on the token is unreadable: {error}")]
    BadCertificate {
        /// The certificate object.
        label: String,
        /// What is wrong.
        error: CertError,
    },
    /// The key's type or the certificate's is not one a credential is
    /// signed with.
    #[error("the key {0} is neither RSA nor ECDSA P-256 with a matching certificate")]
    UnsupportedKey(String),
    /// The key may not sign (`CKA_SIGN` false, or the token refuses).
    #[error("the key {0} on the token is not allowed to sign")]
    KeyCannotSign(String),
    /// The key signs, but not for the certificate's public key.
    #[error("the key {0} on the token is not the certificate's key (its signature does not verify under the certificate)")]
    KeyMismatch(String),
}

impl Pkcs11Error {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Pkcs11Error::ModuleMissing | Pkcs11Error::NotAModule(_) => {
                "give --pkcs11-module the card middleware's PKCS#11 module, for example \
                 /usr/lib/libcps3_pkcs11_lnx.so (ANS Cryptolib CPS) or \
                 /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so (OpenSC); see docs/operations.md"
            }
            Pkcs11Error::Device(_) => {
                "check that the reader is connected and the card inserted, then try again"
            }
            Pkcs11Error::NoToken => "insert the card in the reader and try again",
            Pkcs11Error::TokenNotFound { .. } | Pkcs11Error::SeveralTokens { .. } => {
                "name the token with --token-label LABEL or --token-serial SERIAL, from the list above"
            }
            Pkcs11Error::NoCertificate { .. } | Pkcs11Error::NoKeyForCertificate { .. } => {
                "this token does not hold a practitioner's certificate with its key: check the \
                 card, or name another token with --token-label"
            }
            Pkcs11Error::KeyNotFound { .. } | Pkcs11Error::SeveralKeys { .. } => {
                "name the authentication certificate with --key-label LABEL or --key-id HEX, from the list above"
            }
            Pkcs11Error::WrongPin { .. } => {
                "check the card's PIN and try again: the card locks after a few wrong PINs in a row \
                 (3 for a CPS card), so do not guess"
            }
            Pkcs11Error::PinLocked => {
                "unblock the card with its unblocking code (PUK), with the card management tool of \
                 its middleware, then try again"
            }
            Pkcs11Error::BadCertificate { .. } | Pkcs11Error::UnsupportedKey(_) => {
                "this certificate cannot be used: name the authentication certificate with --key-label or --key-id"
            }
            Pkcs11Error::KeyCannotSign(_) => {
                "this is not the card's authentication key: name the authentication certificate \
                 with --key-label or --key-id"
            }
            Pkcs11Error::KeyMismatch(_) => {
                "the token holds a key that is not this certificate's: check the card, or name \
                 another certificate with --key-label or --key-id"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_never_shows_in_debug() {
        let pin = Pkcs11Pin::new("123456".into());
        assert_eq!(format!("{pin:?}"), "Pkcs11Pin(..)");
        assert_eq!(pin.expose(), "123456");
    }

    #[test]
    fn every_error_has_a_hint() {
        let e = Pkcs11Error::WrongPin { final_try: true };
        assert!(e.to_string().contains("the PIN was refused by the token"));
        assert!(e.to_string().contains("one try is left"));
        assert!(e.hint().contains("locks"));
        assert!(Pkcs11Error::ModuleMissing
            .hint()
            .contains("--pkcs11-module"));
    }
}
