//! Consent policy: the node's consents and care-team records (French
//! public health code, art. L1110-4), and the check every send goes
//! through.
//!
//! The decision itself is the protocol's ([`check_share`]); this module
//! keeps the records and finds the one a send cites.
//!
//! Storage: in the store's [`Tree::Meta`], sealed like every record, under
//!
//! ```text
//! consent/<32 hex digits>    a consent          (Consent::encode, in hex)
//! careteam/<32 hex digits>   a care-team record (CareTeamRecord::encode, in hex)
//! ```
//!
//! Records are found by their full id or by a unique prefix of at least
//! [`MIN_ID_PREFIX`] hex digits (what `confrere consent list` shows).
//!
//! Durability: the functions here write to the store but do not flush; a
//! write is durable after the caller's [`Store::flush`] (the daemon
//! flushes before it answers). A revocation only marks the consent
//! revoked: the revocation notices to the practitioners who received
//! dossiers under it are sent by the daemon.
//!
//! Flow of a send (in the daemon): [`check_send`] with the `--consent` or
//! `--care-team` id of the request, the patient's INS and the recipient.
//! Allowed, it returns a [`CheckedShare`]: the proof the protocol's
//! decision gave, which only it makes, and which queuing a dossier takes.
//! The outbox record keeps the record it cites as a [`QueuedBasis`], which
//! [`still_allows`] checks again before each delivery; the ledger entry
//! cites it too ([`CheckedShare::ledger_basis`]).

mod error;

use std::fmt;
use std::sync::Mutex;

use confrere_protocol::consent::{
    check_share, parse_date, CareTeamRecord, Consent, ConsentError, ConsentState, RecordId,
    ShareApproval, ShareBasis, ShareBasisKind, ShareRefusal,
};
use confrere_protocol::dossier::Ins;
use confrere_protocol::{NationalId, UnixTime};
use serde::{Deserialize, Serialize};
use time::Date;

pub use error::PolicyError;

use crate::store::{Store, Tree};

/// Key prefix of consents in [`Tree::Meta`].
pub const CONSENT_PREFIX: &[u8] = b"consent/";
/// Key prefix of care-team records in [`Tree::Meta`].
pub const CARE_TEAM_PREFIX: &[u8] = b"careteam/";
/// Shortest id prefix that names a record.
pub const MIN_ID_PREFIX: usize = 8;

/// Serializes read-modify-write of records (a revocation), so that two
/// revocations of one consent cannot both succeed.
static WRITES: Mutex<()> = Mutex::new(());

/// The kind of record a share may cite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BasisKind {
    /// A patient's consent.
    Consent,
    /// An exchange within the care team, the patient informed.
    CareTeam,
}

impl BasisKind {
    /// `consent` or `care_team` (for JSON and the ledger).
    pub fn as_str(self) -> &'static str {
        match self {
            BasisKind::Consent => "consent",
            BasisKind::CareTeam => "care_team",
        }
    }

    fn prefix(self) -> &'static [u8] {
        match self {
            BasisKind::Consent => CONSENT_PREFIX,
            BasisKind::CareTeam => CARE_TEAM_PREFIX,
        }
    }
}

impl fmt::Display for BasisKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BasisKind::Consent => "consent",
            BasisKind::CareTeam => "care-team record",
        })
    }
}

impl From<ShareBasisKind> for BasisKind {
    fn from(kind: ShareBasisKind) -> Self {
        match kind {
            ShareBasisKind::Consent => BasisKind::Consent,
            ShareBasisKind::CareTeam => BasisKind::CareTeam,
        }
    }
}

/// The record a send cites: its kind and id, as errors and the ledger name
/// it. Made here only, from a record read from the store; it is not read
/// back from bytes (a queued dossier keeps a [`QueuedBasis`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CitedBasis {
    kind: BasisKind,
    id: RecordId,
}

impl CitedBasis {
    /// Consent or care-team record.
    pub fn kind(&self) -> BasisKind {
        self.kind
    }

    /// Its id.
    pub fn id(&self) -> RecordId {
        self.id
    }
}

/// A send allowed by the record it cites: the protocol's
/// [`ShareApproval`], for the record found by the id the send gave. Only
/// [`check_send`] makes one (private fields, no constructor, not read
/// from bytes); queuing a dossier takes one, so a send without a checked
/// basis does not compile.
///
/// ```compile_fail
/// use confrere_node::consent::CheckedShare;
/// fn forge(approval: confrere_protocol::consent::ShareApproval) -> CheckedShare {
///     CheckedShare { approval }
/// }
/// ```
///
/// Nor read from bytes:
///
/// ```compile_fail
/// use confrere_node::consent::CheckedShare;
/// fn forge(stored: &str) -> CheckedShare {
///     serde_json::from_str(stored).expect("a checked share")
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a checked share is the proof a dossier may be queued"]
pub struct CheckedShare {
    approval: ShareApproval,
}

impl CheckedShare {
    /// What the protocol checked: the record, the patient, the recipient
    /// and when.
    pub fn approval(&self) -> &ShareApproval {
        &self.approval
    }

    /// The record the send cites.
    pub fn cited(&self) -> CitedBasis {
        CitedBasis {
            kind: self.approval.kind().into(),
            id: self.approval.basis_id(),
        }
    }

    /// The form the outbox record keeps, for the check before delivery.
    pub fn queued(&self) -> QueuedBasis {
        QueuedBasis {
            kind: self.approval.kind().into(),
            id: self.approval.basis_id(),
        }
    }

    /// The basis the ledger's `dossier_sent` entry names.
    pub fn ledger_basis(&self) -> confrere_protocol::ledger::ShareBasis {
        match self.approval.kind() {
            ShareBasisKind::Consent => {
                confrere_protocol::ledger::ShareBasis::Consent(self.approval.basis_id().0)
            }
            ShareBasisKind::CareTeam => {
                confrere_protocol::ledger::ShareBasis::CareTeam(self.approval.basis_id().0)
            }
        }
    }
}

/// The record a queued dossier's send cited, as its outbox record keeps
/// it: `{"kind": "consent" | "care_team", "id": "<32 hex digits>"}`. Made
/// in code only from a [`CheckedShare`]; read back from the store, it
/// proves nothing by itself: [`still_allows`] checks again that the record
/// allows the send before each delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QueuedBasis {
    kind: BasisKind,
    #[serde(with = "record_id_hex")]
    id: RecordId,
}

impl QueuedBasis {
    /// Consent or care-team record.
    pub fn kind(&self) -> BasisKind {
        self.kind
    }

    /// Its id.
    pub fn id(&self) -> RecordId {
        self.id
    }

    fn cited(&self) -> CitedBasis {
        CitedBasis {
            kind: self.kind,
            id: self.id,
        }
    }
}

/// A [`RecordId`] as its 32 hex digits in serde formats.
mod record_id_hex {
    use confrere_protocol::consent::RecordId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(id: &RecordId, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RecordId, D::Error> {
        let text = String::deserialize(d)?;
        RecordId::parse_hex(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for CitedBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.id)
    }
}

/// A record read from the store, that a share may cite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedBasis {
    /// A consent.
    Consent(Consent),
    /// A care-team record.
    CareTeam(CareTeamRecord),
}

impl OwnedBasis {
    /// The record, as the protocol's decision takes it.
    pub fn as_basis(&self) -> ShareBasis<'_> {
        match self {
            OwnedBasis::Consent(c) => ShareBasis::Consent(c),
            OwnedBasis::CareTeam(t) => ShareBasis::CareTeam(t),
        }
    }

    /// Its kind and id.
    fn cited(&self) -> CitedBasis {
        match self {
            OwnedBasis::Consent(c) => CitedBasis {
                kind: BasisKind::Consent,
                id: c.id,
            },
            OwnedBasis::CareTeam(t) => CitedBasis {
                kind: BasisKind::CareTeam,
                id: t.id,
            },
        }
    }
}

fn record_key(kind: BasisKind, id: &RecordId) -> Vec<u8> {
    let mut key = kind.prefix().to_vec();
    key.extend_from_slice(id.to_string().as_bytes());
    key
}

fn invalid(kind: BasisKind) -> impl Fn(ConsentError) -> PolicyError {
    move |source| PolicyError::Invalid { kind, source }
}

fn put(store: &Store, kind: BasisKind, id: &RecordId, encoded: &[u8]) -> Result<(), PolicyError> {
    store.put(Tree::Meta, &record_key(kind, id), &hex::encode(encoded))?;
    Ok(())
}

/// Finds the stored form of the record `given` names (full id or unique
/// prefix): its id as stored and its bytes.
fn find(store: &Store, kind: BasisKind, given: &str) -> Result<(String, Vec<u8>), PolicyError> {
    let given = given.trim().to_ascii_lowercase();
    let well_formed = (MIN_ID_PREFIX..=RecordId::HEX_LEN).contains(&given.len())
        && given.bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed {
        return Err(PolicyError::BadId { kind });
    }
    let mut key = kind.prefix().to_vec();
    key.extend_from_slice(given.as_bytes());
    let mut found: Vec<(Vec<u8>, String)> = if given.len() == RecordId::HEX_LEN {
        store
            .get::<String>(Tree::Meta, &key)?
            .map(|v| vec![(key, v)])
            .unwrap_or_default()
    } else {
        store.scan_prefix::<String>(Tree::Meta, &key)?
    };
    let (key, value) = match found.len() {
        0 => return Err(PolicyError::NotFound { kind, id: given }),
        1 => found.remove(0),
        _ => {
            return Err(PolicyError::Ambiguous {
                kind,
                prefix: given,
            })
        }
    };
    let id = String::from_utf8_lossy(&key[kind.prefix().len()..]).into_owned();
    let bytes = hex::decode(&value).map_err(|_| PolicyError::Damaged {
        kind,
        id: id.clone(),
        source: ConsentError::Malformed(confrere_protocol::codec::DecodeError::Invalid(
            "the stored record is not hex",
        )),
    })?;
    Ok((id, bytes))
}

fn decode_consent(id: &str, bytes: &[u8]) -> Result<Consent, PolicyError> {
    let damaged = |source| PolicyError::Damaged {
        kind: BasisKind::Consent,
        id: id.to_owned(),
        source,
    };
    let consent = Consent::decode(bytes).map_err(damaged)?;
    if consent.id.to_string() != id {
        return Err(damaged(ConsentError::Malformed(
            confrere_protocol::codec::DecodeError::Invalid("the record is stored under another id"),
        )));
    }
    Ok(consent)
}

fn decode_care_team(id: &str, bytes: &[u8]) -> Result<CareTeamRecord, PolicyError> {
    let damaged = |source| PolicyError::Damaged {
        kind: BasisKind::CareTeam,
        id: id.to_owned(),
        source,
    };
    let record = CareTeamRecord::decode(bytes).map_err(damaged)?;
    if record.id.to_string() != id {
        return Err(damaged(ConsentError::Malformed(
            confrere_protocol::codec::DecodeError::Invalid("the record is stored under another id"),
        )));
    }
    Ok(record)
}

/// Every stored record of `kind`, decoded, with its id.
fn scan_all(store: &Store, kind: BasisKind) -> Result<Vec<(String, Vec<u8>)>, PolicyError> {
    store
        .scan_prefix::<String>(Tree::Meta, kind.prefix())?
        .into_iter()
        .map(|(key, value)| {
            let id = String::from_utf8_lossy(&key[kind.prefix().len()..]).into_owned();
            let bytes = hex::decode(&value).map_err(|_| PolicyError::Damaged {
                kind,
                id: id.clone(),
                source: ConsentError::Malformed(confrere_protocol::codec::DecodeError::Invalid(
                    "the stored record is not hex",
                )),
            })?;
            Ok((id, bytes))
        })
        .collect()
}

/// Records a new consent of `patient_ins`, granted at `now` (see
/// [`Consent::new`] for the rules), under a fresh random id.
pub fn grant<S: AsRef<str>>(
    store: &Store,
    patient_ins: Ins,
    recipients: &[S],
    purpose: &str,
    expires: Option<Date>,
    now: UnixTime,
) -> Result<Consent, PolicyError> {
    let id = RecordId::random().map_err(|_| PolicyError::Random)?;
    let consent = Consent::new(id, patient_ins, recipients, purpose, expires, now)
        .map_err(invalid(BasisKind::Consent))?;
    let encoded = consent.encode().map_err(invalid(BasisKind::Consent))?;
    put(store, BasisKind::Consent, &id, &encoded)?;
    Ok(consent)
}

/// Removes a consent or care-team record that was stored but whose ledger
/// entry could not be written, so that it allows nothing from now on. The
/// removal reaches the disk with the store's next flush (at once if there
/// is room).
pub fn discard_unrecorded(
    store: &Store,
    kind: BasisKind,
    id: &RecordId,
) -> Result<(), PolicyError> {
    store.remove(Tree::Meta, &record_key(kind, id))?;
    if let Err(e) = store.flush() {
        tracing::warn!(error = %e, "the removal of a record without its ledger entry waits for the next flush");
    }
    Ok(())
}

/// The consents, newest first; only those of `patient` if given.
pub fn list(store: &Store, patient: Option<&Ins>) -> Result<Vec<Consent>, PolicyError> {
    let mut consents = scan_all(store, BasisKind::Consent)?
        .iter()
        .map(|(id, bytes)| decode_consent(id, bytes))
        .filter(|c| match (c, patient) {
            (Ok(c), Some(p)) => &c.patient_ins == p,
            _ => true,
        })
        .collect::<Result<Vec<_>, _>>()?;
    consents.sort_by(|a, b| b.granted_at.cmp(&a.granted_at).then(a.id.cmp(&b.id)));
    Ok(consents)
}

/// The consent `id` names (full id or unique prefix).
pub fn get(store: &Store, id: &str) -> Result<Consent, PolicyError> {
    let (id, bytes) = find(store, BasisKind::Consent, id)?;
    decode_consent(&id, &bytes)
}

/// Marks the consent `id` names as revoked at `now`, with an optional
/// reason, and returns it. Refuses an unknown id and a consent already
/// revoked.
///
/// Only the record changes here: no new send is allowed under it from now
/// on. The revocation notices to the practitioners who received dossiers
/// under it are sent by the daemon.
pub fn revoke(
    store: &Store,
    id: &str,
    reason: Option<&str>,
    now: UnixTime,
) -> Result<Consent, PolicyError> {
    let _guard = WRITES.lock().unwrap_or_else(|p| p.into_inner());
    let mut consent = get(store, id)?;
    consent.revoke(now, reason).map_err(|e| match e {
        ConsentError::AlreadyRevoked { at } => PolicyError::AlreadyRevoked {
            id: consent.id.to_string(),
            at,
        },
        other => PolicyError::Invalid {
            kind: BasisKind::Consent,
            source: other,
        },
    })?;
    let encoded = consent.encode().map_err(invalid(BasisKind::Consent))?;
    put(store, BasisKind::Consent, &consent.id, &encoded)?;
    Ok(consent)
}

/// Records that the patient was informed on `informed_on` of exchanges
/// with `recipients` within their care team (see [`CareTeamRecord::new`]),
/// under a fresh random id.
pub fn record_care_team<S: AsRef<str>>(
    store: &Store,
    patient_ins: Ins,
    recipients: &[S],
    informed_on: Date,
    now: UnixTime,
) -> Result<CareTeamRecord, PolicyError> {
    let id = RecordId::random().map_err(|_| PolicyError::Random)?;
    let record = CareTeamRecord::new(id, patient_ins, recipients, informed_on, now)
        .map_err(invalid(BasisKind::CareTeam))?;
    let encoded = record.encode().map_err(invalid(BasisKind::CareTeam))?;
    put(store, BasisKind::CareTeam, &id, &encoded)?;
    Ok(record)
}

/// The care-team record `id` names (full id or unique prefix).
pub fn get_care_team(store: &Store, id: &str) -> Result<CareTeamRecord, PolicyError> {
    let (id, bytes) = find(store, BasisKind::CareTeam, id)?;
    decode_care_team(&id, &bytes)
}

/// The care-team records, newest first; only those of `patient` if given.
pub fn list_care_team(
    store: &Store,
    patient: Option<&Ins>,
) -> Result<Vec<CareTeamRecord>, PolicyError> {
    let mut records = scan_all(store, BasisKind::CareTeam)?
        .iter()
        .map(|(id, bytes)| decode_care_team(id, bytes))
        .filter(|t| match (t, patient) {
            (Ok(t), Some(p)) => &t.patient_ins == p,
            _ => true,
        })
        .collect::<Result<Vec<_>, _>>()?;
    records.sort_by(|a, b| b.recorded_at.cmp(&a.recorded_at).then(a.id.cmp(&b.id)));
    Ok(records)
}

/// The record a send cites: exactly one of a consent id and a care-team
/// record id (full or unique prefix).
pub fn get_basis(
    store: &Store,
    consent: Option<&str>,
    care_team: Option<&str>,
) -> Result<OwnedBasis, PolicyError> {
    match (consent, care_team) {
        (Some(_), Some(_)) => Err(PolicyError::BothBases),
        (None, None) => Err(PolicyError::NoBasis),
        (Some(id), None) => get(store, id).map(OwnedBasis::Consent),
        (None, Some(id)) => get_care_team(store, id).map(OwnedBasis::CareTeam),
    }
}

/// The check of a send: the cited record exists and allows sending
/// `patient`'s dossier to `recipient` at `now` (the protocol's
/// [`check_share`] decides). Returns the proof a dossier is queued with.
pub fn check_send(
    store: &Store,
    consent: Option<&str>,
    care_team: Option<&str>,
    patient: &Ins,
    recipient: &NationalId,
    now: UnixTime,
) -> Result<CheckedShare, PolicyError> {
    let basis = get_basis(store, consent, care_team)?;
    let approval = check_share(&basis.as_basis(), patient, recipient, now).map_err(|refusal| {
        PolicyError::Refused {
            basis: basis.cited(),
            recipient: recipient.clone(),
            refusal,
        }
    })?;
    Ok(CheckedShare { approval })
}

/// Re-checks, when a queued dossier is about to go out, that the record
/// its send cited still allows it: the record is still there and, for a
/// consent, neither revoked nor expired since. (The patient and the
/// recipient were checked by [`check_send`] when the send was queued, and
/// do not change.)
pub fn still_allows(store: &Store, cited: &QueuedBasis, now: UnixTime) -> Result<(), PolicyError> {
    let id = cited.id.to_string();
    match cited.kind {
        BasisKind::Consent => {
            let consent = get(store, &id)?;
            let refusal = match (&consent.revoked, consent.state(now)) {
                (Some(r), _) => ShareRefusal::Revoked { at: r.at },
                (None, ConsentState::Expired) => match consent.expires {
                    Some(on) => ShareRefusal::Expired { on },
                    None => ShareRefusal::ClockOutOfRange,
                },
                (None, _) => return Ok(()),
            };
            Err(PolicyError::NoLongerAllows {
                basis: cited.cited(),
                refusal,
            })
        }
        BasisKind::CareTeam => get_care_team(store, &id).map(|_| ()),
    }
}

/// The patient's INS as typed (spaces around it ignored).
pub fn parse_ins(s: &str) -> Result<Ins, PolicyError> {
    Ok(Ins::parse(s.trim())?)
}

fn parse_day(s: &str, field: &'static str) -> Result<Date, PolicyError> {
    parse_date(s.trim()).map_err(|source| PolicyError::Date { field, source })
}

/// A consent's last day as typed, `YYYY-MM-DD`.
pub fn parse_expiry(s: &str) -> Result<Date, PolicyError> {
    parse_day(s, "the expiry day")
}

/// The day the patient was informed of a care-team exchange, as typed.
pub fn parse_informed_on(s: &str) -> Result<Date, PolicyError> {
    parse_day(s, "the day the patient was informed")
}

/// [`grant`] with the INS and the last day as typed.
pub fn grant_as_typed<S: AsRef<str>>(
    store: &Store,
    patient_ins: &str,
    recipients: &[S],
    purpose: &str,
    expires: Option<&str>,
    now: UnixTime,
) -> Result<Consent, PolicyError> {
    let ins = parse_ins(patient_ins)?;
    let expires = expires.map(parse_expiry).transpose()?;
    grant(store, ins, recipients, purpose, expires, now)
}

/// [`list`] with the patient's INS as typed (none or blank: every consent).
pub fn list_as_typed(
    store: &Store,
    patient_ins: Option<&str>,
) -> Result<Vec<Consent>, PolicyError> {
    let patient = patient_ins
        .filter(|s| !s.trim().is_empty())
        .map(parse_ins)
        .transpose()?;
    list(store, patient.as_ref())
}

/// [`record_care_team`] with the INS and the day as typed.
pub fn record_care_team_as_typed<S: AsRef<str>>(
    store: &Store,
    patient_ins: &str,
    recipients: &[S],
    informed_on: &str,
    now: UnixTime,
) -> Result<CareTeamRecord, PolicyError> {
    let ins = parse_ins(patient_ins)?;
    let informed_on = parse_informed_on(informed_on)?;
    record_care_team(store, ins, recipients, informed_on, now)
}
