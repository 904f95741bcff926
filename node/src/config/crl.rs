//! `[crl]` of config.toml: how the daemon keeps the CRLs fresh (see
//! [`crate::crls`]).

use serde::de::{Deserializer, Error as _};
use serde::Deserialize;

use confrere_protocol::crl_fetch::is_fetchable_url;

/// Most URLs `[crl] urls` may list.
pub const MAX_CONFIG_URLS: usize = 32;

/// `[crl]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CrlSection {
    /// Fetch the CRLs by itself, ahead of their nextUpdate (default true).
    /// Off: only `confrere crl update` and `confrere crl import` bring new
    /// ones.
    #[serde(default = "yes")]
    pub fetch: bool,
    /// More URLs to fetch CRLs from, `http://` or `https://` (default
    /// empty), for a PKI whose certificates name no HTTP distribution
    /// point, or a local mirror. Each CRL fetched is taken for the CA that
    /// signed it.
    #[serde(default, deserialize_with = "urls")]
    pub urls: Vec<String>,
    /// An HTTP proxy for the fetches, `http://HOST:PORT` (default none:
    /// the `ALL_PROXY`, `HTTPS_PROXY` and `HTTP_PROXY`
    /// variables of the daemon's environment are used; `NO_PROXY` is not
    /// read).
    #[serde(default, deserialize_with = "proxy")]
    pub proxy: Option<String>,
}

impl Default for CrlSection {
    fn default() -> Self {
        CrlSection {
            fetch: true,
            urls: Vec::new(),
            proxy: None,
        }
    }
}

fn yes() -> bool {
    true
}

fn urls<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let list = Vec::<String>::deserialize(d)?;
    if list.len() > MAX_CONFIG_URLS {
        return Err(D::Error::custom(format!(
            "[crl] urls lists {} URLs: at most {MAX_CONFIG_URLS}",
            list.len()
        )));
    }
    for url in &list {
        if !is_fetchable_url(url) {
            return Err(D::Error::custom(format!(
                "[crl] urls: \"{}\" is not an http:// or https:// URL (ldap:// and file paths are not fetched; use `confrere crl import` for a file)",
                url.chars().take(80).collect::<String>()
            )));
        }
    }
    Ok(list)
}

fn proxy<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let p = String::deserialize(d)?;
    let ok = p.starts_with("http://")
        && p.len() > 7
        && p.len() <= 512
        && !p.contains(char::is_whitespace);
    if !ok {
        return Err(D::Error::custom(format!(
            "[crl] proxy must be an http://HOST:PORT URL, not \"{}\"",
            p.chars().take(80).collect::<String>()
        )));
    }
    Ok(Some(p))
}
