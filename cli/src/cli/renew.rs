//! `confrere renew`: its options.

use std::path::PathBuf;

use clap::Args;

use super::CardArgs;

/// Options of `renew`.
#[derive(Debug, Args)]
pub(crate) struct RenewArgs {
    /// The node's home.
    #[arg(long, env = "CONFRERE_HOME", value_name = "DIR")]
    pub home: PathBuf,
    #[command(flatten)]
    pub card: CardArgs,
    /// Intermediate CA certificates besides the home's own; repeatable.
    #[arg(long, value_name = "FILE")]
    pub chain: Vec<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}
