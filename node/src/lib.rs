//! The Confrère node: a practice's home directory (keys, credential, trust
//! material), and the tooling around it. The protocol decisions themselves
//! live in `confrere-protocol`; this crate drives them and does the I/O.

#![warn(missing_docs)]

pub mod api;
pub mod clock;
pub mod config;
pub mod consent;
pub mod crls;
pub mod daemon;
pub mod fault;
pub mod files;
pub mod home;
pub mod ledger;
pub mod net;
pub mod run;
pub mod store;
pub mod ui;
