//! `confrere run`: the daemon in the foreground.

use std::process::ExitCode;

use confrere_node::run::{run as run_node, DaemonError, RunOptions};
use confrere_node::store::StoreError;

use crate::cli::RunArgs;
use crate::error::{CliError, EXIT_OK};

/// Runs the daemon until SIGINT or SIGTERM.
pub(crate) fn run(args: &RunArgs) -> Result<ExitCode, CliError> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,libp2p=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let mut listen = Vec::new();
    for l in &args.listen {
        listen.push(l.parse().map_err(|e| {
            CliError::input(
                format!("--listen {l} is not a multiaddr: {e}"),
                "write it like /ip4/0.0.0.0/tcp/4001 or /ip4/127.0.0.1/udp/4001/quic-v1",
            )
        })?);
    }
    let mut bootstrap = Vec::new();
    for b in &args.bootstrap {
        bootstrap.push(confrere_node::config::parse_bootstrap(b).map_err(|e| {
            CliError::input(
                format!("--bootstrap {e}"),
                "give the bootstrap node's address as its `confrere status` prints it, \
                 ending in /p2p/PEER_ID",
            )
        })?);
    }
    crate::home::require_home(&args.home)?;
    let passphrase = crate::home::passphrase();
    crate::home::check_key_source(&args.home, passphrase.is_some())?;
    let opts = RunOptions {
        home: args.home.clone(),
        listen,
        mdns: !args.no_mdns,
        bootstrap,
        public: args.public,
        passphrase,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::refused(format!("cannot start the runtime: {e}"), "retry"))?;
    let home = args.home.display().to_string();
    rt.block_on(run_node(opts, |engine| {
        let id = engine.identity();
        eprintln!(
            "confrere: node of {} ({}) running; stop with Ctrl-C.",
            id.display_name(),
            id.national_id
        );
        for a in engine.net().listen_addrs() {
            eprintln!("  listening on {a}/p2p/{}", engine.net().local_peer_id());
        }
    }))
    .map_err(|e| match e {
        // The store's message names the home again; say it once.
        DaemonError::Store(StoreError::Locked { .. }) => CliError::refused(
            format!(
                "the node for {home} could not run: another process is using this home \
                 (is `confrere run` already running for it?)"
            ),
            format!(
                "`confrere status --home {home}` tells whether its daemon runs; stop the other \
                 process using this home first"
            ),
        ),
        e => {
            let hint = e.hint();
            CliError::refused(format!("the node for {home} could not run: {e}"), hint)
        }
    })?;
    Ok(ExitCode::from(EXIT_OK))
}
