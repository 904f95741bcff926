//! The benchmark harness (`confrere-bench`, `bench/`) runs: on tiny sizes
//! (`--quick`), it sets up its nodes on loopback, measures every figure
//! and prints every row of its table; it leaves no process behind, also
//! when interrupted. No timing is asserted: benchmarks are not tests.
//!
//! scp may be "not measured" (no sshd, and `--no-install`); every other
//! figure must be measured.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use confrere_tests::{confrere_bin, run_with_limit, workspace_bin};

/// Bound on one run of the harness (it takes seconds; the machine may be slow).
const LIMIT: Duration = Duration::from_secs(240);

/// The rows every table has (the start of each figure's name).
const ROWS: [&str; 14] = [
    "bulk throughput",
    "crypto ceiling",
    "memory, sender, 4.0 MiB send",
    "memory, receiver, 4.0 MiB send",
    "memory, sender, 8.0 MiB send",
    "memory, receiver, 8.0 MiB send",
    "session set-up",
    "small referral",
    "ledger durable appends",
    "ledger verify",
    "revocation fan-out",
    "directory lookup, every node running",
    "directory lookup after a quarter of the nodes stopped",
    "memory per directory node",
];

fn bench(dir: &Path) -> Command {
    let mut cmd = Command::new(workspace_bin("confrere-bench", "confrere-bench"));
    cmd.arg("--confrere")
        .arg(confrere_bin())
        .arg("--dir")
        .arg(dir)
        .arg("--no-install")
        .env_remove("CONFRERE_HOME");
    cmd
}

/// Processes whose command line mentions `dir`, but `except`.
fn processes_under(dir: &Path, except: Option<u32>) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit())
            || Some(name.as_str()) == except.map(|p| p.to_string()).as_deref()
        {
            continue;
        }
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(&needle) {
            found.push(format!("{name}: {text}"));
        }
    }
    found
}

fn logs(dir: &Path) -> String {
    let mut out = String::new();
    for f in confrere_tests::files_below(&dir.join("logs")) {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        out.push_str(&format!("--- {} ---\n", f.display()));
        out.push_str(&lines[lines.len().saturating_sub(20)..].join("\n"));
        out.push('\n');
    }
    out
}

#[test]
fn quick_run_prints_every_row() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir: PathBuf = tmp.path().join("bench");
    let out = run_with_limit(bench(&dir).arg("--quick"), LIMIT);
    assert_eq!(out.code, Some(0), "{out}\n{}", logs(&dir));
    let table: Vec<&str> = out.stdout.lines().collect();
    for row in ROWS {
        let line = table
            .iter()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("no row {row:?}\n{out}"));
        assert!(!line.contains("FAILED"), "{line}\n{out}\n{}", logs(&dir));
        if row != "bulk throughput" {
            assert!(!line.contains("not measured"), "{line}\n{out}");
        }
        assert!(
            line.ends_with("met") || line.ends_with("MISSED") || line.ends_with('—'),
            "{line}"
        );
    }
    // Progress went to stderr, stage by stage.
    for stage in [
        "[crypto]",
        "[ledger]",
        "[session]",
        "[referral]",
        "[fan-out]",
        "[bulk]",
        "[memory]",
        "[directory]",
    ] {
        assert!(out.stderr.contains(stage), "no {stage} on stderr\n{out}");
    }
    assert_eq!(processes_under(&dir, None), Vec::<String>::new());
    // The large stages removed their homes and dossier files.
    assert!(!dir.join("bulk").exists() && !dir.join("bulk.bin").exists());
    assert!(!dir.join("big").exists() && !dir.join("big.bin").exists());
}

#[test]
fn json_has_every_row_even_when_skipped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("bench");
    let mut cmd = bench(&dir);
    cmd.args([
        "--quick",
        "--json",
        "--skip",
        "crypto,ledger,session,referral,fanout,bulk,big,directory",
    ]);
    let out = run_with_limit(&mut cmd, LIMIT);
    assert_eq!(out.code, Some(0), "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    assert_eq!(doc["run"]["quick"], true);
    let rows = doc["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), ROWS.len(), "{doc:#}");
    for (row, name) in rows.iter().zip(ROWS) {
        assert!(
            row["figure"].as_str().is_some_and(|f| f.starts_with(name)),
            "{row}"
        );
        assert_eq!(row["status"], "not measured", "{row}");
        assert!(row["met"].is_null() && row["value"].is_null(), "{row}");
        assert!(
            row["target"].as_str().is_some_and(|t| !t.is_empty()),
            "{row}"
        );
    }
}

#[test]
fn an_interrupted_run_leaves_no_process_behind() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("bench");
    let mut child = bench(&dir)
        .args(["--quick", "--skip", "crypto,ledger,session,directory"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start confrere-bench");
    // Wait until it runs daemons (the fleet's logs appear).
    let started = Instant::now();
    let mut running = false;
    while started.elapsed() < LIMIT {
        if matches!(child.try_wait(), Ok(Some(_))) {
            break;
        }
        if dir.join("logs/sharer.log").is_file()
            && !processes_under(&dir, Some(child.id())).is_empty()
        {
            running = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(running, "the harness never started its daemons");
    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(killed.success());
    let mut status = None;
    while started.elapsed() < LIMIT {
        if let Ok(Some(s)) = child.try_wait() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the harness did not stop after SIGTERM");
    };
    assert_eq!(status.code(), Some(130), "{status}");
    assert_eq!(processes_under(&dir, None), Vec::<String>::new());
}
