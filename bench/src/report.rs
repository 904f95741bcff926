//! From what the stages measured to the rows of the table: the medians,
//! the targets of issue 6, and whether each is met.

use crate::bulk::{BigFigures, BulkFigures, Peaks};
use crate::figures::{count, median, ms, size, Measured, Outcome, Peer, Row, MIB};
use crate::referrals::FleetFigures;
use crate::Settings;

/// What the stages measured; `None`: the stage was skipped.
pub(crate) struct Results {
    /// Crypto ceiling, MiB/s per run.
    pub ceiling: Option<Result<Vec<f64>, String>>,
    /// Session set-up, (p50, p99) in ms per run.
    pub sessions: Option<Result<Vec<(f64, f64)>, String>>,
    /// Durable appends per second per run.
    pub appends: Option<Result<AppendRates, String>>,
    /// Verification, entries per second per run.
    pub verify: Option<Result<VerifyRates, String>>,
    /// Small referrals and the revocation fan-out.
    pub fleet: FleetFigures,
    /// Bulk throughput and the memory of its sends.
    pub bulk: Option<Result<BulkFigures, String>>,
    /// The big send's memory.
    pub big: Option<Result<BigFigures, String>>,
    /// The directory at scale.
    pub directory: Option<Result<crate::directory::Figures, String>>,
}

/// Durable append rates per run: (one appender, several at once).
pub(crate) type AppendRates = (Vec<f64>, Vec<f64>);

/// Ledger verification rates per run: (every signature, anchored).
pub(crate) type VerifyRates = (Vec<f64>, Vec<f64>);

/// Which daemon's peak a memory row shows.
type Side = fn(&Peaks) -> Option<u64>;

/// The peak memory allowed each daemon.
const MEMORY_LIMIT: f64 = 64.0 * MIB;

fn missing<T>(r: Option<&Result<T, String>>, stage: &str) -> Option<Outcome> {
    match r {
        None => Some(Outcome::NotMeasured(format!("skipped (--skip {stage})"))),
        Some(Err(e)) => Some(Outcome::Failed(e.clone())),
        Some(Ok(_)) => None,
    }
}

fn measured(value: f64, unit: &'static str, shown: String, runs: &[f64]) -> Measured {
    Measured {
        value,
        unit,
        shown,
        runs: runs.to_vec(),
    }
}

fn mibs(v: f64) -> String {
    format!("{v:.0} MiB/s")
}

/// Every row, in the table's order.
pub(crate) fn rows(s: &Settings, r: &Results) -> Vec<Row> {
    let bulk_rate = match &r.bulk {
        Some(Ok(b)) => b.confrere.as_ref().ok().and_then(|v| median(v)),
        _ => None,
    };
    let mut rows = vec![bulk_row(s, r.bulk.as_ref()), ceiling_row(r, bulk_rate)];
    rows.extend(memory_rows(s, r));
    rows.push(session_row(s, r));
    rows.push(small_row(s, r));
    rows.extend(ledger_rows(s, r));
    rows.push(fanout_row(s, r));
    rows.extend(crate::directory_rows::rows(r.directory.as_ref()));
    rows
}

fn bulk_row(s: &Settings, bulk: Option<&Result<BulkFigures, String>>) -> Row {
    const FIGURE: &str = "bulk throughput";
    const TARGET: &str = "≥ 1.5× the faster scp";
    if let Some(o) = missing(bulk, "bulk") {
        return Row::without(FIGURE, o, TARGET);
    }
    let Some(Ok(b)) = bulk else {
        return Row::without(FIGURE, Outcome::Failed("no result".into()), TARGET);
    };
    let (rates, rate) = match &b.confrere {
        Ok(v) => (v, median(v)),
        Err(e) => return Row::without(FIGURE, Outcome::Failed(e.clone()), TARGET),
    };
    let Some(rate) = rate else {
        return Row::without(FIGURE, Outcome::Failed("no send".into()), TARGET);
    };
    let secs = s.size as f64 / MIB / rate;
    let mut shown = match median(&b.sealing) {
        Some(seal) => format!(
            "{} ({secs:.2} s for {}: sealed into the outbox in {seal:.2} s, delivered {:.2} s later",
            mibs(rate),
            size(s.size),
            (secs - seal).max(0.0)
        ),
        None => format!("{} ({secs:.2} s for {}", mibs(rate), size(s.size)),
    };
    let sender: Vec<f64> = b.cpu.iter().filter_map(|c| c.sender).collect();
    let receiver: Vec<f64> = b.cpu.iter().filter_map(|c| c.receiver).collect();
    if let (Some(sc), Some(rc)) = (median(&sender), median(&receiver)) {
        shown.push_str(&format!("; CPU: sender {sc:.2} s, receiver {rc:.2} s"));
    }
    shown.push(')');
    let default = b.scp_default.as_ref().ok().and_then(|v| median(v));
    let gcm = b.scp_gcm.as_ref().ok().and_then(|v| median(v));
    let (peer, best) = match (default, gcm) {
        (None, None) => {
            let why = b
                .scp_default
                .as_ref()
                .err()
                .or(b.scp_gcm.as_ref().err())
                .cloned()
                .unwrap_or_else(|| "no copy".into());
            (Peer::text(format!("scp not measured: {why}")), None)
        }
        (d, g) => {
            let best = d.unwrap_or(0.0).max(g.unwrap_or(0.0));
            let part = |v: Option<f64>, r: &Result<Vec<f64>, String>| match (v, r) {
                (Some(v), _) => mibs(v),
                (None, Err(e)) => format!("failed: {e}"),
                (None, Ok(_)) => "—".into(),
            };
            let text = format!(
                "scp {} (default {}, aes256-gcm {})",
                mibs(best),
                part(d, &b.scp_default),
                part(g, &b.scp_gcm)
            );
            (Peer::value(text, best), Some(best))
        }
    };
    let target = best.map_or_else(
        || TARGET.to_owned(),
        |b| format!("{TARGET} = {}", mibs(1.5 * b)),
    );
    Row::measured(
        FIGURE,
        measured(rate, "MiB/s", shown, rates),
        Some(peer),
        target,
        best.map(|b| rate >= 1.5 * b),
    )
}

fn ceiling_row(r: &Results, bulk: Option<f64>) -> Row {
    const FIGURE: &str = "crypto ceiling (AES-256-GCM seal, 1 core, 64 KiB)";
    const TARGET: &str = "bulk ≥ 25 % of it";
    if let Some(o) = missing(r.ceiling.as_ref(), "crypto") {
        return Row::without(FIGURE, o, TARGET);
    }
    let runs = r
        .ceiling
        .as_ref()
        .and_then(|c| c.as_ref().ok())
        .cloned()
        .unwrap_or_default();
    let Some(Some(ceiling)) = r
        .ceiling
        .as_ref()
        .and_then(|c| c.as_ref().ok())
        .map(|v| median(v))
    else {
        return Row::without(FIGURE, Outcome::Failed("no result".into()), TARGET);
    };
    let (peer, met) = match bulk {
        Some(b) => (
            Some(Peer::value(
                format!("bulk {} = {:.0} % of it", mibs(b), 100.0 * b / ceiling),
                b,
            )),
            Some(b >= 0.25 * ceiling),
        ),
        None => (Some(Peer::text("bulk not measured")), None),
    };
    Row::measured(
        FIGURE,
        measured(ceiling, "MiB/s", mibs(ceiling), &runs),
        peer,
        format!("{TARGET} = {}", mibs(0.25 * ceiling)),
        met,
    )
}

fn peak_of(peaks: &[Peaks], side: Side) -> Option<f64> {
    peaks.iter().filter_map(side).max().map(|b| b as f64)
}

fn memory_rows(s: &Settings, r: &Results) -> Vec<Row> {
    let small_name = size(s.size);
    let big_name = size(s.big_size);
    let sides: [(&str, Side); 2] = [("sender", |p| p.sender), ("receiver", |p| p.receiver)];
    let mut rows = Vec::new();
    let mut small_peaks = [None, None];
    for (i, (side, get)) in sides.iter().enumerate() {
        let figure = format!("memory, {side}, {small_name} send");
        let target = format!("≤ {:.0} MiB", MEMORY_LIMIT / MIB);
        let row = match r.bulk.as_ref() {
            None => Row::without(
                figure,
                Outcome::NotMeasured("skipped (--skip bulk)".into()),
                target,
            ),
            Some(Err(e)) => Row::without(figure, Outcome::Failed(e.clone()), target),
            Some(Ok(b)) => match peak_of(&b.peaks, *get) {
                None => Row::without(
                    figure,
                    Outcome::Failed(match &b.confrere {
                        Err(e) => e.clone(),
                        Ok(_) => "VmHWM unreadable".into(),
                    }),
                    target,
                ),
                Some(v) => {
                    small_peaks[i] = Some(v);
                    let per_run: Vec<f64> = b
                        .peaks
                        .iter()
                        .filter_map(get)
                        .map(|b| b as f64 / MIB)
                        .collect();
                    let note = if b.reset {
                        ""
                    } else {
                        ", since the daemon started"
                    };
                    let shown = format!(
                        "{:.1} MiB (peak of {} send(s){note})",
                        v / MIB,
                        b.peaks.len()
                    );
                    Row::measured(
                        figure,
                        measured(v / MIB, "MiB", shown, &per_run),
                        None,
                        target,
                        Some(v <= MEMORY_LIMIT),
                    )
                }
            },
        };
        rows.push(row);
    }
    for (i, (side, get)) in sides.iter().enumerate() {
        let figure = format!("memory, {side}, {big_name} send");
        let target = format!("≤ {:.0} MiB, ≈ the {small_name} send's", MEMORY_LIMIT / MIB);
        let row = match r.big.as_ref() {
            None => Row::without(
                figure,
                Outcome::NotMeasured("skipped (--skip big)".into()),
                target,
            ),
            Some(Err(e)) => Row::without(figure, Outcome::Failed(e.clone()), target),
            Some(Ok(b)) => match get(&b.peaks).map(|v| v as f64) {
                None => Row::without(figure, Outcome::Failed("VmHWM unreadable".into()), target),
                Some(v) => {
                    let note = if b.reset {
                        ""
                    } else {
                        ", since the daemon started"
                    };
                    let shown = format!(
                        "{:.1} MiB (one send at {}{}{note})",
                        v / MIB,
                        mibs(b.rate),
                        b.sealing
                            .map(|t| format!(", sealed in {t:.1} s"))
                            .unwrap_or_default()
                    );
                    // "About the same": within 25 % or 8 MiB of the smaller send's peak.
                    let same = small_peaks[i].is_none_or(|p| v <= (p * 1.25).max(p + 8.0 * MIB));
                    let peer = small_peaks[i].map(|p| {
                        Peer::value(format!("{small_name} send: {:.1} MiB", p / MIB), p / MIB)
                    });
                    Row::measured(
                        figure,
                        measured(v / MIB, "MiB", shown, &[v / MIB]),
                        peer,
                        target,
                        Some(v <= MEMORY_LIMIT && same),
                    )
                }
            },
        };
        rows.push(row);
    }
    rows
}

/// A latency row: the medians over runs of each run's (p50, p99), in ms,
/// judged on the p50.
struct Latency<'a> {
    figure: &'static str,
    target: &'static str,
    limit_ms: f64,
    stage: &'static str,
    /// What one sample is ("dials", "sends") and how many a run took.
    each: &'static str,
    count: usize,
    runs: Option<&'a Result<Vec<(f64, f64)>, String>>,
}

fn latency_row(l: Latency<'_>) -> Row {
    if let Some(o) = missing(l.runs, l.stage) {
        return Row::without(l.figure, o, l.target);
    }
    let runs = l
        .runs
        .and_then(|x| x.as_ref().ok())
        .cloned()
        .unwrap_or_default();
    let p50s: Vec<f64> = runs.iter().map(|x| x.0).collect();
    let p50 = median(&p50s);
    let p99 = median(&runs.iter().map(|x| x.1).collect::<Vec<_>>());
    let (Some(p50), Some(p99)) = (p50, p99) else {
        return Row::without(
            l.figure,
            Outcome::Failed(format!("no {}", l.each.trim_end_matches('s'))),
            l.target,
        );
    };
    let shown = format!("p50 {}, p99 {} ({} {})", ms(p50), ms(p99), l.count, l.each);
    Row::measured(
        l.figure,
        measured(p50, "ms", shown, &p50s),
        None,
        l.target,
        Some(p50 < l.limit_ms),
    )
}

fn session_row(s: &Settings, r: &Results) -> Row {
    latency_row(Latency {
        figure: "session set-up (dial to VerifiedPeer, fresh connection)",
        target: "p50 < 5 ms",
        limit_ms: 5.0,
        stage: "session",
        each: "dials",
        count: s.dials,
        runs: r.sessions.as_ref(),
    })
}

fn small_row(s: &Settings, r: &Results) -> Row {
    latency_row(Latency {
        figure: "small referral (letter + 1 MiB PDF, send --wait)",
        target: "p50 < 50 ms",
        limit_ms: 50.0,
        stage: "referral",
        each: "sends",
        count: s.referrals,
        runs: r.fleet.small.as_ref(),
    })
}

fn ledger_rows(s: &Settings, r: &Results) -> Vec<Row> {
    const APPENDS: &str = "ledger durable appends (one appender)";
    const APPEND_TARGET: &str = "≥ 5,000/s";
    let appends = match (missing(r.appends.as_ref(), "ledger"), &r.appends) {
        (Some(o), _) => Row::without(APPENDS, o, APPEND_TARGET),
        (None, Some(Ok((v, many)))) => match median(v) {
            Some(rate) => Row::measured(
                APPENDS,
                measured(rate, "appends/s", format!("{}/s", count(rate)), v),
                median(many).map(|m| {
                    Peer::value(
                        format!(
                            "{} appenders at once: {}/s",
                            crate::ledger::CONCURRENT_APPENDERS,
                            count(m)
                        ),
                        m,
                    )
                }),
                APPEND_TARGET,
                Some(rate >= 5000.0),
            ),
            None => Row::without(APPENDS, Outcome::Failed("no append".into()), APPEND_TARGET),
        },
        (None, _) => Row::without(APPENDS, Outcome::Failed("no result".into()), APPEND_TARGET),
    };
    let verify_name = format!(
        "ledger verify, {} entries (chain to the signed checkpoint)",
        count(s.ledger_entries as f64)
    );
    const VERIFY_TARGET: &str = "≥ 500,000 entries/s";
    let verify = match (missing(r.verify.as_ref(), "ledger"), &r.verify) {
        (Some(o), _) => Row::without(verify_name, o, VERIFY_TARGET),
        (None, Some(Ok((every, quick)))) => match (median(quick), median(every)) {
            (Some(q), e) => Row::measured(
                verify_name,
                measured(q, "entries/s", format!("{} entries/s", count(q)), quick),
                e.map(|e| {
                    Peer::value(
                        format!("--signatures (every entry's too): {} entries/s", count(e)),
                        e,
                    )
                }),
                VERIFY_TARGET,
                Some(q >= 500_000.0),
            ),
            (None, _) => Row::without(
                verify_name,
                Outcome::Failed("no verification".into()),
                VERIFY_TARGET,
            ),
        },
        (None, _) => Row::without(
            verify_name,
            Outcome::Failed("no result".into()),
            VERIFY_TARGET,
        ),
    };
    vec![appends, verify]
}

fn fanout_row(s: &Settings, r: &Results) -> Row {
    let figure = format!("revocation fan-out ({} nodes)", s.fanout);
    const TARGET: &str = "< 2 s until every receipt is in";
    if let Some(o) = missing(r.fleet.fanout.as_ref(), "fanout") {
        return Row::without(figure, o, TARGET);
    }
    let runs = r
        .fleet
        .fanout
        .as_ref()
        .and_then(|x| x.as_ref().ok())
        .cloned()
        .unwrap_or_default();
    let Some(secs) = median(&runs) else {
        return Row::without(figure, Outcome::Failed("no revocation".into()), TARGET);
    };
    let shown = format!("{secs:.2} s ({} erasure receipts)", s.fanout);
    Row::measured(
        figure,
        measured(secs, "s", shown, &runs),
        None,
        TARGET,
        Some(secs < 2.0),
    )
}
