//! The `confrere-bench` binary starts and describes its options.
//!
//! Being an integration test of this package, it also makes `cargo test
//! --workspace` build the `confrere-bench` binary before any test runs:
//! `tests/tests/bench_harness.rs` runs that build
//! (`confrere_tests::binary`).

use std::process::Command;

#[test]
fn the_binary_describes_its_options() {
    let out = Command::new(env!("CARGO_BIN_EXE_confrere-bench"))
        .arg("--help")
        .output()
        .expect("the confrere-bench binary runs");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("--confrere"), "{stdout}");
}
