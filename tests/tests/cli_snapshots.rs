//! Snapshots of the command line, compared exactly (`[..]` stands for what
//! changes from run to run):
//!
//! - `tests/cmd/help.md`: every command's `--help`, the commands found by
//!   walking the help texts from the top;
//! - `tests/cmd/*.trycmd`, run with trycmd: usage errors, `cert inspect` over the OpenSSL fixtures and the real
//!   IGC-Santé TEST certificates, the TEST PKI and enrollment with every
//!   refusal, and every command that needs the daemon when none runs;
//! - `tests/cmd/transcripts/store.txt`: the errors about a home's store
//!   (a key looked for in the wrong place, a key file open to others, a
//!   wrong key or passphrase, a damaged store, a store held by another
//!   process), which need files made here first.
//!
//! Errors that need running nodes, and the JSON shapes, are in
//! `json_shapes.rs`.
//!
//! After an intended change, rewrite the snapshots with
//! `SNAPSHOTS=overwrite cargo test -p confrere-tests --test cli_snapshots`
//! and read the diff: a snapshot of a wrong message is a bug, not a test.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

mod snapshot_support;

use std::fs;
use std::path::Path;

use confrere_node::store::{Store, StoreKeySource};
use confrere_tests::{
    confrere, confrere_bin, confrere_cmd, enroll, run_with_limit, scratch_run_dir, TestPki, GP,
};
use snapshot_support::{assert_no_failures, check_text, cmd_dir, overwrite, Transcript};

/// The environment variables the binary reads, which a developer's shell
/// may set: the cases must not see them.
fn clean_environment() {
    for var in ["CONFRERE_HOME", "CONFRERE_PASSPHRASE", "RUST_LOG"] {
        std::env::remove_var(var);
    }
    if overwrite() {
        std::env::set_var("TRYCMD", "overwrite");
    }
}

#[test]
fn cli_cases() {
    clean_environment();
    trycmd::TestCases::new()
        .register_bin("confrere", confrere_bin())
        .timeout(std::time::Duration::from_secs(120))
        .case(cmd_dir().join("*.trycmd"));
}

/// The subcommands listed in the `Commands:` section of a help text.
fn listed_subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

const HELP_HEADER: &str = "\
# Help of every command

Each command's `--help`, as clap prints it from the definitions in
`cli/src/cli.rs`, for every command and subcommand that `confrere --help`
and the groups' help list, in that order (`cli_snapshots.rs` walks them).
Rewrite with `SNAPSHOTS=overwrite cargo test -p confrere-tests --test
cli_snapshots`, then read the diff.

";

/// Every command and subcommand, found by walking the `--help` texts from
/// the top, has its `--help` in `help.md`; `--version` too.
#[test]
fn help_of_every_command() {
    clean_environment();
    let mut doc = String::from(HELP_HEADER);
    let mut block = |words: &[String], out: &confrere_tests::Outcome| {
        doc.push_str("```console\n$ confrere");
        for w in words {
            doc.push(' ');
            doc.push_str(w);
        }
        doc.push('\n');
        doc.push_str(&out.stdout);
        doc.push_str("```\n\n");
    };
    let version = confrere(["--version"]);
    version.code(0);
    block(&["--version".to_owned()], &version);
    let mut todo: std::collections::VecDeque<Vec<String>> = [Vec::new()].into();
    let mut count = 0;
    while let Some(path) = todo.pop_front() {
        let mut args = path.clone();
        args.push("--help".into());
        let out = confrere(&args);
        out.code(0);
        assert!(out.stderr.is_empty(), "{out}");
        block(&args, &out);
        count += 1;
        for sub in listed_subcommands(&out.stdout) {
            let mut p = path.clone();
            p.push(sub);
            todo.push_back(p);
        }
    }
    assert!(count > 30, "too few commands found:\n{doc}");
    assert_no_failures(
        &check_text("help.md", &doc)
            .err()
            .into_iter()
            .collect::<Vec<_>>(),
    );
}

/// Enrolls the GP in `dir/NAME` under a TEST PKI made in `dir/pki` (once).
fn enrolled(dir: &Path, pki: &TestPki, name: &str) -> std::path::PathBuf {
    let card = pki.issue(&GP, &dir.join(format!("{name}-card")));
    let home = dir.join(name);
    enroll(&home, &card, &[pki]).code(0);
    home
}

/// Runs `confrere ARGS` with `CONFRERE_PASSPHRASE` set or not, and records
/// it.
fn record(t: &mut Transcript, passphrase: Option<&str>, args: &[&str]) {
    let mut cmd = confrere_cmd();
    cmd.env_remove("CONFRERE_PASSPHRASE");
    let mut env = String::new();
    if let Some(p) = passphrase {
        cmd.env("CONFRERE_PASSPHRASE", p);
        env = format!("CONFRERE_PASSPHRASE='{p}' ");
    }
    cmd.args(args);
    // A `run` that wrongly starts is stopped, and shows as killed.
    let out = run_with_limit(&mut cmd, std::time::Duration::from_secs(60));
    t.record(&env, args, &out);
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// The errors about a home's store, with the daemon stopped: `ledger` opens
/// the store itself, `run` before it starts.
#[cfg(unix)]
#[test]
fn store_errors() {
    let dir = scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-snapshots"));
    let pki = TestPki::init(&dir.join("pki"));
    let keyed = enrolled(&dir, &pki, "keyed");
    let secret = enrolled(&dir, &pki, "secret");
    // The stores the daemon would make at its first start: one with the key
    // file, one with a passphrase.
    drop(Store::open(&keyed, StoreKeySource::KeyFile).unwrap());
    drop(Store::open(&secret, StoreKeySource::Passphrase("correct horse".into())).unwrap());

    let mut t = Transcript::new();
    t.redact(dir.display().to_string(), "[DIR]");
    let k = keyed.display().to_string();
    let s = secret.display().to_string();
    let no_mdns = "--no-mdns";
    let lo = "/ip4/127.0.0.1/tcp/0";

    t.note("A store opened with its key file, given a passphrase:");
    record(
        &mut t,
        Some("correct horse"),
        &["ledger", "verify", "--home", &k],
    );
    record(
        &mut t,
        Some("correct horse"),
        &["run", "--home", &k, "--listen", lo, no_mdns],
    );
    t.note("A store opened with a passphrase, given none, then a wrong one:");
    record(&mut t, None, &["ledger", "verify", "--home", &s]);
    record(
        &mut t,
        None,
        &["run", "--home", &s, "--listen", lo, no_mdns],
    );
    record(
        &mut t,
        Some("wrong horse"),
        &["ledger", "show", "--home", &s],
    );
    record(
        &mut t,
        Some("wrong horse"),
        &["run", "--home", &s, "--listen", lo, no_mdns],
    );
    record(
        &mut t,
        Some("correct horse"),
        &["ledger", "verify", "--home", &s],
    );

    let key = keyed.join("keys").join("store.key");
    let good_key = fs::read(&key).unwrap();
    t.note("The key file readable by others:");
    chmod(&key, 0o644);
    record(&mut t, None, &["ledger", "verify", "--home", &k]);
    record(
        &mut t,
        None,
        &["run", "--home", &k, "--listen", lo, no_mdns],
    );
    chmod(&key, 0o600);
    t.note("Another key file, then a truncated one, then none:");
    fs::write(&key, [0x5a; 32]).unwrap();
    record(&mut t, None, &["ledger", "verify", "--home", &k]);
    fs::write(&key, [0x5a; 7]).unwrap();
    record(&mut t, None, &["ledger", "verify", "--home", &k]);
    fs::remove_file(&key).unwrap();
    record(&mut t, None, &["ledger", "verify", "--home", &k]);
    record(
        &mut t,
        None,
        &["run", "--home", &k, "--listen", lo, no_mdns],
    );
    fs::write(&key, &good_key).unwrap();
    chmod(&key, 0o600);

    t.note("The store held by another process that is not the daemon:");
    {
        let _held = Store::open(&keyed, StoreKeySource::KeyFile).unwrap();
        record(&mut t, None, &["ledger", "verify", "--home", &k]);
        record(
            &mut t,
            None,
            &["run", "--home", &k, "--listen", lo, no_mdns],
        );
    }

    t.note("A damaged store:");
    let db = keyed.join("store").join("db");
    let mut bytes = fs::read(&db).unwrap();
    for b in bytes.iter_mut().skip(64).step_by(61) {
        *b ^= 0xff;
    }
    fs::write(&db, bytes).unwrap();
    record(&mut t, None, &["ledger", "verify", "--home", &k]);
    record(&mut t, None, &["ledger", "show", "--home", &k, "--json"]);

    let mut failures = Vec::new();
    if let Err(e) = t.check("transcripts/store.txt") {
        failures.push(e);
    }
    assert_no_failures(&failures);
    let _ = fs::remove_dir_all(&dir);
}
