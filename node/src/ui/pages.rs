//! The pages' routes and handlers: each checks the session (and on a form
//! post its CSRF token), calls the [`NodeApi`] and renders a template.

use std::sync::Arc;
use std::time::Instant;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, Form, Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::guard;
use super::i18n::{Lang, Tr};
use super::respond::{
    cookie, failed, host_refused, html, lang_of, refused, secure, see_other, LANG_COOKIE,
    SESSION_COOKIE,
};
use super::sessions::{RedeemError, Session};
use super::views::{DossierPage, ErrorPage, InboxPage, NodePage};
use super::{assets, Ui};
use crate::api::model::{ApiError, DeclineRequest, NodeApi};

/// The largest form accepted, in bytes (a decline reason is short).
pub const MAX_FORM: usize = 64 * 1024;

/// The state of the pages' handlers.
struct Ctx<A> {
    api: Arc<A>,
    ui: Arc<Ui>,
}

impl<A> Clone for Ctx<A> {
    fn clone(&self) -> Self {
        Ctx {
            api: self.api.clone(),
            ui: self.ui.clone(),
        }
    }
}

/// The pages, under `/ui/`, behind the `Host` and `Origin` checks, every
/// answer with the security headers.
pub(super) fn router<A: NodeApi>(api: Arc<A>, ui: Arc<Ui>) -> Router {
    let ctx = Ctx {
        api,
        ui: ui.clone(),
    };
    Router::new()
        .route("/ui", get(to_inbox))
        .route("/ui/", get(to_inbox))
        .route("/ui/login", get(login::<A>))
        .route("/ui/logout", post(logout::<A>))
        .route("/ui/lang", post(set_lang::<A>))
        .route("/ui/inbox", get(inbox::<A>))
        .route("/ui/dossier/{id}", get(dossier::<A>))
        .route("/ui/dossier/{id}/accept", post(accept::<A>))
        .route("/ui/dossier/{id}/decline", post(decline::<A>))
        .route("/ui/node", get(node::<A>))
        .route("/ui/assets/{name}", get(asset))
        .route("/ui/{*rest}", get(not_found).post(not_found))
        .with_state(ctx)
        .layer(DefaultBodyLimit::max(MAX_FORM))
        .layer(middleware::from_fn_with_state(ui, checks))
}

/// The `Host` check on every request, the `Origin` check on every post,
/// and the security headers on every answer.
async fn checks(State(ui): State<Arc<Ui>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    if let Err(r) = guard::check_host(host.as_deref(), ui.port) {
        return secure(host_refused(r));
    }
    if req.method() == Method::POST {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .map(|o| o.to_str().unwrap_or("invalid"));
        let fetch_site = req
            .headers()
            .get("sec-fetch-site")
            .map(|o| o.to_str().unwrap_or("invalid"));
        if let Err(r) = guard::check_origin(origin, fetch_site, host.as_deref().unwrap_or_default())
        {
            let lang = lang_of(req.headers(), req.uri());
            return secure(refused(lang, "", r));
        }
    }
    secure(next.run(req).await)
}

/// The fields of the pages' forms.
#[derive(Debug, Default, Deserialize)]
struct PostForm {
    csrf: Option<String>,
    reason: Option<String>,
    lang: Option<String>,
}

/// The session of a page request, or the page that refuses it.
fn session(ui: &Ui, headers: &HeaderMap, lang: Lang) -> Result<Session, Box<Response>> {
    ui.sessions
        .touch(cookie(headers, SESSION_COOKIE), Instant::now())
        .map_err(|r| Box::new(refused(lang, "", r)))
}

/// The session of a form post whose CSRF token matches, and the form.
fn posted(
    ui: &Ui,
    headers: &HeaderMap,
    lang: Lang,
    form: Result<Form<PostForm>, FormRejection>,
) -> Result<(Session, PostForm), Box<Response>> {
    let s = session(ui, headers, lang)?;
    let form = form.map(|Form(f)| f).unwrap_or_default();
    guard::check_csrf(&s.csrf, form.csrf.as_deref())
        .map_err(|r| Box::new(refused(lang, &s.csrf, r)))?;
    Ok((s, form))
}

async fn to_inbox() -> Response {
    see_other("/ui/inbox")
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    t: Option<String>,
}

async fn login<A: NodeApi>(
    State(ctx): State<Ctx<A>>,
    headers: HeaderMap,
    uri: Uri,
    query: Result<axum::extract::Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let lang = lang_of(&headers, &uri);
    let token = query.ok().and_then(|q| q.0.t).unwrap_or_default();
    match ctx.ui.sessions.redeem(&token, Instant::now()) {
        Ok(id) => {
            let mut resp = see_other("/ui/inbox");
            let cookie = format!("{SESSION_COOKIE}={id}; Path=/ui; HttpOnly; SameSite=Strict");
            if let Ok(v) = cookie.parse() {
                resp.headers_mut().insert(header::SET_COOKIE, v);
            }
            resp
        }
        Err(RedeemError::Refused(r)) => refused(lang, "", r),
        Err(RedeemError::NoRandom) => failed(
            lang,
            "",
            &ApiError::new(
                "internal",
                "cannot open a session: the system random generator failed",
                "retry; if it persists, the system random generator is unavailable",
            ),
        ),
    }
}

async fn logout<A: NodeApi>(
    State(ctx): State<Ctx<A>>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<PostForm>, FormRejection>,
) -> Response {
    let lang = lang_of(&headers, &uri);
    if let Err(page) = posted(&ctx.ui, &headers, lang, form) {
        return *page;
    }
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        ctx.ui.sessions.end(id);
    }
    let tr = Tr(lang);
    let page = ErrorPage {
        tr,
        csrf: "",
        message: tr.t("logout.done"),
        hint: tr.t("hint.login"),
    };
    let mut resp = html(StatusCode::OK, page.render());
    let gone = format!("{SESSION_COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(v) = gone.parse() {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn set_lang<A: NodeApi>(
    State(ctx): State<Ctx<A>>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<PostForm>, FormRejection>,
) -> Response {
    let lang = lang_of(&headers, &uri);
    let (_, form) = match posted(&ctx.ui, &headers, lang, form) {
        Ok(x) => x,
        Err(page) => return *page,
    };
    let chosen = form
        .lang
        .as_deref()
        .and_then(Lang::from_code)
        .unwrap_or_default();
    let mut resp = see_other("/ui/inbox");
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=31536000",
        chosen.code()
    );
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn inbox<A: NodeApi>(State(ctx): State<Ctx<A>>, headers: HeaderMap, uri: Uri) -> Response {
    let lang = lang_of(&headers, &uri);
    let s = match session(&ctx.ui, &headers, lang) {
        Ok(s) => s,
        Err(page) => return *page,
    };
    match ctx.api.inbox().await {
        Ok(items) => html(
            StatusCode::OK,
            InboxPage::new(Tr(lang), &s.csrf, items).render(),
        ),
        Err(e) => failed(lang, &s.csrf, &e),
    }
}

async fn dossier<A: NodeApi>(
    State(ctx): State<Ctx<A>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let lang = lang_of(&headers, &uri);
    let s = match session(&ctx.ui, &headers, lang) {
        Ok(s) => s,
        Err(page) => return *page,
    };
    // The same call as `confrere inbox show`: reading the referral is an
    // opening, recorded in the ledger.
    match ctx.api.inbox_show(id).await {
        Ok(item) => html(
            StatusCode::OK,
            DossierPage::new(Tr(lang), &s.csrf, item).render(),
        ),
        Err(e) => failed(lang, &s.csrf, &e),
    }
}

async fn accept<A: NodeApi>(
    State(ctx): State<Ctx<A>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    form: Result<Form<PostForm>, FormRejection>,
) -> Response {
    let lang = lang_of(&headers, &uri);
    let (s, _) = match posted(&ctx.ui, &headers, lang, form) {
        Ok(x) => x,
        Err(page) => return *page,
    };
    match ctx.api.inbox_accept(id).await {
        Ok(_) => see_other("/ui/inbox"),
        Err(e) => failed(lang, &s.csrf, &e),
    }
}

async fn decline<A: NodeApi>(
    State(ctx): State<Ctx<A>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    form: Result<Form<PostForm>, FormRejection>,
) -> Response {
    let lang = lang_of(&headers, &uri);
    let (s, form) = match posted(&ctx.ui, &headers, lang, form) {
        Ok(x) => x,
        Err(page) => return *page,
    };
    let reason = form.reason.unwrap_or_default();
    match ctx.api.inbox_decline(id, DeclineRequest { reason }).await {
        Ok(_) => see_other("/ui/inbox"),
        Err(e) => failed(lang, &s.csrf, &e),
    }
}

async fn node<A: NodeApi>(State(ctx): State<Ctx<A>>, headers: HeaderMap, uri: Uri) -> Response {
    let lang = lang_of(&headers, &uri);
    let s = match session(&ctx.ui, &headers, lang) {
        Ok(s) => s,
        Err(page) => return *page,
    };
    let answer = async {
        let status = ctx.api.status().await?;
        let peers = ctx.api.peers().await?.len();
        Ok::<_, ApiError>((status, peers))
    };
    match answer.await {
        Ok((status, peers)) => html(
            StatusCode::OK,
            NodePage {
                tr: Tr(lang),
                csrf: &s.csrf,
                status,
                peers,
            }
            .render(),
        ),
        Err(e) => failed(lang, &s.csrf, &e),
    }
}

async fn asset(Path(name): Path<String>, headers: HeaderMap, uri: Uri) -> Response {
    match assets::asset(&name) {
        Some((media_type, body)) => ([(header::CONTENT_TYPE, media_type)], body).into_response(),
        None => not_found(headers, uri).await,
    }
}

async fn not_found(headers: HeaderMap, uri: Uri) -> Response {
    let tr = Tr(lang_of(&headers, &uri));
    let page = ErrorPage {
        tr,
        csrf: "",
        message: tr.t("error.not_found"),
        hint: tr.t("error.not_found_hint"),
    };
    html(StatusCode::NOT_FOUND, page.render())
}
