//! The helpers find the binaries cargo built for the running build
//! (`confrere_tests::binary`): the profile directory derived from this test
//! executable's path is where cargo put this package's own binaries, whose
//! paths it gives the integration tests in `CARGO_BIN_EXE_<name>`.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::path::Path;

use confrere_tests::binary::ProfileDir;

#[test]
fn the_profile_dir_of_a_test_holds_the_binaries_cargo_built() {
    let exe = std::env::current_exe().unwrap();
    let profile = ProfileDir::of_test_exe(&exe).unwrap();
    for (name, built) in [
        ("kad-probe", env!("CARGO_BIN_EXE_kad-probe")),
        ("netns-probe", env!("CARGO_BIN_EXE_netns-probe")),
    ] {
        assert_eq!(
            profile.bin(name).canonicalize().unwrap(),
            Path::new(built).canonicalize().unwrap(),
            "{profile:?}"
        );
        assert_eq!(
            confrere_tests::workspace_bin("confrere-tests", name)
                .canonicalize()
                .unwrap(),
            Path::new(built).canonicalize().unwrap()
        );
    }
}
