//! Consent policy over a real store: granting, listing, revoking, care-team
//! records, finding records by id prefix, the check of a send (each
//! refusal), what reaches the disk, and the local API's consent routes
//! against a fake node.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use confrere_node::api::errors::code_name;
use confrere_node::api::model::{
    AddPeer, ApiError, CareTeamInfo, CareTeamRequest, ConsentInfo, DeclineRequest, DirectoryRecord,
    EntryView, GrantConsentRequest, InboxItem, JournalLine, NodeApi, OpenRequest, Opened,
    OutboxItem, PeerInfo, PurgeReport, PurgeRequest, ReplyRequest, RevokeConsentRequest,
    SendRequest, Sent, Status, VerifyReport,
};
use confrere_node::api::server::{serve, ApiServer, TOKEN_FILE};
use confrere_node::consent::{
    self, BasisKind, CheckedShare, OwnedBasis, PolicyError, QueuedBasis, CARE_TEAM_PREFIX,
    CONSENT_PREFIX,
};
use confrere_node::fault::{Code, Fault};
use confrere_node::store::{Store, StoreKeySource, Tree};
use confrere_protocol::consent::{
    parse_date, CareTeamRecord, Consent, ConsentError, ConsentState, RecordId, ShareRefusal,
};
use confrere_protocol::dossier::Ins;
use confrere_protocol::{NationalId, UnixTime};
use serde_json::{json, Value};

const PATIENT: &str = "269054958815780";
const OTHER_PATIENT: &str = "184027645108980";
const CARDIOLOGIST: &str = "810002000015";
const NURSE: &str = "899700075064";
const STRANGER: &str = "810001000016";
const PURPOSE: &str = "Avis cardiologique pour Mme ZYXWVUTSRQ";

fn ins(s: &str) -> Ins {
    Ins::parse(s).unwrap()
}

fn nid(s: &str) -> NationalId {
    NationalId::parse(s).unwrap()
}

fn at(s: &str) -> UnixTime {
    UnixTime::parse_rfc3339(s).unwrap()
}

/// 15 June 2025, noon in Paris.
fn now() -> UnixTime {
    at("2025-06-15T10:00:00Z")
}

fn open(home: &Path) -> Store {
    Store::open(home, StoreKeySource::KeyFile).unwrap()
}

fn store() -> (tempfile::TempDir, Store) {
    let home = tempfile::tempdir().unwrap();
    let store = open(home.path());
    (home, store)
}

fn grant(store: &Store, expires: Option<&str>) -> Consent {
    consent::grant(
        store,
        ins(PATIENT),
        &[CARDIOLOGIST, NURSE],
        PURPOSE,
        expires.map(|d| parse_date(d).unwrap()),
        now(),
    )
    .unwrap()
}

fn care_team(store: &Store, informed_on: &str, when: UnixTime) -> CareTeamRecord {
    consent::record_care_team(
        store,
        ins(PATIENT),
        &[NURSE],
        parse_date(informed_on).unwrap(),
        when,
    )
    .unwrap()
}

/// Stores a consent under a chosen id, the way the module does.
fn put_consent_with_id(store: &Store, id: RecordId, patient: &str) -> Consent {
    let c = Consent::new(id, ins(patient), &[NURSE], PURPOSE, None, now()).unwrap();
    let mut key = CONSENT_PREFIX.to_vec();
    key.extend_from_slice(id.to_string().as_bytes());
    store
        .put(Tree::Meta, &key, &hex::encode(c.encode().unwrap()))
        .unwrap();
    c
}

// ---- records ------------------------------------------------------------

#[test]
fn grant_list_show_and_revoke() {
    let (home, store) = store();
    let c = grant(&store, Some("2025-12-31"));
    assert_eq!(c.patient_ins, ins(PATIENT));
    assert_eq!(c.recipients, vec![nid(CARDIOLOGIST), nid(NURSE)]);
    assert_eq!(c.granted_at, now());
    assert_eq!(c.state(now()), ConsentState::Active);

    assert_eq!(consent::get(&store, &c.id.to_string()).unwrap(), c);
    assert_eq!(consent::list(&store, None).unwrap(), vec![c.clone()]);

    let later = at("2025-06-20T08:00:00Z");
    let revoked = consent::revoke(&store, &c.id.to_string(), Some(" Retrait "), later).unwrap();
    let r = revoked.revoked.clone().unwrap();
    assert_eq!(r.at, later);
    assert_eq!(r.reason.as_deref(), Some("Retrait"));
    assert_eq!(revoked.state(later), ConsentState::Revoked);
    assert_eq!(consent::get(&store, &c.id.to_string()).unwrap(), revoked);

    // A second revocation is refused and changes nothing.
    let e =
        consent::revoke(&store, &c.id.to_string(), None, at("2025-06-21T08:00:00Z")).unwrap_err();
    assert!(
        matches!(&e, PolicyError::AlreadyRevoked { at, .. } if *at == later),
        "{e:?}"
    );
    assert_eq!(e.code(), Code::Refused);
    assert_eq!(consent::get(&store, &c.id.to_string()).unwrap(), revoked);

    // Everything survives a restart.
    store.flush().unwrap();
    drop(store);
    let store = open(home.path());
    assert_eq!(consent::list(&store, None).unwrap(), vec![revoked]);
}

#[test]
fn revoking_an_unknown_consent_is_refused() {
    let (_home, store) = store();
    let e = consent::revoke(&store, &"ab".repeat(16), None, now()).unwrap_err();
    assert!(
        matches!(
            e,
            PolicyError::NotFound {
                kind: BasisKind::Consent,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.code(), Code::NotFound);
    let e = consent::revoke(&store, "nope", None, now()).unwrap_err();
    assert!(matches!(e, PolicyError::BadId { .. }), "{e:?}");
    assert_eq!(e.code(), Code::Invalid);
}

#[test]
fn invalid_consents_are_not_stored() {
    let (_home, store) = store();
    let e = consent::grant(&store, ins(PATIENT), &[] as &[&str], PURPOSE, None, now()).unwrap_err();
    assert!(
        matches!(
            e,
            PolicyError::Invalid {
                kind: BasisKind::Consent,
                source: ConsentError::NoRecipient
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.code(), Code::Invalid);
    let past = parse_date("2025-06-14").unwrap();
    let e = consent::grant(&store, ins(PATIENT), &[NURSE], PURPOSE, Some(past), now()).unwrap_err();
    assert!(
        matches!(
            e,
            PolicyError::Invalid {
                source: ConsentError::ExpiresInPast { .. },
                ..
            }
        ),
        "{e:?}"
    );
    assert!(consent::list(&store, None).unwrap().is_empty());
}

#[test]
fn lists_are_newest_first_and_filter_by_patient() {
    let (_home, store) = store();
    let first = grant(&store, None);
    let second = consent::grant(
        &store,
        ins(OTHER_PATIENT),
        &[NURSE],
        "Suivi",
        None,
        at("2025-06-16T10:00:00Z"),
    )
    .unwrap();
    let third = consent::grant(
        &store,
        ins(PATIENT),
        &[STRANGER],
        "Kinésithérapie",
        None,
        at("2025-06-17T10:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        consent::list(&store, None).unwrap(),
        vec![third.clone(), second.clone(), first.clone()]
    );
    assert_eq!(
        consent::list(&store, Some(&ins(PATIENT))).unwrap(),
        vec![third, first]
    );
    assert_eq!(
        consent::list_as_typed(&store, Some(" 1 84 02 76 451 089 80 ")).unwrap(),
        vec![second]
    );
    assert_eq!(consent::list_as_typed(&store, Some(" ")).unwrap().len(), 3);
    let e = consent::list_as_typed(&store, Some("123")).unwrap_err();
    assert!(matches!(e, PolicyError::Ins(_)), "{e:?}");
    // Care-team records are listed apart.
    let t = care_team(&store, "2025-06-01", now());
    assert_eq!(consent::list(&store, None).unwrap().len(), 3);
    assert_eq!(consent::list_care_team(&store, None).unwrap(), vec![t]);
    assert_eq!(
        consent::list_care_team(&store, Some(&ins(OTHER_PATIENT))).unwrap(),
        vec![]
    );
}

#[test]
fn records_are_found_by_a_unique_prefix() {
    let (_home, store) = store();
    let a = put_consent_with_id(&store, RecordId([0xaa; 16]), PATIENT);
    let mut b_id = [0xaa; 16];
    b_id[4] = 0xbb;
    let b = put_consent_with_id(&store, RecordId(b_id), PATIENT);
    // Shared by both: ambiguous.
    let e = consent::get(&store, "aaaaaaaa").unwrap_err();
    assert!(matches!(e, PolicyError::Ambiguous { .. }), "{e:?}");
    assert_eq!(e.code(), Code::Invalid);
    // Unique, in either case.
    assert_eq!(consent::get(&store, "aaaaaaaaaa").unwrap(), a);
    assert_eq!(consent::get(&store, "AAAAAAAABB").unwrap(), b);
    assert_eq!(consent::get(&store, &b.id.to_string()).unwrap(), b);
    // Too short, too long, not hex.
    for bad in ["aaaaaaa", &"a".repeat(33), "aaaaaaaz", ""] {
        let e = consent::get(&store, bad).unwrap_err();
        assert!(matches!(e, PolicyError::BadId { .. }), "{bad}: {e:?}");
    }
    let e = consent::get(&store, "0123456789").unwrap_err();
    assert!(matches!(e, PolicyError::NotFound { .. }), "{e:?}");
    // A consent id does not name a care-team record.
    let e = consent::get_care_team(&store, &a.id.to_string()).unwrap_err();
    assert!(
        matches!(
            e,
            PolicyError::NotFound {
                kind: BasisKind::CareTeam,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn a_damaged_record_is_reported() {
    let (_home, store) = store();
    let id = "cd".repeat(16);
    let key = [CONSENT_PREFIX, id.as_bytes()].concat();
    store.put(Tree::Meta, &key, &"00zz".to_owned()).unwrap();
    let e = consent::get(&store, &id).unwrap_err();
    assert!(matches!(e, PolicyError::Damaged { .. }), "{e:?}");
    assert_eq!(e.code(), Code::Internal);
    assert!(consent::list(&store, None).is_err());
    // A valid record under another record's id.
    let other = Consent::new(
        RecordId([1; 16]),
        ins(PATIENT),
        &[NURSE],
        PURPOSE,
        None,
        now(),
    )
    .unwrap();
    store
        .put(Tree::Meta, &key, &hex::encode(other.encode().unwrap()))
        .unwrap();
    let e = consent::get(&store, &id).unwrap_err();
    assert!(matches!(e, PolicyError::Damaged { .. }), "{e:?}");
}

#[test]
fn care_team_records_are_stored_and_checked() {
    let (_home, store) = store();
    let t = care_team(&store, "2025-06-15", now());
    assert_eq!(t.informed_on, parse_date("2025-06-15").unwrap());
    assert_eq!(t.recorded_at, now());
    assert_eq!(
        consent::get_care_team(&store, &t.id.to_string()).unwrap(),
        t
    );
    let key = [CARE_TEAM_PREFIX, t.id.to_string().as_bytes()].concat();
    assert!(store.contains(Tree::Meta, &key).unwrap());

    let e = consent::record_care_team_as_typed(&store, PATIENT, &[NURSE], "2025-06-16", now())
        .unwrap_err();
    assert!(
        matches!(
            e,
            PolicyError::Invalid {
                kind: BasisKind::CareTeam,
                source: ConsentError::InformedInFuture { .. }
            }
        ),
        "{e:?}"
    );
    let e = consent::record_care_team_as_typed(&store, PATIENT, &[NURSE], "15/06/2025", now())
        .unwrap_err();
    assert!(matches!(e, PolicyError::Date { .. }), "{e:?}");
    assert_eq!(consent::list_care_team(&store, None).unwrap(), vec![t]);
}

#[test]
fn requests_are_parsed_as_typed() {
    let (_home, store) = store();
    let recipients = [CARDIOLOGIST.to_owned(), format!(" {NURSE} ")];
    let grant = |ins: &str, expires: &str| {
        consent::grant_as_typed(&store, ins, &recipients, PURPOSE, Some(expires), now())
    };
    let c = grant("2 69 05 49 588 157 80", "2025-06-30").unwrap();
    assert_eq!(c.patient_ins, ins(PATIENT));
    assert_eq!(c.expires, Some(parse_date("2025-06-30").unwrap()));
    let e = grant("269054958815781", "2025-06-30").unwrap_err();
    assert!(matches!(e, PolicyError::Ins(_)), "{e:?}");
    assert_eq!(e.code(), Code::Invalid);
    let e = grant(PATIENT, "2025-02-30").unwrap_err();
    assert!(
        matches!(
            e,
            PolicyError::Date {
                field: "the expiry day",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(consent::list(&store, None).unwrap(), vec![c]);
}

// ---- the check of a send ------------------------------------------------

fn check(
    store: &Store,
    consent_id: Option<&str>,
    care_team_id: Option<&str>,
    patient: &str,
    to: &str,
    when: UnixTime,
) -> Result<CheckedShare, PolicyError> {
    consent::check_send(
        store,
        consent_id,
        care_team_id,
        &ins(patient),
        &nid(to),
        when,
    )
}

fn refusal(e: PolicyError) -> ShareRefusal {
    match e {
        PolicyError::Refused { refusal, .. } => refusal,
        other => panic!("not a refusal: {other:?}"),
    }
}

#[test]
fn a_covered_send_is_allowed_and_cites_its_record() {
    let (_home, store) = store();
    let c = grant(&store, None);
    let t = care_team(&store, "2025-06-01", now());
    let cid = c.id.to_string();
    let tid = t.id.to_string();
    let checked = check(&store, Some(&cid), None, PATIENT, CARDIOLOGIST, now()).unwrap();
    assert_eq!(checked.cited().kind(), BasisKind::Consent);
    assert_eq!(checked.cited().id(), c.id);
    // The proof names what was checked.
    assert_eq!(checked.approval().patient(), &ins(PATIENT));
    assert_eq!(
        checked.approval().recipient(),
        &NationalId::parse(CARDIOLOGIST).unwrap()
    );
    assert_eq!(checked.approval().at(), now());
    assert_eq!(
        checked.ledger_basis(),
        confrere_protocol::ledger::ShareBasis::Consent(c.id.0)
    );
    assert_eq!(checked.queued().kind(), BasisKind::Consent);
    assert_eq!(checked.queued().id(), c.id);
    // By prefix too.
    assert_eq!(
        check(&store, Some(&cid[..8]), None, PATIENT, NURSE, now())
            .unwrap()
            .cited()
            .id(),
        c.id
    );
    let checked = check(&store, None, Some(&tid), PATIENT, NURSE, now()).unwrap();
    assert_eq!(checked.cited().kind(), BasisKind::CareTeam);
    assert_eq!(checked.cited().id(), t.id);
    assert_eq!(
        checked.ledger_basis(),
        confrere_protocol::ledger::ShareBasis::CareTeam(t.id.0)
    );
    assert_eq!(
        consent::get_basis(&store, None, Some(&tid)).unwrap(),
        OwnedBasis::CareTeam(t)
    );
}

#[test]
fn refused_wrong_patient() {
    let (_home, store) = store();
    let c = grant(&store, None);
    let e = check(
        &store,
        Some(&c.id.to_string()),
        None,
        OTHER_PATIENT,
        NURSE,
        now(),
    )
    .unwrap_err();
    assert_eq!(e.code(), Code::Refused);
    let msg = e.to_string();
    assert!(msg.contains(&c.id.to_string()), "{msg}");
    assert_eq!(refusal(e), ShareRefusal::WrongPatient);
    let t = care_team(&store, "2025-06-01", now());
    let e = check(
        &store,
        None,
        Some(&t.id.to_string()),
        OTHER_PATIENT,
        NURSE,
        now(),
    )
    .unwrap_err();
    assert_eq!(refusal(e), ShareRefusal::WrongPatient);
}

#[test]
fn refused_recipient_not_named() {
    let (_home, store) = store();
    let c = grant(&store, None);
    let e = check(
        &store,
        Some(&c.id.to_string()),
        None,
        PATIENT,
        STRANGER,
        now(),
    )
    .unwrap_err();
    assert!(e.to_string().contains(STRANGER), "{e}");
    assert_eq!(refusal(e), ShareRefusal::RecipientNotNamed);
    let t = care_team(&store, "2025-06-01", now());
    let e = check(
        &store,
        None,
        Some(&t.id.to_string()),
        PATIENT,
        CARDIOLOGIST,
        now(),
    )
    .unwrap_err();
    assert_eq!(refusal(e), ShareRefusal::RecipientNotNamed);
}

#[test]
fn refused_expired() {
    let (_home, store) = store();
    let c = grant(&store, Some("2025-06-15"));
    let id = c.id.to_string();
    // Until midnight in Paris (22:00 UTC in June).
    assert!(check(
        &store,
        Some(&id),
        None,
        PATIENT,
        NURSE,
        at("2025-06-15T21:59:59Z")
    )
    .is_ok());
    let e = check(
        &store,
        Some(&id),
        None,
        PATIENT,
        NURSE,
        at("2025-06-15T22:00:00Z"),
    )
    .unwrap_err();
    assert_eq!(
        refusal(e),
        ShareRefusal::Expired {
            on: parse_date("2025-06-15").unwrap()
        }
    );
}

#[test]
fn refused_revoked() {
    let (_home, store) = store();
    let c = grant(&store, None);
    let id = c.id.to_string();
    let when = at("2025-06-16T09:00:00Z");
    consent::revoke(&store, &id, Some("Retrait"), when).unwrap();
    let e = check(
        &store,
        Some(&id),
        None,
        PATIENT,
        NURSE,
        at("2025-06-16T09:00:01Z"),
    )
    .unwrap_err();
    assert_eq!(refusal(e), ShareRefusal::Revoked { at: when });
}

#[test]
fn refused_informed_in_future() {
    let (_home, store) = store();
    // Recorded on 15 June with that day; the clock then reads the 14th.
    let t = care_team(&store, "2025-06-15", now());
    let e = check(
        &store,
        None,
        Some(&t.id.to_string()),
        PATIENT,
        NURSE,
        at("2025-06-14T10:00:00Z"),
    )
    .unwrap_err();
    assert_eq!(
        refusal(e),
        ShareRefusal::InformedInFuture {
            on: parse_date("2025-06-15").unwrap()
        }
    );
}

#[test]
fn refused_unknown_missing_or_double_basis() {
    let (_home, store) = store();
    let c = grant(&store, None);
    let t = care_team(&store, "2025-06-01", now());
    let unknown = "0".repeat(32);
    let e = check(&store, Some(&unknown), None, PATIENT, NURSE, now()).unwrap_err();
    assert!(
        matches!(
            e,
            PolicyError::NotFound {
                kind: BasisKind::Consent,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.code(), Code::NotFound);
    let e = check(&store, None, Some(&unknown), PATIENT, NURSE, now()).unwrap_err();
    assert!(
        matches!(
            e,
            PolicyError::NotFound {
                kind: BasisKind::CareTeam,
                ..
            }
        ),
        "{e:?}"
    );
    // A care-team id given as a consent id is unknown as a consent.
    let e = check(&store, Some(&t.id.to_string()), None, PATIENT, NURSE, now()).unwrap_err();
    assert!(matches!(e, PolicyError::NotFound { .. }), "{e:?}");
    let e = check(&store, None, None, PATIENT, NURSE, now()).unwrap_err();
    assert!(matches!(e, PolicyError::NoBasis), "{e:?}");
    assert_eq!(e.code(), Code::Invalid);
    let e = check(
        &store,
        Some(&c.id.to_string()),
        Some(&t.id.to_string()),
        PATIENT,
        NURSE,
        now(),
    )
    .unwrap_err();
    assert!(matches!(e, PolicyError::BothBases), "{e:?}");
}

#[test]
fn errors_become_api_errors_without_patient_data() {
    let (_home, store) = store();
    let c = grant(&store, Some("2025-06-15"));
    let id = c.id.to_string();
    consent::revoke(&store, &id, Some("Motif ZYXWVUTSRQ"), now()).unwrap();
    let errors = vec![
        check(&store, Some(&id), None, OTHER_PATIENT, NURSE, now()).unwrap_err(),
        check(&store, Some(&id), None, PATIENT, NURSE, now()).unwrap_err(),
        check(&store, None, None, PATIENT, NURSE, now()).unwrap_err(),
        consent::revoke(&store, &id, None, now()).unwrap_err(),
        consent::get(&store, PATIENT).unwrap_err(),
        consent::get(&store, "269054958815780zz").unwrap_err(),
        consent::list_as_typed(&store, Some("269054958815781")).unwrap_err(),
        consent::grant(&store, ins(PATIENT), &[NURSE], "a\nb", None, now()).unwrap_err(),
    ];
    for e in errors {
        let code = code_name(e.code());
        let api: ApiError = e.into();
        assert_eq!(api.code, code);
        assert!(!api.error.is_empty());
        assert!(
            api.hint.as_deref().is_some_and(|h| !h.is_empty()),
            "{api:?}"
        );
        let text = format!("{} {:?} {api:?}", api.error, api.hint);
        assert!(!text.contains("ZYXWVUTSRQ"), "{text}");
        assert!(!text.contains("Avis"), "{text}");
        // The INS typed as an id is looked up as a prefix, but only an id
        // that is hex is repeated; the INS as such never is.
        if code != "not_found" {
            assert!(!text.contains("2690549588"), "{text}");
        }
    }
}

// ---- what reaches the disk ----------------------------------------------

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn records_rest_sealed() {
    let (home, store) = store();
    let c = grant(&store, None);
    consent::revoke(&store, &c.id.to_string(), Some("Motif ZYXWVUTSRQ"), now()).unwrap();
    care_team(&store, "2025-06-01", now());
    store.flush().unwrap();
    drop(store);
    let needles: Vec<Vec<u8>> = vec![
        PATIENT.as_bytes().to_vec(),
        hex::encode(PATIENT).into_bytes(),
        b"ZYXWVUTSRQ".to_vec(),
        hex::encode("ZYXWVUTSRQ").into_bytes(),
        hex::encode(NURSE).into_bytes(),
    ];
    for file in files_under(home.path()) {
        let bytes = fs::read(&file).unwrap();
        for n in &needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_slice()),
                "{} holds a record in the clear",
                file.display()
            );
        }
    }
}

// ---- the local API's routes ---------------------------------------------

fn unused() -> ApiError {
    ApiError::new("internal", "not used by this test", "none")
}

/// The methods every NodeApi must have; these fakes do not use them.
macro_rules! unused_node_methods {
    () => {
        async fn status(&self) -> Result<Status, ApiError> {
            Err(unused())
        }
        async fn peers(&self) -> Result<Vec<PeerInfo>, ApiError> {
            Err(unused())
        }
        async fn add_peer(&self, _req: AddPeer) -> Result<PeerInfo, ApiError> {
            Err(unused())
        }
        async fn send(&self, req: SendRequest) -> Result<Sent, ApiError> {
            Err(ApiError::new(
                "refused",
                format!(
                    "send consent={:?} care_team={:?}",
                    req.consent, req.care_team
                ),
                "none",
            ))
        }
        async fn outbox(&self) -> Result<Vec<OutboxItem>, ApiError> {
            Err(unused())
        }
        async fn inbox(&self) -> Result<Vec<InboxItem>, ApiError> {
            Err(unused())
        }
        async fn inbox_show(&self, _id: String) -> Result<InboxItem, ApiError> {
            Err(unused())
        }
        async fn inbox_open(&self, _id: String, _req: OpenRequest) -> Result<Opened, ApiError> {
            Err(unused())
        }
        async fn inbox_accept(&self, _id: String) -> Result<InboxItem, ApiError> {
            Err(unused())
        }
        async fn inbox_decline(
            &self,
            _id: String,
            _req: DeclineRequest,
        ) -> Result<InboxItem, ApiError> {
            Err(unused())
        }
        async fn inbox_reply(&self, _id: String, _req: ReplyRequest) -> Result<Sent, ApiError> {
            Err(unused())
        }
        async fn find_peers(&self, _national_id: String) -> Result<Vec<DirectoryRecord>, ApiError> {
            Err(unused())
        }
        async fn remove_peer(&self, _key: String) -> Result<Vec<PeerInfo>, ApiError> {
            Err(unused())
        }
        async fn ledger(&self, _since: Option<u64>) -> Result<Vec<EntryView>, ApiError> {
            Err(unused())
        }
        async fn ledger_verify(&self, _every_signature: bool) -> Result<VerifyReport, ApiError> {
            Err(unused())
        }
        async fn purge(&self, _req: PurgeRequest) -> Result<PurgeReport, ApiError> {
            Err(unused())
        }
        async fn crl_update(&self) -> Result<confrere_node::api::model::CrlUpdateReport, ApiError> {
            Err(unused())
        }
        async fn crl_import(
            &self,
            _req: confrere_node::api::model::CrlImportRequest,
        ) -> Result<confrere_node::api::model::CrlImportReport, ApiError> {
            Err(unused())
        }
        async fn journal(&self, _patient_ins: String) -> Result<Vec<JournalLine>, ApiError> {
            Err(unused())
        }
    };
}

/// A node whose consent methods answer canned values and record calls.
#[derive(Default)]
struct ConsentFake {
    calls: Mutex<Vec<String>>,
}

impl ConsentFake {
    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

fn consent_info(id: &str, state: &str) -> ConsentInfo {
    ConsentInfo {
        id: id.into(),
        patient_ins: PATIENT.into(),
        recipients: vec![CARDIOLOGIST.into(), NURSE.into()],
        purpose: "Avis".into(),
        granted_at: "2025-06-15T10:00:00Z".into(),
        expires: Some("2025-12-31".into()),
        state: state.into(),
        revoked_at: (state == "revoked").then(|| "2025-06-16T10:00:00Z".into()),
        revoke_reason: (state == "revoked").then(|| "Retrait".into()),
        recipient_states: Vec::new(),
    }
}

fn care_team_info() -> CareTeamInfo {
    CareTeamInfo {
        id: "cd".repeat(16),
        patient_ins: PATIENT.into(),
        recipients: vec![NURSE.into()],
        informed_on: "2025-06-01".into(),
        recorded_at: "2025-06-15T10:00:00Z".into(),
    }
}

impl NodeApi for ConsentFake {
    unused_node_methods!();

    async fn consent_grant(&self, req: GrantConsentRequest) -> Result<ConsentInfo, ApiError> {
        self.record(format!("grant {}", serde_json::to_string(&req).unwrap()));
        Ok(consent_info(&"ab".repeat(16), "active"))
    }

    async fn consent_list(
        &self,
        patient_ins: Option<String>,
    ) -> Result<Vec<ConsentInfo>, ApiError> {
        self.record(format!("list {patient_ins:?}"));
        Ok(vec![
            consent_info(&"ab".repeat(16), "active"),
            consent_info(&"ef".repeat(16), "expired"),
        ])
    }

    async fn consent_show(&self, id: String) -> Result<ConsentInfo, ApiError> {
        self.record(format!("show {id}"));
        if id == "00000000" {
            return Err(ApiError::new(
                "not_found",
                "no consent has the id 00000000",
                "list them",
            ));
        }
        Ok(consent_info(&id, "active"))
    }

    async fn consent_revoke(
        &self,
        id: String,
        req: RevokeConsentRequest,
    ) -> Result<ConsentInfo, ApiError> {
        self.record(format!("revoke {id} {:?}", req.reason));
        Ok(consent_info(&id, "revoked"))
    }

    async fn care_team_record(&self, req: CareTeamRequest) -> Result<CareTeamInfo, ApiError> {
        self.record(format!(
            "care_team {}",
            serde_json::to_string(&req).unwrap()
        ));
        Ok(care_team_info())
    }

    async fn renew_credential(
        &self,
        _req: confrere_node::api::model::RenewCredentialRequest,
    ) -> Result<confrere_node::api::model::RenewedCredential, ApiError> {
        Err(ApiError::new("internal", "not part of this fake", "none"))
    }
}

struct Server {
    rt: tokio::runtime::Runtime,
    home: tempfile::TempDir,
    server: Option<ApiServer>,
    agent: ureq::Agent,
}

impl Server {
    fn start<A: NodeApi>(api: Arc<A>) -> Server {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let home = tempfile::tempdir().unwrap();
        let server = rt.block_on(serve(api, home.path(), 0)).unwrap();
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(10))
            .build();
        Server {
            rt,
            home,
            server: Some(server),
            agent,
        }
    }

    fn call(&self, method: &str, route: &str, body: Option<Value>) -> (u16, Value) {
        let port = self.server.as_ref().unwrap().port();
        let token = fs::read_to_string(self.home.path().join(TOKEN_FILE)).unwrap();
        let req = self
            .agent
            .request(method, &format!("http://127.0.0.1:{port}{route}"))
            .set("Authorization", &format!("Bearer {token}"));
        let result = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match result {
            Ok(resp) => (resp.status(), resp.into_json().unwrap()),
            Err(ureq::Error::Status(code, resp)) => (code, resp.into_json().unwrap()),
            Err(e) => panic!("{method} {route}: {e}"),
        }
    }

    fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            self.rt.block_on(server.shutdown());
        }
    }
}

#[test]
fn consent_routes_round_trip_their_json() {
    let fake = Arc::new(ConsentFake::default());
    let s = Server::start(fake.clone());

    let grant = json!({
        "patient_ins": PATIENT,
        "recipients": [CARDIOLOGIST, NURSE],
        "purpose": "Avis",
        "expires": "2025-12-31",
    });
    let (code, body) = s.call("POST", "/v1/consents", Some(grant));
    assert_eq!(code, 200);
    assert_eq!(
        body,
        serde_json::to_value(consent_info(&"ab".repeat(16), "active")).unwrap()
    );
    // The documented field names.
    assert_eq!(
        body.as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        [
            "expires",
            "granted_at",
            "id",
            "patient_ins",
            "purpose",
            "recipient_states",
            "recipients",
            "revoke_reason",
            "revoked_at",
            "state"
        ]
    );
    // `expires` may be left out.
    let (code, _) = s.call(
        "POST",
        "/v1/consents",
        Some(json!({"patient_ins": PATIENT, "recipients": [NURSE], "purpose": "Avis"})),
    );
    assert_eq!(code, 200);

    let (code, body) = s.call("GET", "/v1/consents", None);
    assert_eq!(code, 200);
    let list: Vec<ConsentInfo> = serde_json::from_value(body).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1].state, "expired");
    let (code, _) = s.call("GET", &format!("/v1/consents?patient_ins={PATIENT}"), None);
    assert_eq!(code, 200);
    let (code, _) = s.call("GET", "/v1/consents?patient_ins=2%2069%2005", None);
    assert_eq!(code, 200);

    let (code, body) = s.call("GET", "/v1/consents/3f2a9c1e", None);
    assert_eq!(code, 200);
    assert_eq!(body["id"], "3f2a9c1e");
    let (code, body) = s.call("GET", "/v1/consents/00000000", None);
    assert_eq!(code, 404);
    assert_eq!(body["code"], "not_found");

    let (code, body) = s.call(
        "POST",
        "/v1/consents/3f2a9c1e/revoke",
        Some(json!({"reason": "Retrait"})),
    );
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_value::<ConsentInfo>(body).unwrap(),
        consent_info("3f2a9c1e", "revoked")
    );
    let (code, _) = s.call("POST", "/v1/consents/3f2a9c1e/revoke", Some(json!({})));
    assert_eq!(code, 200);

    let (code, body) = s.call(
        "POST",
        "/v1/care-team",
        Some(json!({"patient_ins": PATIENT, "recipients": [NURSE], "informed_on": "2025-06-01"})),
    );
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_value::<CareTeamInfo>(body.clone()).unwrap(),
        care_team_info()
    );
    assert_eq!(
        body.as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        [
            "id",
            "informed_on",
            "patient_ins",
            "recipients",
            "recorded_at"
        ]
    );

    // A send carries the cited record to the node.
    let (code, body) = s.call(
        "POST",
        "/v1/send",
        Some(json!({
            "to": NURSE,
            "patient": {"ins": PATIENT, "family": "X", "given": "Y", "birth_date": "1969-05-01", "sex": "F"},
            "reason": "r", "urgent": false, "letter": null, "files": [],
            "consent": "3f2a9c1e",
        })),
    );
    assert_eq!(code, 409);
    assert_eq!(
        body["error"],
        "send consent=Some(\"3f2a9c1e\") care_team=None"
    );
    // An older command line that sends neither field still parses.
    let (_, body) = s.call(
        "POST",
        "/v1/send",
        Some(json!({
            "to": NURSE,
            "patient": {"ins": PATIENT, "family": "X", "given": "Y", "birth_date": "1969-05-01", "sex": "F"},
            "reason": "r", "urgent": false, "letter": null, "files": [],
        })),
    );
    assert_eq!(body["error"], "send consent=None care_team=None");

    assert_eq!(
        fake.calls.lock().unwrap().clone(),
        vec![
            format!(
                "grant {{\"patient_ins\":\"{PATIENT}\",\"recipients\":[\"{CARDIOLOGIST}\",\"{NURSE}\"],\"purpose\":\"Avis\",\"expires\":\"2025-12-31\"}}"
            ),
            format!(
                "grant {{\"patient_ins\":\"{PATIENT}\",\"recipients\":[\"{NURSE}\"],\"purpose\":\"Avis\",\"expires\":null}}"
            ),
            "list None".to_owned(),
            format!("list Some(\"{PATIENT}\")"),
            "list Some(\"2 69 05\")".to_owned(),
            "show 3f2a9c1e".to_owned(),
            "show 00000000".to_owned(),
            "revoke 3f2a9c1e Some(\"Retrait\")".to_owned(),
            "revoke 3f2a9c1e None".to_owned(),
            format!(
                "care_team {{\"patient_ins\":\"{PATIENT}\",\"recipients\":[\"{NURSE}\"],\"informed_on\":\"2025-06-01\"}}"
            ),
        ]
    );
    s.shutdown();
}

#[test]
fn malformed_consent_requests_are_invalid() {
    let fake = Arc::new(ConsentFake::default());
    let s = Server::start(fake.clone());
    for (method, route, body) in [
        (
            "POST",
            "/v1/consents",
            Some(json!({"patient_ins": PATIENT})),
        ),
        (
            "POST",
            "/v1/consents/3f2a9c1e/revoke",
            Some(json!({"reason": 7})),
        ),
        (
            "POST",
            "/v1/care-team",
            Some(json!({"patient_ins": PATIENT, "recipients": []})),
        ),
        ("GET", "/v1/consents?patient_ins=a&patient_ins=b", None),
    ] {
        let (code, body) = s.call(method, route, body);
        assert_eq!(code, 400, "{method} {route}: {body}");
        assert_eq!(body["code"], "invalid", "{body}");
        assert!(body["hint"].is_string(), "{body}");
    }
    let (code, _) = s.call("DELETE", "/v1/consents", None);
    assert_eq!(code, 405);
    assert!(fake.calls.lock().unwrap().is_empty());
    s.shutdown();
}

#[test]
fn api_bodies_do_not_debug_print_patient_data() {
    let c = Consent::new(
        RecordId([7; 16]),
        ins(PATIENT),
        &[NURSE],
        PURPOSE,
        None,
        now(),
    )
    .unwrap();
    let mut revoked = c;
    revoked.revoke(now(), Some("Motif ZYXWVUTSRQ")).unwrap();
    let info = ConsentInfo::new(&revoked, now());
    assert_eq!(info.state, "revoked");
    assert_eq!(info.revoke_reason.as_deref(), Some("Motif ZYXWVUTSRQ"));
    assert_eq!(info.patient_ins, PATIENT);
    let t = CareTeamRecord::new(
        RecordId([8; 16]),
        ins(PATIENT),
        &[NURSE],
        parse_date("2025-06-01").unwrap(),
        now(),
    )
    .unwrap();
    let printed = format!(
        "{info:?} {:?} {:?} {:?} {:?} {:?}",
        CareTeamInfo::new(&t),
        GrantConsentRequest {
            patient_ins: PATIENT.into(),
            recipients: vec![NURSE.into()],
            purpose: PURPOSE.into(),
            expires: None,
        },
        CareTeamRequest {
            patient_ins: PATIENT.into(),
            recipients: vec![NURSE.into()],
            informed_on: "2025-06-01".into(),
        },
        RevokeConsentRequest {
            reason: Some("Motif ZYXWVUTSRQ".into()),
        },
        confrere_node::api::model::ConsentQuery {
            patient_ins: Some(PATIENT.into()),
        },
    );
    for secret in [PATIENT, "ZYXWVUTSRQ", "Avis"] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
    assert!(printed.contains(NURSE));
}

// ---- queued sends -------------------------------------------------------

#[test]
fn a_queued_send_is_rechecked_before_it_goes_out() {
    let (_home, store) = store();
    let c = grant(&store, Some("2025-06-30"));
    let t = care_team(&store, "2025-06-01", now());
    let by_consent = check(&store, Some(&c.id.to_string()), None, PATIENT, NURSE, now())
        .unwrap()
        .queued();
    let by_care_team = check(&store, None, Some(&t.id.to_string()), PATIENT, NURSE, now())
        .unwrap()
        .queued();
    assert!(consent::still_allows(&store, &by_consent, now()).is_ok());
    assert!(consent::still_allows(&store, &by_care_team, now()).is_ok());

    // Expired meanwhile.
    let july = at("2025-07-01T10:00:00Z");
    let e = consent::still_allows(&store, &by_consent, july).unwrap_err();
    assert!(
        matches!(
            e,
            PolicyError::NoLongerAllows {
                refusal: ShareRefusal::Expired { .. },
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.code(), Code::Refused);

    // Revoked meanwhile.
    let when = at("2025-06-16T10:00:00Z");
    consent::revoke(&store, &c.id.to_string(), None, when).unwrap();
    let e = consent::still_allows(&store, &by_consent, when).unwrap_err();
    assert!(
        matches!(
            e,
            PolicyError::NoLongerAllows {
                refusal: ShareRefusal::Revoked { .. },
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains(&c.id.to_string()), "{e}");

    // Gone from the store (a queued basis read back from the outbox).
    let gone: QueuedBasis =
        serde_json::from_value(json!({"kind": "care_team", "id": "09".repeat(16)})).unwrap();
    let e = consent::still_allows(&store, &gone, now()).unwrap_err();
    assert!(matches!(e, PolicyError::NotFound { .. }), "{e:?}");
}

#[test]
fn a_queued_basis_serializes_for_the_outbox() {
    let (_home, store) = store();
    let t = care_team(&store, "2025-06-01", now());
    let checked = check(&store, None, Some(&t.id.to_string()), PATIENT, NURSE, now()).unwrap();
    let queued = checked.queued();
    let value = serde_json::to_value(queued).unwrap();
    assert_eq!(value, json!({"kind": "care_team", "id": t.id.to_string()}));
    assert_eq!(
        serde_json::from_value::<QueuedBasis>(value).unwrap(),
        queued
    );
    assert_eq!(
        serde_json::to_value(BasisKind::Consent).unwrap(),
        json!("consent")
    );
    assert!(
        serde_json::from_value::<QueuedBasis>(json!({"kind": "consent", "id": "abc"})).is_err()
    );
    assert_eq!(
        checked.cited().to_string(),
        format!("care-team record {}", t.id)
    );
}
