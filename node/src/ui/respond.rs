//! How the pages answer: the security headers every answer carries, the
//! cookies, redirects and error pages.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use askama::Template;

use super::guard::Refusal;
use super::i18n::{Lang, Tr};
use super::views::ErrorPage;
use crate::api::errors::http_status;
use crate::api::model::ApiError;

/// The session cookie's name.
pub(super) const SESSION_COOKIE: &str = "confrere_session";
/// The language cookie's name.
pub(super) const LANG_COOKIE: &str = "confrere_lang";

/// The Content-Security-Policy of every answer: nothing but the node's
/// own scripts, styles and images; no frame, no form to elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the headers every answer of the pages carries.
pub(super) fn secure(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// A cookie's value from the request's `Cookie` headers.
pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The page's language: `?lang=` if given, else the language cookie, else
/// French.
pub(super) fn lang_of(headers: &HeaderMap, uri: &Uri) -> Lang {
    let asked = uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == "lang")
            .and_then(|(_, v)| Lang::from_code(v))
    });
    asked
        .or_else(|| cookie(headers, LANG_COOKIE).and_then(Lang::from_code))
        .unwrap_or_default()
}

/// A `303 See Other` to a page of the node.
pub(super) fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

/// A rendered page, or the error page if rendering failed.
pub(super) fn html(status: StatusCode, rendered: Result<String, askama::Error>) -> Response {
    match rendered {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!("web inbox: a page could not be rendered: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "the page could not be made; retry, and report this bug if it persists",
            )
                .into_response()
        }
    }
}

/// The error page of a refusal.
pub(super) fn refused(lang: Lang, csrf: &str, r: Refusal) -> Response {
    let tr = Tr(lang);
    let page = ErrorPage {
        tr,
        csrf,
        message: tr.t(r.key()),
        hint: tr.t(r.hint_key()),
    };
    let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::BAD_REQUEST);
    html(status, page.render())
}

/// The error page of an API error: its message and hint, never more.
pub(super) fn failed(lang: Lang, csrf: &str, e: &ApiError) -> Response {
    let page = ErrorPage {
        tr: Tr(lang),
        csrf,
        message: &e.error,
        hint: e.hint.as_deref().unwrap_or_default(),
    };
    html(http_status(&e.code), page.render())
}

/// A refusal of the `Host` check, in plain text: the request may come from
/// another site's page, which gets no page of the node.
pub(super) fn host_refused(r: Refusal) -> Response {
    let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{}: {}\n", r.message(), r.hint()),
    )
        .into_response()
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_language_are_read_from_the_request() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; confrere_lang=en; confrere_session=abc"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "b"), None);
        let plain: Uri = "/ui/inbox".parse().unwrap();
        assert_eq!(lang_of(&h, &plain), Lang::En);
        let fr: Uri = "/ui/inbox?lang=fr".parse().unwrap();
        assert_eq!(lang_of(&h, &fr), Lang::Fr);
        assert_eq!(lang_of(&HeaderMap::new(), &plain), Lang::Fr);
    }

    #[test]
    fn every_answer_carries_the_security_headers() {
        let resp = secure(see_other("/ui/inbox"));
        let h = resp.headers();
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], CSP);
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
    }
}
