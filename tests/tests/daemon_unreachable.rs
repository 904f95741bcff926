//! Commands that need the daemon, when it does not run: exit code 3 and a
//! message that says so, with the command that starts it.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use confrere_tests::{confrere, confrere_cmd, run};

#[test]
fn status_on_a_missing_home_exits_3() {
    confrere(["status", "--home", "/nonexistent"])
        .code(3)
        .stderr_has("the daemon is not running for /nonexistent")
        .stderr_has("hint:");
}

#[test]
fn every_daemon_command_exits_3_when_it_does_not_run() {
    let home = tempfile::tempdir().unwrap();
    let doc = home.path().join("ecg.pdf");
    std::fs::write(&doc, b"%PDF-1.4").unwrap();
    let h = home.path().to_str().unwrap();
    let d = doc.to_str().unwrap();
    let commands: [&[&str]; 10] = [
        &["status", "--home", h],
        &["peers", "list", "--home", h],
        &["peers", "add", "/ip4/127.0.0.1/tcp/4100", "--home", h],
        &[
            "send",
            "--home",
            h,
            "--to",
            "810001000016",
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
            d,
        ],
        &["outbox", "--home", h],
        &["inbox", "--home", h],
        &["inbox", "show", "0123456789abcdef", "--home", h],
        &["inbox", "--home", h, "accept", "0123456789abcdef"],
        &[
            "inbox",
            "decline",
            "0123456789abcdef",
            "--reason",
            "no slot",
            "--home",
            h,
        ],
        &["inbox", "reply", "0123456789abcdef", "--home", h, d],
    ];
    for args in commands {
        confrere(args)
            .code(3)
            .stderr_has("the daemon is not running for")
            .stderr_has(&format!("confrere run --home {h}"));
    }
}

#[test]
fn the_home_comes_from_confrere_home_too() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = confrere_cmd();
    cmd.env("CONFRERE_HOME", home.path())
        .args(["outbox", "--json"]);
    let out = run(&mut cmd);
    out.code(3).stderr_has("the daemon is not running for");
    // With --json, the error is also one JSON object on stdout.
    assert_eq!(out.json()["exit_code"], 3, "{out}");
}

#[test]
fn unreadable_documents_are_named_before_the_daemon_is_asked() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let missing = home.path().join("missing.pdf");
    let m = missing.to_str().unwrap();
    confrere([
        "send",
        "--home",
        h,
        "--to",
        "810001000016",
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
        m,
    ])
    .code(2)
    .stderr_has(&format!("cannot read {m}"))
    .stderr_has("hint:");
}

#[test]
fn daemon_commands_have_help_with_an_example() {
    let commands: [&[&str]; 10] = [
        &["status"],
        &["peers", "add"],
        &["peers", "list"],
        &["send"],
        &["outbox"],
        &["inbox"],
        &["inbox", "show"],
        &["inbox", "open"],
        &["inbox", "decline"],
        &["inbox", "reply"],
    ];
    for words in commands {
        let mut args: Vec<&str> = words.to_vec();
        args.push("--help");
        let out = confrere(&args);
        out.code(0)
            .stdout_has("Example")
            .stdout_has(&format!("confrere {}", words.join(" ")))
            .stdout_has("CONFRERE_HOME");
    }
}
