//! The command line, as clap sees it. Each command's `--help` ends with an
//! example; exit codes are listed in `confrere --help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use confrere_protocol::UnixTime;

const EXIT_CODES: &str = "\
Exit codes:
  0  success (for `cert inspect`: the certificate is valid)
  1  refused or invalid (a certificate that does not verify, a refused enrollment)
  2  usage error or unusable input (unreadable or malformed file, bad option)
  3  daemon unreachable";

/// Confrère: send patient dossiers to colleagues, end-to-end encrypted,
/// authenticated by health card certificates.
#[derive(Debug, Parser)]
#[command(name = "confrere", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect and verify certificates.
    #[command(subcommand)]
    Cert(CertCommand),
    /// A TEST public key infrastructure in the IGC-Santé shape, for trials and tests.
    #[command(subcommand)]
    Pki(PkiCommand),
    /// Enroll a node: check the card certificate, make the node's keys and
    /// have the card key sign the node credential.
    #[command(after_help = "\
Example:
  confrere init --home ~/confrere --cert card/cert.pem --key card/key.pem \\
      --chain card/chain.pem --trust pki/root.pem --crl pki/crl.pem")]
    Init(InitArgs),
    /// Play what Confrère does, end to end, with TEST certificates, narrated.
    #[command(after_help = "\
Example:
  confrere demo                 # in a temporary directory, removed afterwards
  confrere demo --dir ./demo    # keep the files for a look")]
    Demo {
        /// Work in this (new or empty) directory and keep it.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `confrere cert …`
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Print a practitioner certificate's identity and whether it verifies.
    #[command(after_help = "\
Example:
  confrere cert inspect sage-femme.pem --chain ac-personnes.pem \\
      --trust ac-racine.pem --no-revocation-check --at 2021-01-01T00:00:00Z

Exit status: 0 valid, 1 not valid, 2 unusable input.")]
    Inspect(InspectArgs),
}

/// Options of `cert inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The certificate (PEM or DER).
    pub cert: PathBuf,
    /// Intermediate CA certificates (PEM or DER); repeatable.
    #[arg(long, value_name = "FILE")]
    pub chain: Vec<PathBuf>,
    /// Trust anchor: the PKI's root certificate; repeatable.
    #[arg(long, value_name = "FILE")]
    pub trust: Vec<PathBuf>,
    /// CRL (PEM or DER); repeatable.
    #[arg(long, value_name = "FILE")]
    pub crl: Vec<PathBuf>,
    /// Do not check revocation (it is checked by default and needs --crl).
    #[arg(long)]
    pub no_revocation_check: bool,
    /// Verify as of this instant (RFC 3339) instead of now.
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    pub at: Option<UnixTime>,
    /// Also require that the certificate can authenticate a node (digitalSignature).
    #[arg(long)]
    pub authentication: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `confrere pki …`
#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Make a TEST root CA, a TEST intermediate CA and an empty CRL.
    #[command(
        name = "init-test",
        after_help = "\
Example:
  confrere pki init-test --out ./test-pki"
    )]
    Init {
        /// The directory to create.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Issue a TEST practitioner authentication certificate and its key.
    #[command(
        name = "issue-test",
        after_help = "\
Example:
  confrere pki issue-test --ca ./test-pki --national-id 810001000016 \\
      --given JEAN --surname DUPONT --profession 10 --out ./dupont"
    )]
    Issue(IssueTestArgs),
    /// Revoke a TEST certificate: add it to the CA's CRL.
    #[command(
        name = "revoke-test",
        after_help = "\
Example:
  confrere pki revoke-test --ca ./test-pki ./dupont/cert.pem"
    )]
    Revoke {
        /// The CA directory made by `pki init-test`.
        #[arg(long, value_name = "DIR")]
        ca: PathBuf,
        /// The certificate to revoke.
        cert: PathBuf,
    },
}

/// Options of `pki issue-test`.
#[derive(Debug, Args)]
pub struct IssueTestArgs {
    /// The CA directory made by `pki init-test`.
    #[arg(long, value_name = "DIR")]
    pub ca: PathBuf,
    /// National id with its type prefix: 8 + 11-digit RPPS, or 0 + 9-character ADELI.
    #[arg(long, value_name = "ID")]
    pub national_id: String,
    /// Given name.
    #[arg(long, value_name = "NAME")]
    pub given: String,
    /// Surname.
    #[arg(long, value_name = "NAME")]
    pub surname: String,
    /// Profession code (TRE_G15), e.g. 10 Médecin, 50 Sage-Femme, 60 Infirmier.
    #[arg(long, value_name = "CODE")]
    pub profession: u32,
    /// Make an ECDSA P-256 key instead of RSA-2048.
    #[arg(long)]
    pub ecdsa: bool,
    /// The directory to write cert.pem, key.pem and chain.pem to.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Options of `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The node's home directory to create.
    #[arg(long, env = "CONFRERE_HOME", value_name = "DIR")]
    pub home: PathBuf,
    /// The practitioner's authentication certificate (PEM or DER).
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// The card key: PKCS#8 private key (PEM or DER) of the certificate.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
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

fn parse_instant(s: &str) -> Result<UnixTime, String> {
    UnixTime::parse_rfc3339(s)
        .ok_or_else(|| format!("not an RFC 3339 instant (like 2021-01-01T00:00:00Z): {s}"))
}
