//! Floods against a node's network, on loopback, and what must still work
//! during them: a connection flood of idle TCP connections, a flood of
//! stalled session handshakes from many libp2p identities, and an enrolled
//! peer holding sessions open with large attachments announced and never
//! sent. Each flood is bounded in count and time and stopped at the end of
//! its test, even on failure (its tasks are aborted when dropped).

use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use confrere_node::home::{self, CardSource, Home, InitRequest};
use confrere_node::net::channel::{self, ChannelError, SecureChannel};
use confrere_node::net::{
    system_now, NetConfig, NetError, NetEvent, NetLimits, Network, NetworkHandle, SESSION_PROTOCOL,
};
use confrere_protocol::session::SessionConfig;
use confrere_protocol::RevocationCheck;
use confrere_testpki::{IssueRequest, TestCa};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, StreamExt};
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, Multiaddr, PeerId, SwarmBuilder};
use time::{Duration as TimeDuration, OffsetDateTime};
use tokio::io::AsyncReadExt as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Bound on each test.
const TEST_TIMEOUT: Duration = Duration::from_secs(150);

/// Bound on each wait for a condition inside a test.
const WAIT: Duration = Duration::from_secs(40);

struct Node {
    session: Arc<SessionConfig>,
    keypair: Keypair,
}

impl Node {
    fn peer_id(&self) -> PeerId {
        self.keypair.public().to_peer_id()
    }
}

/// Three practices under one TEST CA.
struct Pki {
    gp: Node,
    cardio: Node,
    dentist: Node,
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write test PKI file");
}

fn enroll(dir: &Path, label: &str, ca: &TestCa, req: IssueRequest) -> Node {
    let now = OffsetDateTime::now_utc();
    let issued = ca.issue(&req, now).expect("issue card certificate");
    let files = dir.join(format!("{label}-card"));
    std::fs::create_dir_all(&files).expect("card dir");
    write(&files.join("cert.pem"), &issued.cert_pem());
    write(&files.join("key.pem"), &issued.key_pem());
    write(&files.join("chain.pem"), &ca.intermediate_pem());
    write(&files.join("root.pem"), &ca.root_pem());
    let next = now + TimeDuration::days(30);
    let crl = ca.crl(&[], 1, now, next).expect("CRL");
    let root_crl = ca.root_crl(1, now, next).expect("root CRL");
    write(
        &files.join("crl.pem"),
        &format!(
            "{}{}",
            home::pem("X509 CRL", &crl),
            home::pem("X509 CRL", &root_crl)
        ),
    );
    let home_dir = dir.join(format!("{label}-home"));
    home::init(&InitRequest {
        home: home_dir.clone(),
        card: CardSource::KeyFile {
            cert: files.join("cert.pem"),
            key: files.join("key.pem"),
        },
        chain: vec![files.join("chain.pem")],
        trust: vec![files.join("root.pem")],
        crls: vec![files.join("crl.pem")],
        revocation: RevocationCheck::Off,
        now: system_now(),
    })
    .expect("enroll node");
    let home = Home::open(&home_dir).expect("open home");
    Node {
        session: Arc::new(home.session_config()),
        keypair: home.libp2p,
    }
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = TestCa::generate_with_key_bits(OffsetDateTime::now_utc(), 2048).expect("CA");
        let req = |id: &str, first: &str, last: &str| IssueRequest::new(id, first, last, 10);
        Pki {
            gp: enroll(
                dir.path(),
                "gp",
                &ca,
                req("810001000016", "CLAIRE", "MARTIN-TEST"),
            ),
            cardio: enroll(
                dir.path(),
                "cardio",
                &ca,
                req("810001000024", "PAUL", "LEROY-TEST"),
            ),
            dentist: enroll(
                dir.path(),
                "dentist",
                &ca,
                req("810001000032", "ANNE", "DURAND-TEST"),
            ),
        }
    })
}

async fn bounded<F: std::future::Future>(fut: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, fut)
        .await
        .expect("test finished in time")
}

/// Waits (at most [`WAIT`]) until `cond` holds.
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Tasks aborted when dropped, so that a failed test stops its flood.
#[derive(Default)]
struct Tasks(Vec<JoinHandle<()>>);

impl Tasks {
    fn spawn(&mut self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        self.0.push(tokio::spawn(fut));
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Starts a node's network on 127.0.0.1 (TCP) with `limits`.
async fn start(node: &Node, limits: NetLimits) -> (NetworkHandle, mpsc::Receiver<NetEvent>) {
    let mut config = NetConfig::new(node.keypair.clone(), Arc::clone(&node.session), system_now);
    config.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")];
    config.mdns = false;
    config.limits = limits;
    Network::start(config).await.expect("start network")
}

/// Answers every inbound session: each message is sent back, until the
/// peer closes (what a receiving daemon would do, in miniature).
fn echo(tasks: &mut Tasks, mut events: mpsc::Receiver<NetEvent>) {
    tasks.spawn(async move {
        while let Some(event) = events.recv().await {
            if let NetEvent::Inbound(mut ch) = event {
                tokio::spawn(async move {
                    while let Ok(Some(msg)) = ch.recv().await {
                        if ch.send(&msg).await.is_err() || ch.flush().await.is_err() {
                            break;
                        }
                    }
                });
            }
        }
    });
}

/// Drops every event (keeps the network's event queue moving).
fn drain(tasks: &mut Tasks, mut events: mpsc::Receiver<NetEvent>) {
    tasks.spawn(async move { while events.recv().await.is_some() {} });
}

/// One delivery in miniature: a session to `to`, a message, its echo.
async fn deliver(from: &NetworkHandle, to: &NetworkHandle) -> Result<(), NetError> {
    let mut ch = from
        .open_channel(to.local_peer_id(), to.listen_addrs())
        .await?;
    ch.send(b"referral for Mme X").await?;
    ch.flush().await?;
    let back = ch.recv().await?;
    assert_eq!(back.as_deref(), Some(&b"referral for Mme X"[..]));
    ch.close().await?;
    Ok(())
}

fn tcp_addr(handle: &NetworkHandle) -> SocketAddr {
    let addr = handle
        .listen_addrs()
        .into_iter()
        .next()
        .expect("an address");
    let mut ip = None;
    let mut port = None;
    for part in addr.iter() {
        match part {
            Protocol::Ip4(a) => ip = Some(a),
            Protocol::Tcp(p) => port = Some(p),
            _ => {}
        }
    }
    SocketAddr::from((ip.expect("ip4"), port.expect("tcp port")))
}

/// Descriptors open in this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

/// A bare libp2p node (TCP, Noise, Yamux, generic streams) connected to
/// `target`; the swarm is polled by a task in `tasks`.
async fn scratch(tasks: &mut Tasks, keypair: Keypair, target: Multiaddr) -> libp2p_stream::Control {
    let mut swarm = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp")
        .with_behaviour(|_| libp2p_stream::Behaviour::new())
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build();
    let control = swarm.behaviour().new_control();
    swarm.dial(target).expect("dial");
    let connected = async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::ConnectionEstablished { .. } => return,
                SwarmEvent::OutgoingConnectionError { error, .. } => {
                    panic!("scratch client cannot connect: {error}")
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(WAIT, connected)
        .await
        .expect("scratch client connected in time");
    tasks.spawn(async move {
        loop {
            swarm.select_next_some().await;
        }
    });
    control
}

fn with_peer(handle: &NetworkHandle) -> Multiaddr {
    let addr = handle
        .listen_addrs()
        .into_iter()
        .next()
        .expect("an address");
    addr.with(Protocol::P2p(handle.local_peer_id()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idle_connection_flood_leaves_room_for_a_colleague() {
    const FLOOD: usize = 300;
    const PER_IP: u32 = 4;
    // Slack for descriptors the runtime and a colleague's connection use,
    // and flood sockets between connect and count.
    const SLACK: usize = 32;
    bounded(async {
        let pki = pki();
        let mut tasks = Tasks::default();
        let limits = NetLimits {
            max_connections_per_ip: PER_IP,
            max_pending_incoming: 16,
            ..NetLimits::default()
        };
        let (gp, gp_events) = start(&pki.gp, limits).await;
        echo(&mut tasks, gp_events);
        let (cardio, cardio_events) = start(&pki.cardio, NetLimits::default()).await;
        echo(&mut tasks, cardio_events);
        let target = tcp_addr(&gp);
        let baseline = open_fds();

        // Idle TCP connections from 127.0.0.2, each opened again (after a
        // pause) when the node closes it: a sustained flood.
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(AtomicUsize::new(0));
        let connects = Arc::new(AtomicUsize::new(0));
        for _ in 0..FLOOD {
            let (stop, open, connects) = (stop.clone(), open.clone(), connects.clone());
            tasks.spawn(async move {
                for _ in 0..200 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
                    socket
                        .bind("127.0.0.2:0".parse().expect("addr"))
                        .expect("bind 127.0.0.2");
                    if let Ok(mut conn) = socket.connect(target).await {
                        open.fetch_add(1, Ordering::SeqCst);
                        connects.fetch_add(1, Ordering::SeqCst);
                        let mut buf = [0u8; 256];
                        while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {}
                        open.fetch_sub(1, Ordering::SeqCst);
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            });
        }
        wait_until("the flood connected", || {
            connects.load(Ordering::SeqCst) >= FLOOD
        })
        .await;

        // A colleague delivers, and the node reaches out, during the flood.
        deliver(&cardio, &gp)
            .await
            .expect("delivery to the flooded node");
        deliver(&gp, &cardio)
            .await
            .expect("delivery from the flooded node");

        // The node holds at most its per-address cap of the flood's
        // connections: the others were closed as soon as accepted.
        let held = open_fds()
            .saturating_sub(baseline)
            .saturating_sub(open.load(Ordering::SeqCst));
        assert!(
            held <= PER_IP as usize + SLACK,
            "the node holds {held} descriptors during a flood of {FLOOD} connections"
        );
        stop.store(true, Ordering::Relaxed);
        gp.shutdown().await;
        cardio.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_stalled_handshakes_leaves_room_for_a_known_colleague() {
    const IDENTITIES: usize = 24;
    const STREAMS_EACH: usize = 2;
    bounded(async {
        let pki = pki();
        let mut tasks = Tasks::default();
        let limits = NetLimits {
            max_handshakes: 16,
            max_handshakes_per_ip: 8,
            max_handshakes_per_peer: 2,
            known_peer_handshakes: 4,
            max_connections_per_ip: 64,
            ..NetLimits::default()
        };
        let (gp, gp_events) = start(&pki.gp, limits).await;
        echo(&mut tasks, gp_events);
        let (cardio, cardio_events) = start(&pki.cardio, NetLimits::default()).await;
        drain(&mut tasks, cardio_events);
        let (dentist, dentist_events) = start(&pki.dentist, NetLimits::default()).await;
        drain(&mut tasks, dentist_events);

        // The colleague has delivered before.
        deliver(&cardio, &gp)
            .await
            .expect("delivery before the flood");

        // Random identities open session streams and never say a word;
        // each stream closed by the node is opened again.
        let stop = Arc::new(AtomicBool::new(false));
        let opened = Arc::new(AtomicUsize::new(0));
        let target = with_peer(&gp);
        for _ in 0..IDENTITIES {
            let control = scratch(&mut tasks, Keypair::generate_ed25519(), target.clone()).await;
            for _ in 0..STREAMS_EACH {
                let (mut control, stop, opened) = (control.clone(), stop.clone(), opened.clone());
                let gp_peer = gp.local_peer_id();
                tasks.spawn(async move {
                    for _ in 0..500 {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        if let Ok(mut stream) = control.open_stream(gp_peer, SESSION_PROTOCOL).await
                        {
                            opened.fetch_add(1, Ordering::SeqCst);
                            let mut buf = [0u8; 256];
                            while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
                        }
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                });
            }
        }
        wait_until("the flood holds its share of the handshake slots", || {
            gp.handshakes_running() >= 8
        })
        .await;

        // A colleague new to the node, on the flooded address, is told
        // that the node is busy (not that its credential was refused), or
        // gets through: its first directory or AutoNAT request makes the
        // node verify it on a session of its own, after which it is a
        // known colleague with the slots kept for those.
        let mut busy = false;
        for _ in 0..10 {
            match deliver(&dentist, &gp).await {
                Err(NetError::Channel(ChannelError::Busy)) | Ok(()) => {
                    busy = true;
                    break;
                }
                Err(NetError::Channel(ChannelError::ClosedDuringHandshake)) => {
                    panic!("a busy node was reported as refusing the credential")
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        assert!(
            busy,
            "the new colleague was neither told the node is busy nor let through"
        );
        assert!(
            ChannelError::Busy.to_string().contains("busy") && ChannelError::Busy.is_transient()
        );

        // The known colleague delivers, every time, during the flood.
        for i in 0..5 {
            deliver(&cardio, &gp)
                .await
                .unwrap_or_else(|e| panic!("delivery {i} during the flood: {e}"));
            assert!(gp.handshakes_running() <= 8 + 4);
        }
        assert!(opened.load(Ordering::SeqCst) >= 8);
        stop.store(true, Ordering::Relaxed);
        gp.shutdown().await;
        cardio.shutdown().await;
        dentist.shutdown().await;
    })
    .await;
}

/// Writes through to the stream the first `allowed` bytes, then takes
/// every byte and sends none: a peer that stalls mid-message.
struct StallAfter<S> {
    inner: S,
    passed: usize,
    allowed: Arc<AtomicUsize>,
}

impl<S: AsyncRead + Unpin> AsyncRead for StallAfter<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallAfter<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let room = self
            .allowed
            .load(Ordering::SeqCst)
            .saturating_sub(self.passed);
        if room == 0 {
            return Poll::Ready(Ok(buf.len()));
        }
        let n = buf.len().min(room);
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, &buf[..n]) {
            Poll::Ready(Ok(written)) => {
                this.passed += written;
                Poll::Ready(Ok(written))
            }
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stalled_attachments_of_one_card_holder_hold_bounded_memory_that_returns() {
    const SESSIONS: usize = 4;
    const ATTEMPTS: usize = 8;
    const ANNOUNCED: usize = 1 << 20;
    const SENT: usize = 100 * 1024;
    const BUDGET: usize = 1 << 20;
    bounded(async {
        let pki = pki();
        let mut tasks = Tasks::default();
        let limits = NetLimits {
            max_sessions_per_peer: SESSIONS,
            memory_budget: BUDGET,
            ..NetLimits::default()
        };
        let (gp, gp_events) = start(&pki.gp, limits).await;
        echo(&mut tasks, gp_events);

        // The enrolled cardiologist's keys in a scratch client: sessions
        // that announce a 1 MiB attachment, send 100 KiB of it and stall.
        let mut control = scratch(&mut tasks, pki.cardio.keypair.clone(), with_peer(&gp)).await;
        let mut held: Vec<SecureChannel> = Vec::new();
        let mut busy = 0;
        for _ in 0..ATTEMPTS {
            let stream = control
                .open_stream(gp.local_peer_id(), SESSION_PROTOCOL)
                .await
                .expect("open a stream");
            let allowed = Arc::new(AtomicUsize::new(usize::MAX));
            let wrapped = StallAfter {
                inner: stream,
                passed: 0,
                allowed: allowed.clone(),
            };
            match channel::connect(wrapped, &pki.cardio.session, gp.local_peer_id(), system_now)
                .await
            {
                Ok(mut ch) => {
                    // The head, its frame, and the first SENT bytes.
                    allowed.store(SENT, Ordering::SeqCst);
                    let mut msg = vec![1u8; 64];
                    msg.resize(64 + ANNOUNCED, 2);
                    ch.send_attached(&msg, 64).await.expect("send");
                    ch.flush().await.expect("flush");
                    held.push(ch);
                }
                Err(ChannelError::Busy) => busy += 1,
                Err(e) => panic!("unexpected refusal: {e}"),
            }
        }
        assert_eq!(held.len(), SESSIONS, "sessions past the cap were admitted");
        assert_eq!(busy, ATTEMPTS - SESSIONS);
        assert_eq!(gp.sessions_with(&pki.cardio.peer_id()), SESSIONS);

        // The node holds what arrived, not what was announced, within
        // its budget.
        wait_until("the node read what was sent", || {
            let used = gp.buffered_bytes();
            assert!(used <= BUDGET, "{used} bytes held, over the budget");
            used >= SESSIONS * (SENT / 2)
        })
        .await;
        let used = gp.buffered_bytes();
        assert!(
            used < SESSIONS * ANNOUNCED / 2,
            "{used} bytes held for {SESSIONS} stalled attachments"
        );

        // The sessions end: every byte and every session slot comes back.
        drop(held);
        drop(tasks);
        wait_until("the memory returned", || gp.buffered_bytes() == 0).await;
        wait_until("the sessions ended", || {
            gp.sessions_with(&pki.cardio.peer_id()) == 0
        })
        .await;
        gp.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_over_the_memory_budget_is_refused_and_the_next_one_fits() {
    const BUDGET: usize = 512 * 1024;
    bounded(async {
        let pki = pki();
        let mut tasks = Tasks::default();
        let limits = NetLimits {
            memory_budget: BUDGET,
            ..NetLimits::default()
        };
        let (gp, mut gp_events) = start(&pki.gp, limits).await;
        let (cardio, cardio_events) = start(&pki.cardio, NetLimits::default()).await;
        drain(&mut tasks, cardio_events);

        let mut results = Vec::new();
        for len in [1 << 20, 200 * 1024] {
            let sending = async {
                let mut ch = cardio
                    .open_channel(gp.local_peer_id(), gp.listen_addrs())
                    .await
                    .expect("open channel");
                let msg: Vec<u8> = (0..64 + len).map(|i| (i % 251) as u8).collect();
                // The receiver may close before taking everything.
                let _ = tokio::time::timeout(WAIT, async {
                    ch.send_attached(&msg, 64).await?;
                    ch.flush().await
                })
                .await;
                (ch, msg)
            };
            let receiving = async {
                loop {
                    let event = tokio::time::timeout(WAIT, gp_events.recv())
                        .await
                        .expect("an event in time")
                        .expect("network running");
                    if let NetEvent::Inbound(mut ch) = event {
                        return ch.recv().await;
                    }
                }
            };
            let ((_ch, msg), got) = tokio::join!(sending, receiving);
            results.push((msg, got));
            wait_until("the memory returned", || gp.buffered_bytes() == 0).await;
        }
        match &results[0].1 {
            Err(ChannelError::MemoryBudget { cap }) => assert_eq!(*cap, BUDGET),
            other => panic!("a 1 MiB attachment over a 512 KiB budget: {other:?}"),
        }
        let (msg, got) = &results[1];
        assert_eq!(got.as_ref().expect("received").as_deref(), Some(&msg[..]));
        gp.shutdown().await;
        cardio.shutdown().await;
    })
    .await;
}
