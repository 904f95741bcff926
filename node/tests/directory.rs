//! The directory on loopback: nodes join through a public bootstrap node,
//! publish their records and find each other by national id; a libp2p
//! node that proved no credential gets nothing from the directory.
//!
//! Nothing listens beyond 127.0.0.1; mDNS is off; every wait is bounded.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use confrere_node::net::{system_now, NetConfig, Network, NetworkHandle, Reachability};
use confrere_protocol::{NationalId, RevocationCheck};
use confrere_testpki::IssueRequest;
use libp2p::futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{kad, Multiaddr};

mod support;
use support::{ca, enroll, Node};

/// Bound on each wait.
const WAIT: Duration = Duration::from_secs(60);

struct Pki {
    public: Node,
    gp: Node,
    cardio: Node,
    /// Under a CA nobody else trusts; claims the cardiologist's id.
    impostor: Node,
}

const CARDIO_ID: &str = "810001000024";

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca1 = ca();
        let ca2 = ca();
        let node = |label: &str, id: &str, given: &str, sur: &str| {
            enroll(
                dir.path(),
                label,
                &ca1,
                &[&ca1],
                IssueRequest::new(id, given, sur, 10),
                RevocationCheck::Off,
            )
        };
        Pki {
            public: node("public", "810001000032", "ANNE", "PUBLIC-TEST"),
            gp: node("gp", "810001000016", "CLAIRE", "MARTIN-TEST"),
            cardio: node("cardio", CARDIO_ID, "PAUL", "LEROY-TEST"),
            impostor: enroll(
                dir.path(),
                "impostor",
                &ca2,
                &[&ca2],
                IssueRequest::new(CARDIO_ID, "PAUL", "LEROY-TEST", 10),
                RevocationCheck::Off,
            ),
        }
    })
}

async fn start(node: &Node, public: bool, bootstrap: &[Multiaddr]) -> NetworkHandle {
    let mut config = NetConfig::new(node.keypair.clone(), Arc::clone(&node.session), system_now);
    config.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")];
    config.mdns = false;
    config.public = public;
    config.bootstrap = bootstrap.to_vec();
    let (handle, mut events) = Network::start(config).await.expect("start network");
    // Nobody reads these events here: drain them.
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    handle
}

fn full_addr(handle: &NetworkHandle) -> Multiaddr {
    handle.listen_addrs()[0]
        .clone()
        .with(Protocol::P2p(handle.local_peer_id()))
}

/// Looks `id` up from `from` until a record is found (bounded).
async fn find_eventually(
    from: &NetworkHandle,
    id: &str,
) -> Vec<confrere_protocol::directory::VerifiedRecord> {
    let id = NationalId::parse(id).expect("national id");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found = from.find(&id).await.expect("lookup");
        if !found.is_empty() || tokio::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_joined_through_a_bootstrap_find_each_other_and_an_impostor_is_ignored() {
    let pki = pki();
    let public = start(&pki.public, true, &[]).await;
    assert_eq!(public.reachability(), Reachability::Public);
    let boot = vec![full_addr(&public)];
    // A bootstrap node may be named by DNS (a practice's dynamic-DNS name).
    let port = public.listen_addrs()[0]
        .iter()
        .find_map(|p| match p {
            Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .expect("tcp port");
    let by_name: Multiaddr = format!("/dns4/localhost/tcp/{port}/p2p/{}", public.local_peer_id())
        .parse()
        .expect("multiaddr");
    let cardio = start(&pki.cardio, false, &[by_name]).await;
    let impostor = start(&pki.impostor, false, &boot).await;
    let gp = start(&pki.gp, false, &boot).await;
    assert_eq!(gp.bootstrap_addrs(), boot);

    let found = find_eventually(&gp, CARDIO_ID).await;
    assert_eq!(found.len(), 1, "one node of the cardiologist: {found:?}");
    assert_eq!(found[0].peer_id(), cardio.local_peer_id().to_bytes());
    assert_eq!(found[0].identity().national_id.as_str(), CARDIO_ID);
    let addrs: Vec<Multiaddr> = found[0]
        .addresses()
        .iter()
        .map(|a| Multiaddr::try_from(a.clone()).expect("multiaddr"))
        .collect();
    assert!(
        addrs.iter().any(|a| cardio.listen_addrs().contains(a)),
        "{addrs:?}"
    );
    // The cardiologist's node is reached through what the directory says.
    let ch = gp
        .open_channel(cardio.local_peer_id(), addrs)
        .await
        .expect("session to the node found");
    assert_eq!(ch.peer().identity().national_id.as_str(), CARDIO_ID);
    ch.close().await.expect("close");
    // Its dialable addresses name it.
    let dialable = cardio.dialable_addrs();
    assert!(!dialable.is_empty());
    assert!(dialable
        .iter()
        .all(|a| a.to_string().ends_with(&cardio.local_peer_id().to_string())));

    // Nobody publishes an unknown id.
    let none = gp
        .find(&NationalId::parse("810009999995").expect("id"))
        .await
        .expect("lookup");
    assert!(none.is_empty());

    // With the directory gone (the bootstrap node stopped), a lookup
    // answers what an earlier one found and verified.
    public.shutdown().await;
    let cached = gp
        .find(&NationalId::parse(CARDIO_ID).expect("id"))
        .await
        .expect("lookup");
    assert_eq!(cached.len(), 1);
    assert_eq!(cached[0].peer_id(), cardio.local_peer_id().to_bytes());
    for h in [gp, cardio, impostor] {
        h.shutdown().await;
    }
}

/// A libp2p node with no Confrère credential: Kademlia on the directory's
/// protocol, nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_plain_libp2p_node_gets_no_record_and_no_peer() {
    let pki = pki();
    let public = start(&pki.public, true, &[]).await;
    let boot = vec![full_addr(&public)];
    let cardio = start(&pki.cardio, false, &boot).await;
    let gp = start(&pki.gp, false, &boot).await;
    // The directory holds the cardiologist's record (a verified node finds it).
    assert_eq!(find_eventually(&gp, CARDIO_ID).await.len(), 1);

    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default(),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .expect("tcp")
        .with_behaviour(|key| {
            let local = key.public().to_peer_id();
            let mut c = kad::Config::new(confrere_node::net::DIRECTORY_PROTOCOL);
            c.set_query_timeout(Duration::from_secs(10));
            kad::Behaviour::with_config(local, kad::store::MemoryStore::new(local), c)
        })
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(30)))
        .build();
    let boot_addr = public.listen_addrs()[0].clone();
    swarm
        .behaviour_mut()
        .add_address(&public.local_peer_id(), boot_addr);
    let key = kad::RecordKey::new(&confrere_protocol::directory::directory_key(
        &NationalId::parse(CARDIO_ID).expect("id"),
    ));
    swarm.behaviour_mut().get_record(key);
    swarm
        .behaviour_mut()
        .get_closest_peers(libp2p::PeerId::random());
    let mut records = 0;
    let mut peers = 0;
    let mut ended = 0;
    let outcome = tokio::time::timeout(WAIT, async {
        while ended < 2 {
            if let SwarmEvent::Behaviour(kad::Event::OutboundQueryProgressed {
                result, step, ..
            }) = swarm.select_next_some().await
            {
                match result {
                    kad::QueryResult::GetRecord(Ok(kad::GetRecordOk::FoundRecord(_))) => {
                        records += 1
                    }
                    kad::QueryResult::GetClosestPeers(Ok(ok)) => peers += ok.peers.len(),
                    _ => {}
                }
                if step.last {
                    ended += 1;
                }
            }
        }
    })
    .await;
    assert!(outcome.is_ok(), "the plain node's queries never ended");
    assert_eq!(records, 0, "a node without a credential got a record");
    assert_eq!(peers, 0, "a node without a credential learnt peers");
    for h in [gp, cardio, public] {
        h.shutdown().await;
    }
}
