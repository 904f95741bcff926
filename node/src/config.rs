//! The node's settings: `HOME/config.toml`, read once when a home is opened
//! ([`Config::load`], called by [`crate::home::Home::open`]).
//!
//! The file is TOML, read by the `toml` crate into typed sections. The
//! daemon reads it when it starts; a purge reads it again, so that a new
//! `[retention] years` applies without a restart (and a file that has
//! become invalid refuses the purge). A key
//! the node does not know, a value of the wrong type or out of its range
//! stops whoever reads it (the daemon at start, a command that opens the
//! home) with the file, the line and what to do: a setting is never
//! silently replaced by its default. A setting left out takes its default;
//! a home without `config.toml` runs on the defaults.
//!
//! The settings and their defaults:
//!
//! | setting                    | default | meaning                                      |
//! |----------------------------|---------|----------------------------------------------|
//! | `[trust] revocation_check` | `true`  | check peers' certificates against the CRLs   |
//! | `[trust] policies`         | `[]`    | certificate policy OIDs accepted (empty: any) |
//! | `[api] port`               | `0`     | TCP port of the local API (0: any free one)   |
//! | `[ui] idle_minutes`        | `15`    | web inbox sessions end after this idle time (1 to 1440) |
//! | `[retention] years`        | `20`    | years a dossier is kept after its last event  |
//! | `[network] listen`         | `[]`    | multiaddrs to listen on (empty: all, any port) |
//! | `[network] bootstrap`      | `[]`    | bootstrap nodes, multiaddrs ending in `/p2p/PEER_ID` |
//! | `[network] public`         | `false` | serve as directory server, bootstrap node and relay |
//! | `[network] external`       | `[]`    | addresses announced as they are (port forward, DNS) |
//! | `[relay] max_reservations` | `256`   | nodes holding a relay slot at once (1 to 10000) |
//! | `[relay] max_reservations_per_peer` | `4` | slots per node (1 to 64) |
//! | `[relay] max_circuits`     | `64`    | relayed circuits open at once (1 to 10000) |
//! | `[relay] max_circuits_per_peer` | `8` | circuits per node, either end (1 to 256) |
//! | `[relay] max_circuit_minutes` | `120` | longest a circuit stays open (1 to 1440) |
//! | `[relay] max_circuit_mib`  | `8192`  | most MiB a circuit carries (1 to 1048576) |
//! | `[crl] fetch`              | `true`  | fetch the CRLs ahead of their nextUpdate       |
//! | `[crl] urls`               | `[]`    | more http(s) URLs to fetch CRLs from (at most 32) |
//! | `[crl] proxy`              | none    | HTTP proxy for the fetches (else `HTTP(S)_PROXY`) |
//! | `[transfers] unfinished_per_sender` | `4` | unfinished inbound transfers held per sender |
//! | `[transfers] unfinished_gib_per_sender` | `16` | GiB those may announce in all |
//! | `[transfers] unfinished_expiry_days` | `7` | days after which an unfinished one is erased |
//!
//! `[identity]` is informative: it is accepted and not used.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{Deserializer, Error as _};
use serde::Deserialize;

mod crl;
mod network;

pub use crl::{CrlSection, MAX_CONFIG_URLS};
pub use network::{parse_bootstrap, NetworkSection, RelaySection, BOOTSTRAP_EXAMPLE};

/// The name of the configuration file in a home.
pub const CONFIG_FILE: &str = "config.toml";

/// Default retention, in years (the French rule for medical records).
pub const DEFAULT_RETENTION_YEARS: u32 = 20;

/// Largest accepted retention, in years: a value past it is a typo, and
/// the retention period decides what `purge` destroys.
pub const MAX_RETENTION_YEARS: u32 = 200;

/// The node's configuration (`HOME/config.toml`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Informative: who the node speaks for (not read).
    #[serde(default)]
    pub identity: IdentitySection,
    /// How peers' certificates are checked.
    #[serde(default)]
    pub trust: TrustSection,
    /// The local API.
    #[serde(default)]
    pub api: ApiSection,
    /// The web inbox.
    #[serde(default)]
    pub ui: UiSection,
    /// How long dossiers are kept.
    #[serde(default)]
    pub retention: RetentionSection,
    /// The peer-to-peer network.
    #[serde(default)]
    pub network: NetworkSection,
    /// Unfinished inbound transfers: quota and expiry.
    #[serde(default)]
    pub transfers: TransfersSection,
    /// The caps this node keeps as a relay (a public node).
    #[serde(default)]
    pub relay: RelaySection,
    /// How the daemon keeps the CRLs fresh.
    #[serde(default)]
    pub crl: CrlSection,
}

/// `[transfers]`: what colleagues' unfinished transfers may hold, and for
/// how long (see `confrere_protocol::transfer::quota`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TransfersSection {
    /// Most unfinished inbound transfers held per sender (1 to 64).
    #[serde(default = "default_per_sender", deserialize_with = "per_sender")]
    pub unfinished_per_sender: u32,
    /// Most GiB the unfinished transfers of one sender may announce
    /// (1 to 64).
    #[serde(default = "default_gib", deserialize_with = "gib_per_sender")]
    pub unfinished_gib_per_sender: u32,
    /// Days after its first offer when an unfinished transfer is erased
    /// (1 to 365).
    #[serde(default = "default_expiry_days", deserialize_with = "expiry_days")]
    pub unfinished_expiry_days: u32,
}

impl Default for TransfersSection {
    fn default() -> Self {
        TransfersSection {
            unfinished_per_sender: default_per_sender(),
            unfinished_gib_per_sender: default_gib(),
            unfinished_expiry_days: default_expiry_days(),
        }
    }
}

impl TransfersSection {
    /// The limits these settings give.
    pub fn limits(&self) -> confrere_protocol::transfer::quota::UnfinishedLimits {
        confrere_protocol::transfer::quota::UnfinishedLimits {
            max_per_sender: self.unfinished_per_sender as usize,
            max_bytes_per_sender: u64::from(self.unfinished_gib_per_sender) << 30,
            max_age_secs: i64::from(self.unfinished_expiry_days) * 24 * 3600,
        }
    }
}

fn default_per_sender() -> u32 {
    u32::try_from(confrere_protocol::transfer::quota::MAX_UNFINISHED_PER_SENDER).unwrap_or(4)
}

fn default_gib() -> u32 {
    u32::try_from(confrere_protocol::transfer::quota::MAX_UNFINISHED_BYTES_PER_SENDER >> 30)
        .unwrap_or(16)
}

fn default_expiry_days() -> u32 {
    u32::try_from(confrere_protocol::transfer::quota::UNFINISHED_MAX_AGE_SECS / (24 * 3600))
        .unwrap_or(7)
}

/// A whole number within `range`, or an error naming the setting.
fn in_range<'de, D: Deserializer<'de>>(
    d: D,
    setting: &str,
    unit: &str,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, D::Error> {
    let n = i64::deserialize(d)?;
    match u32::try_from(n) {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(D::Error::custom(format!(
            "{setting} must be a whole number of {unit} from {} to {}, not {n}",
            range.start(),
            range.end()
        ))),
    }
}

fn per_sender<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    in_range(d, "[transfers] unfinished_per_sender", "transfers", 1..=64)
}

fn gib_per_sender<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    in_range(d, "[transfers] unfinished_gib_per_sender", "GiB", 1..=64)
}

fn expiry_days<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    in_range(d, "[transfers] unfinished_expiry_days", "days", 1..=365)
}

/// `[identity]`: written by `confrere init` for the reader; the node's
/// identity is its signed credential, so these values are not used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct IdentitySection {
    /// The practitioner's national id, as `init` wrote it.
    pub national_id: Option<String>,
    /// The node's PeerId, as `init` wrote it.
    pub peer_id: Option<String>,
}

/// `[trust]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TrustSection {
    /// Check every peer certificate against its CA's CRL (default true).
    #[serde(default = "yes")]
    pub revocation_check: bool,
    /// Certificate policy OIDs a peer's card certificate must carry one of,
    /// dotted decimal (default empty: any policy).
    #[serde(default, deserialize_with = "policy_oids")]
    pub policies: Vec<String>,
}

impl Default for TrustSection {
    fn default() -> Self {
        TrustSection {
            revocation_check: true,
            policies: Vec::new(),
        }
    }
}

/// `[api]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ApiSection {
    /// TCP port of the local API on 127.0.0.1; 0 lets the system choose.
    #[serde(default)]
    pub port: u16,
}

/// Default idle time of a web inbox session, in minutes.
pub const DEFAULT_UI_IDLE_MINUTES: u32 = 15;
/// Longest idle time of a web inbox session, in minutes (a day).
pub const MAX_UI_IDLE_MINUTES: u32 = 1440;

/// `[ui]`: the web inbox.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct UiSection {
    /// Minutes without a request after which a session ends (1 to
    /// [`MAX_UI_IDLE_MINUTES`], default [`DEFAULT_UI_IDLE_MINUTES`]).
    #[serde(default = "default_idle", deserialize_with = "idle_minutes")]
    pub idle_minutes: u32,
}

impl Default for UiSection {
    fn default() -> Self {
        UiSection {
            idle_minutes: DEFAULT_UI_IDLE_MINUTES,
        }
    }
}

impl UiSection {
    /// The idle time as a duration.
    pub fn idle(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.idle_minutes) * 60)
    }
}

fn default_idle() -> u32 {
    DEFAULT_UI_IDLE_MINUTES
}

fn idle_minutes<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let minutes = i64::deserialize(d)?;
    match u32::try_from(minutes) {
        Ok(m) if (1..=MAX_UI_IDLE_MINUTES).contains(&m) => Ok(m),
        _ => Err(D::Error::custom(format!(
            "[ui] idle_minutes must be a whole number of minutes from 1 to {MAX_UI_IDLE_MINUTES}, not {minutes}"
        ))),
    }
}

/// `[retention]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RetentionSection {
    /// Years a dossier is kept after the last event about it
    /// (0 to [`MAX_RETENTION_YEARS`], default [`DEFAULT_RETENTION_YEARS`];
    /// 0 puts every dossier past its retention at the next purge).
    #[serde(default = "default_years", deserialize_with = "retention_years")]
    pub years: u32,
}

impl Default for RetentionSection {
    fn default() -> Self {
        RetentionSection {
            years: DEFAULT_RETENTION_YEARS,
        }
    }
}

fn yes() -> bool {
    true
}

fn default_years() -> u32 {
    DEFAULT_RETENTION_YEARS
}

fn retention_years<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let years = i64::deserialize(d)?;
    match u32::try_from(years) {
        Ok(y) if y <= MAX_RETENTION_YEARS => Ok(y),
        _ => Err(D::Error::custom(format!(
            "[retention] years must be a whole number of years from 0 to {MAX_RETENTION_YEARS}, not {years}"
        ))),
    }
}

fn policy_oids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let oids = Vec::<String>::deserialize(d)?;
    for oid in &oids {
        confrere_protocol::check_policy_oid(oid)
            .map_err(|e| D::Error::custom(format!("[trust] policies: {e}")))?;
    }
    Ok(oids)
}

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, or holds an unknown key or a bad value.
    #[error("{}", Location(self))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line (from 1) of the problem, when the parser locates it.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
}

/// `path:line: message`.
struct Location<'a>(&'a ConfigError);

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            ConfigError::Invalid {
                path,
                line: Some(line),
                message,
            } => write!(f, "{}, line {line}: {message}", path.display()),
            ConfigError::Invalid { path, message, .. } => {
                write!(f, "{}: {message}", path.display())
            }
            ConfigError::Read { .. } => Ok(()),
        }
    }
}

impl ConfigError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            ConfigError::Read { path, .. } => format!(
                "check that {} is readable by the user running Confrère",
                path.display()
            ),
            ConfigError::Invalid { path, .. } => format!(
                "correct or remove that line of {} (a setting left out takes its default; \
                 the settings, their values and defaults are in docs/operations.md \
                 and in the comments `confrere init` writes), then run the command again",
                path.display()
            ),
        }
    }
}

impl Config {
    /// Reads `HOME/config.toml`; the defaults when there is none.
    pub fn load(home: &Path) -> Result<Config, ConfigError> {
        let path = home.join(CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    /// Parses the text of a configuration file; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().trim_end().to_owned(),
        })
    }
}

/// The line (from 1) holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/h/config.toml"))
    }

    fn err(text: &str) -> (Option<usize>, String) {
        match parse(text) {
            Err(ConfigError::Invalid { line, message, .. }) => (line, message),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn empty_file_is_the_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c, Config::default());
        assert!(c.trust.revocation_check);
        assert!(c.trust.policies.is_empty());
        assert_eq!(c.api.port, 0);
        assert_eq!(c.retention.years, DEFAULT_RETENTION_YEARS);
        assert!(c.network.listen.is_empty());
    }

    #[test]
    fn every_setting_is_read() {
        let c = parse(
            "[identity]\nnational_id = \"8\"\npeer_id = \"x\"\n\
             [trust]\nrevocation_check = false\npolicies = [\"1.2.250.1.213.1.7.2.1.1.1.1\"]\n\
             [api]\nport = 8421\n[retention]\nyears = 30\n\
             [network]\nlisten = [\"/ip4/127.0.0.1/tcp/4001\"]\n",
        )
        .unwrap();
        assert!(!c.trust.revocation_check);
        assert_eq!(c.trust.policies, vec!["1.2.250.1.213.1.7.2.1.1.1.1"]);
        assert_eq!(c.api.port, 8421);
        assert_eq!(c.retention.years, 30);
        assert_eq!(c.network.listen.len(), 1);
    }

    #[test]
    fn the_ui_idle_time_is_read_and_bounded() {
        assert_eq!(parse("").unwrap().ui.idle_minutes, DEFAULT_UI_IDLE_MINUTES);
        let c = parse("[ui]\nidle_minutes = 30\n").unwrap();
        assert_eq!(c.ui.idle(), std::time::Duration::from_secs(30 * 60));
        for text in [
            "[ui]\nidle_minutes = 0\n",
            "[ui]\nidle_minutes = 1441\n",
            "[ui]\nidle_minutes = -5\n",
            "[ui]\nidle_minutes = \"15\"\n",
            "[ui]\nidle = 15\n",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn transfer_limits_are_read_and_bounded() {
        let d = parse("").unwrap().transfers.limits();
        assert_eq!(
            d,
            confrere_protocol::transfer::quota::UnfinishedLimits::default()
        );
        let c = parse(
            "[transfers]\nunfinished_per_sender = 2\nunfinished_gib_per_sender = 1\n\
             unfinished_expiry_days = 3\n",
        )
        .unwrap();
        let l = c.transfers.limits();
        assert_eq!(l.max_per_sender, 2);
        assert_eq!(l.max_bytes_per_sender, 1 << 30);
        assert_eq!(l.max_age_secs, 3 * 86_400);
        for (text, needle) in [
            (
                "[transfers]\nunfinished_per_sender = 0\n",
                "unfinished_per_sender",
            ),
            ("[transfers]\nunfinished_gib_per_sender = 65\n", "GiB"),
            ("[transfers]\nunfinished_expiry_days = -1\n", "days"),
            ("[transfers]\nunfinished_expiry_days = 366\n", "1 to 365"),
            ("[transfers]\nunfinished_expiry = 3\n", "unfinished_expiry"),
        ] {
            let (line, message) = err(text);
            assert_eq!(line, Some(2), "{text}: {message}");
            assert!(message.contains(needle), "{text}: {message}");
        }
    }

    #[test]
    fn a_hash_inside_quotes_is_part_of_the_value() {
        let c = parse("[identity]\nnational_id = \"81#0\" # a comment\n").unwrap();
        assert_eq!(c.identity.national_id.as_deref(), Some("81#0"));
    }

    #[test]
    fn a_bad_port_is_refused_on_its_line() {
        let (line, msg) = err("[api]\n\nport = 70000\n");
        assert_eq!(line, Some(3), "{msg}");
        let (line, msg) = err("[api]\nport = \"8080\"\n");
        assert_eq!(line, Some(2), "{msg}");
        let (line, _) = err("[api]\nport = -1\n");
        assert_eq!(line, Some(2));
    }

    #[test]
    fn bad_retention_years_are_refused_not_replaced() {
        for bad in ["-3", "201", "\"20\"", "20.5", "twenty", ""] {
            let (line, msg) = err(&format!("[retention]\nyears = {bad}\n"));
            assert_eq!(line, Some(2), "{bad}: {msg}");
        }
        let (_, msg) = err("[retention]\nyears = 201\n");
        assert!(msg.contains("from 0 to 200"), "{msg}");
        assert_eq!(
            parse("[retention]\nyears = 0\n").unwrap().retention.years,
            0
        );
    }

    #[test]
    fn an_unknown_key_or_section_is_refused() {
        let (line, msg) = err("[api]\nport = 0\nprot = 1\n");
        assert_eq!(line, Some(3));
        assert!(msg.contains("prot"), "{msg}");
        let (line, msg) = err("[trust]\n\n[apis]\nport = 1\n");
        assert_eq!(line, Some(3), "{msg}");
        assert!(msg.contains("apis"), "{msg}");
    }

    #[test]
    fn revocation_check_must_be_a_boolean() {
        let (line, _) = err("[trust]\nrevocation_check = \"no\"\n");
        assert_eq!(line, Some(2));
        let (line, _) = err("[trust]\nrevocation_check = yes\n");
        assert_eq!(line, Some(2));
    }

    #[test]
    fn a_bad_policy_oid_is_refused() {
        for bad in [
            "\"\"",
            "\"1\"",
            "\"3.1\"",
            "\"1.2.x\"",
            "\"1..2\"",
            "\"1.02\"",
            "[1]",
        ] {
            let (line, msg) = err(&format!("[trust]\npolicies = [{bad}]\n"));
            assert_eq!(line, Some(2), "{bad}: {msg}");
        }
    }

    #[test]
    fn invalid_toml_is_located() {
        let (line, _) = err("[api]\nport = = 1\n");
        assert_eq!(line, Some(2));
    }

    #[test]
    fn the_error_names_file_line_and_a_hint() {
        let e = parse("[api]\nport = 99999\n").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("/h/config.toml, line 2: "), "{text}");
        assert!(e.hint().contains("/h/config.toml"), "{}", e.hint());
    }

    #[test]
    fn a_missing_file_is_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load(dir.path()).unwrap(), Config::default());
    }
}
