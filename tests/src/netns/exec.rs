//! Running commands inside a namespace (`ip netns exec NS …`).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Outcome;

/// `cmd` wrapped in `ip netns exec NS`: same program, arguments, environment
/// changes and working directory. (`ip netns exec` execs the program in
/// place, so the child's pid is the program's.) Standard input, output and
/// error are not copied: set them on the result.
pub fn in_ns(ns: &str, cmd: &Command) -> Command {
    let mut wrapped = Command::new("ip");
    wrapped
        .args(["netns", "exec", ns])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => wrapped.env(key, v),
            None => wrapped.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped
}

/// Runs `cmd` in namespace `ns` to completion and collects the outcome.
///
/// # Panics
///
/// If `ip` cannot be started.
pub fn run_in(ns: &str, cmd: &Command) -> Outcome {
    crate::run(&mut in_ns(ns, cmd))
}

/// Runs `cmd` in namespace `ns` for at most `limit` (then kills it; the
/// outcome's `code` is `None`).
///
/// # Panics
///
/// If `ip` cannot be started.
pub fn run_in_with_limit(ns: &str, cmd: &Command, limit: Duration) -> Outcome {
    crate::run_with_limit(&mut in_ns(ns, cmd), limit)
}

/// Starts `cmd` in namespace `ns`, its standard output and error collected
/// line by line (read them with [`NsChild::stdout_lines`] and
/// [`NsChild::wait_for_line`]). Dropping the guard kills and reaps it.
///
/// # Panics
///
/// If `ip` cannot be started.
pub fn spawn_in(ns: &str, cmd: &Command) -> NsChild {
    let mut wrapped = in_ns(ns, cmd);
    let mut child = wrapped
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {wrapped:?}: {e}"));
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(Vec::new()));
    collect_lines(child.stdout.take().map(|p| Box::new(p) as _), &stdout);
    collect_lines(child.stderr.take().map(|p| Box::new(p) as _), &stderr);
    NsChild {
        label: format!("{:?} in {ns}", cmd.get_program()),
        child: Some(child),
        stdout,
        stderr,
    }
}

/// Starts `cmd` in namespace `ns` with standard output and error appended
/// to `log` (for a daemon); the guard's line readers stay empty.
///
/// # Panics
///
/// If the log cannot be opened or `ip` cannot be started.
pub fn spawn_in_logged(ns: &str, cmd: &Command, log: &Path) -> NsChild {
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()))
    };
    let mut wrapped = in_ns(ns, cmd);
    let child = wrapped
        .stdin(Stdio::null())
        .stdout(open())
        .stderr(open())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {wrapped:?}: {e}"));
    NsChild {
        label: format!("{:?} in {ns}", cmd.get_program()),
        child: Some(child),
        stdout: Arc::default(),
        stderr: Arc::default(),
    }
}

fn collect_lines(pipe: Option<Box<dyn Read + Send>>, into: &Arc<Mutex<Vec<String>>>) {
    let Some(pipe) = pipe else { return };
    let into = Arc::clone(into);
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut lines) = into.lock() {
                lines.push(line);
            }
        }
    });
}

/// A process started in a namespace; dropping it kills (SIGKILL) and reaps
/// it.
#[derive(Debug)]
pub struct NsChild {
    label: String,
    child: Option<Child>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl NsChild {
    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) => false,
            None => false,
        }
    }

    /// The lines it printed on standard output so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The lines it printed on standard error so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits at most `limit` for a line of standard output for which
    /// `pred` holds, and returns it.
    ///
    /// # Panics
    ///
    /// If none comes in time.
    #[track_caller]
    pub fn wait_for_line(
        &mut self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let label = self.label.clone();
        crate::wait_for(
            &format!("{what} from {label}"),
            limit,
            Duration::from_millis(20),
            || {
                let lines = self.stdout_lines();
                if let Some(line) = lines.iter().find(|l| pred(l)) {
                    return Ok(line.clone());
                }
                Err(format!(
                    "stdout:\n{}\nstderr:\n{}",
                    lines.join("\n"),
                    self.stderr_lines().join("\n")
                ))
            },
        )
    }

    /// Kills it (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NsChild {
    fn drop(&mut self) {
        self.kill();
    }
}
