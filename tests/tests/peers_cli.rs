//! The command line of reaching colleagues (issue 12): `peers add` says
//! "verified" only for an address that led to a verified node and exits 1
//! otherwise, keeping the entry; `peers remove` by PeerId or national id;
//! `peers find` on a national id nobody publishes (exit 4, with what to
//! check) and on an invalid one (exit 2); `status --json` shows the
//! reachability, the dialable addresses and the bootstrap nodes; `run
//! --bootstrap` and `[network] bootstrap` refuse an address without its
//! PeerId.
//!
//! Two nodes (a GP and a cardiologist) on loopback without mDNS, started
//! once for the whole scenario; every daemon is killed when its guard
//! drops, every wait is bounded.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::fs;
use std::path::Path;

use confrere_tests::{
    confrere, enroll, free_port, scratch_run_dir, Card, Daemon, TestPki, CARDIOLOGIST, GP,
};

/// A national id nobody publishes (valid RPPS key).
const NOBODY: &str = "810001000032";

fn enrolled(dir: &Path, label: &str, card: &Card, pki: &TestPki) -> std::path::PathBuf {
    let home = dir.join(label).join("home");
    fs::create_dir_all(home.parent().unwrap()).unwrap();
    enroll(&home, card, &[pki]).code(0);
    home
}

#[test]
fn peers_add_remove_find_status_and_bootstrap_checks() {
    let dir = scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-peers-cli"));
    let pki = TestPki::init(&dir.join("pki"));
    let gp_card = pki.issue(&GP, &dir.join("card-gp"));
    let cardio_card = pki.issue(&CARDIOLOGIST, &dir.join("card-cardio"));
    let gp_home = enrolled(&dir, "gp", &gp_card, &pki);
    let cardio_home = enrolled(&dir, "cardiologist", &cardio_card, &pki);
    let gp_home_s = gp_home.display().to_string();

    // ---- Bootstrap addresses are checked before anything starts ----------
    let out = confrere([
        "run",
        "--home",
        &gp_home_s,
        "--no-mdns",
        "--bootstrap",
        "/ip4/127.0.0.1/tcp/4001",
    ]);
    out.code(2)
        .stderr_has("--bootstrap")
        .stderr_has("does not end in /p2p/PEER_ID");
    let config = gp_home.join("config.toml");
    let original = fs::read_to_string(&config).unwrap();
    assert!(original.contains("bootstrap = []"), "{original}");
    fs::write(
        &config,
        original.replace(
            "bootstrap = []",
            "bootstrap = [\"/dns4/boot.example.org/tcp/4001\"]",
        ),
    )
    .unwrap();
    let line = fs::read_to_string(&config)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("bootstrap = "))
        .unwrap()
        + 1;
    let out = confrere(["run", "--home", &gp_home_s, "--no-mdns"]);
    assert_ne!(out.code, Some(0), "{out}");
    out.stderr_has(&format!("config.toml, line {line}: "))
        .stderr_has("[network] bootstrap")
        .stderr_has("/p2p/PEER_ID");
    fs::write(&config, &original).unwrap();

    let gp = Daemon::start("gp", &gp_home, free_port(), &dir.join("gp.log"));
    let cardio = Daemon::start(
        "cardiologist",
        &cardio_home,
        free_port(),
        &dir.join("cardiologist.log"),
    );

    // ---- status --json: the fields scripts read, and the new ones --------
    let status = gp.json(["status"]);
    assert_eq!(status["peer_id"], gp.peer_id(), "{status}");
    assert!(status["listen"].is_array(), "{status}");
    assert!(status["reachability"].is_string(), "{status}");
    for field in ["addresses", "bootstrap"] {
        let list = status[field]
            .as_array()
            .unwrap_or_else(|| panic!("{status}"));
        for a in list {
            assert!(a.is_string(), "{status}");
        }
    }
    for a in status["addresses"].as_array().unwrap() {
        let a = a.as_str().unwrap();
        assert!(a.contains("/p2p/"), "{a}");
    }
    gp.cli(["status"])
        .code(0)
        .stdout_has("Reachability")
        .stdout_has("Bootstrap");

    // ---- peers add: verified only through an address that leads there ---
    let dead = format!(
        "/ip4/127.0.0.1/tcp/{}/p2p/{}",
        free_port(),
        cardio.peer_id()
    );
    let out = gp.cli(["peers", "add", &dead]);
    out.code(1).stderr_has("not verified").stderr_has("hint: ");
    assert!(!out.stdout.contains("It is the node of"), "{out}");
    let out = gp.cli(["peers", "add", &dead, "--json"]);
    out.code(1);
    let entry = out.json();
    assert!(entry["last_error"].is_string(), "{entry}");
    // The entry is kept.
    let listed = gp.json(["peers", "list"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["peer_id"] == cardio.peer_id()),
        "{listed}"
    );
    // The cardiologist's real address verifies.
    let out = gp.cli(["peers", "add", &cardio.multiaddr()]);
    out.code(0).stdout_has("It is the node of");
    let entry = gp.json(["peers", "add", &cardio.multiaddr()]);
    assert_eq!(entry["national_id"], CARDIOLOGIST.national_id, "{entry}");
    assert!(entry["last_error"].is_null(), "{entry}");

    // ---- peers remove -----------------------------------------------------
    let unknown = gp.cli(["peers", "remove", NOBODY]);
    unknown.code(4).stderr_has("peers list");
    let removed = gp.json(["peers", "remove", CARDIOLOGIST.national_id]);
    assert_eq!(removed.as_array().unwrap().len(), 1, "{removed}");
    assert_eq!(removed[0]["peer_id"], cardio.peer_id(), "{removed}");
    let listed = gp.json(["peers", "list"]);
    assert!(listed.as_array().unwrap().is_empty(), "{listed}");
    let saved = fs::read_to_string(gp_home.join("peers.json")).unwrap();
    assert!(!saved.contains(cardio.peer_id()), "{saved}");
    gp.cli(["peers", "remove", cardio.peer_id()]).code(4);
    cardio.cli(["peers", "add", &gp.multiaddr()]).code(0);
    cardio
        .cli(["peers", "remove", gp.peer_id()])
        .code(0)
        .stdout_has("Removed the node of");

    // ---- peers find -------------------------------------------------------
    let out = gp.cli(["peers", "find", NOBODY]);
    out.code(4)
        .stderr_has(&format!("no node publishes national id {NOBODY}"))
        .stderr_has("bootstrap")
        .stderr_has("confrere status");
    let out = gp.cli(["peers", "find", NOBODY, "--json"]);
    out.code(4);
    assert_eq!(out.json()["exit_code"], 4, "{out}");
    gp.cli(["peers", "find", "8123"])
        .code(2)
        .stderr_has("national id is invalid");
}
