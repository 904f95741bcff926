//! Sending dossiers with `confrere send` (after granting the consent it
//! cites) and reading a node's outbox and inbox.

use std::path::PathBuf;

use crate::cli::{confrere_cmd, run, Outcome};
use crate::daemon::Daemon;

/// The patient of a `confrere send`.
#[derive(Clone, Copy, Debug)]
pub struct PatientArgs<'a> {
    /// INS: 13-digit NIR and its 2-digit key.
    pub ins: &'a str,
    /// Family name.
    pub family: &'a str,
    /// Given names.
    pub given: &'a str,
    /// `YYYY-MM-DD`.
    pub birth_date: &'a str,
    /// `F`, `M` or `U`.
    pub sex: &'a str,
}

/// A `confrere send` command line.
#[derive(Clone, Debug)]
pub struct SendCommand<'a> {
    /// The recipient's national id.
    pub to: &'a str,
    /// The patient.
    pub patient: PatientArgs<'a>,
    /// Reason for referral.
    pub reason: &'a str,
    /// `--urgent`.
    pub urgent: bool,
    /// `--letter FILE`.
    pub letter: Option<PathBuf>,
    /// The documents.
    pub files: Vec<PathBuf>,
}

impl SendCommand<'_> {
    /// Runs `confrere send … --json` from `node` and collects the outcome.
    pub fn run(&self, node: &Daemon) -> Outcome {
        // Every share cites a record: grant the patient's consent for this
        // recipient first. If the grant is refused (bad INS, bad national
        // id), send without one, so the send reports its own error.
        let consent = {
            let mut grant = confrere_cmd();
            grant
                .args(["consent", "grant", "--home"])
                .arg(node.home())
                .args(["--patient-ins", self.patient.ins])
                .args(["--to", self.to])
                .args(["--purpose", "referral (test)"])
                .arg("--json");
            let out = run(&mut grant);
            serde_json::from_str::<serde_json::Value>(&out.stdout)
                .ok()
                .filter(|_| out.code == Some(0))
                .and_then(|v| v["id"].as_str().map(str::to_owned))
        };
        let mut cmd = confrere_cmd();
        if let Some(id) = &consent {
            cmd.args(["send", "--consent", id]);
        } else {
            cmd.arg("send");
        }
        cmd.arg("--home")
            .arg(node.home())
            .args(["--to", self.to])
            .args(["--patient-ins", self.patient.ins])
            .args(["--patient-family", self.patient.family])
            .args(["--patient-given", self.patient.given])
            .args(["--birth-date", self.patient.birth_date])
            .args(["--sex", self.patient.sex])
            .args(["--reason", self.reason])
            .arg("--json");
        if self.urgent {
            cmd.arg("--urgent");
        }
        if let Some(l) = &self.letter {
            cmd.arg("--letter").arg(l);
        }
        cmd.args(&self.files);
        run(&mut cmd)
    }

    /// Sends, asserts success and returns the dossier id.
    ///
    /// # Panics
    ///
    /// If the send fails.
    #[track_caller]
    pub fn sent(&self, node: &Daemon) -> String {
        let out = self.run(node);
        out.code(0);
        let v = out.json();
        assert_eq!(v["state"], "queued", "{out}");
        let id = v["id"].as_str().unwrap_or_default().to_owned();
        assert!(!id.is_empty(), "no dossier id\n{out}");
        id
    }
}

/// `outbox --json` of a node.
///
/// # Panics
///
/// If the command fails.
#[track_caller]
pub fn outbox(node: &Daemon) -> Vec<serde_json::Value> {
    match node.json(["outbox"]) {
        serde_json::Value::Array(items) => items,
        other => panic!("outbox --json is not a list: {other}"),
    }
}

/// `inbox --json` of a node.
///
/// # Panics
///
/// If the command fails.
#[track_caller]
pub fn inbox(node: &Daemon) -> Vec<serde_json::Value> {
    match node.json(["inbox"]) {
        serde_json::Value::Array(items) => items,
        other => panic!("inbox --json is not a list: {other}"),
    }
}

/// The outbox item `id` of a node, if any.
pub fn outbox_item(node: &Daemon, id: &str) -> Option<serde_json::Value> {
    outbox(node).into_iter().find(|i| i["id"] == id)
}
