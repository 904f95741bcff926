//! The openssl command line, shared by the test files that check what the
//! TEST PKI makes against it.

use std::path::Path;
use std::process::Command;

/// Whether `openssl` can be run; says so on stderr when it cannot.
pub(crate) fn have_openssl() -> bool {
    let found = Command::new("openssl").arg("version").output().is_ok();
    if !found {
        eprintln!("NOTICE: openssl is not on PATH; OpenSSL checks skipped");
    }
    found
}

/// Runs openssl in `dir`; returns whether it succeeded and its stdout + stderr.
pub(crate) fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
