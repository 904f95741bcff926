//! Consents and care-team records: creation rules, the share decision
//! (every refusal), revocation, the stored form, and that nothing prints
//! patient data.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use confrere_protocol::codec::DecodeError;
use confrere_protocol::consent::{
    check_share, format_date, parse_date, CareTeamRecord, Consent, ConsentError, ConsentState,
    RecordId, ShareBasis, ShareBasisKind, ShareRefusal, MAX_PURPOSE_LEN, MAX_REASON_LEN,
    MAX_RECIPIENTS,
};
use confrere_protocol::dossier::Ins;
use confrere_protocol::identity::NationalIdError;
use confrere_protocol::{NationalId, UnixTime};
use time::Date;

const PATIENT: &str = "269054958815780";
const OTHER_PATIENT: &str = "184027645108980";
const CARDIOLOGIST: &str = "810002000015";
const NURSE: &str = "899700075064";
const STRANGER: &str = "810001000016";
const PURPOSE: &str = "Avis cardiologique, Mme Zoé QUIDAM";

fn ins(s: &str) -> Ins {
    Ins::parse(s).unwrap()
}

fn nid(s: &str) -> NationalId {
    NationalId::parse(s).unwrap()
}

fn at(s: &str) -> UnixTime {
    UnixTime::parse_rfc3339(s).unwrap()
}

fn day(s: &str) -> Date {
    parse_date(s).unwrap()
}

/// 15 June 2025, noon in Paris (CEST).
fn now() -> UnixTime {
    at("2025-06-15T10:00:00Z")
}

fn id(n: u8) -> RecordId {
    RecordId([n; 16])
}

fn consent(expires: Option<&str>) -> Consent {
    Consent::new(
        id(1),
        ins(PATIENT),
        &[CARDIOLOGIST, NURSE],
        PURPOSE,
        expires.map(day),
        now(),
    )
    .unwrap()
}

fn care_team(informed_on: &str) -> CareTeamRecord {
    CareTeamRecord::new(id(2), ins(PATIENT), &[NURSE], day(informed_on), now()).unwrap()
}

fn check(
    basis: ShareBasis<'_>,
    patient: &str,
    to: &str,
    when: UnixTime,
) -> Result<(), ShareRefusal> {
    check_share(&basis, &ins(patient), &nid(to), when).map(|_| ())
}

// ---- creation ---------------------------------------------------------

#[test]
fn a_new_consent_holds_what_was_given() {
    let c = consent(Some("2025-12-31"));
    assert_eq!(c.id, id(1));
    assert_eq!(c.patient_ins, ins(PATIENT));
    assert_eq!(c.recipients, vec![nid(CARDIOLOGIST), nid(NURSE)]);
    assert_eq!(c.purpose, PURPOSE);
    assert_eq!(c.granted_at, now());
    assert_eq!(c.expires, Some(day("2025-12-31")));
    assert_eq!(c.revoked, None);
    assert_eq!(c.state(now()), ConsentState::Active);
    assert!(c.names(&nid(NURSE)));
    assert!(!c.names(&nid(STRANGER)));
    // The purpose is trimmed; recipients too.
    let c = Consent::new(
        id(1),
        ins(PATIENT),
        &[" 810002000015 "],
        "  Avis  ",
        None,
        now(),
    )
    .unwrap();
    assert_eq!(c.purpose, "Avis");
    assert_eq!(c.recipients, vec![nid(CARDIOLOGIST)]);
}

#[test]
fn a_consent_needs_recipients_each_valid_and_named_once() {
    let new = |to: &[&str]| Consent::new(id(1), ins(PATIENT), to, PURPOSE, None, now());
    assert_eq!(new(&[]).unwrap_err(), ConsentError::NoRecipient);
    assert_eq!(
        new(&[CARDIOLOGIST, "899700075065"]).unwrap_err(),
        ConsentError::Recipient {
            position: 2,
            source: NationalIdError::RppsCheckDigit
        }
    );
    assert_eq!(
        new(&[""]).unwrap_err(),
        ConsentError::Recipient {
            position: 1,
            source: NationalIdError::Empty
        }
    );
    assert_eq!(
        new(&[CARDIOLOGIST, NURSE, CARDIOLOGIST]).unwrap_err(),
        ConsentError::DuplicateRecipient {
            recipient: nid(CARDIOLOGIST)
        }
    );
    let many: Vec<String> = (0..=MAX_RECIPIENTS).map(|i| format!("3{i:05}")).collect();
    assert_eq!(
        Consent::new(id(1), ins(PATIENT), &many, PURPOSE, None, now()).unwrap_err(),
        ConsentError::TooManyRecipients {
            count: MAX_RECIPIENTS + 1
        }
    );
    let most = &many[..MAX_RECIPIENTS];
    assert!(Consent::new(id(1), ins(PATIENT), most, PURPOSE, None, now()).is_ok());
}

#[test]
fn a_consent_needs_a_short_plain_purpose() {
    let new = |purpose: &str| Consent::new(id(1), ins(PATIENT), &[NURSE], purpose, None, now());
    assert_eq!(new("").unwrap_err(), ConsentError::PurposeEmpty);
    assert_eq!(new(" \t ").unwrap_err(), ConsentError::PurposeEmpty);
    assert_eq!(
        new(&"a".repeat(MAX_PURPOSE_LEN + 1)).unwrap_err(),
        ConsentError::PurposeTooLong {
            len: MAX_PURPOSE_LEN + 1
        }
    );
    // Bytes, not characters: 513 × "é" is 1026 bytes.
    assert_eq!(
        new(&"é".repeat(513)).unwrap_err(),
        ConsentError::PurposeTooLong { len: 1026 }
    );
    assert!(new(&"a".repeat(MAX_PURPOSE_LEN)).is_ok());
    assert_eq!(new("Avis\nx").unwrap_err(), ConsentError::PurposeControl);
    assert_eq!(
        new("Avis \u{1b}[2J").unwrap_err(),
        ConsentError::PurposeControl
    );
}

#[test]
fn a_consent_cannot_expire_before_today_in_paris() {
    let new = |expires: &str, when: UnixTime| {
        Consent::new(
            id(1),
            ins(PATIENT),
            &[NURSE],
            PURPOSE,
            Some(day(expires)),
            when,
        )
    };
    assert_eq!(
        new("2025-06-14", now()).unwrap_err(),
        ConsentError::ExpiresInPast {
            on: day("2025-06-14")
        }
    );
    assert!(new("2025-06-15", now()).is_ok(), "today is allowed");
    // 23:30 on 14 June UTC is already 15 June in Paris (CEST).
    assert_eq!(
        new("2025-06-14", at("2025-06-14T22:30:00Z")).unwrap_err(),
        ConsentError::ExpiresInPast {
            on: day("2025-06-14")
        }
    );
    assert!(new("2025-06-14", at("2025-06-14T21:59:59Z")).is_ok());
    assert_eq!(
        new("2025-06-14", UnixTime::from_secs(i64::MAX)).unwrap_err(),
        ConsentError::ClockOutOfRange
    );
}

#[test]
fn a_care_team_record_cannot_say_the_patient_is_informed_after_today() {
    let t = care_team("2025-06-15");
    assert_eq!(t.informed_on, day("2025-06-15"));
    assert_eq!(t.recorded_at, now());
    assert_eq!(t.recipients, vec![nid(NURSE)]);
    assert!(care_team("2020-01-01").names(&nid(NURSE)));
    assert_eq!(
        CareTeamRecord::new(id(2), ins(PATIENT), &[NURSE], day("2025-06-16"), now()).unwrap_err(),
        ConsentError::InformedInFuture {
            on: day("2025-06-16")
        }
    );
    let new = |to: &[&str]| CareTeamRecord::new(id(2), ins(PATIENT), to, day("2025-06-01"), now());
    assert_eq!(new(&[]).unwrap_err(), ConsentError::NoRecipient);
    assert_eq!(
        new(&[NURSE, NURSE]).unwrap_err(),
        ConsentError::DuplicateRecipient {
            recipient: nid(NURSE)
        }
    );
    assert!(matches!(
        new(&["8123"]).unwrap_err(),
        ConsentError::Recipient { position: 1, .. }
    ));
}

// ---- the share decision: each refusal ---------------------------------

#[test]
fn a_valid_basis_allows_the_share() {
    let c = consent(Some("2025-06-30"));
    assert_eq!(
        check(ShareBasis::Consent(&c), PATIENT, CARDIOLOGIST, now()),
        Ok(())
    );
    assert_eq!(
        check(ShareBasis::Consent(&c), PATIENT, NURSE, now()),
        Ok(())
    );
    let unlimited = consent(None);
    let in_ten_years = at("2035-06-15T10:00:00Z");
    assert_eq!(
        check(
            ShareBasis::Consent(&unlimited),
            PATIENT,
            NURSE,
            in_ten_years
        ),
        Ok(())
    );
    let t = care_team("2025-06-01");
    assert_eq!(
        check(ShareBasis::CareTeam(&t), PATIENT, NURSE, now()),
        Ok(())
    );
}

#[test]
fn an_approval_names_what_was_checked() {
    let c = consent(Some("2025-06-30"));
    let approval = check_share(
        &ShareBasis::Consent(&c),
        &ins(PATIENT),
        &nid(CARDIOLOGIST),
        now(),
    )
    .unwrap();
    assert_eq!(approval.kind(), ShareBasisKind::Consent);
    assert_eq!(approval.basis_id(), c.id);
    assert_eq!(approval.patient(), &ins(PATIENT));
    assert_eq!(approval.recipient(), &nid(CARDIOLOGIST));
    assert_eq!(approval.at(), now());
    let t = care_team("2025-06-01");
    let approval =
        check_share(&ShareBasis::CareTeam(&t), &ins(PATIENT), &nid(NURSE), now()).unwrap();
    assert_eq!(approval.kind(), ShareBasisKind::CareTeam);
    assert_eq!(approval.basis_id(), t.id);
    assert_eq!(approval.recipient(), &nid(NURSE));
    // Its `Debug` does not print the patient.
    let shown = format!("{approval:?}");
    assert!(!shown.contains(PATIENT), "{shown}");
}

#[test]
fn refused_wrong_patient() {
    let c = consent(None);
    assert_eq!(
        check(ShareBasis::Consent(&c), OTHER_PATIENT, NURSE, now()),
        Err(ShareRefusal::WrongPatient)
    );
    let t = care_team("2025-06-01");
    assert_eq!(
        check(ShareBasis::CareTeam(&t), OTHER_PATIENT, NURSE, now()),
        Err(ShareRefusal::WrongPatient)
    );
}

#[test]
fn refused_recipient_not_named() {
    let c = consent(None);
    assert_eq!(
        check(ShareBasis::Consent(&c), PATIENT, STRANGER, now()),
        Err(ShareRefusal::RecipientNotNamed)
    );
    let t = care_team("2025-06-01");
    assert_eq!(
        check(ShareBasis::CareTeam(&t), PATIENT, CARDIOLOGIST, now()),
        Err(ShareRefusal::RecipientNotNamed)
    );
}

#[test]
fn refused_expired_after_the_last_day_in_paris() {
    let c = consent(Some("2025-06-30"));
    let basis = ShareBasis::Consent(&c);
    // 30 June 23:59:59 in Paris (CEST) is 21:59:59 UTC: still covered.
    assert_eq!(
        check(basis, PATIENT, NURSE, at("2025-06-30T21:59:59Z")),
        Ok(())
    );
    assert_eq!(
        check(basis, PATIENT, NURSE, at("2025-06-30T22:00:00Z")),
        Err(ShareRefusal::Expired {
            on: day("2025-06-30")
        })
    );
    assert_eq!(c.state(at("2025-06-30T21:59:59Z")), ConsentState::Active);
    assert_eq!(c.state(at("2025-06-30T22:00:00Z")), ConsentState::Expired);
    // In winter the day ends at 23:00 UTC.
    let w = Consent::new(
        id(1),
        ins(PATIENT),
        &[NURSE],
        PURPOSE,
        Some(day("2025-12-31")),
        now(),
    )
    .unwrap();
    let wb = ShareBasis::Consent(&w);
    assert_eq!(
        check(wb, PATIENT, NURSE, at("2025-12-31T22:59:59Z")),
        Ok(())
    );
    assert_eq!(
        check(wb, PATIENT, NURSE, at("2025-12-31T23:00:00Z")),
        Err(ShareRefusal::Expired {
            on: day("2025-12-31")
        })
    );
}

#[test]
fn refused_revoked() {
    let mut c = consent(None);
    let when = at("2025-06-20T08:00:00Z");
    c.revoke(when, Some("La patiente retire son consentement"))
        .unwrap();
    assert_eq!(
        check(
            ShareBasis::Consent(&c),
            PATIENT,
            NURSE,
            at("2025-06-20T08:00:01Z")
        ),
        Err(ShareRefusal::Revoked { at: when })
    );
    assert_eq!(c.state(when), ConsentState::Revoked);
}

#[test]
fn refused_informed_in_future() {
    // A record made later than the share is checked (a clock set back, or
    // a record from elsewhere): the patient was not yet informed.
    let t = care_team("2025-06-10");
    assert_eq!(
        check(
            ShareBasis::CareTeam(&t),
            PATIENT,
            NURSE,
            at("2025-06-09T10:00:00Z")
        ),
        Err(ShareRefusal::InformedInFuture {
            on: day("2025-06-10")
        })
    );
    // From midnight in Paris on that day, it allows the share.
    assert_eq!(
        check(
            ShareBasis::CareTeam(&t),
            PATIENT,
            NURSE,
            at("2025-06-09T22:00:00Z")
        ),
        Ok(())
    );
}

#[test]
fn refused_when_the_clock_is_out_of_range() {
    let far = UnixTime::from_secs(i64::MAX);
    let c = consent(Some("2025-06-30"));
    assert_eq!(
        check(ShareBasis::Consent(&c), PATIENT, NURSE, far),
        Err(ShareRefusal::ClockOutOfRange)
    );
    assert_eq!(c.state(far), ConsentState::Expired);
    let t = care_team("2025-06-10");
    assert_eq!(
        check(ShareBasis::CareTeam(&t), PATIENT, NURSE, far),
        Err(ShareRefusal::ClockOutOfRange)
    );
}

#[test]
fn the_first_failing_check_is_the_answer() {
    let mut c = consent(Some("2025-06-30"));
    let later = at("2025-07-10T10:00:00Z");
    // Expired and recipient not named: expired.
    assert_eq!(
        check(ShareBasis::Consent(&c), PATIENT, STRANGER, later),
        Err(ShareRefusal::Expired {
            on: day("2025-06-30")
        })
    );
    c.revoke(now(), None).unwrap();
    // Revoked and expired: revoked.
    assert_eq!(
        check(ShareBasis::Consent(&c), PATIENT, NURSE, later),
        Err(ShareRefusal::Revoked { at: now() })
    );
    // Another patient: that first.
    assert_eq!(
        check(ShareBasis::Consent(&c), OTHER_PATIENT, STRANGER, later),
        Err(ShareRefusal::WrongPatient)
    );
}

#[test]
fn the_basis_tells_its_id_patient_and_recipients() {
    let c = consent(None);
    let t = care_team("2025-06-01");
    assert_eq!(ShareBasis::Consent(&c).id(), id(1));
    assert_eq!(ShareBasis::CareTeam(&t).id(), id(2));
    assert_eq!(ShareBasis::CareTeam(&t).patient_ins(), &ins(PATIENT));
    assert_eq!(ShareBasis::Consent(&c).recipients().len(), 2);
}

// ---- revocation -------------------------------------------------------

#[test]
fn a_consent_is_revoked_once() {
    let mut c = consent(None);
    c.revoke(now(), Some("  ")).unwrap();
    let r = c.revoked.clone().unwrap();
    assert_eq!(r.at, now());
    assert_eq!(r.reason, None, "an empty reason is no reason");
    assert_eq!(
        c.revoke(at("2025-06-16T10:00:00Z"), Some("again")),
        Err(ConsentError::AlreadyRevoked { at: now() })
    );
    assert_eq!(c.revoked, Some(r), "a refused revocation changes nothing");

    let mut c = consent(None);
    assert_eq!(
        c.revoke(now(), Some(&"x".repeat(MAX_REASON_LEN + 1))),
        Err(ConsentError::ReasonTooLong {
            len: MAX_REASON_LEN + 1
        })
    );
    assert_eq!(
        c.revoke(now(), Some("a\u{7}b")),
        Err(ConsentError::ReasonControl)
    );
    assert_eq!(c.revoked, None);
    c.revoke(now(), Some(" Retrait oral ")).unwrap();
    assert_eq!(c.revoked.unwrap().reason.as_deref(), Some("Retrait oral"));
}

// ---- stored form ------------------------------------------------------

#[test]
fn records_round_trip_through_their_stored_form() {
    let mut c = consent(Some("2025-06-30"));
    assert_eq!(Consent::decode(&c.encode().unwrap()).unwrap(), c);
    c.revoke(now(), Some("Retrait")).unwrap();
    assert_eq!(Consent::decode(&c.encode().unwrap()).unwrap(), c);
    c.revoked.as_mut().unwrap().reason = None;
    assert_eq!(Consent::decode(&c.encode().unwrap()).unwrap(), c);
    let unlimited = consent(None);
    assert_eq!(
        Consent::decode(&unlimited.encode().unwrap()).unwrap(),
        unlimited
    );
    let t = care_team("2025-06-01");
    assert_eq!(CareTeamRecord::decode(&t.encode().unwrap()).unwrap(), t);
    // A consent whose last day passed is still read back.
    let old = consent(Some("2025-06-15"));
    assert_eq!(Consent::decode(&old.encode().unwrap()).unwrap(), old);
}

#[test]
fn damaged_stored_forms_are_refused() {
    let c = consent(Some("2025-06-30"));
    let bytes = c.encode().unwrap();
    for n in 0..bytes.len() {
        assert!(Consent::decode(&bytes[..n]).is_err(), "truncated at {n}");
    }
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(
        Consent::decode(&long),
        Err(ConsentError::Malformed(DecodeError::Trailing))
    );
    let t = care_team("2025-06-01").encode().unwrap();
    assert_eq!(
        Consent::decode(&t),
        Err(ConsentError::Malformed(DecodeError::UnknownTag(2)))
    );
    assert_eq!(
        CareTeamRecord::decode(&bytes),
        Err(ConsentError::Malformed(DecodeError::UnknownTag(1)))
    );
    let mut v2 = bytes.clone();
    v2[1] = 2;
    assert_eq!(
        Consent::decode(&v2),
        Err(ConsentError::Malformed(DecodeError::Version(2)))
    );
    // The INS key is checked: change the last digit of the stored INS.
    let mut bad_ins = bytes;
    let ins_end = 2 + 16 + 1 + 15 - 1;
    bad_ins[ins_end] = if bad_ins[ins_end] == b'0' { b'1' } else { b'0' };
    assert!(matches!(
        Consent::decode(&bad_ins),
        Err(ConsentError::Ins(_))
    ));
    // The same recipient twice is refused on reading too.
    let mut dup = consent(None);
    dup.recipients = vec![nid(NURSE), nid(CARDIOLOGIST)];
    let mut raw = dup.encode().unwrap();
    let (a, b) = (NURSE.as_bytes(), CARDIOLOGIST.as_bytes());
    let pos = raw.windows(b.len()).position(|w| w == b).unwrap();
    raw[pos..pos + b.len()].copy_from_slice(a);
    assert_eq!(
        Consent::decode(&raw),
        Err(ConsentError::DuplicateRecipient {
            recipient: nid(NURSE)
        })
    );
    // An invalid day.
    let mut bad_day = care_team("2025-06-01").encode().unwrap();
    let day_at = bad_day.len() - 8 - 1;
    bad_day[day_at] = 31;
    bad_day[day_at - 1] = 2;
    assert_eq!(
        CareTeamRecord::decode(&bad_day),
        Err(ConsentError::DateOutOfRange)
    );
}

#[test]
fn a_record_built_field_by_field_is_checked_before_encoding() {
    let mut c = consent(None);
    c.recipients.clear();
    assert_eq!(c.encode(), Err(ConsentError::NoRecipient));
    let mut c = consent(None);
    c.purpose = String::new();
    assert_eq!(c.encode(), Err(ConsentError::PurposeEmpty));
    let mut t = care_team("2025-06-01");
    t.recipients.push(nid(NURSE));
    assert!(matches!(
        t.encode(),
        Err(ConsentError::DuplicateRecipient { .. })
    ));
}

// ---- ids, days, and what is printed ------------------------------------

#[test]
fn record_ids_are_32_hex_digits() {
    let r = RecordId::random().unwrap();
    assert_ne!(r, RecordId::random().unwrap());
    let text = r.to_string();
    assert_eq!(text.len(), 32);
    assert_eq!(RecordId::parse_hex(&text).unwrap(), r);
    assert_eq!(RecordId::parse_hex(&text.to_uppercase()).unwrap(), r);
    assert!(RecordId::parse_hex(&text[..31]).is_err());
    assert!(RecordId::parse_hex(&format!("{}g", &text[..31])).is_err());
    assert_eq!(
        format!("{:?}", id(0xab)),
        format!("RecordId({})", "ab".repeat(16))
    );
}

#[test]
fn days_are_written_yyyy_mm_dd() {
    assert_eq!(format_date(day("2025-06-30")), "2025-06-30");
    assert!(parse_date("30/06/2025").is_err());
    assert!(parse_date("2025-02-29").is_err());
}

#[test]
fn nothing_prints_the_ins_or_the_texts() {
    let mut c = consent(Some("2025-06-30"));
    c.revoke(now(), Some("Motif: Zoé QUIDAM déménage")).unwrap();
    let t = care_team("2025-06-01");
    let printed = format!("{c:?} {t:?} {:?} {:?}", ShareBasis::Consent(&c), c.revoked);
    for secret in [PATIENT, "2690549", "QUIDAM", "Avis"] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
    assert!(printed.contains(&id(1).to_string()), "{printed}");
    assert!(printed.contains(NURSE), "{printed}");
    assert!(printed.contains("2025-06-30"), "{printed}");

    let refusals = [
        ShareRefusal::WrongPatient,
        ShareRefusal::RecipientNotNamed,
        ShareRefusal::Expired {
            on: day("2025-06-30"),
        },
        ShareRefusal::Revoked { at: now() },
        ShareRefusal::InformedInFuture {
            on: day("2025-06-30"),
        },
        ShareRefusal::ClockOutOfRange,
    ];
    for r in refusals {
        let msg = format!("{r} {r:?}");
        assert!(!msg.contains("2690549"), "{msg}");
    }
    assert_eq!(
        ShareRefusal::Expired {
            on: day("2025-06-30")
        }
        .to_string(),
        "the consent expired at the end of 2025-06-30"
    );
    let mut bad = c.encode().unwrap();
    let ins_end = 2 + 16 + 1 + 15 - 1;
    bad[ins_end] ^= 1;
    let e = Consent::decode(&bad).unwrap_err();
    assert!(!format!("{e} {e:?}").contains("2690549"), "{e:?}");
}
