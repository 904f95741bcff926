//! The certificate fixtures of the workspace (the OpenSSL-made ones, the
//! real IGC-Santé TEST certificates) and the TEST PKI, cards and enrolment
//! the `confrere` binary makes for the tests.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::{confrere, confrere_cmd, run, Outcome};

/// The workspace root (the directory holding the workspace `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

/// The real IGC-Santé TEST certificates (`shared/testdata/ans-test-certs/`).
pub fn ans_certs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/ans-test-certs")
}

/// The OpenSSL-made certificate fixtures (`protocol/tests/fixtures/openssl/`,
/// described in its `MANIFEST.md`).
pub fn openssl_fixtures_dir() -> PathBuf {
    workspace_root().join("protocol/tests/fixtures/openssl")
}

/// Whether the `openssl` command-line tool can be run.
pub fn have_openssl() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A TEST PKI made by `confrere pki init-test`.
#[derive(Clone, Debug)]
pub struct TestPki {
    /// The CA directory.
    pub dir: PathBuf,
}

impl TestPki {
    /// Runs `confrere pki init-test --out dir` and asserts that it succeeds.
    ///
    /// # Panics
    ///
    /// If the command fails.
    #[track_caller]
    pub fn init(dir: &Path) -> TestPki {
        let out = confrere([
            OsStr::new("pki"),
            "init-test".as_ref(),
            "--out".as_ref(),
            dir.as_os_str(),
        ]);
        out.code(0);
        TestPki {
            dir: dir.to_path_buf(),
        }
    }

    /// The root CA certificate (the trust anchor).
    pub fn root(&self) -> PathBuf {
        self.dir.join("root.pem")
    }

    /// The intermediate CA certificate.
    pub fn intermediate(&self) -> PathBuf {
        self.dir.join("intermediate.pem")
    }

    /// The CRLs of both CAs.
    pub fn crl(&self) -> PathBuf {
        self.dir.join("crl.pem")
    }

    /// Runs `confrere pki issue-test` for `who` into `out` and collects the
    /// outcome, successful or not.
    pub fn try_issue(&self, who: &Practitioner<'_>, out: &Path) -> Outcome {
        let profession = who.profession.to_string();
        let mut cmd = confrere_cmd();
        cmd.args(["pki", "issue-test", "--ca"])
            .arg(&self.dir)
            .args(["--national-id", who.national_id])
            .args(["--given", who.given])
            .args(["--surname", who.surname])
            .args(["--profession", &profession])
            .arg("--out")
            .arg(out);
        if who.ecdsa {
            cmd.arg("--ecdsa");
        }
        run(&mut cmd)
    }

    /// Issues a card for `who` into `out`, asserting success.
    ///
    /// # Panics
    ///
    /// If the command fails.
    #[track_caller]
    pub fn issue(&self, who: &Practitioner<'_>, out: &Path) -> Card {
        self.try_issue(who, out).code(0);
        Card {
            dir: out.to_path_buf(),
        }
    }
}

/// Who a TEST certificate is issued to.
#[derive(Clone, Copy, Debug)]
pub struct Practitioner<'a> {
    /// National id with its type prefix.
    pub national_id: &'a str,
    /// Given name.
    pub given: &'a str,
    /// Surname.
    pub surname: &'a str,
    /// TRE_G15 profession code.
    pub profession: u32,
    /// ECDSA P-256 instead of RSA-2048.
    pub ecdsa: bool,
}

/// The GP of the multi-process stories.
pub const GP: Practitioner<'static> = Practitioner {
    national_id: "810001000016",
    given: "CLAIRE",
    surname: "BERNARD",
    profession: 10,
    ecdsa: false,
};

/// The cardiologist the GP refers to.
pub const CARDIOLOGIST: Practitioner<'static> = Practitioner {
    national_id: "810001000024",
    given: "PAUL",
    surname: "LECOEUR",
    profession: 10,
    ecdsa: false,
};

/// The radiologist.
pub const RADIOLOGIST: Practitioner<'static> = Practitioner {
    national_id: "810001000032",
    given: "ALICE",
    surname: "RAYON",
    profession: 10,
    ecdsa: false,
};

/// The practitioner the enrollment tests enroll (a GP, RSA card).
pub const JEAN: Practitioner<'static> = Practitioner {
    national_id: "810001000016",
    given: "JEAN",
    surname: "DUPONT",
    profession: 10,
    ecdsa: false,
};

/// A second practitioner of the enrollment tests (a nurse, RSA card).
pub const MARIE: Practitioner<'static> = Practitioner {
    national_id: "810001000024",
    given: "MARIE",
    surname: "MARTIN",
    profession: 21,
    ecdsa: false,
};

/// A third practitioner of the enrollment tests (a midwife, ECDSA card).
pub const LUC: Practitioner<'static> = Practitioner {
    national_id: "810001000032",
    given: "LUC",
    surname: "ROUX",
    profession: 60,
    ecdsa: true,
};

/// A TEST "card": the files `pki issue-test` writes.
#[derive(Clone, Debug)]
pub struct Card {
    /// The directory holding them.
    pub dir: PathBuf,
}

impl Card {
    /// The authentication certificate.
    pub fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    /// The card key (PKCS#8).
    pub fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    /// The intermediate CA certificate.
    pub fn chain(&self) -> PathBuf {
        self.dir.join("chain.pem")
    }
}

/// Enrolls a node: `confrere init --home HOME` with the card and the
/// trust anchors and CRLs of `trusted` (the first PKI must be the card's
/// issuer, whose intermediate is the card's chain).
pub fn enroll(home: &Path, card: &Card, trusted: &[&TestPki]) -> Outcome {
    let mut cmd = confrere_cmd();
    cmd.arg("init")
        .arg("--home")
        .arg(home)
        .arg("--cert")
        .arg(card.cert())
        .arg("--key")
        .arg(card.key())
        .arg("--chain")
        .arg(card.chain());
    for pki in trusted {
        cmd.arg("--trust").arg(pki.root());
        cmd.arg("--crl").arg(pki.crl());
    }
    run(&mut cmd)
}
