//! Helpers for Confrère's cross-crate, multi-process tests.
//!
//! The tests in `tests/*.rs` run the real `confrere` binary as a child
//! process and check its exit code and what it prints. This library finds
//! (and if need be builds) that binary, runs it, and knows where the
//! certificate fixtures of the workspace live.
//!
//! Most helpers run nodes on 127.0.0.1 only; [`netns`] builds a small
//! internet of Linux network namespaces (practices behind NAT routers, public
//! hosts) for the tests that need several hosts.

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub mod netns;

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
    workspace_bin("confrere", "confrere")
}

/// Path of the binary `bin` of the workspace package `package`, found and
/// brought up to date as [`confrere_bin`] does for `confrere`:
/// `CARGO_BIN_EXE_<bin>` when set, otherwise `cargo build -p PACKAGE --bin
/// BIN` for the profile of this test executable, then the binary in that
/// profile's directory.
///
/// # Panics
///
/// If the binary cannot be built or found.
pub fn workspace_bin(package: &str, bin: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(format!("CARGO_BIN_EXE_{bin}")) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("the test executable's own path");
    // target/<profile>/deps/<test exe>  →  target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executables live in target/<profile>/deps/")
        .to_path_buf();
    let path = profile_dir.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    build(&profile_dir, package, bin, &path);
    assert!(
        path.is_file(),
        "the {bin} binary is missing at {} (set CARGO_BIN_EXE_{bin} to its path)",
        path.display()
    );
    path
}

/// Runs `cargo build -p PACKAGE --bin BIN` for the profile (and target
/// triple) whose output directory is `profile_dir`.
fn build(profile_dir: &Path, package: &str, bin_name: &str, bin: &Path) {
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
        .arg(package)
        .arg("--bin")
        .arg(bin_name)
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
            "`cargo build -p {package}` failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => assert!(
            bin.is_file(),
            "cannot run cargo to build {bin_name} ({e}) and {} does not exist",
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

/// The GP of the multi-process stories.
pub const GP: Practitioner<'static> = Practitioner {
    national_id: "810001000016",
    given: "CLAIRE",
    surname: "BERNARD",
    profession: 10,
    ecdsa: false,
};

/// The cardiologist the GP refers to.
pub const CARDIOLOGIST: Practitioner<'static> = Practitioner {
    national_id: "810001000024",
    given: "PAUL",
    surname: "LECOEUR",
    profession: 10,
    ecdsa: false,
};

/// The radiologist.
pub const RADIOLOGIST: Practitioner<'static> = Practitioner {
    national_id: "810001000032",
    given: "ALICE",
    surname: "RAYON",
    profession: 10,
    ecdsa: false,
};

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

// ---------------------------------------------------------------------------
// Running nodes: `confrere run` as child processes on loopback
// ---------------------------------------------------------------------------

/// A directory for what the tests of one run share (a TEST PKI, cards),
/// made under `base` (a test binary passes a directory of
/// `CARGO_TARGET_TMPDIR`). Statics are never dropped, so it cannot delete
/// itself; instead, what runs more than an hour old left there is removed.
///
/// # Panics
///
/// If the directory cannot be made.
pub fn scratch_run_dir(base: &Path) -> PathBuf {
    use std::time::{Duration, SystemTime};
    fs::create_dir_all(base).unwrap_or_else(|e| panic!("cannot make {}: {e}", base.display()));
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    if let Ok(rd) = fs::read_dir(base) {
        for entry in rd.filter_map(Result::ok) {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < hour_ago);
            if old {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    for n in 0..1000u32 {
        let dir = base.join(format!("run-{}-{n}", std::process::id()));
        if fs::create_dir(&dir).is_ok() {
            return dir;
        }
    }
    panic!("cannot make a run directory under {}", base.display())
}

/// Enrolls a node: `confrere init --home HOME` with the card and the
/// trust anchors and CRLs of `trusted` (the first PKI must be the card's
/// issuer, whose intermediate is the card's chain).
pub fn enroll(home: &Path, card: &Card, trusted: &[&TestPki]) -> Outcome {
    let mut cmd = confrere_cmd();
    cmd.arg("init")
        .arg("--home")
        .arg(home)
        .arg("--cert")
        .arg(card.cert())
        .arg("--key")
        .arg(card.key())
        .arg("--chain")
        .arg(card.chain());
    for pki in trusted {
        cmd.arg("--trust").arg(pki.root());
        cmd.arg("--crl").arg(pki.crl());
    }
    run(&mut cmd)
}

/// A TCP port on 127.0.0.1 that is free now, taken below the system's
/// ephemeral range (32768 and up on Linux) so that no port-0 bind (a
/// daemon's local API, an outgoing connection) can take it while a node
/// that owns it is down between a kill and a restart.
///
/// # Panics
///
/// If no port is free.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    // Test binaries run one after another, but spread the processes anyway.
    let start = (std::process::id().wrapping_mul(7919)) % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = LOW + (start + n.wrapping_mul(13)) % SPAN;
        let Ok(port) = u16::try_from(port) else {
            continue;
        };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!(
        "no free TCP port on 127.0.0.1 between {LOW} and {}",
        LOW + SPAN
    )
}

/// Polls `probe` every `every` until it returns `Ok`, for at most `limit`
/// (and at most `limit / every + 1` times). `Err` carries the last
/// observation, shown if time runs out.
///
/// # Panics
///
/// If `probe` never succeeds in time.
#[track_caller]
pub fn wait_for<T>(
    what: &str,
    limit: std::time::Duration,
    every: std::time::Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let start = std::time::Instant::now();
    let max_tries = limit.as_millis() / every.as_millis().max(1) + 1;
    let mut last = String::new();
    let mut tries = 0u128;
    while tries < max_tries && start.elapsed() <= limit {
        tries += 1;
        match probe() {
            Ok(v) => return v,
            Err(seen) => last = seen,
        }
        std::thread::sleep(every);
    }
    panic!(
        "timed out after {:.1} s ({tries} tries) waiting for {what}; last seen:\n{last}",
        start.elapsed().as_secs_f64()
    )
}

/// A `confrere run` daemon for one home, listening on a fixed loopback TCP
/// port so that a restarted node comes back on the same address. Its
/// standard output and error go to a log file (appended across restarts).
/// Dropping it kills the process (SIGKILL) and reaps it; if the thread is
/// panicking, the end of the log is printed first.
#[derive(Debug)]
pub struct Daemon {
    label: String,
    home: PathBuf,
    port: u16,
    log: PathBuf,
    child: Option<std::process::Child>,
    peer_id: Option<String>,
    launch: Launch,
}

/// Where and how a [`Daemon`] runs besides its home: by default in the
/// machine's own network namespace on `/ip4/127.0.0.1/tcp/PORT`
/// ([`netns::node`] runs one inside a namespace the test made).
#[derive(Clone, Debug, Default)]
pub struct Launch {
    /// The network namespace it runs in (`ip netns exec`); its local API
    /// is a Unix socket in its home, so the command line reaches it from
    /// anywhere.
    pub ns: Option<String>,
    /// Its `--listen` addresses; empty: `/ip4/127.0.0.1/tcp/PORT`.
    pub listen: Vec<String>,
    /// More arguments of `confrere run` (`--bootstrap …`, `--public`).
    pub args: Vec<String>,
    /// Its `RUST_LOG`; `None`: `info,libp2p=warn`.
    pub log_filter: Option<String>,
}

/// How long a daemon may take to start answering.
pub const DAEMON_START_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

impl Daemon {
    /// Starts the daemon of an enrolled home on `/ip4/127.0.0.1/tcp/PORT`
    /// without mDNS, and waits until it answers `status`.
    ///
    /// # Panics
    ///
    /// If it does not start in [`DAEMON_START_LIMIT`].
    #[track_caller]
    pub fn start(label: &str, home: &Path, port: u16, log: &Path) -> Daemon {
        Daemon::start_with(label, home, port, log, Launch::default())
    }

    /// Starts the daemon of an enrolled home as `launch` says (in a
    /// namespace, on other addresses, with more arguments), without mDNS,
    /// and waits until it answers `status`.
    ///
    /// # Panics
    ///
    /// If it does not start in [`DAEMON_START_LIMIT`].
    #[track_caller]
    pub fn start_with(label: &str, home: &Path, port: u16, log: &Path, launch: Launch) -> Daemon {
        let mut d = Daemon {
            label: label.to_owned(),
            home: home.to_path_buf(),
            port,
            log: log.to_path_buf(),
            child: None,
            peer_id: None,
            launch,
        };
        d.spawn();
        d.wait_ready();
        d
    }

    /// The command line of the daemon, for one more `run` of the same home.
    pub fn run_command(&self) -> Command {
        self.run_command_on(self.port)
    }

    /// The command line of the daemon, listening on another port (unless
    /// its [`Launch`] names its listen addresses). It is not wrapped in
    /// the launch's namespace.
    pub fn run_command_on(&self, port: u16) -> Command {
        let mut cmd = confrere_cmd();
        cmd.arg("run").arg("--home").arg(&self.home);
        if self.launch.listen.is_empty() {
            cmd.arg("--listen")
                .arg(format!("/ip4/127.0.0.1/tcp/{port}"));
        }
        for addr in &self.launch.listen {
            cmd.arg("--listen").arg(addr);
        }
        cmd.arg("--no-mdns")
            .args(&self.launch.args)
            .env_remove("CONFRERE_PASSPHRASE")
            // The tests read info-level lines of the log.
            .env(
                "RUST_LOG",
                self.launch
                    .log_filter
                    .as_deref()
                    .unwrap_or("info,libp2p=warn"),
            );
        cmd
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.label);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.log.display()));
        let log2 = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.log.display()));
        let mut cmd = self.run_command();
        if let Some(ns) = &self.launch.ns {
            cmd = netns::in_ns(ns, &cmd);
        }
        let child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the daemon of {}: {e}", self.label));
        self.child = Some(child);
    }

    /// Waits until the daemon wrote its `api.json` and `status` answers.
    #[track_caller]
    fn wait_ready(&mut self) {
        let home = self.home.clone();
        let label = self.label.clone();
        let pid = self.child.as_ref().map(std::process::Child::id);
        let status = wait_for(
            &format!("the daemon of {label} to answer"),
            DAEMON_START_LIMIT,
            std::time::Duration::from_millis(100),
            || {
                if let Some(child) = self.child.as_mut() {
                    if let Ok(Some(exit)) = child.try_wait() {
                        self.child = None;
                        return Ok(Err(format!("it exited ({exit})")));
                    }
                }
                // A stale api.json of a killed daemon names another pid.
                let endpoint: Option<serde_json::Value> = fs::read(home.join("api.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok());
                let endpoint_pid = endpoint
                    .as_ref()
                    .and_then(|v| v["pid"].as_u64())
                    .and_then(|p| u32::try_from(p).ok());
                if endpoint_pid != pid {
                    return Err(format!("api.json: {endpoint:?}"));
                }
                let out = confrere([
                    OsStr::new("status"),
                    OsStr::new("--json"),
                    OsStr::new("--home"),
                    home.as_os_str(),
                ]);
                if out.code == Some(0) {
                    Ok(Ok(out.json()))
                } else {
                    Err(out.to_string())
                }
            },
        );
        match status {
            Ok(v) => {
                self.peer_id = v["peer_id"].as_str().map(str::to_owned);
                assert!(self.peer_id.is_some(), "status without peer_id: {v}");
            }
            Err(why) => panic!(
                "the daemon of {label} did not start: {why}\n--- log ---\n{}",
                self.log_text()
            ),
        }
    }

    /// What the node is called in messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The node's home.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The node's TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything the daemon logged so far, over all its runs.
    pub fn log_text(&self) -> String {
        fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The node's libp2p PeerId (from `status`).
    pub fn peer_id(&self) -> &str {
        self.peer_id.as_deref().unwrap_or_default()
    }

    /// `/ip4/127.0.0.1/tcp/PORT/p2p/PEER_ID`.
    pub fn multiaddr(&self) -> String {
        format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", self.port, self.peer_id())
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(std::process::Child::id)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(std::process::Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.child = None;
                false
            }
            None => false,
        }
    }

    /// Runs `confrere ARGS... --home HOME` against this node.
    pub fn cli<I, S>(&self, args: I) -> Outcome
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = confrere_cmd();
        cmd.args(args).arg("--home").arg(&self.home);
        run(&mut cmd)
    }

    /// Runs `confrere ARGS... --json --home HOME`, asserts exit code 0 and
    /// returns the JSON printed.
    ///
    /// # Panics
    ///
    /// If the command fails or prints no JSON.
    #[track_caller]
    pub fn json<I, S>(&self, args: I) -> serde_json::Value
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = confrere_cmd();
        cmd.args(args).arg("--json").arg("--home").arg(&self.home);
        let out = run(&mut cmd);
        out.code(0);
        out.json()
    }

    /// Kills the daemon with SIGKILL (as a crash or a power cut would) and
    /// reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the daemon with SIGTERM and waits for it to exit, at most
    /// `limit`; kills it after that. Returns whether it exited by itself,
    /// with its exit status.
    pub fn stop(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .is_ok_and(|s| s.success());
        if sent {
            let start = std::time::Instant::now();
            while start.elapsed() < limit {
                if let Ok(Some(status)) = child.try_wait() {
                    return Some(status);
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// Starts the daemon again (same home, same port) and waits until it
    /// answers.
    ///
    /// # Panics
    ///
    /// If it is running, or does not start in time.
    #[track_caller]
    pub fn restart(&mut self) {
        assert!(!self.is_running(), "{} is still running", self.label);
        let _ = fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .and_then(|mut f| {
                use std::io::Write;
                writeln!(f, "===== test harness: restarting {} =====", self.label)
            });
        self.spawn();
        self.wait_ready();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = self.log_text();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(60)..];
            eprintln!(
                "--- last lines of the log of {} ({}) ---\n{}\n--- end of {}'s log ---",
                self.label,
                self.log.display(),
                tail.join("\n"),
                self.label
            );
        }
    }
}

/// The SHA-256 of a file, lowercase hex, computed by `sha256sum` (or
/// `openssl dgst`) so that large files are hashed fast and streamed.
///
/// # Panics
///
/// If neither tool can hash the file.
pub fn sha256_file(path: &Path) -> String {
    let tools: [(&str, &[&str]); 2] = [
        ("sha256sum", &["-b"]),
        ("openssl", &["dgst", "-sha256", "-r"]),
    ];
    for (tool, args) in tools {
        let Ok(out) = Command::new(tool).args(args).arg(path).output() else {
            continue;
        };
        if !out.status.success() {
            continue;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let hex = text.split_whitespace().next().unwrap_or_default();
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return hex.to_ascii_lowercase();
        }
    }
    panic!("cannot hash {} (is sha256sum installed?)", path.display())
}

/// Writes `len` pseudo-random bytes (SplitMix64 from `seed`) to `path`,
/// streamed: the same seed always gives the same bytes.
///
/// # Panics
///
/// If the file cannot be written.
pub fn write_pseudo_random(path: &Path, len: u64, seed: u64) {
    use std::io::Write;
    let file =
        fs::File::create(path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut state = seed;
    let mut block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            word.copy_from_slice(&z.to_le_bytes());
        }
        let n = usize::try_from(left.min(block.len() as u64)).unwrap_or(block.len());
        out.write_all(&block[..n])
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        left -= n as u64;
    }
    out.flush()
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Searches every regular file below `dir` (recursively, as bytes, streamed
/// block by block) for each needle; returns `"FILE: LABEL"` for each find.
///
/// # Panics
///
/// If a file cannot be read.
pub fn find_in_files(dir: &Path, needles: &[(&str, &[u8])]) -> Vec<String> {
    use std::io::Read;
    let longest = needles.iter().map(|(_, n)| n.len()).max().unwrap_or(0);
    let mut found = Vec::new();
    for path in files_below(dir) {
        let mut file = match fs::File::open(&path) {
            Ok(f) => f,
            // Sockets, files removed meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("cannot read {}: {e}", path.display()),
        };
        let mut seen = vec![false; needles.len()];
        let mut window: Vec<u8> = Vec::with_capacity((1 << 20) + longest);
        let mut block = vec![0u8; 1 << 20];
        loop {
            let n = file
                .read(&mut block)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            if n == 0 {
                break;
            }
            window.extend_from_slice(&block[..n]);
            for (i, (_, needle)) in needles.iter().enumerate() {
                if !seen[i] && find_bytes(&window, needle) {
                    seen[i] = true;
                }
            }
            // Keep the tail: a needle may straddle two blocks.
            let keep = longest.saturating_sub(1).min(window.len());
            window.drain(..window.len() - keep);
        }
        for (i, (label, _)) in needles.iter().enumerate() {
            if seen[i] {
                found.push(format!("{}: {label}", path.display()));
            }
        }
    }
    found
}

/// Whether `needle` occurs in `haystack` (an empty needle never does);
/// faster than [`contains_bytes`] on large inputs.
pub fn find_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return false;
    };
    if haystack.len() < needle.len() {
        return false;
    }
    let last_start = haystack.len() - needle.len();
    let mut from = 0;
    while from <= last_start {
        match haystack[from..=last_start].iter().position(|&b| b == first) {
            Some(i) => {
                let at = from + i;
                if &haystack[at + 1..at + needle.len()] == rest {
                    return true;
                }
                from = at + 1;
            }
            None => return false,
        }
    }
    false
}

/// The patient of a `confrere send`.
#[derive(Clone, Copy, Debug)]
pub struct PatientArgs<'a> {
    /// INS: 13-digit NIR and its 2-digit key.
    pub ins: &'a str,
    /// Family name.
    pub family: &'a str,
    /// Given names.
    pub given: &'a str,
    /// `YYYY-MM-DD`.
    pub birth_date: &'a str,
    /// `F`, `M` or `U`.
    pub sex: &'a str,
}

/// A `confrere send` command line.
#[derive(Clone, Debug)]
pub struct SendCommand<'a> {
    /// The recipient's national id.
    pub to: &'a str,
    /// The patient.
    pub patient: PatientArgs<'a>,
    /// Reason for referral.
    pub reason: &'a str,
    /// `--urgent`.
    pub urgent: bool,
    /// `--letter FILE`.
    pub letter: Option<PathBuf>,
    /// The documents.
    pub files: Vec<PathBuf>,
}

impl SendCommand<'_> {
    /// Runs `confrere send … --json` from `node` and collects the outcome.
    pub fn run(&self, node: &Daemon) -> Outcome {
        // Every share cites a record: grant the patient's consent for this
        // recipient first. If the grant is refused (bad INS, bad national
        // id), send without one, so the send reports its own error.
        let consent = {
            let mut grant = confrere_cmd();
            grant
                .args(["consent", "grant", "--home"])
                .arg(node.home())
                .args(["--patient-ins", self.patient.ins])
                .args(["--to", self.to])
                .args(["--purpose", "referral (test)"])
                .arg("--json");
            let out = run(&mut grant);
            serde_json::from_str::<serde_json::Value>(&out.stdout)
                .ok()
                .filter(|_| out.code == Some(0))
                .and_then(|v| v["id"].as_str().map(str::to_owned))
        };
        let mut cmd = confrere_cmd();
        if let Some(id) = &consent {
            cmd.args(["send", "--consent", id]);
        } else {
            cmd.arg("send");
        }
        cmd.arg("--home")
            .arg(node.home())
            .args(["--to", self.to])
            .args(["--patient-ins", self.patient.ins])
            .args(["--patient-family", self.patient.family])
            .args(["--patient-given", self.patient.given])
            .args(["--birth-date", self.patient.birth_date])
            .args(["--sex", self.patient.sex])
            .args(["--reason", self.reason])
            .arg("--json");
        if self.urgent {
            cmd.arg("--urgent");
        }
        if let Some(l) = &self.letter {
            cmd.arg("--letter").arg(l);
        }
        cmd.args(&self.files);
        run(&mut cmd)
    }

    /// Sends, asserts success and returns the dossier id.
    ///
    /// # Panics
    ///
    /// If the send fails.
    #[track_caller]
    pub fn sent(&self, node: &Daemon) -> String {
        let out = self.run(node);
        out.code(0);
        let v = out.json();
        assert_eq!(v["state"], "queued", "{out}");
        let id = v["id"].as_str().unwrap_or_default().to_owned();
        assert!(!id.is_empty(), "no dossier id\n{out}");
        id
    }
}

/// `outbox --json` of a node.
///
/// # Panics
///
/// If the command fails.
#[track_caller]
pub fn outbox(node: &Daemon) -> Vec<serde_json::Value> {
    match node.json(["outbox"]) {
        serde_json::Value::Array(items) => items,
        other => panic!("outbox --json is not a list: {other}"),
    }
}

/// `inbox --json` of a node.
///
/// # Panics
///
/// If the command fails.
#[track_caller]
pub fn inbox(node: &Daemon) -> Vec<serde_json::Value> {
    match node.json(["inbox"]) {
        serde_json::Value::Array(items) => items,
        other => panic!("inbox --json is not a list: {other}"),
    }
}

/// The outbox item `id` of a node, if any.
pub fn outbox_item(node: &Daemon, id: &str) -> Option<serde_json::Value> {
    outbox(node).into_iter().find(|i| i["id"] == id)
}

/// Polls the outbox of `node` until dossier `id` is `delivered`, for at
/// most `limit`; returns the item.
///
/// # Panics
///
/// If it is not delivered in time, or its state becomes `failed`.
#[track_caller]
pub fn wait_delivered(node: &Daemon, id: &str, limit: std::time::Duration) -> serde_json::Value {
    wait_for(
        &format!("dossier {id} to be delivered from {}", node.label()),
        limit,
        std::time::Duration::from_millis(250),
        || {
            let item = outbox_item(node, id);
            match item.as_ref().map(|i| i["state"].as_str()) {
                Some(Some("delivered")) => item.ok_or_else(String::new),
                Some(Some("failed")) => panic!("dossier {id} failed: {item:?}"),
                _ => Err(format!("{item:?}")),
            }
        },
    )
}

/// Waits until dossier `id` is back in `node`'s outbox as queued with the
/// reason its last attempt failed (a recipient down, a transfer cut), and
/// returns its outbox item.
///
/// # Panics
///
/// If that does not happen within `limit`.
pub fn wait_queued_with_reason(
    node: &Daemon,
    id: &str,
    limit: std::time::Duration,
) -> serde_json::Value {
    wait_for(
        &format!(
            "dossier {id} to wait in {}'s outbox, with a reason",
            node.label()
        ),
        limit,
        std::time::Duration::from_millis(100),
        || {
            let item = outbox_item(node, id).ok_or("not in the outbox")?;
            if item["state"] == "queued" && item["last_error"].is_string() {
                Ok(item)
            } else {
                Err(item.to_string())
            }
        },
    )
}

/// Runs a prepared command for at most `limit`, killing it (SIGKILL) if it
/// runs longer; the outcome's `code` is then `None` and its stderr ends with
/// a note saying so.
///
/// # Panics
///
/// If the process cannot be started.
pub fn run_with_limit(cmd: &mut Command, limit: std::time::Duration) -> Outcome {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out_thread = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err_thread = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = std::time::Instant::now();
    let mut killed = true;
    while start.elapsed() < limit {
        if let Ok(Some(_)) = child.try_wait() {
            killed = false;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if killed {
        let _ = child.kill();
    }
    // Reaps it (after `try_wait` saw it exit, this returns at once).
    let status = child.wait().ok().filter(|_| !killed);
    let stdout = out_thread.join().unwrap_or_default();
    let mut stderr = err_thread.join().unwrap_or_default();
    if killed {
        stderr.push_str(&format!(
            "\n(test harness: still running after {:.0} s, killed)",
            limit.as_secs_f64()
        ));
    }
    Outcome {
        command: format!("{cmd:?}"),
        code: status.and_then(|s| s.code()),
        stdout,
        stderr,
    }
}
