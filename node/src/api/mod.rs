//! The local API: HTTP + JSON behind a bearer token, on the home's Unix
//! socket (through which the `confrere` command line drives its node's
//! daemon) and on 127.0.0.1 (for other local clients).

pub mod consent_model;
pub mod crl_model;
pub mod directory_model;
pub mod errors;
pub mod journal_model;
pub mod ledger_model;
pub mod model;
pub mod purge_model;
pub mod server;
pub mod service;
pub mod socket;
