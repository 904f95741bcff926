//! Files the tests make or look into: scratch directories, listings,
//! permissions, content made from a seed, hashes, and byte searches (does a
//! secret or a patient's data appear anywhere in a node's home?).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

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
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
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

/// The SHA-256 of a file, lowercase hex, computed by `sha256sum` (or
/// `openssl dgst`) so that large files are hashed fast and streamed.
///
/// # Panics
///
/// If neither tool can hash the file.
pub fn sha256_file(path: &Path) -> String {
    let tools: [(&str, &[&str]); 2] = [
        ("sha256sum", &["-b"]),
        ("openssl", &["dgst", "-sha256", "-r"]),
    ];
    for (tool, args) in tools {
        let Ok(out) = Command::new(tool).args(args).arg(path).output() else {
            continue;
        };
        if !out.status.success() {
            continue;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let hex = text.split_whitespace().next().unwrap_or_default();
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return hex.to_ascii_lowercase();
        }
    }
    panic!("cannot hash {} (is sha256sum installed?)", path.display())
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
            for (i, (_, needle)) in needles.iter().enumerate() {
                if !seen[i] && find_bytes(&window, needle) {
                    seen[i] = true;
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

/// Whether `needle` occurs in `haystack` (an empty needle never does);
/// faster than [`contains_bytes`] on large inputs.
pub fn find_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return false;
    };
    if haystack.len() < needle.len() {
        return false;
    }
    let last_start = haystack.len() - needle.len();
    let mut from = 0;
    while from <= last_start {
        match haystack[from..=last_start].iter().position(|&b| b == first) {
            Some(i) => {
                let at = from + i;
                if &haystack[at + 1..at + needle.len()] == rest {
                    return true;
                }
                from = at + 1;
            }
            None => return false,
        }
    }
    false
}
