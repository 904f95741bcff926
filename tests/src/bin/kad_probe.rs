//! A plain libp2p node, with no Confrère credential, that asks a
//! directory node for a practitioner's record over Kademlia: what an
//! outsider who found a public node would try (tests/tests/reach_outsider.rs).
//!
//! ```text
//! kad-probe ADDR/p2p/PEER_ID NATIONAL_ID [--find-peer PEER_ID] [--timeout-secs N]
//! kad-probe serve NATIONAL_ID
//! ```
//!
//! It connects (TCP, Noise, Yamux, identify `/confrere/id/1`), sends a
//! Kademlia GET_VALUE for `/confrere/dir/v1/NATIONAL_ID` and a FIND_NODE
//! (for `--find-peer`, else for its own id) on `/confrere/kad/1`, and prints
//! one line of JSON:
//!
//! ```text
//! {"connected":true,"kad_listed":true,"answered":false,"records":0,"peers":0,"error":"…"}
//! ```
//!
//! `records` counts the records returned, `peers` the peers the directory
//! node named (in its answers, or dialled because it named them) other
//! than itself, `answered`
//! whether the directory node answered the FIND_NODE (or returned a
//! record), and
//! `kad_listed` whether its identify listed `/confrere/kad/1` (so the
//! questions were asked on a protocol it speaks). Exits 0 when it could
//! ask, 2 on bad arguments, 1 when it could not connect.
//!
//! `serve` is an open Kademlia node on 127.0.0.1 that holds a record for
//! NATIONAL_ID and knows one (made-up) peer, for testing the probe itself:
//! it prints `listening ADDR/p2p/PEER_ID` and runs for at most
//! [`SERVE_LIMIT`].

use std::collections::HashSet;
use std::time::{Duration, Instant};

use libp2p::futures::StreamExt;
use libp2p::kad::store::{MemoryStore, RecordStore};
use libp2p::kad::{self, GetClosestPeersError, GetRecordOk, QueryResult};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, noise, tcp, yamux, Multiaddr, PeerId, StreamProtocol, SwarmBuilder};

/// The directory's Kademlia protocol.
const KAD_PROTOCOL: &str = "/confrere/kad/1";
/// The prefix of a directory key.
const KEY_PREFIX: &str = "/confrere/dir/v1/";
/// The identify protocol version Confrère nodes announce.
const IDENTIFY_VERSION: &str = "/confrere/id/1";
/// How long `serve` runs at most.
const SERVE_LIMIT: Duration = Duration::from_secs(120);
/// How long each question may take by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(NetworkBehaviour)]
struct Probe {
    identify: identify::Behaviour,
    kad: kad::Behaviour<MemoryStore>,
}

struct Args {
    target: Multiaddr,
    peer: PeerId,
    national_id: String,
    find_peer: Option<PeerId>,
    timeout: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let usage =
        "usage: kad-probe ADDR/p2p/PEER_ID NATIONAL_ID [--find-peer PEER_ID] [--timeout-secs N]";
    let target: Multiaddr = args
        .next()
        .ok_or(usage)?
        .parse()
        .map_err(|e| format!("bad address: {e}"))?;
    let Some(Protocol::P2p(peer)) = target.iter().last() else {
        return Err(format!("the address must end in /p2p/PEER_ID\n{usage}"));
    };
    let national_id = args.next().ok_or(usage)?;
    let mut find_peer = None;
    let mut timeout = DEFAULT_TIMEOUT;
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--find-peer" => {
                find_peer = Some(value.parse().map_err(|e| format!("bad peer id: {e}"))?);
            }
            "--timeout-secs" => {
                timeout = Duration::from_secs(value.parse().map_err(|e| format!("{e}"))?);
            }
            other => return Err(format!("unknown option {other}\n{usage}")),
        }
    }
    Ok(Args {
        target,
        peer,
        national_id,
        find_peer,
        timeout,
    })
}

/// What the probe saw.
#[derive(Default)]
struct Seen {
    connected: bool,
    kad_listed: bool,
    answered: bool,
    records: usize,
    peers: HashSet<PeerId>,
    errors: Vec<String>,
}

impl Seen {
    fn json(&self) -> String {
        let error = if self.errors.is_empty() {
            "null".to_owned()
        } else {
            format!("{:?}", self.errors.join("; "))
        };
        format!(
            "{{\"connected\":{},\"kad_listed\":{},\"answered\":{},\"records\":{},\"peers\":{},\"error\":{error}}}",
            self.connected,
            self.kad_listed,
            self.answered,
            self.records,
            self.peers.len()
        )
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut argv = std::env::args().skip(1);
    if argv.next().as_deref() == Some("serve") {
        let Some(national_id) = argv.next() else {
            eprintln!("usage: kad-probe serve NATIONAL_ID");
            std::process::exit(2);
        };
        if let Err(e) = serve(&national_id).await {
            eprintln!("serve: {e}");
            std::process::exit(1);
        }
        return;
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let seen = probe(&args).await;
    println!("{}", seen.json());
    std::process::exit(if seen.connected { 0 } else { 1 });
}

fn swarm(timeout: Duration, mode: kad::Mode) -> Result<libp2p::Swarm<Probe>, String> {
    let swarm = SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| e.to_string())
        .and_then(|b| {
            b.with_behaviour(|key| {
                let local = key.public().to_peer_id();
                let mut config = kad::Config::new(StreamProtocol::new(KAD_PROTOCOL));
                config.set_query_timeout(timeout);
                let mut kad = kad::Behaviour::with_config(local, MemoryStore::new(local), config);
                kad.set_mode(Some(mode));
                Probe {
                    identify: identify::Behaviour::new(identify::Config::new(
                        IDENTIFY_VERSION.to_owned(),
                        key.public(),
                    )),
                    kad,
                }
            })
            .map_err(|e| e.to_string())
        });
    Ok(swarm?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build())
}

/// An open Kademlia node holding a record for `national_id` and knowing
/// one made-up peer; prints its address and runs for [`SERVE_LIMIT`].
async fn serve(national_id: &str) -> Result<(), String> {
    let mut swarm = swarm(DEFAULT_TIMEOUT, kad::Mode::Server)?;
    let key = kad::RecordKey::new(&format!("{KEY_PREFIX}{national_id}"));
    swarm
        .behaviour_mut()
        .kad
        .store_mut()
        .put(kad::Record::new(
            key,
            b"an open directory's record".to_vec(),
        ))
        .map_err(|e| e.to_string())?;
    let other = PeerId::random();
    let nowhere: Multiaddr = "/ip4/127.0.0.1/tcp/9".parse().map_err(|e| format!("{e}"))?;
    swarm.behaviour_mut().kad.add_address(&other, nowhere);
    let listen: Multiaddr = "/ip4/127.0.0.1/tcp/0".parse().map_err(|e| format!("{e}"))?;
    swarm.listen_on(listen).map_err(|e| e.to_string())?;
    let local = *swarm.local_peer_id();
    let deadline = tokio::time::sleep(SERVE_LIMIT);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => return Ok(()),
            event = swarm.select_next_some() => {
                if let SwarmEvent::NewListenAddr { address, .. } = event {
                    println!("listening {address}/p2p/{local}");
                }
            }
        }
    }
}

async fn probe(args: &Args) -> Seen {
    let mut seen = Seen::default();
    let mut swarm = match swarm(args.timeout, kad::Mode::Client) {
        Ok(s) => s,
        Err(e) => {
            seen.errors.push(format!("cannot build the swarm: {e}"));
            return seen;
        }
    };
    let mut dial_addr = args.target.clone();
    dial_addr.pop();
    swarm
        .behaviour_mut()
        .kad
        .add_address(&args.peer, dial_addr.clone());
    if let Err(e) = swarm.dial(args.target.clone()) {
        seen.errors.push(format!("cannot dial: {e}"));
        return seen;
    }
    let deadline = Instant::now() + args.timeout * 3;
    let mut asked = false;
    let mut pending = 2u8;
    let key = kad::RecordKey::new(&format!("{KEY_PREFIX}{}", args.national_id));
    while pending > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(event) = tokio::time::timeout(left, swarm.select_next_some()).await else {
            seen.errors.push("no answer in time".to_owned());
            break;
        };
        match event {
            SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == args.peer => {
                seen.connected = true;
                if !asked {
                    asked = true;
                    swarm.behaviour_mut().kad.get_record(key.clone());
                    let target = args.find_peer.unwrap_or(*swarm.local_peer_id());
                    swarm.behaviour_mut().kad.get_closest_peers(target);
                }
            }
            // The probe knows only the directory node: any other peer it
            // dials, the directory node named.
            SwarmEvent::Dialing {
                peer_id: Some(peer),
                ..
            } if peer != args.peer => {
                seen.peers.insert(peer);
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                ..
            } if peer != args.peer => {}
            SwarmEvent::OutgoingConnectionError { error, .. } => {
                seen.errors.push(format!("cannot connect: {error}"));
                if !seen.connected {
                    break;
                }
            }
            SwarmEvent::Behaviour(ProbeEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) if peer_id == args.peer => {
                seen.kad_listed = info.protocols.iter().any(|p| p.as_ref() == KAD_PROTOCOL);
            }
            SwarmEvent::Behaviour(ProbeEvent::Kad(kad::Event::OutboundQueryProgressed {
                result,
                step,
                ..
            })) => {
                match result {
                    QueryResult::GetRecord(Ok(GetRecordOk::FoundRecord(r))) => {
                        seen.answered = true;
                        seen.records += 1;
                        if let Some(p) = r.peer.filter(|p| *p != args.peer) {
                            seen.peers.insert(p);
                        }
                    }
                    QueryResult::GetRecord(Ok(_)) => seen.answered = true,
                    QueryResult::GetRecord(Err(kad::GetRecordError::NotFound {
                        closest_peers,
                        ..
                    })) => {
                        // Also what a query gets when every peer failed.
                        seen.errors.push("get_value: not found".to_owned());
                        seen.peers
                            .extend(closest_peers.into_iter().filter(|p| *p != args.peer));
                    }
                    QueryResult::GetRecord(Err(e)) => seen.errors.push(format!("get_value: {e}")),
                    QueryResult::GetClosestPeers(Ok(ok)) => {
                        seen.answered |= ok.peers.iter().any(|p| p.peer_id == args.peer);
                        seen.peers.extend(
                            ok.peers
                                .iter()
                                .map(|p| p.peer_id)
                                .filter(|p| *p != args.peer),
                        );
                    }
                    QueryResult::GetClosestPeers(Err(GetClosestPeersError::Timeout {
                        peers,
                        ..
                    })) => {
                        seen.errors
                            .push("find_node: the request timed out".to_owned());
                        seen.answered |= peers.iter().any(|p| p.peer_id == args.peer);
                        seen.peers
                            .extend(peers.iter().map(|p| p.peer_id).filter(|p| *p != args.peer));
                    }
                    other => seen.errors.push(format!("unexpected answer: {other:?}")),
                }
                if step.last {
                    pending = pending.saturating_sub(1);
                }
            }
            _ => {}
        }
    }
    seen
}
