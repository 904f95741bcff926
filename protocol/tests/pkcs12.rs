//! `open_pkcs12` on `.p12` files built here from the OpenSSL-made fixtures
//! of `tests/fixtures/openssl/`: the card's key and certificate are found,
//! and each rejection (several keys, no key, a key of another certificate,
//! a wrong password) is its own error.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openssl/");

use confrere_protocol::{open_pkcs12, Pkcs12Error, Pkcs12Password};
use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};

fn pem_der(name: &str) -> Vec<u8> {
    let bytes = std::fs::read(format!("{FIXTURES}{name}")).unwrap();
    x509_parser::pem::parse_x509_pem(&bytes).unwrap().1.contents
}

fn chain(id: &str, key: &str, certs: &[&str]) -> KeyStoreEntry {
    KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(
        id,
        PrivateKey::from_der(&pem_der(key)).unwrap(),
        certs
            .iter()
            .map(|c| Certificate::from_der(&pem_der(c)).unwrap()),
    ))
}

fn p12(entries: Vec<(&str, KeyStoreEntry)>) -> Vec<u8> {
    let mut ks = KeyStore::new();
    for (alias, e) in entries {
        ks.add_entry(alias, e);
    }
    ks.writer("pw").write().unwrap()
}

fn password(p: &str) -> Pkcs12Password {
    Pkcs12Password::new(p.into())
}

#[test]
fn the_key_and_its_certificate_are_found_with_the_chain_beside() {
    let file = p12(vec![(
        "card",
        chain(
            "k1",
            "good-rsa.key.pem",
            &["good-rsa.pem", "intermediate.pem"],
        ),
    )]);
    let card = open_pkcs12(&file, &password("pw")).unwrap();
    assert_eq!(card.certificate.der(), pem_der("good-rsa.pem").as_slice());
    assert_eq!(card.chain.len(), 1);
    assert_eq!(card.chain[0].der(), pem_der("intermediate.pem").as_slice());
}

#[test]
fn a_wrong_password_is_told_apart() {
    let file = p12(vec![(
        "card",
        chain("k1", "good-rsa.key.pem", &["good-rsa.pem"]),
    )]);
    assert_eq!(
        open_pkcs12(&file, &password("nope")).unwrap_err(),
        Pkcs12Error::WrongPassword
    );
}

#[test]
fn several_keys_are_refused_as_ambiguous() {
    let file = p12(vec![
        ("a", chain("k1", "good-rsa.key.pem", &["good-rsa.pem"])),
        (
            "b",
            chain("k2", "other-good-rsa.key.pem", &["other-good-rsa.pem"]),
        ),
    ]);
    assert_eq!(
        open_pkcs12(&file, &password("pw")).unwrap_err(),
        Pkcs12Error::SeveralKeys(2)
    );
}

#[test]
fn a_file_without_a_key_is_refused() {
    let file = p12(vec![(
        "ca",
        KeyStoreEntry::Certificate(Certificate::from_der(&pem_der("good-rsa.pem")).unwrap()),
    )]);
    assert_eq!(
        open_pkcs12(&file, &password("pw")).unwrap_err(),
        Pkcs12Error::NoKey
    );
}

#[test]
fn a_key_of_another_certificate_is_refused() {
    let file = p12(vec![(
        "card",
        chain("k1", "other-good-rsa.key.pem", &["good-rsa.pem"]),
    )]);
    assert_eq!(
        open_pkcs12(&file, &password("pw")).unwrap_err(),
        Pkcs12Error::KeyDoesNotMatchCertificate
    );
}
