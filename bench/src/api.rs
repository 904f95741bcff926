//! A daemon's local API (`docs/api.md`), for what the harness polls: whether
//! a daemon answers, and where a consent's erasures stand. Everything the
//! measurements time goes through the `confrere` binary instead.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

/// A connection to one daemon's API.
pub(crate) struct Api {
    base: String,
    authorization: String,
    agent: ureq::Agent,
}

impl Api {
    /// Reads `HOME/api.json` and `HOME/api.token`; `pid` is the daemon the
    /// files must belong to (a stale `api.json` names another).
    pub(crate) fn connect(home: &Path, pid: u32) -> Result<Api, String> {
        let endpoint =
            std::fs::read(home.join("api.json")).map_err(|e| format!("no api.json yet: {e}"))?;
        let endpoint: Value =
            serde_json::from_slice(&endpoint).map_err(|e| format!("api.json: {e}"))?;
        if endpoint["pid"].as_u64() != Some(u64::from(pid)) {
            return Err(format!("api.json is another process's: {endpoint}"));
        }
        let port = endpoint["port"]
            .as_u64()
            .ok_or_else(|| format!("api.json without a port: {endpoint}"))?;
        let token = std::fs::read_to_string(home.join("api.token"))
            .map_err(|e| format!("no api.token yet: {e}"))?;
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout_read(Duration::from_secs(60))
            .redirects(0)
            .build();
        Ok(Api {
            base: format!("http://127.0.0.1:{port}/v1"),
            authorization: format!("Bearer {}", token.trim()),
            agent,
        })
    }

    /// `GET /v1/ROUTE`, the answer as JSON.
    pub(crate) fn get(&self, route: &str) -> Result<Value, String> {
        let answer = self
            .agent
            .get(&format!("{}/{route}", self.base))
            .set("Authorization", &self.authorization)
            .call();
        match answer {
            Ok(r) => r
                .into_json::<Value>()
                .map_err(|e| format!("GET {route}: unreadable answer: {e}")),
            Err(ureq::Error::Status(code, r)) => Err(format!(
                "GET {route}: HTTP {code}: {}",
                r.into_string().unwrap_or_default()
            )),
            Err(e) => Err(format!("GET {route}: {e}")),
        }
    }
}
