//! Safe file names for the documents of a dossier.
//!
//! Flow: the sender's node names each attached file with
//! [`sanitize_document_name`] (and [`unique_name`] within the dossier)
//! before it enters the manifest; the recipient's manifest decoder refuses
//! any name that sanitizing would change, so the recipient can write a
//! document under its manifest name without further checks: the name is a
//! single path component, not hidden, not reserved on Windows, valid on
//! the common filesystems and at most [`MAX_DOCUMENT_NAME_LEN`] bytes.
//!
//! The rules, in order:
//!
//! 1. refuse NUL, control characters and the Unicode direction controls
//!    (which can disguise an extension, `invoice\u{202e}fdp.exe`);
//! 2. keep only what follows the last `/` or `\`;
//! 3. refuse an empty name and names made only of dots and spaces
//!    (`.`, `..`, `. .`);
//! 4. replace `< > : " | ? *` by `_`;
//! 5. strip leading dots and spaces (no hidden files) and trailing dots and
//!    spaces (Windows drops them);
//! 6. prefix `_` to a name reserved on Windows (`CON`, `nul.txt`, `COM1`…);
//! 7. cut to [`MAX_DOCUMENT_NAME_LEN`] bytes on a character boundary,
//!    keeping a short extension.

/// Longest document name, in bytes of UTF-8.
pub const MAX_DOCUMENT_NAME_LEN: usize = 255;

/// Longest extension (after the last dot) kept whole when a name is cut.
const MAX_KEPT_EXTENSION: usize = 16;

/// Most `name (n).ext` candidates [`unique_name`] tries.
const MAX_UNIQUE_ATTEMPTS: u32 = 10_000;

/// Why a name cannot be used. No variant carries the name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name (after its last `/` or `\`) is empty.
    #[error("the document name is empty")]
    Empty,
    /// The name is made only of dots and spaces (`.`, `..`).
    #[error("the document name is only dots and spaces")]
    OnlyDots,
    /// The name holds a NUL byte.
    #[error("the document name holds a NUL character")]
    Nul,
    /// The name holds a control or text-direction character.
    #[error("the document name holds a control character")]
    Control,
    /// Every `name (n).ext` candidate is taken.
    #[error("no free name left for the document")]
    NoFreeName,
}

/// Characters refused on Windows (and by many tools elsewhere).
fn is_invalid_on_filesystems(c: char) -> bool {
    matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*')
}

/// Unicode bidirectional controls: they reorder how a name is displayed.
fn is_direction_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// Device names Windows reserves, with or without an extension.
fn is_reserved_on_windows(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" => true,
        _ => {
            let prefix = upper.get(..3).unwrap_or("");
            let digit = upper.get(3..).unwrap_or("");
            matches!(prefix, "COM" | "LPT")
                && (matches!(digit, "¹" | "²" | "³")
                    || (digit.len() == 1 && digit.bytes().all(|b| b.is_ascii_digit())))
        }
    }
}

/// Makes a received or attached file name safe to write in a folder (see
/// the module documentation for the rules). `../../etc/passwd` becomes
/// `passwd`; `..` is refused.
pub fn sanitize_document_name(raw: &str) -> Result<String, NameError> {
    if raw.contains('\0') {
        return Err(NameError::Nul);
    }
    if raw
        .chars()
        .any(|c| c.is_control() || is_direction_control(c))
    {
        return Err(NameError::Control);
    }
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    if last.is_empty() {
        return Err(NameError::Empty);
    }
    if last.chars().all(|c| c == '.' || c == ' ') {
        return Err(NameError::OnlyDots);
    }
    let replaced: String = last
        .chars()
        .map(|c| if is_invalid_on_filesystems(c) { '_' } else { c })
        .collect();
    let mut name = replaced
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' '])
        .to_owned();
    if is_reserved_on_windows(&name) {
        name.insert(0, '_');
    }
    let name = cut_keeping_extension(&name, MAX_DOCUMENT_NAME_LEN);
    Ok(name.trim_end_matches(['.', ' ']).to_owned())
}

/// The extension of `name` (after its last dot, dot excluded), if there is
/// a stem before it.
fn split_extension(name: &str) -> (&str, Option<&str>) {
    match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], Some(&name[i + 1..])),
        _ => (name, None),
    }
}

/// The longest prefix of `s` of at most `max` bytes ending on a character
/// boundary.
fn prefix_within(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `name` cut to `max` bytes; a short extension survives the cut.
fn cut_keeping_extension(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    match split_extension(name) {
        (stem, Some(ext)) if ext.len() <= MAX_KEPT_EXTENSION && ext.len() + 2 <= max => {
            let stem = prefix_within(stem, max - ext.len() - 1);
            format!("{stem}.{ext}")
        }
        _ => prefix_within(name, max).to_owned(),
    }
}

/// `name` if `existing` says it is free, else the first free of
/// `stem (2).ext`, `stem (3).ext`, … (cut to stay within
/// [`MAX_DOCUMENT_NAME_LEN`] bytes). `name` should be sanitized already.
pub fn unique_name(name: &str, existing: &dyn Fn(&str) -> bool) -> Result<String, NameError> {
    if !existing(name) {
        return Ok(name.to_owned());
    }
    let (stem, ext) = split_extension(name);
    for n in 2..=MAX_UNIQUE_ATTEMPTS {
        let suffix = format!(" ({n})");
        let ext_len = ext.map_or(0, |e| e.len() + 1);
        let room = MAX_DOCUMENT_NAME_LEN.saturating_sub(suffix.len() + ext_len);
        let stem = prefix_within(stem, room);
        let candidate = match ext {
            Some(ext) => format!("{stem}{suffix}.{ext}"),
            None => format!("{stem}{suffix}"),
        };
        if candidate.len() <= MAX_DOCUMENT_NAME_LEN && !existing(&candidate) {
            return Ok(candidate);
        }
    }
    Err(NameError::NoFreeName)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        sanitize_document_name(raw).unwrap()
    }

    #[test]
    fn path_components_are_dropped() {
        assert_eq!(ok("../../etc/passwd"), "passwd");
        assert_eq!(ok("C:\\Users\\dr\\ECG.pdf"), "ECG.pdf");
        assert_eq!(ok("a/b\\c/d.txt"), "d.txt");
        assert_eq!(ok("/abs/name"), "name");
        assert_eq!(ok("ECG 2024-03-01.pdf"), "ECG 2024-03-01.pdf");
        assert_eq!(ok("compte-rendu é.pdf"), "compte-rendu é.pdf");
    }

    #[test]
    fn each_rejection_has_its_variant() {
        assert_eq!(sanitize_document_name(""), Err(NameError::Empty));
        assert_eq!(sanitize_document_name("dir/"), Err(NameError::Empty));
        assert_eq!(sanitize_document_name("dir\\"), Err(NameError::Empty));
        for dots in [".", "..", "...", ". .", "a/..", "  ", "x\\. "] {
            assert_eq!(
                sanitize_document_name(dots),
                Err(NameError::OnlyDots),
                "{dots}"
            );
        }
        assert_eq!(sanitize_document_name("a\0b"), Err(NameError::Nul));
        for ctl in [
            "a\nb",
            "a\tb",
            "\u{7f}",
            "a\u{85}b",
            "invoice\u{202e}fdp.exe",
            "\u{2066}x",
        ] {
            assert_eq!(
                sanitize_document_name(ctl),
                Err(NameError::Control),
                "{ctl:?}"
            );
        }
    }

    #[test]
    fn invalid_characters_are_replaced_and_dots_stripped() {
        assert_eq!(ok("a<b>c:d\"e|f?g*h.pdf"), "a_b_c_d_e_f_g_h.pdf");
        assert_eq!(ok(".bashrc"), "bashrc");
        assert_eq!(ok("...hidden.txt"), "hidden.txt");
        assert_eq!(ok(" . x"), "x");
        assert_eq!(ok("name.pdf. . "), "name.pdf");
        assert_eq!(ok("*"), "_");
        assert_eq!(ok("?."), "_");
    }

    #[test]
    fn windows_device_names_get_a_prefix() {
        for (raw, want) in [
            ("CON", "_CON"),
            ("con.txt", "_con.txt"),
            ("Nul.tar.gz", "_Nul.tar.gz"),
            ("COM1", "_COM1"),
            ("lpt9.log", "_lpt9.log"),
            ("COM¹", "_COM¹"),
            ("AUX .txt", "_AUX .txt"),
            ("conout$", "_conout$"),
        ] {
            assert_eq!(ok(raw), want, "{raw}");
        }
        for free in [
            "CONSOLE",
            "COM10",
            "LPT",
            "icon.png",
            "nul_report.pdf",
            "COMA",
            "aaé",
            "éa",
        ] {
            assert_eq!(ok(free), free);
        }
    }

    #[test]
    fn long_names_are_cut_keeping_the_extension() {
        let long = format!("{}.pdf", "a".repeat(300));
        let cut = ok(&long);
        assert_eq!(cut.len(), MAX_DOCUMENT_NAME_LEN);
        assert!(cut.ends_with("a.pdf"));
        // Multi-byte characters are never split.
        let long = format!("{}.pdf", "é".repeat(200));
        let cut = ok(&long);
        assert!(cut.len() <= MAX_DOCUMENT_NAME_LEN && cut.len() >= MAX_DOCUMENT_NAME_LEN - 1);
        assert!(cut.ends_with("é.pdf"));
        // A very long "extension" is not kept.
        let long = format!("x.{}", "b".repeat(300));
        assert_eq!(ok(&long), format!("x.{}", "b".repeat(253)));
        // A cut that ends on a dot or space drops it.
        let long = format!("{} {}", "c".repeat(254), "d".repeat(10));
        assert_eq!(ok(&long), "c".repeat(254));
        // A reserved name stays prefixed after the cut.
        let long = format!("CON.{}", "e".repeat(300));
        let cut = ok(&long);
        assert!(cut.starts_with("_CON.") && cut.len() == MAX_DOCUMENT_NAME_LEN);
    }

    #[test]
    fn sanitized_names_are_fixed_points() {
        for raw in ["../../etc/passwd", ".x", "CON", "a:b", &"z".repeat(400)] {
            let once = ok(raw);
            assert_eq!(ok(&once), once, "{raw}");
        }
    }

    #[test]
    fn unique_names() {
        let taken = ["report.pdf", "report (2).pdf", "notes", "notes (2)"];
        let existing = |n: &str| taken.contains(&n);
        assert_eq!(unique_name("scan.pdf", &existing).unwrap(), "scan.pdf");
        assert_eq!(
            unique_name("report.pdf", &existing).unwrap(),
            "report (3).pdf"
        );
        assert_eq!(unique_name("notes", &existing).unwrap(), "notes (3)");
        let long = format!("{}.pdf", "a".repeat(251));
        let existing = |n: &str| n == long;
        let u = unique_name(&long, &existing).unwrap();
        assert_eq!(u.len(), MAX_DOCUMENT_NAME_LEN);
        assert!(u.ends_with("a (2).pdf"));
        assert_eq!(unique_name("x", &|_| true), Err(NameError::NoFreeName));
    }
}
