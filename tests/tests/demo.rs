//! `confrere demo`, the README's main command: it plays the three stories
//! with real daemons on loopback, exits 0 and leaves no process behind.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::fs;
use std::time::Duration;

use confrere_tests::{confrere_cmd, run_with_limit};

/// Command lines of running processes that mention `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Ok(cmd) = fs::read(entry.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                found.push(cmd);
            }
        }
    }
    found
}

#[test]
fn the_demo_plays_the_three_stories_and_leaves_no_process_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let mut cmd = confrere_cmd();
    cmd.arg("demo").arg("--dir").arg(&dir);
    let out = run_with_limit(&mut cmd, Duration::from_secs(120));
    out.code(0);
    for needle in [
        "Story 1",
        "Story 2",
        "Story 3",
        "linked to the referral",
        "signed erasure receipt",
        "revoked",
        "intact",
    ] {
        out.stdout_has(needle);
    }
    // The three homes and their logs are kept in --dir.
    for home in ["gp-home", "cardiologist-home", "radiologist-home"] {
        assert!(dir.join(home).join("credential.bin").is_file(), "{home}");
    }
    let left = processes_mentioning(dir.to_str().unwrap());
    assert!(left.is_empty(), "processes left behind: {left:?}");
    // A non-empty --dir is refused.
    let mut again = confrere_cmd();
    again.arg("demo").arg("--dir").arg(&dir);
    run_with_limit(&mut again, Duration::from_secs(30)).code(2);
}
