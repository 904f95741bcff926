//! The web inbox, end to end: headless Chromium driven through chromedriver
//! against real daemons on 127.0.0.1 (the cardiologist reads, opens and
//! accepts the GP's referral in the pages alone), and its defences checked
//! with plain HTTP requests (foreign `Host`, forged and cross-origin posts,
//! used login links, a session idle past `[ui] idle_minutes`, the security
//! headers, no outside URL).
//!
//! Without Chromium and chromedriver the browser test is skipped with the
//! reason, unless CONFRERE_NETNS_REQUIRED=1 (scripts/test.sh as root, CI),
//! where it fails.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]

mod web_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use confrere_tests::{
    enroll, free_port, wait_delivered, Daemon, PatientArgs, Practitioner, SendCommand, TestPki,
    CARDIOLOGIST, GP,
};
use fantoccini::{ClientBuilder, Locator};
use serde_json::Value;
use web_support::{
    assert_no_outside_url, assert_secure, browser_required, find_browser, login_link, request,
    Browser,
};

const PATIENT: PatientArgs<'static> = PatientArgs {
    ins: "285057512345623",
    family: "WEBTESTNOM",
    given: "Hortensia",
    birth_date: "1985-05-12",
    sex: "F",
};

/// How long a small dossier may take to be delivered on a busy machine.
const DELIVERY: Duration = Duration::from_secs(90);
/// How long a page may take to appear in the browser.
const PAGE: Duration = Duration::from_secs(60);

/// Enrolls `who` under `pki` in `dir/LABEL` and starts its daemon.
fn node(dir: &Path, pki: &TestPki, label: &str, who: &Practitioner<'_>) -> Daemon {
    let card = pki.issue(who, &dir.join(format!("card-{label}")));
    let home = dir.join(label).join("home");
    fs::create_dir_all(home.parent().unwrap()).unwrap();
    enroll(&home, &card, &[pki]).code(0);
    Daemon::start(label, &home, free_port(), &dir.join(format!("{label}.log")))
}

/// Where the screenshots go: `target/web-screenshots/`.
fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("web-screenshots");
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Waits (bounded) for an element of the page; on timeout, fails with
/// the page's URL and source.
async fn wait_for(c: &fantoccini::Client, css: &str) -> fantoccini::elements::Element {
    match c.wait().at_most(PAGE).for_element(Locator::Css(css)).await {
        Ok(e) => e,
        Err(e) => panic!(
            "no {css} in {PAGE:?} ({e}) at {:?}:\n{}",
            c.current_url().await.map(|u| u.to_string()),
            c.source().await.unwrap_or_default()
        ),
    }
}

#[test]
fn the_cardiologist_reads_opens_and_accepts_the_gp_s_referral_in_the_browser() {
    let (chromium, driver) = match find_browser() {
        Ok(found) => found,
        Err(why) if browser_required() => panic!("the browser test must run here: {why}"),
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pki = TestPki::init(&dir.join("pki"));
    let gp = node(dir, &pki, "gp", &GP);
    let cardio = node(dir, &pki, "cardiologist", &CARDIOLOGIST);
    let entry = gp.json(["peers", "add", &cardio.multiaddr()]);
    assert_eq!(entry["national_id"], CARDIOLOGIST.national_id, "{entry}");

    // An urgent referral, then a routine one: the urgent one, older, comes
    // first all the same.
    let docs = dir.join("docs");
    fs::create_dir(&docs).unwrap();
    let report = docs.join("echo report.pdf");
    let mut pdf = b"%PDF-1.4\n% echographie\n".to_vec();
    pdf.extend((0..30_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    fs::write(&report, &pdf).unwrap();
    let letter = docs.join("letter.txt");
    fs::write(&letter, "Cher confrère, je vous adresse Mme WEBTESTNOM.\n").unwrap();
    let routine_letter = docs.join("routine.txt");
    fs::write(&routine_letter, "Bilan de souffle, sans urgence.\n").unwrap();
    let urgent = SendCommand {
        to: CARDIOLOGIST.national_id,
        patient: PATIENT,
        reason: "Douleur thoracique <b>atypique</b>",
        urgent: true,
        letter: Some(letter),
        files: vec![report],
    }
    .sent(&gp);
    wait_delivered(&gp, &urgent, DELIVERY);
    let routine = SendCommand {
        to: CARDIOLOGIST.national_id,
        patient: PATIENT,
        reason: "Bilan de souffle",
        urgent: false,
        letter: Some(routine_letter),
        files: vec![],
    }
    .sent(&gp);
    wait_delivered(&gp, &routine, DELIVERY);

    let (link, port) = login_link(&cardio);
    let browser = Browser::start(&chromium, &driver, dir);
    let shots = screenshots();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let c = ClientBuilder::new(connector)
            .capabilities(browser.capabilities())
            .connect(&browser.url)
            .await
            .unwrap();
        let shot = |name: &'static str| {
            let c = c.clone();
            let path = shots.join(name);
            async move {
                fs::write(&path, c.screenshot().await.unwrap()).unwrap();
            }
        };

        // The link opens a session and leads to the inbox, in French.
        c.goto(&link).await.unwrap();
        wait_for(&c, "table#inbox").await;
        assert_eq!(c.current_url().await.unwrap().path(), "/ui/inbox");
        let html = c.find(Locator::Css("html")).await.unwrap();
        assert_eq!(html.attr("lang").await.unwrap().as_deref(), Some("fr"));
        let rows = c.find_all(Locator::Css("tr.item")).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0].attr("data-id").await.unwrap().as_deref(),
            Some(urgent.as_str())
        );
        assert_eq!(
            rows[1].attr("data-id").await.unwrap().as_deref(),
            Some(routine.as_str())
        );
        assert_eq!(
            rows[0].attr("data-status").await.unwrap().as_deref(),
            Some("new")
        );
        let count = c.find(Locator::Css("#new-count")).await.unwrap();
        assert_eq!(count.attr("data-new").await.unwrap().as_deref(), Some("2"));
        assert!(rows[0].text().await.unwrap().contains("WEBTESTNOM"));
        // What the colleague typed is shown as text, not markup.
        assert!(rows[0].text().await.unwrap().contains("<b>atypique</b>"));
        // The page's own script ran (the CSP lets it): the count is in the title.
        assert!(c.title().await.unwrap().starts_with("(2) "));
        assert_no_outside_url("inbox", &c.source().await.unwrap(), port);
        shot("inbox.png").await;

        // The dossier, opened with the keyboard.
        let open = rows[0].find(Locator::Css("a.open")).await.unwrap();
        open.send_keys("\u{E007}").await.unwrap();
        wait_for(&c, "#patient-ins").await;
        let text = |sel: &'static str| {
            let c = c.clone();
            async move {
                c.find(Locator::Css(sel))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        assert_eq!(text("#patient-ins").await, PATIENT.ins);
        assert_eq!(text("#patient-family").await, PATIENT.family);
        assert_eq!(text("#patient-given").await, PATIENT.given);
        assert_eq!(text("#patient-birth").await, PATIENT.birth_date);
        let sex = c.find(Locator::Css("#patient-sex")).await.unwrap();
        assert_eq!(
            sex.attr("data-sex").await.unwrap().as_deref(),
            Some(PATIENT.sex)
        );
        assert_eq!(sex.text().await.unwrap(), "féminin");
        assert_eq!(text("#reason").await, "Douleur thoracique <b>atypique</b>");
        assert!(text("#letter")
            .await
            .contains("je vous adresse Mme WEBTESTNOM"));
        let docs = c.find_all(Locator::Css("tr.document")).await.unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(
            docs[0]
                .find(Locator::Css(".doc-name"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
            "echo report.pdf"
        );
        let size = docs[0].find(Locator::Css(".doc-size")).await.unwrap();
        assert_eq!(
            size.attr("data-bytes").await.unwrap(),
            Some(pdf.len().to_string())
        );
        // Every field of the decline form has its label.
        let label = c
            .find(Locator::Css("label[for=decline-reason]"))
            .await
            .unwrap();
        assert!(!label.text().await.unwrap().is_empty());
        assert_no_outside_url("dossier", &c.source().await.unwrap(), port);
        shot("dossier.png").await;

        // Accept: back to the inbox, where it shows accepted.
        c.find(Locator::Css("button#accept"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&c, "table#inbox").await;
        let first = c.find(Locator::Css("tr.item")).await.unwrap();
        assert_eq!(
            first.attr("data-id").await.unwrap().as_deref(),
            Some(urgent.as_str())
        );
        assert_eq!(
            first.attr("data-status").await.unwrap().as_deref(),
            Some("accepted")
        );
        assert!(first.text().await.unwrap().contains("accepté"));
        shot("inbox-accepted.png").await;

        // Decline the routine one with a reason.
        c.goto(&format!("http://127.0.0.1:{port}/ui/dossier/{routine}"))
            .await
            .unwrap();
        let reason = c
            .wait()
            .at_most(PAGE)
            .for_element(Locator::Css("#decline-reason"))
            .await
            .unwrap();
        reason.send_keys("Relève de la pneumologie").await.unwrap();
        c.find(Locator::Css("button#decline"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&c, "table#inbox").await;
        let rows = c.find_all(Locator::Css("tr.item")).await.unwrap();
        assert_eq!(
            rows[1].attr("data-status").await.unwrap().as_deref(),
            Some("declined")
        );

        // The node page.
        c.find(Locator::Css("#nav-node"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&c, "#node-peer-id").await;
        assert_eq!(text("#node-national-id").await, CARDIOLOGIST.national_id);
        assert_eq!(text("#node-peer-id").await, cardio.peer_id());
        // The GP, whose node reached this one.
        assert_eq!(text("#node-peers").await, "1");
        let crls = c.find_all(Locator::Css("tr.crl")).await.unwrap();
        assert!(!crls.is_empty(), "no CA on the node page");
        assert_no_outside_url("node", &c.source().await.unwrap(), port);
        shot("node.png").await;

        // English, by the switch (a form post with the CSRF token).
        c.find(Locator::Css("#lang-switch"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&c, "html[lang=en]").await;
        assert_eq!(text("#nav-inbox").await, "Inbox");
        assert!(text("tr.item").await.contains("accepted"));
        shot("inbox-en.png").await;

        c.close().await.unwrap();
    });
    drop(browser);

    // The views were openings, recorded in the ledger as `inbox show`
    // records them; the accept and decline reached the inbox.
    let ledger = cardio.json(["ledger", "show"]);
    let opened: Vec<&Value> = ledger
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "dossier_opened" && e["dossier_id"] == urgent.as_str())
        .collect();
    assert!(!opened.is_empty(), "no opening of {urgent} in {ledger}");
    assert_eq!(opened[0]["by"], CARDIOLOGIST.national_id);
    let inbox = cardio.json(["inbox"]);
    let status_of = |id: &str| {
        inbox
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .map(|i| i["status"].clone())
    };
    assert_eq!(status_of(&urgent), Some(Value::from("accepted")));
    assert_eq!(status_of(&routine), Some(Value::from("declined")));
}

#[test]
fn the_pages_refuse_foreign_hosts_forged_posts_and_used_links() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pki = TestPki::init(&dir.join("pki"));
    let cardio = node(dir, &pki, "cardiologist", &CARDIOLOGIST);
    let (link, port) = login_link(&cardio);
    let host = format!("127.0.0.1:{port}");
    let own = format!("http://{host}");
    let path = link.strip_prefix(&own).unwrap().to_owned();
    let mut pages = Vec::new();

    // The JSON route that makes links is behind the API token.
    let a = request(
        port,
        "POST",
        "/v1/ui/login-link",
        &[("Host", &host)],
        Some(""),
    );
    assert_eq!(a.status, 401, "{a:?}");

    // A foreign Host is refused, even with a valid link, which stays valid.
    for bad in [
        format!("evil.example:{port}"),
        "127.0.0.1".to_owned(),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
    ] {
        let a = request(port, "GET", &path, &[("Host", &bad)], None);
        assert_eq!(a.status, 421, "{bad}: {a:?}");
        assert_secure("foreign host", &a);
        assert!(
            !a.body.contains("<html"),
            "a page for a foreign host: {a:?}"
        );
    }
    let a = request(port, "GET", "/ui/inbox", &[], None);
    assert_eq!(a.status, 400, "no Host: {a:?}");

    // The link opens a session once.
    let a = request(port, "GET", &path, &[("Host", &host)], None);
    assert_eq!(a.status, 303, "{a:?}");
    assert_eq!(a.header("location"), Some("/ui/inbox"));
    assert_secure("login", &a);
    let set = a.header("set-cookie").unwrap().to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(set.contains(attr), "{set}");
    }
    let cookie = set.split(';').next().unwrap().to_owned();
    let used = request(port, "GET", &path, &[("Host", &host)], None);
    assert_eq!(used.status, 401, "a used link: {used:?}");
    assert!(used.body.contains("confrere ui"), "no hint: {}", used.body);
    pages.push(("used link", used));
    let forged = request(port, "GET", "/ui/login?t=00ff", &[("Host", &host)], None);
    assert_eq!(forged.status, 401, "{forged:?}");

    // Without the session, no page; with it, every page.
    let a = request(port, "GET", "/ui/inbox", &[("Host", &host)], None);
    assert_eq!(a.status, 401, "{a:?}");
    pages.push(("no session", a));
    let with = |path: &str| {
        request(
            port,
            "GET",
            path,
            &[("Host", &host), ("Cookie", &cookie)],
            None,
        )
    };
    let inbox = with("/ui/inbox");
    assert_eq!(inbox.status, 200, "{inbox:?}");
    let csrf = inbox.csrf();
    assert_eq!(csrf.len(), 64);
    for p in [
        "/ui/node",
        "/ui/dossier/0123456789abcdef",
        "/ui/nowhere",
        "/ui/assets/ui.css",
        "/ui/assets/ui.js",
    ] {
        let a = with(p);
        assert!(a.status == 200 || a.status == 404, "{p}: {a:?}");
        pages.push((p, a));
    }
    let localhost = request(
        port,
        "GET",
        "/ui/inbox",
        &[("Host", &format!("localhost:{port}")), ("Cookie", &cookie)],
        None,
    );
    assert_eq!(localhost.status, 200, "{localhost:?}");
    pages.push(("inbox", inbox));

    // Posts: without the token, with another one, from another origin.
    let post = |origin: Option<&str>, body: &str| {
        let mut headers = vec![("Host", host.as_str()), ("Cookie", cookie.as_str())];
        if let Some(o) = origin {
            headers.push(("Origin", o));
        }
        request(port, "POST", "/ui/lang", &headers, Some(body))
    };
    let a = post(None, "lang=en");
    assert_eq!(a.status, 403, "no CSRF token: {a:?}");
    pages.push(("no csrf", a));
    let a = post(None, &format!("lang=en&csrf={}", "0".repeat(64)));
    assert_eq!(a.status, 403, "another CSRF token: {a:?}");
    for origin in [
        "http://evil.example",
        "null",
        &format!("http://localhost:{port}"),
    ] {
        let a = post(Some(origin), &format!("lang=en&csrf={csrf}"));
        assert_eq!(a.status, 403, "{origin}: {a:?}");
        pages.push(("cross-origin", a));
    }
    // What the browser says of a post from another site's page.
    let a = request(
        port,
        "POST",
        "/ui/lang",
        &[
            ("Host", &host),
            ("Cookie", &cookie),
            ("Origin", "null"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        Some(&format!("lang=en&csrf={csrf}")),
    );
    assert_eq!(a.status, 403, "{a:?}");
    let a = request(
        port,
        "POST",
        "/ui/lang",
        &[
            ("Host", &format!("evil.example:{port}")),
            ("Cookie", &cookie),
        ],
        Some(&format!("lang=en&csrf={csrf}")),
    );
    assert_eq!(a.status, 421, "{a:?}");
    // The refused posts changed nothing: the page is still French.
    assert!(with("/ui/inbox").body.contains("lang=\"fr\""));
    let a = post(Some(&own), &format!("lang=en&csrf={csrf}"));
    assert_eq!(a.status, 303, "{a:?}");
    assert!(a.header("set-cookie").unwrap().contains("confrere_lang=en"));
    let en = request(
        port,
        "GET",
        "/ui/inbox",
        &[
            ("Host", &host),
            ("Cookie", &format!("{cookie}; confrere_lang=en")),
        ],
        None,
    );
    assert!(en.body.contains("lang=\"en\""), "{en:?}");
    pages.push(("english inbox", en));
    let fr = with("/ui/node?lang=en");
    assert!(fr.body.contains("lang=\"en\""));

    // Logout ends the session.
    let a = request(
        port,
        "POST",
        "/ui/logout",
        &[("Host", &host), ("Cookie", &cookie), ("Origin", &own)],
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(a.status, 200, "{a:?}");
    pages.push(("logout", a));
    assert_eq!(with("/ui/inbox").status, 401);

    // Every answer carries the headers, no page names an outside URL, and
    // no error page shows more than its message and hint.
    for (what, a) in &pages {
        assert_secure(what, a);
        assert_no_outside_url(what, &a.body, port);
        for leak in ["panicked", "RUST_BACKTRACE", "src/", "Error {", "Some("] {
            assert!(!a.body.contains(leak), "{what} shows {leak}: {}", a.body);
        }
    }
}

#[test]
fn a_session_ends_after_the_idle_time_of_config_toml() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pki = TestPki::init(&dir.join("pki"));
    let card = pki.issue(&CARDIOLOGIST, &dir.join("card"));
    let home = dir.join("cardiologist").join("home");
    fs::create_dir_all(home.parent().unwrap()).unwrap();
    enroll(&home, &card, &[&pki]).code(0);
    // The shortest idle time config.toml takes: one minute.
    let config = home.join("config.toml");
    let text = fs::read_to_string(&config).unwrap();
    assert!(text.contains("idle_minutes = 15"), "{text}");
    fs::write(
        &config,
        text.replace("idle_minutes = 15", "idle_minutes = 1"),
    )
    .unwrap();
    let cardio = Daemon::start("cardiologist", &home, free_port(), &dir.join("cardio.log"));

    let (link, port) = login_link(&cardio);
    let host = format!("127.0.0.1:{port}");
    let path = link.split_once(&host).unwrap().1.to_owned();
    let a = request(port, "GET", &path, &[("Host", &host)], None);
    assert_eq!(a.status, 303, "{a:?}");
    let cookie = a
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let inbox = || {
        request(
            port,
            "GET",
            "/ui/inbox",
            &[("Host", &host), ("Cookie", &cookie)],
            None,
        )
    };
    assert_eq!(inbox().status, 200);
    // Idle for longer than a minute: the session has ended.
    std::thread::sleep(Duration::from_secs(65));
    let a = inbox();
    assert_eq!(a.status, 401, "{a:?}");
    assert!(a.body.contains("inactivité"), "{}", a.body);
    assert_secure("expired session", &a);
    // And it does not come back.
    assert_eq!(inbox().status, 401);
}
