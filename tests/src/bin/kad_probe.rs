//! A plain libp2p node, with no Confrère credential, that asks a
//! directory node for a practitioner's record over Kademlia: what an
//! outsider who found a public node would try (tests/tests/reach_outsider.rs).
//!
//! ```text
//! kad-probe ADDR/p2p/PEER_ID NATIONAL_ID [--find-peer PEER_ID] [--timeout-secs N]
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
//! `records` counts the records returned, `peers` the peers named in the
//! FIND_NODE answer other than the directory node itself, `answered`
//! whether the directory node answered the FIND_NODE (or returned a
//! record), and
//! `kad_listed` whether its identify listed `/confrere/kad/1` (so the
//! questions were asked on a protocol it speaks). Exits 0 when it could
//! ask, 2 on bad arguments, 1 when it could not connect.

use std::time::{Duration, Instant};

use libp2p::futures::StreamExt;
use libp2p::kad::{self, store::MemoryStore, GetClosestPeersError, GetRecordOk, QueryResult};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, noise, tcp, yamux, Multiaddr, PeerId, StreamProtocol, SwarmBuilder};

/// The directory's Kademlia protocol.
const KAD_PROTOCOL: &str = "/confrere/kad/1";
/// The prefix of a directory key.
const KEY_PREFIX: &str = "/confrere/dir/v1/";
/// The identify protocol version Confrère nodes announce.
const IDENTIFY_VERSION: &str = "/confrere/id/1";
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
    peers: usize,
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
            self.connected, self.kad_listed, self.answered, self.records, self.peers
        )
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
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

async fn probe(args: &Args) -> Seen {
    let mut seen = Seen::default();
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
                config.set_query_timeout(args.timeout);
                let mut kad = kad::Behaviour::with_config(local, MemoryStore::new(local), config);
                kad.set_mode(Some(kad::Mode::Client));
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
    let mut swarm = match swarm {
        Ok(b) => b
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build(),
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
        let event = match tokio::time::timeout(left, swarm.select_next_some()).await {
            Ok(e) => e,
            Err(_) => {
                seen.errors.push("no answer in time".to_owned());
                break;
            }
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
                        if r.peer.is_some_and(|p| p != args.peer) {
                            seen.peers += 1;
                        }
                    }
                    QueryResult::GetRecord(Ok(_)) => seen.answered = true,
                    QueryResult::GetRecord(Err(kad::GetRecordError::NotFound {
                        closest_peers,
                        ..
                    })) => {
                        // Also what a query gets when every peer failed.
                        seen.errors.push("get_value: not found".to_owned());
                        seen.peers += closest_peers.iter().filter(|p| **p != args.peer).count();
                    }
                    QueryResult::GetRecord(Err(e)) => seen.errors.push(format!("get_value: {e}")),
                    QueryResult::GetClosestPeers(Ok(ok)) => {
                        seen.answered |= ok.peers.iter().any(|p| p.peer_id == args.peer);
                        seen.peers += ok.peers.iter().filter(|p| p.peer_id != args.peer).count();
                    }
                    QueryResult::GetClosestPeers(Err(GetClosestPeersError::Timeout {
                        peers,
                        ..
                    })) => {
                        seen.errors
                            .push("find_node: the request timed out".to_owned());
                        seen.answered |= peers.iter().any(|p| p.peer_id == args.peer);
                        seen.peers += peers.iter().filter(|p| p.peer_id != args.peer).count();
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
