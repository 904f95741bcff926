//! One module per command; each returns an exit code or a [`CliError`].

pub mod cert;
pub mod init;
pub mod pki;
