//! Helpers for Confrère's cross-crate, multi-process tests.
//!
//! The tests in `tests/*.rs` run the real `confrere` binary as a child
//! process and check its exit code and what it prints. This library finds
//! (and if need be builds) that binary, runs it, and knows where the
//! certificate fixtures of the workspace live.
//!
//! Nothing here touches the network: the commands under test read and
//! write files only.

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root (the directory holding the workspace `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

/// The real IGC-Santé TEST certificates (`shared/testdata/ans-test-certs/`).
pub fn ans_certs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/ans-test-certs")
}

/// The OpenSSL-made certificate fixtures (`protocol/tests/fixtures/openssl/`,
/// described in its `MANIFEST.md`).
pub fn openssl_fixtures_dir() -> PathBuf {
    workspace_root().join("protocol/tests/fixtures/openssl")
}

/// Path of the `confrere` binary under test.
///
/// `CARGO_BIN_EXE_confrere`, when set in the environment, names it.
/// Otherwise it is `confrere` in the profile directory of this test
/// executable (test executables live in `target/<profile>/deps/`), and it is
/// brought up to date once per process with `cargo build -p confrere`, so a
/// stale binary is never tested. If cargo cannot be started at all, an
/// existing binary is used as is.
///
/// # Panics
///
/// If the binary cannot be built or found.
pub fn confrere_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(locate_or_build)
}

fn locate_or_build() -> PathBuf {
    if let Some(p) = std::env::var_os("CARGO_BIN_EXE_confrere") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("the test executable's own path");
    // target/<profile>/deps/<test exe>  →  target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executables live in target/<profile>/deps/")
        .to_path_buf();
    let bin = profile_dir.join(format!("confrere{}", std::env::consts::EXE_SUFFIX));
    build(&profile_dir, &bin);
    assert!(
        bin.is_file(),
        "the confrere binary is missing at {} (set CARGO_BIN_EXE_confrere to its path)",
        bin.display()
    );
    bin
}

/// Runs `cargo build -p confrere` for the profile (and target triple) whose
/// output directory is `profile_dir`.
fn build(profile_dir: &Path, bin: &Path) {
    let profile_name = profile_dir
        .file_name()
        .and_then(OsStr::to_str)
        .unwrap_or("debug");
    let profile = match profile_name {
        "debug" => "dev",
        other => other,
    };
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .arg("build")
        .arg("--quiet")
        .arg("-p")
        .arg("confrere")
        .arg("--bin")
        .arg("confrere")
        .arg("--profile")
        .arg(profile)
        .arg("--manifest-path")
        .arg(workspace_root().join("Cargo.toml"));
    // `cargo test` gives the test process the variables of *this* package
    // (CARGO_PKG_NAME, CARGO_MANIFEST_DIR, ...). Some build scripts (ring's)
    // ask to rerun when those change, so passing them on would make every
    // run rebuild half the workspace, and the next plain `cargo build` again.
    for (key, _) in std::env::vars_os() {
        let Some(k) = key.to_str() else { continue };
        if k.starts_with("CARGO_PKG_")
            || matches!(
                k,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_MANIFEST_LINKS"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "OUT_DIR"
            )
        {
            cargo.env_remove(&key);
        }
    }
    // The target directory holds CACHEDIR.TAG; one level deeper when
    // building for an explicit target triple (target/<triple>/<profile>).
    if let Some(parent) = profile_dir.parent() {
        if parent.join("CACHEDIR.TAG").is_file() {
            cargo.arg("--target-dir").arg(parent);
        } else if let (Some(triple), Some(target_dir)) = (parent.file_name(), parent.parent()) {
            cargo
                .arg("--target")
                .arg(triple)
                .arg("--target-dir")
                .arg(target_dir);
        }
    }
    match cargo.output() {
        Ok(out) => assert!(
            out.status.success(),
            "`cargo build -p confrere` failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => assert!(
            bin.is_file(),
            "cannot run cargo to build confrere ({e}) and {} does not exist",
            bin.display()
        ),
    }
}

/// A `confrere` command with a clean environment for the variables the
/// binary reads (`CONFRERE_HOME`), ready for arguments.
pub fn confrere_cmd() -> Command {
    let mut cmd = Command::new(confrere_bin());
    cmd.env_remove("CONFRERE_HOME");
    cmd
}

/// Runs `confrere` with `args` and collects the outcome.
pub fn confrere<I, S>(args: I) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = confrere_cmd();
    cmd.args(args);
    run(&mut cmd)
}

/// Runs a prepared command and collects the outcome.
///
/// # Panics
///
/// If the process cannot be started.
pub fn run(cmd: &mut Command) -> Outcome {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    Outcome {
        command: format!("{cmd:?}"),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// What a finished `confrere` process did. Its `Display` shows everything,
/// so failed assertions print the whole run.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The command line, for failure messages.
    pub command: String,
    /// The exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command: {}", self.command)?;
        writeln!(f, "exit code: {:?}", self.code)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        write!(f, "--- stderr ---\n{}", self.stderr)
    }
}

impl Outcome {
    /// Asserts the exit code.
    ///
    /// # Panics
    ///
    /// If the process exited otherwise.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(expected),
            "expected exit code {expected}\n{self}"
        );
        self
    }

    /// Asserts that standard output contains `needle`.
    ///
    /// # Panics
    ///
    /// If it does not.
    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "expected {needle:?} on stdout\n{self}"
        );
        self
    }

    /// Asserts that standard error contains `needle`.
    ///
    /// # Panics
    ///
    /// If it does not.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "expected {needle:?} on stderr\n{self}"
        );
        self
    }

    /// Standard output parsed as one JSON value.
    ///
    /// # Panics
    ///
    /// If it is not JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"))
    }
}

/// Names of the entries of a directory, sorted (empty if it does not exist).
pub fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every regular file below `dir`, recursively.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for entry in rd.filter_map(Result::ok) {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => todo.push(path),
                Ok(t) if t.is_file() => out.push(path),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// Permission bits (`mode & 0o777`) of a file or directory.
///
/// # Panics
///
/// If the path cannot be examined.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("cannot stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Whether `needle` occurs in `haystack` (an empty needle never does).
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether the `openssl` command-line tool can be run.
pub fn have_openssl() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A TEST PKI made by `confrere pki init-test`.
#[derive(Clone, Debug)]
pub struct TestPki {
    /// The CA directory.
    pub dir: PathBuf,
}

impl TestPki {
    /// Runs `confrere pki init-test --out dir` and asserts that it succeeds.
    ///
    /// # Panics
    ///
    /// If the command fails.
    #[track_caller]
    pub fn init(dir: &Path) -> TestPki {
        let out = confrere([
            OsStr::new("pki"),
            "init-test".as_ref(),
            "--out".as_ref(),
            dir.as_os_str(),
        ]);
        out.code(0);
        TestPki {
            dir: dir.to_path_buf(),
        }
    }

    /// The root CA certificate (the trust anchor).
    pub fn root(&self) -> PathBuf {
        self.dir.join("root.pem")
    }

    /// The intermediate CA certificate.
    pub fn intermediate(&self) -> PathBuf {
        self.dir.join("intermediate.pem")
    }

    /// The CRLs of both CAs.
    pub fn crl(&self) -> PathBuf {
        self.dir.join("crl.pem")
    }

    /// Runs `confrere pki issue-test` for `who` into `out` and collects the
    /// outcome, successful or not.
    pub fn try_issue(&self, who: &Practitioner<'_>, out: &Path) -> Outcome {
        let profession = who.profession.to_string();
        let mut cmd = confrere_cmd();
        cmd.args(["pki", "issue-test", "--ca"])
            .arg(&self.dir)
            .args(["--national-id", who.national_id])
            .args(["--given", who.given])
            .args(["--surname", who.surname])
            .args(["--profession", &profession])
            .arg("--out")
            .arg(out);
        if who.ecdsa {
            cmd.arg("--ecdsa");
        }
        run(&mut cmd)
    }

    /// Issues a card for `who` into `out`, asserting success.
    ///
    /// # Panics
    ///
    /// If the command fails.
    #[track_caller]
    pub fn issue(&self, who: &Practitioner<'_>, out: &Path) -> Card {
        self.try_issue(who, out).code(0);
        Card {
            dir: out.to_path_buf(),
        }
    }
}

/// Who a TEST certificate is issued to.
#[derive(Clone, Copy, Debug)]
pub struct Practitioner<'a> {
    /// National id with its type prefix.
    pub national_id: &'a str,
    /// Given name.
    pub given: &'a str,
    /// Surname.
    pub surname: &'a str,
    /// TRE_G15 profession code.
    pub profession: u32,
    /// ECDSA P-256 instead of RSA-2048.
    pub ecdsa: bool,
}

/// A TEST "card": the files `pki issue-test` writes.
#[derive(Clone, Debug)]
pub struct Card {
    /// The directory holding them.
    pub dir: PathBuf,
}

impl Card {
    /// The authentication certificate.
    pub fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    /// The card key (PKCS#8).
    pub fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    /// The intermediate CA certificate.
    pub fn chain(&self) -> PathBuf {
        self.dir.join("chain.pem")
    }
}
