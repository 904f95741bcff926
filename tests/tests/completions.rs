//! `confrere completions SHELL` and `confrere man`: generated from the clap
//! definitions, printed or written where asked.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::fs;

use confrere_tests::confrere;

#[test]
fn bash_completions_name_the_commands() {
    let out = confrere(["completions", "bash"]);
    out.code(0)
        .stdout_has("confrere")
        .stdout_has("inbox")
        .stdout_has("send")
        .stdout_has("consent")
        .stdout_has("--patient-ins");
    assert!(out.stderr.is_empty(), "nothing on stderr\n{out}");
}

#[test]
fn zsh_and_fish_completions_work() {
    confrere(["completions", "zsh"])
        .code(0)
        .stdout_has("#compdef confrere")
        .stdout_has("inbox");
    confrere(["completions", "fish"])
        .code(0)
        .stdout_has("complete -c confrere");
}

#[test]
fn unknown_shell_is_a_usage_error() {
    confrere(["completions", "tcsh"])
        .code(2)
        .stderr_has("invalid value 'tcsh'")
        .stderr_has("bash");
}

#[test]
fn completions_help_has_an_example() {
    confrere(["completions", "--help"])
        .code(0)
        .stdout_has("Example")
        .stdout_has("confrere completions bash");
    confrere(["man", "--help"])
        .code(0)
        .stdout_has("Example")
        .stdout_has("confrere man --out");
}

#[test]
fn man_prints_the_top_level_page() {
    let out = confrere(["man"]);
    out.code(0);
    // roff: a preamble of `.ie`/`.el` string definitions, then the title.
    assert!(
        out.stdout.starts_with(".ie") || out.stdout.starts_with(".TH"),
        "roff on stdout\n{out}"
    );
    out.stdout_has(".TH confrere 1")
        .stdout_has(".SH NAME")
        .stdout_has("confrere\\-send(1)")
        // The exit codes of `--help` are in the page too.
        .stdout_has("daemon unreachable");
}

#[test]
fn man_out_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man1");
    let out = confrere(["man", "--out", out_dir.to_str().unwrap()]);
    out.code(0).stdout_has("confrere-send.1");
    let names: Vec<String> = fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for page in [
        "confrere.1",
        "confrere-send.1",
        "confrere-inbox.1",
        "confrere-inbox-open.1",
        "confrere-consent-grant.1",
        "confrere-completions.1",
    ] {
        assert!(names.iter().any(|n| n == page), "{page} in {names:?}");
    }
    assert!(
        names.iter().all(|n| n.ends_with(".1")),
        "only section-1 pages: {names:?}"
    );
    assert!(
        !names.iter().any(|n| n == "confrere-help.1"),
        "no page for the help subcommand: {names:?}"
    );
    let send = fs::read_to_string(out_dir.join("confrere-send.1")).unwrap();
    assert!(send.contains(".TH confrere-send 1"), "{send}");
    assert!(send.contains("\\-\\-patient\\-ins"), "{send}");
    assert!(
        send.contains("Example"),
        "the example is in the page\n{send}"
    );
}

#[test]
fn man_out_into_an_unwritable_place_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    fs::write(&file, "not a directory").unwrap();
    let target = file.join("man1");
    confrere(["man", "--out", target.to_str().unwrap()])
        .code(2)
        .stderr_has("cannot create")
        .stderr_has("hint:");
}
