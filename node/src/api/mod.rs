//! The local API: HTTP + JSON on 127.0.0.1, behind a bearer token, through
//! which the `confrere` command line drives its node's daemon.

pub mod consent_model;
pub mod journal_model;
pub mod model;
pub mod purge_model;
pub mod server;
