//! One module per command; each returns an exit code or a [`CliError`].

pub mod cert;
pub mod demo;
pub mod init;
pub mod pki;
