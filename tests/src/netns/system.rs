//! The commands that make and remove namespaces (`ip`, `nft`), the sweep of
//! leftovers, and whether this machine can run the namespace tests at all.

use std::process::Command;
use std::sync::OnceLock;

use super::{nat_rules, NatKind, PREFIX, REQUIRED_ENV};

/// Makes namespace `ns` with its loopback up, IPv6 off, reverse-path
/// filtering off, and IPv4 forwarding on for routers only.
pub(super) fn make_ns(ns: &str, forwarding: bool) -> Result<(), String> {
    ip(&["netns", "add", ns])?;
    ip(&["-n", ns, "link", "set", "lo", "up"])?;
    let forward = u8::from(forwarding);
    let script = format!(
        "set -e
w() {{ if [ -e \"/proc/sys/$1\" ]; then echo \"$2\" > \"/proc/sys/$1\"; fi; }}
w net/ipv6/conf/all/disable_ipv6 1
w net/ipv6/conf/default/disable_ipv6 1
w net/ipv6/conf/lo/disable_ipv6 1
echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter
echo 0 > /proc/sys/net/ipv4/conf/default/rp_filter
echo {forward} > /proc/sys/net/ipv4/ip_forward
"
    );
    let out = crate::run(Command::new("ip").args(["netns", "exec", ns, "sh", "-c", &script]));
    if out.code == Some(0) {
        Ok(())
    } else {
        Err(format!("cannot set up namespace {ns}:\n{out}"))
    }
}

/// A veth pair from interface `a.1` in namespace `a.0` to `b.1` in `b.0`,
/// both up with their addresses (`/prefix_len`).
pub(super) fn link(
    a: (&str, &str, std::net::Ipv4Addr),
    b: (&str, &str, std::net::Ipv4Addr),
    prefix_len: u8,
) -> Result<(), String> {
    ip(&[
        "-n", a.0, "link", "add", a.1, "type", "veth", "peer", "name", b.1, "netns", b.0,
    ])?;
    for (ns, ifname, addr) in [a, b] {
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("{addr}/{prefix_len}"),
            "dev",
            ifname,
        ])?;
        ip(&["-n", ns, "link", "set", ifname, "up"])?;
    }
    Ok(())
}

/// Runs `ip ARGS`.
pub(super) fn ip(args: &[&str]) -> Result<(), String> {
    let out = crate::run(Command::new("ip").args(args));
    if out.code == Some(0) {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            out.stderr.trim()
        ))
    }
}

/// Loads an nftables ruleset into namespace `ns`.
pub(super) fn nft(ns: &str, rules: &str) -> Result<(), String> {
    let file = std::env::temp_dir().join(format!("{ns}.nft"));
    std::fs::write(&file, rules).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let out = crate::run(
        Command::new("ip")
            .args(["netns", "exec", ns, "nft", "-f"])
            .arg(&file),
    );
    let _ = std::fs::remove_file(&file);
    if out.code == Some(0) {
        Ok(())
    } else {
        Err(format!("cannot load the NAT rules into {ns}:\n{out}"))
    }
}

/// The names of every network namespace `ip netns` knows.
pub fn list_namespaces() -> Vec<String> {
    let out = crate::run(Command::new("ip").args(["netns", "list"]));
    out.stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Kills every process inside namespace `ns`, then deletes it. Errors are
/// ignored (it may already be gone).
pub(super) fn remove_ns(ns: &str) {
    let pids = crate::run(Command::new("ip").args(["netns", "pids", ns]));
    for pid in pids.stdout.split_whitespace() {
        let _ = Command::new("kill").args(["-KILL", pid]).output();
    }
    let _ = Command::new("ip").args(["netns", "del", ns]).output();
}

/// Deletes the namespaces named by this module (`cfn<pid>-…`) whose process
/// no longer runs (a crashed or killed earlier test run), with whatever runs
/// inside them. Returns their names.
pub fn sweep_leftovers() -> Vec<String> {
    let mut removed = Vec::new();
    for name in list_namespaces() {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        remove_ns(&name);
        removed.push(name);
    }
    removed
}

pub(super) fn sweep_once() {
    static SWEPT: OnceLock<()> = OnceLock::new();
    SWEPT.get_or_init(|| {
        let removed = sweep_leftovers();
        if !removed.is_empty() {
            eprintln!(
                "netns: removed {} namespaces left by earlier runs: {}",
                removed.len(),
                removed.join(" ")
            );
        }
    });
}

/// Whether namespaces can be made here, and if not, why (checked once per
/// process).
///
/// # Errors
///
/// Not root, no `ip` or `nft` command, or the kernel refused a test
/// namespace, veth pair or nftables table.
pub fn available() -> Result<(), String> {
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    AVAILABLE.get_or_init(probe_support).clone()
}

fn probe_support() -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status ({e}): not Linux?"))?;
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?");
    if euid != "0" {
        return Err(format!(
            "not root (effective uid {euid}); network namespaces need root"
        ));
    }
    let tool = |cmd: &str, arg: &str, package: &str| {
        let ok = Command::new(cmd)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            Ok(())
        } else {
            Err(format!(
                "no working `{cmd}` command (apt-get install {package}, as scripts/test.sh does)"
            ))
        }
    };
    tool("ip", "-V", "iproute2")?;
    tool("nft", "--version", "nftables")?;
    let ns = format!("{PREFIX}{}-probe", std::process::id());
    let result = (|| {
        ip(&["netns", "add", &ns])
            .map_err(|e| format!("the kernel refused a network namespace: {e}"))?;
        ip(&[
            "-n", &ns, "link", "add", "pa", "type", "veth", "peer", "name", "pb",
        ])
        .map_err(|e| format!("the kernel refused a veth pair: {e}"))?;
        nft(&ns, &nat_rules(NatKind::Symmetric))
            .map_err(|e| format!("the kernel refused nftables NAT rules: {e}"))
    })();
    remove_ns(&ns);
    result
}

/// Says whether the namespace tests can run. If not, prints `SKIPPED:
/// TEST: why` and returns `false`, unless [`REQUIRED_ENV`] is set, in which
/// case it panics with the reason.
///
/// # Panics
///
/// When namespaces cannot be made and [`REQUIRED_ENV`] is set.
#[track_caller]
pub fn skip_unless_available(test: &str) -> bool {
    match available() {
        Ok(()) => true,
        Err(why) => {
            let required =
                std::env::var_os(REQUIRED_ENV).is_some_and(|v| v != "0" && !v.is_empty());
            assert!(
                !required,
                "{test}: network namespaces are required here ({REQUIRED_ENV} is set) but {why}"
            );
            eprintln!("SKIPPED: {test}: {why}");
            false
        }
    }
}
