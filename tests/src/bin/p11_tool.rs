//! Puts what a practitioner's smart card holds on a SoftHSM2 token, for
//! tests/tests/pkcs11.rs: the certificate object (which `softhsm2-util`
//! cannot import), and a key that may not sign. A process of its own, so
//! each test's `SOFTHSM2_CONF` (its own token directory) is the one read.
//!
//! ```text
//! p11-tool MODULE TOKEN_LABEL PIN import-cert CERT.pem ID_HEX LABEL
//! p11-tool MODULE TOKEN_LABEL PIN no-sign
//! ```
//!
//! `import-cert` creates an X.509 certificate object with the id and
//! label given; `no-sign` sets `CKA_SIGN` false on every private key of the
//! token. Exits 0 when done, 1 with the reason on stderr otherwise.

use std::process::ExitCode;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, CertificateType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("p11-tool: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let [module, token, pin, command, rest @ ..] = args else {
        return Err("usage: p11-tool MODULE TOKEN_LABEL PIN COMMAND ...".into());
    };
    let ctx = Pkcs11::new(module).map_err(|e| e.to_string())?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|e| e.to_string())?;
    let slot = ctx
        .get_slots_with_token()
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .map(|i| i.label().trim() == token)
                .unwrap_or(false)
        })
        .ok_or_else(|| format!("no token {token}"))?;
    let session = ctx.open_rw_session(slot).map_err(|e| e.to_string())?;
    session
        .login(UserType::User, Some(&AuthPin::from(pin.as_str())))
        .map_err(|e| e.to_string())?;
    match (command.as_str(), rest) {
        ("import-cert", [cert, id, label]) => {
            let pem = std::fs::read_to_string(cert).map_err(|e| e.to_string())?;
            let (_, der) = pem_rfc7468::decode_vec(pem.as_bytes()).map_err(|e| e.to_string())?;
            let (_, parsed) =
                x509_parser::parse_x509_certificate(&der).map_err(|e| e.to_string())?;
            let subject = parsed.tbs_certificate.subject.as_raw().to_vec();
            session
                .create_object(&[
                    Attribute::Class(ObjectClass::CERTIFICATE),
                    Attribute::CertificateType(CertificateType::X_509),
                    Attribute::Token(true),
                    Attribute::Private(false),
                    Attribute::Id(hex::decode(id).map_err(|e| e.to_string())?),
                    Attribute::Label(label.as_bytes().to_vec()),
                    Attribute::Subject(subject),
                    Attribute::Value(der.clone()),
                ])
                .map_err(|e| e.to_string())?;
            Ok(())
        }
        ("no-sign", []) => {
            let keys = session
                .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
                .map_err(|e| e.to_string())?;
            for k in keys {
                session
                    .update_attributes(k, &[Attribute::Sign(false)])
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        _ => Err(format!("unknown command {command} or wrong arguments")),
    }
}
