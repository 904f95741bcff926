//! `netns-probe`: tiny TCP and UDP endpoints that report the addresses they
//! see, for the network namespace tests (tests/tests/netns_topology.rs).
//!
//! ```text
//! netns-probe tcp-listen ADDR            prints "listening ADDR", then per
//!                                        connection writes the peer's address
//!                                        to it and prints "accepted PEER"
//! netns-probe tcp-connect ADDR [--from PORT] [--timeout-ms MS]
//!                                        prints "connected LOCAL seen-as SEEN"
//! netns-probe tcp-punch ADDR --from PORT [--tries N] [--timeout-ms MS]
//!                                        connects again and again from PORT
//!                                        (a TCP simultaneous open when the
//!                                        peer does the same), then prints
//!                                        "punched LOCAL peer-says LINE"
//! netns-probe udp-listen ADDR            answers each datagram with the
//!                                        sender's address
//! netns-probe udp-send ADDR [--from PORT] [--timeout-ms MS]
//!                                        prints "sent LOCAL seen-as SEEN"
//! ```
//!
//! Failures print `failed: …` on standard error and exit with status 1.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

struct Args {
    mode: String,
    addr: SocketAddr,
    from: u16,
    timeout: Duration,
    tries: u32,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it.next().ok_or("usage: netns-probe MODE ADDR [options]")?;
    let addr = it
        .next()
        .ok_or("missing ADDR")?
        .parse()
        .map_err(|e| format!("ADDR: {e}"))?;
    let mut args = Args {
        mode,
        addr,
        from: 0,
        timeout: Duration::from_secs(5),
        tries: 1,
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--from" => {
                args.from = u16::try_from(number(&value)?).map_err(|e| format!("{flag}: {e}"))?;
            }
            "--timeout-ms" => args.timeout = Duration::from_millis(number(&value)?),
            "--tries" => {
                args.tries = u32::try_from(number(&value)?).map_err(|e| format!("{flag}: {e}"))?;
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let result = parse().and_then(|args| match args.mode.as_str() {
        "tcp-listen" => tcp_listen(&args),
        "tcp-connect" => tcp_connect(&args),
        "tcp-punch" => tcp_punch(&args),
        "udp-listen" => udp_listen(&args),
        "udp-send" => udp_send(&args),
        other => Err(format!("unknown mode {other}")),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn tcp_listen(args: &Args) -> Result<(), String> {
    let listener = TcpListener::bind(args.addr).map_err(|e| format!("bind {}: {e}", args.addr))?;
    say(&format!("listening {}", args.addr));
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        let _ = writeln!(stream, "{peer}");
        say(&format!("accepted {peer}"));
    }
    Ok(())
}

/// A TCP socket bound to `0.0.0.0:from` (any port for 0), reusable at once.
fn bound_socket(from: u16) -> Result<Socket, String> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| format!("socket: {e}"))?;
    socket
        .set_reuse_address(true)
        .map_err(|e| format!("SO_REUSEADDR: {e}"))?;
    let local = SocketAddr::from(([0, 0, 0, 0], from));
    socket
        .bind(&SockAddr::from(local))
        .map_err(|e| format!("bind {local}: {e}"))?;
    Ok(socket)
}

/// Connects once and returns the stream with its read timeout set.
fn connect_once(args: &Args) -> Result<TcpStream, String> {
    let socket = bound_socket(args.from)?;
    socket
        .connect_timeout(&SockAddr::from(args.addr), args.timeout)
        .map_err(|e| format!("connect to {}: {e}", args.addr))?;
    let stream = TcpStream::from(socket);
    stream
        .set_read_timeout(Some(args.timeout))
        .map_err(|e| format!("read timeout: {e}"))?;
    Ok(stream)
}

fn read_line(stream: &TcpStream) -> Result<String, String> {
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|e| format!("read: {e}"))?;
    Ok(line.trim().to_owned())
}

fn tcp_connect(args: &Args) -> Result<(), String> {
    let stream = connect_once(args)?;
    let local = stream
        .local_addr()
        .map_err(|e| format!("local address: {e}"))?;
    let seen = read_line(&stream)?;
    say(&format!("connected {local} seen-as {seen}"));
    Ok(())
}

fn tcp_punch(args: &Args) -> Result<(), String> {
    let mut last = String::from("no attempt");
    for _ in 0..args.tries.max(1) {
        match connect_once(args) {
            Ok(mut stream) => {
                let local = stream
                    .local_addr()
                    .map_err(|e| format!("local address: {e}"))?;
                writeln!(stream, "hello from {local}").map_err(|e| format!("write: {e}"))?;
                let line = read_line(&stream)?;
                say(&format!("punched {local} peer-says {line}"));
                return Ok(());
            }
            Err(e) => {
                last = e;
                // A refusal comes back at once: do not spin.
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    Err(format!("{} tries, the last: {last}", args.tries.max(1)))
}

fn udp_listen(args: &Args) -> Result<(), String> {
    let socket = UdpSocket::bind(args.addr).map_err(|e| format!("bind {}: {e}", args.addr))?;
    say(&format!("listening {}", args.addr));
    let mut buf = [0u8; 512];
    loop {
        let Ok((_, peer)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let _ = socket.send_to(peer.to_string().as_bytes(), peer);
        say(&format!("received {peer}"));
    }
}

fn udp_send(args: &Args) -> Result<(), String> {
    let socket = UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], args.from)))
        .map_err(|e| format!("bind port {}: {e}", args.from))?;
    socket
        .set_read_timeout(Some(args.timeout))
        .map_err(|e| format!("read timeout: {e}"))?;
    socket
        .send_to(b"ping", args.addr)
        .map_err(|e| format!("send to {}: {e}", args.addr))?;
    let mut buf = [0u8; 512];
    let (n, _) = socket
        .recv_from(&mut buf)
        .map_err(|e| format!("no answer from {}: {e}", args.addr))?;
    let local = socket
        .local_addr()
        .map_err(|e| format!("local address: {e}"))?;
    let seen = String::from_utf8_lossy(&buf[..n]).into_owned();
    say(&format!("sent {local} seen-as {seen}"));
    Ok(())
}
