//! `confrere ledger show|verify` as processes, on an enrolled home whose
//! ledger this test writes with the node's own key, then tampers with
//! through the store's API: exit 0 when intact, 1 naming the first bad
//! entry for each kind of tampering, 2 for a home that is not one, 3 when
//! another process holds the store and no daemon answers.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use confrere_node::home::Home;
use confrere_node::ledger::{read_entry, Ledger, Libp2pNodeSigner, HEAD_KEY};
use confrere_node::store::{Store, StoreKeySource, Tree};
use confrere_protocol::dossier::{DossierId, Ins};
use confrere_protocol::ledger::{EntryKind, LedgerEntry, ShareBasis};
use confrere_protocol::UnixTime;
use confrere_tests::{confrere, enroll, scratch_run_dir, Card, TestPki, JEAN};

const CARDIOLOGIST: &str = "810001000024";
const INS: &str = "269054958815780";

fn shared_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-ledger"))
    })
}

fn pki_and_card() -> &'static (TestPki, Card) {
    static MATERIAL: OnceLock<(TestPki, Card)> = OnceLock::new();
    MATERIAL.get_or_init(|| {
        let pki = TestPki::init(&shared_dir().join("pki"));
        let card = pki.issue(&JEAN, &shared_dir().join("jean"));
        (pki, card)
    })
}

/// A freshly enrolled home (no ledger yet).
fn enrolled() -> tempfile::TempDir {
    let (pki, card) = pki_and_card();
    let dir = tempfile::tempdir_in(shared_dir()).unwrap();
    let home = dir.path().join("home");
    enroll(&home, card, &[pki]).code(0);
    dir
}

fn home(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("home")
}

fn store(home: &Path) -> Store {
    Store::open(home, StoreKeySource::KeyFile).unwrap()
}

/// Writes the genesis entry and six more with the node's own key.
fn write_ledger(home: &Path) {
    let node = Home::open(home).unwrap();
    let signer = Arc::new(Libp2pNodeSigner::new(node.libp2p));
    let ledger = Ledger::open(store(home), signer, JEAN.national_id, "JEAN DUPONT").unwrap();
    let ins = Ins::parse(INS).unwrap();
    let dossier = DossierId([0x22; 16]);
    let kinds = vec![
        EntryKind::ConsentGranted {
            consent_id: [0x33; 16],
            patient_ins: ins.clone(),
            recipients: vec![CARDIOLOGIST.into()],
            purpose: "Avis cardiologique".into(),
            expires: None,
        },
        EntryKind::DossierSent {
            dossier_id: dossier,
            patient_ins: ins.clone(),
            to: CARDIOLOGIST.into(),
            basis: ShareBasis::Consent([0x33; 16]),
        },
        EntryKind::DossierDelivered {
            dossier_id: dossier,
            to: CARDIOLOGIST.into(),
            receipt: vec![5; 150],
        },
        EntryKind::DossierExported {
            dossier_id: dossier,
            patient_ins: ins,
            files: 2,
        },
        EntryKind::ConsentRevoked {
            consent_id: [0x33; 16],
            reason: "Retrait".into(),
        },
        EntryKind::RevocationSent {
            consent_id: [0x33; 16],
            dossier_id: dossier,
            to: CARDIOLOGIST.into(),
        },
    ];
    for (i, kind) in kinds.into_iter().enumerate() {
        ledger
            .append(kind, UnixTime::from_secs(1_709_251_200 + i as i64))
            .unwrap();
    }
}

fn get_entry(store: &Store, seq: u64) -> LedgerEntry {
    read_entry(store, seq).unwrap().unwrap()
}

/// Stores `e` under `seq` (which may be another entry's place).
fn put_entry(store: &Store, seq: u64, e: &LedgerEntry) {
    store
        .put_bytes(Tree::Ledger, &seq.to_be_bytes(), &e.encode().unwrap())
        .unwrap();
}

fn verify_args(home: &Path, json: bool) -> Vec<String> {
    let mut v = vec![
        "ledger".to_owned(),
        "verify".to_owned(),
        "--home".to_owned(),
        home.display().to_string(),
    ];
    if json {
        v.push("--json".into());
    }
    v
}

#[test]
fn an_intact_ledger_verifies_and_shows() {
    let dir = enrolled();
    let h = home(&dir);
    write_ledger(&h);
    confrere(verify_args(&h, false))
        .code(0)
        .stdout_has("The ledger is intact: 7 entries (0 to 6)")
        .stdout_has("every link verified up to the signed head checkpoint");
    let mut every = verify_args(&h, false);
    every.push("--signatures".into());
    confrere(every)
        .code(0)
        .stdout_has("every signature and link verified");
    // `--quick`, the default now, is still accepted.
    let mut quick = verify_args(&h, false);
    quick.push("--quick".into());
    confrere(quick)
        .code(0)
        .stdout_has("every link verified up to the signed head checkpoint");
    let report = confrere(verify_args(&h, true)).code(0).json();
    assert_eq!(report["intact"], true);
    assert_eq!(report["entries"], 7);
    assert_eq!(report["head_seq"], 6);
    assert_eq!(report["national_id"], JEAN.national_id);
    assert!(report["problem"].is_null());

    let hs = h.display().to_string();
    let out = confrere(["ledger", "show", "--home", &hs]);
    out.code(0)
        .stdout_has("genesis")
        .stdout_has("dossier_sent")
        .stdout_has("patient_ins=269054958815780")
        .stdout_has("receipt=150 bytes")
        .stdout_has("revocation_sent");
    assert_eq!(out.stdout.lines().count(), 8, "{out}");
    let all = confrere(["ledger", "show", "--home", &hs, "--json"])
        .code(0)
        .json();
    assert_eq!(all.as_array().unwrap().len(), 7);
    assert_eq!(all[2]["kind"], "dossier_sent");
    assert_eq!(all[2]["to"], CARDIOLOGIST);
    let since = confrere(["ledger", "show", "--home", &hs, "--since", "4", "--json"])
        .code(0)
        .json();
    assert_eq!(since.as_array().unwrap().len(), 3);
    assert_eq!(since[0]["seq"], 4);
    assert_eq!(since[0]["prev_hash"], all[3]["hash"]);
}

#[test]
fn a_home_without_a_ledger_is_empty_and_intact() {
    let dir = enrolled();
    let h = home(&dir);
    confrere(verify_args(&h, false))
        .code(0)
        .stdout_has("The ledger is empty");
    let hs = h.display().to_string();
    confrere(["ledger", "show", "--home", &hs])
        .code(0)
        .stdout_has("The ledger is empty");
}

/// A tampering, and what `verify` must say about it.
struct Case {
    name: &'static str,
    tamper: fn(&Store),
    code: &'static str,
    seq: Option<u64>,
    says: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "a changed field",
            tamper: |s| {
                let mut e = get_entry(s, 4);
                if let EntryKind::DossierExported { files, .. } = &mut e.kind {
                    *files = 0;
                }
                put_entry(s, 4, &e);
            },
            code: "bad_signature",
            seq: Some(4),
            says: "ledger entry 4: its signature does not verify",
        },
        Case {
            name: "a removed entry",
            tamper: |s| {
                s.remove(Tree::Ledger, &3u64.to_be_bytes()).unwrap();
            },
            code: "seq_gap",
            seq: Some(3),
            says: "ledger entry 3 is missing",
        },
        Case {
            name: "swapped entries",
            tamper: |s| {
                let (a, b) = (get_entry(s, 2), get_entry(s, 3));
                put_entry(s, 2, &b);
                put_entry(s, 3, &a);
            },
            code: "reordered",
            seq: Some(2),
            says: "ledger entry 3 stands where entry 2 belongs",
        },
        Case {
            name: "a cut-off tail",
            tamper: |s| {
                for seq in [5u64, 6] {
                    s.remove(Tree::Ledger, &seq.to_be_bytes()).unwrap();
                }
            },
            code: "truncated_tail",
            seq: Some(5),
            says: "the ledger ends at entry 4, but its head checkpoint records entry 6",
        },
        Case {
            name: "a damaged record",
            tamper: |s| {
                s.put_bytes(Tree::Ledger, &1u64.to_be_bytes(), b"zz")
                    .unwrap();
            },
            code: "malformed",
            seq: Some(1),
            says: "ledger entry 1 cannot be read",
        },
        Case {
            name: "a removed checkpoint",
            tamper: |s| {
                s.remove(Tree::Meta, HEAD_KEY).unwrap();
            },
            code: "missing_checkpoint",
            seq: None,
            says: "head checkpoint is missing",
        },
    ]
}

#[test]
fn each_tampering_exits_1_naming_the_first_bad_entry() {
    for case in cases() {
        let dir = enrolled();
        let h = home(&dir);
        write_ledger(&h);
        {
            let s = store(&h);
            (case.tamper)(&s);
            s.flush().unwrap();
        }
        confrere(verify_args(&h, false))
            .code(1)
            .stderr_has("error: the ledger is NOT intact")
            .stderr_has(case.says)
            .stderr_has("hint:");
        for every in [false, true] {
            let mut args = verify_args(&h, true);
            if every {
                args.push("--signatures".into());
            }
            let out = confrere(args);
            let report = out.code(1).json();
            assert_eq!(report["intact"], false, "{}: {out}", case.name);
            assert_eq!(report["problem"]["code"], case.code, "{}: {out}", case.name);
            match case.seq {
                Some(n) => assert_eq!(report["problem"]["seq"], n, "{}", case.name),
                None => assert!(report["problem"]["seq"].is_null(), "{}", case.name),
            }
        }
    }
}

#[test]
fn a_store_held_by_another_process_without_a_daemon_exits_3() {
    let dir = enrolled();
    let h = home(&dir);
    write_ledger(&h);
    let _held = store(&h);
    confrere(verify_args(&h, false))
        .code(3)
        .stderr_has("another process holds the store");
}

#[test]
fn a_directory_that_is_not_a_home_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("x")).unwrap();
    confrere(verify_args(&dir.path().join("x"), false))
        .code(2)
        .stderr_has("this is not a Confrère home");
}

// ---------------------------------------------------------------------------
// With the daemon

/// Starts the daemon of a freshly enrolled home.
fn daemon(dir: &tempfile::TempDir) -> confrere_tests::Daemon {
    confrere_tests::Daemon::start(
        "jean",
        &home(dir),
        confrere_tests::free_port(),
        &dir.path().join("daemon.log"),
    )
}

#[test]
fn the_daemons_ledger_verifies_once_it_stops() {
    let dir = enrolled();
    let mut node = daemon(&dir);
    node.stop(std::time::Duration::from_secs(20));
    let h = home(&dir);
    let report = confrere(verify_args(&h, true)).code(0).json();
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["national_id"], JEAN.national_id);
    let hs = h.display().to_string();
    let all = confrere(["ledger", "show", "--home", &hs, "--json"])
        .code(0)
        .json();
    assert_eq!(all[0]["kind"], "genesis");
    assert_eq!(all[0]["peer_id"], node.peer_id());
}

#[test]
fn while_the_daemon_runs_the_commands_ask_it() {
    let dir = enrolled();
    let _node = daemon(&dir);
    let h = home(&dir);
    let report = confrere(verify_args(&h, true)).code(0).json();
    assert_eq!(report["intact"], true, "{report}");
    let mut every = verify_args(&h, true);
    every.push("--signatures".into());
    assert_eq!(confrere(every).code(0).json()["intact"], true);
    let hs = h.display().to_string();
    let all = confrere(["ledger", "show", "--home", &hs, "--since", "0", "--json"])
        .code(0)
        .json();
    assert_eq!(all[0]["kind"], "genesis");
}
