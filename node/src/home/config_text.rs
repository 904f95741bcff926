//! The commented `config.toml` `confrere init` writes into a new home.

use confrere_protocol::RevocationCheck;

/// The commented `config.toml` of a new home (read back by [`Config`]).
pub(super) fn config_text(
    name: &str,
    national_id: &str,
    peer_id: &str,
    revocation: RevocationCheck,
) -> String {
    format!(
        "# Confrère node configuration, written by `confrere init`.\n\
         # The node speaks for {name} (national id {id}).\n\
         #\n\
         # Every setting the node reads is below, with its default. A setting\n\
         # left out takes its default. The file is TOML: `key = value` under\n\
         # its [section], text in double quotes, `#` starts a comment. The\n\
         # daemon reads it when it starts (`confrere run`): restart it after\n\
         # a change ([retention] is read again at each purge). An unknown key\n\
         # or a bad value stops the daemon (and any command that opens this\n\
         # home) with its line; nothing is guessed.\n\
         # Commands find this home through --home DIR or CONFRERE_HOME.\n\
         \n\
         [identity]\n\
         # Informative only: the node does not read this section. Its identity\n\
         # is the signed credential (credential.bin) made from the card\n\
         # certificate; editing these lines changes nothing.\n\
         national_id = \"{id}\"\n\
         # This node's libp2p PeerId.\n\
         peer_id = \"{peer}\"\n\
         \n\
         [trust]\n\
         # Check every peer certificate against its CA's CRL (trust/crls.pem).\n\
         # Import fresh CRLs before they go stale; turning this off is for tests only.\n\
         # Values: true or false.\n\
         # Default: true (`confrere init --no-revocation-check` writes false).\n\
         revocation_check = {rev}\n\
         # Certificate policies a peer's card certificate must carry (one of),\n\
         # as OIDs in double quotes; empty accepts any policy of the trusted PKI.\n\
         # Example, the IGC-Santé TEST policy:\n\
         #   policies = [\"1.2.250.1.213.1.7.2.1.1.1.1\"]\n\
         # Default: [].\n\
         policies = []\n\
         \n\
         [api]\n\
         # TCP port of the local API on 127.0.0.1; 0 lets the system choose one\n\
         # (the daemon writes it to api.json for scripts; the command line\n\
         # talks to the daemon over api.sock in this home).\n\
         # A fixed port (1-65535) must be free, or the daemon does not start.\n\
         # Default: 0.\n\
         port = 0\n\
         \n\
         [ui]\n\
         # The web inbox (`confrere ui`): a session ends after this many minutes\n\
         # without a page asked for. From 1 to 1440. Default: 15.\n\
         idle_minutes = 15\n\
         \n\
         [retention]\n\
         # Dossiers are kept this many years after the last event about them\n\
         # (French rule for medical records: 20 years); `confrere purge` erases\n\
         # those past it and records the purge in the ledger.\n\
         # From 0 to 200. Default: 20.\n\
         years = 20\n\
         \n\
         [network]\n\
         # Addresses to listen on for colleagues' nodes, as multiaddrs, when\n\
         # `confrere run` is given no --listen; empty listens on every\n\
         # interface, TCP and QUIC, on a port the system chooses.\n\
         # Example: listen = [\"/ip4/0.0.0.0/tcp/4001\", \"/ip4/0.0.0.0/udp/4001/quic-v1\"]\n\
         # Default: [].\n\
         listen = []\n\
         # Bootstrap nodes: public Confrère nodes (run with `--public` by a\n\
         # practice, a group or a regional health network) through which this\n\
         # node joins the directory where colleagues are found by national id,\n\
         # and which relay for it when it sits behind a NAT. Each is written as\n\
         # its address and PeerId, as the bootstrap node's `confrere status`\n\
         # prints it: a multiaddr ending in /p2p/PEER_ID; /dns4, /dns6 and\n\
         # /dns names work. `confrere run --bootstrap` adds more.\n\
         #   bootstrap = [\"{boot}\"]\n\
         # Default: [] (colleagues are found only on the local network and in\n\
         # the address book).\n\
         bootstrap = []\n\
         # Serve as a public node: directory server, bootstrap node and relay\n\
         # for other practitioners' nodes. Only for a machine other nodes can\n\
         # dial (a public address, or a port forwarded to it). Also\n\
         # `confrere run --public`. Values: true or false. Default: false.\n\
         public = false\n\
         # Addresses other nodes can dial this node at, announced as they are:\n\
         # a port forwarded by the router, a dynamic-DNS name. Without them the\n\
         # node learns its public address from other nodes (AutoNAT).\n\
         #   external = [\"/dns4/cabinet.example.org/tcp/4001\"]\n\
         # Default: [].\n\
         external = []\n\
         \n\
         [transfers]\n\
         # What a colleague's unfinished transfers to this node may hold: a\n\
         # transfer is unfinished from its offer until its last chunk arrives.\n\
         # Past these, a new offer from that colleague is refused for now (its\n\
         # node tries again later). From 1 to 64. Defaults: 4 and 16.\n\
         unfinished_per_sender = 4\n\
         unfinished_gib_per_sender = 16\n\
         # Days after its first offer when an unfinished transfer is erased\n\
         # (key first, then the chunks; the log says so). From 1 to 365.\n\
         # Default: 7.\n\
         unfinished_expiry_days = 7\n\
         \n\
         [crl]\n\
         # The daemon fetches each CA's CRL from the http:// and https://\n\
         # distribution points its certificates name (ldap:// ones are\n\
         # ignored), ahead of the CRL's nextUpdate and again after a failure\n\
         # (1 minute, doubling up to 1 hour). Off, only `confrere crl update`\n\
         # and `confrere crl import` bring new CRLs. Values: true or false.\n\
         # Default: true.\n\
         fetch = true\n\
         # More URLs to fetch CRLs from (a PKI naming no HTTP point, a local\n\
         # mirror); each CRL fetched is verified and taken for the CA that\n\
         # signed it. At most 32.\n\
         #   urls = [\"http://crl.example.org/ac-personnes.crl\"]\n\
         # Default: [].\n\
         urls = []\n\
         # An HTTP proxy for the fetches. Without it the daemon uses the\n\
         # ALL_PROXY / HTTPS_PROXY / HTTP_PROXY variables of its\n\
         # environment (NO_PROXY is not read).\n\
         #   proxy = \"http://proxy.example.org:3128\"\n\
         \n\
         [relay]\n\
         # Read only by a public node ([network] public): the caps it keeps as a\n\
         # relay. A relay serves verified practitioners' nodes only and carries\n\
         # their end-to-end encrypted traffic (never readable to it); a circuit\n\
         # past its time or size is closed, and the transfer resumes.\n\
         # Nodes holding a slot at once (1 to 10000), slots per node (1 to 64).\n\
         # Defaults: 256 and 4.\n\
         max_reservations = 256\n\
         max_reservations_per_peer = 4\n\
         # Circuits open at once (1 to 10000), per node at either end (1 to 256).\n\
         # Defaults: 64 and 8.\n\
         max_circuits = 64\n\
         max_circuits_per_peer = 8\n\
         # Longest a circuit stays open, in minutes (1 to 1440), and most MiB it\n\
         # carries both ways (1 to 1048576). Defaults: 120 and 8192.\n\
         max_circuit_minutes = 120\n\
         max_circuit_mib = 8192\n",
        name = comment_line(name),
        id = toml_escape(national_id),
        peer = toml_escape(peer_id),
        rev = revocation == RevocationCheck::Required,
        boot = crate::config::BOOTSTRAP_EXAMPLE,
    )
}

fn toml_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c if c.is_control() => vec![' '],
            c => vec![c],
        })
        .collect()
}

/// Text for a comment: on one line.
fn comment_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    #[test]
    fn the_config_init_writes_is_valid_and_holds_the_defaults() {
        for revocation in [RevocationCheck::Required, RevocationCheck::Off] {
            let text = config_text(
                "Dr \"Jo\" # O'Brien\nline",
                "810000000001",
                "12D3KooWq\"#x",
                revocation,
            );
            let c = Config::parse(&text, Path::new("config.toml")).unwrap();
            assert_eq!(
                c.trust.revocation_check,
                revocation == RevocationCheck::Required
            );
            assert!(c.trust.policies.is_empty());
            assert_eq!(c.api.port, 0);
            assert_eq!(c.retention.years, crate::config::DEFAULT_RETENTION_YEARS);
            assert!(c.network.listen.is_empty());
            assert!(c.network.bootstrap.is_empty());
            assert!(!c.network.public);
            assert!(c.network.external.is_empty());
            assert_eq!(c.relay, crate::config::RelaySection::default());
            assert_eq!(c.identity.national_id.as_deref(), Some("810000000001"));
            assert_eq!(c.identity.peer_id.as_deref(), Some("12D3KooWq\"#x"));
        }
    }

    #[test]
    fn the_commented_examples_parse_when_uncommented() {
        let text = config_text("A", "810000000001", "p", RevocationCheck::Required);
        let uncommented: String = text
            .lines()
            .map(|l| {
                match l
                    .strip_prefix("#   ")
                    .or_else(|| l.strip_prefix("# Example: "))
                {
                    Some(example) if example.contains(" = ") => format!("{example}\n"),
                    _ if [
                        "policies = ",
                        "listen = ",
                        "bootstrap = ",
                        "external = ",
                        "urls = ",
                    ]
                    .iter()
                    .any(|k| l.starts_with(k)) =>
                    {
                        String::new()
                    }
                    _ => format!("{l}\n"),
                }
            })
            .collect();
        let c = Config::parse(&uncommented, Path::new("config.toml")).unwrap();
        assert_eq!(c.trust.policies, vec!["1.2.250.1.213.1.7.2.1.1.1.1"]);
        assert_eq!(c.network.listen.len(), 2);
        assert_eq!(
            c.network.bootstrap[0].to_string(),
            crate::config::BOOTSTRAP_EXAMPLE
        );
        assert_eq!(c.network.external.len(), 1);
        assert_eq!(c.crl.urls, vec!["http://crl.example.org/ac-personnes.crl"]);
        assert_eq!(
            c.crl.proxy.as_deref(),
            Some("http://proxy.example.org:3128")
        );
    }
}
