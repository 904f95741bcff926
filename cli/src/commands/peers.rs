//! `confrere peers add|list|find|remove`: the node's address book, and
//! the directory by national id.

use std::process::ExitCode;

use confrere_node::api::model::{AddPeer, PeerInfo};

use crate::cli::{PeersAddArgs, PeersFindArgs, PeersListArgs, PeersRemoveArgs};
use crate::client::output::{clean, print_json, Table};
use crate::client::Client;
use crate::error::{CliError, EXIT_OK};

/// Runs `peers add`.
pub(crate) fn add(args: &PeersAddArgs) -> Result<ExitCode, CliError> {
    let multiaddr = args.multiaddr.trim();
    if !multiaddr.starts_with('/') {
        return Err(CliError::input(
            format!("not a multiaddr: {}", clean(multiaddr)),
            "give an address like /ip4/192.168.1.20/tcp/4100 (optionally ending in /p2p/PEER_ID)",
        ));
    }
    let client = Client::connect(&args.home.home)?;
    let peer = client.add_peer(&AddPeer {
        multiaddr: multiaddr.to_owned(),
    })?;
    if args.json {
        print_json(&peer)?;
    } else {
        outln!("Added {} to the address book.", clean(multiaddr));
    }
    match not_verified(&peer, multiaddr) {
        None => {
            if !args.json {
                print_verified(&peer);
            }
            Ok(ExitCode::from(EXIT_OK))
        }
        // The entry stays (with the JSON above): only the exit code and
        // stderr say the address did not lead to a verified node.
        Some(e) => Ok(e.report(false)),
    }
}

/// The error of an entry `peers add` could not verify through `multiaddr`
/// (none if it verified).
fn not_verified(peer: &PeerInfo, multiaddr: &str) -> Option<CliError> {
    match (&peer.last_error, &peer.national_id) {
        (None, Some(_)) => None,
        (Some(reason), _) => Some(CliError::refused(
            format!(
                "not verified: {} did not lead to a Confrère node this one accepts: {}",
                clean(multiaddr),
                clean(reason)
            ),
            "the entry is kept, and the daemon tries it again when it sends; check the address \
             and port with the colleague (their `confrere status` prints the full address), \
             that their node runs, and that no firewall blocks the port; `confrere peers remove` \
             removes the entry",
        )),
        (None, None) => Some(CliError::refused(
            format!("not verified: {} answered no session", clean(multiaddr)),
            "check the address with the colleague (their `confrere status` prints it)",
        )),
    }
}

fn print_verified(peer: &PeerInfo) {
    if let (Some(id), Some(name)) = (&peer.national_id, &peer.name) {
        outln!(
            "It is the node of {} ({}), verified {}.",
            clean(name),
            clean(id),
            clean(peer.last_seen.as_deref().unwrap_or("just now"))
        );
    }
}

/// Runs `peers list`.
pub(crate) fn list(args: &PeersListArgs) -> Result<ExitCode, CliError> {
    let client = Client::connect(&args.home.home)?;
    let peers = client.peers()?;
    if args.json {
        print_json(&peers)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    if peers.is_empty() {
        outln!("The address book is empty: add a colleague's node with `confrere peers add MULTIADDR`.");
        return Ok(ExitCode::from(EXIT_OK));
    }
    let dash = || "-".to_owned();
    let mut table = Table::new(&[
        "NATIONAL ID",
        "NAME",
        "LAST SEEN",
        "PEER ID",
        "ADDRESSES",
        "LAST ERROR",
    ]);
    for p in &peers {
        table.row(vec![
            p.national_id.clone().unwrap_or_else(dash),
            p.name.clone().unwrap_or_else(dash),
            p.last_seen.clone().unwrap_or_else(|| "never".to_owned()),
            p.peer_id.clone().unwrap_or_else(dash),
            if p.addrs.is_empty() {
                dash()
            } else {
                p.addrs.join(" ")
            },
            p.last_error.clone().unwrap_or_default(),
        ]);
    }
    table.print();
    Ok(ExitCode::from(EXIT_OK))
}

/// Runs `peers find`.
pub(crate) fn find(args: &PeersFindArgs) -> Result<ExitCode, CliError> {
    let client = Client::connect(&args.home.home)?;
    let records = client.find_peers(args.national_id.trim())?;
    if args.json {
        print_json(&records)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            outln!("");
        }
        let profession = match (&r.profession, r.profession_code) {
            (Some(p), _) => format!(" ({})", clean(p)),
            (None, Some(code)) => format!(" (profession {code})"),
            (None, None) => String::new(),
        };
        outln!(
            "{}{profession}, national id {}",
            clean(&r.name),
            clean(&r.national_id)
        );
        outln!("  Peer id       {}", clean(&r.peer_id));
        outln!("  Reachability  {}", clean(&r.reachability));
        if r.addresses.is_empty() {
            outln!("  Addresses     (none published)");
        }
        for (j, a) in r.addresses.iter().enumerate() {
            let label = if j == 0 { "Addresses" } else { "" };
            outln!("  {label:<12}  {}", clean(a));
        }
        outln!("  Published     {}", clean(&r.published_at));
        outln!("  Expires       {}", clean(&r.expires_at));
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// Runs `peers remove`.
pub(crate) fn remove(args: &PeersRemoveArgs) -> Result<ExitCode, CliError> {
    let key = args.key.trim();
    if key.is_empty() {
        return Err(CliError::input(
            "no PeerId or national id given",
            "`confrere peers list` shows the entries, with their PeerId and national id",
        ));
    }
    let client = Client::connect(&args.home.home)?;
    let removed = client.remove_peer(key)?;
    if args.json {
        print_json(&removed)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    for p in &removed {
        let who = match (&p.name, &p.national_id) {
            (Some(name), Some(id)) => format!("the node of {} ({})", clean(name), clean(id)),
            _ => "a node not verified yet".to_owned(),
        };
        let peer = p
            .peer_id
            .as_deref()
            .map(clean)
            .unwrap_or_else(|| "-".to_owned());
        outln!("Removed {who}, PeerId {peer}, from the address book.");
    }
    Ok(ExitCode::from(EXIT_OK))
}
