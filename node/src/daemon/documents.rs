//! The documents a practitioner sends: each file sized (for the manifest)
//! before it is read, and media types from extensions.
//!
//! Sealing reads each file once, in fixed-size blocks, so memory does not
//! grow with its size; the sealer computes its SHA-256 on the way.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Block size for reading documents.
pub(crate) const READ_BLOCK: usize = 256 * 1024;

/// What is known of one file before it is read.
#[derive(Clone, Debug)]
pub struct ScannedFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its name as given (before sanitising).
    pub file_name: String,
    /// Size in bytes.
    pub size: u64,
    /// Media type guessed from the extension.
    pub media_type: String,
}

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}")]
pub struct DocumentError {
    /// The file.
    pub path: String,
    /// Why.
    #[source]
    pub source: io::Error,
}

fn doc_err(path: &Path, source: io::Error) -> DocumentError {
    DocumentError {
        path: path.display().to_string(),
        source,
    }
}

/// Sizes a regular file, and checks that it can be opened for reading.
pub fn scan(path: &Path) -> Result<ScannedFile, DocumentError> {
    let meta = std::fs::metadata(path).map_err(|e| doc_err(path, e))?;
    if !meta.is_file() {
        return Err(doc_err(
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
        ));
    }
    File::open(path).map_err(|e| doc_err(path, e))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(ScannedFile {
        path: path.to_path_buf(),
        media_type: media_type(&file_name).to_owned(),
        file_name,
        size: meta.len(),
    })
}

/// A media type from a file name's extension; `application/octet-stream`
/// when unknown.
pub fn media_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "xml" => "application/xml",
        "json" => "application/json",
        "html" | "htm" => "text/html",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "tif" | "tiff" => "image/tiff",
        "dcm" => "application/dicom",
        "zip" => "application/zip",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "odt" => "application/vnd.oasis.opendocument.text",
        "hl7" => "application/hl7-v2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_size_and_media_type() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("ecg.pdf");
        std::fs::write(&p, b"abc").expect("write");
        let s = scan(&p).expect("scan");
        assert_eq!(s.size, 3);
        assert_eq!(s.media_type, "application/pdf");
        assert_eq!(s.file_name, "ecg.pdf");
    }

    #[test]
    fn refuses_directories_and_missing_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(scan(dir.path()).is_err());
        let err = scan(&dir.path().join("nope.pdf")).expect_err("missing");
        assert!(err.to_string().contains("nope.pdf"));
    }

    #[test]
    fn media_types() {
        assert_eq!(media_type("X.PDF"), "application/pdf");
        assert_eq!(media_type("noext"), "application/octet-stream");
    }
}
