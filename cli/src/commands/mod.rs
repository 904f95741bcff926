//! One module per command; each returns an exit code or a [`CliError`].

pub mod cert;
// Shell completions and man pages, generated from the clap definitions.
pub mod completions;
pub mod demo;
pub mod init;
pub mod journal;
// Reads the store directly, or asks the daemon when it runs.
pub mod ledger;
pub mod pki;
pub mod run;
// Commands that talk to the running daemon through its local API.
pub mod consent;
pub mod inbox;
pub mod outbox;
pub mod peers;
pub mod send;
pub mod status;
// Progress bars and spinners shared by the long commands.
pub(crate) mod progress;
