//! The table printed at the end: aligned text, or one JSON document.

use serde_json::{json, Value};

use crate::figures::Row;

/// What the caption says about the run.
#[derive(Clone, Debug)]
pub(crate) struct Caption {
    /// One line: runs, sizes, machine.
    pub text: String,
    /// The same as JSON fields.
    pub json: Value,
}

const HEADER: [&str; 5] = [
    "FIGURE",
    "VALUE",
    "PEER FIGURE (same run)",
    "TARGET",
    "RESULT",
];

/// Longest cell shown; the JSON document has every cell whole.
const MAX_CELL: usize = 160;

/// A cell on one line, cut to [`MAX_CELL`] characters.
fn cell(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX_CELL {
        one_line
    } else {
        let mut cut: String = one_line.chars().take(MAX_CELL - 1).collect();
        cut.push('…');
        cut
    }
}

/// The rows as text: a caption line, then aligned columns.
pub(crate) fn text(caption: &Caption, rows: &[Row]) -> String {
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                cell(&r.figure),
                cell(&r.shown()),
                r.peer
                    .as_ref()
                    .map_or_else(|| "—".to_owned(), |p| cell(&p.shown)),
                cell(&r.target),
                r.result().to_owned(),
            ]
        })
        .collect();
    let mut widths = HEADER.map(|h| h.chars().count());
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = String::new();
    out.push_str(&caption.text);
    out.push('\n');
    out.push_str(&line(&HEADER.map(str::to_owned)));
    out.push('\n');
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(&rule));
    out.push('\n');
    for row in &cells {
        out.push_str(&line(row));
        out.push('\n');
    }
    out
}

/// The rows as one JSON document: `{"run": {...}, "rows": [...]}`.
pub(crate) fn json_document(caption: &Caption, rows: &[Row]) -> Value {
    json!({
        "run": caption.json,
        "rows": rows.iter().map(Row::to_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::{Measured, Outcome, Peer};

    #[test]
    fn columns_line_up() {
        let rows = vec![
            Row::measured(
                "bulk throughput",
                Measured {
                    value: 300.0,
                    unit: "MiB/s",
                    shown: "300 MiB/s".into(),
                    runs: vec![300.0],
                },
                Some(Peer::value("scp 150 MiB/s", 150.0)),
                "≥ 1.5× scp",
                Some(true),
            ),
            Row::without("memory", Outcome::NotMeasured("skipped".into()), "≤ 64 MiB"),
        ];
        let caption = Caption {
            text: "caption".into(),
            json: json!({}),
        };
        let t = text(&caption, &rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5);
        let col = |l: &str| l.chars().position(|c| c == '≥' || c == 'T' || c == '≤');
        assert_eq!(col(lines[3]), col(lines[1]));
        assert!(lines[3].ends_with("met"));
        assert!(lines[4].contains("not measured: skipped"));
        assert!(lines[4].ends_with('—'));
        let j = json_document(&caption, &rows);
        assert_eq!(j["rows"][0]["met"], true);
        assert_eq!(j["rows"][1]["status"], "not measured");
    }

    #[test]
    fn cells_are_one_short_line() {
        assert_eq!(cell("a\n  b\tc"), "a b c");
        let long = "x".repeat(500);
        assert_eq!(cell(&long).chars().count(), MAX_CELL);
        assert!(cell(&long).ends_with('…'));
    }
}
