//! Small referrals and the revocation fan-out, on a fleet of daemons: one
//! sharer (a GP) and `--fanout` colleagues, every colleague's node added to
//! the sharer's address book.
//!
//! - Small referral: a letter and a 1 MiB PDF-like file, `confrere send
//!   --wait` from the sharer to the first colleague, timed from starting
//!   the command until it returns (the dossier is in the colleague's inbox
//!   and the signed receipt is back); each is then checked in the
//!   colleague's `inbox --json`.
//! - Revocation fan-out: a consent for every colleague, one dossier shared
//!   with each under it (delivered before the clock starts), then `confrere
//!   consent revoke`, timed until the sharer's view of the consent shows
//!   every colleague's signed erasure receipt in.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::figures::{median, percentile};
use crate::nodes::{practice, Daemon};
use crate::Ctx;

/// Bound on waiting for deliveries and erasure receipts.
const WAIT_LIMIT: Duration = Duration::from_secs(300);

/// What the fleet measured (`None`: not asked for).
pub(crate) struct FleetFigures {
    /// Small referral, per run: (p50, p99) in ms.
    pub small: Option<Result<Vec<(f64, f64)>, String>>,
    /// Revocation fan-out, per run: seconds until every receipt was in.
    pub fanout: Option<Result<Vec<f64>, String>>,
}

/// Starts the fleet, measures what is asked for, stops it.
pub(crate) fn measure(ctx: &Ctx, small: bool, fanout: bool) -> FleetFigures {
    let fleet = match start_fleet(ctx) {
        Ok(f) => f,
        Err(e) => {
            return FleetFigures {
                small: small.then(|| Err(e.clone())),
                fanout: fanout.then(|| Err(e.clone())),
            }
        }
    };
    let small = small.then(|| {
        eprintln!(
            "[referral] {} run(s) of {} sends of a letter + 1 MiB PDF with `send --wait`",
            ctx.s.runs, ctx.s.referrals
        );
        small_referrals(ctx, &fleet)
    });
    let fanout = fanout.then(|| {
        eprintln!(
            "[fan-out] {} run(s): a consent shared with {} nodes, then revoked",
            ctx.s.runs,
            fleet.len() - 1
        );
        fan_out(ctx, &fleet)
    });
    for d in fleet {
        d.stop(&ctx.confrere.procs);
    }
    FleetFigures { small, fanout }
}

fn start_fleet(ctx: &Ctx) -> Result<Vec<Daemon>, String> {
    let n = ctx.s.fanout as usize + 1;
    eprintln!(
        "[fleet] starting {n} daemons on loopback (a sharer and {} colleagues)",
        n - 1
    );
    let dir = ctx.dir.join("fleet");
    let mut fleet = Vec::with_capacity(n);
    for (i, card) in ctx.cards.iter().take(n).enumerate() {
        let label = if i == 0 {
            "sharer".to_owned()
        } else {
            format!("colleague-{i}")
        };
        match practice(&ctx.confrere, &ctx.pki, card, &dir, &label, &ctx.logs) {
            Ok(d) => fleet.push(d),
            Err(e) => {
                for d in fleet {
                    d.stop(&ctx.confrere.procs);
                }
                return Err(e);
            }
        }
    }
    if fleet.len() < 2 {
        return Err("the fleet needs at least two cards".into());
    }
    let added = fleet[1..]
        .iter()
        .try_for_each(|other| fleet[0].add_peer(&ctx.confrere, other));
    if let Err(e) = added {
        for d in fleet {
            d.stop(&ctx.confrere.procs);
        }
        return Err(e);
    }
    Ok(fleet)
}

/// Writes the small referral's letter and its 1 MiB PDF-like document.
fn small_documents(dir: &Path) -> Result<(std::path::PathBuf, std::path::PathBuf), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    let letter = dir.join("letter.txt");
    let text = "Dear colleague,\n\nCould you see Mrs DURAND-TEST about chest pain on \
                exertion? ECG attached.\n\nYours,\n"
        .repeat(8);
    fs::write(&letter, text).map_err(|e| format!("cannot write {}: {e}", letter.display()))?;
    let pdf = dir.join("ecg.pdf");
    let mut body = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut state: u64 = 0x5eed;
    while body.len() < (1 << 20) - 6 {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        body.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    body.truncate((1 << 20) - 6);
    body.extend_from_slice(b"%%EOF\n");
    fs::write(&pdf, body).map_err(|e| format!("cannot write {}: {e}", pdf.display()))?;
    Ok((letter, pdf))
}

fn small_referrals(ctx: &Ctx, fleet: &[Daemon]) -> Result<Vec<(f64, f64)>, String> {
    let (sharer, colleague) = (&fleet[0], &fleet[1]);
    let (letter, pdf) = small_documents(&ctx.dir.join("documents"))?;
    let consent = sharer.grant_consent(&ctx.confrere, &[&colleague.national_id])?;
    let mut runs = Vec::new();
    for _ in 0..ctx.s.runs {
        let mut times = Vec::new();
        for _ in 0..ctx.s.referrals {
            let mut cmd = sharer.send_cmd(
                &ctx.confrere,
                &colleague.national_id,
                &consent,
                Some(WAIT_LIMIT),
            );
            cmd.arg("--letter").arg(&letter).arg(&pdf);
            let out = ctx.confrere.run("send --wait", &mut cmd, WAIT_LIMIT * 2)?;
            let item: serde_json::Value = serde_json::from_str(&out.stdout)
                .map_err(|e| format!("send --wait printed no JSON ({e}): {}", out.stdout))?;
            let id = item["id"].as_str().unwrap_or_default();
            if item["state"] != "delivered" || !colleague.inbox_has(&ctx.confrere, id)? {
                return Err(format!(
                    "dossier {id} is not in the colleague's inbox: {item}"
                ));
            }
            times.push(out.elapsed.as_secs_f64() * 1000.0);
        }
        let p50 = median(&times).ok_or("no referral was sent")?;
        let p99 = percentile(&times, 99.0).ok_or("no referral was sent")?;
        runs.push((p50, p99));
    }
    Ok(runs)
}

/// Polls `probe` every few milliseconds until it returns `Some`, for at
/// most [`WAIT_LIMIT`].
fn poll<T>(what: &str, mut probe: impl FnMut() -> Result<Option<T>, String>) -> Result<T, String> {
    let started = Instant::now();
    loop {
        if let Some(v) = probe()? {
            return Ok(v);
        }
        if started.elapsed() > WAIT_LIMIT {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn fan_out(ctx: &Ctx, fleet: &[Daemon]) -> Result<Vec<f64>, String> {
    let sharer = &fleet[0];
    let colleagues = &fleet[1..];
    let letter = ctx.dir.join("documents/letter.txt");
    if !letter.is_file() {
        small_documents(&ctx.dir.join("documents"))?;
    }
    let mut runs = Vec::new();
    for _ in 0..ctx.s.runs {
        let to: Vec<&str> = colleagues.iter().map(|c| c.national_id.as_str()).collect();
        let consent = sharer.grant_consent(&ctx.confrere, &to)?;
        let mut ids = Vec::new();
        for c in colleagues {
            let mut cmd = sharer.send_cmd(&ctx.confrere, &c.national_id, &consent, None);
            cmd.arg("--letter").arg(&letter);
            let out = ctx.confrere.run("send", &mut cmd, WAIT_LIMIT)?;
            let v: serde_json::Value = serde_json::from_str(&out.stdout)
                .map_err(|e| format!("send printed no JSON ({e}): {}", out.stdout))?;
            ids.push(v["id"].as_str().unwrap_or_default().to_owned());
        }
        poll("the shared dossiers to be delivered", || {
            let outbox = sharer.api.get("outbox")?;
            let items = outbox.as_array().cloned().unwrap_or_default();
            if let Some(failed) = items
                .iter()
                .find(|i| ids.iter().any(|id| i["id"] == id.as_str()) && i["state"] == "failed")
            {
                return Err(format!(
                    "a shared dossier failed after {} attempt(s): {}",
                    failed["attempts"],
                    failed["last_error"].as_str().unwrap_or("no reason given")
                ));
            }
            let delivered = ids.iter().all(|id| {
                items
                    .iter()
                    .any(|i| i["id"] == id.as_str() && i["state"] == "delivered")
            });
            Ok(delivered.then_some(()))
        })?;
        let started = Instant::now();
        ctx.confrere.run(
            "consent revoke",
            &mut sharer.cmd(
                &ctx.confrere,
                &["consent", "revoke", &consent, "--reason", "benchmark"],
            ),
            WAIT_LIMIT,
        )?;
        let route = format!("consents/{consent}");
        let want = colleagues.len();
        poll("every erasure receipt", || {
            let c = sharer.api.get(&route)?;
            let states = c["recipient_states"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let erased = states.iter().filter(|r| r["state"] == "erased").count();
            Ok((states.len() == want && erased == want).then_some(()))
        })?;
        runs.push(started.elapsed().as_secs_f64());
    }
    Ok(runs)
}
