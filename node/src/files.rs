//! File helpers: private key files written 0600, atomic replacement.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::OpenOptionsExt;

/// Writes a file readable by its owner only (mode 0600), failing if it exists.
pub fn write_private_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Writes a world-readable file (certificates, config), failing if it exists.
pub fn write_public_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Creates directory `path` readable by its owner only (mode 0700), with
/// its missing parents when `parents`; an existing directory is left as
/// it is.
pub fn create_private_dir(path: &Path, parents: bool) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(parents);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Fsyncs a directory so that the entries created in it are durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Whether `path` is missing or an empty directory.
pub fn is_absent_or_empty_dir(path: &Path) -> io::Result<bool> {
    match fs::read_dir(path) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e),
    }
}

/// Reads a file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>, ReadError> {
    fs::read(path).map_err(|source| ReadError {
        path: path.display().to_string(),
        source,
    })
}

/// A file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}")]
pub struct ReadError {
    /// The file.
    pub path: String,
    /// Why.
    #[source]
    pub source: io::Error,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn private_files_are_0600_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("k");
        write_private_new(&p, b"secret").expect("write");
        let mode = fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(write_private_new(&p, b"other").is_err());
        assert_eq!(fs::read(&p).expect("read"), b"secret");
    }

    #[test]
    fn empty_dir_detection() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(is_absent_or_empty_dir(dir.path()).expect("empty"));
        assert!(is_absent_or_empty_dir(&dir.path().join("nope")).expect("absent"));
        fs::write(dir.path().join("x"), b"").expect("write");
        assert!(!is_absent_or_empty_dir(dir.path()).expect("not empty"));
    }
}
