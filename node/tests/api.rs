//! The local API server against a fake node: its files in the home, the
//! bearer token, every route's JSON, error statuses, limits and shutdown.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use confrere_node::api::model::{
    AddPeer, ApiError, CareTeamInfo, CareTeamRequest, ConsentInfo, DeclineRequest, DirectoryRecord,
    DocumentInfo, EntryView, GrantConsentRequest, InboxItem, JournalLine, NodeApi, OpenRequest,
    Opened, OutboxItem, Patient, PatientSummary, PeerInfo, PurgeReport, PurgeRequest,
    RenewCredentialRequest, RenewedCredential, ReplyRequest, RevokeConsentRequest, SendRequest,
    Sent, Status, VerifyReport,
};
use confrere_node::api::server::{serve, ApiServer, Endpoint, ENDPOINT_FILE, TOKEN_FILE};
use confrere_node::api::socket::SOCKET_FILE;
use serde_json::{json, Value};

/// A node that answers canned values, records each call, and fails every
/// call with `fail` when it is set.
#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<String>>,
    fail: Mutex<Option<ApiError>>,
}

impl Fake {
    fn record(&self, call: String) -> Result<(), ApiError> {
        self.calls.lock().unwrap().push(call);
        match self.fail.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

fn status() -> Status {
    Status {
        national_id: "810001000016".into(),
        name: "JEAN DUPONT".into(),
        peer_id: "12D3KooWFake".into(),
        listen: vec!["/ip4/127.0.0.1/tcp/4100".into()],
        reachability: "unknown".into(),
        addresses: Vec::new(),
        bootstrap: Vec::new(),
        inbox: 2,
        outbox: 1,
        unfinished_inbound: Default::default(),
        version: "0.1.0".into(),
        crls: Vec::new(),
        card: Default::default(),
    }
}

fn renewed() -> RenewedCredential {
    RenewedCredential {
        national_id: "810001000016".into(),
        peer_id: "12D3KooWFake".into(),
        old_not_after: "2027-01-01T00:00:00Z".into(),
        new_not_after: "2030-01-01T00:00:00Z".into(),
        ledger_seq: Some(12),
    }
}

fn peer() -> PeerInfo {
    PeerInfo {
        peer_id: Some("12D3KooWPeer".into()),
        addrs: vec!["/ip4/192.0.2.7/tcp/4100".into()],
        national_id: Some("810002000014".into()),
        name: Some("ANNE MARTIN".into()),
        last_seen: Some("2025-01-02T10:00:00Z".into()),
        last_error: None,
        credential_not_after: Some("2027-01-02T10:00:00Z".into()),
    }
}

fn sent(id: &str) -> Sent {
    Sent {
        id: id.into(),
        state: "queued".into(),
        warnings: Vec::new(),
    }
}

fn outbox_item() -> OutboxItem {
    OutboxItem {
        id: "0011223344556677".into(),
        to: "810002000014".into(),
        state: "sending".into(),
        last_error: Some("peer unreachable".into()),
        created_at: "2025-01-02T10:00:00Z".into(),
        delivered_at: None,
        sent_bytes: 1024,
        total_bytes: 4096,
        attempts: 3,
        in_reply_to: None,
        path: None,
    }
}

fn inbox_item(id: &str) -> InboxItem {
    InboxItem {
        id: id.into(),
        from: "810001000016".into(),
        from_name: "JEAN DUPONT".into(),
        patient: PatientSummary {
            ins: "255081416802538".into(),
            family: "MARTIN".into(),
            given: "Anne".into(),
            birth_date: "1955-08-14".into(),
            sex: "F".into(),
        },
        reason: "Palpitations".into(),
        urgent: true,
        status: "new".into(),
        received_at: "2025-01-02T10:00:00Z".into(),
        documents: vec![DocumentInfo {
            name: "ecg.pdf".into(),
            media_type: "application/pdf".into(),
            size: 12,
            sha256: "00".repeat(32),
        }],
        in_reply_to: None,
        letter: Some("Cher confrère,".into()),
        decline_reason: None,
    }
}

impl NodeApi for Fake {
    async fn status(&self) -> Result<Status, ApiError> {
        self.record("status".into())?;
        Ok(status())
    }

    async fn peers(&self) -> Result<Vec<PeerInfo>, ApiError> {
        self.record("peers".into())?;
        Ok(vec![peer()])
    }

    async fn add_peer(&self, req: AddPeer) -> Result<PeerInfo, ApiError> {
        self.record(format!("add_peer {}", req.multiaddr))?;
        Ok(peer())
    }

    async fn send(&self, req: SendRequest) -> Result<Sent, ApiError> {
        self.record(format!("send {}", serde_json::to_string(&req).unwrap()))?;
        Ok(sent("aabbccddeeff0011"))
    }

    async fn outbox(&self) -> Result<Vec<OutboxItem>, ApiError> {
        self.record("outbox".into())?;
        Ok(vec![outbox_item()])
    }

    async fn inbox(&self) -> Result<Vec<InboxItem>, ApiError> {
        self.record("inbox".into())?;
        Ok(vec![inbox_item("1111"), inbox_item("2222")])
    }

    async fn inbox_show(&self, id: String) -> Result<InboxItem, ApiError> {
        self.record(format!("inbox_show {id}"))?;
        Ok(inbox_item(&id))
    }

    async fn inbox_open(&self, id: String, req: OpenRequest) -> Result<Opened, ApiError> {
        self.record(format!("inbox_open {id} {}", req.out_dir.display()))?;
        Ok(Opened {
            files: vec![req.out_dir.join("ecg.pdf")],
        })
    }

    async fn inbox_accept(&self, id: String) -> Result<InboxItem, ApiError> {
        self.record(format!("inbox_accept {id}"))?;
        let mut item = inbox_item(&id);
        item.status = "accepted".into();
        Ok(item)
    }

    async fn inbox_decline(&self, id: String, req: DeclineRequest) -> Result<InboxItem, ApiError> {
        self.record(format!("inbox_decline {id} {}", req.reason))?;
        let mut item = inbox_item(&id);
        item.status = "declined".into();
        item.decline_reason = Some(req.reason);
        Ok(item)
    }

    async fn inbox_reply(&self, id: String, req: ReplyRequest) -> Result<Sent, ApiError> {
        self.record(format!(
            "inbox_reply {id} {}",
            serde_json::to_string(&req).unwrap()
        ))?;
        Ok(sent("ffeeddccbbaa9988"))
    }

    // The routes of the records (ledger, journal, purge, consents) and of
    // the directory have tests of their own; here they only answer.

    async fn find_peers(&self, national_id: String) -> Result<Vec<DirectoryRecord>, ApiError> {
        self.record(format!("find_peers {national_id}"))?;
        Err(not_here())
    }

    async fn remove_peer(&self, key: String) -> Result<Vec<PeerInfo>, ApiError> {
        self.record(format!("remove_peer {key}"))?;
        Err(not_here())
    }

    async fn ledger(&self, since: Option<u64>) -> Result<Vec<EntryView>, ApiError> {
        self.record(format!("ledger {since:?}"))?;
        Err(not_here())
    }

    async fn ledger_verify(&self, every_signature: bool) -> Result<VerifyReport, ApiError> {
        self.record(format!("ledger_verify {every_signature}"))?;
        Err(not_here())
    }

    async fn purge(&self, _req: PurgeRequest) -> Result<PurgeReport, ApiError> {
        self.record("purge".into())?;
        Err(not_here())
    }

    async fn crl_update(&self) -> Result<confrere_node::api::model::CrlUpdateReport, ApiError> {
        self.record("crl_update".into())?;
        Err(not_here())
    }

    async fn crl_import(
        &self,
        _req: confrere_node::api::model::CrlImportRequest,
    ) -> Result<confrere_node::api::model::CrlImportReport, ApiError> {
        self.record("crl_import".into())?;
        Err(not_here())
    }

    async fn journal(&self, _patient_ins: String) -> Result<Vec<JournalLine>, ApiError> {
        self.record("journal".into())?;
        Err(not_here())
    }

    async fn consent_grant(&self, _req: GrantConsentRequest) -> Result<ConsentInfo, ApiError> {
        self.record("consent_grant".into())?;
        Err(not_here())
    }

    async fn consent_list(
        &self,
        _patient_ins: Option<String>,
    ) -> Result<Vec<ConsentInfo>, ApiError> {
        self.record("consent_list".into())?;
        Err(not_here())
    }

    async fn consent_show(&self, id: String) -> Result<ConsentInfo, ApiError> {
        self.record(format!("consent_show {id}"))?;
        Err(not_here())
    }

    async fn consent_revoke(
        &self,
        id: String,
        _req: RevokeConsentRequest,
    ) -> Result<ConsentInfo, ApiError> {
        self.record(format!("consent_revoke {id}"))?;
        Err(not_here())
    }

    async fn care_team_record(&self, _req: CareTeamRequest) -> Result<CareTeamInfo, ApiError> {
        self.record("care_team_record".into())?;
        Err(not_here())
    }

    async fn renew_credential(
        &self,
        req: RenewCredentialRequest,
    ) -> Result<RenewedCredential, ApiError> {
        self.record(format!("renew_credential {}", req.credential_hex))?;
        Ok(renewed())
    }
}

/// The answer of the fake's methods this file does not test.
fn not_here() -> ApiError {
    ApiError::new("internal", "not answered by this fake", "see node/tests")
}

/// A server on a free port in a temporary home, with its runtime.
struct Harness {
    rt: tokio::runtime::Runtime,
    home: tempfile::TempDir,
    fake: Arc<Fake>,
    server: Option<ApiServer>,
    agent: ureq::Agent,
}

impl Harness {
    fn start() -> Harness {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let home = tempfile::tempdir().unwrap();
        let fake = Arc::new(Fake::default());
        let server = rt.block_on(serve(fake.clone(), home.path(), 0)).unwrap();
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(10))
            .build();
        Harness {
            rt,
            home,
            fake,
            server: Some(server),
            agent,
        }
    }

    fn port(&self) -> u16 {
        self.server.as_ref().unwrap().port()
    }

    fn token(&self) -> String {
        std::fs::read_to_string(self.home.path().join(TOKEN_FILE)).unwrap()
    }

    fn url(&self, route: &str) -> String {
        format!("http://127.0.0.1:{}{route}", self.port())
    }

    /// A request with the right token; the status and the JSON body.
    fn call(&self, method: &str, route: &str, body: Option<Value>) -> (u16, Value) {
        let auth = format!("Bearer {}", self.token());
        self.call_with(method, route, Some(&auth), body)
    }

    /// A request with the given `Authorization` header, if any.
    fn call_with(
        &self,
        method: &str,
        route: &str,
        authorization: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.agent.request(method, &self.url(route));
        if let Some(a) = authorization {
            req = req.set("Authorization", a);
        }
        let result = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match result {
            Ok(resp) => (resp.status(), resp.into_json().unwrap()),
            Err(ureq::Error::Status(code, resp)) => {
                assert_eq!(
                    resp.content_type(),
                    "application/json",
                    "error bodies are JSON"
                );
                (code, resp.into_json().unwrap())
            }
            Err(e) => panic!("{method} {route}: {e}"),
        }
    }

    fn shutdown(&mut self) {
        if let Some(server) = self.server.take() {
            self.rt.block_on(server.shutdown());
        }
    }
}

fn assert_api_error(body: &Value, code: &str) {
    let e: ApiError = serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("not an ApiError ({e}): {body}"));
    assert_eq!(e.code, code, "{body}");
    assert!(!e.error.is_empty(), "{body}");
    assert!(e.hint.is_some(), "{body}");
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn serve_writes_a_private_token_and_the_endpoint() {
    let mut h = Harness::start();
    let token_path = h.home.path().join(TOKEN_FILE);
    let token = h.token();
    assert_eq!(token.len(), 64, "32 bytes in hex: {token}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    #[cfg(unix)]
    assert_eq!(mode(&token_path), 0o600);
    let endpoint: Endpoint =
        serde_json::from_slice(&std::fs::read(h.home.path().join(ENDPOINT_FILE)).unwrap()).unwrap();
    assert_eq!(endpoint.port, h.port());
    assert_ne!(endpoint.port, 0);
    assert_eq!(endpoint.pid, std::process::id());
    let raw: Value =
        serde_json::from_slice(&std::fs::read(h.home.path().join(ENDPOINT_FILE)).unwrap()).unwrap();
    assert_eq!(raw, json!({"port": h.port(), "pid": std::process::id()}));
    // No temporary files are left beside them.
    let mut names: Vec<String> = std::fs::read_dir(h.home.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [ENDPOINT_FILE, SOCKET_FILE, TOKEN_FILE]);
    #[cfg(unix)]
    assert_eq!(mode(&h.home.path().join(SOCKET_FILE)), 0o600);
    h.shutdown();
}

#[test]
fn a_restart_replaces_the_token() {
    let mut first = Harness::start();
    let old = first.token();
    first.shutdown();
    let fake = Arc::new(Fake::default());
    let server = first
        .rt
        .block_on(serve(fake, first.home.path(), 0))
        .unwrap();
    let new = first.token();
    assert_ne!(old, new);
    #[cfg(unix)]
    assert_eq!(mode(&first.home.path().join(TOKEN_FILE)), 0o600);
    first.server = Some(server);
    // The old token no longer opens the door.
    let (code, body) = first.call_with("GET", "/v1/status", Some(&format!("Bearer {old}")), None);
    assert_eq!(code, 401);
    assert_api_error(&body, "unauthorized");
    first.shutdown();
}

#[test]
fn requests_without_the_right_token_are_refused() {
    let mut h = Harness::start();
    let token = h.token();
    let wrong = format!("Bearer {}", "0".repeat(64));
    let short = format!("Bearer {}", &token[..63]);
    let basic = format!("Basic {token}");
    for auth in [
        None,
        Some(wrong.as_str()),
        Some(&short),
        Some(&basic),
        Some("Bearer"),
    ] {
        for (method, route, body) in [
            ("GET", "/v1/status", None),
            ("GET", "/v1/inbox", None),
            (
                "POST",
                "/v1/peers",
                Some(json!({"multiaddr": "/ip4/192.0.2.7/tcp/1"})),
            ),
            ("GET", "/v1/no-such-route", None),
        ] {
            let (code, body) = h.call_with(method, route, auth, body);
            assert_eq!(code, 401, "{method} {route} with {auth:?}");
            assert_api_error(&body, "unauthorized");
        }
    }
    // Nothing reached the node.
    assert!(h.fake.calls().is_empty(), "{:?}", h.fake.calls());
    // The scheme is case-insensitive.
    let (code, _) = h.call_with("GET", "/v1/status", Some(&format!("bearer {token}")), None);
    assert_eq!(code, 200);
    h.shutdown();
}

#[test]
fn every_route_round_trips_its_json() {
    let mut h = Harness::start();

    let (code, body) = h.call("GET", "/v1/status", None);
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_value::<Status>(body.clone()).unwrap(),
        status()
    );
    assert_eq!(body["national_id"], "810001000016");

    let (code, body) = h.call("GET", "/v1/peers", None);
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_value::<Vec<PeerInfo>>(body).unwrap(),
        vec![peer()]
    );

    let (code, body) = h.call(
        "POST",
        "/v1/peers",
        Some(json!({"multiaddr": "/ip4/192.0.2.7/tcp/4100"})),
    );
    assert_eq!(code, 200);
    assert_eq!(serde_json::from_value::<PeerInfo>(body).unwrap(), peer());

    let send = SendRequest {
        to: "810002000014".into(),
        patient: Patient {
            ins: "255081416802538".into(),
            family: "MARTIN".into(),
            given: "Anne".into(),
            birth_date: "1955-08-14".into(),
            sex: "F".into(),
        },
        reason: "Palpitations".into(),
        urgent: true,
        letter: Some("Cher confrère,\n".into()),
        files: vec![PathBuf::from("/tmp/ecg.pdf")],
        consent: None,
        care_team: None,
    };
    let (code, body) = h.call(
        "POST",
        "/v1/send",
        Some(serde_json::to_value(&send).unwrap()),
    );
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_value::<Sent>(body).unwrap(),
        sent("aabbccddeeff0011")
    );

    let (code, body) = h.call("GET", "/v1/outbox", None);
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_value::<Vec<OutboxItem>>(body).unwrap(),
        vec![outbox_item()]
    );

    let (code, body) = h.call("GET", "/v1/inbox", None);
    assert_eq!(code, 200);
    let items: Vec<InboxItem> = serde_json::from_value(body).unwrap();
    assert_eq!(
        items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["1111", "2222"],
        "the daemon's order is kept"
    );

    let (code, body) = h.call("GET", "/v1/inbox/1111", None);
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_value::<InboxItem>(body).unwrap(),
        inbox_item("1111")
    );

    let (code, body) = h.call(
        "POST",
        "/v1/inbox/1111/open",
        Some(json!({"out_dir": "/tmp/out"})),
    );
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_value::<Opened>(body).unwrap(),
        Opened {
            files: vec![PathBuf::from("/tmp/out/ecg.pdf")]
        }
    );

    let (code, body) = h.call("POST", "/v1/inbox/1111/accept", None);
    assert_eq!(code, 200);
    assert_eq!(body["status"], "accepted");

    let (code, body) = h.call(
        "POST",
        "/v1/inbox/1111/decline",
        Some(json!({"reason": "no slot"})),
    );
    assert_eq!(code, 200);
    assert_eq!(body["status"], "declined");
    assert_eq!(body["decline_reason"], "no slot");

    let reply = ReplyRequest {
        letter: None,
        files: vec![PathBuf::from("/tmp/report.pdf")],
    };
    let (code, body) = h.call(
        "POST",
        "/v1/inbox/2222/reply",
        Some(serde_json::to_value(&reply).unwrap()),
    );
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_value::<Sent>(body).unwrap(),
        sent("ffeeddccbbaa9988")
    );
    let (code, body) = h.call(
        "POST",
        "/v1/credential",
        Some(json!({ "credential_hex": "01ab" })),
    );
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_value::<RenewedCredential>(body).unwrap(),
        renewed()
    );

    assert_eq!(
        h.fake.calls(),
        vec![
            "status".to_owned(),
            "peers".into(),
            "add_peer /ip4/192.0.2.7/tcp/4100".into(),
            format!("send {}", serde_json::to_string(&send).unwrap()),
            "outbox".into(),
            "inbox".into(),
            "inbox_show 1111".into(),
            "inbox_open 1111 /tmp/out".into(),
            "inbox_accept 1111".into(),
            "inbox_decline 1111 no slot".into(),
            format!(
                "inbox_reply 2222 {}",
                serde_json::to_string(&reply).unwrap()
            ),
            "renew_credential 01ab".into(),
        ]
    );
    h.shutdown();
}

#[test]
fn api_errors_map_to_http_statuses() {
    let mut h = Harness::start();
    for (code, status) in [
        ("not_found", 404),
        ("invalid", 400),
        ("refused", 409),
        ("unknown_recipient", 404),
        ("unauthorized", 401),
        ("unavailable", 503),
        ("internal", 500),
    ] {
        let e = ApiError::new(code, format!("it went {code}"), "do something");
        *h.fake.fail.lock().unwrap() = Some(e.clone());
        for (method, route, body) in [
            ("GET", "/v1/status", None),
            ("GET", "/v1/inbox/abcd", None),
            (
                "POST",
                "/v1/inbox/abcd/decline",
                Some(json!({"reason": "r"})),
            ),
        ] {
            let (got, body) = h.call(method, route, body);
            assert_eq!(got, status, "{code} on {method} {route}");
            assert_eq!(serde_json::from_value::<ApiError>(body).unwrap(), e);
        }
    }
    h.shutdown();
}

#[test]
fn bad_requests_get_json_errors() {
    let mut h = Harness::start();
    // A body that is not the route's type.
    let (code, body) = h.call("POST", "/v1/send", Some(json!({"to": "x"})));
    assert_eq!(code, 400);
    assert_api_error(&body, "invalid");
    // Unknown route, wrong method.
    let (code, body) = h.call("GET", "/v1/nothing", None);
    assert_eq!(code, 404);
    assert_api_error(&body, "not_found");
    let (code, body) = h.call("DELETE", "/v1/status", None);
    assert_eq!(code, 405);
    assert_api_error(&body, "invalid");
    assert!(h.fake.calls().is_empty(), "{:?}", h.fake.calls());
    h.shutdown();
}

#[test]
fn oversize_bodies_are_refused_before_reading_them() {
    let mut h = Harness::start();
    let mut stream = TcpStream::connect(("127.0.0.1", h.port())).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST /v1/send HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        h.token(),
        2 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert_api_error(&serde_json::from_str(body).unwrap(), "invalid");
    assert!(h.fake.calls().is_empty());

    // A body within the limit but over it once read (no length declared
    // up front: chunked) is refused as well.
    let big = json!({"reason": "x".repeat(1024 * 1024 + 1)});
    let auth = format!("Bearer {}", h.token());
    let result = h
        .agent
        .post(&h.url("/v1/inbox/abcd/decline"))
        .set("Authorization", &auth)
        .set("Transfer-Encoding", "chunked")
        .send_string(&big.to_string());
    match result {
        Err(ureq::Error::Status(413, resp)) => {
            assert_api_error(&resp.into_json().unwrap(), "invalid");
        }
        // The server may close the connection while the client still writes.
        Err(ureq::Error::Transport(_)) => {}
        other => panic!("expected 413, got {other:?}"),
    }
    assert!(h.fake.calls().is_empty());
    h.shutdown();
}

#[test]
fn shutdown_removes_the_endpoint_and_stops_listening() {
    let mut h = Harness::start();
    let port = h.port();
    let (code, _) = h.call("GET", "/v1/status", None);
    assert_eq!(code, 200);
    assert!(h.home.path().join(ENDPOINT_FILE).is_file());
    h.shutdown();
    assert!(!h.home.path().join(ENDPOINT_FILE).exists());
    assert!(!h.home.path().join(SOCKET_FILE).exists());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn the_socket_serves_the_same_api_and_a_stale_one_is_replaced() {
    let h = Harness::start();
    let socket = h.home.path().join(SOCKET_FILE);
    let ask = |auth: &str| {
        let mut s = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "GET /v1/status HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
    };
    let token = h.token();
    assert!(ask(&format!("Bearer {token}")).starts_with("HTTP/1.1 200"));
    // The token is required there too.
    assert!(ask("Bearer 00").starts_with("HTTP/1.1 401"));
    // Killed without a clean stop: the socket file stays, nobody listens.
    let Harness {
        rt, home, server, ..
    } = h;
    std::mem::forget(server);
    drop(rt);
    assert!(socket.exists());
    assert!(std::os::unix::net::UnixStream::connect(&socket).is_err());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt
        .block_on(serve(Arc::new(Fake::default()), home.path(), 0))
        .unwrap();
    assert!(std::os::unix::net::UnixStream::connect(&socket).is_ok());
    rt.block_on(server.shutdown());
    assert!(!socket.exists());
}

#[test]
fn dropping_the_server_stops_it_too() {
    let h = Harness::start();
    let port = h.port();
    let endpoint = h.home.path().join(ENDPOINT_FILE);
    let Harness {
        rt, home, server, ..
    } = h;
    drop(server);
    assert!(!endpoint.exists());
    // The server task sees the signal on its runtime; give it a moment.
    let mut refused = false;
    for _ in 0..100 {
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(20)).await });
        if TcpStream::connect(("127.0.0.1", port)).is_err() {
            refused = true;
            break;
        }
    }
    assert!(refused, "still listening after the server was dropped");
    drop(home);
}

#[test]
fn serve_fails_cleanly_on_a_missing_home() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let e = rt
        .block_on(serve(Arc::new(Fake::default()), &missing, 0))
        .unwrap_err();
    assert!(e.to_string().contains("api.token"), "{e}");
    assert!(!e.hint().is_empty());
}
