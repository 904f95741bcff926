//! The calls to the PKCS#11 module: load, choose the token, log in, find the
//! certificate and its key, and sign.

use std::fmt;
use std::path::Path;
use std::sync::Mutex;

use confrere_protocol::{
    check_card_key, parse_certificates, CardSigner, Certificate, SignatureScheme, SignerError,
};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{
    Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use super::choose::{
    choose_pair, choose_signing, choose_token, ecdsa_p256_raw_to_der, rsa_sha256_digest_info,
    ObjectSummary, Signing, TokenKeyKind, TokenSummary,
};
use super::{KeyChoice, Pkcs11Error, Pkcs11Pin, TokenChoice};

/// The certificate found on the token and its key, checked to be its key.
pub(crate) struct Pkcs11Card {
    /// The practitioner's authentication certificate.
    pub(crate) certificate: Certificate,
    /// Its key, on the token.
    pub(crate) signer: Pkcs11Signer,
}

/// A card key on a PKCS#11 token, in a logged-in session (logged out and
/// closed on drop).
pub(crate) struct Pkcs11Signer {
    session: Mutex<Session>,
    key: ObjectHandle,
    /// The key's label and id, for messages.
    name: String,
    signing: Signing,
    /// The token's reason for the last refused signature.
    last_error: Mutex<Option<Pkcs11Error>>,
}

impl fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("signing", &self.signing)
            .finish_non_exhaustive()
    }
}

fn device(e: CkError) -> Pkcs11Error {
    match e {
        CkError::Pkcs11(rv, function) => Pkcs11Error::Device(format!("{function}: {rv:?}")),
        other => Pkcs11Error::Device(other.to_string()),
    }
}

/// Loads `module`, opens the token and finds the card's certificate and
/// key. See the module docs.
pub(crate) fn open_token(
    module: &Path,
    token: &TokenChoice,
    key: &KeyChoice,
    pin: &Pkcs11Pin,
) -> Result<Pkcs11Card, Pkcs11Error> {
    if !module.is_file() {
        return Err(Pkcs11Error::ModuleMissing);
    }
    // A name without a directory would be looked up by dlopen in the
    // system's library paths, not here: load the file that was checked.
    let module = module
        .canonicalize()
        .map_err(|_| Pkcs11Error::ModuleMissing)?;
    let ctx = Pkcs11::new(&module).map_err(|e| match e {
        CkError::LibraryLoading(e) => Pkcs11Error::NotAModule(e.to_string()),
        CkError::MissingSymbol(s) => Pkcs11Error::NotAModule(format!("it has no {s}")),
        other => Pkcs11Error::NotAModule(other.to_string()),
    })?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(device(e)),
    }
    let slots = ctx.get_slots_with_token().map_err(device)?;
    let mut tokens = Vec::with_capacity(slots.len());
    for &slot in &slots {
        let info = ctx.get_token_info(slot).map_err(device)?;
        tokens.push(TokenSummary {
            label: info.label().trim().to_owned(),
            serial: info.serial_number().trim().to_owned(),
            certificates: count_certificates(&ctx, slot),
        });
    }
    let slot = slots[choose_token(&tokens, token)?];
    let session = ctx.open_ro_session(slot).map_err(device)?;
    login(&ctx, slot, &session, pin)?;

    let certs = find(&session, ObjectClass::CERTIFICATE)?;
    let keys = find(&session, ObjectClass::PRIVATE_KEY)?;
    let cert_summaries: Vec<ObjectSummary> = certs.iter().map(|(_, s)| s.clone()).collect();
    let key_summaries: Vec<ObjectSummary> = keys.iter().map(|(_, s)| s.clone()).collect();
    let (c, k) = choose_pair(&cert_summaries, &key_summaries, key)?;
    let (cert_handle, cert_summary) = &certs[c];
    let (key_handle, key_summary) = &keys[k];
    let key_name = key_summary.name();

    let certificate = read_certificate(&session, *cert_handle, cert_summary)?;
    let attrs = session
        .get_attributes(*key_handle, &[AttributeType::KeyType, AttributeType::Sign])
        .map_err(device)?;
    let mut key_type = None;
    for a in attrs {
        match a {
            Attribute::KeyType(t) => key_type = Some(t),
            Attribute::Sign(false) => return Err(Pkcs11Error::KeyCannotSign(key_name)),
            _ => {}
        }
    }
    let mechanisms = ctx.get_mechanism_list(slot).map_err(device)?;
    let key_kind = match key_type {
        Some(KeyType::RSA) => TokenKeyKind::Rsa,
        Some(KeyType::EC) => TokenKeyKind::Ec,
        _ => TokenKeyKind::Other,
    };
    let signing = choose_signing(
        key_kind,
        certificate.public_key().kind,
        mechanisms.contains(&MechanismType::SHA256_RSA_PKCS),
        mechanisms.contains(&MechanismType::RSA_PKCS),
        &key_name,
    )?;
    let signer = Pkcs11Signer {
        session: Mutex::new(session),
        key: *key_handle,
        name: key_name.clone(),
        signing,
        last_error: Mutex::new(None),
    };
    match check_card_key(&signer, &certificate) {
        Ok(()) => {}
        Err(SignerError::SigningFailed) => {
            return Err(signer
                .take_error()
                .unwrap_or(Pkcs11Error::KeyCannotSign(key_name)))
        }
        Err(SignerError::UnsupportedKey(_)) => return Err(Pkcs11Error::UnsupportedKey(key_name)),
        Err(_) => return Err(Pkcs11Error::KeyMismatch(key_name)),
    }
    Ok(Pkcs11Card {
        certificate,
        signer,
    })
}

/// How many X.509 certificates `slot`'s token shows without login (0 when
/// it cannot be asked).
fn count_certificates(ctx: &Pkcs11, slot: Slot) -> usize {
    let Ok(session) = ctx.open_ro_session(slot) else {
        return 0;
    };
    session
        .find_objects(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
        ])
        .map(|v| v.len())
        .unwrap_or(0)
}

/// Logs the user in with `pin` (or on the reader's PIN pad when the token
/// has one).
fn login(ctx: &Pkcs11, slot: Slot, session: &Session, pin: &Pkcs11Pin) -> Result<(), Pkcs11Error> {
    let info = ctx.get_token_info(slot).map_err(device)?;
    if info.user_pin_locked() {
        return Err(Pkcs11Error::PinLocked);
    }
    let result = if info.protected_authentication_path() {
        session.login(UserType::User, None)
    } else {
        let auth = AuthPin::from(pin.expose());
        session.login(UserType::User, Some(&auth))
    };
    match result {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(CkError::Pkcs11(
            RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange,
            _,
        )) => {
            // What the token says now: this try may have locked it.
            let (locked, final_try) = ctx
                .get_token_info(slot)
                .map(|i| (i.user_pin_locked(), i.user_pin_final_try()))
                .unwrap_or((false, false));
            Err(if locked {
                Pkcs11Error::PinLocked
            } else {
                Pkcs11Error::WrongPin { final_try }
            })
        }
        Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(Pkcs11Error::PinLocked),
        Err(e) => Err(device(e)),
    }
}

/// The objects of `class` with their id and label.
fn find(
    session: &Session,
    class: ObjectClass,
) -> Result<Vec<(ObjectHandle, ObjectSummary)>, Pkcs11Error> {
    let mut template = vec![Attribute::Class(class)];
    if class == ObjectClass::CERTIFICATE {
        template.push(Attribute::CertificateType(CertificateType::X_509));
    }
    let handles = session.find_objects(&template).map_err(device)?;
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        let attrs = session
            .get_attributes(h, &[AttributeType::Id, AttributeType::Label])
            .map_err(device)?;
        let mut summary = ObjectSummary {
            id: Vec::new(),
            label: String::new(),
        };
        for a in attrs {
            match a {
                Attribute::Id(id) => summary.id = id,
                Attribute::Label(l) => summary.label = String::from_utf8_lossy(&l).into_owned(),
                _ => {}
            }
        }
        out.push((h, summary));
    }
    Ok(out)
}

fn read_certificate(
    session: &Session,
    handle: ObjectHandle,
    summary: &ObjectSummary,
) -> Result<Certificate, Pkcs11Error> {
    let attrs = session
        .get_attributes(handle, &[AttributeType::Value])
        .map_err(device)?;
    let der = attrs
        .into_iter()
        .find_map(|a| match a {
            Attribute::Value(v) => Some(v),
            _ => None,
        })
        .unwrap_or_default();
    parse_certificates(&der)
        .map_err(|error| Pkcs11Error::BadCertificate {
            label: summary.name(),
            error,
        })?
        .into_iter()
        .next()
        .ok_or_else(|| Pkcs11Error::BadCertificate {
            label: summary.name(),
            error: confrere_protocol::CertError::Malformed("empty".into()),
        })
}

impl Pkcs11Signer {
    fn take_error(&self) -> Option<Pkcs11Error> {
        self.last_error.lock().ok().and_then(|mut e| e.take())
    }

    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, Pkcs11Error> {
        let session = self
            .session
            .lock()
            .map_err(|_| Pkcs11Error::Device("the token session was poisoned".into()))?;
        let refused = |e: CkError| match e {
            CkError::Pkcs11(RvError::KeyFunctionNotPermitted, _) => {
                Pkcs11Error::KeyCannotSign(self.name.clone())
            }
            other => device(other),
        };
        match self.signing {
            Signing::RsaSha256 => session
                .sign(&Mechanism::Sha256RsaPkcs, self.key, msg)
                .map_err(refused),
            Signing::RsaDigestInfo => session
                .sign(&Mechanism::RsaPkcs, self.key, &rsa_sha256_digest_info(msg))
                .map_err(refused),
            Signing::EcdsaP256 => {
                let digest = ring::digest::digest(&ring::digest::SHA256, msg);
                let raw = session
                    .sign(&Mechanism::Ecdsa, self.key, digest.as_ref())
                    .map_err(refused)?;
                ecdsa_p256_raw_to_der(&raw).ok_or_else(|| {
                    Pkcs11Error::Device(format!(
                        "an ECDSA signature of {} bytes, not 64",
                        raw.len()
                    ))
                })
            }
        }
    }
}

impl CardSigner for Pkcs11Signer {
    fn scheme(&self) -> SignatureScheme {
        match self.signing {
            Signing::RsaSha256 | Signing::RsaDigestInfo => SignatureScheme::RsaPkcs1Sha256,
            Signing::EcdsaP256 => SignatureScheme::EcdsaP256Sha256,
        }
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignerError> {
        self.try_sign(msg).map_err(|e| {
            if let Ok(mut last) = self.last_error.lock() {
                *last = Some(e);
            }
            SignerError::SigningFailed
        })
    }
}
