//! Where the binaries under test are: the ones cargo already built for the
//! workspace. The tests never run cargo themselves.
//!
//! A binary `BIN` of package `PACKAGE` is, in this order:
//!
//! 1. the path in the environment variable [`override_var`]`(BIN)`
//!    (`CONFRERE_BIN` for `confrere`), to test another build;
//! 2. the path in `CARGO_BIN_EXE_<BIN>` when cargo set it in the
//!    environment (it does only for a package's own binaries);
//! 3. `BIN` in the profile directory of the running test executable: test
//!    executables live in `target/<profile>/deps/` (or
//!    `target/<triple>/<profile>/deps/` with `--target`), and cargo puts the
//!    binaries of the same build in `target/<profile>/`.
//!
//! `cargo test --workspace` (what scripts/test.sh runs) builds every binary
//! of the workspace before it runs a test. `cargo test -p confrere-tests`
//! builds only this package's own binaries, so `cargo build -p confrere`
//! must have been run first; a binary missing from its place, or older
//! than one of the workspace's source files it was built from (cargo's
//! `BIN.d` next to it lists them), fails the test with the command that
//! builds it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

/// The `confrere` binary under test (package `confrere`, in `cli/`).
///
/// # Panics
///
/// If it is not built, or older than its sources (see [`workspace_bin`]).
pub fn confrere_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_bin("confrere", "confrere"))
}

/// The environment variable that names the binary `bin` to test instead of
/// the one cargo built: its name in capitals, `-` as `_`, then `_BIN`
/// (`CONFRERE_BIN`, `CONFRERE_BENCH_BIN`, `KAD_PROBE_BIN`).
pub fn override_var(bin: &str) -> String {
    format!("{}_BIN", bin.to_ascii_uppercase().replace('-', "_"))
}

/// Path of the binary `bin` of the workspace package `package`, as the
/// module documentation says: the override variable, `CARGO_BIN_EXE_<bin>`,
/// or the binary cargo built in this test executable's profile directory.
///
/// # Panics
///
/// If the override names no file, or the binary is not built, or it is
/// older than a source file of the workspace it was built from. The message
/// says which command builds it.
pub fn workspace_bin(package: &str, bin: &str) -> PathBuf {
    let var = override_var(bin);
    if let Some(p) = std::env::var_os(&var) {
        let path = PathBuf::from(p);
        assert!(
            path.is_file(),
            "{var} names {}, which is not a file: unset it to test the {bin} binary cargo built",
            path.display()
        );
        return path;
    }
    if let Some(p) = std::env::var_os(format!("CARGO_BIN_EXE_{bin}")) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("the test executable's own path");
    let profile = ProfileDir::of_test_exe(&exe).unwrap_or_else(|e| panic!("{e}; set {var}"));
    let path = profile.bin(bin);
    if !path.is_file() {
        panic!("{}", missing_message(&profile, package, bin, &path));
    }
    if let Some(source) = newer_source(&path, &crate::workspace_root(), &profile.target_dir) {
        panic!("{}", stale_message(&profile, package, bin, &path, &source));
    }
    path
}

/// Where cargo put the binaries of the build a test executable belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileDir {
    /// `target/<profile>`, or `target/<triple>/<profile>` with `--target`.
    pub dir: PathBuf,
    /// The target directory (the one holding `CACHEDIR.TAG`).
    pub target_dir: PathBuf,
    /// The profile directory's name: `debug` (for `cargo build` and `cargo
    /// test`), `release`, or a custom profile's name.
    pub profile: String,
    /// The target triple, when built with `--target`.
    pub triple: Option<String>,
}

impl ProfileDir {
    /// The profile directory of the test executable `exe`
    /// (`target/<profile>/deps/<test>-<hash>` or
    /// `target/<triple>/<profile>/deps/<test>-<hash>`). A profile
    /// directory whose parent is not the target directory (no
    /// `CACHEDIR.TAG` there, but one level up) is one of a target triple.
    ///
    /// # Errors
    ///
    /// If `exe` is not in a `deps` directory (the test was not run by
    /// cargo from its target directory).
    pub fn of_test_exe(exe: &Path) -> Result<ProfileDir, String> {
        let not_cargo = || {
            format!(
                "cannot tell which cargo target directory the test executable {} belongs to \
                 (it is not in target/<profile>/deps/)",
                exe.display()
            )
        };
        let deps = exe
            .parent()
            .filter(|d| d.file_name().is_some_and(|n| n == "deps"))
            .ok_or_else(not_cargo)?;
        let dir = deps.parent().ok_or_else(not_cargo)?;
        let profile = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(not_cargo)?;
        let parent = dir.parent().ok_or_else(not_cargo)?;
        let tagged = |d: &Path| d.join("CACHEDIR.TAG").is_file();
        let (target_dir, triple) = match parent.parent() {
            Some(up) if !tagged(parent) && tagged(up) => (
                up.to_path_buf(),
                parent.file_name().map(|n| n.to_string_lossy().into_owned()),
            ),
            _ => (parent.to_path_buf(), None),
        };
        Ok(ProfileDir {
            dir: dir.to_path_buf(),
            target_dir,
            profile,
            triple,
        })
    }

    /// Path of the binary `bin` in this directory.
    pub fn bin(&self, bin: &str) -> PathBuf {
        self.dir
            .join(format!("{bin}{}", std::env::consts::EXE_SUFFIX))
    }

    /// The command that builds the binaries of `package` into this
    /// directory (`cargo build -p confrere`, `cargo build --release
    /// --target x86_64-unknown-linux-gnu -p confrere`, …).
    pub fn build_command(&self, package: &str) -> String {
        let mut cmd = String::from("cargo build");
        match self.profile.as_str() {
            "debug" => {}
            "release" => cmd.push_str(" --release"),
            other => cmd.push_str(&format!(" --profile {other}")),
        }
        if let Some(triple) = &self.triple {
            cmd.push_str(&format!(" --target {triple}"));
        }
        cmd.push_str(&format!(" -p {package}"));
        cmd
    }
}

/// What a test that needs the binary `bin` of `package`, missing at
/// `path`, says: which command builds it, and how to name another one.
pub fn missing_message(profile: &ProfileDir, package: &str, bin: &str, path: &Path) -> String {
    format!(
        "the {bin} binary is not built: there is no {}. The tests run the binaries cargo \
         built for the workspace and never build them. Build it with `{}`, or run the tests \
         with `cargo test --workspace`, which builds every binary of the workspace first \
         (`cargo test -p confrere-tests` builds only this package's own). Or set {} to the \
         binary to test.",
        path.display(),
        profile.build_command(package),
        override_var(bin),
    )
}

/// What a test says when the binary at `path` is older than `source`.
pub fn stale_message(
    profile: &ProfileDir,
    package: &str,
    bin: &str,
    path: &Path,
    source: &Path,
) -> String {
    format!(
        "the {bin} binary {} is older than {}, one of the files it is built from: it would \
         test old code. Rebuild it with `{}` (or run the tests with `cargo test --workspace`, \
         which builds it first), or set {} to the binary to test.",
        path.display(),
        source.display(),
        profile.build_command(package),
        override_var(bin),
    )
}

/// A file of the workspace (below `workspace`, outside `target_dir`) that
/// the binary at `bin` was built from and that changed after it was built,
/// according to the dep-info file cargo writes next to it (`BIN.d`). `None`
/// when there is none, or no dep-info file to tell.
pub fn newer_source(bin: &Path, workspace: &Path, target_dir: &Path) -> Option<PathBuf> {
    let built = std::fs::metadata(bin).and_then(|m| m.modified()).ok()?;
    let dep_info = std::fs::read_to_string(bin.with_extension("d")).ok()?;
    dep_info_sources(&dep_info)
        .into_iter()
        .filter(|p| p.starts_with(workspace) && !p.starts_with(target_dir))
        .find(|p| modified(p).is_some_and(|t| t > built))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The files a make-style dep-info file (`OUTPUT: SOURCE SOURCE …`, a space
/// in a name escaped as `\ `) says its first output depends on.
pub fn dep_info_sources(dep_info: &str) -> Vec<PathBuf> {
    let Some(line) = dep_info.lines().find(|l| !l.trim().is_empty()) else {
        return Vec::new();
    };
    let Some((_, deps)) = line.split_once(": ") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = deps.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                word.push(' ');
                chars.next();
            }
            ' ' => {
                if !word.is_empty() {
                    out.push(PathBuf::from(std::mem::take(&mut word)));
                }
            }
            other => word.push(other),
        }
    }
    if !word.is_empty() {
        out.push(PathBuf::from(word));
    }
    out
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;
    use std::fs;

    /// A target directory (with its `CACHEDIR.TAG`) in a temporary
    /// directory, and the path of a test executable in `rel/deps/`.
    fn layout(rel: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        fs::create_dir_all(target.join(rel).join("deps")).unwrap();
        fs::write(
            target.join("CACHEDIR.TAG"),
            "Signature: 8a477f597d28d172789f06886806bc55",
        )
        .unwrap();
        let exe = target.join(rel).join("deps/nodes-0123456789abcdef");
        (tmp, target, exe)
    }

    #[test]
    fn the_profile_dir_is_above_deps() {
        let (_tmp, target, exe) = layout("debug");
        let p = ProfileDir::of_test_exe(&exe).unwrap();
        assert_eq!(p.dir, target.join("debug"));
        assert_eq!(p.target_dir, target);
        assert_eq!(p.profile, "debug");
        assert_eq!(p.triple, None);
        assert_eq!(
            p.bin("confrere"),
            target
                .join("debug")
                .join(format!("confrere{}", std::env::consts::EXE_SUFFIX))
        );
        assert_eq!(p.build_command("confrere"), "cargo build -p confrere");
    }

    #[test]
    fn a_target_triple_dir_is_recognised() {
        let (_tmp, target, exe) = layout("x86_64-unknown-linux-gnu/release");
        let p = ProfileDir::of_test_exe(&exe).unwrap();
        assert_eq!(p.dir, target.join("x86_64-unknown-linux-gnu/release"));
        assert_eq!(p.target_dir, target);
        assert_eq!(p.profile, "release");
        assert_eq!(p.triple.as_deref(), Some("x86_64-unknown-linux-gnu"));
        assert_eq!(
            p.build_command("confrere"),
            "cargo build --release --target x86_64-unknown-linux-gnu -p confrere"
        );
    }

    #[test]
    fn a_custom_profile_is_built_with_its_name() {
        let (_tmp, _target, exe) = layout("ci");
        let p = ProfileDir::of_test_exe(&exe).unwrap();
        assert_eq!(
            p.build_command("confrere-bench"),
            "cargo build --profile ci -p confrere-bench"
        );
    }

    #[test]
    fn an_executable_outside_deps_is_refused() {
        let err = ProfileDir::of_test_exe(Path::new("/usr/local/bin/nodes")).unwrap_err();
        assert!(err.contains("/usr/local/bin/nodes"), "{err}");
        assert!(err.contains("target/<profile>/deps/"), "{err}");
    }

    #[test]
    fn the_missing_binary_message_says_how_to_build_it() {
        let (_tmp, target, exe) = layout("debug");
        let p = ProfileDir::of_test_exe(&exe).unwrap();
        let path = p.bin("confrere");
        let msg = missing_message(&p, "confrere", "confrere", &path);
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("`cargo build -p confrere`"), "{msg}");
        assert!(msg.contains("`cargo test --workspace`"), "{msg}");
        assert!(msg.contains("CONFRERE_BIN"), "{msg}");
        assert!(!target.join("debug/confrere").exists());
    }

    #[test]
    fn the_override_variable_is_named_after_the_binary() {
        assert_eq!(override_var("confrere"), "CONFRERE_BIN");
        assert_eq!(override_var("confrere-bench"), "CONFRERE_BENCH_BIN");
        assert_eq!(override_var("kad-probe"), "KAD_PROBE_BIN");
    }

    #[test]
    fn dep_info_lists_the_sources_of_the_first_output() {
        let d = "/w/target/debug/confrere: /w/cli/src/main.rs /w/my\\ dir/a.rs /w/node/src/lib.rs\n\n/w/cli/src/main.rs:\n";
        assert_eq!(
            dep_info_sources(d),
            [
                PathBuf::from("/w/cli/src/main.rs"),
                PathBuf::from("/w/my dir/a.rs"),
                PathBuf::from("/w/node/src/lib.rs"),
            ]
        );
        assert!(dep_info_sources("").is_empty());
    }

    #[test]
    fn a_source_newer_than_the_binary_is_found() {
        let (tmp, target, exe) = layout("debug");
        let p = ProfileDir::of_test_exe(&exe).unwrap();
        let bin = p.bin("confrere");
        let src = tmp.path().join("cli/src/main.rs");
        let generated = target.join("debug/build/x/out/gen.rs");
        fs::create_dir_all(src.parent().unwrap()).unwrap();
        fs::create_dir_all(generated.parent().unwrap()).unwrap();
        fs::write(&src, "fn main() {}").unwrap();
        fs::write(&generated, "").unwrap();
        fs::write(&bin, "").unwrap();
        fs::write(
            bin.with_extension("d"),
            format!(
                "{}: {} {}\n",
                bin.display(),
                src.display(),
                generated.display()
            ),
        )
        .unwrap();
        let old = SystemTime::now() - std::time::Duration::from_secs(3600);
        let set = |path: &Path, t: SystemTime| {
            fs::File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_modified(t)
                .unwrap();
        };
        // Built after its sources: up to date.
        set(&src, old);
        set(&generated, old);
        assert_eq!(newer_source(&bin, tmp.path(), &target), None);
        // A generated file in the target directory does not count.
        set(
            &generated,
            SystemTime::now() + std::time::Duration::from_secs(60),
        );
        assert_eq!(newer_source(&bin, tmp.path(), &target), None);
        // A source edited since: stale, and the message says so.
        set(&src, SystemTime::now() + std::time::Duration::from_secs(60));
        assert_eq!(newer_source(&bin, tmp.path(), &target), Some(src.clone()));
        let msg = stale_message(&p, "confrere", "confrere", &bin, &src);
        assert!(msg.contains("`cargo build -p confrere`"), "{msg}");
        assert!(msg.contains("main.rs"), "{msg}");
    }
}
