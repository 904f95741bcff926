//! One HTTP GET of a CRL, bounded in time and size.
//!
//! `ureq` (blocking; the daemon runs it on the blocking pool) with HTTPS by
//! rustls and the Mozilla roots, and the proxy of `[crl] proxy`, else of
//! the `ALL_PROXY` / `HTTPS_PROXY` / `HTTP_PROXY` variables
//! (`NO_PROXY` is not read: ureq 2 does not; a URL on this machine,
//! `localhost`, `127.0.0.1` or `[::1]`, never goes through the
//! environment's proxy).
//! What comes back is only bytes: whether it is a CRL of a known CA,
//! genuine and newer, is decided by
//! [`confrere_protocol::crl::check_crl_update`] afterwards, so a server or
//! proxy can at worst withhold a CRL, never forge or roll one back.

use std::io::Read;
use std::time::Duration;

/// Largest CRL body read (10 MiB); a longer answer is refused. The
/// IGC-Santé CRLs weigh a few hundred KiB.
pub const MAX_CRL_BYTES: u64 = 10 * 1024 * 1024;

/// Longest a fetch may take, connection, redirects and body included
/// (30 seconds).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Most redirects followed.
pub const MAX_REDIRECTS: u32 = 3;

/// Why a CRL could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// No answer: DNS, connection, TLS, proxy or time limit.
    #[error("{url} is unreachable: {reason}")]
    Unreachable {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The server answered with an HTTP error.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The body is longer than [`MAX_CRL_BYTES`].
    #[error("{url} sent more than {max} bytes, more than a CRL may be")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        max: u64,
    },
    /// `[crl] proxy` is not usable.
    #[error("the proxy {proxy} of [crl] proxy is not usable: {reason}")]
    Proxy {
        /// The proxy.
        proxy: String,
        /// Why.
        reason: String,
    },
}

/// GETs `url` through `proxy` (else the environment's) and returns the body.
pub fn fetch(url: &str, proxy: Option<&str>) -> Result<Vec<u8>, FetchError> {
    let mut builder = ureq::AgentBuilder::new()
        .timeout(FETCH_TIMEOUT)
        .redirects(MAX_REDIRECTS)
        .user_agent(concat!("confrere/", env!("CARGO_PKG_VERSION")))
        .try_proxy_from_env(!is_loopback(url));
    if let Some(p) = proxy {
        let parsed = ureq::Proxy::new(p).map_err(|e| FetchError::Proxy {
            proxy: p.to_owned(),
            reason: e.to_string(),
        })?;
        builder = builder.proxy(parsed);
    }
    let agent = builder.build();
    let response = match agent.get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(status, _)) => {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status,
            })
        }
        Err(ureq::Error::Transport(t)) => {
            return Err(FetchError::Unreachable {
                url: url.to_owned(),
                reason: transport_reason(&t),
            })
        }
    };
    let mut body = Vec::new();
    response
        .into_reader()
        .take(MAX_CRL_BYTES + 1)
        .read_to_end(&mut body)
        .map_err(|e| FetchError::Unreachable {
            url: url.to_owned(),
            reason: format!("the answer broke off: {e}"),
        })?;
    if body.len() as u64 > MAX_CRL_BYTES {
        return Err(FetchError::TooLarge {
            url: url.to_owned(),
            max: MAX_CRL_BYTES,
        });
    }
    Ok(body)
}

/// Whether `url` names this machine (`localhost`, `127.x.x.x`, `[::1]`).
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port
            .split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or("").to_owned()
    };
    let host = host.to_ascii_lowercase();
    let ipv4_loopback =
        host.starts_with("127.") && host.chars().all(|c| c.is_ascii_digit() || c == '.');
    host == "localhost" || host == "[::1]" || ipv4_loopback
}

/// The transport error in words, without the URL (said already).
fn transport_reason(t: &ureq::Transport) -> String {
    let kind = t.kind().to_string();
    match t.message() {
        Some(m) => format!("{kind}: {m}"),
        None => match std::error::Error::source(t) {
            Some(s) => format!("{kind}: {s}"),
            None => kind,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_on_this_machine_are_told_apart() {
        assert!(is_loopback("http://127.0.0.1:8080/a.crl"));
        assert!(is_loopback("http://localhost/a.crl"));
        assert!(is_loopback("https://[::1]:443/a.crl"));
        assert!(!is_loopback(
            "http://igc-sante.esante.gouv.fr/CRL/ACI-EL-PP-TEST.crl"
        ));
        assert!(!is_loopback("http://127.0.0.1.example.org@10.0.0.1/a.crl"));
        assert!(!is_loopback("http://[2001:db8::1]/a.crl"));
        assert!(!is_loopback("http://127.example.org/a.crl"));
    }
}
