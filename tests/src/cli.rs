//! Running the `confrere` command line (or any command) as a child process
//! and collecting what it did: [`Outcome`].

use std::ffi::OsStr;
use std::fmt;
use std::process::Command;

use crate::binary::confrere_bin;

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
