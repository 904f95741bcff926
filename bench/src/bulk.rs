//! Bulk throughput and memory: a dossier of random bytes (`--size`, made
//! once) sent node to node on loopback, against scp of the same file to a
//! loopback sshd in the same run; then one `--big-size` send on fresh
//! daemons.
//!
//! A send is timed from starting `confrere send --wait` until it returns:
//! the sender has sealed the file into its outbox, the receiver holds it
//! in its inbox and its signed receipt is back. Meanwhile the sender's
//! outbox is polled (every 20 ms) to see when the dossier is sealed into
//! it, which splits the time into sealing and delivering. The dossier is then checked
//! in the receiver's `inbox --json`. Around each send, both daemons' peak
//! resident set size (`VmHWM`) is reset (`/proc/PID/clear_refs`) and read.
//!
//! Each stage's daemons are stopped and their homes removed at its end,
//! with the dossier file: they hold gigabytes.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ring::rand::{SecureRandom, SystemRandom};

use crate::figures::{mib_per_s, size};
use crate::nodes::{cpu_seconds, peak_rss, practice, reset_peak_rss, Daemon};
use crate::scp::{Sshd, GCM};
use crate::Ctx;

/// Bound on one send (a slow disk and a big dossier).
const SEND_LIMIT: Duration = Duration::from_secs(3600);

/// What one send measured.
struct Sent {
    /// From starting `send --wait` until it returned.
    elapsed: Duration,
    /// From starting it until the dossier was in the sender's outbox (sealed).
    sealed: Option<Duration>,
    /// Both daemons' peaks.
    peaks: Peaks,
    /// Whether the peaks were reset before the send.
    reset: bool,
    /// CPU seconds both daemons used during the send.
    cpu: Cpu,
}

/// CPU seconds (user and system) of both daemons during one send.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cpu {
    /// The sender's.
    pub sender: Option<f64>,
    /// The receiver's.
    pub receiver: Option<f64>,
}

/// Peak memory of both daemons during one send, in bytes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Peaks {
    /// The sender's.
    pub sender: Option<u64>,
    /// The receiver's.
    pub receiver: Option<u64>,
}

/// What the bulk stage measured.
pub(crate) struct BulkFigures {
    /// Confrère, MiB/s per run.
    pub confrere: Result<Vec<f64>, String>,
    /// scp with its default cipher, MiB/s per run.
    pub scp_default: Result<Vec<f64>, String>,
    /// scp -c aes256-gcm@openssh.com, MiB/s per run.
    pub scp_gcm: Result<Vec<f64>, String>,
    /// Seconds per run until the dossier was sealed into the outbox.
    pub sealing: Vec<f64>,
    /// Peaks per run.
    pub peaks: Vec<Peaks>,
    /// Whether the peaks could be reset before each send.
    pub reset: bool,
    /// CPU time per run.
    pub cpu: Vec<Cpu>,
}

/// What the big send measured.
pub(crate) struct BigFigures {
    /// Peak memory during the send.
    pub peaks: Peaks,
    /// Its throughput, MiB/s.
    pub rate: f64,
    /// Seconds until it was sealed into the outbox.
    pub sealing: Option<f64>,
    /// Whether the peaks could be reset before the send.
    pub reset: bool,
}

/// Free space in the file system of `dir`, in bytes (`df -Pk`).
fn free_space(dir: &Path) -> Option<u64> {
    let out = Command::new("df").arg("-Pk").arg(dir).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let kib: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

fn check_space(dir: &Path, need: u64) -> Result<(), String> {
    match free_space(dir) {
        Some(free) if free < need => Err(format!(
            "{} free in {}, {} needed",
            size(free),
            dir.display(),
            size(need)
        )),
        _ => Ok(()),
    }
}

/// Writes `len` random bytes to `path`: a fast generator (SplitMix64)
/// seeded from the system's randomness, so nothing compresses.
pub(crate) fn write_random(path: &Path, len: u64) -> Result<(), String> {
    let mut seed = [0u8; 8];
    SystemRandom::new()
        .fill(&mut seed)
        .map_err(|_| "no system randomness".to_owned())?;
    let mut state = u64::from_le_bytes(seed);
    let file =
        fs::File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            word.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        let n = usize::try_from(left.min(block.len() as u64)).unwrap_or(block.len());
        out.write_all(&block[..n])
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        left -= n as u64;
    }
    out.flush()
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A sender and a receiver on fresh homes under `DIR/NAME`, the
/// receiver's node added to the sender's, and a consent to share with it.
struct Pair {
    sender: Daemon,
    receiver: Daemon,
    consent: String,
    dir: PathBuf,
}

impl Pair {
    fn start(ctx: &Ctx, name: &str) -> Result<Pair, String> {
        let dir = ctx.dir.join(name);
        let (card_s, card_r) = (&ctx.cards[0], &ctx.cards[1]);
        let sender = practice(
            &ctx.confrere,
            &ctx.pki,
            card_s,
            &dir,
            &format!("{name}-sender"),
            &ctx.logs,
        )?;
        let pair = practice(
            &ctx.confrere,
            &ctx.pki,
            card_r,
            &dir,
            &format!("{name}-receiver"),
            &ctx.logs,
        )
        .and_then(|receiver| {
            sender.add_peer(&ctx.confrere, &receiver)?;
            let consent = sender.grant_consent(&ctx.confrere, &[&receiver.national_id]);
            match consent {
                Ok(consent) => Ok((receiver, consent)),
                Err(e) => {
                    receiver.stop(&ctx.confrere.procs);
                    Err(e)
                }
            }
        });
        match pair {
            Ok((receiver, consent)) => Ok(Pair {
                sender,
                receiver,
                consent,
                dir,
            }),
            Err(e) => {
                sender.stop(&ctx.confrere.procs);
                Err(e)
            }
        }
    }

    /// The ids in the sender's outbox.
    fn outbox_ids(&self) -> Result<Vec<String>, String> {
        let outbox = self.sender.api.get("outbox")?;
        Ok(outbox
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Sends `file`, timed, with the time it took to seal it into the
    /// outbox (seen by polling the sender's outbox) and the peaks of both
    /// daemons during the send.
    fn send(&self, ctx: &Ctx, file: &Path) -> Result<Sent, String> {
        let procs = &ctx.confrere.procs;
        let pids = (self.sender.pid(procs), self.receiver.pid(procs));
        let reset = [pids.0, pids.1]
            .iter()
            .all(|p| p.is_some_and(reset_peak_rss));
        let mut cmd = self.sender.send_cmd(
            &ctx.confrere,
            &self.receiver.national_id,
            &self.consent,
            Some(SEND_LIMIT),
        );
        cmd.arg(file);
        let before = self.outbox_ids()?;
        let cpu_before = (pids.0.and_then(cpu_seconds), pids.1.and_then(cpu_seconds));
        let done = AtomicBool::new(false);
        let started = Instant::now();
        let (out, sealed) = std::thread::scope(|scope| {
            let watcher = scope.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    let ids = self.outbox_ids().unwrap_or_default();
                    if ids.iter().any(|id| !before.contains(id)) {
                        return Some(started.elapsed());
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                None
            });
            let out = ctx.confrere.run("send --wait", &mut cmd, SEND_LIMIT * 2);
            done.store(true, Ordering::Relaxed);
            (out, watcher.join().ok().flatten())
        });
        let out = out?;
        let used =
            |pid: Option<u32>, before: Option<f64>| Some(pid.and_then(cpu_seconds)? - before?);
        let cpu = Cpu {
            sender: used(pids.0, cpu_before.0),
            receiver: used(pids.1, cpu_before.1),
        };
        let peaks = Peaks {
            sender: pids.0.and_then(peak_rss),
            receiver: pids.1.and_then(peak_rss),
        };
        let item: serde_json::Value = serde_json::from_str(&out.stdout)
            .map_err(|e| format!("send --wait printed no JSON ({e}): {}", out.stdout))?;
        let id = item["id"].as_str().unwrap_or_default();
        if item["state"] != "delivered" || !self.receiver.inbox_has(&ctx.confrere, id)? {
            return Err(format!(
                "dossier {id} is not in the receiver's inbox: {item}"
            ));
        }
        Ok(Sent {
            elapsed: out.elapsed,
            sealed,
            peaks,
            reset,
            cpu,
        })
    }

    /// Stops both daemons and removes their homes.
    fn finish(self, ctx: &Ctx) {
        self.sender.stop(&ctx.confrere.procs);
        self.receiver.stop(&ctx.confrere.procs);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The bulk stage: `runs` × (scp default, scp GCM, Confrère).
pub(crate) fn measure_bulk(ctx: &Ctx) -> Result<BulkFigures, String> {
    let len = ctx.s.size;
    let runs = ctx.s.runs as u64;
    check_space(&ctx.dir, len * (2 * runs + 2) + (64 << 20))?;
    let file = ctx.dir.join("bulk.bin");
    eprintln!("[bulk] writing {} of random bytes", size(len));
    write_random(&file, len)?;
    let pair = Pair::start(ctx, "bulk");
    let pair = match pair {
        Ok(p) => p,
        Err(e) => {
            let _ = fs::remove_file(&file);
            return Err(e);
        }
    };
    let procs = &ctx.confrere.procs;
    let sshd = if ctx.s.scp {
        eprintln!("[bulk] starting sshd on loopback for scp");
        Sshd::start(procs, &ctx.dir.join("sshd"), !ctx.s.no_install)
    } else {
        Err("skipped (--skip scp)".into())
    };
    if let Err(e) = &sshd {
        eprintln!("  scp will not be measured: {e}");
    }
    let mut confrere = Ok(Vec::new());
    let mut scp_default = sshd.as_ref().map(|_| Vec::new()).map_err(Clone::clone);
    let mut scp_gcm = scp_default.clone();
    let mut peaks = Vec::new();
    let mut sealing = Vec::new();
    let mut cpu = Vec::new();
    let mut reset = true;
    for run in 1..=ctx.s.runs {
        if let (Ok(sshd), Ok(times)) = (&sshd, &mut scp_default) {
            eprintln!("[bulk] run {run}/{}: scp (default cipher)", ctx.s.runs);
            match sshd.copy(procs, &file, None) {
                Ok(t) => times.push(mib_per_s(len, t)),
                Err(e) => scp_default = Err(e),
            }
        }
        if let (Ok(sshd), Ok(times)) = (&sshd, &mut scp_gcm) {
            eprintln!("[bulk] run {run}/{}: scp -c {GCM}", ctx.s.runs);
            match sshd.copy(procs, &file, Some(GCM)) {
                Ok(t) => times.push(mib_per_s(len, t)),
                Err(e) => scp_gcm = Err(e),
            }
        }
        if let Ok(times) = &mut confrere {
            eprintln!("[bulk] run {run}/{}: confrere send --wait", ctx.s.runs);
            match pair.send(ctx, &file) {
                Ok(sent) => {
                    times.push(mib_per_s(len, sent.elapsed));
                    sealing.extend(sent.sealed.map(|d| d.as_secs_f64()));
                    peaks.push(sent.peaks);
                    cpu.push(sent.cpu);
                    reset &= sent.reset;
                }
                Err(e) => confrere = Err(e),
            }
        }
    }
    if let Ok(sshd) = sshd {
        sshd.stop(procs);
    }
    pair.finish(ctx);
    let _ = fs::remove_file(&file);
    Ok(BulkFigures {
        confrere,
        scp_default,
        scp_gcm,
        sealing,
        peaks,
        reset,
        cpu,
    })
}

/// The big send: one `--big-size` dossier on fresh daemons.
pub(crate) fn measure_big(ctx: &Ctx) -> Result<BigFigures, String> {
    let len = ctx.s.big_size;
    check_space(&ctx.dir, len * 3 + (64 << 20))?;
    let file = ctx.dir.join("big.bin");
    eprintln!("[memory] writing {} of random bytes", size(len));
    write_random(&file, len)?;
    let result = Pair::start(ctx, "big").and_then(|pair| {
        eprintln!("[memory] confrere send --wait of {}", size(len));
        let sent = pair.send(ctx, &file);
        pair.finish(ctx);
        sent
    });
    let _ = fs::remove_file(&file);
    let sent = result?;
    Ok(BigFigures {
        peaks: sent.peaks,
        rate: mib_per_s(len, sent.elapsed),
        sealing: sent.sealed.map(|d| d.as_secs_f64()),
        reset: sent.reset,
    })
}
