//! Helpers for Confrère's cross-crate, multi-process tests.
//!
//! The tests in `tests/*.rs` run the real `confrere` binary as a child
//! process and check its exit code and what it prints. This library finds
//! the binaries cargo built for the workspace ([`binary`]), runs them
//! ([`cli`]), starts and stops daemons ([`daemon`]), sends dossiers and
//! reads outboxes and inboxes ([`dossiers`]), waits with bounds ([`wait`]),
//! knows where the certificate fixtures of the workspace live and makes
//! TEST PKIs and cards ([`fixtures`]), puts cards on SoftHSM2 tokens
//! ([`softhsm`]), and looks into files ([`files`]).
//! Everything is re-exported here, so a test writes
//! `use confrere_tests::{Daemon, enroll, …}`.
//!
//! Most helpers run nodes on 127.0.0.1 only; [`netns`] builds a small
//! internet of Linux network namespaces (practices behind NAT routers, public
//! hosts) for the tests that need several hosts.

pub mod binary;
pub mod cli;
pub mod daemon;
pub mod dossiers;
pub mod files;
pub mod fixtures;
pub mod netns;
pub mod softhsm;
pub mod wait;

pub use binary::{confrere_bin, workspace_bin};
pub use cli::{confrere, confrere_cmd, run, run_with_limit, Outcome};
pub use daemon::{free_port, Daemon, Launch, DAEMON_START_LIMIT};
pub use dossiers::{inbox, outbox, outbox_item, PatientArgs, SendCommand};
#[cfg(unix)]
pub use files::mode;
pub use files::{
    contains_bytes, dir_entries, files_below, find_in_files, scratch_run_dir, sha256_file,
    write_pseudo_random,
};
pub use fixtures::{
    ans_certs_dir, enroll, have_openssl, openssl_fixtures_dir, workspace_root, Card, Practitioner,
    TestPki, CARDIOLOGIST, GP, JEAN, LUC, MARIE, RADIOLOGIST,
};
pub use wait::{wait_delivered, wait_for, wait_queued_with_reason};
