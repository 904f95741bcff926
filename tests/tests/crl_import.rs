//! `confrere crl import` and the CRL lines of `confrere status`, as
//! processes: a fresh CRL taken through the running daemon (status shows
//! it at once, and after a restart), an older one and a forged one
//! (another TEST PKI's) refused with the home unchanged, a CRL about to go
//! stale warned about, a stale one shown as stale; with the daemon
//! stopped, the import writes the home.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::fs;
use std::path::Path;
use std::time::Duration;

use confrere_testpki::TestCa;
use confrere_tests::{
    confrere_cmd, enroll, free_port, run, scratch_run_dir, Daemon, Outcome, TestPki, GP,
};
use serde_json::Value;
use time::OffsetDateTime;

fn import(home: &Path, file: &Path) -> Outcome {
    let mut cmd = confrere_cmd();
    cmd.args(["crl", "import", "--home"]).arg(home).arg(file);
    run(&mut cmd)
}

/// The status's CRL entry of the intermediate CA (the card's issuer).
fn intermediate_crl(node: &Daemon) -> Value {
    let status = node.json(["status"]);
    let crls = status["crls"].as_array().unwrap().clone();
    assert_eq!(crls.len(), 2, "{status}");
    crls.into_iter()
        .find(|c| c["ca"].as_str().unwrap().contains("PERSONNES"))
        .unwrap_or_else(|| panic!("no intermediate CA in {status}"))
}

/// Writes a CRL of the intermediate signed by `ca`, with these dates.
fn write_crl(ca: &TestCa, path: &Path, number: u64, this: OffsetDateTime, next: OffsetDateTime) {
    let der = ca.crl(&[], number, this, next).unwrap();
    fs::write(path, der).unwrap();
}

fn restart(node: &mut Daemon) {
    node.stop(Duration::from_secs(30)).unwrap();
    node.restart();
}

#[test]
fn crls_imported_by_hand_are_verified_kept_if_newer_and_shown_in_status() {
    let dir = scratch_run_dir(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("confrere-crl-import"));
    let pki = TestPki::init(&dir.join("pki"));
    let other = TestPki::init(&dir.join("other-pki"));
    let card = pki.issue(&GP, &dir.join("card"));
    let home = dir.join("node/home");
    fs::create_dir_all(home.parent().unwrap()).unwrap();
    enroll(&home, &card, &[&pki]).code(0);
    let first = dir.join("first-crl.pem");
    fs::copy(pki.crl(), &first).unwrap();

    let mut node = Daemon::start("node", &home, free_port(), &dir.join("node.log"));
    let held = intermediate_crl(&node);
    assert_eq!(held["source"], "enrolment", "{held}");
    assert_eq!(held["freshness"], "fresh", "{held}");

    // A fresh CRL (the next CRL number), imported while the daemon runs.
    let ca = TestCa::load(&pki.dir).unwrap();
    let now = OffsetDateTime::now_utc();
    let later = now + time::Duration::hours(1);
    let fresh = dir.join("fresh-crl.der");
    write_crl(&ca, &fresh, 2, later, later + time::Duration::days(30));
    import(&home, &fresh)
        .code(0)
        .stdout_has("Imported the CRL of")
        .stdout_has("put it in force");
    let held = intermediate_crl(&node);
    assert_eq!(held["source"], "imported", "{held}");
    let fresh_abs = std::path::absolute(&fresh).unwrap();
    assert_eq!(
        held["origin"],
        fresh_abs.display().to_string().as_str(),
        "{held}"
    );
    restart(&mut node);
    let held = intermediate_crl(&node);
    assert_eq!(held["source"], "imported", "{held}");
    assert_eq!(held["freshness"], "fresh", "{held}");
    let expected_this = confrere_protocol::parse_crls(&fs::read(&fresh).unwrap()).unwrap()[0]
        .this_update()
        .to_string();
    assert_eq!(held["this_update"], expected_this.as_str(), "{held}");

    // The older CRL of enrolment: refused, nothing changed.
    let before = fs::read(home.join("trust/crls.pem")).unwrap();
    import(&home, &first).code(1).stderr_has("not newer");
    assert_eq!(fs::read(home.join("trust/crls.pem")).unwrap(), before);

    // Another TEST PKI's CRL: same CA names, another key.
    import(&home, &other.crl())
        .code(1)
        .stderr_has("not signed by that CA's key");
    assert_eq!(fs::read(home.join("trust/crls.pem")).unwrap(), before);

    // A CRL that goes stale in a day: taken, and warned about.
    let soon = dir.join("soon-crl.der");
    write_crl(&ca, &soon, 3, later, now + time::Duration::days(1));
    import(&home, &soon).code(0);
    assert_eq!(intermediate_crl(&node)["freshness"], "expires soon");
    node.cli(["status"])
        .code(0)
        .stdout_has("warning: this CRL goes stale");

    // A stale CRL: shown as stale, peers refused.
    let stale = dir.join("stale-crl.der");
    write_crl(
        &ca,
        &stale,
        4,
        now - time::Duration::days(40),
        now - time::Duration::days(10),
    );
    import(&home, &stale).code(0);
    let held = intermediate_crl(&node);
    assert_eq!(held["freshness"], "stale", "{held}");
    assert_eq!(held["refusing_peers"], true, "{held}");
    node.cli(["status"])
        .code(0)
        .stdout_has("peers are refused while this CRL is stale");

    // With the daemon stopped, the import writes the home; the daemon
    // takes it at its next start.
    node.stop(Duration::from_secs(30)).unwrap();
    let again = dir.join("again-crl.der");
    write_crl(&ca, &again, 5, later, now + time::Duration::days(30));
    import(&home, &again).code(0).stdout_has("next start");
    node.restart();
    assert_eq!(intermediate_crl(&node)["freshness"], "fresh");
    node.stop(Duration::from_secs(30));
}
