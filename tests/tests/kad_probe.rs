//! `kad-probe` (src/bin/kad_probe.rs) sees what an open Kademlia node
//! gives away: a record it holds and a peer it knows. So its "0 records,
//! 0 peers" against a Confrère directory node (reach_outsider.rs) means the
//! directory gave nothing, not that the probe could not see it. Loopback
//! only.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use confrere_tests::run_with_limit;
use serde_json::Value;

const HELD: &str = "810001000024";
const NOT_HELD: &str = "810001000016";

/// The `kad-probe serve` process; killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn probe(addr: &str, national_id: &str) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kad-probe"));
    cmd.args([addr, national_id, "--timeout-secs", "5"]);
    let out = run_with_limit(&mut cmd, Duration::from_secs(60));
    assert_eq!(out.code, Some(0), "{out}");
    serde_json::from_str(out.stdout.trim()).unwrap()
}

#[test]
fn the_probe_sees_the_record_and_the_peer_an_open_kademlia_node_gives() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kad-probe"))
        .args(["serve", HELD])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    // The first line comes as soon as it listens (or never, if it exits:
    // then read_line returns 0 bytes).
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("kad-probe serve said {line:?}"))
        .trim()
        .to_owned();

    let seen = probe(&addr, HELD);
    assert_eq!(seen["connected"], true, "{seen}");
    assert_eq!(seen["kad_listed"], true, "{seen}");
    assert_eq!(seen["answered"], true, "{seen}");
    assert_eq!(seen["records"], 1, "{seen}");
    assert_eq!(seen["peers"], 1, "the made-up peer it knows: {seen}");

    let seen = probe(&addr, NOT_HELD);
    assert_eq!(seen["records"], 0, "{seen}");
    assert_eq!(seen["peers"], 1, "{seen}");
    drop(server);
}
