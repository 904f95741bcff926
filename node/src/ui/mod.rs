//! The web inbox: server-rendered pages under `/ui/`, served by the local
//! API's listener on 127.0.0.1 beside the JSON routes (docs/web-ui.md).
//!
//! The pages are one more client of [`NodeApi`], like the JSON routes: they
//! never reach into the daemon. A session starts from a one-time login
//! link the command line asks for (`POST /v1/ui/login-link`, behind the
//! API's bearer token) and lives in a cookie; every decision about a
//! request (its `Host`, its `Origin`, its CSRF token, the link, the
//! session) is a plain function of [`guard`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::api::model::{ApiError, NodeApi};
use crate::api::server::Extra;

mod assets;
pub mod guard;
pub mod i18n;
mod pages;
mod respond;
mod sessions;
mod views;

pub use pages::MAX_FORM;
pub use respond::CSP;
pub use sessions::{MAX_LINKS, MAX_SESSIONS};

/// `POST /v1/ui/login-link`: a one-time link that opens a session.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoginLink {
    /// `http://127.0.0.1:PORT/ui/login?t=TOKEN`.
    pub url: String,
    /// Seconds it stays valid.
    pub expires_in_seconds: u64,
}

/// What the pages share: the node's port and the sessions.
#[derive(Debug)]
pub(crate) struct Ui {
    port: u16,
    sessions: sessions::Sessions,
}

/// The web inbox's routes for a node whose API listens on `port`, with
/// sessions ending after `idle` without a request: the login-link route
/// (to serve behind the API token) and the pages.
pub fn routes<A: NodeApi>(api: Arc<A>, port: u16, idle: Duration) -> Extra {
    let ui = Arc::new(Ui {
        port,
        sessions: sessions::Sessions::new(idle),
    });
    Extra {
        authenticated: Router::new()
            .route("/ui/login-link", post(login_link))
            .with_state(ui.clone()),
        public: pages::router(api, ui),
    }
}

async fn login_link(axum::extract::State(ui): axum::extract::State<Arc<Ui>>) -> Response {
    match ui.sessions.new_link(Instant::now()) {
        Ok(token) => Json(LoginLink {
            url: format!("http://127.0.0.1:{}/ui/login?t={token}", ui.port),
            expires_in_seconds: guard::LINK_LIFETIME.as_secs(),
        })
        .into_response(),
        Err(sessions::NoRandom) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(ApiError::new(
                "internal",
                "cannot make a login link: the system random generator failed",
                "retry; if it persists, the system random generator is unavailable",
            )),
        )
            .into_response(),
    }
}
