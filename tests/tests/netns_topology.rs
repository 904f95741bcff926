//! The network namespace harness (`confrere_tests::netns`) makes the
//! topology it promises: practices reach the internet through their NAT and
//! cannot be reached unsolicited, a port-preserving NAT keeps source ports
//! (so hole punching works between two of them) while a symmetric one does
//! not, an uplink cut stops traffic until it is restored, and nothing is
//! left behind.
//!
//! Needs root: without it each test prints `SKIPPED: …` and passes, unless
//! `CONFRERE_NETNS_REQUIRED` is set (scripts/test.sh sets it as root).

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use confrere_tests::netns::{self, NatKind, NsChild, Topology};
use confrere_tests::Outcome;

/// The probe endpoints' port on the public host.
const PUBLIC_PORT: u16 = 7000;
/// A second listener there, to compare mappings per destination.
const PUBLIC_PORT_2: u16 = 7001;
/// The source port practices connect from.
const FROM_PORT: u16 = 40000;
/// Longest wait for anything that should happen (a listener starting).
const LIMIT: Duration = Duration::from_secs(20);
/// How long an attempt that should fail is given (dropped packets make
/// connects hang until then).
const FAIL_TIMEOUT_MS: &str = "1500";

fn probe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_netns-probe"))
}

fn build(hosts: &[(&str, NatKind)]) -> Topology {
    let mut builder = Topology::builder();
    for (name, nat) in hosts {
        builder = builder.host(name, *nat);
    }
    builder
        .build()
        .unwrap_or_else(|e| panic!("cannot build the topology: {e}"))
}

/// Starts a listener (`tcp-listen` or `udp-listen`) in `ns` on `addr` and
/// waits until it listens.
fn listen(ns: &str, mode: &str, addr: SocketAddr) -> NsChild {
    let mut cmd = probe();
    cmd.arg(mode).arg(addr.to_string());
    let mut child = netns::spawn_in(ns, &cmd);
    child.wait_for_line("the listener to start", LIMIT, |l| {
        l.starts_with("listening")
    });
    child
}

/// Runs the probe in `ns` (bounded by `LIMIT`).
fn probe_in(ns: &str, args: &[&str]) -> Outcome {
    let mut cmd = probe();
    cmd.args(args);
    netns::run_in_with_limit(ns, &cmd, LIMIT)
}

/// Connects from `ns` to `to` from `from` (0: any port); returns the local
/// address and the address the listener saw.
#[track_caller]
fn connect(ns: &str, mode: &str, to: SocketAddr, from: u16) -> (SocketAddr, SocketAddr) {
    let out = probe_in(
        ns,
        &[
            mode,
            &to.to_string(),
            "--from",
            &from.to_string(),
            "--timeout-ms",
            "5000",
        ],
    );
    assert_eq!(out.code, Some(0), "{mode} from {ns} to {to} failed\n{out}");
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    let parse = |w: Option<&&str>| -> SocketAddr {
        w.and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("unexpected probe output\n{out}"))
    };
    (parse(words.get(1)), parse(words.get(3)))
}

/// Asserts that a TCP connect from `ns` to `to` does not succeed.
#[track_caller]
fn assert_unreachable(ns: &str, to: SocketAddr, why: &str) -> Outcome {
    let out = probe_in(
        ns,
        &[
            "tcp-connect",
            &to.to_string(),
            "--timeout-ms",
            FAIL_TIMEOUT_MS,
        ],
    );
    assert_eq!(
        out.code,
        Some(1),
        "{why}: {to} was reachable from {ns}\n{out}"
    );
    assert!(out.stderr.contains("failed:"), "{out}");
    out
}

/// Asserts that a TCP connect from `ns` to `to` gets no answer at all (the
/// SYN is dropped: no reset, which would end a hole punching attempt).
#[track_caller]
fn assert_dropped(ns: &str, to: SocketAddr, why: &str) {
    let out = assert_unreachable(ns, to, why);
    assert!(
        out.stderr.contains("timed out"),
        "{why}: not silently dropped\n{out}"
    );
}

fn sock(ip: std::net::Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::from((ip, port))
}

#[test]
fn practices_reach_the_internet_through_their_nat_and_are_not_reachable_from_it() {
    if !netns::skip_unless_available("practices_reach_the_internet…") {
        return;
    }
    let topo = build(&[
        ("pub", NatKind::None),
        ("a", NatKind::PortPreserving),
        ("c", NatKind::Symmetric),
    ]);
    let public = sock(topo.addr("pub"), PUBLIC_PORT);
    let _public_listener = listen(topo.ns("pub"), "tcp-listen", public);
    let internet = sock(netns::INTERNET_ADDR, PUBLIC_PORT);
    let _internet_listener = listen(topo.internet_ns(), "tcp-listen", internet);

    for practice in ["a", "c"] {
        let ns = topo.ns(practice);
        for to in [public, internet] {
            let (local, seen) = connect(ns, "tcp-connect", to, 0);
            assert_eq!(local.ip(), topo.addr(practice), "{practice}'s own address");
            assert_eq!(
                seen.ip(),
                topo.public_addr(practice),
                "{to} sees {practice} behind its router's address, not its LAN address"
            );
        }
        // A listener inside the practice is reachable on its LAN only.
        let inside = sock(topo.addr(practice), 7100);
        let _inside = listen(ns, "tcp-listen", inside);
        let router_side = sock(topo.public_addr(practice), 7100);
        assert_dropped(topo.ns("pub"), router_side, "unsolicited inbound");
        assert_unreachable(
            topo.ns("pub"),
            inside,
            "a private address over the internet",
        );
        assert_dropped(topo.internet_ns(), router_side, "unsolicited inbound");
    }
    // Practices cannot reach each other unsolicited either.
    let c_inside = sock(topo.addr("c"), 7100);
    let _c_listener = listen(topo.ns("c"), "tcp-listen", c_inside);
    assert_dropped(
        topo.ns("a"),
        sock(topo.public_addr("c"), 7100),
        "c behind NAT",
    );
    assert_unreachable(topo.ns("a"), c_inside, "c's private address");
    // The public host is public: another public-side namespace reaches it.
    connect(topo.internet_ns(), "tcp-connect", public, 0);
    // And nothing leaves for the real internet.
    assert_unreachable(
        topo.ns("a"),
        "192.0.2.1:80".parse().expect("an address"),
        "an address outside the topology",
    );
}

#[test]
fn a_port_preserving_nat_keeps_source_ports_and_a_symmetric_one_does_not() {
    if !netns::skip_unless_available("a_port_preserving_nat_keeps_source_ports…") {
        return;
    }
    let topo = build(&[
        ("pub", NatKind::None),
        ("a", NatKind::PortPreserving),
        ("c", NatKind::Symmetric),
    ]);
    let mut listeners = Vec::new();
    let mut targets = Vec::new();
    for (mode, connect_mode) in [("tcp-listen", "tcp-connect"), ("udp-listen", "udp-send")] {
        for port in [PUBLIC_PORT, PUBLIC_PORT_2] {
            for (ns, ip) in [
                (topo.ns("pub"), topo.addr("pub")),
                (topo.internet_ns(), netns::INTERNET_ADDR),
            ] {
                listeners.push(listen(ns, mode, sock(ip, port)));
                targets.push((connect_mode, sock(ip, port)));
            }
        }
    }
    for (connect_mode, to) in &targets {
        // Behind a port-preserving NAT, the same source port is seen on
        // every destination: what a peer learns from one server is the
        // address another peer can punch to.
        let (local, seen) = connect(topo.ns("a"), connect_mode, *to, FROM_PORT);
        assert_eq!(local.port(), FROM_PORT);
        assert_eq!(
            seen,
            sock(topo.public_addr("a"), FROM_PORT),
            "{connect_mode} to {to}"
        );
        // A public host is seen as it is.
        let (_, seen) = connect(topo.ns("pub"), connect_mode, *to, FROM_PORT);
        assert_eq!(
            seen,
            sock(topo.addr("pub"), FROM_PORT),
            "{connect_mode} to {to}"
        );
    }
    for connect_mode in ["tcp-connect", "udp-send"] {
        // Behind a symmetric NAT, each destination gets its own random port.
        let seen: Vec<SocketAddr> = targets
            .iter()
            .filter(|(mode, _)| mode == &connect_mode)
            .map(|(_, to)| connect(topo.ns("c"), connect_mode, *to, FROM_PORT).1)
            .collect();
        assert!(
            seen.iter().all(|s| s.ip() == topo.public_addr("c")),
            "{seen:?}"
        );
        // The router's connection tracking shows each mapping (the reply
        // direction is addressed to the public port).
        let table = topo.conntrack("c");
        for s in &seen {
            assert!(
                table.contains(&format!("dst={} ", s.ip()))
                    && table.contains(&format!("dport={} ", s.port())),
                "{s} not in c's conntrack table:\n{table}"
            );
        }
        let mut ports: Vec<u16> = seen.iter().map(SocketAddr::port).collect();
        ports.sort_unstable();
        ports.dedup();
        assert!(
            ports.len() > 1 && ports.iter().any(|p| *p != FROM_PORT),
            "{connect_mode}: a symmetric NAT mapped port {FROM_PORT} to {ports:?} for {} destinations",
            seen.len()
        );
    }
}

/// Punches from `x` to `y` and back at the same time, each from
/// `FROM_PORT` to the address the public host saw the other come from;
/// returns both outcomes.
fn punch(topo: &Topology, x: &str, y: &str, tries: &str) -> (Outcome, Outcome) {
    let server = sock(topo.addr("pub"), PUBLIC_PORT);
    let seen_x = connect(topo.ns(x), "tcp-connect", server, FROM_PORT).1;
    let seen_y = connect(topo.ns(y), "tcp-connect", server, FROM_PORT).1;
    let from = FROM_PORT.to_string();
    let args = |to: SocketAddr| {
        [
            "tcp-punch".to_owned(),
            to.to_string(),
            "--from".to_owned(),
            from.clone(),
            "--tries".to_owned(),
            tries.to_owned(),
            "--timeout-ms".to_owned(),
            "1000".to_owned(),
        ]
    };
    let (args_x, args_y) = (args(seen_y), args(seen_x));
    std::thread::scope(|s| {
        let run = |ns: &str, args: [String; 8]| {
            let mut cmd = probe();
            cmd.args(args);
            netns::run_in_with_limit(ns, &cmd, LIMIT * 3)
        };
        let (ns_x, ns_y) = (topo.ns(x), topo.ns(y));
        let hx = s.spawn(move || run(ns_x, args_x));
        let hy = s.spawn(move || run(ns_y, args_y));
        (
            hx.join().expect("the punching thread"),
            hy.join().expect("the punching thread"),
        )
    })
}

#[test]
fn hole_punching_works_between_port_preserving_nats_and_not_through_a_symmetric_one() {
    if !netns::skip_unless_available("hole_punching_works…") {
        return;
    }
    let topo = build(&[
        ("pub", NatKind::None),
        ("a", NatKind::PortPreserving),
        ("b", NatKind::PortPreserving),
        ("c", NatKind::Symmetric),
    ]);
    let _server = listen(
        topo.ns("pub"),
        "tcp-listen",
        sock(topo.addr("pub"), PUBLIC_PORT),
    );

    let (ab, ba) = punch(&topo, "a", "b", "20");
    for (out, from, to) in [(&ab, "a", "b"), (&ba, "b", "a")] {
        assert_eq!(out.code, Some(0), "{from} could not punch to {to}\n{out}");
        let expected = format!("peer-says hello from {}:{FROM_PORT}", topo.addr(to));
        assert!(out.stdout.contains(&expected), "{out}");
    }

    let (ac, ca) = punch(&topo, "a", "c", "4");
    assert_eq!(
        ac.code,
        Some(1),
        "a punched through c's symmetric NAT\n{ac}"
    );
    assert_eq!(
        ca.code,
        Some(1),
        "c punched to a through its symmetric NAT\n{ca}"
    );
}

#[test]
fn cutting_an_uplink_stops_traffic_until_it_is_restored() {
    if !netns::skip_unless_available("cutting_an_uplink_stops_traffic…") {
        return;
    }
    let topo = build(&[("pub", NatKind::None), ("a", NatKind::PortPreserving)]);
    let public = sock(topo.addr("pub"), PUBLIC_PORT);
    let _listener = listen(topo.ns("pub"), "tcp-listen", public);
    let lan = sock(topo.addr("a"), 7100);
    let _lan_listener = listen(topo.ns("a"), "tcp-listen", lan);
    connect(topo.ns("a"), "tcp-connect", public, 0);

    topo.set_link("a", false);
    assert_unreachable(topo.ns("a"), public, "a's uplink is cut");
    // The practice's LAN still works: its router reaches its host.
    let router = topo.host("a").router_ns().expect("a is behind a router");
    connect(router, "tcp-connect", lan, 0);

    topo.set_link("a", true);
    // The router kept its routes: the first try after the restore works
    // (no re-configuration), though the first packets may wait on ARP.
    let (_, seen) = connect(topo.ns("a"), "tcp-connect", public, 0);
    assert_eq!(seen.ip(), topo.public_addr("a"));

    // A black hole: the link stays up, everything is dropped silently.
    topo.set_blackhole("a", true);
    assert_dropped(topo.ns("a"), public, "a's uplink is a black hole");
    connect(router, "tcp-connect", lan, 0);
    topo.set_blackhole("a", false);
    connect(topo.ns("a"), "tcp-connect", public, 0);
    topo.set_blackhole("pub", true);
    assert_dropped(topo.ns("a"), public, "pub's uplink is a black hole");
    topo.set_blackhole("pub", false);
    connect(topo.ns("a"), "tcp-connect", public, 0);

    // A public host's own uplink can be cut the same way.
    topo.set_link("pub", false);
    assert_unreachable(topo.ns("a"), public, "pub's uplink is cut");
    topo.set_link("pub", true);
    connect(topo.ns("a"), "tcp-connect", public, 0);
}

#[test]
fn nothing_is_left_behind_after_a_drop_a_panic_or_a_crashed_run() {
    if !netns::skip_unless_available("nothing_is_left_behind…") {
        return;
    }
    let orphan: String;
    let prefix = {
        let topo = build(&[("pub", NatKind::None), ("a", NatKind::Symmetric)]);
        assert_eq!(
            topo.namespaces().len(),
            4,
            "inet, pub, a's router and host: {:?}",
            topo.namespaces()
        );
        // A process nobody holds a handle on, still running inside, is
        // killed with the namespace.
        let mut sh = Command::new("sh");
        sh.args(["-c", "sleep 600 >/dev/null 2>&1 </dev/null & echo $!"]);
        let out = netns::run_in(topo.ns("a"), &sh);
        orphan = out.stdout.trim().to_owned();
        assert!(orphan.parse::<u32>().is_ok(), "{out}");
        topo.prefix().to_owned()
    };
    assert_eq!(left_with(&prefix), Vec::<String>::new());
    confrere_tests::wait_for(
        "the orphan sleep to be killed",
        LIMIT,
        Duration::from_millis(50),
        || {
            let stat = std::fs::read_to_string(format!("/proc/{orphan}/stat")).unwrap_or_default();
            // Gone, or a zombie waiting for init to reap it.
            if stat.is_empty() || stat.contains(") Z ") {
                Ok(())
            } else {
                Err(stat)
            }
        },
    );

    // Dropped while panicking.
    let prefix = std::sync::Mutex::new(String::new());
    let panicked = std::panic::catch_unwind(|| {
        let topo = build(&[("a", NatKind::PortPreserving)]);
        if let Ok(mut p) = prefix.lock() {
            p.clone_from(&topo.prefix().to_owned());
        }
        panic!("a test failing with a topology up");
    });
    assert!(panicked.is_err());
    let prefix = prefix.into_inner().expect("the prefix");
    assert!(!prefix.is_empty());
    assert_eq!(left_with(&prefix), Vec::<String>::new());

    // Left by a run whose process is gone (a pid above pid_max never runs).
    let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4_194_304);
    let stale = format!("{}{}-0-inet", netns::PREFIX, pid_max + 1);
    let out = confrere_tests::run(Command::new("ip").args(["netns", "add", &stale]));
    assert_eq!(out.code, Some(0), "{out}");
    let removed = netns::sweep_leftovers();
    assert!(removed.contains(&stale), "{removed:?}");
    assert_eq!(left_with(&stale), Vec::<String>::new());
}

fn left_with(prefix: &str) -> Vec<String> {
    netns::list_namespaces()
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect()
}

#[test]
fn bad_host_names_are_refused_before_anything_is_made() {
    for (hosts, expected) in [
        (vec![("A", NatKind::None)], "use 1 to 6 characters"),
        (
            vec![("toolongname", NatKind::None)],
            "use 1 to 6 characters",
        ),
        (vec![("", NatKind::None)], "use 1 to 6 characters"),
        (
            vec![("a", NatKind::None), ("a", NatKind::Symmetric)],
            "given twice",
        ),
    ] {
        let mut builder = Topology::builder();
        for (name, nat) in hosts {
            builder = builder.host(name, nat);
        }
        let err = builder.build().expect_err("a bad name");
        assert!(err.contains(expected), "{err}");
    }
}
