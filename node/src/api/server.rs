//! The local API's HTTP server: translates `http://127.0.0.1:PORT/v1/…`
//! requests into calls of a [`NodeApi`] and their answers into JSON.
//!
//! [`serve`] binds the loopback interface only, and writes two files into
//! the node's home:
//!
//! - `HOME/api.token` (mode 0600): a fresh random bearer token, 32 bytes in
//!   hex, replaced at every start. Every request must carry
//!   `Authorization: Bearer TOKEN`; whoever can read the file may drive the
//!   node, so it is readable by the owner of the home only.
//! - `HOME/api.sock` (mode 0600): the same API on a Unix socket, which the
//!   command line uses (see [`super::socket`]): unlike a TCP port, only the
//!   home's owner can put a listener there. Replaced at start, removed by
//!   [`ApiServer::shutdown`].
//! - `HOME/api.json`: `{"port": N, "pid": PID}`, written once the server
//!   listens and removed by [`ApiServer::shutdown`]. Other local clients
//!   find the TCP port through it; the command line does not use it.
//!
//! [`serve_with`] also serves routes its caller makes once the port is
//! known ([`Extra`]): the web inbox's login-link route under `/v1`, behind
//! the token, and its pages under `/ui/`, which check their own sessions
//! (docs/web-ui.md).
//!
//! Every answer of the JSON routes is JSON: the model type of the route, or an [`ApiError`]
//! whose `code` sets the HTTP status (see [`super::errors::http_status`]). Request bodies
//! are bounded ([`MAX_BODY`]: documents travel as paths, never as bodies)
//! and never logged, since they carry patient data.

use std::fs;
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::errors::http_status;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Path as UrlPath, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::net::UnixListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use super::consent_model::{
    CareTeamRequest, ConsentQuery, GrantConsentRequest, RevokeConsentRequest,
};
use super::model::{
    AddPeer, ApiError, DeclineRequest, NodeApi, OpenRequest, ReplyRequest, SendRequest,
};

/// The file, in the home, that holds the bearer token (mode 0600).
pub const TOKEN_FILE: &str = "api.token";
/// The file, in the home, that tells where the running daemon listens.
pub const ENDPOINT_FILE: &str = "api.json";
/// The largest request body accepted, in bytes.
pub const MAX_BODY: usize = 1024 * 1024;
/// How long [`ApiServer::shutdown`] waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The contents of `HOME/api.json`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Endpoint {
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    /// The daemon's process id.
    pub pid: u32,
}

/// Why the API server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiServerError {
    /// The port could not be bound.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for.
        port: u16,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The Unix socket could not be bound.
    #[error("cannot listen on {path}: {source}")]
    Socket {
        /// The socket file.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A file of the home could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The system's random generator failed.
    #[error("cannot make the API token: the system random generator failed")]
    Random,
}

impl ApiServerError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            ApiServerError::Bind { port: 0, .. } => {
                "check that the loopback interface (127.0.0.1) is up".into()
            }
            ApiServerError::Bind { .. } => {
                "another program (or another daemon) uses that port: choose another one, or 0 for any free port".into()
            }
            ApiServerError::Socket { .. } => {
                "check the home directory's permissions (the daemon's user must own it), and remove api.sock if it is not a socket".into()
            }
            ApiServerError::Write { .. } => {
                "check the home directory's permissions and free space".into()
            }
            ApiServerError::Random => {
                "retry; if it persists, the system random generator is unavailable".into()
            }
        }
    }
}

/// The running API server. Stop it with [`ApiServer::shutdown`]; dropping
/// it stops it too, without waiting for requests in flight.
#[derive(Debug)]
pub struct ApiServer {
    port: u16,
    endpoint_path: PathBuf,
    /// The socket file and its inode, to remove it only if it is ours.
    socket: (PathBuf, u64),
    stop: Option<watch::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl ApiServer {
    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops accepting connections, removes `HOME/api.json`, and waits (up
    /// to 10 seconds) for the requests in flight to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.remove_endpoint();
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                tracing::warn!("local API: requests still running after 10 s; stopping them");
                task.abort();
            }
        }
    }

    /// Removes `api.json` if it still describes this server (a later daemon
    /// may have replaced it).
    fn remove_endpoint(&self) {
        let ours = fs::read(&self.endpoint_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Endpoint>(&b).ok())
            .is_some_and(|e| e.port == self.port && e.pid == std::process::id());
        if ours {
            let _ = fs::remove_file(&self.endpoint_path);
        }
        let (path, ino) = &self.socket;
        if fs::symlink_metadata(path).is_ok_and(|m| {
            use std::os::unix::fs::MetadataExt;
            m.ino() == *ino
        }) {
            let _ = fs::remove_file(path);
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
            self.remove_endpoint();
        }
    }
}

/// Routes served beside the JSON API by the same listeners (the web
/// inbox's): made once the port is known.
#[derive(Debug, Default)]
pub struct Extra {
    /// Routes under `/v1`, behind the bearer token like the JSON routes
    /// (paths relative to `/v1`).
    pub authenticated: Router,
    /// Routes outside `/v1` that authenticate requests themselves.
    pub public: Router,
}

/// Starts the local API on `127.0.0.1:port` (0: any free port) for the node
/// whose home is `home`: makes a fresh token in `HOME/api.token`, listens
/// there and on `HOME/api.sock`, then writes `HOME/api.json`. Must be called within a tokio runtime.
pub async fn serve<A: NodeApi>(
    api: Arc<A>,
    home: &Path,
    port: u16,
) -> Result<ApiServer, ApiServerError> {
    serve_with(api, home, port, |_| Extra::default()).await
}

/// [`serve`], with the routes `extra` makes for the port bound.
pub async fn serve_with<A: NodeApi>(
    api: Arc<A>,
    home: &Path,
    port: u16,
    extra: impl FnOnce(u16) -> Extra,
) -> Result<ApiServer, ApiServerError> {
    let token = new_token()?;
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .map_err(|source| ApiServerError::Bind { port, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ApiServerError::Bind { port, source })?
        .port();
    write_replacing(home, TOKEN_FILE, token.as_bytes())?;
    let (unix, socket) = bind_socket(home)?;
    let app = router(api, Arc::new(Token(token)), extra(bound));
    let (stop, stopped) = watch::channel(());
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        // A dropped sender stops the server as well.
        async move {
            let _ = stopped.changed().await;
        }
    };
    let tcp = axum::serve(listener, app.clone()).with_graceful_shutdown(until_stopped());
    let unix = axum::serve(unix, app).with_graceful_shutdown(until_stopped());
    let task = tokio::spawn(async move {
        let (tcp, unix) = tokio::join!(tcp, unix);
        tcp.and(unix)
    });
    let server = ApiServer {
        port: bound,
        endpoint_path: home.join(ENDPOINT_FILE),
        socket,
        stop: Some(stop),
        task: Some(task),
    };
    let endpoint = Endpoint {
        port: bound,
        pid: std::process::id(),
    };
    let json = serde_json::to_vec(&endpoint).map_err(|e| ApiServerError::Write {
        path: home.join(ENDPOINT_FILE).display().to_string(),
        source: io::Error::other(e),
    })?;
    // On failure `server` is dropped, which stops it.
    write_replacing(home, ENDPOINT_FILE, &json)?;
    tracing::info!("local API listening on 127.0.0.1:{bound}");
    Ok(server)
}

/// 32 random bytes, hex.
/// Binds `HOME/api.sock` (mode 0600), replacing a stale one: the caller
/// holds the home's store lock, so no other daemon of this home serves it.
fn bind_socket(home: &Path) -> Result<(UnixListener, (PathBuf, u64)), ApiServerError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    let path = home.join(super::socket::SOCKET_FILE);
    let err = |source| ApiServerError::Socket {
        path: path.display().to_string(),
        source,
    };
    match fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_socket() => {
            tracing::info!("replacing the stale {}", path.display());
            fs::remove_file(&path).map_err(err)?;
        }
        Ok(_) => {
            return Err(err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a file that is not a socket is in the way",
            )))
        }
        Err(_) => {}
    }
    let listener = super::socket::with_socket_path(home, |p| UnixListener::bind(p)).map_err(err)?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(err)?;
    let ino = fs::symlink_metadata(&path).map_err(err)?.ino();
    Ok((listener, (path, ino)))
}

fn new_token() -> Result<Zeroizing<String>, ApiServerError> {
    use ring::rand::SecureRandom;
    let mut bytes = Zeroizing::new([0u8; 32]);
    ring::rand::SystemRandom::new()
        .fill(bytes.as_mut())
        .map_err(|_| ApiServerError::Random)?;
    Ok(Zeroizing::new(hex::encode(bytes.as_ref())))
}

/// Writes `HOME/name` through a temporary file (mode 0600) renamed over it,
/// so readers see the old or the new contents, never a part.
fn write_replacing(home: &Path, name: &str, bytes: &[u8]) -> Result<(), ApiServerError> {
    let target = home.join(name);
    let werr = |source| ApiServerError::Write {
        path: target.display().to_string(),
        source,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .tempfile_in(home)
        .map_err(werr)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(werr)?;
    }
    tmp.write_all(bytes).map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    tmp.persist(&target).map_err(|e| werr(e.error))?;
    let _ = crate::files::sync_dir(home);
    Ok(())
}

/// An error answer: an [`ApiError`] body with an HTTP status.
struct Failure(StatusCode, ApiError);

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure(http_status(&e.code), e)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

fn answer<T: Serialize>(result: Result<T, ApiError>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => Failure::from(e).into_response(),
    }
}

/// A JSON request body, bounded, whose rejections are [`ApiError`]s.
struct Body<T>(T);

impl<T, S> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Failure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let too_large = || {
            Failure(
                StatusCode::PAYLOAD_TOO_LARGE,
                ApiError::new(
                    "invalid",
                    format!("the request body is larger than {MAX_BODY} bytes"),
                    "give documents as file paths; the daemon reads them itself",
                ),
            )
        };
        // Refuse a declared oversize body before reading any of it.
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY as u64) {
            return Err(too_large());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                Failure(
                    StatusCode::BAD_REQUEST,
                    ApiError::new(
                        "invalid",
                        "the request body could not be read",
                        "retry the request",
                    ),
                )
            }
        })?;
        serde_json::from_slice(&bytes).map(Body).map_err(|e| {
            Failure(
                StatusCode::BAD_REQUEST,
                ApiError::new(
                    "invalid",
                    format!("the request body is not what this route takes: {e}"),
                    "send the JSON object the API documents for this route",
                ),
            )
        })
    }
}

/// The bearer token the server was started with.
struct Token(Zeroizing<String>);

impl Token {
    /// Compares in time independent of where the strings differ.
    fn matches(&self, presented: &[u8]) -> bool {
        let expected = self.0.as_bytes();
        if presented.len() != expected.len() {
            return false;
        }
        expected
            .iter()
            .zip(presented)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

async fn require_token(State(token): State<Arc<Token>>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .and_then(|v| {
            let (scheme, rest) = v.split_at_checked(7)?;
            scheme.eq_ignore_ascii_case(b"bearer ").then_some(rest)
        })
        .map(<[u8]>::trim_ascii);
    if presented.is_some_and(|t| token.matches(t)) {
        next.run(req).await
    } else {
        Failure(
            StatusCode::UNAUTHORIZED,
            ApiError::new(
                "unauthorized",
                "missing or wrong API token",
                "send `Authorization: Bearer TOKEN` with the token in HOME/api.token of the running daemon",
            ),
        )
        .into_response()
    }
}

fn router<A: NodeApi>(api: Arc<A>, token: Arc<Token>, extra: Extra) -> Router {
    let v1 = Router::new()
        .route("/status", get(status::<A>))
        .route("/peers", get(peers::<A>).post(add_peer::<A>))
        .route("/peers/{key}", delete(remove_peer::<A>))
        .route("/directory/{national_id}", get(find_peers::<A>))
        .route("/send", post(send::<A>))
        .route("/outbox", get(outbox::<A>))
        .route("/inbox", get(inbox::<A>))
        .route("/inbox/{id}", get(inbox_show::<A>))
        .route("/inbox/{id}/open", post(inbox_open::<A>))
        .route("/inbox/{id}/accept", post(inbox_accept::<A>))
        .route("/inbox/{id}/decline", post(inbox_decline::<A>))
        .route("/inbox/{id}/reply", post(inbox_reply::<A>))
        .route("/consents", get(consent_list::<A>).post(consent_grant::<A>))
        .route("/consents/{id}", get(consent_show::<A>))
        .route("/consents/{id}/revoke", post(consent_revoke::<A>))
        .route("/journal", get(journal::<A>))
        .route("/purge", post(purge::<A>))
        .route("/ledger", get(ledger::<A>))
        .route("/ledger/verify", get(ledger_verify::<A>))
        .route("/care-team", post(care_team_record::<A>))
        .route("/credential", post(renew_credential::<A>))
        .route("/crls/update", post(crl_update::<A>))
        .route("/crls/import", post(crl_import::<A>))
        .with_state(api)
        .merge(extra.authenticated);
    let json = Router::new()
        .nest("/v1", v1)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(token, require_token));
    extra.public.merge(json)
}

async fn not_found() -> Failure {
    Failure(
        StatusCode::NOT_FOUND,
        ApiError::new(
            "not_found",
            "no such API route",
            "the routes are under /v1; check the command line and the daemon have the same version",
        ),
    )
}

async fn method_not_allowed() -> Failure {
    Failure(
        StatusCode::METHOD_NOT_ALLOWED,
        ApiError::new(
            "invalid",
            "this route does not take that method",
            "check the command line and the daemon have the same version",
        ),
    )
}

async fn status<A: NodeApi>(State(api): State<Arc<A>>) -> Response {
    answer(api.status().await)
}

async fn peers<A: NodeApi>(State(api): State<Arc<A>>) -> Response {
    answer(api.peers().await)
}

async fn add_peer<A: NodeApi>(State(api): State<Arc<A>>, Body(req): Body<AddPeer>) -> Response {
    answer(api.add_peer(req).await)
}

async fn remove_peer<A: NodeApi>(
    State(api): State<Arc<A>>,
    UrlPath(key): UrlPath<String>,
) -> Response {
    answer(api.remove_peer(key).await)
}

async fn find_peers<A: NodeApi>(
    State(api): State<Arc<A>>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    answer(api.find_peers(id).await)
}

async fn send<A: NodeApi>(State(api): State<Arc<A>>, Body(req): Body<SendRequest>) -> Response {
    answer(api.send(req).await)
}

async fn outbox<A: NodeApi>(State(api): State<Arc<A>>) -> Response {
    answer(api.outbox().await)
}

async fn inbox<A: NodeApi>(State(api): State<Arc<A>>) -> Response {
    answer(api.inbox().await)
}

async fn inbox_show<A: NodeApi>(
    State(api): State<Arc<A>>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    answer(api.inbox_show(id).await)
}

async fn inbox_open<A: NodeApi>(
    State(api): State<Arc<A>>,
    UrlPath(id): UrlPath<String>,
    Body(req): Body<OpenRequest>,
) -> Response {
    answer(api.inbox_open(id, req).await)
}

async fn inbox_accept<A: NodeApi>(
    State(api): State<Arc<A>>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    answer(api.inbox_accept(id).await)
}

async fn inbox_decline<A: NodeApi>(
    State(api): State<Arc<A>>,
    UrlPath(id): UrlPath<String>,
    Body(req): Body<DeclineRequest>,
) -> Response {
    answer(api.inbox_decline(id, req).await)
}

async fn inbox_reply<A: NodeApi>(
    State(api): State<Arc<A>>,
    UrlPath(id): UrlPath<String>,
    Body(req): Body<ReplyRequest>,
) -> Response {
    answer(api.inbox_reply(id, req).await)
}

async fn consent_grant<A: NodeApi>(
    State(api): State<Arc<A>>,
    Body(req): Body<GrantConsentRequest>,
) -> Response {
    answer(api.consent_grant(req).await)
}

async fn consent_list<A: NodeApi>(
    State(api): State<Arc<A>>,
    query: Result<Query<ConsentQuery>, QueryRejection>,
) -> Response {
    match query {
        Ok(Query(q)) => answer(api.consent_list(q.patient_ins).await),
        Err(_) => Failure::from(ApiError::new(
            "invalid",
            "the query string is not what this route takes",
            "give nothing, or ?patient_ins=INS",
        ))
        .into_response(),
    }
}

async fn ledger<A: NodeApi>(
    State(api): State<Arc<A>>,
    query: Result<Query<crate::api::ledger_model::ShowQuery>, QueryRejection>,
) -> Response {
    match query {
        Ok(Query(q)) => answer(api.ledger(q.since).await),
        Err(_) => Failure::from(ApiError::new(
            "invalid",
            "the query string is not what this route takes",
            "give nothing, or ?since=SEQ",
        ))
        .into_response(),
    }
}

async fn ledger_verify<A: NodeApi>(
    State(api): State<Arc<A>>,
    query: Result<Query<crate::api::ledger_model::VerifyQuery>, QueryRejection>,
) -> Response {
    match query {
        Ok(Query(q)) => answer(api.ledger_verify(q.signatures == Some(true)).await),
        Err(_) => Failure::from(ApiError::new(
            "invalid",
            "the query string is not what this route takes",
            "give nothing, or ?signatures=true",
        ))
        .into_response(),
    }
}

async fn purge<A: NodeApi>(State(api): State<Arc<A>>, body: Bytes) -> Response {
    match serde_json::from_slice::<crate::api::purge_model::PurgeRequest>(&body) {
        Ok(req) => answer(api.purge(req).await),
        Err(_) => Failure::from(ApiError::new(
            "invalid",
            "the body is not a purge request",
            "send {\"dry_run\": true} or {\"dry_run\": false}",
        ))
        .into_response(),
    }
}

async fn journal<A: NodeApi>(
    State(api): State<Arc<A>>,
    query: Result<Query<crate::api::journal_model::JournalQuery>, QueryRejection>,
) -> Response {
    match query {
        Ok(Query(q)) => answer(api.journal(q.patient_ins).await),
        Err(_) => Failure::from(ApiError::new(
            "invalid",
            "the journal needs the patient's INS",
            "give ?patient_ins=INS",
        ))
        .into_response(),
    }
}

async fn consent_show<A: NodeApi>(
    State(api): State<Arc<A>>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    answer(api.consent_show(id).await)
}

async fn consent_revoke<A: NodeApi>(
    State(api): State<Arc<A>>,
    UrlPath(id): UrlPath<String>,
    Body(req): Body<RevokeConsentRequest>,
) -> Response {
    answer(api.consent_revoke(id, req).await)
}

async fn care_team_record<A: NodeApi>(
    State(api): State<Arc<A>>,
    Body(req): Body<CareTeamRequest>,
) -> Response {
    answer(api.care_team_record(req).await)
}

async fn renew_credential<A: NodeApi>(
    State(api): State<Arc<A>>,
    Body(req): Body<crate::api::model::RenewCredentialRequest>,
) -> Response {
    answer(api.renew_credential(req).await)
}

async fn crl_update<A: NodeApi>(State(api): State<Arc<A>>) -> Response {
    answer(api.crl_update().await)
}

async fn crl_import<A: NodeApi>(
    State(api): State<Arc<A>>,
    Body(req): Body<crate::api::model::CrlImportRequest>,
) -> Response {
    answer(api.crl_import(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        let t = Token(Zeroizing::new("abcd".into()));
        assert!(t.matches(b"abcd"));
        assert!(!t.matches(b"abce"));
        assert!(!t.matches(b"abc"));
        assert!(!t.matches(b""));
        assert!(!t.matches(b"abcde"));
    }
}
