//! A small DER writer (ITU-T X.690 distinguished encoding rules), just enough to build
//! X.509 certificates and CRLs for the test PKI.
//!
//! Every function returns the complete encoding (tag, length, content) of one value, so
//! values compose by concatenation: `sequence([integer_u64(2), null()])`.
//! Only low tag numbers (below 31) are supported, which is all X.509 needs.

use time::{OffsetDateTime, UtcOffset};

/// Universal tag numbers used by the writer (with the constructed bit where it applies).
pub mod tag {
    /// BOOLEAN.
    pub const BOOLEAN: u8 = 0x01;
    /// INTEGER.
    pub const INTEGER: u8 = 0x02;
    /// BIT STRING.
    pub const BIT_STRING: u8 = 0x03;
    /// OCTET STRING.
    pub const OCTET_STRING: u8 = 0x04;
    /// NULL.
    pub const NULL: u8 = 0x05;
    /// OBJECT IDENTIFIER.
    pub const OID: u8 = 0x06;
    /// UTF8String.
    pub const UTF8_STRING: u8 = 0x0c;
    /// PrintableString.
    pub const PRINTABLE_STRING: u8 = 0x13;
    /// UTCTime.
    pub const UTC_TIME: u8 = 0x17;
    /// GeneralizedTime.
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// SEQUENCE / SEQUENCE OF (constructed).
    pub const SEQUENCE: u8 = 0x30;
    /// SET / SET OF (constructed).
    pub const SET: u8 = 0x31;
}

/// A value that DER cannot encode as asked.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DerError {
    /// The object identifier is not a dotted list of at least two valid arcs.
    #[error("invalid object identifier {0:?}: expected at least two dot-separated arcs, the first 0, 1 or 2 (and the second below 40 when the first is 0 or 1)")]
    InvalidOid(String),
    /// The string has a character outside the PrintableString set.
    #[error("{0:?} cannot be a PrintableString: use only letters, digits, space and ' ( ) + , - . / : = ?")]
    NotPrintable(String),
    /// The time is outside what X.509 can represent (years 0000 to 9999).
    #[error("year {0} cannot be encoded in an X.509 time: use a year between 0 and 9999")]
    YearOutOfRange(i32),
    /// A context-specific tag number of 31 or more was asked for.
    #[error("context tag number {0} is too large for this writer: use a number below 31")]
    TagTooLarge(u8),
    /// A BIT STRING was given more than 7 unused bits, or unused bits with no content.
    #[error("a BIT STRING cannot have {0} unused bits here: use 0 to 7, and 0 when it is empty")]
    BadUnusedBits(u8),
}

/// Encodes a length in DER form (short form below 128, minimal long form otherwise).
fn push_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        // Fits in seven bits by the test above.
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let significant = &bytes[skip..];
    // At most size_of::<usize>() bytes, far below 127.
    out.push(0x80 | significant.len() as u8);
    out.extend_from_slice(significant);
}

/// Encodes one value with the given identifier octet and content.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    push_length(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// Concatenates encoded values (the content of a SEQUENCE or SET).
fn concat<I, B>(items: I) -> Vec<u8>
where
    I: IntoIterator<Item = B>,
    B: AsRef<[u8]>,
{
    let mut content = Vec::new();
    for item in items {
        content.extend_from_slice(item.as_ref());
    }
    content
}

/// INTEGER holding a non-negative `u64`.
pub fn integer_u64(value: u64) -> Vec<u8> {
    integer_unsigned(&value.to_be_bytes())
}

/// INTEGER holding the non-negative number whose big-endian magnitude is `magnitude`.
///
/// Leading zero octets are dropped and one `0x00` is prepended when the top bit is set,
/// so the value stays positive and the encoding minimal. An empty slice encodes zero.
pub fn integer_unsigned(magnitude: &[u8]) -> Vec<u8> {
    let skip = magnitude.iter().take_while(|b| **b == 0).count();
    let digits = &magnitude[skip..];
    let mut content = Vec::with_capacity(digits.len() + 1);
    match digits.first() {
        None => content.push(0),
        Some(first) if first & 0x80 != 0 => content.push(0),
        Some(_) => {}
    }
    content.extend_from_slice(digits);
    tlv(tag::INTEGER, &content)
}

/// OBJECT IDENTIFIER from its arcs, e.g. `&[2, 5, 4, 3]`.
pub fn oid_arcs(arcs: &[u64]) -> Result<Vec<u8>, DerError> {
    let invalid = || DerError::InvalidOid(dotted(arcs));
    let (first, second, rest) = match arcs {
        [first, second, rest @ ..] => (*first, *second, rest),
        _ => return Err(invalid()),
    };
    if first > 2 || (first < 2 && second >= 40) {
        return Err(invalid());
    }
    let head = second.checked_add(first * 40).ok_or_else(invalid)?;
    let mut content = Vec::new();
    for arc in std::iter::once(head).chain(rest.iter().copied()) {
        push_base128(&mut content, arc);
    }
    Ok(tlv(tag::OID, &content))
}

/// OBJECT IDENTIFIER from its dotted form, e.g. `"1.2.250.1.71.1.2.7"`.
pub fn oid(dotted_form: &str) -> Result<Vec<u8>, DerError> {
    let arcs = dotted_form
        .split('.')
        .map(|arc| {
            if arc.is_empty() || !arc.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            arc.parse::<u64>().ok()
        })
        .collect::<Option<Vec<u64>>>()
        .ok_or_else(|| DerError::InvalidOid(dotted_form.to_owned()))?;
    oid_arcs(&arcs)
}

fn dotted(arcs: &[u64]) -> String {
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// Appends `value` in base 128, most significant group first, high bit set on all but last.
fn push_base128(out: &mut Vec<u8>, value: u64) {
    let mut groups = [0u8; 10];
    let mut count = 0;
    let mut rest = value;
    loop {
        groups[count] = (rest & 0x7f) as u8;
        count += 1;
        rest >>= 7;
        if rest == 0 {
            break;
        }
    }
    for i in (0..count).rev() {
        let continuation = if i == 0 { 0 } else { 0x80 };
        out.push(groups[i] | continuation);
    }
}

/// UTF8String.
pub fn utf8_string(value: &str) -> Vec<u8> {
    tlv(tag::UTF8_STRING, value.as_bytes())
}

/// Whether `c` belongs to the PrintableString character set.
fn is_printable_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " '()+,-./:=?".contains(c)
}

/// PrintableString; fails on characters outside its restricted set.
pub fn printable_string(value: &str) -> Result<Vec<u8>, DerError> {
    if !value.chars().all(is_printable_char) {
        return Err(DerError::NotPrintable(value.to_owned()));
    }
    Ok(tlv(tag::PRINTABLE_STRING, value.as_bytes()))
}

/// BIT STRING with `unused_bits` (0 to 7) padding bits at the end of the last octet.
pub fn bit_string(bytes: &[u8], unused_bits: u8) -> Result<Vec<u8>, DerError> {
    if unused_bits > 7 || (bytes.is_empty() && unused_bits != 0) {
        return Err(DerError::BadUnusedBits(unused_bits));
    }
    let mut content = Vec::with_capacity(bytes.len() + 1);
    content.push(unused_bits);
    content.extend_from_slice(bytes);
    Ok(tlv(tag::BIT_STRING, &content))
}

/// BIT STRING for a named bit list such as KeyUsage: bit `n` is the n-th bit from the
/// most significant bit of the first octet. Trailing zero bits are removed, as DER
/// requires for named bit lists (X.690 §11.2.2).
pub fn named_bits(set_bits: &[u8]) -> Vec<u8> {
    let Some(highest) = set_bits.iter().copied().max() else {
        return tlv(tag::BIT_STRING, &[0]);
    };
    let mut bytes = vec![0u8; usize::from(highest / 8) + 1];
    for bit in set_bits {
        bytes[usize::from(bit / 8)] |= 0x80 >> (bit % 8);
    }
    // The last octet holds `highest`, the lowest-order set bit; everything after it is unused.
    let unused = 7 - highest % 8;
    let mut content = Vec::with_capacity(bytes.len() + 1);
    content.push(unused);
    content.extend_from_slice(&bytes);
    tlv(tag::BIT_STRING, &content)
}

/// OCTET STRING.
pub fn octet_string(bytes: &[u8]) -> Vec<u8> {
    tlv(tag::OCTET_STRING, bytes)
}

/// BOOLEAN (DER: TRUE is `0xFF`).
pub fn boolean(value: bool) -> Vec<u8> {
    tlv(tag::BOOLEAN, &[if value { 0xff } else { 0x00 }])
}

/// NULL.
pub fn null() -> Vec<u8> {
    tlv(tag::NULL, &[])
}

/// UTCTime `YYMMDDHHMMSSZ` (seconds precision, UTC). Fractions of a second are dropped.
///
/// Only meaningful for years 1950 to 2049; prefer [`x509_time`], which picks the type.
pub fn utc_time(at: OffsetDateTime) -> Vec<u8> {
    let at = at.to_offset(UtcOffset::UTC);
    let text = format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}Z",
        at.year().rem_euclid(100),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    tlv(tag::UTC_TIME, text.as_bytes())
}

/// GeneralizedTime `YYYYMMDDHHMMSSZ` (seconds precision, UTC, no fraction, as RFC 5280 asks).
pub fn generalized_time(at: OffsetDateTime) -> Result<Vec<u8>, DerError> {
    let at = at.to_offset(UtcOffset::UTC);
    if !(0..=9999).contains(&at.year()) {
        return Err(DerError::YearOutOfRange(at.year()));
    }
    let text = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    Ok(tlv(tag::GENERALIZED_TIME, text.as_bytes()))
}

/// X.509 `Time`: UTCTime for years 1950 through 2049, GeneralizedTime otherwise
/// (RFC 5280 §4.1.2.5).
pub fn x509_time(at: OffsetDateTime) -> Result<Vec<u8>, DerError> {
    let year = at.to_offset(UtcOffset::UTC).year();
    if (1950..=2049).contains(&year) {
        Ok(utc_time(at))
    } else {
        generalized_time(at)
    }
}

/// SEQUENCE of already encoded values, in the given order.
pub fn sequence<I, B>(items: I) -> Vec<u8>
where
    I: IntoIterator<Item = B>,
    B: AsRef<[u8]>,
{
    tlv(tag::SEQUENCE, &concat(items))
}

/// SET OF already encoded values. DER orders the elements by their encodings
/// (X.690 §11.6), so they are sorted here whatever order they come in.
pub fn set_of<I, B>(items: I) -> Vec<u8>
where
    I: IntoIterator<Item = B>,
    B: AsRef<[u8]>,
{
    let mut encoded: Vec<Vec<u8>> = items.into_iter().map(|b| b.as_ref().to_vec()).collect();
    encoded.sort();
    tlv(tag::SET, &concat(encoded))
}

fn context_tag(number: u8, constructed: bool) -> Result<u8, DerError> {
    if number >= 31 {
        return Err(DerError::TagTooLarge(number));
    }
    Ok(0x80 | if constructed { 0x20 } else { 0 } | number)
}

/// `[number] EXPLICIT`: a constructed context-specific wrapper around one encoded value.
pub fn explicit(number: u8, inner: &[u8]) -> Result<Vec<u8>, DerError> {
    Ok(tlv(context_tag(number, true)?, inner))
}

/// `[number] IMPLICIT` for a primitive type: `content` is the content octets of the value
/// whose universal tag is replaced (e.g. the key identifier bytes of an OCTET STRING).
pub fn implicit_primitive(number: u8, content: &[u8]) -> Result<Vec<u8>, DerError> {
    Ok(tlv(context_tag(number, false)?, content))
}

/// `[number] IMPLICIT` for a constructed type (SEQUENCE, SET): `content` is the
/// concatenated encodings of its elements.
pub fn implicit_constructed(number: u8, content: &[u8]) -> Result<Vec<u8>, DerError> {
    Ok(tlv(context_tag(number, true)?, content))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn lengths_short_and_long_form() {
        assert_eq!(tlv(0x04, &[]), [0x04, 0x00]);
        assert_eq!(tlv(0x04, &[0; 127])[..2], [0x04, 0x7f]);
        assert_eq!(tlv(0x04, &[0; 128])[..3], [0x04, 0x81, 0x80]);
        assert_eq!(tlv(0x04, &[0; 256])[..4], [0x04, 0x82, 0x01, 0x00]);
        assert_eq!(tlv(0x04, &[0; 65_536])[..5], [0x04, 0x83, 0x01, 0x00, 0x00]);
    }

    #[test]
    fn integers_are_minimal_and_positive() {
        assert_eq!(integer_u64(0), [0x02, 0x01, 0x00]);
        assert_eq!(integer_u64(2), [0x02, 0x01, 0x02]);
        assert_eq!(integer_u64(50), [0x02, 0x01, 0x32]);
        assert_eq!(integer_u64(127), [0x02, 0x01, 0x7f]);
        assert_eq!(integer_u64(128), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(integer_u64(256), [0x02, 0x02, 0x01, 0x00]);
        assert_eq!(integer_u64(65_537), [0x02, 0x03, 0x01, 0x00, 0x01]);
        assert_eq!(
            integer_u64(u64::MAX),
            [0x02, 0x09, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(integer_unsigned(&[]), [0x02, 0x01, 0x00]);
        assert_eq!(integer_unsigned(&[0, 0, 0]), [0x02, 0x01, 0x00]);
        assert_eq!(
            integer_unsigned(&[0, 0, 0x7f, 0x01]),
            [0x02, 0x02, 0x7f, 0x01]
        );
        assert_eq!(
            integer_unsigned(&[0x80, 0x01]),
            [0x02, 0x03, 0x00, 0x80, 0x01]
        );
        assert_eq!(integer_unsigned(&[0x00, 0x80]), [0x02, 0x02, 0x00, 0x80]);
    }

    #[test]
    fn object_identifiers() {
        // sha256WithRSAEncryption, as found in every certificate of testdata/ans-test-certs.
        assert_eq!(
            oid("1.2.840.113549.1.1.11"),
            Ok(vec![
                0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b
            ])
        );
        assert_eq!(oid("2.5.4.3"), Ok(vec![0x06, 0x03, 0x55, 0x04, 0x03]));
        // The IGC-Santé profession code extension.
        assert_eq!(
            oid("1.2.250.1.71.1.2.7"),
            Ok(vec![
                0x06, 0x08, 0x2a, 0x81, 0x7a, 0x01, 0x47, 0x01, 0x02, 0x07
            ])
        );
        assert_eq!(oid_arcs(&[2, 5, 29, 32, 0]), oid("2.5.29.32.0"));
        assert_eq!(oid_arcs(&[2, 999]), Ok(vec![0x06, 0x02, 0x88, 0x37]));
        for bad in ["", "1", "3.1", "1.40", "1..2", "1.2.x", "1.2.-3", "1.2.+3"] {
            assert!(oid(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn strings() {
        assert_eq!(printable_string("FR"), Ok(vec![0x13, 0x02, b'F', b'R']));
        assert!(printable_string("Sage_Femme").is_err());
        assert!(printable_string("Médecin").is_err());
        assert_eq!(utf8_string("é"), [0x0c, 0x02, 0xc3, 0xa9]);
        assert_eq!(octet_string(&[1, 2]), [0x04, 0x02, 0x01, 0x02]);
    }

    #[test]
    fn bit_strings() {
        assert_eq!(bit_string(&[0xab], 0), Ok(vec![0x03, 0x02, 0x00, 0xab]));
        assert_eq!(bit_string(&[], 0), Ok(vec![0x03, 0x01, 0x00]));
        assert!(bit_string(&[], 1).is_err());
        assert!(bit_string(&[0], 8).is_err());
        // KeyUsage as in the ANS TEST certificates.
        assert_eq!(named_bits(&[0]), [0x03, 0x02, 0x07, 0x80]); // digitalSignature
        assert_eq!(named_bits(&[1]), [0x03, 0x02, 0x06, 0x40]); // nonRepudiation
        assert_eq!(named_bits(&[5, 6]), [0x03, 0x02, 0x01, 0x06]); // keyCertSign, cRLSign
        assert_eq!(named_bits(&[0, 8]), [0x03, 0x03, 0x07, 0x80, 0x80]); // decipherOnly
        assert_eq!(named_bits(&[]), [0x03, 0x01, 0x00]);
    }

    #[test]
    fn booleans_and_null() {
        assert_eq!(boolean(true), [0x01, 0x01, 0xff]);
        assert_eq!(boolean(false), [0x01, 0x01, 0x00]);
        assert_eq!(null(), [0x05, 0x00]);
    }

    #[test]
    fn times_follow_rfc5280() {
        let t = datetime!(2019-06-14 13:43:43.999 UTC);
        assert_eq!(x509_time(t), Ok(b"\x17\x0d190614134343Z".to_vec()));
        let paris = datetime!(2019-06-14 15:43:43 +2);
        assert_eq!(x509_time(paris), Ok(b"\x17\x0d190614134343Z".to_vec()));
        assert_eq!(
            x509_time(datetime!(1950-01-01 0:00 UTC)),
            Ok(b"\x17\x0d500101000000Z".to_vec())
        );
        assert_eq!(
            x509_time(datetime!(2049-12-31 23:59:59 UTC)),
            Ok(b"\x17\x0d491231235959Z".to_vec())
        );
        assert_eq!(
            x509_time(datetime!(2050-01-01 0:00 UTC)),
            Ok(b"\x18\x0f20500101000000Z".to_vec())
        );
        assert_eq!(
            x509_time(datetime!(1949-12-31 23:59:59 UTC)),
            Ok(b"\x18\x0f19491231235959Z".to_vec())
        );
    }

    #[test]
    fn sequences_sets_and_tags() {
        assert_eq!(
            sequence([integer_u64(1), null()]),
            [0x30, 0x05, 0x02, 0x01, 0x01, 0x05, 0x00]
        );
        assert_eq!(sequence(Vec::<Vec<u8>>::new()), [0x30, 0x00]);
        // Elements come out sorted by their encodings whatever the input order.
        assert_eq!(
            set_of([integer_u64(300), integer_u64(5), boolean(true)]),
            [0x31, 0x0a, 0x01, 0x01, 0xff, 0x02, 0x01, 0x05, 0x02, 0x02, 0x01, 0x2c]
        );
        assert_eq!(
            explicit(0, &integer_u64(2)),
            Ok(vec![0xa0, 0x03, 0x02, 0x01, 0x02])
        );
        assert_eq!(
            implicit_primitive(0, &[0xaa, 0xbb]),
            Ok(vec![0x80, 0x02, 0xaa, 0xbb])
        );
        assert_eq!(
            implicit_constructed(1, &null()),
            Ok(vec![0xa1, 0x02, 0x05, 0x00])
        );
        assert!(explicit(31, &[]).is_err());
    }
}
