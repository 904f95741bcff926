//! A minimal DER reader: just what the test CA needs to take apart a certificate it may
//! have issued (to revoke it) and its own CA certificates (to reload them).
//!
//! It is no general X.509 parser: the `protocol` crate uses `x509-parser` for that.

use super::der::tag;

/// One decoded value: its identifier octet, its content, and its whole encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    /// Identifier octet (low tag numbers only).
    pub tag: u8,
    /// Content octets.
    pub content: &'a [u8],
    /// Identifier, length and content together.
    pub raw: &'a [u8],
}

/// Why a DER input could not be read.
pub(crate) type ParseError = &'static str;

/// Reads one value from the front of `input`; returns it and what follows.
pub(crate) fn read_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), ParseError> {
    let (&tag, rest) = input.split_first().ok_or("unexpected end of data")?;
    if tag & 0x1f == 0x1f {
        return Err("high tag numbers are not supported");
    }
    let (&first, rest) = rest.split_first().ok_or("missing length")?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return Err("indefinite or oversized length");
        }
        if rest.len() < count {
            return Err("truncated length");
        }
        let (len_bytes, rest) = rest.split_at(count);
        if len_bytes[0] == 0 {
            return Err("non-minimal length");
        }
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        if len < 0x80 {
            return Err("non-minimal length");
        }
        (len, rest)
    };
    if rest.len() < len {
        return Err("value longer than the data");
    }
    let header = input.len() - rest.len();
    let (content, after) = rest.split_at(len);
    Ok((
        Tlv {
            tag,
            content,
            raw: &input[..header + len],
        },
        after,
    ))
}

/// Reads one value that must carry `expected_tag`.
fn expect<'a>(
    input: &'a [u8],
    expected_tag: u8,
    what: &'static str,
) -> Result<(Tlv<'a>, &'a [u8]), ParseError> {
    let (tlv, rest) = read_tlv(input)?;
    if tlv.tag != expected_tag {
        return Err(what);
    }
    Ok((tlv, rest))
}

/// The parts of an X.509 certificate the test CA looks at.
#[derive(Debug, Clone)]
pub(crate) struct CertParts<'a> {
    /// The whole TBSCertificate encoding (what the signature covers).
    pub tbs: &'a [u8],
    /// Content octets of the serialNumber INTEGER (two's complement).
    pub serial: &'a [u8],
    /// The whole issuer Name encoding.
    pub issuer: &'a [u8],
    /// The whole subject Name encoding.
    pub subject: &'a [u8],
    /// The whole SubjectPublicKeyInfo encoding.
    pub spki: &'a [u8],
    /// The outer signatureAlgorithm AlgorithmIdentifier encoding.
    pub signature_algorithm: &'a [u8],
    /// The signature bits (BIT STRING content without its unused-bits octet).
    pub signature: &'a [u8],
}

/// Splits a DER certificate into the parts listed in [`CertParts`].
pub(crate) fn certificate(der: &[u8]) -> Result<CertParts<'_>, ParseError> {
    let (cert, trailing) = expect(der, tag::SEQUENCE, "not a certificate (no outer SEQUENCE)")?;
    if !trailing.is_empty() {
        return Err("data after the certificate");
    }
    let (tbs, rest) = expect(cert.content, tag::SEQUENCE, "no TBSCertificate")?;
    let (alg, rest) = expect(rest, tag::SEQUENCE, "no signatureAlgorithm")?;
    let (sig, rest) = expect(rest, tag::BIT_STRING, "no signatureValue")?;
    if !rest.is_empty() {
        return Err("extra fields in the certificate");
    }
    let signature = match sig.content.split_first() {
        Some((0, bits)) => bits,
        _ => return Err("signature BIT STRING has unused bits"),
    };

    let mut fields = tbs.content;
    let (first, _) = read_tlv(fields)?;
    if first.tag == 0xa0 {
        fields = read_tlv(fields)?.1; // [0] EXPLICIT version
    }
    let (serial, fields) = expect(fields, tag::INTEGER, "no serialNumber")?;
    let (_inner_alg, fields) = expect(fields, tag::SEQUENCE, "no TBS signature algorithm")?;
    let (issuer, fields) = expect(fields, tag::SEQUENCE, "no issuer Name")?;
    let (_validity, fields) = expect(fields, tag::SEQUENCE, "no validity")?;
    let (subject, fields) = expect(fields, tag::SEQUENCE, "no subject Name")?;
    let (spki, _) = expect(fields, tag::SEQUENCE, "no SubjectPublicKeyInfo")?;
    if serial.content.is_empty() {
        return Err("empty serialNumber");
    }
    Ok(CertParts {
        tbs: tbs.raw,
        serial: serial.content,
        issuer: issuer.raw,
        subject: subject.raw,
        spki: spki.raw,
        signature_algorithm: alg.raw,
        signature,
    })
}

/// The subjectPublicKey bits of a SubjectPublicKeyInfo (what ring verifies with).
pub(crate) fn spki_public_key(spki: &[u8]) -> Result<&[u8], ParseError> {
    let (outer, _) = expect(spki, tag::SEQUENCE, "not a SubjectPublicKeyInfo")?;
    let (_alg, rest) = expect(outer.content, tag::SEQUENCE, "no key algorithm")?;
    let (bits, _) = expect(rest, tag::BIT_STRING, "no subjectPublicKey")?;
    match bits.content.split_first() {
        Some((0, key)) => Ok(key),
        _ => Err("subjectPublicKey has unused bits"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der;

    #[test]
    fn reads_short_and_long_lengths() {
        let long = der::octet_string(&[7; 300]);
        let (tlv, rest) = read_tlv(&long)
            .map_err(|e| e.to_string())
            .expect("test setup");
        assert_eq!(tlv.tag, 0x04);
        assert_eq!(tlv.content.len(), 300);
        assert_eq!(tlv.raw, &long[..]);
        assert!(rest.is_empty());
    }

    #[test]
    fn rejects_malformed_input() {
        assert!(read_tlv(&[]).is_err());
        assert!(read_tlv(&[0x04]).is_err());
        assert!(read_tlv(&[0x04, 0x02, 0x00]).is_err());
        assert!(read_tlv(&[0x04, 0x80]).is_err());
        assert!(read_tlv(&[0x04, 0x81, 0x05, 0, 0, 0, 0, 0]).is_err());
        assert!(read_tlv(&[0x1f, 0x01, 0x00]).is_err());
        assert!(certificate(&der::sequence([der::null()])).is_err());
    }

    #[test]
    fn reads_a_real_ans_test_certificate() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/testdata/ans-test-certs/sage-femme-elementaire.pem");
        let Ok(pem) = std::fs::read(&path) else {
            eprintln!(
                "NOTICE: {} not found; real-certificate check skipped",
                path.display()
            );
            return;
        };
        let (_, der) = pem_rfc7468::decode_vec(&pem).expect("test setup");
        let parts = certificate(&der).expect("test setup");
        assert_eq!(
            parts.serial,
            [
                0x78, 0x1c, 0x73, 0xfa, 0x2a, 0x67, 0xbb, 0x14, 0x98, 0x4b, 0x92, 0xa7, 0x7d, 0xc6,
                0x97, 0xc1
            ]
        );
        // Signed by a 4096-bit CA key; the subject key is RSA-2048 (RSAPublicKey SEQUENCE).
        assert_eq!(parts.signature.len(), 512);
        assert_eq!(
            spki_public_key(parts.spki).expect("test setup")[..4],
            [0x30, 0x82, 0x01, 0x0a]
        );
    }
}
