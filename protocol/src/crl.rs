//! Whether a CRL offered to the node (imported by hand, later fetched)
//! may replace the one held for its CA.
//!
//! [`check_crl_update`] takes the trust material and the offered CRL: the
//! CRL must name a CA of the trust material (an anchor or a known
//! intermediate), carry no critical extension that is not understood (a
//! delta or partitioned CRL), be signed by that CA's key, with a CA allowed
//! to sign CRLs, and be newer than every CRL of that CA already held that
//! verifies: a higher cRLNumber when both have one, a later thisUpdate
//! otherwise. An equal or older CRL is refused, so that a replayed old CRL
//! can never "unrevoke" a certificate.

use std::cmp::Ordering;

use crate::certificate::{Certificate, Crl};
use crate::signature::verify_signature;
use crate::time::UnixTime;
use crate::verify::TrustStore;

/// Why an offered CRL is not taken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CrlUpdateError {
    /// No CA of the trust material has the CRL's issuer name.
    #[error("the CRL is from \"{issuer}\", which is not a CA of this node's trust material")]
    UnknownIssuer {
        /// The issuer named in the CRL.
        issuer: String,
    },
    /// The CRL's signature does not verify under the CA's key.
    #[error("the CRL claiming to be from \"{issuer}\" is not signed by that CA's key (forged or altered)")]
    BadSignature {
        /// The issuer named in the CRL.
        issuer: String,
    },
    /// The CA's key usage does not allow signing CRLs.
    #[error("\"{issuer}\" is not allowed to sign CRLs (its key usage lacks cRLSign)")]
    IssuerCannotSignCrls {
        /// The CA.
        issuer: String,
    },
    /// A critical extension that is not understood (delta or partitioned CRL).
    #[error("the CRL from \"{issuer}\" has a critical extension {oid} that is not understood")]
    Unsupported {
        /// The CA.
        issuer: String,
        /// The extension's OID.
        oid: String,
    },
    /// The CRL is not newer than the one held for its CA.
    #[error("the CRL from \"{issuer}\" (thisUpdate {offered_this_update}) is not newer than the one held (thisUpdate {held_this_update}): nothing changed")]
    NotNewer {
        /// The CA.
        issuer: String,
        /// thisUpdate of the offered CRL.
        offered_this_update: UnixTime,
        /// thisUpdate of the CRL held.
        held_this_update: UnixTime,
    },
}

impl CrlUpdateError {
    /// What the user can do about it, in one sentence.
    pub fn hint(&self) -> &'static str {
        match self {
            CrlUpdateError::UnknownIssuer { .. } => "import a CRL of one of the CAs the node was enrolled with (see `confrere status`), or check that the file is the right PKI's",
            CrlUpdateError::BadSignature { .. } => "the file was altered or forged: download the CRL again from the PKI's publication site",
            CrlUpdateError::IssuerCannotSignCrls { .. } => "the CA certificate does not allow CRL signing: get the CRL from the PKI's publication site",
            CrlUpdateError::Unsupported { .. } => "import the CA's full CRL, not a delta or partitioned one",
            CrlUpdateError::NotNewer { .. } => "the node already holds this CRL or a newer one; download the CA's current CRL if the held one is out of date",
        }
    }
}

/// An offered CRL that may replace what is held for its CA.
#[derive(Debug)]
pub struct CrlUpdate<'a> {
    /// The CA that signed it.
    pub issuer: &'a Certificate,
    /// The newest CRL of that CA held before, if any.
    pub replaces: Option<&'a Crl>,
}

/// Orders two CRLs of the same CA: by cRLNumber when both carry one,
/// otherwise by thisUpdate.
pub fn crl_order(a: &Crl, b: &Crl) -> Ordering {
    order_by(a.number(), a.this_update(), b.number(), b.this_update())
}

fn order_by(
    a_number: Option<&[u8]>,
    a_this: UnixTime,
    b_number: Option<&[u8]>,
    b_this: UnixTime,
) -> Ordering {
    match (a_number, b_number) {
        // Big-endian without leading zeros: the longer is the larger.
        (Some(a), Some(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
        _ => a_this.cmp(&b_this),
    }
}

/// Whether `crl` is signed by `ca` (right name, key usage, signature).
fn signed_by(crl: &Crl, ca: &Certificate) -> Result<(), CrlUpdateError> {
    let ku = ca.key_usage();
    if ku.present && !ku.crl_sign {
        return Err(CrlUpdateError::IssuerCannotSignCrls {
            issuer: ca.subject().to_owned(),
        });
    }
    verify_signature(
        ca.public_key(),
        &crl.signature_algorithm,
        crl.tbs_der(),
        &crl.signature,
    )
    .map_err(|_| CrlUpdateError::BadSignature {
        issuer: crl.issuer().to_owned(),
    })
}

/// The CA of `trust` that signed `crl` (see the module docs).
pub fn crl_issuer<'a>(trust: &'a TrustStore, crl: &Crl) -> Result<&'a Certificate, CrlUpdateError> {
    let mut err = CrlUpdateError::UnknownIssuer {
        issuer: crl.issuer().to_owned(),
    };
    if let Some(oid) = crl.unknown_critical.first() {
        return Err(CrlUpdateError::Unsupported {
            issuer: crl.issuer().to_owned(),
            oid: oid.clone(),
        });
    }
    let named = trust
        .anchors()
        .iter()
        .chain(trust.intermediates())
        .filter(|c| c.subject_raw == crl.issuer_raw);
    for ca in named {
        match signed_by(crl, ca) {
            Ok(()) => return Ok(ca),
            Err(e) => err = e,
        }
    }
    Err(err)
}

/// Checks that `offered` verifies under a CA of `trust` and is newer than
/// every CRL of that CA the store holds that verifies (see the module docs).
pub fn check_crl_update<'a>(
    trust: &'a TrustStore,
    offered: &Crl,
) -> Result<CrlUpdate<'a>, CrlUpdateError> {
    let issuer = crl_issuer(trust, offered)?;
    let held = trust
        .crls()
        .iter()
        .filter(|c| c.issuer_raw == offered.issuer_raw && signed_by(c, issuer).is_ok())
        .max_by(|a, b| crl_order(a, b));
    if let Some(h) = held {
        if crl_order(offered, h) != Ordering::Greater {
            return Err(CrlUpdateError::NotNewer {
                issuer: issuer.subject().to_owned(),
                offered_this_update: offered.this_update(),
                held_this_update: h.this_update(),
            });
        }
    }
    Ok(CrlUpdate {
        issuer,
        replaces: held,
    })
}

/// The newest CRL held for each CA of `trust` that verifies under it, in
/// the order of the CAs (anchors, then intermediates); `None` for a CA
/// without one.
pub fn held_crls(trust: &TrustStore) -> Vec<(&Certificate, Option<&Crl>)> {
    trust
        .anchors()
        .iter()
        .chain(trust.intermediates())
        .map(|ca| {
            let newest = trust
                .crls()
                .iter()
                .filter(|c| c.issuer_raw == ca.subject_raw && signed_by(c, ca).is_ok())
                .max_by(|a, b| crl_order(a, b));
            (ca, newest)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_certificates, parse_crls};

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/openssl/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).expect("fixture")
    }

    fn crl(name: &str) -> Crl {
        parse_crls(&fixture(name)).expect("crl").remove(0)
    }

    fn trust(anchor: &str, crls: &[&str]) -> TrustStore {
        let mut t = TrustStore::new(parse_certificates(&fixture(anchor)).expect("anchor"));
        for c in parse_certificates(&fixture("intermediate.pem")).expect("chain") {
            t.add_intermediate(c);
        }
        for name in crls {
            t.add_crl(crl(name));
        }
        t
    }

    #[test]
    fn a_newer_crl_of_a_known_ca_is_taken() {
        let t = trust("root.pem", &["crl-stale.pem"]);
        let update = check_crl_update(&t, &crl("crl.pem")).expect("newer");
        assert_eq!(update.issuer.subject(), crl("crl.pem").issuer());
        assert_eq!(
            update.replaces.map(|c| c.number()),
            Some(crl("crl-stale.pem").number())
        );
    }

    #[test]
    fn a_first_crl_of_a_known_ca_is_taken() {
        let t = trust("root.pem", &[]);
        let update = check_crl_update(&t, &crl("crl-root.pem")).expect("first");
        assert!(update.replaces.is_none());
    }

    #[test]
    fn an_older_crl_is_refused() {
        let t = trust("root.pem", &["crl.pem"]);
        let err = check_crl_update(&t, &crl("crl-stale.pem")).expect_err("older");
        assert!(matches!(err, CrlUpdateError::NotNewer { .. }), "{err:?}");
    }

    #[test]
    fn the_same_crl_again_is_refused() {
        let t = trust("root.pem", &["crl.pem"]);
        let err = check_crl_update(&t, &crl("crl.pem")).expect_err("equal");
        assert!(matches!(err, CrlUpdateError::NotNewer { .. }), "{err:?}");
    }

    #[test]
    fn a_forged_crl_is_refused() {
        let t = trust("root.pem", &["crl-stale.pem"]);
        let err = check_crl_update(&t, &crl("crl-forged.pem")).expect_err("forged");
        assert!(
            matches!(err, CrlUpdateError::BadSignature { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_forged_crl_held_does_not_block_a_genuine_one() {
        // crl-forged.pem has a higher thisUpdate than crl-stale.pem but does
        // not verify: it is not counted as held.
        let t = trust("root.pem", &["crl-forged.pem"]);
        let update = check_crl_update(&t, &crl("crl-stale.pem")).expect("genuine");
        assert!(update.replaces.is_none());
    }

    #[test]
    fn a_crl_of_an_unknown_ca_is_refused() {
        let mut t = TrustStore::new(parse_certificates(&fixture("impostor-root.pem")).expect("a"));
        t.add_crl(crl("crl-stale.pem"));
        let err = check_crl_update(&t, &crl("crl.pem")).expect_err("unknown");
        assert!(
            matches!(err, CrlUpdateError::UnknownIssuer { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn numbers_decide_when_both_have_one_and_this_update_otherwise() {
        let (t1, t2) = (UnixTime::from_secs(100), UnixTime::from_secs(200));
        // A higher number wins even with an earlier thisUpdate.
        assert_eq!(order_by(Some(&[2]), t1, Some(&[1]), t2), Ordering::Greater);
        assert_eq!(
            order_by(Some(&[1, 0]), t1, Some(&[0xff]), t1),
            Ordering::Greater
        );
        assert_eq!(order_by(Some(&[1]), t2, Some(&[1]), t2), Ordering::Equal);
        // Without numbers (or with one only), thisUpdate decides.
        assert_eq!(order_by(None, t2, None, t1), Ordering::Greater);
        assert_eq!(order_by(Some(&[9]), t1, None, t2), Ordering::Less);
        assert_eq!(order_by(None, t1, None, t1), Ordering::Equal);
    }
}
