//! Confrère nodes inside a [`Topology`](super::Topology): `confrere run` in a
//! host's namespace, listening on TCP and QUIC on every interface there,
//! without mDNS, joined to the network through bootstrap nodes.
//!
//! A node is a [`Daemon`] with a [`Launch`] naming its namespace, so every
//! helper that takes a `&Daemon` ([`crate::SendCommand`], [`crate::outbox`],
//! [`crate::inbox`], …) takes an [`NsNode`] too. The command line reaches a
//! node from the test's own namespace: its local API is the Unix socket
//! `HOME/api.sock`, which network namespaces do not separate. Dropping an
//! [`NsNode`] kills its daemon (and prints the end of its log if the test
//! is failing); dropping the topology kills whatever is still inside.

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::Host;
use crate::{confrere_cmd, run, wait_for, Daemon, Launch, Outcome};

/// The port every node listens on (TCP and UDP/QUIC) in its namespace:
/// each namespace has its own ports, so the same one serves every node,
/// and a restarted node comes back on the same address.
pub const NODE_PORT: u16 = 4001;

/// The `RUST_LOG` of nodes in namespaces: the node's own lines, and
/// libp2p's about relays, hole punching and AutoNAT, which say why a path
/// was or was not taken when a test fails.
pub const NODE_LOG_FILTER: &str =
    "info,libp2p=warn,libp2p_relay=info,libp2p_dcutr=info,libp2p_autonat=info";

/// How a node takes part in the network.
#[derive(Clone, Debug, Default)]
pub struct Role {
    /// `--public`: a directory server, bootstrap node and relay.
    pub public: bool,
    /// `--bootstrap` addresses (`…/p2p/PEER_ID`).
    pub bootstrap: Vec<String>,
}

impl Role {
    /// A public node (bootstrap, directory, relay) that knows no other.
    pub fn public() -> Role {
        Role {
            public: true,
            bootstrap: Vec::new(),
        }
    }

    /// A practice's node joining through `bootstrap`.
    pub fn joining(bootstrap: &str) -> Role {
        Role {
            public: false,
            bootstrap: vec![bootstrap.to_owned()],
        }
    }
}

/// One verified record of `confrere peers find --json`, as far as the
/// tests look at it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The node's libp2p PeerId.
    pub peer_id: String,
    /// Its published addresses.
    pub addresses: Vec<String>,
}

impl Found {
    /// Whether one of its addresses goes through a relay.
    pub fn relayed(&self) -> bool {
        self.addresses.iter().any(|a| a.contains("/p2p-circuit"))
    }
}

/// A `confrere run` daemon in a host's namespace.
#[derive(Debug)]
pub struct NsNode {
    daemon: Daemon,
    host: Host,
}

impl NsNode {
    /// Starts the daemon of the enrolled `home` in `host`'s namespace on
    /// [`NODE_PORT`] (`/ip4/0.0.0.0/tcp/PORT` and
    /// `/ip4/0.0.0.0/udp/PORT/quic-v1`), its output appended to `log`, and
    /// waits until it answers `status`.
    ///
    /// # Panics
    ///
    /// If it does not start in [`crate::DAEMON_START_LIMIT`].
    #[track_caller]
    pub fn start(label: &str, host: &Host, home: &Path, log: &Path, role: &Role) -> NsNode {
        let mut args = Vec::new();
        for addr in &role.bootstrap {
            args.push("--bootstrap".to_owned());
            args.push(addr.clone());
        }
        if role.public {
            args.push("--public".to_owned());
        }
        let launch = Launch {
            ns: Some(host.ns().to_owned()),
            listen: vec![
                format!("/ip4/0.0.0.0/tcp/{NODE_PORT}"),
                format!("/ip4/0.0.0.0/udp/{NODE_PORT}/quic-v1"),
            ],
            args,
            log_filter: Some(NODE_LOG_FILTER.to_owned()),
        };
        NsNode {
            daemon: Daemon::start_with(label, home, NODE_PORT, log, launch),
            host: host.clone(),
        }
    }

    /// The host it runs on.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// `/ip4/ADDR/tcp/PORT/p2p/PEER_ID` with the address the internet sees
    /// (its router's for a practice): what others dial for a public node.
    pub fn tcp_multiaddr(&self) -> String {
        format!(
            "/ip4/{}/tcp/{NODE_PORT}/p2p/{}",
            self.host.public_addr(),
            self.daemon.peer_id()
        )
    }

    /// `status --json`.
    ///
    /// # Panics
    ///
    /// If the command fails.
    #[track_caller]
    pub fn status(&self) -> Value {
        self.daemon.json(["status"])
    }

    /// `peers find NATIONAL_ID --json`, as it came.
    pub fn find(&self, national_id: &str) -> Outcome {
        let mut cmd = confrere_cmd();
        cmd.args(["peers", "find", national_id, "--json", "--home"])
            .arg(self.daemon.home());
        run(&mut cmd)
    }

    /// The records `peers find NATIONAL_ID --json` shows, or what it said
    /// instead.
    ///
    /// # Errors
    ///
    /// The outcome of a command that failed or printed no records.
    pub fn found(&self, national_id: &str) -> Result<Vec<Found>, String> {
        let out = self.find(national_id);
        if out.code != Some(0) {
            return Err(out.to_string());
        }
        let v: Value = serde_json::from_str(&out.stdout).map_err(|e| format!("{e}\n{out}"))?;
        let found = parse_found(&v);
        if found.is_empty() {
            Err(format!("no records in\n{out}"))
        } else {
            Ok(found)
        }
    }

    /// Waits until `peers find NATIONAL_ID` on this node shows records of
    /// which `want` approves, and returns them.
    ///
    /// # Panics
    ///
    /// If that does not happen within `limit`.
    #[track_caller]
    pub fn wait_found(
        &self,
        national_id: &str,
        limit: Duration,
        want: impl Fn(&[Found]) -> bool,
    ) -> Vec<Found> {
        wait_for(
            &format!(
                "{} to find {national_id} in the directory",
                self.daemon.label()
            ),
            limit,
            Duration::from_millis(500),
            || {
                let found = self.found(national_id)?;
                if want(&found) {
                    Ok(found)
                } else {
                    Err(format!("{found:?}"))
                }
            },
        )
    }

    /// Waits until `status --json` says a reachability among `want`
    /// (`public`, `behind NAT`, `relayed`), and returns the status.
    ///
    /// # Panics
    ///
    /// If that does not happen within `limit`.
    #[track_caller]
    pub fn wait_reachability(&self, want: &[&str], limit: Duration) -> Value {
        wait_for(
            &format!("{} to be reachable as {want:?}", self.daemon.label()),
            limit,
            Duration::from_millis(500),
            || {
                let mut cmd = confrere_cmd();
                cmd.args(["status", "--json", "--home"])
                    .arg(self.daemon.home());
                let out = run(&mut cmd);
                let v: Value = serde_json::from_str(&out.stdout).map_err(|_| out.to_string())?;
                let r = v["reachability"].as_str().unwrap_or_default();
                if want.contains(&r) {
                    Ok(v)
                } else {
                    Err(v.to_string())
                }
            },
        )
    }
}

/// The records of a `peers find --json` answer: a list of records, or an
/// object holding one under `records`; each with `peer_id` and
/// `addresses` (strings).
pub fn parse_found(v: &Value) -> Vec<Found> {
    let list = match v {
        Value::Array(items) => items.as_slice(),
        Value::Object(o) => match o.get("records") {
            Some(Value::Array(items)) => items.as_slice(),
            _ => &[],
        },
        _ => &[],
    };
    list.iter()
        .filter_map(|r| {
            let peer_id = r["peer_id"].as_str()?.to_owned();
            let addresses = r["addresses"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            Some(Found { peer_id, addresses })
        })
        .collect()
}

impl Deref for NsNode {
    type Target = Daemon;

    fn deref(&self) -> &Daemon {
        &self.daemon
    }
}

impl DerefMut for NsNode {
    fn deref_mut(&mut self) -> &mut Daemon {
        &mut self.daemon
    }
}
