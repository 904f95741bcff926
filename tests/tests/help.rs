//! `--help` texts: the exit codes at the top level, an example everywhere.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use confrere_tests::confrere;

#[test]
fn top_level_help_lists_the_exit_codes() {
    let out = confrere(["--help"]);
    out.code(0)
        .stdout_has("Exit codes:")
        .stdout_has("0  success")
        .stdout_has("1  refused or invalid")
        .stdout_has("2  usage error or unusable input")
        .stdout_has("3  daemon unreachable")
        .stdout_has("4  not found");
    for cmd in ["cert", "pki", "init"] {
        assert!(out.stdout.contains(cmd), "{cmd} not listed\n{out}");
    }
}

#[test]
fn every_command_help_has_an_example() {
    let commands: [&[&str]; 5] = [
        &["cert", "inspect"],
        &["pki", "init-test"],
        &["pki", "issue-test"],
        &["pki", "revoke-test"],
        &["init"],
    ];
    for words in commands {
        let mut args: Vec<&str> = words.to_vec();
        args.push("--help");
        let out = confrere(&args);
        out.code(0).stdout_has("Example");
        // The example shows the command it documents.
        let shown = format!("confrere {}", words.join(" "));
        out.stdout_has(&shown);
    }
}

#[test]
fn cert_inspect_help_states_its_exit_status() {
    confrere(["cert", "inspect", "--help"])
        .code(0)
        .stdout_has("0 valid, 1 not valid, 2 unusable input");
}

#[test]
fn unknown_command_is_a_usage_error() {
    confrere(["frobnicate"])
        .code(2)
        .stderr_has("unrecognized subcommand");
}
