//! HTTP/1.1 to the daemon over its Unix socket, `HOME/api.sock`: one
//! request per connection (`Connection: close`), blocking.
//!
//! The command line never sends its token or a request over TCP: a port
//! named in a stale `api.json` may be anyone's after the daemon died,
//! while a socket in the 0700 home can only be the home owner's (see
//! `confrere_node::api::socket`). No socket, or one nobody listens on,
//! means the daemon is not running.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use confrere_node::api::socket::with_socket_path;

/// The largest answer read, in bytes (a long inbox or ledger is a few MiB).
pub(crate) const MAX_ANSWER: u64 = 256 * 1024 * 1024;

/// What came back.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// Why no answer came back.
#[derive(Debug)]
pub(crate) enum Failure {
    /// No daemon listens on the home's socket.
    NotRunning,
    /// The connection failed after it was made, or the answer is not HTTP.
    Broken(String),
}

/// Sends `method /v1{route}` to the daemon of `home` and reads its answer,
/// waiting at most `timeout` between reads.
pub(crate) fn request(
    home: &Path,
    method: &str,
    route: &str,
    authorization: &str,
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<Answer, Failure> {
    let mut stream =
        with_socket_path(home, |p| UnixStream::connect(p)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => Failure::NotRunning,
            _ => Failure::Broken(e.to_string()),
        })?;
    let broken = |e: io::Error| Failure::Broken(e.to_string());
    stream.set_read_timeout(Some(timeout)).map_err(broken)?;
    stream.set_write_timeout(Some(timeout)).map_err(broken)?;
    let body = body.unwrap_or_default();
    let mut message = format!(
        "{method} /v1{route} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {authorization}\r\n\
         Accept: application/json\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    // One write: the server may answer (and close) once it has the head.
    message.extend_from_slice(body);
    let written = stream.write_all(&message).and_then(|()| stream.flush());
    // A daemon that answered (a refusal) before reading the whole request
    // closes the socket: the write breaks, but its answer is there to read.
    let raw = match written {
        Ok(()) => read_answer(&mut stream).map_err(broken)?,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ) =>
        {
            match read_answer(&mut stream) {
                Ok(raw) if !raw.is_empty() => raw,
                _ => return Err(broken(e)),
            }
        }
        Err(e) => return Err(broken(e)),
    };
    parse(&raw).map_err(|why| Failure::Broken(format!("the daemon's answer is not HTTP: {why}")))
}

/// Reads until the answer is whole (by its length), or the connection
/// ends. A server that answers without reading the whole request may
/// reset the connection after its answer: what came before counts.
fn read_answer(stream: &mut UnixStream) -> io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(raw),
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if is_whole(&raw) {
                    return Ok(raw);
                }
                if raw.len() as u64 > MAX_ANSWER {
                    return Err(io::Error::other(format!(
                        "the answer is larger than {MAX_ANSWER} bytes"
                    )));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset && is_whole(&raw) => {
                return Ok(raw)
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether `raw` holds a whole answer: its head and as many body bytes as
/// it announces (or the last chunk).
fn is_whole(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let Ok(head) = std::str::from_utf8(&raw[..end]) else {
        return false;
    };
    let body = &raw[end + 4..];
    for line in head.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("content-length") {
            return value.trim().parse::<usize>().is_ok_and(|n| body.len() >= n);
        }
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return body.ends_with(b"0\r\n\r\n");
        }
    }
    false
}

/// Parses a whole HTTP/1.1 answer (read to the end of the connection).
fn parse(raw: &[u8]) -> Result<Answer, &'static str> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "headers are not text")?;
    let rest = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or("no status")?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| "bad content-length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        rest.get(..n).ok_or("the answer is cut short")?.to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Answer { status, body })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk is cut short")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("a chunk is cut short")?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("a chunk is cut short")?;
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_parsed() {
        let a = parse(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b"{}"[..]));
        let a = parse(b"HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            .unwrap();
        assert_eq!((a.status, a.body.as_slice()), (409, &b"abcde"[..]));
        assert!(parse(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n{}").is_err());
        assert!(parse(b"garbage").is_err());
        assert!(is_whole(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"));
        assert!(!is_whole(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n{}"));
        assert!(!is_whole(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n"));
        assert!(is_whole(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"
        ));
    }

    #[test]
    fn no_socket_means_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let r = request(
            dir.path(),
            "GET",
            "/status",
            "Bearer x",
            None,
            Duration::from_secs(5),
        );
        assert!(matches!(r, Err(Failure::NotRunning)), "{r:?}");
        // A socket file left by a killed daemon: nobody listens.
        drop(std::os::unix::net::UnixListener::bind(dir.path().join("api.sock")).unwrap());
        let r = request(
            dir.path(),
            "GET",
            "/status",
            "Bearer x",
            None,
            Duration::from_secs(5),
        );
        assert!(matches!(r, Err(Failure::NotRunning)), "{r:?}");
    }

    #[test]
    fn an_answer_before_the_request_was_read_counts() {
        let dir = tempfile::tempdir().unwrap();
        let listener = std::os::unix::net::UnixListener::bind(dir.path().join("api.sock")).unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            // Reads one byte of the request, answers and closes with the
            // rest unread: the kernel resets the connection.
            let mut one = [0u8; 1];
            conn.read_exact(&mut one).unwrap();
            conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                .unwrap();
        });
        let body = vec![b' '; 100_000];
        let a = request(
            dir.path(),
            "POST",
            "/x",
            "Bearer x",
            Some(&body),
            Duration::from_secs(30),
        );
        server.join().unwrap();
        let a = a.unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b"{}"[..]));
    }
}
