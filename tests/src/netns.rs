//! Multi-host tests in Linux network namespaces: an "internet", practices
//! behind NAT routers, and public hosts, all made by the test with `ip netns`,
//! veth pairs and nftables, and all removed when the [`Topology`] is dropped.
//!
//! ```text
//!                      internet namespace (hub, routes, 198.18.0.1 on lo)
//!          up0 198.18.1.1/24      up1 198.18.2.1/24      up2 198.18.3.1/24
//!              |                      |                      |
//!   wan 198.18.1.2 (router "a")   wan 198.18.2.2 (router "b")   eth0 198.18.3.2
//!   nft masquerade                nft masquerade random,...     (public host "p",
//!   lan 10.1.0.1/24               lan 10.2.0.1/24                NatKind::None)
//!              |                      |
//!   eth0 10.1.0.2 (host "a")      eth0 10.2.0.2 (host "b")
//! ```
//!
//! Host number `i` (0-based, in the order given to [`Builder::host`]) has the
//! uplink `198.18.(i+1).0/24` (hub `.1`, router or public host `.2`); a
//! practice's LAN is `10.(i+1).0.0/24` (router `.1`, host `.2`). Every address
//! is in 198.18.0.0/15 (reserved for benchmarking, never routed on the real
//! internet) or in 10.0.0.0/8, and exists only inside the namespaces: no
//! interface or route is added to the machine's own namespace. IPv6 is
//! disabled in every namespace, so nothing bypasses the NAT through
//! link-local addresses.
//!
//! Namespaces are named `cfn<pid>-<n>-<role>` (`inet`, `r<host>` for a
//! router, `h<host>` for a host): unique per process and topology. Dropping
//! the [`Topology`] (also while panicking) kills every process still inside
//! its namespaces and deletes them, which takes their veths and nftables
//! tables with them. The first topology of a process also deletes the
//! namespaces of earlier runs whose process is gone ([`sweep_leftovers`]).
//!
//! Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN), `ip` (iproute2) and `nft`
//! (nftables): [`available`] says why not; [`skip_unless_available`] turns
//! that into a `SKIPPED: …` line, or a failure when [`REQUIRED_ENV`] is set
//! (scripts/test.sh sets it when run as root).

mod exec;
pub mod node;
pub mod scene;
mod system;

pub use exec::{in_ns, run_in, run_in_with_limit, spawn_in, spawn_in_logged, NsChild};
pub use system::{available, list_namespaces, skip_unless_available, sweep_leftovers};

use system::{ip, link, make_ns, nft, remove_ns, sweep_once};

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Start of the name of every namespace this module makes.
pub const PREFIX: &str = "cfn";

/// The internet namespace's own address (on its loopback), for listeners
/// that stand for "a server on the internet".
pub const INTERNET_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

/// When this environment variable is set (to anything but `0`), a machine
/// where namespaces cannot be made fails the tests instead of skipping
/// them. scripts/test.sh sets it when it runs as root (as CI does).
pub const REQUIRED_ENV: &str = "CONFRERE_NETNS_REQUIRED";

/// Most hosts in one topology (host `i` uses 198.18.(i+1).0/24 and
/// 10.(i+1).0.0/24).
pub const MAX_HOSTS: usize = 200;

/// Longest host name (it becomes part of namespace names).
pub const MAX_NAME_LEN: usize = 6;

/// How a host reaches the internet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatKind {
    /// A public host: its own namespace directly on the internet, with a
    /// 198.18.x.2 address every other host can reach.
    None,
    /// A practice behind a router doing plain `masquerade`: the source port
    /// is kept when it is free, so a port is mapped to the same public port
    /// whatever the destination (what hole punching needs). Unsolicited
    /// inbound traffic is dropped; replies (and a simultaneous open matching
    /// an outgoing attempt) pass.
    PortPreserving,
    /// A practice behind a router doing `masquerade random,fully-random`:
    /// every new connection gets a random public port, so the port a third
    /// party observed is useless to anyone else, and unsolicited inbound
    /// traffic is dropped. Hole punching fails; only a relay works.
    Symmetric,
}

/// Which hosts a topology has; [`Builder::build`] makes it.
#[derive(Debug, Default)]
pub struct Builder {
    hosts: Vec<(String, NatKind)>,
}

impl Builder {
    /// Adds a host called `name` (1 to [`MAX_NAME_LEN`] characters among
    /// `a-z0-9`): a practice behind a router of the given kind, or a public
    /// host for [`NatKind::None`].
    #[must_use]
    pub fn host(mut self, name: &str, nat: NatKind) -> Builder {
        self.hosts.push((name.to_owned(), nat));
        self
    }

    /// Makes the namespaces, links, addresses, routes and NAT rules.
    ///
    /// # Errors
    ///
    /// A bad host name, or the `ip`/`nft` command that failed and what it
    /// said; whatever was already made is removed.
    pub fn build(self) -> Result<Topology, String> {
        check_names(&self.hosts)?;
        sweep_once();
        let n = TOPOLOGY_COUNTER.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("{PREFIX}{}-{n}-", std::process::id());
        let mut topo = Topology {
            internet: format!("{prefix}inet"),
            prefix,
            hosts: Vec::new(),
        };
        // On error `topo` is dropped here, which removes what was made.
        topo.make_internet()?;
        for (i, (name, nat)) in self.hosts.into_iter().enumerate() {
            topo.add_host(i, name, nat)?;
        }
        Ok(topo)
    }
}

fn check_names(hosts: &[(String, NatKind)]) -> Result<(), String> {
    if hosts.len() > MAX_HOSTS {
        return Err(format!(
            "{} hosts asked for, at most {MAX_HOSTS} fit in one topology",
            hosts.len()
        ));
    }
    for (i, (name, _)) in hosts.iter().enumerate() {
        let ok = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !ok {
            return Err(format!(
                "host name {name:?}: use 1 to {MAX_NAME_LEN} characters among a-z and 0-9"
            ));
        }
        if hosts[..i].iter().any(|(other, _)| other == name) {
            return Err(format!("host name {name:?} is given twice"));
        }
    }
    Ok(())
}

static TOPOLOGY_COUNTER: AtomicU32 = AtomicU32::new(0);

/// One host of a [`Topology`].
#[derive(Clone, Debug)]
pub struct Host {
    name: String,
    nat: NatKind,
    ns: String,
    router_ns: Option<String>,
    addr: Ipv4Addr,
    public_addr: Ipv4Addr,
    uplink: String,
}

impl Host {
    /// The name given to [`Builder::host`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How it reaches the internet.
    pub fn nat(&self) -> NatKind {
        self.nat
    }

    /// The namespace its processes run in.
    pub fn ns(&self) -> &str {
        &self.ns
    }

    /// The namespace of its NAT router (`None` for a public host).
    pub fn router_ns(&self) -> Option<&str> {
        self.router_ns.as_deref()
    }

    /// Its own address: `10.(i+1).0.2` behind a router, `198.18.(i+1).2`
    /// for a public host.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The address others see its traffic come from: its router's WAN
    /// address, or its own for a public host.
    pub fn public_addr(&self) -> Ipv4Addr {
        self.public_addr
    }
}

/// A set of namespaces made by [`Builder::build`]; dropping it removes them
/// and kills every process left inside.
#[derive(Debug)]
pub struct Topology {
    prefix: String,
    internet: String,
    hosts: Vec<Host>,
}

impl Topology {
    /// A builder with no hosts yet.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Whether namespaces can be made here, and if not, why.
    ///
    /// # Errors
    ///
    /// Not root, no `ip` or `nft` command, or the kernel refused a test
    /// namespace, veth pair or nftables table.
    pub fn available() -> Result<(), String> {
        available()
    }

    /// The start of the names of this topology's namespaces.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The internet namespace (it also holds [`INTERNET_ADDR`]).
    pub fn internet_ns(&self) -> &str {
        &self.internet
    }

    /// Every host, in the order they were added.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The host called `name`.
    ///
    /// # Panics
    ///
    /// If there is none.
    #[track_caller]
    pub fn host(&self, name: &str) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("no host {name:?} in this topology"))
    }

    /// The namespace of host `name`'s processes.
    #[track_caller]
    pub fn ns(&self, name: &str) -> &str {
        &self.host(name).ns
    }

    /// Host `name`'s own address.
    #[track_caller]
    pub fn addr(&self, name: &str) -> Ipv4Addr {
        self.host(name).addr
    }

    /// The address others see host `name`'s traffic come from.
    #[track_caller]
    pub fn public_addr(&self, name: &str) -> Ipv4Addr {
        self.host(name).public_addr
    }

    /// Cuts (`up == false`) or restores host `name`'s uplink, by taking the
    /// internet's end of its veth down or up: the router (or public host)
    /// loses carrier but keeps its addresses, routes and conntrack entries,
    /// as with a modem unplugged. Nothing is forwarded either way while it
    /// is down; the practice's LAN keeps working.
    ///
    /// # Panics
    ///
    /// If there is no such host or `ip` fails.
    #[track_caller]
    pub fn set_link(&self, name: &str, up: bool) {
        let uplink = self.host(name).uplink.clone();
        let state = if up { "up" } else { "down" };
        ip(&["-n", &self.internet, "link", "set", &uplink, state])
            .unwrap_or_else(|e| panic!("cannot set {name}'s uplink {state}: {e}"));
    }

    /// Makes host `name`'s uplink a black hole (`on`) or clears it: its
    /// router (or the public host itself) silently drops everything to and
    /// from the internet, with the link still up. Unlike [`Topology::set_link`],
    /// which makes the router answer the practice's new connections with
    /// "no route to host" after about 3 s (ARP fails), this is pure loss:
    /// connection attempts hang and established connections retransmit,
    /// as when a provider's network fails beyond the modem.
    ///
    /// # Panics
    ///
    /// If there is no such host or `nft` fails.
    #[track_caller]
    pub fn set_blackhole(&self, name: &str, on: bool) {
        let host = self.host(name);
        let (ns, uplink) = match host.router_ns.as_deref() {
            Some(router) => (router, "wan"),
            None => (host.ns.as_str(), "eth0"),
        };
        let rules = if on {
            format!(
                "table inet blackhole {{
  chain input {{ type filter hook input priority -10; policy accept; iifname \"{uplink}\" drop; }}
  chain forward {{ type filter hook forward priority -10; policy accept; iifname \"{uplink}\" drop; oifname \"{uplink}\" drop; }}
  chain output {{ type filter hook output priority -10; policy accept; oifname \"{uplink}\" drop; }}
}}
"
            )
        } else {
            // Adding the (empty) table first makes deleting it never fail.
            "table inet blackhole\ndelete table inet blackhole\n".to_owned()
        };
        nft(ns, &rules).unwrap_or_else(|e| panic!("cannot set {name}'s black hole to {on}: {e}"));
    }

    /// The connection tracking table of host `name`'s router
    /// (`/proc/net/nf_conntrack` there), one connection a line: the
    /// `src=… sport=…` after the first pair is the reply direction, whose
    /// `dport` is the public port the NAT mapped the connection to. Empty
    /// for a public host.
    ///
    /// # Panics
    ///
    /// If there is no such host.
    #[track_caller]
    pub fn conntrack(&self, name: &str) -> String {
        let Some(router) = self.host(name).router_ns.as_deref() else {
            return String::new();
        };
        run_in(router, Command::new("cat").arg("/proc/net/nf_conntrack")).stdout
    }

    /// The names of this topology's namespaces that exist now.
    pub fn namespaces(&self) -> Vec<String> {
        list_namespaces()
            .into_iter()
            .filter(|n| n.starts_with(&self.prefix))
            .collect()
    }

    fn make_internet(&mut self) -> Result<(), String> {
        let ns = self.internet.clone();
        make_ns(&ns, true)?;
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{INTERNET_ADDR}/32"),
            "dev",
            "lo",
        ])
    }

    fn add_host(&mut self, i: usize, name: String, nat: NatKind) -> Result<(), String> {
        let net = u8::try_from(i + 1).map_err(|_| format!("host number {i} is too high"))?;
        let hub = self.internet.clone();
        let uplink = format!("up{i}");
        let hub_addr = Ipv4Addr::new(198, 18, net, 1);
        let wan_addr = Ipv4Addr::new(198, 18, net, 2);
        let host_ns = format!("{}h{name}", self.prefix);
        let router_ns = (nat != NatKind::None).then(|| format!("{}r{name}", self.prefix));
        // The namespace on the internet side: the router, or the public host.
        let edge = router_ns.clone().unwrap_or_else(|| host_ns.clone());
        let edge_if = if router_ns.is_some() { "wan" } else { "eth0" };
        make_ns(&edge, router_ns.is_some())?;
        let host = Host {
            name,
            nat,
            ns: host_ns.clone(),
            router_ns: router_ns.clone(),
            addr: if router_ns.is_some() {
                Ipv4Addr::new(10, net, 0, 2)
            } else {
                wan_addr
            },
            public_addr: wan_addr,
            uplink: uplink.clone(),
        };
        self.hosts.push(host);
        link((&hub, &uplink, hub_addr), (&edge, edge_if, wan_addr), 24)?;
        ip(&[
            "-n",
            &edge,
            "route",
            "add",
            "default",
            "via",
            &hub_addr.to_string(),
        ])?;
        let Some(router) = router_ns else {
            return Ok(());
        };
        make_ns(&host_ns, false)?;
        let lan_router = Ipv4Addr::new(10, net, 0, 1);
        let lan_host = Ipv4Addr::new(10, net, 0, 2);
        link(
            (&router, "lan", lan_router),
            (&host_ns, "eth0", lan_host),
            24,
        )?;
        ip(&[
            "-n",
            &host_ns,
            "route",
            "add",
            "default",
            "via",
            &lan_router.to_string(),
        ])?;
        nft(&router, &nat_rules(nat))
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // Hosts first, then routers, then the internet: nothing keeps a
        // namespace alive, but this order never leaves a router without
        // its internet while its hosts still run.
        let mut names = self.namespaces();
        names.sort_by_key(|n| {
            let role = &n[self.prefix.len()..];
            match role.as_bytes().first() {
                Some(b'h') => 0,
                Some(b'r') => 1,
                _ => 2,
            }
        });
        for name in names {
            remove_ns(&name);
        }
    }
}

/// The nftables rules of a router of `nat` kind (`wan` faces the internet,
/// `lan` the practice).
pub fn nat_rules(nat: NatKind) -> String {
    let masquerade = match nat {
        NatKind::Symmetric => "masquerade random,fully-random",
        NatKind::PortPreserving | NatKind::None => "masquerade",
    };
    format!(
        "table ip nat {{
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname \"wan\" {masquerade}
  }}
}}
table inet filter {{
  chain input {{
    type filter hook input priority filter; policy accept;
    iifname \"wan\" ct state established,related accept
    iifname \"wan\" drop
  }}
  chain forward {{
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname \"lan\" oifname \"wan\" accept
  }}
}}
"
    )
}
