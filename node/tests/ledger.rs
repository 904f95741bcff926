//! The ledger over the node's store: appends of every kind, durable across
//! reopening; concurrent appends; recovery after a crash between an entry
//! and its checkpoint; and `verify` after tampering with the store — a
//! changed byte in a sealed record, and, re-sealed with the store's own
//! API, a changed field, a removed entry, swapped entries, a cut-off tail,
//! a removed or forged checkpoint. Each names the first bad entry.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use confrere_node::api::ledger_model::{report, EntryView, VerifyReport};
use confrere_node::fault::{Code, Fault};
use confrere_node::ledger::{
    about_patient, read_checkpoint, read_entries, read_entry, verify_store, write_checkpoint,
    Ledger, LedgerError, HEAD_KEY,
};
use confrere_node::store::{Store, StoreError, StoreKeySource, Tree};
use confrere_protocol::dossier::{DossierId, Ins};
use confrere_protocol::ledger::{
    append_after, ChainError, EntryKind, HeadCheckpoint, LedgerEntry, ShareBasis, SignatureCheck,
};
use confrere_protocol::receipt::{peer_id_from_ed25519_key, NodeSigner};
use confrere_protocol::UnixTime;
use ring::signature::{Ed25519KeyPair, KeyPair};

const GP: &str = "810001000016";
const CARDIOLOGIST: &str = "810001000024";
const INS: &str = "269054958815780";
const OTHER_INS: &str = "184027645108980";
const T0: i64 = 1_709_251_200;

fn key(seed: u8) -> Arc<Ed25519KeyPair> {
    Arc::new(Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).expect("seed"))
}

fn peer_id_of(k: &Ed25519KeyPair) -> Vec<u8> {
    let mut public = [0u8; 32];
    public.copy_from_slice(k.public_key().as_ref());
    peer_id_from_ed25519_key(&public)
}

fn ins(s: &str) -> Ins {
    Ins::parse(s).expect("INS")
}

fn open_store(home: &Path) -> Store {
    Store::open(home, StoreKeySource::KeyFile).expect("store")
}

fn open_ledger(store: &Store, signer: Arc<Ed25519KeyPair>) -> Result<Ledger, LedgerError> {
    Ledger::open(store.clone(), signer, GP, "Jeanne MARTIN")
}

const DOSSIER: DossierId = DossierId([0x22; 16]);
const RECEIVED: DossierId = DossierId([0x55; 16]);

/// Eight entries after the genesis one, of several kinds, about two patients.
fn kinds() -> Vec<EntryKind> {
    vec![
        EntryKind::ConsentGranted {
            consent_id: [0x33; 16],
            patient_ins: ins(INS),
            recipients: vec![CARDIOLOGIST.into()],
            purpose: "Avis cardiologique".into(),
            expires: Some("2025-06-30".into()),
        },
        EntryKind::DossierSent {
            dossier_id: DOSSIER,
            patient_ins: ins(INS),
            to: CARDIOLOGIST.into(),
            basis: ShareBasis::Consent([0x33; 16]),
        },
        EntryKind::DossierDelivered {
            dossier_id: DOSSIER,
            to: CARDIOLOGIST.into(),
            receipt: vec![7; 180],
        },
        EntryKind::DossierReceived {
            dossier_id: RECEIVED,
            patient_ins: ins(OTHER_INS),
            from: CARDIOLOGIST.into(),
            from_name: "Paul DURAND".into(),
        },
        EntryKind::DossierOpened {
            dossier_id: RECEIVED,
            patient_ins: ins(OTHER_INS),
            by: GP.into(),
        },
        EntryKind::DossierExported {
            dossier_id: RECEIVED,
            patient_ins: ins(OTHER_INS),
            files: 2,
        },
        EntryKind::ConsentRevoked {
            consent_id: [0x33; 16],
            reason: "Retrait".into(),
        },
        EntryKind::ErasureReceiptReceived {
            dossier_id: DOSSIER,
            from: CARDIOLOGIST.into(),
            receipt: vec![8; 120],
        },
    ]
}

/// A home whose ledger holds the genesis entry and [`kinds`] (seq 0..=8).
struct Fixture {
    home: tempfile::TempDir,
    peer_id: Vec<u8>,
}

impl Fixture {
    fn new() -> Fixture {
        let home = tempfile::tempdir().expect("tempdir");
        let signer = key(7);
        let peer_id = peer_id_of(&signer);
        {
            let store = open_store(home.path());
            let ledger = open_ledger(&store, signer).expect("open");
            for (i, kind) in kinds().into_iter().enumerate() {
                let e = ledger
                    .append(kind, UnixTime::from_secs(T0 + i as i64))
                    .expect("append");
                assert_eq!(e.seq, i as u64 + 1);
            }
        }
        Fixture { home, peer_id }
    }

    fn store(&self) -> Store {
        open_store(self.home.path())
    }

    /// The verdict of a verification of every signature, which an
    /// anchored verification must give as well.
    fn verify(&self) -> Result<u64, ChainError> {
        let store = self.store();
        let verdict = |mode| match verify_store(&store, &self.peer_id, mode) {
            Ok(Some(s)) => Ok(s.head_seq),
            Ok(None) => panic!("no ledger"),
            Err(LedgerError::Broken(e)) => Err(e),
            Err(e) => panic!("not a chain error: {e}"),
        };
        let every = verdict(SignatureCheck::Every);
        assert_eq!(verdict(SignatureCheck::Anchored), every, "anchored");
        every
    }
}

fn get_entry(store: &Store, seq: u64) -> LedgerEntry {
    read_entry(store, seq).expect("get").expect("present")
}

/// Re-seals `entry` under `seq` with the store's own API (no signing).
fn put_entry(store: &Store, seq: u64, entry: &LedgerEntry) {
    let bytes = entry.encode().expect("encode");
    store
        .put_bytes(Tree::Ledger, &seq.to_be_bytes(), &bytes)
        .expect("put");
    store.flush().expect("flush");
}

#[test]
fn appends_survive_reopening_and_verify() {
    let f = Fixture::new();
    let store = f.store();
    let ledger = open_ledger(&store, key(7)).expect("reopen");
    assert_eq!(ledger.head_seq(), 8);
    let summary = ledger.verify().expect("intact");
    assert_eq!(summary.entries, 9);
    assert_eq!(summary.head_seq, 8);
    assert_eq!(summary.national_id, GP);
    assert_eq!(summary.name, "Jeanne MARTIN");
    let entries = ledger.entries(None).expect("entries");
    assert_eq!(entries.len(), 9);
    assert!(matches!(entries[0].kind, EntryKind::Genesis { .. }));
    for (e, k) in entries[1..].iter().zip(kinds()) {
        assert_eq!(e.kind, k);
    }
    assert_eq!(ledger.entries(Some(6)).expect("since").len(), 3);
    assert_eq!(ledger.entries(Some(99)).expect("since").len(), 0);
    // One more after reopening continues the chain.
    let e = ledger
        .append(
            EntryKind::RetentionPurge {
                dossier_id: RECEIVED,
                patient_ins: ins(OTHER_INS),
            },
            UnixTime::from_secs(T0 + 100),
        )
        .expect("append");
    assert_eq!(e.seq, 9);
    assert_eq!(e.prev_hash, entries[8].hash());
    assert_eq!(ledger.verify().expect("intact").head_seq, 9);
}

#[test]
fn the_patients_entries_are_found_through_their_dossiers_and_consents() {
    let f = Fixture::new();
    let store = f.store();
    let ledger = open_ledger(&store, key(7)).expect("open");
    let mine: Vec<u64> = ledger
        .by_patient(&ins(INS))
        .expect("journal")
        .iter()
        .map(|e| e.seq)
        .collect();
    // Consent, send, delivery, revocation, erasure receipt.
    assert_eq!(mine, vec![1, 2, 3, 7, 8]);
    let other: Vec<u64> = about_patient(ledger.entries(None).expect("all"), &ins(OTHER_INS))
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(other, vec![4, 5, 6]);
    assert!(ledger
        .by_patient(&ins("281022A12345634"))
        .expect("none")
        .is_empty());
}

#[test]
fn a_ledger_of_another_practitioner_or_node_is_refused() {
    let f = Fixture::new();
    let store = f.store();
    match Ledger::open(store.clone(), key(7), CARDIOLOGIST, "Paul DURAND") {
        Err(LedgerError::OtherOwner {
            what: "practitioner",
            found,
        }) => assert_eq!(found, GP),
        other => panic!("{other:?}"),
    }
    match open_ledger(&store, key(8)) {
        Err(LedgerError::OtherOwner {
            what: "node",
            found,
        }) => {
            assert!(found.starts_with("12D3KooW"), "{found}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Ledger::open(store, key(7), "not-an-id!", "X"),
        Err(LedgerError::NationalId(_))
    ));
}

#[test]
fn concurrent_appends_are_serialized_and_all_durable() {
    let home = tempfile::tempdir().expect("tempdir");
    let signer = key(7);
    let peer_id = peer_id_of(&signer);
    let store = open_store(home.path());
    let ledger = open_ledger(&store, signer).expect("open");
    let threads = 8;
    let per_thread = 50;
    let mut seqs: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let ledger = ledger.clone();
                s.spawn(move || {
                    (0..per_thread)
                        .map(|i| {
                            ledger
                                .append(
                                    EntryKind::DossierOpened {
                                        dossier_id: DossierId([t as u8; 16]),
                                        patient_ins: ins(INS),
                                        by: GP.into(),
                                    },
                                    UnixTime::from_secs(T0 + i),
                                )
                                .expect("append")
                                .seq
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    seqs.sort_unstable();
    let expected: Vec<u64> = (1..=threads * per_thread).map(|n| n as u64).collect();
    assert_eq!(seqs, expected);
    drop(ledger);
    drop(store);
    let store = open_store(home.path());
    let summary = verify_store(&store, &peer_id, SignatureCheck::Every)
        .expect("intact")
        .expect("present");
    assert_eq!(summary.head_seq, (threads * per_thread) as u64);
}

#[test]
fn append_async_from_tasks() {
    let home = tempfile::tempdir().expect("tempdir");
    let store = open_store(home.path());
    let ledger = open_ledger(&store, key(7)).expect("open");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let n = rt.block_on(async {
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let ledger = ledger.clone();
                tokio::spawn(async move {
                    ledger
                        .append_async(
                            EntryKind::DossierOpened {
                                dossier_id: DossierId([i; 16]),
                                patient_ins: ins(INS),
                                by: GP.into(),
                            },
                            UnixTime::from_secs(T0),
                        )
                        .await
                })
            })
            .collect();
        let mut n = 0;
        for t in tasks {
            t.await.expect("task").expect("append");
            n += 1;
        }
        let entries = ledger.entries_async(Some(15)).await.expect("entries");
        assert_eq!(entries.len(), 6);
        let report =
            report(ledger.verify_async(SignatureCheck::Every).await.map(Some)).expect("report");
        assert!(report.intact, "{report:?}");
        assert_eq!(report.head_seq, Some(20));
        n
    });
    assert_eq!(n, 20);
}

#[test]
fn entries_written_after_the_last_checkpoint_are_taken_up_on_open() {
    // A crash between an entry and its checkpoint: the entries are there,
    // signed and linked, the checkpoint still names an older head.
    let f = Fixture::new();
    let signer = key(7);
    {
        let store = f.store();
        let head = get_entry(&store, 8);
        let mut prev = (8, head.hash());
        for i in 0..3 {
            let e = append_after(
                Some(prev),
                UnixTime::from_secs(T0 + 50 + i),
                EntryKind::DossierOpened {
                    dossier_id: RECEIVED,
                    patient_ins: ins(OTHER_INS),
                    by: GP.into(),
                },
                signer.as_ref(),
            )
            .expect("entry");
            prev = (e.seq, e.hash());
            put_entry(&store, e.seq, &e);
        }
    }
    assert_eq!(f.verify(), Ok(11), "entries past the checkpoint verify");
    let store = f.store();
    let ledger = open_ledger(&store, signer).expect("open");
    assert_eq!(ledger.head_seq(), 11);
    let cp = read_checkpoint(&store).expect("get").expect("cp");
    assert_eq!(cp.seq, 11);
}

// ----------------------------------------------------------------------------
// Tampering with the store

/// Opens the raw sled database of a home whose store is closed (sled's
/// lock may linger a moment after the last handle is dropped).
fn raw_db(home: &Path) -> sled::Db {
    let start = Instant::now();
    loop {
        match sled::Config::new().path(home.join("store")).open() {
            Ok(db) => return db,
            Err(e) if start.elapsed() < Duration::from_secs(5) => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("cannot open the raw database: {e}"),
        }
    }
}

#[test]
fn a_changed_byte_in_a_sealed_record_is_a_malformed_entry() {
    for at in [0usize, 5, 40, usize::MAX] {
        let f = Fixture::new();
        {
            let db = raw_db(f.home.path());
            let tree = db.open_tree("ledger").expect("tree");
            let key = 4u64.to_be_bytes();
            let mut sealed = tree.get(key).expect("get").expect("present").to_vec();
            let i = at.min(sealed.len() - 1);
            sealed[i] ^= 0x40;
            tree.insert(key, sealed).expect("insert");
            db.flush().expect("flush");
        }
        assert_eq!(
            f.verify(),
            Err(ChainError::Malformed { seq: 4 }),
            "byte {at}"
        );
        let store = f.store();
        match read_entries(&store, None) {
            Err(LedgerError::Broken(ChainError::Malformed { seq: 4 })) => {}
            other => panic!("{other:?}"),
        }
        // Entries after it still show.
        assert_eq!(read_entries(&store, Some(5)).expect("after").len(), 4);
    }
}

#[test]
fn a_record_that_is_not_an_entry_is_malformed() {
    let f = Fixture::new();
    {
        let store = f.store();
        store
            .put_bytes(Tree::Ledger, &2u64.to_be_bytes(), b"not an entry")
            .expect("put");
        // A JSON record where an entry belongs.
        store
            .put(Tree::Ledger, &3u64.to_be_bytes(), &42u32)
            .expect("put");
        store.flush().expect("flush");
    }
    assert_eq!(f.verify(), Err(ChainError::Malformed { seq: 2 }));
}

#[test]
fn a_changed_field_is_a_bad_signature() {
    let f = Fixture::new();
    {
        let store = f.store();
        let mut e = get_entry(&store, 6);
        if let EntryKind::DossierExported { files, .. } = &mut e.kind {
            *files = 0;
        } else {
            panic!("entry 6 is the export");
        }
        put_entry(&store, 6, &e);
    }
    assert_eq!(f.verify(), Err(ChainError::BadSignature { seq: 6 }));
    // The time, and the patient of an entry.
    let f = Fixture::new();
    {
        let store = f.store();
        let mut e = get_entry(&store, 2);
        e.time = e.time.add_secs(-3600);
        put_entry(&store, 2, &e);
        let mut e = get_entry(&store, 4);
        if let EntryKind::DossierReceived { patient_ins, .. } = &mut e.kind {
            *patient_ins = ins(INS);
        }
        put_entry(&store, 4, &e);
    }
    assert_eq!(f.verify(), Err(ChainError::BadSignature { seq: 2 }));
}

#[test]
fn a_removed_entry_is_a_gap() {
    let f = Fixture::new();
    {
        let store = f.store();
        assert!(store.remove(Tree::Ledger, &3u64.to_be_bytes()).expect("rm"));
        store.flush().expect("flush");
    }
    assert_eq!(
        f.verify(),
        Err(ChainError::SeqGap {
            expected: 3,
            found: 4
        })
    );
    // The daemon's open still finds its head (the chain is checked by verify).
    let store = f.store();
    assert_eq!(open_ledger(&store, key(7)).expect("open").head_seq(), 8);
}

#[test]
fn removing_the_genesis_entry_is_a_bad_genesis() {
    let f = Fixture::new();
    {
        let store = f.store();
        store.remove(Tree::Ledger, &0u64.to_be_bytes()).expect("rm");
        store.flush().expect("flush");
    }
    assert_eq!(f.verify(), Err(ChainError::BadGenesis));
    let store = f.store();
    assert!(matches!(
        open_ledger(&store, key(7)),
        Err(LedgerError::Broken(ChainError::BadGenesis))
    ));
}

#[test]
fn swapped_entries_are_reordered() {
    let f = Fixture::new();
    {
        let store = f.store();
        let a = get_entry(&store, 2);
        let b = get_entry(&store, 3);
        put_entry(&store, 2, &b);
        put_entry(&store, 3, &a);
    }
    assert_eq!(
        f.verify(),
        Err(ChainError::Reordered {
            seq: 3,
            expected: 2
        })
    );
}

#[test]
fn a_cut_off_tail_is_detected_against_the_checkpoint() {
    let f = Fixture::new();
    {
        let store = f.store();
        for seq in [7u64, 8] {
            store.remove(Tree::Ledger, &seq.to_be_bytes()).expect("rm");
        }
        store.flush().expect("flush");
    }
    assert_eq!(
        f.verify(),
        Err(ChainError::TruncatedTail {
            expected_seq: 8,
            found_seq: 6
        })
    );
    // The daemon refuses to continue a cut-off ledger, naming the cut.
    let store = f.store();
    match open_ledger(&store, key(7)) {
        Err(LedgerError::Broken(ChainError::TruncatedTail {
            expected_seq: 8,
            found_seq: 6,
        })) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_removed_or_forged_checkpoint_is_detected() {
    let f = Fixture::new();
    {
        let store = f.store();
        store.remove(Tree::Meta, HEAD_KEY).expect("rm");
        store.flush().expect("flush");
    }
    assert_eq!(f.verify(), Err(ChainError::MissingCheckpoint));
    let store = f.store();
    assert!(matches!(
        open_ledger(&store, key(7)),
        Err(LedgerError::Broken(ChainError::MissingCheckpoint))
    ));
    drop(store);

    let f = Fixture::new();
    {
        let store = f.store();
        // The tail cut and a checkpoint of the new end signed by another key.
        store.remove(Tree::Ledger, &8u64.to_be_bytes()).expect("rm");
        let e7 = get_entry(&store, 7);
        let forged = HeadCheckpoint::sign(key(9).as_ref(), 7, e7.hash()).expect("sign");
        write_checkpoint(&store, &forged).expect("put");
        store.flush().expect("flush");
    }
    assert_eq!(f.verify(), Err(ChainError::BadCheckpoint));

    let f = Fixture::new();
    {
        let store = f.store();
        store.put(Tree::Meta, HEAD_KEY, &"00").expect("put");
        store.flush().expect("flush");
    }
    assert_eq!(f.verify(), Err(ChainError::BadCheckpoint));
}

#[test]
fn an_empty_store_has_no_ledger_and_verifies_as_such() {
    let home = tempfile::tempdir().expect("tempdir");
    let store = open_store(home.path());
    let peer_id = peer_id_of(&key(7));
    assert!(verify_store(&store, &peer_id, SignatureCheck::Every)
        .expect("ok")
        .is_none());
    assert!(read_entries(&store, None).expect("ok").is_empty());
    let r = report(verify_store(&store, &peer_id, SignatureCheck::Every)).expect("report");
    assert!(r.intact);
    assert_eq!(r.entries, 0);
}

#[test]
fn a_store_error_is_not_a_chain_error() {
    let f = Fixture::new();
    let store = f.store();
    // A second store on the same home is refused: the error stays the store's.
    let err = Store::open(f.home.path(), StoreKeySource::KeyFile).expect_err("locked");
    assert!(matches!(err, StoreError::Locked { .. }));
    let e = LedgerError::Store(err);
    assert!(e.chain_error().is_none());
    assert_eq!(e.code(), Code::Internal);
    drop(store);
}

// ----------------------------------------------------------------------------
// JSON views

#[test]
fn views_carry_each_kinds_fields() {
    let f = Fixture::new();
    let store = f.store();
    let entries = read_entries(&store, None).expect("entries");
    let views: Vec<EntryView> = entries.iter().map(EntryView::of).collect();
    let json = serde_json::to_value(&views).expect("json");
    assert_eq!(json[0]["kind"], "genesis");
    assert_eq!(json[0]["national_id"], GP);
    assert!(json[0]["peer_id"]
        .as_str()
        .expect("peer")
        .starts_with("12D3KooW"));
    assert_eq!(json[2]["kind"], "dossier_sent");
    assert_eq!(json[2]["patient_ins"], INS);
    assert_eq!(json[2]["dossier_id"], DOSSIER.to_string());
    assert_eq!(json[2]["basis"], "consent");
    assert_eq!(json[2]["basis_id"], hex::encode([0x33; 16]));
    assert_eq!(json[2]["hash"], hex::encode(entries[2].hash()));
    assert_eq!(json[2]["prev_hash"], hex::encode(entries[1].hash()));
    assert_eq!(json[6]["files"], 2);
    assert_eq!(json[1]["expires"], "2025-06-30");
    assert_eq!(json[1]["recipients"][0], CARDIOLOGIST);
    // Round trip through the API's JSON.
    let back: Vec<EntryView> = serde_json::from_value(json).expect("back");
    assert_eq!(back, views);

    let r = report(Err(LedgerError::Broken(ChainError::SeqGap {
        expected: 3,
        found: 4,
    })))
    .expect("report");
    let v = serde_json::to_value(&r).expect("json");
    assert_eq!(v["intact"], false);
    assert_eq!(v["problem"]["code"], "seq_gap");
    assert_eq!(v["problem"]["seq"], 3);
    let back: VerifyReport = serde_json::from_value(v).expect("back");
    assert_eq!(back, r);
}

/// A signer that fails: an append is refused, nothing is written.
struct FailingSigner(Vec<u8>);

impl NodeSigner for FailingSigner {
    fn peer_id(&self) -> Vec<u8> {
        self.0.clone()
    }

    fn sign(&self, _msg: &[u8]) -> Result<Vec<u8>, confrere_protocol::receipt::ReceiptError> {
        Err(confrere_protocol::receipt::ReceiptError::SignerFailed)
    }
}

#[test]
fn a_failing_signer_writes_nothing() {
    let home = tempfile::tempdir().expect("tempdir");
    let store = open_store(home.path());
    let err = Ledger::open(
        store.clone(),
        Arc::new(FailingSigner(peer_id_of(&key(7)))),
        GP,
        "Jeanne MARTIN",
    )
    .expect_err("cannot sign");
    assert!(matches!(err, LedgerError::Entry(_)), "{err:?}");
    assert!(!store
        .contains(Tree::Ledger, &0u64.to_be_bytes())
        .expect("contains"));
}

// ----------------------------------------------------------------------------
// A killed process

/// Set in the child process of the crash test: the home to append to.
const CRASH_CHILD: &str = "CONFRERE_LEDGER_CRASH_CHILD";

/// The child: four threads append until the process is killed, printing
/// `ACK seq` once each append has returned (is durable).
fn crash_child(home: &Path) {
    use std::io::Write;
    let store = open_store(home);
    let ledger = open_ledger(&store, key(7)).expect("open");
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let ledger = ledger.clone();
            s.spawn(move || {
                // A bound, in case the parent never kills us.
                for i in 0..20_000i64 {
                    let e = ledger
                        .append(
                            EntryKind::DossierOpened {
                                dossier_id: DossierId([t; 16]),
                                patient_ins: ins(INS),
                                by: GP.into(),
                            },
                            UnixTime::from_secs(T0 + i),
                        )
                        .expect("append");
                    let mut out = std::io::stdout().lock();
                    if writeln!(out, "ACK {}", e.seq)
                        .and_then(|()| out.flush())
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
}

#[test]
fn a_killed_appender_loses_no_acknowledged_entry() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    if let Some(home) = std::env::var_os(CRASH_CHILD) {
        crash_child(Path::new(&home));
        return;
    }
    let home = tempfile::tempdir().expect("tempdir");
    let peer_id = peer_id_of(&key(7));
    let mut all_acked: Vec<u64> = Vec::new();
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "a_killed_appender_loses_no_acknowledged_entry",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_CHILD, home.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("child");
        let stdout = child.stdout.take().expect("stdout");
        let mut acked = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("ACK ") {
                acked.push(n.parse::<u64>().expect("seq"));
                if acked.len() >= 300 + 100 * round {
                    break;
                }
            }
        }
        child.kill().expect("kill");
        child.wait().expect("wait");
        assert!(
            !acked.is_empty(),
            "round {round}: the child acknowledged nothing"
        );
        all_acked.extend(acked);
        // Every acknowledged entry is there, and the chain verifies.
        let store = open_store(home.path());
        let summary = verify_store(&store, &peer_id, SignatureCheck::Every)
            .expect("intact after a kill")
            .expect("present");
        let max = all_acked.iter().copied().max().unwrap_or(0);
        assert!(
            summary.head_seq >= max,
            "round {round}: head {} < acknowledged {max}",
            summary.head_seq
        );
        let present: std::collections::HashSet<u64> = read_entries(&store, None)
            .expect("entries")
            .iter()
            .map(|e| e.seq)
            .collect();
        assert!(all_acked.iter().all(|s| present.contains(s)));
    }
}

#[test]
fn a_ledger_stored_as_hex_by_an_earlier_version_still_verifies() {
    let f = Fixture::new();
    {
        let store = f.store();
        let head = read_checkpoint(&store).expect("read").expect("checkpoint");
        for seq in 0..=head.seq {
            let e = get_entry(&store, seq);
            store
                .put(
                    Tree::Ledger,
                    &seq.to_be_bytes(),
                    &hex::encode(e.encode().expect("encode")),
                )
                .expect("put");
        }
        store
            .put(Tree::Meta, HEAD_KEY, &hex::encode(head.encode()))
            .expect("put");
        store.flush().expect("flush");
    }
    assert_eq!(f.verify(), Ok(kinds().len() as u64));
}

/// Copies the directory `from` into `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A home whose ledger holds `n` entries after the genesis one, written as
/// the ledger writes them, with its checkpoint.
fn long_ledger(n: u64) -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("tempdir");
    let signer = key(7);
    let store = open_store(home.path());
    drop(open_ledger(&store, signer.clone()).expect("open"));
    let genesis = get_entry(&store, 0);
    let mut head = (0, genesis.hash());
    for seq in 1..=n {
        let kind = EntryKind::DossierOpened {
            dossier_id: DossierId([(seq % 251) as u8; 16]),
            patient_ins: ins(INS),
            by: GP.into(),
        };
        let e = append_after(Some(head), UnixTime::from_secs(T0), kind, signer.as_ref())
            .expect("entry");
        confrere_node::ledger::write_entry(&store, &e).expect("write");
        head = (e.seq, e.hash());
    }
    let cp = HeadCheckpoint::sign(signer.as_ref(), head.0, head.1).expect("checkpoint");
    write_checkpoint(&store, &cp).expect("write checkpoint");
    store.flush().expect("flush");
    home
}

/// The verdict of an anchored verification of a copy of `template` after
/// `tamper`.
fn tampered_verdict(template: &Path, tamper: impl FnOnce(&Store)) -> Result<u64, ChainError> {
    let home = tempfile::tempdir().expect("tempdir");
    copy_dir(template, home.path());
    let store = open_store(home.path());
    tamper(&store);
    store.flush().expect("flush");
    match verify_store(&store, &peer_id_of(&key(7)), SignatureCheck::Anchored) {
        Ok(Some(s)) => Ok(s.head_seq),
        Ok(None) => panic!("no ledger"),
        Err(LedgerError::Broken(e)) => Err(e),
        Err(e) => panic!("not a chain error: {e}"),
    }
}

#[test]
fn a_ledger_longer_than_a_read_batch_is_named_where_it_breaks() {
    // Entries are read 16,384 at a time, the batches shared out between
    // the cores in turn: 16,384 and 32,768 are where one core's batch
    // ends and the next core's begins.
    const N: u64 = 33_000;
    let template = long_ledger(N);
    {
        let store = open_store(template.path());
        for mode in [SignatureCheck::Every, SignatureCheck::Anchored] {
            let summary = verify_store(&store, &peer_id_of(&key(7)), mode)
                .expect("verifies")
                .expect("a ledger");
            assert_eq!((summary.entries, summary.head_seq), (N + 1, N), "{mode:?}");
        }
    }
    let remove = |seq: u64| {
        move |store: &Store| {
            assert!(store.remove(Tree::Ledger, &seq.to_be_bytes()).expect("rm"));
        }
    };
    for seq in [16_383u64, 16_384, 32_768] {
        assert_eq!(
            tampered_verdict(template.path(), remove(seq)),
            Err(ChainError::SeqGap {
                expected: seq,
                found: seq + 1
            }),
            "{seq} removed"
        );
    }
    assert_eq!(
        tampered_verdict(template.path(), remove(N)),
        Err(ChainError::TruncatedTail {
            expected_seq: N,
            found_seq: N - 1
        })
    );
    for seq in [16_383u64, 32_767] {
        let swapped = tampered_verdict(template.path(), |store| {
            let a = get_entry(store, seq);
            let b = get_entry(store, seq + 1);
            put_entry(store, seq, &b);
            put_entry(store, seq + 1, &a);
        });
        assert_eq!(
            swapped,
            Err(ChainError::Reordered {
                seq: seq + 1,
                expected: seq
            }),
            "{seq} and the next swapped"
        );
    }
    let damaged = tampered_verdict(template.path(), |store| {
        store
            .put_bytes(Tree::Ledger, &16_384u64.to_be_bytes(), b"not an entry")
            .expect("put");
    });
    assert_eq!(damaged, Err(ChainError::Malformed { seq: 16_384 }));
    let changed = tampered_verdict(template.path(), |store| {
        let mut e = get_entry(store, 32_768);
        e.time = e.time.add_secs(1);
        put_entry(store, 32_768, &e);
    });
    assert_eq!(changed, Err(ChainError::BadSignature { seq: 32_768 }));
}
