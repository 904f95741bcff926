//! The command line against closed pipes, busy ports and stale daemon
//! files: `confrere … | head -1` ends quietly, a daemon refuses a port
//! another node listens on (with the reason), and a command never sends
//! the API token or a request to a process that is not the home's daemon.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use confrere_tests::{
    confrere_cmd, enroll, free_port, scratch_run_dir, Card, Daemon, TestPki, JEAN,
};

/// How long a daemon that must refuse to start may take to exit.
const EXIT_LIMIT: Duration = Duration::from_secs(60);

fn shared_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-cli-hardening"))
    })
}

fn pki_and_card() -> &'static (TestPki, Card) {
    static MATERIAL: OnceLock<(TestPki, Card)> = OnceLock::new();
    MATERIAL.get_or_init(|| {
        let pki = TestPki::init(&shared_dir().join("pki"));
        let card = pki.issue(&JEAN, &shared_dir().join("jean"));
        (pki, card)
    })
}

/// A freshly enrolled home in a temporary directory.
fn enrolled() -> (tempfile::TempDir, PathBuf) {
    let (pki, card) = pki_and_card();
    let dir = tempfile::tempdir_in(shared_dir()).unwrap();
    let home = dir.path().join("home");
    enroll(&home, card, &[pki]).code(0);
    (dir, home)
}

/// A process that is killed if the test ends before it exits.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Running {
    /// Waits for the process to exit by itself, at most [`EXIT_LIMIT`].
    fn exit_code(&mut self, what: &str) -> Option<i32> {
        let start = Instant::now();
        loop {
            let child = self.0.as_mut().unwrap();
            if let Some(status) = child.try_wait().unwrap() {
                self.0 = None;
                return status.code();
            }
            assert!(start.elapsed() < EXIT_LIMIT, "{what} did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Runs the daemon of `home` on `listen`, expecting it to refuse to start:
/// its exit code and standard error.
fn run_expecting_exit(home: &Path, listen: &str) -> (Option<i32>, String) {
    let err_path = home.with_extension("run.err");
    let err = fs::File::create(&err_path).unwrap();
    let child = confrere_cmd()
        .arg("run")
        .arg("--home")
        .arg(home)
        .args(["--listen", listen, "--no-mdns"])
        .env_remove("CONFRERE_PASSPHRASE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap();
    let code = Running(Some(child)).exit_code("the daemon");
    (code, fs::read_to_string(&err_path).unwrap())
}

#[test]
fn a_closed_stdout_ends_a_command_quietly() {
    let (_dir, home) = enrolled();
    let mut child = confrere_cmd()
        .args(["ledger", "verify", "--home"])
        .arg(&home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader is gone before the command writes its first line, as
    // with `| head -0`: the write fails with a broken pipe.
    drop(child.stdout.take());
    let mut stderr = child.stderr.take().unwrap();
    let mut running = Running(Some(child));
    let code = running.exit_code("ledger verify");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    assert!(text.is_empty(), "{text}");
}

#[test]
fn a_second_node_on_a_port_in_use_refuses_to_start() {
    let (_a, first) = enrolled();
    let (_b, second) = enrolled();
    let port = free_port();
    let mut running = Daemon::start("first", &first, port, &first.with_extension("log"));
    let (code, stderr) = run_expecting_exit(&second, &format!("/ip4/127.0.0.1/tcp/{port}"));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot listen on /ip4/127.0.0.1/tcp/{port}: the port is in use"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: another program, or another Confrère node"),
        "{stderr}"
    );
    assert!(!second.join("api.json").exists());
    // The first node still answers.
    running.json(["status"]);
    running.stop(Duration::from_secs(20));
}

#[test]
fn a_listen_failure_gives_its_reason() {
    let (_dir, home) = enrolled();
    // Not an address of this machine (TEST-NET-1): nothing is sent there.
    let (code, stderr) = run_expecting_exit(&home, "/ip4/192.0.2.1/tcp/0");
    assert_eq!(code, Some(1), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("cannot listen on /ip4/192.0.2.1/tcp/0: "))
        .unwrap_or_else(|| panic!("{stderr}"));
    let reason = line.split("tcp/0: ").nth(1).unwrap_or_default();
    assert!(reason.len() > 3, "an empty reason: {stderr}");
    assert!(
        stderr.contains("hint: check the --listen addresses"),
        "{stderr}"
    );
}

/// A listener on a port, as a process that took it after the daemon died
/// would be: it accepts every connection and keeps what it receives.
struct FakeDaemon {
    received: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeDaemon {
    fn bind(port: u16) -> FakeDaemon {
        use std::io::Read;
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (r, c, s) = (received.clone(), connections.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            // Bounded: the test stops it, and it gives up after 5 minutes.
            let start = Instant::now();
            while !s.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(300) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        c.fetch_add(1, Ordering::SeqCst);
                        conn.set_nonblocking(false).unwrap();
                        conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                        let mut buf = [0u8; 4096];
                        while let Ok(n) = conn.read(&mut buf) {
                            if n == 0 {
                                break;
                            }
                            r.lock().unwrap().extend_from_slice(&buf[..n]);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        FakeDaemon {
            received,
            connections,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_process_on_a_dead_daemons_port_receives_nothing() {
    let (_dir, home) = enrolled();
    let mut node = Daemon::start("jean", &home, free_port(), &home.with_extension("log"));
    let endpoint: serde_json::Value =
        serde_json::from_slice(&fs::read(home.join("api.json")).unwrap()).unwrap();
    let api_port = u16::try_from(endpoint["port"].as_u64().unwrap()).unwrap();
    assert!(
        home.join("api.sock").exists(),
        "the daemon listens on its socket"
    );
    // The daemon dies without cleaning up: api.json, api.token and
    // api.sock stay. Another process takes its API port.
    node.kill();
    assert!(home.join("api.json").exists() && home.join("api.sock").exists());
    let token = fs::read_to_string(home.join("api.token")).unwrap();
    let fake = FakeDaemon::bind(api_port);

    let letter = home.with_extension("letter.txt");
    fs::write(&letter, "Cher confrère, patiente MARTIN Anne.").unwrap();
    let hs = home.display().to_string();
    let ls = letter.display().to_string();
    let commands: [Vec<&str>; 3] = [
        vec!["status", "--home", &hs],
        vec![
            "send",
            "--home",
            &hs,
            "--to",
            "810001000024",
            "--consent",
            "3f2a9c1e",
            "--patient-ins",
            "255081416802538",
            "--patient-family",
            "MARTIN",
            "--patient-given",
            "Anne",
            "--birth-date",
            "1955-08-14",
            "--sex",
            "F",
            "--reason",
            "ECG",
            "--letter",
            &ls,
        ],
        vec!["ledger", "verify", "--home", &hs],
    ];
    for args in &commands {
        let out = confrere_tests::confrere(args);
        if args[0] == "ledger" {
            // No daemon holds the store: it is read directly.
            out.code(0);
        } else {
            out.code(3).stderr_has("the daemon is not running for");
        }
    }
    drop_fake_and_check(fake, &token);

    // The next start replaces the stale socket; a clean stop removes it.
    node.restart();
    node.json(["status"]);
    assert!(node.stop(Duration::from_secs(20)).is_some(), "a clean stop");
    assert!(!home.join("api.sock").exists(), "the socket is removed");
    assert!(!home.join("api.json").exists());
}

fn drop_fake_and_check(fake: FakeDaemon, token: &str) {
    let connections = fake.connections.clone();
    let received = fake.received.clone();
    drop(fake);
    let received = received.lock().unwrap().clone();
    let text = String::from_utf8_lossy(&received);
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the process on the port was contacted: {text}"
    );
    assert!(!text.contains(token.trim()), "the token leaked");
    assert!(!text.contains("MARTIN"), "patient data leaked");
}
