//! The node's encrypted store, through its public API: persistence across
//! reopening, the home lock (within and across processes), the store key
//! (passphrase and key file), chunks and wrapped keys, and that no record
//! plaintext ever reaches the disk.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use confrere_node::store::{KeyFileProblem, Store, StoreError, StoreKeySource, Tree};
use confrere_protocol::dossier::SEALED_CHUNK_LEN;
use serde::{Deserialize, Serialize};

/// Set in a child process of this test binary: the home it probes.
const CHILD_HOME_ENV: &str = "CONFRERE_STORE_TEST_CHILD_HOME";

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Patient {
    ins: String,
    family_name: String,
    first_names: Vec<String>,
    birth_date: String,
    reason: String,
}

fn patient() -> Patient {
    Patient {
        ins: "299999912345678".into(),
        family_name: "ZYXWVUTSRQ-TEST".into(),
        first_names: vec!["Éloïse-Marguerite".into(), "Quiterie".into()],
        birth_date: "1984-05-17".into(),
        reason: "palpitations depuis trois semaines, ECG joint".into(),
    }
}

fn open(home: &Path) -> Store {
    Store::open(home, StoreKeySource::KeyFile).expect("open the store")
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn records_chunks_and_keys_survive_reopening() {
    let home = tempfile::tempdir().expect("tempdir");
    let id = [0x42u8; 16];
    let secret = {
        let store = open(home.path());
        store.put(Tree::Inbox, b"ref-1", &patient()).expect("put");
        store
            .put(Tree::Outbox, b"out-1", &vec![1u32, 2, 3])
            .expect("put");
        store.put(Tree::Meta, b"counter", &7u64).expect("put");
        store.put(Tree::Peers, b"b", &"second").expect("put");
        store.put(Tree::Peers, b"a", &"first").expect("put");
        store.put(Tree::Transfers, b"t", &true).expect("put");
        store.put(Tree::Dossiers, b"d", &patient()).expect("put");
        for i in 0..4u64 {
            let len = if i == 3 { 1000 } else { SEALED_CHUNK_LEN };
            store.put_chunk(&id, i, &vec![i as u8; len]).expect("chunk");
        }
        store.put_wrapped_key(&id, b"wrapped-key").expect("key");
        store.flush().expect("flush");
        *store.key_wrapping_secret().as_bytes()
    };
    let store = open(home.path());
    assert_eq!(
        store.get::<Patient>(Tree::Inbox, b"ref-1").expect("get"),
        Some(patient())
    );
    assert_eq!(
        store.get::<Vec<u32>>(Tree::Outbox, b"out-1").expect("get"),
        Some(vec![1, 2, 3])
    );
    assert_eq!(
        store.get::<u64>(Tree::Meta, b"counter").expect("get"),
        Some(7)
    );
    assert_eq!(
        store.get::<bool>(Tree::Transfers, b"t").expect("get"),
        Some(true)
    );
    assert_eq!(
        store.get::<Patient>(Tree::Dossiers, b"d").expect("get"),
        Some(patient())
    );
    let peers: Vec<(Vec<u8>, String)> = store.scan(Tree::Peers).expect("scan");
    assert_eq!(
        peers,
        vec![
            (b"a".to_vec(), "first".to_string()),
            (b"b".to_vec(), "second".to_string())
        ]
    );
    // Three whole chunks and a short last one.
    assert_eq!(store.chunk_count_contiguous(&id).expect("count"), 3);
    assert_eq!(
        store.get_chunk(&id, 2).expect("chunk"),
        Some(vec![2u8; SEALED_CHUNK_LEN])
    );
    assert_eq!(
        store.get_chunk(&id, 3).expect("chunk"),
        Some(vec![3u8; 1000])
    );
    assert_eq!(store.get_chunk(&id, 4).expect("chunk"), None);
    assert_eq!(
        store.chunk_bytes(&id).expect("bytes"),
        3 * SEALED_CHUNK_LEN as u64 + 1000
    );
    assert_eq!(
        store.get_wrapped_key(&id).expect("key").as_deref(),
        Some(&b"wrapped-key"[..])
    );
    assert_eq!(store.key_wrapping_secret().as_bytes(), &secret);
    assert!(!format!("{store:?}").contains("wrapped"));
}

#[test]
fn a_second_open_of_the_same_home_is_locked_until_the_first_closes() {
    let home = tempfile::tempdir().expect("tempdir");
    let first = open(home.path());
    let clone = first.clone();
    let err = Store::open(home.path(), StoreKeySource::KeyFile).expect_err("locked");
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains(
        "another process is using this home (is `confrere run` already running for it?)"
    ));
    drop(first);
    // A clone keeps the store open.
    assert!(matches!(
        Store::open(home.path(), StoreKeySource::KeyFile),
        Err(StoreError::Locked { .. })
    ));
    clone
        .put(Tree::Meta, b"k", &1u8)
        .expect("the clone still works");
    clone.flush().expect("flush");
    drop(clone);
    let again = open(home.path());
    assert_eq!(again.get::<u8>(Tree::Meta, b"k").expect("get"), Some(1));
}

/// Run by [`the_lock_holds_across_processes`] in a child process: tries to
/// open the home named in the environment and prints the outcome. Does
/// nothing in a normal test run.
#[test]
fn child_probe() {
    let Some(home) = std::env::var_os(CHILD_HOME_ENV) else {
        return;
    };
    match Store::open(Path::new(&home), StoreKeySource::KeyFile) {
        Ok(_) => println!("CHILD-RESULT: opened"),
        Err(StoreError::Locked { .. }) => println!("CHILD-RESULT: locked"),
        Err(e) => println!("CHILD-RESULT: error {e}"),
    }
}

fn probe_from_child(home: &Path) -> String {
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new(exe)
        .args(["--exact", "child_probe", "--nocapture", "--test-threads=1"])
        .env(CHILD_HOME_ENV, home)
        .output()
        .expect("run the child");
    assert!(out.status.success(), "child failed: {out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        // libtest may print "test child_probe ... " on the same line.
        .find_map(|l| l.split_once("CHILD-RESULT: ").map(|(_, r)| r))
        .unwrap_or("no result")
        .to_string()
}

#[test]
fn the_lock_holds_across_processes() {
    let home = tempfile::tempdir().expect("tempdir");
    let store = open(home.path());
    assert_eq!(probe_from_child(home.path()), "locked");
    drop(store);
    assert_eq!(probe_from_child(home.path()), "opened");
}

#[test]
fn passphrase_opens_and_a_wrong_one_is_refused() {
    let home = tempfile::tempdir().expect("tempdir");
    let pass = |p: &str| StoreKeySource::Passphrase(p.to_string());
    {
        let store = Store::open(home.path(), pass("correct horse battery")).expect("create");
        store.put(Tree::Inbox, b"r", &patient()).expect("put");
        store.flush().expect("flush");
    }
    assert_eq!(
        fs::metadata(home.path().join("store.salt"))
            .expect("salt")
            .len(),
        16
    );
    let err = Store::open(home.path(), pass("correct horse battery!")).expect_err("wrong");
    assert!(matches!(err, StoreError::WrongPassphrase { .. }), "{err:?}");
    assert!(err.hint().contains("CONFRERE_PASSPHRASE"));
    // A key-file open of a passphrase store does not invent a key file.
    let err = Store::open(home.path(), StoreKeySource::KeyFile).expect_err("no key file");
    assert!(matches!(
        err,
        StoreError::KeyFile {
            problem: KeyFileProblem::Missing,
            ..
        }
    ));
    assert!(!home.path().join("keys/store.key").exists());
    let store = Store::open(home.path(), pass("correct horse battery")).expect("reopen");
    assert_eq!(
        store.get::<Patient>(Tree::Inbox, b"r").expect("get"),
        Some(patient())
    );
}

#[test]
#[cfg(unix)]
fn a_key_file_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().expect("tempdir");
    drop(open(home.path()));
    let key = home.path().join("keys/store.key");
    assert_eq!(
        fs::metadata(&key).expect("key").permissions().mode() & 0o777,
        0o600
    );
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).expect("chmod");
    let err = Store::open(home.path(), StoreKeySource::KeyFile).expect_err("too open");
    assert!(
        matches!(
            err,
            StoreError::KeyFile {
                problem: KeyFileProblem::TooOpen(0o644),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.hint().contains("chmod 600"));
    // The refusal released the lock.
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).expect("chmod");
    drop(open(home.path()));
}

#[test]
fn another_key_file_is_refused_and_a_short_one_too() {
    let home = tempfile::tempdir().expect("tempdir");
    drop(open(home.path()));
    let key = home.path().join("keys/store.key");
    fs::write(&key, [0x11u8; 32]).expect("replace the key");
    let err = Store::open(home.path(), StoreKeySource::KeyFile).expect_err("other key");
    assert!(matches!(err, StoreError::WrongKeyFile { .. }), "{err:?}");
    fs::write(&key, [0x11u8; 20]).expect("shorten the key");
    let err = Store::open(home.path(), StoreKeySource::KeyFile).expect_err("short key");
    assert!(matches!(
        err,
        StoreError::KeyFile {
            problem: KeyFileProblem::WrongLength(20),
            ..
        }
    ));
}

#[test]
fn a_store_that_lost_its_database_is_corrupt_not_fresh() {
    let home = tempfile::tempdir().expect("tempdir");
    {
        let store = open(home.path());
        store.put(Tree::Inbox, b"r", &patient()).expect("put");
        store.flush().expect("flush");
    }
    fs::remove_dir_all(home.path().join("store")).expect("remove the database");
    let err = Store::open(home.path(), StoreKeySource::KeyFile).expect_err("lost");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.hint().contains("backup"));
    // And it stays refused: the empty database did not become the store.
    assert!(matches!(
        Store::open(home.path(), StoreKeySource::KeyFile),
        Err(StoreError::Corrupt { .. })
    ));
}

#[test]
fn a_damaged_database_is_corrupt() {
    let home = tempfile::tempdir().expect("tempdir");
    {
        let store = open(home.path());
        store.put(Tree::Inbox, b"r", &patient()).expect("put");
        store.flush().expect("flush");
    }
    let db = home.path().join("store/db");
    let mut bytes = fs::read(&db).expect("read db");
    for b in &mut bytes {
        *b ^= 0x5a;
    }
    fs::write(&db, &bytes).expect("damage db");
    let err = Store::open(home.path(), StoreKeySource::KeyFile).expect_err("damaged");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
}

#[test]
fn the_resume_point_counts_whole_chunks() {
    let home = tempfile::tempdir().expect("tempdir");
    let store = open(home.path());
    let id = [7u8; 16];
    let other = [8u8; 16];
    assert_eq!(store.chunk_count_contiguous(&id).expect("count"), 0);
    for i in 0..300u64 {
        store
            .put_chunk(&id, i, &vec![(i % 251) as u8; SEALED_CHUNK_LEN])
            .expect("put");
    }
    store.put_chunk(&other, 0, b"x").expect("put");
    assert_eq!(store.chunk_count_contiguous(&id).expect("count"), 300);
    assert_eq!(store.chunk_count_contiguous(&other).expect("count"), 0);
    assert!(
        store.put_chunk(&id, 302, b"c").is_err(),
        "a chunk beyond the next one is refused"
    );
    assert_eq!(
        store.get_chunk(&id, 257).expect("get"),
        Some(vec![(257 % 251) as u8; SEALED_CHUNK_LEN])
    );
    assert_eq!(store.remove_chunks(&id).expect("remove"), 300);
    assert_eq!(store.chunk_count_contiguous(&id).expect("count"), 0);
    assert_eq!(store.chunk_bytes(&id).expect("bytes"), 0);
    assert_eq!(
        store.get_chunk(&other, 0).expect("other"),
        Some(b"x".to_vec())
    );
}

#[test]
fn a_destroyed_key_stays_destroyed() {
    let home = tempfile::tempdir().expect("tempdir");
    let id = [9u8; 16];
    {
        let store = open(home.path());
        store.put_wrapped_key(&id, b"wrapped").expect("put");
        store.put_chunk(&id, 0, b"sealed").expect("chunk");
        assert!(store.destroy_key(&id).expect("destroy"));
        assert_eq!(store.get_wrapped_key(&id).expect("get"), None);
        assert!(!store.destroy_key(&id).expect("destroy again"));
    }
    let store = open(home.path());
    assert_eq!(store.get_wrapped_key(&id).expect("get"), None);
    // Chunks are the caller's to remove; without their key they are noise.
    assert_eq!(store.chunk_bytes(&id).expect("bytes"), 6);
}

#[test]
fn flushes_from_many_tasks_do_not_deadlock() {
    let home = tempfile::tempdir().expect("tempdir");
    let store = open(home.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let tasks: Vec<_> = (0..32u32)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .put(Tree::Transfers, &i.to_be_bytes(), &i)
                        .expect("put");
                    store.flush_async_safe().await.expect("flush");
                })
            })
            .collect();
        let all = futures::future::join_all(tasks);
        let done = tokio::time::timeout(std::time::Duration::from_secs(30), all)
            .await
            .expect("flushes finished");
        for d in done {
            d.expect("task");
        }
    });
    assert_eq!(store.scan::<u32>(Tree::Transfers).expect("scan").len(), 32);
}

/// THE test of the store's purpose: after a flush, no file of the home
/// holds any record's plaintext, neither whole nor any 16-byte piece of it.
#[test]
fn no_record_plaintext_reaches_the_disk() {
    let home = tempfile::tempdir().expect("tempdir");
    let passphrase = "passphrase-CANARY-5f2c";
    let record = patient();
    let record_key = b"referral-000001";
    let chunk: Vec<u8> = b"SEALED-CHUNK-CANARY-"
        .iter()
        .copied()
        .chain((0..=255u8).rev())
        .collect();
    let id = [0x5Au8; 16];
    {
        let store = Store::open(
            home.path(),
            StoreKeySource::Passphrase(passphrase.to_string()),
        )
        .expect("open");
        store.put(Tree::Inbox, record_key, &record).expect("put");
        store
            .put(Tree::Dossiers, b"dossier-1", &record)
            .expect("put");
        store.put(Tree::Outbox, b"out-1", &record).expect("put");
        store.put_chunk(&id, 0, &chunk).expect("chunk");
        store.flush().expect("flush");
    }
    let plaintext = serde_json::to_vec(&record).expect("json");
    let windows: HashSet<&[u8]> = plaintext.windows(16).collect();
    let files = files_under(home.path());
    let mut all = Vec::new();
    for path in &files {
        let bytes = fs::read(path).expect("read");
        assert!(
            !contains(&bytes, record.family_name.as_bytes()),
            "{} holds the family name",
            path.display()
        );
        assert!(
            !contains(&bytes, record.first_names[0].as_bytes()),
            "{} holds a first name",
            path.display()
        );
        assert!(
            !contains(&bytes, passphrase.as_bytes()),
            "{} holds the passphrase",
            path.display()
        );
        if let Some(at) = bytes.windows(16).position(|w| windows.contains(w)) {
            panic!(
                "{} holds 16 bytes of record plaintext at offset {at}",
                path.display()
            );
        }
        all.extend_from_slice(&bytes);
    }
    // Canaries: the scan does see what the store wrote. Chunks are kept as
    // given (they are the caller's ciphertext) and record keys are clear.
    assert!(contains(&all, &chunk), "the chunk was not found on disk");
    assert!(contains(&all, record_key), "the record key was not found");
    // And the data is still there behind the passphrase.
    let store = Store::open(
        home.path(),
        StoreKeySource::Passphrase(passphrase.to_string()),
    )
    .expect("reopen");
    assert_eq!(
        store.get::<Patient>(Tree::Inbox, record_key).expect("get"),
        Some(record)
    );
}
