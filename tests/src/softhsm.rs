//! SoftHSM2 tokens standing in for a practitioner's smart card: each
//! [`SoftHsm`] has its own configuration and token directory (through
//! `SOFTHSM2_CONF`), so tests never see each other's tokens.
//!
//! Tokens are made with `softhsm2-util` (Debian's `softhsm2`, which
//! scripts/test.sh installs) and given a certificate object with this
//! package's `p11-tool`, since `softhsm2-util` imports keys only.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::binary::workspace_bin;
use crate::cli::{run, Outcome};
use crate::fixtures::Card;

/// Where Debian and its derivatives install the SoftHSM2 module.
pub const SOFTHSM_MODULES: [&str; 2] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
];

/// The user PIN of every test token.
pub const PIN: &str = "274198";

/// The security officer PIN of every test token.
const SO_PIN: &str = "99887766";

/// The SoftHSM2 module, or `None` (with the reason printed) when it or
/// `softhsm2-util` is not installed.
///
/// # Panics
///
/// When SoftHSM2 is missing and must be there: in CI
/// (`CONFRERE_NETNS_REQUIRED=1`, as root) or with
/// `CONFRERE_SOFTHSM_REQUIRED=1`.
pub fn softhsm_module() -> Option<PathBuf> {
    let module = SOFTHSM_MODULES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    let util = Command::new("softhsm2-util")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    match module {
        Some(m) if util => Some(m),
        _ => {
            let required = ["CONFRERE_NETNS_REQUIRED", "CONFRERE_SOFTHSM_REQUIRED"]
                .iter()
                .any(|v| std::env::var(v).is_ok_and(|v| v == "1"));
            let why = "SoftHSM2 is not installed (no softhsm2-util, or no libsofthsm2.so in \
                       /usr/lib/softhsm/ or /usr/lib/x86_64-linux-gnu/softhsm/): \
                       `apt-get install softhsm2`";
            assert!(!required, "{why}");
            eprintln!("{why}: test skipped");
            None
        }
    }
}

/// A SoftHSM2 installation of a test's own: its configuration file and
/// token directory in a temporary directory.
#[derive(Debug)]
pub struct SoftHsm {
    dir: tempfile::TempDir,
    module: PathBuf,
}

impl SoftHsm {
    /// A new, empty one, or `None` when SoftHSM2 is missing (see
    /// [`softhsm_module`]).
    ///
    /// # Panics
    ///
    /// If its files cannot be written.
    pub fn new() -> Option<SoftHsm> {
        let module = softhsm_module()?;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let tokens = dir.path().join("tokens");
        fs::create_dir(&tokens).expect("the token directory");
        fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .expect("softhsm2.conf");
        Some(SoftHsm { dir, module })
    }

    /// The PKCS#11 module to give `--pkcs11-module`.
    pub fn module(&self) -> &Path {
        &self.module
    }

    /// The value of `SOFTHSM2_CONF` for anything that opens the tokens.
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    /// `cmd` with this installation's configuration in its environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("SOFTHSM2_CONF", self.conf());
        cmd
    }

    #[track_caller]
    fn ok(&self, cmd: &mut Command) {
        let out = run(cmd);
        assert_eq!(out.code, Some(0), "{out}");
    }

    /// Makes an empty token labelled `label`, with [`PIN`].
    pub fn init_token(&self, label: &str) {
        self.ok(self.command("softhsm2-util").args([
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            PIN,
            "--so-pin",
            SO_PIN,
        ]));
    }

    /// Imports a PKCS#8 private key onto token `label` with `CKA_ID` `id`
    /// (hexadecimal) and label `key`.
    pub fn import_key(&self, label: &str, key: &Path, id: &str) {
        self.ok(self
            .command("softhsm2-util")
            .arg("--import")
            .arg(key)
            .args(["--token", label, "--label", "card key", "--id", id])
            .args(["--pin", PIN]));
    }

    fn tool(&self, label: &str) -> Command {
        let mut cmd = self.command(workspace_bin("confrere-tests", "p11-tool"));
        cmd.arg(&self.module).args([label, PIN]);
        cmd
    }

    /// Puts the certificate (PEM) on token `label` as an X.509 certificate
    /// object with `CKA_ID` `id`.
    pub fn import_cert(&self, label: &str, cert: &Path, id: &str) {
        self.ok(self
            .tool(label)
            .arg("import-cert")
            .arg(cert)
            .args([id, "card certificate"]));
    }

    /// Sets `CKA_SIGN` false on every private key of token `label`.
    pub fn forbid_signing(&self, label: &str) {
        self.ok(self.tool(label).arg("no-sign"));
    }

    /// A token `label` holding `card`'s certificate and key, as a smart
    /// card does (same `CKA_ID`).
    pub fn card_token(&self, label: &str, card: &Card) {
        self.init_token(label);
        self.import_key(label, &card.key(), "01");
        self.import_cert(label, &card.cert(), "01");
    }

    /// Runs `command` (a `confrere` command line) with the configuration
    /// of these tokens.
    pub fn run(&self, cmd: &mut Command) -> Outcome {
        cmd.env("SOFTHSM2_CONF", self.conf());
        run(cmd)
    }
}
