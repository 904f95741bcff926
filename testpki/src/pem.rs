//! PEM armour (RFC 7468) for certificates, CRLs and PKCS#8 keys.

use base64ct::{Base64, Encoding};
use zeroize::Zeroizing;

/// Label of a certificate.
pub(crate) const CERTIFICATE: &str = "CERTIFICATE";
/// Label of a CRL.
pub(crate) const X509_CRL: &str = "X509 CRL";
/// Label of an unencrypted PKCS#8 private key.
pub(crate) const PRIVATE_KEY: &str = "PRIVATE KEY";

/// Armours `der` under `label`, 64 characters a line, LF line endings. The result is
/// wiped from memory when dropped, since it may hold a private key.
pub(crate) fn encode(label: &str, der: &[u8]) -> Zeroizing<String> {
    let body = Zeroizing::new(Base64::encode_string(der));
    let lines = body.len().div_ceil(64);
    // Allocated once at its final size, so no stray copy of a key is left behind.
    let mut out = Zeroizing::new(String::with_capacity(
        body.len() + lines + 2 * label.len() + 32,
    ));
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    let mut rest: &str = &body;
    while !rest.is_empty() {
        // Base64 is ASCII, so any index is a character boundary.
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// Decodes the first `label` block of `text`; text around it (other blocks, comments) is
/// ignored. Input that does not look like PEM but starts like a DER SEQUENCE is returned
/// as it is.
pub(crate) fn decode_first(text: &[u8], label: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let Some(start) = find(text, begin.as_bytes()) else {
        if text.first() == Some(&0x30) {
            return Ok(Zeroizing::new(text.to_vec()));
        }
        return Err(format!("no {begin} line"));
    };
    let Some(stop) = find(&text[start..], end.as_bytes()) else {
        return Err(format!("no {end} line"));
    };
    let block = &text[start..start + stop + end.len()];
    let (_, der) = pem_rfc7468::decode_vec(block).map_err(|e| format!("bad PEM: {e}"))?;
    Ok(Zeroizing::new(der))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_line_width() {
        let der: Vec<u8> = (0..=255u8).collect();
        let text = encode(CERTIFICATE, &der);
        assert!(text.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(text.ends_with("\n-----END CERTIFICATE-----\n"));
        assert!(text.lines().all(|l| l.len() <= 64));
        let mut with_noise = b"subject=junk\n".to_vec();
        with_noise.extend_from_slice(text.as_bytes());
        with_noise.extend_from_slice(encode(CERTIFICATE, b"second").as_bytes());
        assert_eq!(
            decode_first(&with_noise, CERTIFICATE)
                .expect("test setup")
                .as_slice(),
            der
        );
        assert!(decode_first(text.as_bytes(), X509_CRL).is_err());
        assert_eq!(
            decode_first(&[0x30, 0x00], CERTIFICATE)
                .expect("test setup")
                .as_slice(),
            [0x30, 0x00]
        );
    }

    #[test]
    fn empty_and_exact_lines() {
        assert_eq!(
            encode(X509_CRL, b"").as_str(),
            "-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n"
        );
        let text = encode(PRIVATE_KEY, &[0u8; 48]); // exactly 64 Base64 characters
        assert_eq!(text.lines().count(), 3);
    }
}
