//! The processes the harness starts, so that none is left behind.
//!
//! Every child (daemons, sshd, and each command run to completion) is
//! registered here while it runs. [`Procs::stop_all`] ends them: services
//! get SIGTERM and a grace period, commands SIGKILL. It runs at the end, on
//! error, and from the SIGINT/SIGTERM handler ([`Procs::stop_on_interrupt`]),
//! which also removes the harness's temporary directory. Processes are
//! signalled by the id of a child the harness started, never by name.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How a process is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A long-running service (a daemon, sshd): SIGTERM, then SIGKILL after
    /// a grace period.
    Service,
    /// A command run to completion: SIGKILL.
    Command,
}

/// A registered process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcId(u64);

struct Entry {
    id: u64,
    label: String,
    kind: Kind,
    child: Child,
}

#[derive(Default)]
struct State {
    stopping: bool,
    next: u64,
    entries: Vec<Entry>,
    /// Removed by the interrupt handler (the temporary directory).
    remove_on_interrupt: Vec<PathBuf>,
}

/// The registry; cheap to clone.
#[derive(Clone, Default)]
pub struct Procs(Arc<Mutex<State>>);

impl std::fmt::Debug for Procs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Procs")
            .field(
                "running",
                &state
                    .entries
                    .iter()
                    .map(|e| e.label.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("stopping", &state.stopping)
            .finish()
    }
}

/// What a command run to completion printed.
#[derive(Debug)]
pub struct Output {
    /// Its exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// From just before it was started until its exit was seen.
    pub elapsed: Duration,
}

/// How long services get to stop after SIGTERM.
const GRACE: Duration = Duration::from_secs(5);

/// Pause between two looks at a running command (bounds the error of the
/// time measured around it).
const POLL: Duration = Duration::from_micros(500);

impl Procs {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops every process (and removes the directories registered with
    /// [`remove_on_interrupt`](Self::remove_on_interrupt)) on SIGINT or
    /// SIGTERM, then exits with status 130.
    pub fn stop_on_interrupt(&self) {
        let procs = self.clone();
        let installed = ctrlc::set_handler(move || {
            eprintln!("\ninterrupted: stopping the processes the harness started");
            procs.stop_all();
            let dirs = std::mem::take(&mut procs.lock().remove_on_interrupt);
            for d in dirs {
                let _ = std::fs::remove_dir_all(d);
            }
            std::process::exit(130);
        });
        if let Err(e) = installed {
            eprintln!(
                "warning: cannot catch interrupts ({e}); an interrupt may leave processes behind"
            );
        }
    }

    /// Registers a directory for the interrupt handler to remove.
    pub fn remove_on_interrupt(&self, dir: PathBuf) {
        self.lock().remove_on_interrupt.push(dir);
    }

    /// Forgets the directories registered for removal.
    pub fn keep_dirs(&self) {
        self.lock().remove_on_interrupt.clear();
    }

    /// Starts `cmd` and registers it, unless the harness is stopping.
    pub fn spawn(&self, label: &str, kind: Kind, cmd: &mut Command) -> Result<ProcId, String> {
        let mut state = self.lock();
        if state.stopping {
            return Err("the harness is stopping".into());
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {label} ({:?}): {e}", cmd.get_program()))?;
        state.next += 1;
        let id = state.next;
        state.entries.push(Entry {
            id,
            label: label.to_owned(),
            kind,
            child,
        });
        Ok(ProcId(id))
    }

    /// The process id of a registered process.
    pub fn pid(&self, id: ProcId) -> Option<u32> {
        self.lock()
            .entries
            .iter()
            .find(|e| e.id == id.0)
            .map(|e| e.child.id())
    }

    /// Takes the pipes of a registered process's output.
    fn take_pipes(&self, id: ProcId) -> (Option<Reader>, Option<Reader>) {
        let mut state = self.lock();
        let Some(e) = state.entries.iter_mut().find(|e| e.id == id.0) else {
            return (None, None);
        };
        let out = e.child.stdout.take().map(|p| read_all(Box::new(p)));
        let err = e.child.stderr.take().map(|p| read_all(Box::new(p)));
        (out, err)
    }

    /// Whether the process has exited: its status, and it is forgotten.
    pub fn try_wait(&self, id: ProcId) -> Option<Result<ExitStatus, String>> {
        let mut state = self.lock();
        let pos = state.entries.iter().position(|e| e.id == id.0)?;
        match state.entries[pos].child.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => {
                state.entries.remove(pos);
                Some(Ok(status))
            }
            Err(e) => {
                let mut entry = state.entries.remove(pos);
                let _ = entry.child.kill();
                let _ = entry.child.wait();
                Some(Err(format!("cannot wait for {}: {e}", entry.label)))
            }
        }
    }

    /// Runs `cmd` to completion, for at most `limit` (then kills it), and
    /// collects what it printed.
    pub fn run(&self, label: &str, cmd: &mut Command, limit: Duration) -> Result<Output, String> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let id = self.spawn(label, Kind::Command, cmd)?;
        let (out, err) = self.take_pipes(id);
        let status = loop {
            if let Some(status) = self.try_wait(id) {
                break status;
            }
            if started.elapsed() > limit {
                self.stop(id);
                break Err(format!(
                    "{label} did not finish within {:.0} s",
                    limit.as_secs_f64()
                ));
            }
            std::thread::sleep(POLL);
        };
        let elapsed = started.elapsed();
        let stdout = out.map(join).unwrap_or_default();
        let stderr = err.map(join).unwrap_or_default();
        Ok(Output {
            status: status?,
            stdout,
            stderr,
            elapsed,
        })
    }

    /// Stops one process (see [`Kind`]) and forgets it.
    pub fn stop(&self, id: ProcId) {
        let entry = {
            let mut state = self.lock();
            let Some(pos) = state.entries.iter().position(|e| e.id == id.0) else {
                return;
            };
            state.entries.remove(pos)
        };
        stop_entries(vec![entry]);
    }

    /// Stops every process; none starts afterwards.
    pub fn stop_all(&self) {
        let entries = {
            let mut state = self.lock();
            state.stopping = true;
            std::mem::take(&mut state.entries)
        };
        stop_entries(entries);
    }
}

type Reader = JoinHandle<String>;

fn read_all(mut pipe: Box<dyn Read + Send>) -> Reader {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

fn join(reader: Reader) -> String {
    reader.join().unwrap_or_default()
}

/// SIGTERM to the services, SIGKILL to the commands; services still running
/// after the grace period are killed. Every child is reaped.
fn stop_entries(mut entries: Vec<Entry>) {
    for e in &mut entries {
        if matches!(e.child.try_wait(), Ok(Some(_))) {
            continue;
        }
        match e.kind {
            Kind::Service => {
                // Signalled by the id of the child we started.
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(e.child.id().to_string())
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
            Kind::Command => {
                let _ = e.child.kill();
            }
        }
    }
    let deadline = Instant::now() + GRACE;
    for e in &mut entries {
        while Instant::now() < deadline {
            if !matches!(e.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = e.child.kill();
        let _ = e.child.wait();
    }
}
