//! The `confrere` binary starts and names its version.
//!
//! Being an integration test of this package, it also makes `cargo test
//! --workspace` build the `confrere` binary before any test runs: the
//! multi-process tests in `tests/` run that build (`confrere_tests::binary`).

use std::process::Command;

#[test]
fn the_binary_prints_its_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_confrere"))
        .arg("--version")
        .env_remove("CONFRERE_HOME")
        .output()
        .expect("the confrere binary runs");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        format!("confrere {}", env!("CARGO_PKG_VERSION")),
        "{out:?}"
    );
}
