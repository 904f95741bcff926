//! What the web inbox's tests share: plain HTTP requests with chosen
//! headers (no browser), the login link of a node, and headless Chromium
//! driven through chromedriver, every process of which is stopped when the
//! [`Browser`] is dropped, even on failure.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use confrere_tests::{free_port, Daemon};

/// The Content-Security-Policy every answer of the pages must carry.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// How long one HTTP request may take.
const REQUEST_LIMIT: Duration = Duration::from_secs(60);

/// A node's login link, `confrere ui --print`, and the port it names.
#[track_caller]
pub(crate) fn login_link(node: &Daemon) -> (String, u16) {
    let out = node.cli(["ui", "--print"]);
    out.code(0);
    let url = out.stdout.trim().to_owned();
    let rest = url
        .strip_prefix("http://127.0.0.1:")
        .unwrap_or_else(|| panic!("not a link to the node: {url}"));
    let port: u16 = rest
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"));
    assert!(rest.contains("/ui/login?t="), "not a login link: {url}");
    (url, port)
}

/// An HTTP answer.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The status code.
    pub(crate) status: u16,
    /// Header names lowercased; a repeated header's values joined by `\n`.
    pub(crate) headers: BTreeMap<String, String>,
    /// The body.
    pub(crate) body: String,
}

impl Answer {
    /// A header's value, if any.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The value of the hidden `csrf` field of a page.
    #[track_caller]
    pub(crate) fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no CSRF field in {}", self.body));
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest.split('"').next().unwrap_or_default().to_owned()
    }
}

/// Sends one HTTP/1.1 request to 127.0.0.1:`port` with exactly the given
/// headers (and `Connection: close`, `Content-Length` for a body).
#[track_caller]
pub(crate) fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Answer {
    let mut stream = TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        REQUEST_LIMIT,
    )
    .unwrap();
    stream.set_read_timeout(Some(REQUEST_LIMIT)).unwrap();
    stream.set_write_timeout(Some(REQUEST_LIMIT)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("Connection: close\r\n\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse(&String::from_utf8_lossy(&raw))
}

fn parse(raw: &str) -> Answer {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {raw}"));
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            let e = headers.entry(k.trim().to_ascii_lowercase()).or_default();
            if !e.is_empty() {
                e.push('\n');
            }
            e.push_str(v.trim());
        }
    }
    // Bodies the pages send are small: a chunked one is read as it is,
    // which leaves the chunk sizes in the text (harmless for the checks).
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Asserts an answer of the pages carries every security header.
#[track_caller]
pub(crate) fn assert_secure(what: &str, a: &Answer) {
    assert_eq!(
        a.header("content-security-policy"),
        Some(CSP),
        "{what}: {a:?}"
    );
    assert_eq!(a.header("cache-control"), Some("no-store"), "{what}");
    assert_eq!(
        a.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(a.header("referrer-policy"), Some("no-referrer"), "{what}");
}

/// Asserts a page names no URL but the node's own.
#[track_caller]
pub(crate) fn assert_no_outside_url(what: &str, text: &str, port: u16) {
    let own = format!("http://127.0.0.1:{port}");
    for (at, _) in text.match_indices("http") {
        let rest = &text[at..];
        let is_url = rest.starts_with("http:") || rest.starts_with("https:");
        assert!(
            !is_url || rest.starts_with(&own),
            "{what} names an outside URL at {}",
            &rest[..rest.len().min(80)]
        );
    }
    // A protocol-relative URL (`//host/…`) is an outside one too.
    for pat in ["\"//", "'//", "(//", "=//"] {
        assert!(!text.contains(pat), "{what} has a protocol-relative URL");
    }
    for attr in ["src=\"", "href=\"", "action=\""] {
        for (at, _) in text.match_indices(attr) {
            let rest = &text[at + attr.len()..];
            assert!(
                rest.starts_with('/') || rest.starts_with('?') || rest.starts_with(&own),
                "{what} links outside: {}",
                &rest[..rest.len().min(80)]
            );
        }
    }
}

/// Whether the browser tests must run (as root under scripts/test.sh and in
/// CI) rather than be skipped on a machine without Chromium.
pub(crate) fn browser_required() -> bool {
    std::env::var("CONFRERE_NETNS_REQUIRED").is_ok_and(|v| v != "0" && !v.is_empty())
}

/// Chromium and chromedriver, if both are installed: their paths.
pub(crate) fn find_browser() -> Result<(PathBuf, PathBuf), String> {
    let find = |names: &[&str]| -> Option<PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
            .find(|p| p.is_file())
    };
    let chromium = find(&["chromium", "chromium-browser"])
        .ok_or("chromium is not installed (Debian: apt-get install chromium)")?;
    let driver = find(&["chromedriver"])
        .ok_or("chromedriver is not installed (Debian: apt-get install chromium-driver)")?;
    Ok((chromium, driver))
}

/// chromedriver on a free 127.0.0.1 port, in its own process group, with
/// the Chromium it starts using a fresh profile directory. Dropping it kills
/// the group and any process still using the profile directory.
pub(crate) struct Browser {
    driver: Child,
    /// The WebDriver endpoint.
    pub(crate) url: String,
    /// The Chromium binary.
    pub(crate) chromium: PathBuf,
    /// The fresh profile directory (`--user-data-dir`).
    pub(crate) profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver and waits (bounded) until it listens.
    #[track_caller]
    pub(crate) fn start(chromium: &Path, driver: &Path, dir: &Path) -> Browser {
        use std::os::unix::process::CommandExt;
        let port = free_port();
        let profile = dir.join("chromium-profile");
        std::fs::create_dir_all(&profile).unwrap();
        let log = std::fs::File::create(dir.join("chromedriver.log")).unwrap();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg(format!(
                "--log-path={}",
                dir.join("chromedriver-verbose.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        let browser = Browser {
            driver: child,
            url: format!("http://127.0.0.1:{port}"),
            chromium: chromium.to_path_buf(),
            profile,
        };
        let mut browser = browser;
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = browser.driver.try_wait() {
                let log = std::fs::read_to_string(dir.join("chromedriver.log")).unwrap_or_default();
                panic!("chromedriver stopped ({status}) before it listened:\n{log}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "chromedriver did not listen on 127.0.0.1:{port} in 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        browser
    }

    /// The capabilities of a headless Chromium with the fresh profile.
    pub(crate) fn capabilities(&self) -> serde_json::Map<String, serde_json::Value> {
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1200,900".to_owned(),
            format!("--user-data-dir={}", self.profile.display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "chrome".into());
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": self.chromium.display().to_string(),
                "args": args,
            }),
        );
        caps
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The group chromedriver leads (Chromium starts in it).
        let pgid = self.driver.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // Any Chromium process that left the group: by its profile
        // directory, which only this test's processes name.
        let needle = format!("--user-data-dir={}", self.profile.display());
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for e in entries.flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                    continue;
                };
                let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                if cmdline.contains(&needle) {
                    let _ = Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                }
            }
        }
    }
}
