//! What `confrere run` refuses to start on: a `config.toml` with an
//! unknown key or a bad value (named with its file and line, never
//! replaced by a default), and a ledger altered in the middle of its
//! chain (named by its first bad entry, with nothing appended).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use confrere_node::home::Home;
use confrere_node::ledger::{read_checkpoint, read_entry, Ledger, Libp2pNodeSigner};
use confrere_node::store::{Store, StoreKeySource, Tree};
use confrere_protocol::ledger::EntryKind;
use confrere_protocol::UnixTime;
use confrere_tests::{confrere, confrere_cmd, enroll, scratch_run_dir, Card, TestPki, JEAN};

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

fn store(home: &Path) -> Store {
    Store::open(home, StoreKeySource::KeyFile).unwrap()
}

/// Writes the genesis entry and six more with the node's own key.
fn write_ledger(home: &Path) {
    let node = Home::open(home).unwrap();
    let signer = Arc::new(Libp2pNodeSigner::new(node.libp2p));
    let ledger = Ledger::open(store(home), signer, JEAN.national_id, "JEAN DUPONT").unwrap();
    for i in 0..6u8 {
        ledger
            .append(
                EntryKind::ConsentRevoked {
                    consent_id: [i; 16],
                    reason: format!("Retrait {i}"),
                },
                UnixTime::from_secs(1_709_251_200 + i64::from(i)),
            )
            .unwrap();
    }
}

#[test]
fn a_ledger_altered_mid_chain_stops_the_daemon_and_nothing_is_appended() {
    let (_dir, home) = enrolled();
    write_ledger(&home);
    let before = {
        let s = store(&home);
        let mut e = read_entry(&s, 3).unwrap().unwrap();
        if let EntryKind::ConsentRevoked { reason, .. } = &mut e.kind {
            *reason = "Altered".into();
        }
        s.put_bytes(Tree::Ledger, &3u64.to_be_bytes(), &e.encode().unwrap())
            .unwrap();
        s.flush().unwrap();
        read_checkpoint(&s).unwrap()
    };
    let hs = home.display().to_string();
    // `ledger verify` names the entry…
    confrere(["ledger", "verify", "--home", &hs])
        .code(1)
        .stderr_has("ledger entry 3");
    // …and the daemon refuses to start, naming it too.
    let (code, stderr) = run_expecting_exit(&home);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("ledger entry 3"), "{stderr}");
    assert!(stderr.contains("the daemon does not start"), "{stderr}");
    assert!(
        stderr.contains("restore the home from its latest backup"),
        "{stderr}"
    );
    assert!(stderr.contains("confrere ledger verify"), "{stderr}");
    assert!(!home.join("api.json").exists(), "the daemon did not start");
    // Nothing was appended, the head checkpoint is the same.
    let s = store(&home);
    assert!(
        read_entry(&s, 7).unwrap().is_none(),
        "an entry was appended"
    );
    assert!(read_entry(&s, 6).unwrap().is_some());
    assert_eq!(
        read_checkpoint(&s).unwrap().map(|c| (c.seq, c.hash)),
        before.map(|c| (c.seq, c.hash))
    );
}

#[test]
fn an_intact_ledger_starts() {
    let (_dir, home) = enrolled();
    write_ledger(&home);
    let mut d = confrere_tests::Daemon::start(
        "jean",
        &home,
        confrere_tests::free_port(),
        &home.with_extension("log"),
    );
    assert!(d
        .log_text()
        .contains("ledger verified up to its signed head"));
    d.stop(Duration::from_secs(20));
}

/// A damaged address book stops the daemon with what to do about
/// peers.json, not about the listen addresses it has nothing to do with.
#[test]
fn a_damaged_address_book_stops_the_daemon_and_names_it() {
    let (_dir, home) = enrolled();
    fs::write(home.join("peers.json"), b"{ this is not an address book").unwrap();
    let (code, err) = run_expecting_exit(&home);
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("peers.json is damaged"), "{err}");
    assert!(err.contains("move peers.json out of the home"), "{err}");
    assert!(!err.contains("--listen"), "{err}");
}

/// A listen address that is not one of this machine is refused with the
/// advice about --listen.
#[test]
fn a_foreign_listen_address_stops_the_daemon_with_the_listen_hint() {
    let (_dir, home) = enrolled();
    set_config(
        &home,
        "listen = []",
        "listen = [\"/ip4/192.0.2.1/tcp/4001\"]",
    );
    let err_path = home.with_extension("run.err");
    let child = confrere_cmd()
        .arg("run")
        .arg("--home")
        .arg(&home)
        .arg("--no-mdns")
        .env_remove("CONFRERE_PASSPHRASE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let mut running = Running(Some(child));
    let start = Instant::now();
    let code = loop {
        if let Some(status) = running.0.as_mut().unwrap().try_wait().unwrap() {
            running.0 = None;
            break status.code();
        }
        assert!(
            start.elapsed() < EXIT_LIMIT,
            "the daemon did not refuse to start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = fs::read_to_string(&err_path).unwrap();
    assert_ne!(code, Some(0), "{err}");
    assert!(
        err.contains("cannot listen on /ip4/192.0.2.1/tcp/4001"),
        "{err}"
    );
    assert!(err.contains("check the --listen addresses"), "{err}");
}
