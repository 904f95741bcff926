//! Practices on loopback, made and run with the `confrere` binary as the
//! multi-process tests do: a TEST PKI (`pki init-test`), cards
//! (`pki issue-test`), homes (`init`), daemons (`run --no-mdns --listen`
//! on a free 127.0.0.1 port), colleagues' nodes added (`peers add`).
//! Also the daemons' peak memory, read from `/proc`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api::Api;
use crate::procs::{Kind, Output, ProcId, Procs};

/// Bound on a set-up command (`pki`, `init`, `peers add`, `consent`...).
pub(crate) const COMMAND_LIMIT: Duration = Duration::from_secs(120);

/// How long a daemon may take to answer after it starts.
const START_LIMIT: Duration = Duration::from_secs(60);

/// The patient of every dossier the harness sends (a TEST INS).
pub(crate) const PATIENT_INS: &str = "285057512345623";

/// The `confrere` binary.
#[derive(Clone, Debug)]
pub struct Confrere {
    /// Its path.
    pub bin: PathBuf,
    /// The registry its processes go into.
    pub procs: Procs,
}

impl Confrere {
    /// A command with a clean environment for the variables the binary reads.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env_remove("CONFRERE_HOME")
            .env_remove("CONFRERE_PASSPHRASE");
        cmd
    }

    /// Runs `confrere ARGS` to completion; an exit other than 0 is an error
    /// carrying what it printed.
    pub fn run(&self, label: &str, cmd: &mut Command, limit: Duration) -> Result<Output, String> {
        let out = self.procs.run(label, cmd, limit)?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(format!(
                "`confrere {label}` failed ({}): {}{}",
                out.status,
                out.stderr.trim(),
                out.stdout.trim()
            ))
        }
    }

    /// Runs `confrere ARGS --json` and parses what it printed.
    pub fn json(&self, label: &str, cmd: &mut Command) -> Result<Value, String> {
        let out = self.run(label, cmd.arg("--json"), COMMAND_LIMIT)?;
        serde_json::from_str(&out.stdout).map_err(|e| {
            format!(
                "`confrere {label} --json` printed no JSON ({e}): {}",
                out.stdout
            )
        })
    }
}

/// The `n`-th national id of the harness's practitioners: `8` + an RPPS
/// number whose last digit is its Luhn check digit.
pub(crate) fn national_id(n: u32) -> String {
    let body = format!("1000300{:03}", n % 1000);
    let check = (0..10u8)
        .map(|d| format!("{body}{d}"))
        .find(|rpps| confrere_protocol::identity::luhn_valid(rpps))
        .unwrap_or_else(|| format!("{body}0"));
    format!("8{check}")
}

/// A TEST card: what `pki issue-test` writes.
#[derive(Clone, Debug)]
pub struct Card {
    /// Its directory.
    pub dir: PathBuf,
    /// The practitioner's national id.
    pub national_id: String,
}

/// A TEST PKI: what `pki init-test` writes.
#[derive(Clone, Debug)]
pub struct Pki {
    /// Its directory.
    pub dir: PathBuf,
}

impl Pki {
    /// `confrere pki init-test --out DIR`.
    pub fn init(confrere: &Confrere, dir: &Path) -> Result<Pki, String> {
        confrere.run(
            "pki init-test",
            confrere.cmd().args(["pki", "init-test", "--out"]).arg(dir),
            COMMAND_LIMIT,
        )?;
        Ok(Pki {
            dir: dir.to_path_buf(),
        })
    }

    /// `confrere pki issue-test` for practitioner `n` into `out`.
    pub fn issue(&self, confrere: &Confrere, n: u32, out: &Path) -> Result<Card, String> {
        let national_id = national_id(n);
        confrere.run(
            "pki issue-test",
            confrere
                .cmd()
                .args(["pki", "issue-test", "--ca"])
                .arg(&self.dir)
                .args(["--national-id", &national_id])
                .args(["--given", "BENCH"])
                .args(["--surname", &format!("PRACTICE{n}-TEST")])
                .args(["--profession", "10"])
                .arg("--out")
                .arg(out),
            COMMAND_LIMIT,
        )?;
        Ok(Card {
            dir: out.to_path_buf(),
            national_id,
        })
    }

    /// `confrere init --home HOME` with `card`, trusting this PKI.
    pub fn enroll(&self, confrere: &Confrere, card: &Card, home: &Path) -> Result<(), String> {
        confrere.run(
            "init",
            confrere
                .cmd()
                .arg("init")
                .arg("--home")
                .arg(home)
                .arg("--cert")
                .arg(card.dir.join("cert.pem"))
                .arg("--key")
                .arg(card.dir.join("key.pem"))
                .arg("--chain")
                .arg(card.dir.join("chain.pem"))
                .arg("--trust")
                .arg(self.dir.join("root.pem"))
                .arg("--crl")
                .arg(self.dir.join("crl.pem")),
            COMMAND_LIMIT,
        )?;
        Ok(())
    }
}

/// A TCP port on 127.0.0.1 that is free now, below the system's ephemeral
/// range so that no outgoing connection takes it meanwhile.
pub(crate) fn free_port() -> Result<u16, String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    let start = std::process::id().wrapping_mul(7919) % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let Ok(port) = u16::try_from(LOW + (start + n.wrapping_mul(17)) % SPAN) else {
            continue;
        };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err("no free TCP port on 127.0.0.1".into())
}

/// A running `confrere run` daemon.
pub(crate) struct Daemon {
    /// Its home.
    pub home: PathBuf,
    /// The practitioner it serves.
    pub national_id: String,
    /// Its libp2p PeerId.
    pub peer_id: String,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    /// Its local API.
    pub api: Api,
    proc: ProcId,
}

impl Daemon {
    /// Starts the daemon of an enrolled home, its output going to `log`,
    /// and waits until it answers `status`.
    pub(crate) fn start(
        confrere: &Confrere,
        label: &str,
        home: &Path,
        national_id: &str,
        log: &Path,
    ) -> Result<Daemon, String> {
        let port = free_port()?;
        let log_file =
            fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let log_err = log_file
            .try_clone()
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let proc = confrere.procs.spawn(
            label,
            Kind::Service,
            confrere
                .cmd()
                .args(["run", "--no-mdns", "--listen"])
                .arg(format!("/ip4/127.0.0.1/tcp/{port}"))
                .arg("--home")
                .arg(home)
                .env("RUST_LOG", "info,libp2p=warn")
                .stdin(Stdio::null())
                .stdout(log_file)
                .stderr(log_err),
        )?;
        let pid = confrere
            .procs
            .pid(proc)
            .ok_or_else(|| format!("the daemon of {label} is gone"))?;
        let started = Instant::now();
        let (api, status) = loop {
            if let Some(exit) = confrere.procs.try_wait(proc) {
                return Err(format!(
                    "the daemon of {label} exited ({}); its log: {}",
                    exit.map_or_else(|e| e, |s| s.to_string()),
                    log.display()
                ));
            }
            let ready = Api::connect(home, pid).and_then(|api| api.get("status").map(|s| (api, s)));
            match ready {
                Ok(found) => break found,
                Err(e) if started.elapsed() > START_LIMIT => {
                    confrere.procs.stop(proc);
                    return Err(format!(
                        "the daemon of {label} did not answer within {} s ({e}); its log: {}",
                        START_LIMIT.as_secs(),
                        log.display()
                    ));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        let peer_id = status["peer_id"]
            .as_str()
            .ok_or_else(|| format!("status of {label} without peer_id: {status}"))?
            .to_owned();
        Ok(Daemon {
            home: home.to_path_buf(),
            national_id: national_id.to_owned(),
            peer_id,
            port,
            api,
            proc,
        })
    }

    /// `/ip4/127.0.0.1/tcp/PORT/p2p/PEER_ID`.
    pub(crate) fn multiaddr(&self) -> String {
        format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", self.port, self.peer_id)
    }

    /// The process id.
    pub(crate) fn pid(&self, procs: &Procs) -> Option<u32> {
        procs.pid(self.proc)
    }

    /// `confrere ARGS --home HOME` (arguments to add).
    pub(crate) fn cmd(&self, confrere: &Confrere, args: &[&str]) -> Command {
        let mut cmd = confrere.cmd();
        cmd.args(args).arg("--home").arg(&self.home);
        cmd
    }

    /// `confrere peers add MULTIADDR` for `other`: this node reaches it and
    /// verifies whom it serves.
    pub(crate) fn add_peer(&self, confrere: &Confrere, other: &Daemon) -> Result<(), String> {
        confrere.run(
            "peers add",
            &mut self.cmd(confrere, &["peers", "add", &other.multiaddr()]),
            COMMAND_LIMIT,
        )?;
        Ok(())
    }

    /// `confrere consent grant` for the harness's patient and `to`; returns
    /// the consent id.
    pub(crate) fn grant_consent(&self, confrere: &Confrere, to: &[&str]) -> Result<String, String> {
        let mut cmd = self.cmd(
            confrere,
            &[
                "consent",
                "grant",
                "--patient-ins",
                PATIENT_INS,
                "--purpose",
                "benchmark",
            ],
        );
        for nid in to {
            cmd.args(["--to", nid]);
        }
        let v = confrere.json("consent grant", &mut cmd)?;
        v["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("consent grant printed no id: {v}"))
    }

    /// The arguments of `confrere send` to `to` under `consent`, up to the
    /// documents; `wait` adds `--wait SECS`.
    pub(crate) fn send_cmd(
        &self,
        confrere: &Confrere,
        to: &str,
        consent: &str,
        wait: Option<Duration>,
    ) -> Command {
        let mut cmd = self.cmd(
            confrere,
            &[
                "send",
                "--to",
                to,
                "--consent",
                consent,
                "--patient-ins",
                PATIENT_INS,
                "--patient-family",
                "DURAND-TEST",
                "--patient-given",
                "MARIE",
                "--birth-date",
                "1985-05-12",
                "--sex",
                "F",
                "--reason",
                "benchmark",
                "--json",
            ],
        );
        if let Some(w) = wait {
            cmd.arg(format!("--wait={}", w.as_secs().max(1)));
        }
        cmd
    }

    /// Whether dossier `id` is in this node's `inbox --json`.
    pub(crate) fn inbox_has(&self, confrere: &Confrere, id: &str) -> Result<bool, String> {
        let v = confrere.json("inbox", &mut self.cmd(confrere, &["inbox"]))?;
        Ok(v.as_array()
            .is_some_and(|items| items.iter().any(|i| i["id"] == id)))
    }

    /// Stops the daemon (SIGTERM, then SIGKILL after a grace period).
    pub(crate) fn stop(self, procs: &Procs) {
        procs.stop(self.proc);
    }
}

/// Enrolls a fresh home `DIR/LABEL` with `card` and starts its daemon,
/// logging to `LOGS/LABEL.log`.
pub(crate) fn practice(
    confrere: &Confrere,
    pki: &Pki,
    card: &Card,
    dir: &Path,
    label: &str,
    logs: &Path,
) -> Result<Daemon, String> {
    let home = dir.join(label);
    pki.enroll(confrere, card, &home)?;
    Daemon::start(
        confrere,
        label,
        &home,
        &card.national_id,
        &logs.join(format!("{label}.log")),
    )
}

/// Resets a process's peak resident set size (`VmHWM`) by writing `5` to
/// `/proc/PID/clear_refs`. False if the kernel refused.
pub(crate) fn reset_peak_rss(pid: u32) -> bool {
    fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// A process's peak resident set size (`VmHWM`), in bytes.
/// CPU time (user and system, all threads) process `pid` has used, in
/// seconds, from `/proc/PID/stat` (in units of 1/100 s, Linux's USER_HZ).
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

pub(crate) fn peak_rss(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_ids_pass_their_check() {
        for n in [0, 1, 7, 20, 999] {
            let id = national_id(n);
            assert_eq!(id.len(), 12, "{id}");
            assert!(confrere_protocol::NationalId::parse(&id).is_ok(), "{id}");
        }
        assert_ne!(national_id(1), national_id(2));
    }

    #[test]
    fn cpu_time_of_this_process_grows() {
        let pid = std::process::id();
        let before = cpu_seconds(pid).expect("cpu");
        let mut x = 0u64;
        let t = std::time::Instant::now();
        while t.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        assert!(cpu_seconds(pid).expect("cpu") >= before);
    }

    #[test]
    fn peak_rss_of_this_process() {
        let pid = std::process::id();
        assert!(peak_rss(pid).is_some_and(|b| b > 0));
    }
}
