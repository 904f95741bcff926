//! The directory stage's rows in the table: lookups before and after the
//! churn, and memory per node (see [`crate::directory`]).

use crate::directory::{Figures, Round};
use crate::figures::{median, ms, percentile, Measured, Outcome, Row, MIB};

/// The stage's rows: lookups before and after the churn, memory per node.
pub(crate) fn rows(result: Option<&Result<Figures, String>>) -> Vec<Row> {
    const BEFORE: &str = "directory lookup, every node running";
    const AFTER: &str = "directory lookup after a quarter of the nodes stopped";
    const MEMORY: &str = "memory per directory node";
    const TARGET: &str = "every live node found, p50 < 200 ms";
    let f = match result {
        None => {
            let o = || Outcome::NotMeasured("skipped (--skip directory)".into());
            return vec![
                Row::without(BEFORE, o(), TARGET),
                Row::without(AFTER, o(), TARGET),
                Row::without(MEMORY, o(), "—"),
            ];
        }
        Some(Err(e)) => {
            let o = || Outcome::Failed(e.clone());
            return vec![
                Row::without(BEFORE, o(), TARGET),
                Row::without(AFTER, o(), TARGET),
                Row::without(MEMORY, o(), "—"),
            ];
        }
        Some(Ok(f)) => f,
    };
    let joined = format!(
        "{} of {} nodes joined through {} bootstrap nodes in {:.1} s{}",
        f.joined,
        f.nodes,
        f.bootstraps,
        f.join_secs,
        f.ready_secs.map_or_else(
            || "; lookups still missed nodes when measured".to_owned(),
            |s| format!(", found by lookups {s:.1} s later")
        )
    );
    let before = round_row(
        &format!("{BEFORE} ({} nodes)", f.nodes),
        &f.before,
        &joined,
        TARGET,
    );
    let after = round_row(
        &format!("{AFTER} ({} of {} stopped)", f.stopped, f.nodes),
        &f.after,
        &format!("{} nodes running", f.after.live),
        TARGET,
    );
    let per_node = f.rss_per_node();
    let memory = Row::measured(
        MEMORY,
        Measured {
            value: per_node / MIB,
            unit: "MiB",
            shown: format!(
                "{:.2} MiB ({} nodes: process resident set {:.0} MiB, {:.0} MiB before they started)",
                per_node / MIB,
                f.nodes,
                f.rss_running as f64 / MIB,
                f.rss_before as f64 / MIB
            ),
            runs: vec![per_node / MIB],
        },
        None,
        "— (reported)",
        None,
    );
    vec![before, after, memory]
}

fn round_row(figure: &str, r: &Round, context: &str, target: &str) -> Row {
    let (Some(p50), Some(p99)) = (median(&r.times_ms), percentile(&r.times_ms, 99.0)) else {
        return Row::without(
            figure,
            Outcome::Failed(format!("no lookup was made ({context})")),
            target,
        );
    };
    let mut shown = format!(
        "found {} of {}{} ({:.1} %), p50 {}, p99 {}",
        r.found,
        r.lookups,
        if r.lookups < r.planned {
            format!(
                " (of {} planned: the round's bound on time passed)",
                r.planned
            )
        } else {
            String::new()
        },
        r.success_pct(),
        ms(p50),
        ms(p99)
    );
    for (n, what) in [
        (r.missing, "not found"),
        (r.wrong, "found another node only"),
        (r.errors, "failed"),
    ] {
        if n > 0 {
            shown.push_str(&format!("; {n} {what}"));
        }
    }
    if let Some(e) = &r.first_error {
        shown.push_str(&format!(" (first: {e})"));
    }
    shown.push_str(&format!("; {context}"));
    Row::measured(
        figure,
        Measured {
            value: p50,
            unit: "ms",
            shown,
            runs: vec![p50],
        },
        None,
        target,
        Some(r.found == r.lookups && p50 < 200.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_reports_its_failures() {
        let r = Round {
            live: 10,
            planned: 4,
            lookups: 4,
            found: 2,
            wrong: 0,
            missing: 1,
            errors: 1,
            first_error: Some("the network has stopped".into()),
            times_ms: vec![10.0, 20.0, 30.0, 40.0],
            misses: vec![(1, 2, 0.5)],
        };
        assert_eq!(r.success_pct(), 50.0);
        let row = round_row("lookups", &r, "10 nodes", "target");
        assert_eq!(row.met, Some(false));
        let shown = row.shown();
        assert!(shown.contains("found 2 of 4 (50.0 %)"), "{shown}");
        assert!(shown.contains("1 not found") && shown.contains("1 failed"));
        assert!(shown.contains("the network has stopped"));
    }
}
