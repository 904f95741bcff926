//! The figures of the table: what was measured, against which target, and
//! whether it is met; with the statistics and units they are shown in.

use std::time::Duration;

use serde_json::{json, Value};

/// One row of the table.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    /// What is measured ("bulk throughput").
    pub figure: String,
    /// The measurement, or why there is none.
    pub outcome: Outcome,
    /// The figure it is compared with or shown beside, measured in the same
    /// run ("scp 180 MiB/s"), if any.
    pub peer: Option<Peer>,
    /// The target, in words ("≥ 1.5× scp").
    pub target: String,
    /// Whether the target is met (`None`: cannot be judged).
    pub met: Option<bool>,
}

/// A measured value.
#[derive(Clone, Debug)]
pub(crate) struct Measured {
    /// The number, in `unit`.
    pub value: f64,
    /// Its unit ("MiB/s", "ms", "MiB", "entries/s").
    pub unit: &'static str,
    /// How the table shows it.
    pub shown: String,
    /// The value of each run it is the median (or peak) of, in `unit`.
    pub runs: Vec<f64>,
}

/// The outcome of a figure.
#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    /// Measured.
    Measured(Measured),
    /// Not measured, and why (a tool is missing, the stage was skipped).
    NotMeasured(String),
    /// The harness failed while measuring it.
    Failed(String),
}

/// The peer figure of a row.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    /// How the table shows it.
    pub shown: String,
    /// The number, in the row's unit, where it has one.
    pub value: Option<f64>,
}

impl Peer {
    /// A peer figure shown as `shown`, with a value in the row's unit.
    pub(crate) fn value(shown: impl Into<String>, value: f64) -> Peer {
        Peer {
            shown: shown.into(),
            value: Some(value),
        }
    }

    /// A peer figure that is text only.
    pub(crate) fn text(shown: impl Into<String>) -> Peer {
        Peer {
            shown: shown.into(),
            value: None,
        }
    }
}

impl Row {
    /// A measured row; `met` says whether its target is met.
    pub(crate) fn measured(
        figure: impl Into<String>,
        m: Measured,
        peer: Option<Peer>,
        target: impl Into<String>,
        met: Option<bool>,
    ) -> Row {
        Row {
            figure: figure.into(),
            outcome: Outcome::Measured(m),
            peer,
            target: target.into(),
            met,
        }
    }

    /// A row without a measurement.
    pub(crate) fn without(
        figure: impl Into<String>,
        outcome: Outcome,
        target: impl Into<String>,
    ) -> Row {
        Row {
            figure: figure.into(),
            outcome,
            peer: None,
            target: target.into(),
            met: None,
        }
    }

    /// The row as one JSON object.
    pub(crate) fn to_json(&self) -> Value {
        let (status, value, unit, runs) = match &self.outcome {
            Outcome::Measured(m) => ("measured", json!(m.value), json!(m.unit), json!(m.runs)),
            Outcome::NotMeasured(_) => ("not measured", Value::Null, Value::Null, json!([])),
            Outcome::Failed(_) => ("failed", Value::Null, Value::Null, json!([])),
        };
        json!({
            "figure": self.figure,
            "status": status,
            "value": value,
            "unit": unit,
            "runs": runs,
            "shown": self.shown(),
            "peer": self.peer.as_ref().map(|p| p.shown.clone()),
            "peer_value": self.peer.as_ref().and_then(|p| p.value),
            "target": self.target,
            "met": self.met,
        })
    }

    /// The result column: `met`, `MISSED`, or `—`.
    pub(crate) fn result(&self) -> &'static str {
        match (&self.outcome, self.met) {
            (Outcome::Failed(_), _) => "FAILED",
            (_, Some(true)) => "met",
            (_, Some(false)) => "MISSED",
            (_, None) => "—",
        }
    }

    /// The value column.
    pub(crate) fn shown(&self) -> String {
        match &self.outcome {
            Outcome::Measured(m) => m.shown.clone(),
            Outcome::NotMeasured(why) => format!("not measured: {why}"),
            Outcome::Failed(why) => format!("FAILED: {why}"),
        }
    }
}

/// The median (the mean of the middle two for an even count); `None` for no
/// samples.
pub(crate) fn median(samples: &[f64]) -> Option<f64> {
    let mut s: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let mid = s.len() / 2;
    Some(if s.len() % 2 == 1 {
        s[mid]
    } else {
        (s[mid - 1] + s[mid]) / 2.0
    })
}

/// The `p`-th percentile (0–100), nearest rank; `None` for no samples.
pub(crate) fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    let mut s: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let rank = (p / 100.0 * s.len() as f64).ceil().max(1.0);
    // A rank within 1..=len: the cast cannot truncate meaningfully.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a positive rank within 1..=len, which fits a usize"
    )]
    let index = (rank as usize).min(s.len()) - 1;
    Some(s[index])
}

/// Mebibytes.
pub(crate) const MIB: f64 = 1024.0 * 1024.0;

/// Bytes per second over `elapsed`, in MiB/s.
pub(crate) fn mib_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / MIB / elapsed.as_secs_f64().max(1e-9)
}

/// A byte count for people: `4.0 MiB`, `1.0 GiB`.
pub(crate) fn size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= MIB * 1024.0 {
        format!("{:.1} GiB", b / MIB / 1024.0)
    } else if b >= MIB {
        format!("{:.1} MiB", b / MIB)
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

/// A rate with thousands separators: `12,345`.
pub(crate) fn count(n: f64) -> String {
    // Display only: rates are far below 2^53.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a positive rank within 1..=len, which fits a usize"
    )]
    let n = n.max(0.0).round() as u64;
    let digits = n.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).unwrap_or_default())
        .collect();
    groups.join(",")
}

/// Milliseconds, with a precision that suits their size.
pub(crate) fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2} ms")
    } else if v < 100.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.0} ms")
    }
}

/// Parses a size: a number of bytes with an optional unit (`B`, `KiB`,
/// `MiB`, `GiB`, also `K`, `M`, `G`, `KB`... all taken as powers of 1024).
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a size (e.g. 1GiB, 64MiB, 4096)"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => return Err(format!("unknown size unit {other:?} in {text:?}")),
    };
    let bytes = num * factor as f64;
    if !(1.0..=1e15).contains(&bytes) {
        return Err(format!("{text:?} is not a usable size"));
    }
    // Within 1..=1e15 after the check.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a positive rank within 1..=len, which fits a usize"
    )]
    Ok(bytes.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_percentiles() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        let s: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(percentile(&s, 50.0), Some(100.0));
        assert_eq!(percentile(&s, 99.0), Some(198.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
    }

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("4 MiB"), Ok(4 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("0").is_err());
        assert_eq!(size(1 << 30), "1.0 GiB");
        assert_eq!(size(4 << 20), "4.0 MiB");
        assert_eq!(count(1_234_567.4), "1,234,567");
        assert_eq!(count(999.0), "999");
    }
}
