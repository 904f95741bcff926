//! The peer figure of the bulk throughput: `scp` of the same file to an
//! `sshd` the harness starts on a loopback port, with a throwaway host key
//! and user key in its own directory.
//!
//! If `sshd` is missing, `openssh-server` is installed with `apt-get`
//! (through `sudo -n` when not root) unless `--no-install`. When sshd
//! cannot be had or started, [`Sshd::start`] says why and the bulk row
//! says "not measured" for scp.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::nodes::free_port;
use crate::procs::{Kind, ProcId, Procs};

/// The sshd binary.
const SSHD: &str = "/usr/sbin/sshd";

/// The SFTP server scp uses (OpenSSH 9 copies over SFTP); `internal-sftp`
/// where it is missing.
const SFTP_SERVER: &str = "/usr/lib/openssh/sftp-server";

/// The cipher scp is also run with (the default is chacha20-poly1305).
pub(crate) const GCM: &str = "aes256-gcm@openssh.com";

/// Bound on one copy.
const COPY_LIMIT: Duration = Duration::from_secs(1800);

/// Bound on installing openssh-server.
const INSTALL_LIMIT: Duration = Duration::from_secs(600);

/// A running sshd and the key to log in with.
pub(crate) struct Sshd {
    proc: ProcId,
    port: u16,
    user: String,
    user_key: PathBuf,
    dir: PathBuf,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn current_user() -> Result<String, String> {
    let out = Command::new("id")
        .arg("-un")
        .output()
        .map_err(|e| format!("cannot run `id -un`: {e}"))?;
    let user = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if user.is_empty() {
        Err("cannot tell the current user".into())
    } else {
        Ok(user)
    }
}

fn have(program: &str) -> bool {
    Path::new(program).is_file()
        || Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// Installs openssh-server with apt-get.
fn install(procs: &Procs) -> Result<(), String> {
    eprintln!("  sshd is missing: installing openssh-server with apt-get");
    let sudo = !is_root();
    let apt = |args: &[&str]| -> Result<(), String> {
        let mut cmd = if sudo {
            let mut c = Command::new("sudo");
            c.args(["-n", "apt-get"]);
            c
        } else {
            Command::new("apt-get")
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        let out = procs.run("apt-get", &mut cmd, INSTALL_LIMIT)?;
        if out.status.success() {
            Ok(())
        } else {
            let text = format!("{}{}", out.stderr, out.stdout);
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            Err(format!(
                "apt-get {} failed: {}",
                args.join(" "),
                last.trim()
            ))
        }
    };
    let install = ["install", "-y", "-q", "openssh-server"];
    if apt(&install).is_err() {
        apt(&["update", "-q"])?;
        apt(&install)?;
    }
    Ok(())
}

impl Sshd {
    /// Makes the keys and the configuration in `dir` and starts sshd on a
    /// free 127.0.0.1 port; waits until it accepts connections.
    pub(crate) fn start(procs: &Procs, dir: &Path, may_install: bool) -> Result<Sshd, String> {
        if !Path::new(SSHD).is_file() || !have("scp") || !have("ssh-keygen") {
            if !may_install {
                return Err(format!(
                    "{SSHD}, scp or ssh-keygen is missing (and --no-install)"
                ));
            }
            install(procs).map_err(|e| format!("cannot install openssh-server: {e}"))?;
            if !Path::new(SSHD).is_file() {
                return Err(format!("{SSHD} is still missing after installing"));
            }
        }
        let privsep = Path::new("/run/sshd");
        if !privsep.is_dir() {
            if is_root() {
                fs::create_dir_all(privsep).map_err(|e| format!("cannot make /run/sshd: {e}"))?;
            } else {
                return Err("/run/sshd is missing and only root can make it".into());
            }
        }
        let user = current_user()?;
        fs::create_dir_all(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| format!("cannot resolve {}: {e}", dir.display()))?;
        let host_key = dir.join("host_ed25519");
        let user_key = dir.join("user_ed25519");
        for key in [&host_key, &user_key] {
            let _ = fs::remove_file(key);
            let _ = fs::remove_file(key.with_extension("pub"));
            let out = procs.run(
                "ssh-keygen",
                Command::new("ssh-keygen")
                    .args([
                        "-q",
                        "-t",
                        "ed25519",
                        "-N",
                        "",
                        "-C",
                        "confrere-bench",
                        "-f",
                    ])
                    .arg(key),
                Duration::from_secs(60),
            )?;
            if !out.status.success() {
                return Err(format!("ssh-keygen failed: {}", out.stderr.trim()));
            }
        }
        let authorized = dir.join("authorized_keys");
        fs::copy(user_key.with_extension("pub"), &authorized)
            .map_err(|e| format!("cannot write {}: {e}", authorized.display()))?;
        let port = free_port()?;
        let sftp = if Path::new(SFTP_SERVER).is_file() {
            SFTP_SERVER
        } else {
            "internal-sftp"
        };
        let config = dir.join("sshd_config");
        fs::write(
            &config,
            format!(
                "ListenAddress 127.0.0.1\n\
                 Port {port}\n\
                 HostKey {}\n\
                 AuthorizedKeysFile {}\n\
                 PidFile {}\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\n\
                 PermitRootLogin prohibit-password\n\
                 StrictModes no\n\
                 UsePAM no\n\
                 Subsystem sftp {sftp}\n",
                host_key.display(),
                authorized.display(),
                dir.join("sshd.pid").display()
            ),
        )
        .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        let check = procs.run(
            "sshd -t",
            Command::new(SSHD).arg("-t").arg("-f").arg(&config),
            Duration::from_secs(30),
        )?;
        if !check.status.success() {
            return Err(format!(
                "sshd refuses its configuration: {}",
                check.stderr.trim()
            ));
        }
        let log_path = dir.join("sshd.log");
        let log = fs::File::create(&log_path)
            .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
        let proc = procs.spawn(
            "sshd",
            Kind::Service,
            Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log),
        )?;
        let started = Instant::now();
        loop {
            if let Some(exit) = procs.try_wait(proc) {
                let log = fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!(
                    "sshd exited ({}): {}",
                    exit.map_or_else(|e| e, |s| s.to_string()),
                    log.lines().last().unwrap_or("").trim()
                ));
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if started.elapsed() > Duration::from_secs(15) {
                procs.stop(proc);
                return Err("sshd did not listen within 15 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Sshd {
            proc,
            port,
            user,
            user_key,
            dir,
        })
    }

    /// Copies `file` with scp to this sshd (with `-c CIPHER` if given),
    /// checks the copy's size and removes it; the time scp took.
    pub(crate) fn copy(
        &self,
        procs: &Procs,
        file: &Path,
        cipher: Option<&str>,
    ) -> Result<Duration, String> {
        let dest = self.dir.join("copy.bin");
        let _ = fs::remove_file(&dest);
        let mut cmd = Command::new("scp");
        cmd.arg("-q")
            .arg("-i")
            .arg(&self.user_key)
            .arg("-P")
            .arg(self.port.to_string())
            .args(["-F", "/dev/null"])
            .args(["-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null"])
            .args(["-o", "BatchMode=yes"])
            .args(["-o", "IdentitiesOnly=yes"])
            .args(["-o", "LogLevel=ERROR"]);
        if let Some(c) = cipher {
            cmd.args(["-c", c]);
        }
        cmd.arg(file)
            .arg(format!("{}@127.0.0.1:{}", self.user, dest.display()));
        let out = procs.run("scp", &mut cmd, COPY_LIMIT)?;
        let result = if !out.status.success() {
            Err(format!(
                "scp failed ({}): {}",
                out.status,
                out.stderr.trim()
            ))
        } else {
            let want = fs::metadata(file).map(|m| m.len()).unwrap_or(0);
            match fs::metadata(&dest).map(|m| m.len()) {
                Ok(got) if got == want => Ok(out.elapsed),
                Ok(got) => Err(format!("scp copied {got} bytes of {want}")),
                Err(e) => Err(format!("scp left no copy: {e}")),
            }
        };
        let _ = fs::remove_file(&dest);
        result
    }

    /// Stops sshd.
    pub(crate) fn stop(self, procs: &Procs) {
        procs.stop(self.proc);
    }
}
