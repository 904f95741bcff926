//! `confrere run` as a child process, on a fixed loopback port (or in a
//! network namespace): [`Daemon`] starts it, waits until it answers, runs
//! commands against it, stops, kills or restarts it, and kills it when
//! dropped.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::{confrere, confrere_cmd, run, Outcome};
use crate::netns;
use crate::wait::wait_for;

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
