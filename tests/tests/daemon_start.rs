//! What `confrere run` refuses to start on: a `config.toml` with an
//! unknown key or a bad value (named with its file and line, never
//! replaced by a default).
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use confrere_tests::{
    confrere, confrere_cmd, enroll, scratch_run_dir, Card, Practitioner, TestPki,
};

const JEAN: Practitioner<'static> = Practitioner {
    national_id: "810001000016",
    given: "JEAN",
    surname: "DUPONT",
    profession: 10,
    ecdsa: false,
};

/// How long a daemon that must refuse to start may take to exit.
const EXIT_LIMIT: Duration = Duration::from_secs(60);

fn shared_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-daemon-start"))
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

/// A `confrere run` that is killed if the test ends before it exits.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs the daemon of `home` and waits for it to exit by itself (at most
/// [`EXIT_LIMIT`]); returns its exit code and its standard error.
fn run_expecting_exit(home: &Path) -> (Option<i32>, String) {
    let err_path = home.with_extension("run.err");
    let err = fs::File::create(&err_path).unwrap();
    let child = confrere_cmd()
        .arg("run")
        .arg("--home")
        .arg(home)
        .args(["--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"])
        .env_remove("CONFRERE_PASSPHRASE")
        .env("RUST_LOG", "info,libp2p=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap();
    let mut running = Running(Some(child));
    let start = Instant::now();
    let code = loop {
        let child = running.0.as_mut().unwrap();
        if let Some(status) = child.try_wait().unwrap() {
            running.0 = None;
            break status.code();
        }
        assert!(
            start.elapsed() < EXIT_LIMIT,
            "the daemon did not refuse to start:\n{}",
            fs::read_to_string(&err_path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    (code, fs::read_to_string(&err_path).unwrap())
}

fn set_config(home: &Path, from: &str, to: &str) {
    let path = home.join("config.toml");
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{text}");
    fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// The line of `config.toml` that starts with `prefix`, from 1.
fn line_of(home: &Path, prefix: &str) -> usize {
    let text = fs::read_to_string(home.join("config.toml")).unwrap();
    text.lines().position(|l| l.starts_with(prefix)).unwrap() + 1
}

#[test]
fn a_bad_setting_stops_the_daemon_with_its_file_and_line() {
    let cases: [(&str, &str, &str, &str); 5] = [
        ("\nport = 0\n", "\nport = 70000\n", "port = ", "70000"),
        ("\nport = 0\n", "\nport = \"8080\"\n", "port = ", "string"),
        (
            "\nyears = 20\n",
            "\nyears = -1\n",
            "years = ",
            "from 0 to 200",
        ),
        (
            "\nrevocation_check = true\n",
            "\nrevocation_check = yes\n",
            "revocation_check = ",
            "",
        ),
        (
            "\nport = 0\n",
            "\nport = 0\nprot = 1\n",
            "prot = ",
            "unknown field `prot`",
        ),
    ];
    for (from, to, line_prefix, says) in cases {
        let (_dir, home) = enrolled();
        set_config(&home, from, to);
        let line = line_of(&home, line_prefix);
        let (code, stderr) = run_expecting_exit(&home);
        assert_eq!(code, Some(1), "{to}: {stderr}");
        let config = home.join("config.toml");
        let located = format!("{}, line {line}: ", config.display());
        assert!(
            stderr.contains(&located),
            "{to}: want {located:?}\n{stderr}"
        );
        assert!(stderr.contains(says), "{to}: want {says:?}\n{stderr}");
        assert!(
            stderr.contains("hint: correct or remove that line"),
            "{stderr}"
        );
        assert!(!home.join("api.json").exists(), "the daemon did not start");
        // Any command that opens the home refuses it the same way.
        let hs = home.display().to_string();
        confrere(["ledger", "verify", "--home", &hs])
            .code(2)
            .stderr_has(&located)
            .stderr_has("hint:");
    }
}

#[test]
fn a_hash_in_a_quoted_value_is_not_a_comment() {
    let (_dir, home) = enrolled();
    // The hand-written reader cut this value at `#` and read `"12D3`.
    set_config(&home, "\npeer_id = \"", "\npeer_id = \"#");
    let hs = home.display().to_string();
    confrere(["ledger", "verify", "--home", &hs]).code(0);
}
