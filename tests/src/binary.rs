//! Where the binaries under test are, and building them.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::fixtures::workspace_root;

/// Path of the `confrere` binary under test.
///
/// `CARGO_BIN_EXE_confrere`, when set in the environment, names it.
/// Otherwise it is `confrere` in the profile directory of this test
/// executable (test executables live in `target/<profile>/deps/`), and it is
/// brought up to date once per process with `cargo build -p confrere`, so a
/// stale binary is never tested. If cargo cannot be started at all, an
/// existing binary is used as is.
///
/// # Panics
///
/// If the binary cannot be built or found.
pub fn confrere_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(locate_or_build)
}

fn locate_or_build() -> PathBuf {
    workspace_bin("confrere", "confrere")
}

/// Path of the binary `bin` of the workspace package `package`, found and
/// brought up to date as [`confrere_bin`] does for `confrere`:
/// `CARGO_BIN_EXE_<bin>` when set, otherwise `cargo build -p PACKAGE --bin
/// BIN` for the profile of this test executable, then the binary in that
/// profile's directory.
///
/// # Panics
///
/// If the binary cannot be built or found.
pub fn workspace_bin(package: &str, bin: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(format!("CARGO_BIN_EXE_{bin}")) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("the test executable's own path");
    // target/<profile>/deps/<test exe>  →  target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executables live in target/<profile>/deps/")
        .to_path_buf();
    let path = profile_dir.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    build(&profile_dir, package, bin, &path);
    assert!(
        path.is_file(),
        "the {bin} binary is missing at {} (set CARGO_BIN_EXE_{bin} to its path)",
        path.display()
    );
    path
}

/// Runs `cargo build -p PACKAGE --bin BIN` for the profile (and target
/// triple) whose output directory is `profile_dir`.
fn build(profile_dir: &Path, package: &str, bin_name: &str, bin: &Path) {
    let profile_name = profile_dir
        .file_name()
        .and_then(OsStr::to_str)
        .unwrap_or("debug");
    let profile = match profile_name {
        "debug" => "dev",
        other => other,
    };
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .arg("build")
        .arg("--quiet")
        .arg("-p")
        .arg(package)
        .arg("--bin")
        .arg(bin_name)
        .arg("--profile")
        .arg(profile)
        .arg("--manifest-path")
        .arg(workspace_root().join("Cargo.toml"));
    // `cargo test` gives the test process the variables of *this* package
    // (CARGO_PKG_NAME, CARGO_MANIFEST_DIR, ...). Some build scripts (ring's)
    // ask to rerun when those change, so passing them on would make every
    // run rebuild half the workspace, and the next plain `cargo build` again.
    for (key, _) in std::env::vars_os() {
        let Some(k) = key.to_str() else { continue };
        if k.starts_with("CARGO_PKG_")
            || matches!(
                k,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_MANIFEST_LINKS"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "OUT_DIR"
            )
        {
            cargo.env_remove(&key);
        }
    }
    // The target directory holds CACHEDIR.TAG; one level deeper when
    // building for an explicit target triple (target/<triple>/<profile>).
    if let Some(parent) = profile_dir.parent() {
        if parent.join("CACHEDIR.TAG").is_file() {
            cargo.arg("--target-dir").arg(parent);
        } else if let (Some(triple), Some(target_dir)) = (parent.file_name(), parent.parent()) {
            cargo
                .arg("--target")
                .arg(triple)
                .arg("--target-dir")
                .arg(target_dir);
        }
    }
    match cargo.output() {
        Ok(out) => assert!(
            out.status.success(),
            "`cargo build -p {package}` failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => assert!(
            bin.is_file(),
            "cannot run cargo to build {bin_name} ({e}) and {} does not exist",
            bin.display()
        ),
    }
}
