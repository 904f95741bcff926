//! A blocking client of the node daemon's local API, and the output helpers
//! the commands that use it share.
//!
//! The daemon writes `HOME/api.token` (the bearer token, mode 0600) and
//! listens on `HOME/api.sock` when it starts; [`Client::connect`] reads the
//! token and every request goes over the socket (never over TCP: see
//! [`crate::local_http`]). No token, no socket or a refused connection
//! means the daemon is not running: exit code 3.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use confrere_node::api::model::{
    AddPeer, ApiError, DeclineRequest, InboxItem, OpenRequest, Opened, OutboxItem, PeerInfo,
    ReplyRequest, SendRequest, Sent, Status,
};
use confrere_node::api::server::TOKEN_FILE;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{CliError, EXIT_DAEMON, EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_USAGE};
use crate::local_http;

/// How long to wait for an answer: sealing large documents takes a while.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);

/// A connection to the daemon of one home.
pub(crate) struct Client {
    home: PathBuf,
    authorization: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token stays out of debug output.
        f.debug_struct("Client")
            .field("home", &self.home)
            .finish_non_exhaustive()
    }
}

fn daemon_error(message: impl Into<String>, hint: impl Into<String>) -> CliError {
    CliError {
        message: message.into(),
        hint: Some(hint.into()),
        code: EXIT_DAEMON,
    }
}

/// The daemon of `home` is not running (exit 3).
fn not_running(home: &Path) -> CliError {
    let shown = home.display();
    let hint = if home.join("credential.bin").is_file() {
        format!("start it with `confrere run --home {shown}`")
    } else if home.is_dir() {
        format!(
            "{shown} holds no credential.bin, so it is not a node's home: check --home (or \
             CONFRERE_HOME); a node is made with `confrere init --home {shown}`, then started \
             with `confrere run --home {shown}`"
        )
    } else if home.exists() {
        format!(
            "{shown} is a file, not a node's home: check --home (or CONFRERE_HOME); it names \
             the directory `confrere init` made"
        )
    } else {
        format!(
            "there is no {shown}: check --home (or CONFRERE_HOME); a node is made with \
             `confrere init --home {shown}`, then started with `confrere run --home {shown}`"
        )
    };
    daemon_error(format!("the daemon is not running for {shown}"), hint)
}

impl Client {
    /// Finds the daemon of `home`: its token in `HOME/api.token`; requests
    /// go to its socket `HOME/api.sock` (never to the TCP port of
    /// `api.json`, which a stale file may name for another process).
    pub(crate) fn connect(home: &Path) -> Result<Client, CliError> {
        if !home.is_dir() {
            return Err(not_running(home));
        }
        let token_path = home.join(TOKEN_FILE);
        let token = match fs::read_to_string(&token_path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_running(home)),
            Err(e) => return Err(unreadable(&token_path, &e)),
        };
        Ok(Client {
            home: home.to_path_buf(),
            authorization: format!("Bearer {}", token.trim()),
        })
    }

    /// `GET /v1/status`.
    pub(crate) fn status(&self) -> Result<Status, CliError> {
        self.get("/status")
    }

    /// `POST /v1/ui/login-link`: a one-time link to the web inbox.
    pub(crate) fn ui_login_link(&self) -> Result<confrere_node::ui::LoginLink, CliError> {
        self.post("/ui/login-link", &serde_json::json!({}))
    }

    /// `GET /v1/peers`.
    pub(crate) fn peers(&self) -> Result<Vec<PeerInfo>, CliError> {
        self.get("/peers")
    }

    /// `POST /v1/peers`.
    pub(crate) fn add_peer(&self, req: &AddPeer) -> Result<PeerInfo, CliError> {
        self.post("/peers", req)
    }

    /// `GET /v1/directory/{national_id}`.
    pub(crate) fn find_peers(
        &self,
        national_id: &str,
    ) -> Result<Vec<confrere_node::api::directory_model::DirectoryRecord>, CliError> {
        self.get(&format!("/directory/{}", segment(national_id)))
    }

    /// `DELETE /v1/peers/{key}`.
    pub(crate) fn remove_peer(&self, key: &str) -> Result<Vec<PeerInfo>, CliError> {
        self.call("DELETE", &format!("/peers/{}", segment(key)), None)
    }

    /// `POST /v1/send`.
    pub(crate) fn send(&self, req: &SendRequest) -> Result<Sent, CliError> {
        self.post("/send", req)
    }

    /// `GET /v1/outbox`.
    pub(crate) fn outbox(&self) -> Result<Vec<OutboxItem>, CliError> {
        self.get("/outbox")
    }

    /// `GET /v1/inbox`.
    pub(crate) fn inbox(&self) -> Result<Vec<InboxItem>, CliError> {
        self.get("/inbox")
    }

    /// `GET /v1/inbox/{id}`.
    pub(crate) fn inbox_show(&self, id: &str) -> Result<InboxItem, CliError> {
        self.get(&format!("/inbox/{}", segment(id)))
    }

    /// `POST /v1/inbox/{id}/open`.
    pub(crate) fn inbox_open(&self, id: &str, req: &OpenRequest) -> Result<Opened, CliError> {
        self.post(&format!("/inbox/{}/open", segment(id)), req)
    }

    /// `POST /v1/inbox/{id}/accept`.
    pub(crate) fn inbox_accept(&self, id: &str) -> Result<InboxItem, CliError> {
        self.post(
            &format!("/inbox/{}/accept", segment(id)),
            &serde_json::json!({}),
        )
    }

    /// `POST /v1/inbox/{id}/decline`.
    pub(crate) fn inbox_decline(
        &self,
        id: &str,
        req: &DeclineRequest,
    ) -> Result<InboxItem, CliError> {
        self.post(&format!("/inbox/{}/decline", segment(id)), req)
    }

    /// `POST /v1/inbox/{id}/reply`.
    pub(crate) fn inbox_reply(&self, id: &str, req: &ReplyRequest) -> Result<Sent, CliError> {
        self.post(&format!("/inbox/{}/reply", segment(id)), req)
    }

    /// `POST /v1/consents`.
    pub(crate) fn consent_grant(
        &self,
        req: &confrere_node::api::consent_model::GrantConsentRequest,
    ) -> Result<confrere_node::api::consent_model::ConsentInfo, CliError> {
        self.post("/consents", req)
    }

    /// `GET /v1/ledger/verify?signatures=true`: the chain and every
    /// entry's own signature.
    pub(crate) fn ledger_verify(
        &self,
    ) -> Result<confrere_node::api::ledger_model::VerifyReport, CliError> {
        self.get("/ledger/verify?signatures=true")
    }

    /// `POST /v1/purge`.
    pub(crate) fn purge(
        &self,
        dry_run: bool,
    ) -> Result<confrere_node::api::purge_model::PurgeReport, CliError> {
        self.post(
            "/purge",
            &confrere_node::api::purge_model::PurgeRequest { dry_run },
        )
    }

    /// `GET /v1/journal?patient_ins=`.
    pub(crate) fn journal(
        &self,
        patient_ins: &str,
    ) -> Result<Vec<confrere_node::api::journal_model::JournalLine>, CliError> {
        self.get(&format!("/journal?patient_ins={}", segment(patient_ins)))
    }

    /// `GET /v1/consents[?patient_ins=INS]`.
    pub(crate) fn consent_list(
        &self,
        patient_ins: Option<&str>,
    ) -> Result<Vec<confrere_node::api::consent_model::ConsentInfo>, CliError> {
        match patient_ins {
            Some(ins) => self.get(&format!("/consents?patient_ins={}", segment(ins))),
            None => self.get("/consents"),
        }
    }

    /// `GET /v1/consents/{id}`.
    pub(crate) fn consent_show(
        &self,
        id: &str,
    ) -> Result<confrere_node::api::consent_model::ConsentInfo, CliError> {
        self.get(&format!("/consents/{}", segment(id)))
    }

    /// `POST /v1/consents/{id}/revoke`.
    pub(crate) fn consent_revoke(
        &self,
        id: &str,
        req: &confrere_node::api::consent_model::RevokeConsentRequest,
    ) -> Result<confrere_node::api::consent_model::ConsentInfo, CliError> {
        self.post(&format!("/consents/{}/revoke", segment(id)), req)
    }

    /// `POST /v1/care-team`.
    pub(crate) fn care_team_record(
        &self,
        req: &confrere_node::api::consent_model::CareTeamRequest,
    ) -> Result<confrere_node::api::consent_model::CareTeamInfo, CliError> {
        self.post("/care-team", req)
    }

    /// `POST /v1/credential`.
    pub(crate) fn renew_credential(
        &self,
        req: &confrere_node::api::model::RenewCredentialRequest,
    ) -> Result<confrere_node::api::model::RenewedCredential, CliError> {
        self.post("/credential", req)
    }

    /// `POST /v1/crls/update` if the daemon of `home` runs; `None` if not.
    pub(crate) fn crl_update_if_running(
        home: &Path,
    ) -> Result<Option<confrere_node::api::model::CrlUpdateReport>, CliError> {
        Self::post_if_running(home, "/crls/update", &serde_json::json!({}))
    }

    /// `POST /v1/crls/import` if the daemon of `home` runs; `None` if not.
    pub(crate) fn crl_import_if_running(
        home: &Path,
        req: &confrere_node::api::model::CrlImportRequest,
    ) -> Result<Option<confrere_node::api::model::CrlImportReport>, CliError> {
        Self::post_if_running(home, "/crls/import", req)
    }

    /// A POST to the daemon of `home`, or `None` when it is not running
    /// (no token, or nothing answers on its socket).
    fn post_if_running<B: Serialize, T: DeserializeOwned>(
        home: &Path,
        route: &str,
        body: &B,
    ) -> Result<Option<T>, CliError> {
        let client = match fs::read_to_string(home.join(TOKEN_FILE)) {
            Ok(token) => Client {
                home: home.to_path_buf(),
                authorization: format!("Bearer {}", token.trim()),
            },
            Err(_) => return Ok(None),
        };
        let body = serde_json::to_vec(body).map_err(|e| {
            CliError::refused(format!("cannot write the request: {e}"), "report this bug")
        })?;
        match local_http::request(
            home,
            "POST",
            route,
            &client.authorization,
            Some(&body),
            ANSWER_TIMEOUT,
        ) {
            Ok(answer) => answer_of(answer).map(Some),
            Err(local_http::Failure::NotRunning) => Ok(None),
            Err(f) => Err(transport_error(home, f)),
        }
    }

    fn get<T: DeserializeOwned>(&self, route: &str) -> Result<T, CliError> {
        self.call("GET", route, None)
    }

    fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        route: &str,
        body: &B,
    ) -> Result<T, CliError> {
        let body = serde_json::to_vec(body).map_err(|e| {
            CliError::refused(format!("cannot write the request: {e}"), "report this bug")
        })?;
        self.call("POST", route, Some(&body))
    }

    fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        route: &str,
        body: Option<&[u8]>,
    ) -> Result<T, CliError> {
        let answer = local_http::request(
            &self.home,
            method,
            route,
            &self.authorization,
            body,
            ANSWER_TIMEOUT,
        )
        .map_err(|f| transport_error(&self.home, f))?;
        answer_of(answer)
    }
}

/// The model value of a success, or the command error of an error answer.
pub(crate) fn answer_of<T: DeserializeOwned>(answer: local_http::Answer) -> Result<T, CliError> {
    if (200..300).contains(&answer.status) {
        serde_json::from_slice::<T>(&answer.body).map_err(|e| {
            daemon_error(
                format!("the daemon's answer could not be read: {e}"),
                "check that the daemon and the command line are the same version of Confrère",
            )
        })
    } else {
        Err(api_error(
            answer.status,
            serde_json::from_slice::<ApiError>(&answer.body).ok(),
        ))
    }
}

/// The command error when no answer came back.
pub(crate) fn transport_error(home: &Path, f: local_http::Failure) -> CliError {
    match f {
        local_http::Failure::NotRunning => not_running(home),
        local_http::Failure::Broken(why) => daemon_error(
            format!(
                "lost the connection to the daemon for {}: {why}",
                home.display()
            ),
            "check the daemon's log, then retry (`confrere status` tells whether it runs)",
        ),
    }
}

fn unreadable(path: &Path, e: &io::Error) -> CliError {
    daemon_error(
        format!("cannot read {}: {e}", path.display()),
        "run the command as the user that runs the daemon",
    )
}

/// Percent-encodes a path segment (ids are plain, but they come from the user).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Turns an error answer of the API into a command error: `invalid` is
/// unusable input (exit 2); `unauthorized` and `unavailable` mean the daemon
/// cannot serve us (exit 3); `not_published` and `unknown_peer` are not
/// found (exit 4); anything else is refused (exit 1).
fn api_error(status: u16, body: Option<ApiError>) -> CliError {
    let Some(e) = body else {
        return CliError {
            message: format!("the daemon answered HTTP {status} without an explanation"),
            hint: Some("check the daemon's log".into()),
            code: if status == 503 {
                EXIT_DAEMON
            } else {
                EXIT_REFUSED
            },
        };
    };
    let code = match e.code.as_str() {
        "invalid" => EXIT_USAGE,
        "unauthorized" | "unavailable" => EXIT_DAEMON,
        confrere_node::api::directory_model::NOT_PUBLISHED
        | confrere_node::api::directory_model::UNKNOWN_PEER => EXIT_NOT_FOUND,
        _ => EXIT_REFUSED,
    };
    let hint = e.hint.or_else(|| match e.code.as_str() {
        "unauthorized" => {
            Some("the daemon was restarted meanwhile, or api.token is not its token: retry".into())
        }
        _ => None,
    });
    CliError {
        message: e.error,
        hint,
        code,
    }
}

/// Output helpers shared by the commands that talk to the daemon.
pub(crate) mod output {
    use serde::Serialize;

    use crate::error::CliError;

    /// Prints a model value as pretty JSON, with its field names.
    pub(crate) fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
        let text = serde_json::to_string_pretty(value).map_err(|e| {
            CliError::refused(
                format!("cannot print the answer as JSON: {e}"),
                "report this bug",
            )
        })?;
        outln!("{text}");
        Ok(())
    }

    /// Text from the daemon (and so, partly, from peers) made safe for a
    /// terminal: control characters (escape sequences, line breaks) become
    /// spaces.
    pub(crate) fn clean(s: &str) -> String {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    }

    /// Like [`clean`], keeping line breaks and tabs (for letters).
    pub(crate) fn clean_text(s: &str) -> String {
        s.chars()
            .map(|c| {
                if c.is_control() && c != '\n' && c != '\t' {
                    ' '
                } else {
                    c
                }
            })
            .collect()
    }

    /// [`clean`], cut to `max` characters with an ellipsis.
    pub(crate) fn cut(s: &str, max: usize) -> String {
        let s = clean(s);
        if s.chars().count() <= max {
            s
        } else {
            let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
            t.push('…');
            t
        }
    }

    /// The first 12 characters of an id: enough to name it again (commands
    /// take a unique prefix of 8 or more).
    pub(crate) fn short_id(id: &str) -> String {
        id.chars().take(12).collect()
    }

    /// A byte count for people: `512 B`, `1.5 KiB`, `3.2 MiB`, `1.1 GiB`.
    pub(crate) fn bytes(n: u64) -> String {
        const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
        if n < 1024 {
            return format!("{n} B");
        }
        // Precision loss is irrelevant for display.
        #[allow(
            clippy::cast_precision_loss,
            reason = "precision loss is irrelevant for a size shown to one decimal"
        )]
        let mut v = n as f64 / 1024.0;
        let mut unit = UNITS[0];
        for u in &UNITS[1..] {
            if v < 1024.0 {
                break;
            }
            v /= 1024.0;
            unit = u;
        }
        format!("{v:.1} {unit}")
    }

    /// A table printed with aligned columns; the last column is not padded.
    #[derive(Debug)]
    pub(crate) struct Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    }

    impl Table {
        /// A table with these column titles.
        pub(crate) fn new(header: &[&str]) -> Self {
            Table {
                header: header.iter().map(|h| (*h).to_owned()).collect(),
                rows: Vec::new(),
            }
        }

        /// Adds a row (cells are cleaned of control characters).
        pub(crate) fn row(&mut self, cells: Vec<String>) {
            self.rows.push(cells.iter().map(|c| clean(c)).collect());
        }

        /// Prints it to stdout.
        pub(crate) fn print(&self) {
            let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
            for row in &self.rows {
                for (i, cell) in row.iter().enumerate() {
                    if let Some(w) = widths.get_mut(i) {
                        *w = (*w).max(cell.chars().count());
                    }
                }
            }
            let line = |cells: &[String]| {
                let mut out = String::new();
                for (i, cell) in cells.iter().enumerate() {
                    if i + 1 == cells.len() {
                        out.push_str(cell);
                    } else {
                        let pad = widths
                            .get(i)
                            .copied()
                            .unwrap_or(0)
                            .saturating_sub(cell.chars().count());
                        out.push_str(cell);
                        out.push_str(&" ".repeat(pad + 2));
                    }
                }
                outln!("{}", out.trim_end());
            };
            line(&self.header);
            for row in &self.rows {
                line(row);
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn byte_counts() {
            assert_eq!(bytes(0), "0 B");
            assert_eq!(bytes(1023), "1023 B");
            assert_eq!(bytes(1536), "1.5 KiB");
            assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
        }

        #[test]
        fn control_characters_are_neutralised() {
            assert_eq!(clean("a\u{1b}[2Jb\nc"), "a [2Jb c");
            assert_eq!(clean_text("a\nb\u{7}"), "a\nb ");
            assert_eq!(cut("abcdef", 4), "abc…");
            assert_eq!(cut("abc", 4), "abc");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_escaped() {
        assert_eq!(segment("3f2a-9c1e"), "3f2a-9c1e");
        assert_eq!(segment("../x?y"), "..%2Fx%3Fy");
    }

    #[test]
    fn api_errors_map_to_exit_codes() {
        let e = |code: &str| ApiError::new(code, "m", "h");
        assert_eq!(api_error(400, Some(e("invalid"))).code, EXIT_USAGE);
        assert_eq!(api_error(404, Some(e("not_found"))).code, EXIT_REFUSED);
        assert_eq!(
            api_error(404, Some(e("unknown_recipient"))).code,
            EXIT_REFUSED
        );
        assert_eq!(api_error(409, Some(e("refused"))).code, EXIT_REFUSED);
        assert_eq!(
            api_error(404, Some(e("not_published"))).code,
            EXIT_NOT_FOUND
        );
        assert_eq!(api_error(404, Some(e("unknown_peer"))).code, EXIT_NOT_FOUND);
        assert_eq!(api_error(401, Some(e("unauthorized"))).code, EXIT_DAEMON);
        assert_eq!(api_error(503, Some(e("unavailable"))).code, EXIT_DAEMON);
        assert_eq!(api_error(500, Some(e("internal"))).code, EXIT_REFUSED);
        assert_eq!(api_error(502, None).code, EXIT_REFUSED);
        let refused = api_error(409, Some(e("refused")));
        assert_eq!(refused.message, "m");
        assert_eq!(refused.hint.as_deref(), Some("h"));
    }

    #[test]
    fn missing_endpoint_means_not_running() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = Client::connect(dir.path()).expect_err("no daemon");
        assert_eq!(e.code, EXIT_DAEMON);
        assert!(e.message.contains("the daemon is not running for"));
        assert!(e.hint.unwrap_or_default().contains("confrere run --home"));
    }

    #[test]
    fn a_stale_port_gets_nothing_and_means_not_running() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A stale api.json names a port another process now listens on.
        let fake = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        fake.set_nonblocking(true).expect("nonblocking");
        let port = fake.local_addr().expect("addr").port();
        fs::write(
            dir.path().join("api.json"),
            format!("{{\"port\": {port}, \"pid\": 1}}"),
        )
        .expect("api.json");
        fs::write(dir.path().join(TOKEN_FILE), "00").expect("api.token");
        let client = Client::connect(dir.path()).expect("the token is there");
        let e = client.status().expect_err("no daemon");
        assert_eq!(e.code, EXIT_DAEMON);
        assert!(e.message.contains("the daemon is not running for"), "{e:?}");
        assert!(fake.accept().is_err(), "the fake listener was contacted");
    }
}
