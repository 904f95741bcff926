//! Which card signs: a certificate and key file, a `.p12`, or a PKCS#11
//! token; and `init`'s options.

use std::path::PathBuf;

use clap::Args;

/// Where the practitioner's certificate and card key come from (`init`,
/// and whatever else the card signs for).
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("card").required(true).args(["cert", "p12", "pkcs11_module"])))]
pub(crate) struct CardArgs {
    /// The practitioner's authentication certificate (PEM or DER).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The card key: PKCS#8 private key (PEM or DER) of the certificate.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Instead of --cert and --key: a software certificate (PKCS#12, .p12)
    /// holding the certificate, its key and intermediates. The password is
    /// read from CONFRERE_P12_PASSWORD, else asked on the terminal.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["cert", "key"])]
    pub p12: Option<PathBuf>,
    /// Instead of --cert and --key: a smart card (CPS card) read through
    /// this PKCS#11 module of its middleware. The PIN is read from
    /// CONFRERE_PKCS11_PIN, else asked on the terminal.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["cert", "key", "p12"])]
    pub pkcs11_module: Option<PathBuf>,
    /// With --pkcs11-module: the token (card) with this label [default: the
    /// only token holding a certificate].
    #[arg(long, value_name = "LABEL", requires = "pkcs11_module")]
    pub token_label: Option<String>,
    /// With --pkcs11-module: the token (card) with this serial number.
    #[arg(
        long,
        value_name = "SERIAL",
        requires = "pkcs11_module",
        conflicts_with = "token_label"
    )]
    pub token_serial: Option<String>,
    /// With --pkcs11-module: the certificate or key with this label [default:
    /// the only certificate whose key is on the token].
    #[arg(long, value_name = "LABEL", requires = "pkcs11_module")]
    pub key_label: Option<String>,
    /// With --pkcs11-module: the certificate and key with this id (CKA_ID,
    /// hexadecimal).
    #[arg(
        long,
        value_name = "HEX",
        requires = "pkcs11_module",
        conflicts_with = "key_label",
        value_parser = parse_key_id
    )]
    pub key_id: Option<KeyId>,
}

/// A PKCS#11 object id (`CKA_ID`), given in hexadecimal.
#[derive(Clone, Debug)]
pub(crate) struct KeyId(pub Vec<u8>);

fn parse_key_id(s: &str) -> Result<KeyId, String> {
    let digits: String = s.chars().filter(|c| *c != ':').collect();
    match hex::decode(&digits) {
        Ok(id) if !id.is_empty() => Ok(KeyId(id)),
        _ => Err(
            "a key id is the CKA_ID in hexadecimal, e.g. 01 or 45:3a:1f \
             (`pkcs11-tool --module MODULE --list-objects` shows them)"
                .to_owned(),
        ),
    }
}

/// Options of `init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The node's home directory to create.
    #[arg(long, env = "CONFRERE_HOME", value_name = "DIR")]
    pub home: PathBuf,
    #[command(flatten)]
    pub card: CardArgs,
    /// Intermediate CA certificates; repeatable.
    #[arg(long, value_name = "FILE")]
    pub chain: Vec<PathBuf>,
    /// Trust anchor: the health PKI's root certificate; repeatable.
    #[arg(long, value_name = "FILE", required = true)]
    pub trust: Vec<PathBuf>,
    /// CRLs; repeatable. Needed unless --no-revocation-check.
    #[arg(long, value_name = "FILE")]
    pub crl: Vec<PathBuf>,
    /// Do not check revocation, now or for peers (tests and trials only).
    #[arg(long)]
    pub no_revocation_check: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}
