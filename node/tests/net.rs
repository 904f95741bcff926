//! The network layer on loopback: libp2p (TCP, QUIC) carrying Confrère
//! sessions between nodes enrolled with a TEST PKI, and the session driver
//! over in-memory pipes for what libp2p cannot be made to do (a credential
//! replayed on another connection, a silent peer).
//!
//! Nothing listens beyond 127.0.0.1; mDNS is off; every test is bounded in
//! time.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use confrere_node::net::channel::{self, ChannelError, ChannelTimeouts, SecureChannel};
use confrere_node::net::{
    system_now, AddressBook, NetConfig, NetError, NetEvent, Network, NetworkHandle,
};
use confrere_protocol::session::{SessionError, MAX_PLAINTEXT_LEN};
use confrere_protocol::{CredentialError, RevocationCheck, UnixTime};
use confrere_testpki::IssueRequest;
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::mpsc;

mod support;
use support::{ca, enroll, Node};

/// Bound on each test.
const TEST_TIMEOUT: Duration = Duration::from_secs(90);

/// Three practices: two under the same TEST CA, one under another.
struct Pki {
    /// Enrolled under CA 1; checks revocation with CA 1's CRLs.
    gp: Node,
    /// Enrolled under CA 1; revocation checks off.
    cardio: Node,
    /// Enrolled under CA 2, which the others do not trust; it trusts both.
    stranger: Node,
}

/// The PKI and homes, made once for all tests (RSA key generation is slow).
fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca1 = ca();
        let ca2 = ca();
        let gp = enroll(
            dir.path(),
            "gp",
            &ca1,
            &[&ca1],
            IssueRequest::new("810001000016", "CLAIRE", "MARTIN-TEST", 10),
            RevocationCheck::Required,
        );
        let cardio = enroll(
            dir.path(),
            "cardio",
            &ca1,
            &[&ca1],
            IssueRequest::new("810001000024", "PAUL", "LEROY-TEST", 10),
            RevocationCheck::Off,
        );
        let stranger = enroll(
            dir.path(),
            "stranger",
            &ca2,
            &[&ca2, &ca1],
            IssueRequest::new("899700075064", "CECILE", "SAGECH0007506", 50),
            RevocationCheck::Off,
        );
        Pki {
            gp,
            cardio,
            stranger,
        }
    })
}

fn loopback_tcp() -> Vec<Multiaddr> {
    vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")]
}

fn loopback_quic() -> Vec<Multiaddr> {
    vec!["/ip4/127.0.0.1/udp/0/quic-v1".parse().expect("multiaddr")]
}

async fn start(node: &Node, listen: Vec<Multiaddr>) -> (NetworkHandle, mpsc::Receiver<NetEvent>) {
    let mut config = NetConfig::new(node.keypair.clone(), Arc::clone(&node.session), system_now);
    config.listen = listen;
    config.mdns = false;
    let (handle, events) = Network::start(config).await.expect("start network");
    let addrs = handle.listen_addrs();
    assert!(!addrs.is_empty());
    for addr in &addrs {
        assert!(addr.to_string().starts_with("/ip4/127.0.0.1/"), "{addr}");
    }
    (handle, events)
}

/// The next event that `pick` accepts; others are skipped.
async fn next_event<T>(
    events: &mut mpsc::Receiver<NetEvent>,
    mut pick: impl FnMut(NetEvent) -> Option<T>,
) -> T {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await
            .expect("event in time")
            .expect("network running");
        if let Some(found) = pick(event) {
            return found;
        }
    }
}

async fn inbound(events: &mut mpsc::Receiver<NetEvent>) -> SecureChannel {
    next_event(events, |e| match e {
        NetEvent::Inbound(channel) => Some(channel),
        _ => None,
    })
    .await
}

async fn refused(events: &mut mpsc::Receiver<NetEvent>) -> (PeerId, String) {
    next_event(events, |e| match e {
        NetEvent::Refused { peer, reason } => Some((peer, reason)),
        _ => None,
    })
    .await
}

async fn verified(events: &mut mpsc::Receiver<NetEvent>) -> (PeerId, String, Vec<Multiaddr>) {
    next_event(events, |e| match e {
        NetEvent::Verified {
            peer,
            national_id,
            addrs,
            ..
        } => Some((peer, national_id, addrs)),
        _ => None,
    })
    .await
}

async fn bounded<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, fut)
        .await
        .expect("test finished in time")
}

/// Sends `count` numbered messages, then flushes.
async fn send_numbered(ch: &mut SecureChannel, count: u32) {
    for i in 0..count {
        ch.send(format!("message {i}").as_bytes())
            .await
            .expect("send");
    }
    ch.flush().await.expect("flush");
}

async fn recv_numbered(ch: &mut SecureChannel, count: u32) {
    for i in 0..count {
        let msg = ch.recv().await.expect("recv").expect("a message");
        assert_eq!(msg, format!("message {i}").as_bytes());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_exchange_messages_over_tcp() {
    bounded(async {
        let pki = pki();
        let (gp, mut gp_events) = start(&pki.gp, loopback_tcp()).await;
        let (cardio, mut cardio_events) = start(&pki.cardio, loopback_tcp()).await;

        let opening = gp.open_channel(pki.cardio.peer_id(), cardio.listen_addrs());
        let (opened, accepted) = tokio::join!(opening, inbound(&mut cardio_events));
        let mut a = opened.expect("open channel");
        let mut b = accepted;
        assert!(a.is_initiator() && !b.is_initiator());
        assert_eq!(
            a.peer().identity().national_id.as_str(),
            pki.cardio.national_id
        );
        assert_eq!(b.peer().identity().national_id.as_str(), pki.gp.national_id);
        assert_eq!(b.remote_peer_id(), pki.gp.peer_id());
        assert_eq!(a.handshake_hash(), b.handshake_hash());

        // Both sides report the verified practitioner, with addresses.
        let (peer, id, addrs) = verified(&mut gp_events).await;
        assert_eq!(
            (peer, id.as_str()),
            (pki.cardio.peer_id(), pki.cardio.national_id)
        );
        assert!(!addrs.is_empty());
        let (peer, id, _) = verified(&mut cardio_events).await;
        assert_eq!((peer, id.as_str()), (pki.gp.peer_id(), pki.gp.national_id));

        // One message each way, then the largest, then an empty one.
        // `send` only queues: `flush` (or a `recv`) writes.
        a.send(b"referral for Mme X").await.expect("send");
        a.flush().await.expect("flush");
        assert_eq!(
            b.recv().await.expect("recv").as_deref(),
            Some(&b"referral for Mme X"[..])
        );
        b.send(b"accepted").await.expect("send");
        b.flush().await.expect("flush");
        assert_eq!(
            a.recv().await.expect("recv").as_deref(),
            Some(&b"accepted"[..])
        );
        let big: Vec<u8> = (0..MAX_PLAINTEXT_LEN).map(|i| (i % 251) as u8).collect();
        assert_eq!(big.len(), 65_515);
        a.send(&big).await.expect("send max");
        a.flush().await.expect("flush");
        b.send(&big).await.expect("send max");
        // `recv` flushes what is queued before it waits.
        assert_eq!(b.recv().await.expect("recv").as_deref(), Some(&big[..]));
        assert_eq!(a.recv().await.expect("recv").as_deref(), Some(&big[..]));
        // A message with an attachment (bytes the session does not
        // encrypt again) arrives whole, between ordinary messages.
        let attached: Vec<u8> = (0..300_013u32).map(|i| (i % 253) as u8).collect();
        // (More than the stream's flow-control window: read while sending.)
        let sending = async {
            a.send_attached(&attached, 13).await.expect("send attached");
            a.send(b"after").await.expect("send");
            a.flush().await.expect("flush");
        };
        let receiving = async {
            let first = b.recv().await.expect("recv");
            let second = b.recv().await.expect("recv");
            (first, second)
        };
        let ((), (first, second)) = tokio::join!(sending, receiving);
        assert_eq!(first.as_deref(), Some(&attached[..]));
        assert_eq!(second.as_deref(), Some(&b"after"[..]));
        a.send(&[]).await.expect("send empty");
        a.flush().await.expect("flush");
        assert_eq!(b.recv().await.expect("recv").as_deref(), Some(&[][..]));

        // One byte too many is refused, and the channel stays usable.
        let too_big = vec![0u8; MAX_PLAINTEXT_LEN + 1];
        match a.send(&too_big).await {
            Err(ChannelError::Session(SessionError::PlaintextTooLong { len })) => {
                assert_eq!(len, 65_516)
            }
            other => panic!("expected PlaintextTooLong, got {other:?}"),
        }

        // A thousand messages each way, at the same time.
        let (sent, received) = tokio::join!(
            async {
                send_numbered(&mut a, 1000).await;
                recv_numbered(&mut a, 1000).await;
                a
            },
            async {
                recv_numbered(&mut b, 1000).await;
                send_numbered(&mut b, 1000).await;
                b
            }
        );
        let (a, mut b) = (sent, received);
        // Five messages before (one with an attachment), and the
        // responder's ready message counts.
        assert_eq!(a.stats().sent_messages, 1000 + 5);
        assert_eq!(b.stats().received_messages, 1000 + 5);
        assert_eq!(b.stats().sent_messages, 1 + 1 + 1 + 1000);

        // A clean close is seen as the end of the stream.
        a.close().await.expect("close");
        assert_eq!(b.recv().await.expect("end of stream"), None);
        assert_eq!(b.recv().await.expect("still the end"), None);

        // The same peers open a second session on the same connection.
        let (again, _) = tokio::join!(
            gp.open_channel(pki.cardio.peer_id(), Vec::new()),
            inbound(&mut cardio_events)
        );
        again.expect("second channel").close().await.expect("close");

        gp.shutdown().await;
        cardio.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn quic_by_address_only_learns_the_peer_and_records_it() {
    bounded(async {
        let pki = pki();
        let (gp, mut gp_events) = start(&pki.gp, loopback_quic()).await;
        let (cardio, mut cardio_events) = start(&pki.cardio, loopback_quic()).await;
        let addr = cardio.listen_addrs().remove(0);
        assert!(addr.to_string().contains("/quic-v1"), "{addr}");

        // The user typed the address without /p2p/: the book has no node yet.
        let home = tempfile::tempdir().expect("tempdir");
        let mut book = AddressBook::load(home.path()).expect("load");
        let entry = book.add(&addr.to_string()).expect("add");
        assert_eq!(entry.peer_id, None);

        let (opened, mut b) = tokio::join!(
            gp.open_channel_addr(addr.clone()),
            inbound(&mut cardio_events)
        );
        let mut a = opened.expect("open by address");
        assert_eq!(a.remote_peer_id(), pki.cardio.peer_id());
        assert_eq!(
            a.peer().identity().national_id.as_str(),
            pki.cardio.national_id
        );
        a.send(b"over quic").await.expect("send");
        a.flush().await.expect("flush");
        assert_eq!(
            b.recv().await.expect("recv").as_deref(),
            Some(&b"over quic"[..])
        );
        b.send(b"ack").await.expect("send");
        b.flush().await.expect("flush");
        assert_eq!(a.recv().await.expect("recv").as_deref(), Some(&b"ack"[..]));

        let (peer, national_id, addrs) = verified(&mut gp_events).await;
        assert!(addrs.contains(&addr), "{addrs:?}");
        let name = a.peer().identity().display_name();
        book.record_verified(&peer, &national_id, &name, &addrs, system_now());
        assert_eq!(book.entries().len(), 1, "the address entry learnt its node");
        let found = book
            .find_by_national_id(pki.cardio.national_id)
            .expect("found by national id");
        assert_eq!(found.peer(), Some(pki.cardio.peer_id()));
        assert_eq!(found.name.as_deref(), Some("PAUL LEROY-TEST"));
        book.save().expect("save");

        b.close().await.expect("close");
        assert_eq!(a.recv().await.expect("end"), None);
        gp.shutdown().await;
        cardio.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_under_an_untrusted_ca_is_refused_both_ways() {
    bounded(async {
        let pki = pki();
        let (gp, mut gp_events) = start(&pki.gp, loopback_tcp()).await;
        let (stranger, mut stranger_events) = start(&pki.stranger, loopback_tcp()).await;

        // The stranger opens: it accepts the GP's credential, the GP refuses
        // the stranger's, and says why; the stranger learns it was refused.
        let opened = stranger
            .open_channel(pki.gp.peer_id(), gp.listen_addrs())
            .await;
        match opened {
            Err(NetError::Channel(ChannelError::ClosedDuringHandshake)) => {}
            other => panic!("expected a refusal, got {other:?}"),
        }
        let (peer, reason) = refused(&mut gp_events).await;
        assert_eq!(peer, pki.stranger.peer_id());
        assert!(reason.contains("no trusted CA issued"), "{reason}");

        // The GP opens: it refuses the stranger's credential at once.
        let opened = gp
            .open_channel(pki.stranger.peer_id(), stranger.listen_addrs())
            .await;
        match opened {
            Err(NetError::Channel(ChannelError::Session(SessionError::Credential(
                CredentialError::Certificate(e),
            )))) => assert!(e.to_string().contains("no trusted CA issued"), "{e}"),
            other => panic!("expected the stranger's certificate to be refused, got {other:?}"),
        }
        let (peer, reason) = refused(&mut stranger_events).await;
        assert_eq!(peer, pki.gp.peer_id());
        assert!(
            reason.contains("closed the stream during the handshake"),
            "{reason}"
        );

        gp.shutdown().await;
        stranger.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn new_trust_takes_effect_at_the_next_handshake_without_a_restart() {
    bounded(async {
        let pki = pki();
        let (cardio, _cardio_events) = start(&pki.cardio, loopback_tcp()).await;
        let (stranger, _stranger_events) = start(&pki.stranger, loopback_tcp()).await;
        let mut changes = cardio.live_session().subscribe();

        // The cardiologist trusts CA 1 only: the stranger (CA 2) is refused.
        let opened = stranger
            .open_channel(pki.cardio.peer_id(), cardio.listen_addrs())
            .await;
        assert!(opened.is_err(), "CA 2 is not trusted yet: {opened:?}");

        // The running node is given trust material that holds CA 2 too.
        cardio
            .live_session()
            .replace_trust(pki.stranger.session.trust.as_ref().clone());
        assert!(
            changes.has_changed().expect("the sender lives"),
            "subscribers are told"
        );
        let current = changes.borrow_and_update().clone();
        assert_eq!(current.trust.anchors().len(), 2);
        assert_eq!(
            current.credential.peer_id(),
            pki.cardio.session.credential.peer_id(),
            "the credential is kept"
        );

        // The next handshake uses it.
        let channel = stranger
            .open_channel(pki.cardio.peer_id(), cardio.listen_addrs())
            .await
            .expect("the stranger is accepted under the new trust");
        assert_eq!(
            channel.peer().identity().national_id.as_str(),
            "810001000024"
        );
        let _ = channel.close().await;

        cardio.shutdown().await;
        stranger.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_refuses_a_libp2p_key_its_credential_does_not_bind() {
    let pki = pki();
    let mut config = NetConfig::new(
        Keypair::generate_ed25519(),
        Arc::clone(&pki.gp.session),
        system_now,
    );
    config.listen = loopback_tcp();
    config.mdns = false;
    match Network::start(config).await {
        Err(NetError::KeyMismatch { .. }) => {}
        other => panic!("expected KeyMismatch, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_network_says_so() {
    bounded(async {
        let pki = pki();
        let (gp, _events) = start(&pki.gp, loopback_tcp()).await;
        gp.shutdown().await;
        let addr: Multiaddr = "/ip4/127.0.0.1/tcp/9".parse().expect("multiaddr");
        match gp.open_channel(pki.cardio.peer_id(), vec![addr]).await {
            Err(NetError::Stopped) => {}
            other => panic!("expected Stopped, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialling_a_closed_port_fails_cleanly() {
    bounded(async {
        let pki = pki();
        let (gp, _events) = start(&pki.gp, loopback_tcp()).await;
        // Bind then release a port, so that nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}").parse().expect("addr");
        match gp
            .open_channel(pki.cardio.peer_id(), vec![addr.clone()])
            .await
        {
            Err(NetError::Dial { .. }) => {}
            other => panic!("expected a dial error, got {other:?}"),
        }
        match gp.open_channel_addr(addr).await {
            Err(NetError::Dial { .. }) => {}
            other => panic!("expected a dial error, got {other:?}"),
        }
        match gp.open_channel(PeerId::random(), Vec::new()).await {
            Err(NetError::NoAddress { .. }) => {}
            other => panic!("expected NoAddress, got {other:?}"),
        }
        gp.shutdown().await;
    })
    .await;
}

// ---------------------------------------------------------------------------
// The driver alone, over an in-memory pipe.

/// A tokio duplex pipe seen through the `futures` I/O traits, as libp2p
/// streams are.
struct Pipe(tokio::io::DuplexStream);

impl futures::io::AsyncRead for Pipe {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut rb = tokio::io::ReadBuf::new(buf);
        match tokio::io::AsyncRead::poll_read(Pin::new(&mut self.0), cx, &mut rb) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(rb.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl futures::io::AsyncWrite for Pipe {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        tokio::io::AsyncWrite::poll_write(Pin::new(&mut self.0), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::io::AsyncWrite::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::io::AsyncWrite::poll_shutdown(Pin::new(&mut self.0), cx)
    }
}

fn pipe() -> (Pipe, Pipe) {
    let (a, b) = tokio::io::duplex(16 * 1024);
    (Pipe(a), Pipe(b))
}

fn short(handshake: Duration, idle: Duration) -> ChannelTimeouts {
    ChannelTimeouts { handshake, idle }
}

fn clock() -> UnixTime {
    system_now()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_a_pipe_the_session_runs_and_rekeys_nothing_early() {
    bounded(async {
        let pki = pki();
        let (x, y) = pipe();
        let (a, b) = tokio::join!(
            channel::connect(x, &pki.gp.session, pki.cardio.peer_id(), clock),
            channel::accept(y, &pki.cardio.session, pki.gp.peer_id(), clock),
        );
        let (mut a, mut b) = (a.expect("connect"), b.expect("accept"));
        // The pipe holds 16 KiB: the large message needs the reader.
        let big = vec![7u8; MAX_PLAINTEXT_LEN];
        let (sent, got) = tokio::join!(
            async {
                a.send(&big).await?;
                a.flush().await
            },
            b.recv()
        );
        sent.expect("send");
        assert_eq!(got.expect("recv").as_deref(), Some(&big[..]));
        assert_eq!(a.stats().send_rekeys, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_for_another_peer_id_is_refused() {
    bounded(async {
        let pki = pki();
        // The initiator expects another node than the credential names:
        // it refuses before revealing its own credential.
        let (x, y) = pipe();
        let (a, b) = tokio::join!(
            channel::connect(x, &pki.gp.session, PeerId::random(), clock),
            channel::accept(y, &pki.cardio.session, pki.gp.peer_id(), clock),
        );
        assert!(
            matches!(a, Err(ChannelError::PeerIdMismatch { .. })),
            "{a:?}"
        );
        assert!(
            matches!(b, Err(ChannelError::ClosedDuringHandshake)),
            "{b:?}"
        );

        // The responder's connection is with another node than the
        // initiator's credential names.
        let (x, y) = pipe();
        let (a, b) = tokio::join!(
            channel::connect(x, &pki.gp.session, pki.cardio.peer_id(), clock),
            channel::accept(y, &pki.cardio.session, PeerId::random(), clock),
        );
        match &b {
            Err(e @ ChannelError::PeerIdMismatch { credential, .. }) => {
                let gp = pki.gp.peer_id().to_base58();
                assert_eq!(credential, &gp[8..16]);
                assert!(e.to_string().contains(credential.as_str()));
            }
            other => panic!("expected PeerIdMismatch, got {other:?}"),
        }
        assert!(
            matches!(a, Err(ChannelError::ClosedDuringHandshake)),
            "{a:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_times_the_handshake_out() {
    bounded(async {
        let pki = pki();
        let limit = Duration::from_millis(300);
        let started = tokio::time::Instant::now();

        // A responder that never answers msg1.
        let (x, _silent) = pipe();
        let a = channel::connect_with(
            x,
            &pki.gp.session,
            pki.cardio.peer_id(),
            clock,
            short(limit, limit),
        )
        .await;
        assert!(
            matches!(a, Err(ChannelError::HandshakeTimeout(d)) if d == limit),
            "{a:?}"
        );

        // An initiator that never sends msg1.
        let (_silent, y) = pipe();
        let b = channel::accept_with(
            y,
            &pki.cardio.session,
            pki.gp.peer_id(),
            clock,
            short(limit, limit),
        )
        .await;
        assert!(matches!(b, Err(ChannelError::HandshakeTimeout(_))), "{b:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_established_peer_times_out_and_the_channel_closes() {
    bounded(async {
        let pki = pki();
        let idle = Duration::from_millis(200);
        let (x, y) = pipe();
        let (a, b) = tokio::join!(
            channel::connect_with(
                x,
                &pki.gp.session,
                pki.cardio.peer_id(),
                clock,
                short(Duration::from_secs(10), idle)
            ),
            channel::accept(y, &pki.cardio.session, pki.gp.peer_id(), clock),
        );
        let (mut a, mut b) = (a.expect("connect"), b.expect("accept"));
        assert!(matches!(a.recv().await, Err(ChannelError::IdleTimeout(d)) if d == idle));
        assert!(matches!(a.send(b"late").await, Err(ChannelError::Closed)));
        // The peer sees the stream end, learning nothing about why.
        assert_eq!(b.recv().await.expect("end of stream"), None);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_instead_of_a_handshake_is_refused() {
    bounded(async {
        use futures::AsyncWriteExt;
        let pki = pki();
        // An empty frame, then a frame that is not a Noise message.
        for bytes in [&[0u8, 0][..], &[0, 3, 1, 2, 3][..]] {
            let (mut x, y) = pipe();
            x.write_all(bytes).await.expect("write");
            x.flush().await.expect("flush");
            let b = channel::accept(y, &pki.cardio.session, pki.gp.peer_id(), clock).await;
            assert!(matches!(b, Err(ChannelError::Session(_))), "{b:?}");
        }
        // A stream that ends in the middle of a frame.
        let (mut x, y) = pipe();
        x.write_all(&[0, 40, 1]).await.expect("write");
        x.close().await.expect("close");
        let b = channel::accept(y, &pki.cardio.session, pki.gp.peer_id(), clock).await;
        assert!(
            matches!(b, Err(ChannelError::Session(SessionError::Frame(_)))),
            "{b:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disconnect_closes_the_connection_and_the_next_channel_dials_anew() {
    bounded(async {
        let pki = pki();
        let (gp, _gp_events) = start(&pki.gp, loopback_tcp()).await;
        let (cardio, mut cardio_events) = start(&pki.cardio, loopback_tcp()).await;
        let peer = pki.cardio.peer_id();
        // Nothing is connected yet: it returns at once.
        gp.disconnect(peer).await.expect("nothing to close");
        for round in 0..3u32 {
            let opening = gp.open_channel(peer, cardio.listen_addrs());
            let (opened, accepted) = tokio::join!(opening, inbound(&mut cardio_events));
            let mut a = opened.expect("open channel");
            let mut b = accepted;
            send_numbered(&mut a, round + 1).await;
            recv_numbered(&mut b, round + 1).await;
            gp.disconnect(peer).await.expect("disconnect");
            // The connection is gone: the other side's stream ends or fails,
            // and so does this side's.
            assert!(matches!(b.recv().await, Ok(None) | Err(_)));
            assert!(a.send(b"after").await.is_err() || a.flush().await.is_err());
        }
    })
    .await;
}

/// `trust` with the CRLs of `ca` replaced by a newer pair (number 2) whose
/// intermediate CRL lists `revoked`.
fn trust_revoking(
    trust: &confrere_protocol::TrustStore,
    ca: &confrere_testpki::TestCa,
    revoked: &[confrere_testpki::RevokedEntry],
) -> confrere_protocol::TrustStore {
    let now = time::OffsetDateTime::now_utc();
    let next = now + time::Duration::days(30);
    let mut t = confrere_protocol::TrustStore::new(trust.anchors().to_vec());
    for c in trust.intermediates() {
        t.add_intermediate(c.clone());
    }
    for der in [
        ca.crl(revoked, 2, now, next).expect("CRL"),
        ca.root_crl(2, now, next).expect("root CRL"),
    ] {
        t.add_crl(confrere_protocol::Crl::from_der(&der).expect("parses"));
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_open_session_closes_when_a_new_crl_revokes_its_peer() {
    bounded(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = ca();
        let checker = enroll(
            dir.path(),
            "checker",
            &ca,
            &[&ca],
            IssueRequest::new("810001000016", "CLAIRE", "MARTIN-TEST", 10),
            RevocationCheck::Required,
        );
        let colleague = enroll(
            dir.path(),
            "colleague",
            &ca,
            &[&ca],
            IssueRequest::new("810001000024", "PAUL", "LEROY-TEST", 10),
            RevocationCheck::Off,
        );
        let (a, mut a_events) = start(&checker, loopback_tcp()).await;
        let (b, _b_events) = start(&colleague, loopback_tcp()).await;

        // B opens a session; A holds it, idle in recv.
        let mut from_b = b
            .open_channel(checker.peer_id(), a.listen_addrs())
            .await
            .expect("B accepted");
        let mut held = inbound(&mut a_events).await;
        from_b.send(b"hello").await.expect("send");
        from_b.flush().await.expect("flush");
        assert_eq!(held.recv().await.expect("recv"), Some(b"hello".to_vec()));
        let idle = tokio::spawn(async move {
            let got = held.recv().await;
            (held, got)
        });

        // A CRL that does not revoke B, while A waits: the session stays
        // and the next message arrives.
        let a_trust = checker.session.trust.as_ref().clone();
        a.live_session()
            .replace_trust(trust_revoking(&a_trust, &ca, &[]));
        from_b.send(b"still there").await.expect("send");
        from_b.flush().await.expect("flush");
        let (mut held, got) = tokio::time::timeout(Duration::from_secs(30), idle)
            .await
            .expect("in time")
            .expect("task");
        assert_eq!(got.expect("recv"), Some(b"still there".to_vec()));
        let idle = tokio::spawn(async move { held.recv().await });

        // A CRL revoking B's card: the idle recv wakes and fails.
        let b_cert = colleague.session.credential.certificates()[0].clone();
        let serial = ca.issued_serial(&b_cert).expect("serial");
        let revoked = [confrere_testpki::RevokedEntry {
            serial,
            revoked_at: time::OffsetDateTime::now_utc() - time::Duration::minutes(1),
        }];
        let mut newer = trust_revoking(&a_trust, &ca, &revoked);
        // Numbered 3, so it is newer than the one above.
        let now = time::OffsetDateTime::now_utc();
        newer = {
            let mut t = confrere_protocol::TrustStore::new(newer.anchors().to_vec());
            for c in newer.intermediates() {
                t.add_intermediate(c.clone());
            }
            for der in [
                ca.crl(&revoked, 3, now, now + time::Duration::days(30))
                    .expect("CRL"),
                ca.root_crl(3, now, now + time::Duration::days(30))
                    .expect("root CRL"),
            ] {
                t.add_crl(confrere_protocol::Crl::from_der(&der).expect("parses"));
            }
            t
        };
        a.live_session().replace_trust(newer);
        let result = tokio::time::timeout(Duration::from_secs(30), idle)
            .await
            .expect("the idle session wakes")
            .expect("task");
        match result {
            Err(ChannelError::PeerNoLongerTrusted(CredentialError::Certificate(
                confrere_protocol::CertError::Revoked { .. },
            ))) => {}
            other => panic!("expected PeerNoLongerTrusted(Revoked), got {other:?}"),
        }
        // And B is refused from the next handshake on.
        let again = b.open_channel(checker.peer_id(), a.listen_addrs()).await;
        assert!(again.is_err(), "B's revoked card is refused: {again:?}");

        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}
