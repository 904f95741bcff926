//! The choices made on what a PKCS#11 token shows, as plain functions: which
//! token, which certificate and key, and the signature encodings the token's
//! mechanisms need. The device calls are in `token.rs`.

use confrere_protocol::certificate::KeyKind;

use super::{KeyChoice, Pkcs11Error, TokenChoice};

/// A token as its slot describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TokenSummary {
    /// `CKA_LABEL` of the token, trimmed of its padding.
    pub(crate) label: String,
    /// Its serial number, trimmed.
    pub(crate) serial: String,
    /// How many X.509 certificates it shows before login.
    pub(crate) certificates: usize,
}

impl TokenSummary {
    fn name(&self) -> String {
        format!("\"{}\" (serial {})", self.label, self.serial)
    }
}

/// The token `choice` names among `tokens`, by index. With no choice, the
/// only token holding a certificate.
pub(crate) fn choose_token(
    tokens: &[TokenSummary],
    choice: &TokenChoice,
) -> Result<usize, Pkcs11Error> {
    if tokens.is_empty() {
        return Err(Pkcs11Error::NoToken);
    }
    let names = || tokens.iter().map(TokenSummary::name).collect::<Vec<_>>();
    let (wanted, found): (String, Vec<usize>) = match choice {
        TokenChoice::Label(label) => (
            format!("labelled \"{label}\""),
            indices(tokens, |t| t.label == *label),
        ),
        TokenChoice::Serial(serial) => (
            format!("with serial {serial}"),
            indices(tokens, |t| t.serial == *serial),
        ),
        TokenChoice::OnlyOne => {
            let found = indices(tokens, |t| t.certificates > 0);
            return match found.as_slice() {
                [one] => Ok(*one),
                [] => Err(Pkcs11Error::NoCertificate { tokens: names() }),
                _ => Err(Pkcs11Error::SeveralTokens {
                    tokens: found.iter().map(|&i| tokens[i].name()).collect(),
                }),
            };
        }
    };
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(Pkcs11Error::TokenNotFound {
            wanted,
            tokens: names(),
        }),
        _ => Err(Pkcs11Error::SeveralTokens {
            tokens: found.iter().map(|&i| tokens[i].name()).collect(),
        }),
    }
}

fn indices<T>(items: &[T], keep: impl Fn(&T) -> bool) -> Vec<usize> {
    items
        .iter()
        .enumerate()
        .filter(|(_, t)| keep(t))
        .map(|(i, _)| i)
        .collect()
}

/// A certificate or private key object as the token shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ObjectSummary {
    /// `CKA_ID`: what ties a key to its certificate.
    pub(crate) id: Vec<u8>,
    /// `CKA_LABEL`, lossily decoded.
    pub(crate) label: String,
}

impl ObjectSummary {
    pub(crate) fn name(&self) -> String {
        format!("\"{}\" (id {})", self.label, hex::encode(&self.id))
    }

    fn is_named(&self, choice: &KeyChoice) -> bool {
        match choice {
            KeyChoice::OnlyOne => true,
            KeyChoice::Label(l) => self.label == *l,
            KeyChoice::Id(id) => self.id == *id,
        }
    }
}

/// The certificate and private key to use, by index: the certificates whose
/// private key (same `CKA_ID`) is on the token, narrowed to the one `choice`
/// names (by the label of the certificate or of the key, or by the id).
pub(crate) fn choose_pair(
    certs: &[ObjectSummary],
    keys: &[ObjectSummary],
    choice: &KeyChoice,
) -> Result<(usize, usize), Pkcs11Error> {
    if certs.is_empty() {
        return Err(Pkcs11Error::NoCertificate { tokens: Vec::new() });
    }
    let mut pairs = Vec::new();
    for (c, cert) in certs.iter().enumerate() {
        for (k, key) in keys.iter().enumerate() {
            if cert.id == key.id {
                pairs.push((c, k));
            }
        }
    }
    if pairs.is_empty() {
        return Err(Pkcs11Error::NoKeyForCertificate {
            certificates: certs.iter().map(ObjectSummary::name).collect(),
        });
    }
    let named: Vec<(usize, usize)> = pairs
        .iter()
        .copied()
        .filter(|&(c, k)| certs[c].is_named(choice) || keys[k].is_named(choice))
        .collect();
    let list = |p: &[(usize, usize)]| {
        p.iter()
            .map(|&(c, k)| {
                format!(
                    "certificate {} with key {}",
                    certs[c].name(),
                    keys[k].name()
                )
            })
            .collect::<Vec<_>>()
    };
    match named.as_slice() {
        [one] => Ok(*one),
        [] => Err(Pkcs11Error::KeyNotFound {
            wanted: match choice {
                KeyChoice::Label(l) => format!("labelled \"{l}\""),
                KeyChoice::Id(id) => format!("with id {}", hex::encode(id)),
                KeyChoice::OnlyOne => String::new(),
            },
            candidates: list(&pairs),
        }),
        several => Err(Pkcs11Error::SeveralKeys {
            candidates: list(several),
        }),
    }
}

/// The type of a private key object (`CKA_KEY_TYPE`), as far as signing
/// cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKeyKind {
    /// `CKK_RSA`.
    Rsa,
    /// `CKK_EC`.
    Ec,
    /// Anything else, or not shown.
    Other,
}

/// How the token is asked to sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signing {
    /// `CKM_SHA256_RSA_PKCS` over the message.
    RsaSha256,
    /// `CKM_RSA_PKCS` over the SHA-256 `DigestInfo`, for tokens without
    /// the hashing mechanism.
    RsaDigestInfo,
    /// `CKM_ECDSA` over the SHA-256 digest; the raw signature made DER.
    EcdsaP256,
}

/// How the key `name` of type `key` signs for a certificate whose key is
/// `cert`, given whether the token offers `CKM_SHA256_RSA_PKCS` and
/// `CKM_RSA_PKCS`. A key of another type than the certificate's is not its
/// key; a type no credential is signed with is unsupported.
pub(crate) fn choose_signing(
    key: TokenKeyKind,
    cert: KeyKind,
    has_sha256_rsa_pkcs: bool,
    has_rsa_pkcs: bool,
    name: &str,
) -> Result<Signing, Pkcs11Error> {
    match (key, cert) {
        (TokenKeyKind::Rsa, KeyKind::Rsa { .. }) if has_sha256_rsa_pkcs || !has_rsa_pkcs => {
            Ok(Signing::RsaSha256)
        }
        (TokenKeyKind::Rsa, KeyKind::Rsa { .. }) => Ok(Signing::RsaDigestInfo),
        (TokenKeyKind::Ec, KeyKind::EcP256) => Ok(Signing::EcdsaP256),
        (TokenKeyKind::Rsa, KeyKind::EcP256) | (TokenKeyKind::Ec, KeyKind::Rsa { .. }) => {
            Err(Pkcs11Error::KeyMismatch(name.to_owned()))
        }
        _ => Err(Pkcs11Error::UnsupportedKey(name.to_owned())),
    }
}

/// A P-256 ECDSA signature as PKCS#11 gives it (`r || s`, 32 bytes each)
/// in the DER form X.509 and the credential use (`SEQUENCE { r, s }`).
pub(crate) fn ecdsa_p256_raw_to_der(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.len() != 64 {
        return None;
    }
    let (r, s) = raw.split_at(32);
    let (r, s) = (der_uint(r), der_uint(s));
    let mut out = Vec::with_capacity(6 + r.len() + s.len());
    out.push(0x30);
    out.push(u8::try_from(r.len() + s.len()).ok()?);
    out.extend_from_slice(&r);
    out.extend_from_slice(&s);
    Some(out)
}

/// A DER INTEGER of a big-endian unsigned number of at most 32 bytes.
fn der_uint(n: &[u8]) -> Vec<u8> {
    let start = n.iter().position(|&b| b != 0).unwrap_or(n.len());
    let digits = if start == n.len() {
        &[0u8][..]
    } else {
        &n[start..]
    };
    let pad = digits[0] & 0x80 != 0;
    let len = digits.len() + usize::from(pad);
    let mut out = Vec::with_capacity(2 + len);
    out.push(0x02);
    out.push(len as u8);
    if pad {
        out.push(0);
    }
    out.extend_from_slice(digits);
    out
}

/// The DER `DigestInfo` prefix of SHA-256, for tokens that sign with raw
/// `CKM_RSA_PKCS` only (RFC 8017, section 9.2, note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// What `CKM_RSA_PKCS` signs for an RSA PKCS#1 v1.5 SHA-256 signature of
/// `msg`: the SHA-256 `DigestInfo`.
pub(crate) fn rsa_sha256_digest_info(msg: &[u8]) -> Vec<u8> {
    let digest = ring::digest::digest(&ring::digest::SHA256, msg);
    let mut out = SHA256_DIGEST_INFO.to_vec();
    out.extend_from_slice(digest.as_ref());
    out
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "a test fails at the first unexpected value"
    )]

    use super::*;

    fn token(label: &str, serial: &str, certificates: usize) -> TokenSummary {
        TokenSummary {
            label: label.into(),
            serial: serial.into(),
            certificates,
        }
    }

    fn obj(label: &str, id: &[u8]) -> ObjectSummary {
        ObjectSummary {
            id: id.to_vec(),
            label: label.into(),
        }
    }

    #[test]
    fn the_only_token_with_a_certificate_is_taken_when_none_is_named() {
        let tokens = [token("empty", "1", 0), token("CPS", "2", 2)];
        assert_eq!(choose_token(&tokens, &TokenChoice::OnlyOne), Ok(1));
    }

    #[test]
    fn several_tokens_with_certificates_are_listed_when_none_is_named() {
        let tokens = [token("a", "1", 1), token("b", "2", 1)];
        let err = choose_token(&tokens, &TokenChoice::OnlyOne).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"a\"") && text.contains("\"b\""), "{text}");
        assert!(matches!(err, Pkcs11Error::SeveralTokens { .. }));
    }

    #[test]
    fn no_token_or_no_certificate_is_told() {
        assert_eq!(
            choose_token(&[], &TokenChoice::OnlyOne),
            Err(Pkcs11Error::NoToken)
        );
        let err = choose_token(&[token("blank", "1", 0)], &TokenChoice::OnlyOne).unwrap_err();
        assert!(matches!(err, Pkcs11Error::NoCertificate { .. }));
        assert!(err.to_string().contains("blank"));
    }

    #[test]
    fn a_token_is_found_by_label_or_serial_and_a_missing_one_lists_the_others() {
        let tokens = [token("a", "111", 1), token("b", "222", 1)];
        assert_eq!(
            choose_token(&tokens, &TokenChoice::Label("b".into())),
            Ok(1)
        );
        assert_eq!(
            choose_token(&tokens, &TokenChoice::Serial("111".into())),
            Ok(0)
        );
        let err = choose_token(&tokens, &TokenChoice::Label("c".into())).unwrap_err();
        assert!(matches!(err, Pkcs11Error::TokenNotFound { .. }));
        assert!(err.to_string().contains("\"a\""), "{err}");
        let twins = [token("a", "1", 1), token("a", "2", 1)];
        assert!(matches!(
            choose_token(&twins, &TokenChoice::Label("a".into())),
            Err(Pkcs11Error::SeveralTokens { .. })
        ));
    }

    #[test]
    fn the_certificate_is_paired_with_the_key_of_its_id() {
        let certs = [obj("auth cert", b"\x01"), obj("sign cert", b"\x02")];
        let keys = [obj("sign key", b"\x02")];
        assert_eq!(choose_pair(&certs, &keys, &KeyChoice::OnlyOne), Ok((1, 0)));
    }

    #[test]
    fn several_pairs_are_listed_and_one_is_named_by_label_or_id() {
        let certs = [obj("auth", b"\x01"), obj("sign", b"\x02")];
        let keys = [obj("auth key", b"\x01"), obj("sign key", b"\x02")];
        let err = choose_pair(&certs, &keys, &KeyChoice::OnlyOne).unwrap_err();
        assert!(matches!(err, Pkcs11Error::SeveralKeys { .. }));
        assert!(err.to_string().contains("\"auth\""), "{err}");
        let by_cert_label = choose_pair(&certs, &keys, &KeyChoice::Label("auth".into()));
        assert_eq!(by_cert_label, Ok((0, 0)));
        let by_key_label = choose_pair(&certs, &keys, &KeyChoice::Label("sign key".into()));
        assert_eq!(by_key_label, Ok((1, 1)));
        assert_eq!(
            choose_pair(&certs, &keys, &KeyChoice::Id(vec![2])),
            Ok((1, 1))
        );
        assert!(matches!(
            choose_pair(&certs, &keys, &KeyChoice::Id(vec![3])),
            Err(Pkcs11Error::KeyNotFound { .. })
        ));
    }

    #[test]
    fn a_certificate_without_its_key_or_no_certificate_is_refused() {
        let certs = [obj("auth", b"\x01")];
        assert!(matches!(
            choose_pair(&certs, &[obj("other", b"\x09")], &KeyChoice::OnlyOne),
            Err(Pkcs11Error::NoKeyForCertificate { .. })
        ));
        assert!(matches!(
            choose_pair(&[], &[obj("k", b"\x01")], &KeyChoice::OnlyOne),
            Err(Pkcs11Error::NoCertificate { .. })
        ));
    }

    #[test]
    fn the_signing_mechanism_follows_the_key_and_what_the_token_offers() {
        let rsa = KeyKind::Rsa { bits: 2048 };
        let sign = |k, c, sha, raw| choose_signing(k, c, sha, raw, "k");
        assert_eq!(
            sign(TokenKeyKind::Rsa, rsa, true, true),
            Ok(Signing::RsaSha256)
        );
        assert_eq!(
            sign(TokenKeyKind::Rsa, rsa, false, true),
            Ok(Signing::RsaDigestInfo)
        );
        // A token that lists neither is asked for the hashing one, and
        // says itself if it cannot.
        assert_eq!(
            sign(TokenKeyKind::Rsa, rsa, false, false),
            Ok(Signing::RsaSha256)
        );
        assert_eq!(
            sign(TokenKeyKind::Ec, KeyKind::EcP256, false, false),
            Ok(Signing::EcdsaP256)
        );
    }

    #[test]
    fn a_key_of_another_type_than_the_certificates_is_refused() {
        let rsa = KeyKind::Rsa { bits: 2048 };
        let sign = |k, c| choose_signing(k, c, true, true, "k");
        assert_eq!(
            sign(TokenKeyKind::Ec, rsa),
            Err(Pkcs11Error::KeyMismatch("k".into()))
        );
        assert_eq!(
            sign(TokenKeyKind::Rsa, KeyKind::EcP256),
            Err(Pkcs11Error::KeyMismatch("k".into()))
        );
        assert_eq!(
            sign(TokenKeyKind::Ec, KeyKind::EcP384),
            Err(Pkcs11Error::UnsupportedKey("k".into()))
        );
        assert_eq!(
            sign(TokenKeyKind::Other, rsa),
            Err(Pkcs11Error::UnsupportedKey("k".into()))
        );
    }

    #[test]
    fn raw_ecdsa_signatures_become_der() {
        let mut raw = [0u8; 64];
        raw[0] = 0x80; // r needs a leading zero
        raw[31] = 1;
        raw[63] = 5; // s is 5: leading zeros dropped
        let der = ecdsa_p256_raw_to_der(&raw).unwrap();
        let mut r = vec![0x02, 33, 0x00, 0x80];
        r.extend_from_slice(&[0u8; 30]);
        r.push(1);
        let mut want = vec![0x30, (r.len() + 3) as u8];
        want.extend_from_slice(&r);
        want.extend_from_slice(&[0x02, 1, 5]);
        assert_eq!(der, want);
        assert_eq!(
            ecdsa_p256_raw_to_der(&[0u8; 64]).unwrap(),
            [0x30, 6, 2, 1, 0, 2, 1, 0]
        );
        assert_eq!(ecdsa_p256_raw_to_der(&[1u8; 63]), None);
    }

    #[test]
    fn the_rsa_digest_info_is_the_sha256_prefix_and_digest() {
        let info = rsa_sha256_digest_info(b"abc");
        assert_eq!(info.len(), 51);
        assert_eq!(&info[..19], &SHA256_DIGEST_INFO);
        assert_eq!(
            hex::encode(&info[19..]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
