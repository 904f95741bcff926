//! Files the tests make or look into: scratch directories, listings,
//! permissions, content made from a seed, hashes, and byte searches (does a
//! secret or a patient's data appear anywhere in a node's home?).

use std::fs;
use std::path::{Path, PathBuf};

use memchr::memmem;

/// Names of the entries of a directory, sorted (empty if it does not exist).
pub fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every regular file below `dir`, recursively.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for entry in rd.filter_map(Result::ok) {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => todo.push(path),
                Ok(t) if t.is_file() => out.push(path),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// Permission bits (`mode & 0o777`) of a file or directory.
///
/// # Panics
///
/// If the path cannot be examined.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("cannot stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Whether `needle` occurs in `haystack` (an empty needle never does).
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && memmem::find(haystack, needle).is_some()
}

/// A directory for what the tests of one run share (a TEST PKI, cards),
/// made under `base` (a test binary passes a directory of
/// `CARGO_TARGET_TMPDIR`). Statics are never dropped, so it cannot delete
/// itself; instead, what runs more than an hour old left there is removed.
///
/// # Panics
///
/// If the directory cannot be made.
pub fn scratch_run_dir(base: &Path) -> PathBuf {
    use std::time::{Duration, SystemTime};
    fs::create_dir_all(base).unwrap_or_else(|e| panic!("cannot make {}: {e}", base.display()));
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    if let Ok(rd) = fs::read_dir(base) {
        for entry in rd.filter_map(Result::ok) {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < hour_ago);
            if old {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    for n in 0..1000u32 {
        let dir = base.join(format!("run-{}-{n}", std::process::id()));
        if fs::create_dir(&dir).is_ok() {
            return dir;
        }
    }
    panic!("cannot make a run directory under {}", base.display())
}

/// The SHA-256 of a file, lowercase hex, read in blocks of 1 MiB.
///
/// # Panics
///
/// If the file cannot be read.
pub fn sha256_file(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file =
        fs::File::open(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut hasher = Sha256::new();
    let mut block = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut block)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        if n == 0 {
            break;
        }
        hasher.update(&block[..n]);
    }
    format!("{:x}", hasher.finalize())
}

/// Writes `len` pseudo-random bytes (SplitMix64 from `seed`) to `path`,
/// streamed: the same seed always gives the same bytes.
///
/// # Panics
///
/// If the file cannot be written.
pub fn write_pseudo_random(path: &Path, len: u64, seed: u64) {
    use std::io::Write;
    let file =
        fs::File::create(path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut state = seed;
    let mut block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            word.copy_from_slice(&z.to_le_bytes());
        }
        let n = usize::try_from(left.min(block.len() as u64)).unwrap_or(block.len());
        out.write_all(&block[..n])
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        left -= n as u64;
    }
    out.flush()
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Searches every regular file below `dir` (recursively, as bytes, streamed
/// block by block) for each needle; returns `"FILE: LABEL"` for each find.
///
/// # Panics
///
/// If a file cannot be read.
pub fn find_in_files(dir: &Path, needles: &[(&str, &[u8])]) -> Vec<String> {
    use std::io::Read;
    let longest = needles.iter().map(|(_, n)| n.len()).max().unwrap_or(0);
    // An empty needle is never found.
    let finders: Vec<Option<memmem::Finder<'_>>> = needles
        .iter()
        .map(|(_, n)| (!n.is_empty()).then(|| memmem::Finder::new(n)))
        .collect();
    let mut found = Vec::new();
    for path in files_below(dir) {
        let mut file = match fs::File::open(&path) {
            Ok(f) => f,
            // Sockets, files removed meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("cannot read {}: {e}", path.display()),
        };
        let mut seen = vec![false; needles.len()];
        let mut window: Vec<u8> = Vec::with_capacity((1 << 20) + longest);
        let mut block = vec![0u8; 1 << 20];
        loop {
            let n = file
                .read(&mut block)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            if n == 0 {
                break;
            }
            window.extend_from_slice(&block[..n]);
            for (seen, finder) in seen.iter_mut().zip(&finders) {
                if let Some(finder) = finder {
                    *seen = *seen || finder.find(&window).is_some();
                }
            }
            // Keep the tail: a needle may straddle two blocks.
            let keep = longest.saturating_sub(1).min(window.len());
            window.drain(..window.len() - keep);
        }
        for (i, (label, _)) in needles.iter().enumerate() {
            if seen[i] {
                found.push(format!("{}: {label}", path.display()));
            }
        }
    }
    found
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_contents() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        let abc = dir.path().join("abc");
        fs::write(&empty, b"").unwrap();
        fs::write(&abc, b"abc").unwrap();
        assert_eq!(
            sha256_file(&empty),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_file(&abc),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn contains_bytes_never_finds_an_empty_needle() {
        assert!(contains_bytes(b"a secret here", b"secret"));
        assert!(!contains_bytes(b"a secret here", b"secrets"));
        assert!(!contains_bytes(b"a secret here", b""));
        assert!(!contains_bytes(b"", b"x"));
    }

    #[test]
    fn find_in_files_finds_a_needle_across_two_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = vec![b'.'; (1 << 20) + 100];
        // "NEEDLE" starts 3 bytes before the end of the first 1 MiB block.
        bytes[(1 << 20) - 3..(1 << 20) + 3].copy_from_slice(b"NEEDLE");
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/big"), &bytes).unwrap();
        fs::write(dir.path().join("small"), b"nothing").unwrap();
        let found = find_in_files(
            dir.path(),
            &[
                ("needle", b"NEEDLE"),
                ("absent", b"HAYSTACK"),
                ("empty", b""),
            ],
        );
        let big = dir.path().join("sub/big");
        assert_eq!(found, [format!("{}: needle", big.display())]);
    }
}
