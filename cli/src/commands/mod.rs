//! One module per command; each returns an exit code or a [`CliError`].

// The card options (certificate, key, .p12) and their secrets.
pub(crate) mod card;
pub(crate) mod cert;
// Takes CRLs into the home's files; the daemon reads them at start.
pub(crate) mod crl;
// Shell completions and man pages, generated from the clap definitions.
pub(crate) mod completions;
pub(crate) mod demo;
pub(crate) mod init;
pub(crate) mod journal;
// Reads the store directly, or asks the daemon when it runs.
pub(crate) mod ledger;
pub(crate) mod pki;
// Has the card sign a renewed credential; the daemon applies it when it runs.
pub(crate) mod renew;
pub(crate) mod run;
// Commands that talk to the running daemon through its local API.
pub(crate) mod consent;
pub(crate) mod inbox;
pub(crate) mod outbox;
pub(crate) mod peers;
pub(crate) mod send;
pub(crate) mod status;
// Asks the daemon for a login link to its web inbox.
pub(crate) mod ui;
// Progress bars and spinners shared by the long commands.
pub(crate) mod progress;
