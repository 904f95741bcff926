//! `confrere-bench`: measures Confrère on this machine against what an IT
//! person would otherwise use (scp) and against the machine's own limits,
//! and prints one table (`--json`: one JSON document). See issue 6 and
//! `docs/performance.md`.
//!
//! It sets up everything it measures on loopback, in a throwaway directory
//! under the system's temporary directory (or `--dir DIR`): a TEST PKI,
//! cards and homes made with the `confrere` binary (`pki init-test`,
//! `pki issue-test`, `init`), daemons (`confrere run --no-mdns --listen`
//! on free 127.0.0.1 ports), colleagues' nodes added, consents granted;
//! and an sshd of its own for scp. Every figure is the median of `--runs`
//! runs (memory: the highest peak), with its target and whether it is met.
//!
//! | figure | how |
//! |---|---|
//! | bulk throughput | `--size` of random bytes, `confrere send --wait` node to node, against scp (default cipher and aes256-gcm) of the same file to the loopback sshd |
//! | crypto ceiling | AES-256-GCM seal with `ring` on 64 KiB chunks, one core, in-process |
//! | memory | both daemons' `VmHWM` during the bulk sends, and during one `--big-size` send on fresh daemons |
//! | session set-up | `--dials` dials to a `VerifiedPeer`, in-process, each over a fresh connection |
//! | small referral | `--referrals` sends of a letter and a 1 MiB PDF with `send --wait` |
//! | ledger | durable appends with one appender (and, beside it, eight at once); `verify_store` of a `--ledger-entries` ledger |
//! | revocation fan-out | a consent shared with `--fanout` nodes, revoked, until every erasure receipt is in |
//! | directory | `--nodes` in-process nodes joined through 3 bootstrap nodes, `--lookups` lookups of random national ids before and after a quarter of them stop; memory per node |
//!
//! Progress goes to stderr, the table to stdout. The exit status is 0 when
//! every figure was measured or knowingly not (a target missed is a
//! result, not an error), 1 when a measurement failed, 2 on bad usage.
//! Every process it starts is stopped at the end, on error, and on
//! SIGINT/SIGTERM.

mod api;
mod bulk;
mod ceiling;
mod directory;
mod directory_rows;
mod figures;
mod fleet;
mod ledger;
mod nodes;
mod procs;
mod referrals;
mod report;
mod scp;
mod sessions;
mod table;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use confrere_protocol::ledger::SignatureCheck;
use serde_json::json;

use crate::figures::{count, median, parse_size, percentile, size, Outcome};
use crate::nodes::{Card, Confrere, Pki};
use crate::procs::Procs;
use crate::report::Results;
use crate::table::Caption;

/// A stage that `--skip` leaves out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Stage {
    /// The crypto ceiling.
    Crypto,
    /// The ledger figures.
    Ledger,
    /// Session set-up.
    Session,
    /// Small referrals.
    Referral,
    /// The revocation fan-out.
    Fanout,
    /// Bulk throughput (and the memory of its sends).
    Bulk,
    /// scp (the bulk row's peer figure).
    Scp,
    /// The big send's memory.
    Big,
    /// The directory at scale: lookups among `--nodes` nodes, churn.
    Directory,
}

/// Measures Confrère on this machine and prints one table: bulk throughput
/// against scp, the crypto ceiling, memory, session set-up, small
/// referrals, the ledger and the revocation fan-out.
#[derive(Debug, Parser)]
#[command(
    name = "confrere-bench",
    version,
    after_help = "\
Everything runs on loopback, in a temporary directory (or --dir). The full run
writes files of --size and --big-size and the nodes' copies of them: it needs
about 2 × --runs × --size + 3 × --big-size of free disk.

Examples:
  scripts/bench.sh                      the full table (release build)
  confrere-bench --quick                tiny sizes, one run (what CI checks)
  confrere-bench --runs 5 --json        five runs, one JSON document
  confrere-bench --skip bulk,big        everything but the large sends
  confrere-bench --only directory --nodes 500
                                        the directory alone, with 500 nodes"
)]
struct Args {
    /// Runs per figure; each figure is their median [default: 3; --quick: 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    runs: Option<u32>,
    /// Size of the bulk dossier, e.g. 1GiB, 256MiB [default: 1GiB; --quick: 4MiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    size: Option<u64>,
    /// Size of the big send measured for memory [default: 4GiB; --quick: 8MiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    big_size: Option<u64>,
    /// Colleagues a revoked consent was shared with [default: 20; --quick: 3].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=200))]
    fanout: Option<u32>,
    /// Entries of the ledger verified [default: 1000000; --quick: 2000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(2..=100_000_000))]
    ledger_entries: Option<u64>,
    /// Durable appends timed per run [default: 5000; --quick: 200].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    ledger_appends: Option<u64>,
    /// Dials timed per run for the session set-up [default: 200; --quick: 20].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    dials: Option<u32>,
    /// Small referrals timed per run [default: 20; --quick: 3].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    referrals: Option<u32>,
    /// Nodes of the directory stage, 3 of them bootstrap nodes [default: 200; --quick: 12].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(4..=5000))]
    nodes: Option<u32>,
    /// Lookups per round of the directory stage [default: 1000; --quick: 40].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    lookups: Option<u32>,
    /// Tiny sizes and one run, for CI: the harness works, the figures mean little.
    #[arg(long)]
    quick: bool,
    /// Print the table as one JSON document.
    #[arg(long)]
    json: bool,
    /// Work in DIR (made if missing; must be empty) and keep the logs there;
    /// the large stages still remove their nodes' homes and files.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Do not install openssh-server when sshd is missing.
    #[arg(long)]
    no_install: bool,
    /// The confrere binary [default: the one beside this binary, or on PATH].
    #[arg(long, value_name = "PATH")]
    confrere: Option<PathBuf>,
    /// Stages to leave out (comma-separated).
    #[arg(long, value_name = "STAGE", value_delimiter = ',', value_enum)]
    skip: Vec<Stage>,
    /// The only stages to run (comma-separated); the table shows only their rows.
    #[arg(
        long,
        value_name = "STAGE",
        value_delimiter = ',',
        value_enum,
        conflicts_with = "skip"
    )]
    only: Vec<Stage>,
}

/// The settings of a run, `--quick` and the defaults applied.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Runs per figure.
    pub runs: usize,
    /// Bulk dossier size.
    pub size: u64,
    /// Big dossier size.
    pub big_size: u64,
    /// Fan-out width.
    pub fanout: u32,
    /// Ledger entries verified.
    pub ledger_entries: u64,
    /// Durable appends per run.
    pub ledger_appends: u64,
    /// Dials per run.
    pub dials: usize,
    /// Small referrals per run.
    pub referrals: usize,
    /// Nodes of the directory stage.
    pub nodes: usize,
    /// Lookups per round of the directory stage.
    pub lookups: usize,
    /// Tiny sizes.
    pub quick: bool,
    /// May install openssh-server.
    pub no_install: bool,
    /// Whether scp is measured.
    pub scp: bool,
    /// The stages left out.
    pub skip: Vec<Stage>,
}

impl Settings {
    fn from_args(a: &Args) -> Settings {
        let q = a.quick;
        let skip: Vec<Stage> = if a.only.is_empty() {
            a.skip.clone()
        } else {
            Stage::value_variants()
                .iter()
                .filter(|s| !a.only.contains(s))
                .copied()
                .collect()
        };
        let pick =
            |v: Option<u64>, full: u64, quick: u64| v.unwrap_or(if q { quick } else { full });
        let to_usize = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        Settings {
            runs: to_usize(pick(a.runs.map(u64::from), 3, 1)),
            size: pick(a.size, 1 << 30, 4 << 20),
            big_size: pick(a.big_size, 4 << 30, 8 << 20),
            fanout: u32::try_from(pick(a.fanout.map(u64::from), 20, 3)).unwrap_or(20),
            ledger_entries: pick(a.ledger_entries, 1_000_000, 2_000),
            ledger_appends: pick(a.ledger_appends, 5_000, 200),
            dials: to_usize(pick(a.dials.map(u64::from), 200, 20)),
            referrals: to_usize(pick(a.referrals.map(u64::from), 20, 3)),
            nodes: to_usize(pick(a.nodes.map(u64::from), 200, 12)),
            lookups: to_usize(pick(a.lookups.map(u64::from), 1000, 40)),
            quick: q,
            no_install: a.no_install,
            scp: !skip.contains(&Stage::Scp),
            skip,
        }
    }

    fn runs(&self, stage: Stage) -> bool {
        !self.skip.contains(&stage)
    }
}

/// What the stages share.
pub struct Ctx {
    /// The `confrere` binary and the process registry.
    pub confrere: Confrere,
    /// The working directory.
    pub dir: PathBuf,
    /// Where the daemons' logs go.
    pub logs: PathBuf,
    /// The TEST PKI.
    pub pki: Pki,
    /// The practitioners' cards: the sharer's first.
    pub cards: Vec<Card>,
    /// The settings.
    pub s: Settings,
}

fn find_confrere(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = given {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(format!("--confrere {}: no such file", p.display()))
        };
    }
    let name = format!("confrere{}", std::env::consts::EXE_SUFFIX);
    if let Some(beside) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(&name)))
        .filter(|p| p.is_file())
    {
        return Ok(beside);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(&name))
        .find(|p| p.is_file())
        .ok_or_else(|| "cannot find the confrere binary: build it (cargo build --release -p confrere) or give --confrere PATH".into())
}

/// Makes the working directory: `--dir` (must be new or empty) or a
/// temporary one, removed at the end.
fn work_dir(given: Option<&Path>) -> Result<(PathBuf, Option<tempfile::TempDir>), String> {
    match given {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| format!("cannot make {}: {e}", d.display()))?;
            let empty = std::fs::read_dir(d)
                .map_err(|e| format!("cannot read {}: {e}", d.display()))?
                .next()
                .is_none();
            if !empty {
                return Err(format!(
                    "{} is not empty: give --dir a new or empty directory",
                    d.display()
                ));
            }
            let d = d
                .canonicalize()
                .map_err(|e| format!("cannot resolve {}: {e}", d.display()))?;
            Ok((d, None))
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("confrere-bench-")
                .tempdir()
                .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
            Ok((t.path().to_path_buf(), Some(t)))
        }
    }
}

/// Makes the TEST PKI and `n` cards (issued on every core: RSA key
/// generation is slow).
fn make_cards(confrere: &Confrere, dir: &Path, n: usize) -> Result<(Pki, Vec<Card>), String> {
    eprintln!("[set-up] a TEST PKI and {n} practitioners' cards");
    let pki = Pki::init(confrere, &dir.join("pki"))?;
    let threads = std::thread::available_parallelism()
        .map_or(1, |p| p.get())
        .min(n.max(1));
    let cards = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let pki = &pki;
                s.spawn(move || -> Result<Vec<(usize, Card)>, String> {
                    (t..n)
                        .step_by(threads)
                        .map(|i| {
                            let number = u32::try_from(i).unwrap_or(u32::MAX);
                            pki.issue(confrere, number, &dir.join(format!("cards/{i}")))
                                .map(|c| (i, c))
                        })
                        .collect()
                })
            })
            .collect();
        let mut all = Vec::new();
        for w in workers {
            all.extend(
                w.join()
                    .map_err(|_| "a card-issuing thread panicked".to_owned())??,
            );
        }
        all.sort_by_key(|(i, _)| *i);
        Ok::<_, String>(all.into_iter().map(|(_, c)| c).collect::<Vec<_>>())
    })?;
    Ok((pki, cards))
}

fn ceiling_stage(s: &Settings) -> Result<Vec<f64>, String> {
    eprintln!("[crypto] AES-256-GCM seal on one core, {} run(s)", s.runs);
    let each = Duration::from_millis(if s.quick { 100 } else { 1000 });
    (0..s.runs)
        .map(|_| ceiling::seal_throughput(each))
        .collect()
}

fn ledger_stages(ctx_dir: &Path, s: &Settings, r: &mut Results) {
    if !s.runs(Stage::Ledger) {
        return;
    }
    eprintln!(
        "[ledger] {} run(s) of {} durable appends",
        s.runs,
        count(s.ledger_appends as f64)
    );
    r.appends = Some(
        ledger::Appends::open(&ctx_dir.join("ledger-appends")).and_then(|mut a| {
            let mut one = Vec::new();
            let mut many = Vec::new();
            for _ in 0..s.runs {
                one.push(a.rate(s.ledger_appends)?);
                many.push(a.rate_concurrent(s.ledger_appends, ledger::CONCURRENT_APPENDERS)?);
            }
            Ok((one, many))
        }),
    );
    eprintln!(
        "[ledger] writing a {}-entry ledger into a store",
        count(s.ledger_entries as f64)
    );
    let started = Instant::now();
    r.verify = Some(
        ledger::BigLedger::build(&ctx_dir.join("ledger-verify"), s.ledger_entries).and_then(|big| {
            eprintln!(
                "[ledger] {} entries written in {:.1} s; {} run(s) of verify (every signature, then anchored)",
                count(big.entries() as f64),
                started.elapsed().as_secs_f64(),
                s.runs
            );
            let mut every = Vec::new();
            let mut quick = Vec::new();
            for _ in 0..s.runs {
                every.push(big.verify_rate(SignatureCheck::Every)?);
                quick.push(big.verify_rate(SignatureCheck::Anchored)?);
            }
            Ok((every, quick))
        }),
    );
    let _ = std::fs::remove_dir_all(ctx_dir.join("ledger-verify"));
}

fn session_stage(ctx: &Ctx) -> Result<Vec<(f64, f64)>, String> {
    eprintln!(
        "[session] {} run(s) of {} dials, each over a fresh connection",
        ctx.s.runs, ctx.s.dials
    );
    let dir = ctx.dir.join("session");
    let homes = [dir.join("dialler"), dir.join("answerer")];
    for (home, card) in homes.iter().zip(&ctx.cards) {
        ctx.pki.enroll(&ctx.confrere, card, home)?;
    }
    let mut runs = Vec::new();
    for _ in 0..ctx.s.runs {
        let times = sessions::dial_times(&homes[0], &homes[1], ctx.s.dials)?;
        let p50 = median(&times).ok_or("no dial")?;
        let p99 = percentile(&times, 99.0).ok_or("no dial")?;
        runs.push((p50, p99));
    }
    Ok(runs)
}

fn caption(s: &Settings) -> Caption {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = ceiling::cpu_model().unwrap_or_else(|| "unknown CPU".into());
    let aes = match ceiling::cpu_has_aes() {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    let text = format!(
        "Confrère {} benchmark{}: medians of {} run(s); bulk {}, big {}, {}-node fan-out, {}-entry ledger, {}-node directory; {cpus} CPU(s), {model}, AES instructions: {aes}",
        env!("CARGO_PKG_VERSION"),
        if s.quick { " (--quick: tiny sizes)" } else { "" },
        s.runs,
        size(s.size),
        size(s.big_size),
        s.fanout,
        count(s.ledger_entries as f64),
        s.nodes,
    );
    Caption {
        text,
        json: json!({
            "version": env!("CARGO_PKG_VERSION"),
            "quick": s.quick,
            "runs": s.runs,
            "size_bytes": s.size,
            "big_size_bytes": s.big_size,
            "fanout": s.fanout,
            "ledger_entries": s.ledger_entries,
            "ledger_appends": s.ledger_appends,
            "dials": s.dials,
            "referrals": s.referrals,
            "directory_nodes": s.nodes,
            "directory_lookups": s.lookups,
            "cpus": cpus,
            "cpu_model": model,
            "cpu_aes": ceiling::cpu_has_aes(),
        }),
    }
}

fn measure_all(procs: &Procs, confrere_bin: PathBuf, dir: &Path, s: &Settings) -> Results {
    let mut r = Results {
        ceiling: None,
        sessions: None,
        appends: None,
        verify: None,
        fleet: referrals::FleetFigures {
            small: None,
            fanout: None,
        },
        bulk: None,
        big: None,
        directory: None,
    };
    // First, while this process holds nothing else: its memory per node
    // is the growth of this process's resident set.
    if s.runs(Stage::Directory) {
        r.directory = Some(directory::measure(
            dir,
            directory::Plan {
                nodes: s.nodes,
                lookups: s.lookups,
                ready_limit: directory::READY_LIMIT / if s.quick { 3 } else { 1 },
                round_limit: directory::ROUND_LIMIT / if s.quick { 3 } else { 1 },
            },
        ));
    }
    if s.runs(Stage::Crypto) {
        r.ceiling = Some(ceiling_stage(s));
    }
    ledger_stages(dir, s, &mut r);
    let need_nodes = [
        Stage::Session,
        Stage::Referral,
        Stage::Fanout,
        Stage::Bulk,
        Stage::Big,
    ]
    .iter()
    .any(|st| s.runs(*st));
    if !need_nodes {
        return r;
    }
    let confrere = Confrere {
        bin: confrere_bin,
        procs: procs.clone(),
    };
    let logs = dir.join("logs");
    let cards = std::fs::create_dir_all(&logs)
        .map_err(|e| format!("cannot make {}: {e}", logs.display()))
        .and_then(|()| make_cards(&confrere, dir, (s.fanout as usize + 1).max(2)));
    let (pki, cards) = match cards {
        Ok(pc) => pc,
        Err(e) => {
            let why = format!("set-up failed: {e}");
            r.sessions = s.runs(Stage::Session).then(|| Err(why.clone()));
            r.fleet.small = s.runs(Stage::Referral).then(|| Err(why.clone()));
            r.fleet.fanout = s.runs(Stage::Fanout).then(|| Err(why.clone()));
            r.bulk = s.runs(Stage::Bulk).then(|| Err(why.clone()));
            r.big = s.runs(Stage::Big).then(|| Err(why.clone()));
            return r;
        }
    };
    let ctx = Ctx {
        confrere,
        dir: dir.to_path_buf(),
        logs,
        pki,
        cards,
        s: s.clone(),
    };
    if s.runs(Stage::Session) {
        r.sessions = Some(session_stage(&ctx));
    }
    if s.runs(Stage::Referral) || s.runs(Stage::Fanout) {
        r.fleet = referrals::measure(&ctx, s.runs(Stage::Referral), s.runs(Stage::Fanout));
    }
    if s.runs(Stage::Bulk) {
        r.bulk = Some(bulk::measure_bulk(&ctx));
    }
    if s.runs(Stage::Big) {
        r.big = Some(bulk::measure_big(&ctx));
    }
    r
}

fn main() -> ExitCode {
    let args = Args::parse();
    let s = Settings::from_args(&args);
    let confrere_bin = match find_confrere(args.confrere.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (dir, tmp) = match work_dir(args.dir.as_deref()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let procs = Procs::default();
    if tmp.is_some() {
        procs.remove_on_interrupt(dir.clone());
    }
    procs.stop_on_interrupt();
    let started = Instant::now();
    eprintln!(
        "confrere-bench: working in {} with {}",
        dir.display(),
        confrere_bin.display()
    );
    let results = measure_all(&procs, confrere_bin, &dir, &s);
    procs.stop_all();
    procs.keep_dirs();
    let mut rows = report::rows(&s, &results);
    if !args.only.is_empty() {
        // The rows of the stages left out say nothing worth printing.
        rows.retain(
            |r| !matches!(&r.outcome, Outcome::NotMeasured(why) if why.starts_with("skipped")),
        );
    }
    let caption = caption(&s);
    if args.json {
        let mut doc = table::json_document(&caption, &rows);
        if let Some(Ok(d)) = &results.directory {
            doc["directory"] = d.to_json();
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_else(|_| doc.to_string())
        );
    } else {
        print!("{}", table::text(&caption, &rows));
    }
    eprintln!(
        "confrere-bench: done in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    if tmp.is_none() {
        eprintln!("the logs are in {}", dir.join("logs").display());
    }
    drop(tmp);
    if rows.iter().any(|r| matches!(r.outcome, Outcome::Failed(_))) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
