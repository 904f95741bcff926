//! The local API's Unix socket, `HOME/api.sock` (mode 0600, in the 0700
//! home): the command line talks to its daemon over it, never over TCP.
//!
//! A TCP port in `api.json` proves nothing: after the daemon was killed,
//! any process may bind that port and would receive the bearer token and
//! the request (a whole `send`, with the patient's identity). The socket
//! lives in the home, which only the home's owner can write: whatever
//! listens on it is the owner's. The daemon replaces a stale socket file
//! when it starts (it holds the home's store lock, so no other daemon of
//! the home runs) and removes its own when it stops.
//!
//! A Unix socket path is limited to about 100 bytes; a longer home is
//! reached through `/proc/self/fd/N/api.sock`, `N` an open descriptor of
//! the home directory (Linux).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The socket file, in the home.
pub const SOCKET_FILE: &str = "api.sock";

/// Longest socket path used as it is (`sun_path` holds 108 bytes on Linux,
/// 104 on BSDs, with its terminating NUL).
const MAX_SOCKET_PATH: usize = 100;

/// Calls `f` with a path to `HOME/api.sock` short enough to bind or
/// connect: the path itself, or one through an open descriptor of `home`.
pub fn with_socket_path<R>(home: &Path, f: impl FnOnce(&Path) -> io::Result<R>) -> io::Result<R> {
    let direct = home.join(SOCKET_FILE);
    if direct.as_os_str().len() <= MAX_SOCKET_PATH {
        return f(&direct);
    }
    short_path(home, f)
}

#[cfg(target_os = "linux")]
fn short_path<R>(home: &Path, f: impl FnOnce(&Path) -> io::Result<R>) -> io::Result<R> {
    use std::os::fd::AsRawFd;
    // The descriptor stays open until `f` returns.
    let dir = File::open(home)?;
    let via: PathBuf = format!("/proc/self/fd/{}/{SOCKET_FILE}", dir.as_raw_fd()).into();
    f(&via)
}

#[cfg(not(target_os = "linux"))]
fn short_path<R>(home: &Path, _f: impl FnOnce(&Path) -> io::Result<R>) -> io::Result<R> {
    let _ = File::open(home)?;
    Err(io::Error::other(format!(
        "the path of {} is too long for a Unix socket: move the home to a shorter path",
        home.join(SOCKET_FILE).display()
    )))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    #[test]
    fn a_long_home_is_reached_through_its_descriptor() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("h".repeat(120));
        std::fs::create_dir(&home).unwrap();
        let listener =
            with_socket_path(&home, |p| std::os::unix::net::UnixListener::bind(p)).unwrap();
        assert!(home.join(SOCKET_FILE).exists());
        with_socket_path(&home, |p| std::os::unix::net::UnixStream::connect(p)).unwrap();
        drop(listener);
        let short = tmp.path().join("s");
        std::fs::create_dir(&short).unwrap();
        with_socket_path(&short, |p| {
            assert_eq!(p, short.join(SOCKET_FILE));
            Ok(())
        })
        .unwrap();
    }
}
