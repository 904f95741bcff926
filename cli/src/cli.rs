//! The command line, as clap sees it. Each command's `--help` ends with an
//! example; exit codes are listed in `confrere --help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use confrere_protocol::UnixTime;

mod card;
mod consent;
mod inbox;
mod peers;
mod renew;

pub(crate) use card::{CardArgs, InitArgs};
pub(crate) use consent::{
    CareTeamCommand, CareTeamRecordArgs, ConsentCommand, ConsentGrantArgs, ConsentListArgs,
    ConsentRevokeArgs, ConsentShowArgs, JournalArgs, JournalFormat, PurgeArgs,
};
pub(crate) use inbox::{
    InboxArgs, InboxCommand, InboxDeclineArgs, InboxItemArgs, InboxOpenArgs, InboxReplyArgs,
};
pub(crate) use peers::{PeersAddArgs, PeersCommand, PeersFindArgs, PeersListArgs, PeersRemoveArgs};
pub(crate) use renew::RenewArgs;

const EXIT_CODES: &str = "\
Exit codes:
  0  success (for `cert inspect`: the certificate is valid)
  1  refused or invalid (a certificate that does not verify, a refused enrollment)
  2  usage error or unusable input (unreadable or malformed file, bad option)
  3  daemon unreachable
  4  not found (`peers find`: no node publishes that national id;
     `peers remove`: no such address-book entry)";

/// Confrère: send patient dossiers to colleagues, end-to-end encrypted,
/// authenticated by health card certificates.
#[derive(Debug, Parser)]
#[command(name = "confrere", version, after_help = EXIT_CODES)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
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
      --chain card/chain.pem --trust pki/root.pem --crl pki/crl.pem
  confrere init --home ~/confrere --p12 card.p12 --trust pki/root.pem --crl pki/crl.pem
  confrere init --home ~/confrere --pkcs11-module /usr/lib/libcps3_pkcs11_lnx.so \\
      --trust pki/root.pem --crl pki/crl.pem")]
    Init(InitArgs),
    /// Renew the node credential with the practitioner's new card
    /// certificate: same node keys, same practitioner; inbox, outbox,
    /// consents and ledger stay.
    #[command(after_help = "\
With the daemon running, the command reads the card and sends the new
credential to it: the daemon checks it again, records the renewal in the
ledger, presents it from the next handshake on and republishes its
directory record. Without a daemon, the home is updated here. The replaced
files are kept as credential.bin.previous and certificate.pem.previous.

Example:
  confrere renew --home ~/confrere --cert newcard/cert.pem --key newcard/key.pem \\
      --chain newcard/chain.pem
  confrere renew --home ~/confrere --p12 newcard.p12")]
    Renew(RenewArgs),
    /// Run the node in the foreground until SIGINT or SIGTERM.
    #[command(after_help = "\
The store key comes from HOME/keys/store.key, or from a passphrase in the
CONFRERE_PASSPHRASE environment variable.

Bootstrap nodes and the other network settings are also read from
HOME/config.toml ([network], [relay]).

Example:
  confrere run --home ~/confrere --listen /ip4/0.0.0.0/tcp/4001 --listen /ip4/0.0.0.0/udp/4001/quic-v1
  confrere run --bootstrap /dns4/confrere.example.org/tcp/4001/p2p/12D3KooW...")]
    Run(RunArgs),
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
    /// Certificate revocation lists: take a CA's new CRL by hand.
    #[command(subcommand)]
    Crl(CrlCommand),
    /// Show the running node: who it speaks for, where it listens, its
    /// inbox and outbox.
    #[command(after_help = "\
Example:
  confrere status --home ~/confrere
  confrere status --json          # with CONFRERE_HOME set")]
    Status(StatusArgs),
    /// Open the node's web inbox in the browser: asks the running daemon
    /// for a one-time login link (valid 2 minutes) and opens it.
    #[command(after_help = "\
The link leads to http://127.0.0.1:PORT/ui/ on this machine only; it works
once, and the session it opens ends after [ui] idle_minutes (config.toml,
default 15) without use. Without a display, or with --print, the link is
printed for you to open.

Example:
  confrere ui --home ~/confrere
  confrere ui --print             # with CONFRERE_HOME set")]
    Ui(crate::commands::ui::UiArgs),
    /// Colleagues' nodes: the address book, and the directory by national id.
    #[command(subcommand)]
    Peers(PeersCommand),
    /// Send a dossier to a colleague: sealed at once, queued in the outbox,
    /// delivered when the recipient's node is reachable.
    #[command(after_help = "\
A send cites the record that allows it: --consent ID (see `confrere consent
grant`) or --care-team ID (see `confrere care-team record`).

Example:
  confrere send --home ~/confrere --to 810001000016 --consent 3f2a9c1e \\
      --patient-ins 255081416802538 --patient-family MARTIN --patient-given Anne \\
      --birth-date 1955-08-14 --sex F --reason \"Palpitations, ECG attached\" \\
      --letter letter.txt ecg.pdf labs.pdf")]
    Send(SendArgs),
    /// Dossiers sent and their delivery: state, attempts, progress.
    #[command(after_help = "\
Example:
  confrere outbox --home ~/confrere
  confrere outbox --json")]
    Outbox(OutboxArgs),
    /// Dossiers received: urgent first, then newest. Without a subcommand,
    /// lists them.
    #[command(after_help = "\
Example:
  confrere inbox --home ~/confrere
  confrere inbox show 3f2a9c1e --home ~/confrere
  confrere inbox open 3f2a9c1e --out ./referral --home ~/confrere")]
    Inbox(InboxArgs),
    /// Patients' consents to share their dossiers (French public health
    /// code, art. L1110-4): record, list, show, revoke.
    #[command(subcommand)]
    Consent(ConsentCommand),
    /// Exchanges within the patient's care team, the patient informed
    /// (French public health code, art. L1110-4).
    #[command(subcommand)]
    CareTeam(CareTeamCommand),
    /// The node's tamper-evident ledger of consents, shares and accesses:
    /// show it, verify it.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// The patient's access journal: who received, opened, exported or
    /// erased which dossier, when, each line with its ledger entry's hash.
    #[command(after_help = "\
Example:
  confrere journal --patient-ins 285057512345623
  confrere journal --patient-ins 285057512345623 --format fhir > journal.json

Formats: text (default), json, csv, fhir (a FHIR R4 Bundle of AuditEvent).")]
    Journal(JournalArgs),
    /// Erase the dossiers past their retention period (config
    /// `[retention] years`, 20 by default) and record it in the ledger.
    #[command(after_help = "\
Example:
  confrere purge --dry-run     # list what would be erased
  confrere purge")]
    Purge(PurgeArgs),
    /// Print a shell completion script, generated from these commands'
    /// definitions.
    #[command(after_help = "\
Shells: bash, zsh, fish, elvish, powershell.

Example:
  confrere completions bash > ~/.local/share/bash-completion/completions/confrere
  confrere completions zsh > ~/.zfunc/_confrere     # with fpath+=(~/.zfunc) in ~/.zshrc
  confrere completions fish > ~/.config/fish/completions/confrere.fish")]
    Completions(CompletionsArgs),
    /// Print the man page, or write one page per command to a directory.
    #[command(after_help = "\
Without --out, prints the top-level page (roff) to standard output. With
--out, writes confrere.1, confrere-send.1, confrere-inbox-open.1, ... and
lists the files written.

Example:
  confrere man | man -l -
  confrere man --out ~/.local/share/man/man1    # then: man confrere-send")]
    Man(ManArgs),
}

/// Options of `completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Options of `man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write one page per command and subcommand into this directory (made
    /// if missing) instead of printing the top-level page.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `confrere cert …`
#[derive(Debug, Subcommand)]
pub(crate) enum CertCommand {
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
pub(crate) struct InspectArgs {
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
pub(crate) enum PkiCommand {
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
pub(crate) struct IssueTestArgs {
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
    #[arg(long, value_name = "CODE", value_parser = parse_profession)]
    pub profession: u32,
    /// Make an ECDSA P-256 key instead of RSA-2048.
    #[arg(long)]
    pub ecdsa: bool,
    /// The directory to write cert.pem, key.pem and chain.pem to.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Options of `run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The node's home.
    #[arg(long, env = "CONFRERE_HOME", value_name = "DIR")]
    pub home: PathBuf,
    /// Address to listen on (multiaddr); repeatable. Default: all
    /// interfaces, TCP and QUIC, ports chosen by the system.
    #[arg(long, value_name = "MULTIADDR")]
    pub listen: Vec<String>,
    /// Do not discover nodes on the local network (mDNS).
    #[arg(long)]
    pub no_mdns: bool,
    /// A bootstrap node to join the directory through: its multiaddr
    /// ending in /p2p/PEER_ID (/dns4, /dns6 and /dns names work);
    /// repeatable, added to `[network] bootstrap` of config.toml.
    #[arg(long, value_name = "MULTIADDR")]
    pub bootstrap: Vec<String>,
    /// Serve as a public node: directory server, bootstrap node and relay
    /// for other practitioners' nodes (also `[network] public`).
    #[arg(long)]
    pub public: bool,
}

fn parse_profession(s: &str) -> Result<u32, String> {
    s.trim().parse().map_err(|_| {
        "a profession code is a number of the TRE_G15 table, e.g. 10 (Médecin), 50 \
         (Sage-Femme), 60 (Infirmier)"
            .to_owned()
    })
}

fn parse_seq(s: &str) -> Result<u64, String> {
    s.trim().parse().map_err(|_| {
        "a sequence number is a whole number, e.g. 120 (`confrere ledger show` lists them)"
            .to_owned()
    })
}

fn parse_instant(s: &str) -> Result<UnixTime, String> {
    UnixTime::parse_rfc3339(s)
        .ok_or_else(|| format!("not an RFC 3339 instant (like 2021-01-01T00:00:00Z): {s}"))
}

/// `confrere crl …`
#[derive(Debug, Subcommand)]
pub(crate) enum CrlCommand {
    /// Import CRLs (PEM or DER, one or several): each must be signed by a
    /// CA of the node's trust material and be newer than the one held.
    #[command(after_help = "\
With the daemon running, it takes the new CRLs and puts them in force at
once (new sessions and open ones); otherwise they are written to the home.

Example:
  confrere crl import --home ~/confrere ac-personnes.crl")]
    Import(CrlImportArgs),
    /// Fetch each CA's CRL now from its distribution points (http and
    /// https; ldap is not fetched) and `[crl] urls`, and take the newer ones.
    #[command(after_help = "\
With the daemon running, it fetches and puts what it takes in force at
once; otherwise the command fetches and writes to the home. The daemon
also fetches by itself, ahead of each CRL's nextUpdate.

Exit codes: 0 every CA with a source is current (newly taken or already
so); 1 some CA's CRL was refused (forged, another PKI's) or unreachable:
the CRL held for it stays.

Example:
  confrere crl update --home ~/confrere")]
    Update(CrlUpdateArgs),
}

/// Options of `crl import`.
#[derive(Debug, Args)]
pub(crate) struct CrlImportArgs {
    /// The node's home directory.
    #[arg(long, env = "CONFRERE_HOME", value_name = "DIR")]
    pub home: PathBuf,
    /// The CRL file (PEM or DER).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `crl update`.
#[derive(Debug, Args)]
pub(crate) struct CrlUpdateArgs {
    /// The node's home directory.
    #[arg(long, env = "CONFRERE_HOME", value_name = "DIR")]
    pub home: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--home` of the commands that talk to the running daemon.
#[derive(Debug, Args)]
pub(crate) struct DaemonHome {
    /// The node's home directory (its daemon must be running).
    #[arg(long, env = "CONFRERE_HOME", value_name = "DIR")]
    pub home: PathBuf,
}

/// Options of `status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    pub home: DaemonHome,
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The patient's administrative sex, as the INS records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Sex {
    /// Female.
    #[value(name = "F")]
    F,
    /// Male.
    #[value(name = "M")]
    M,
    /// Unknown.
    #[value(name = "U")]
    U,
}

impl Sex {
    /// `F`, `M` or `U`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Sex::F => "F",
            Sex::M => "M",
            Sex::U => "U",
        }
    }
}

/// Options of `send`.
#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// The recipient's national id (8 + RPPS, or 0 + ADELI).
    #[arg(long, value_name = "NATIONAL_ID")]
    pub to: String,
    /// The patient's INS: 13-digit NIR and its 2-digit key.
    #[arg(long, value_name = "INS")]
    pub patient_ins: String,
    /// The patient's family (birth) name.
    #[arg(long, value_name = "NAME")]
    pub patient_family: String,
    /// The patient's given names.
    #[arg(long, value_name = "NAME")]
    pub patient_given: String,
    /// The patient's birth date.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub birth_date: String,
    /// The patient's sex.
    #[arg(long, value_enum, value_name = "F|M|U", ignore_case = true)]
    pub sex: Sex,
    /// Reason for referral, shown in the recipient's inbox.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Mark the referral urgent (listed first in the recipient's inbox).
    #[arg(long)]
    pub urgent: bool,
    /// The referral letter: a UTF-8 text file.
    #[arg(long, value_name = "FILE")]
    pub letter: Option<PathBuf>,
    /// The patient's consent this send rests on: its id, or a unique prefix
    /// of at least 8 characters (`confrere consent list`).
    #[arg(long, value_name = "ID", conflicts_with = "care_team")]
    pub consent: Option<String>,
    /// The care-team record this send rests on: its id, or a unique prefix
    /// of at least 8 characters (`confrere care-team record` prints it).
    #[arg(long, value_name = "ID")]
    pub care_team: Option<String>,
    #[command(flatten)]
    pub home: DaemonHome,
    /// Print the answer as JSON.
    #[arg(long)]
    pub json: bool,
    /// Wait until the recipient's signed receipt is in (at most SECS
    /// seconds; 0 = no limit), with a progress bar on a terminal. Exits 1 if
    /// the dossier is refused or the time runs out (it stays in the outbox).
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "0")]
    pub wait: Option<u64>,
    /// The documents to send (the daemon reads them; they stay where they are).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// Options of `outbox`.
#[derive(Debug, Args)]
pub(crate) struct OutboxArgs {
    #[command(flatten)]
    pub home: DaemonHome,
    /// Print the outbox as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `confrere ledger …`
#[derive(Debug, Subcommand)]
pub(crate) enum LedgerCommand {
    /// List the ledger's entries: sequence number, time, kind, hash and
    /// the main fields.
    #[command(after_help = "\
Reads the store directly when the daemon is stopped, else asks the daemon.

Example:
  confrere ledger show --home ~/confrere
  confrere ledger show --since 120 --json")]
    Show(LedgerShowArgs),
    /// Check the whole chain against the signed head checkpoint.
    #[command(after_help = "\
Recomputes every entry's hash and checks the chain up to the head
checkpoint, whose signature is checked (and the signatures of entries the
chain does not reach). Detects a changed byte, a removed entry, reordered
entries and a cut-off tail, and names the first bad entry. With
--signatures, every entry's own signature is checked as well (many times
slower on a long ledger).

Exit status: 0 intact, 1 not intact (or unreadable), 2 unusable input,
3 daemon unreachable.

Example:
  confrere ledger verify --home ~/confrere
  confrere ledger verify --signatures --json")]
    Verify(LedgerVerifyArgs),
}

/// Options of `ledger show`.
#[derive(Debug, Args)]
pub(crate) struct LedgerShowArgs {
    /// The node's home directory.
    #[arg(long, env = "CONFRERE_HOME", value_name = "DIR")]
    pub home: PathBuf,
    /// Only the entries from this sequence number on.
    #[arg(long, value_name = "SEQ", value_parser = parse_seq)]
    pub since: Option<u64>,
    /// Print the entries as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `ledger verify`.
#[derive(Debug, Args)]
pub(crate) struct LedgerVerifyArgs {
    /// The node's home directory.
    #[arg(long, env = "CONFRERE_HOME", value_name = "DIR")]
    pub home: PathBuf,
    /// Check every entry's own signature too, not only the chain up to the
    /// signed head checkpoint: no surer to catch a change, a removal, a
    /// move or a cut, but many times slower on a long ledger.
    #[arg(long)]
    pub signatures: bool,
    /// The default now (the chain up to the signed head checkpoint); kept
    /// for scripts.
    #[arg(long, hide = true, conflicts_with = "signatures")]
    pub quick: bool,
    /// Print the verification report as JSON.
    #[arg(long)]
    pub json: bool,
}
