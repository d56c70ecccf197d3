//! The verifier-cost table: rows measured on a kernel series, the committed baseline, and the
//! rules that turn the two into a verdict.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Instructions the verifier processes at most for one program before it gives up.
pub const VERIFIER_LIMIT: u64 = 1_000_000;
/// A program fails when it comes this close to [`VERIFIER_LIMIT`] (90 % of it).
pub const LIMIT_MARGIN_PCT: u64 = 10;
/// A program fails when either figure grows by more than this much over the baseline.
pub const GROWTH_PCT: u64 = 20;

/// What loading one program on one kernel series cost. `None` figures: the object did not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Kernel series, e.g. `7.1`.
    pub series: String,
    /// Object name: its file name without `.bpf.o`.
    pub object: String,
    /// Program (callback) name; `*` for a whole object that failed to load.
    pub program: String,
    /// `bpf_prog_info.verified_insns`: instructions the verifier processed.
    pub verified: Option<u64>,
    /// `bpf_prog_info.xlated_prog_len / 8`: the program's size after the verifier.
    pub xlated: Option<u64>,
}

/// Header line of the tab-separated format (measurements and baseline alike).
pub const HEADER: &str = "series\tobject\tprogram\tverified_insns\txlated_insns";

impl Row {
    /// One tab-separated line; `-` for missing figures.
    pub fn to_tsv(&self) -> String {
        let f = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        format!(
            "{}\t{}\t{}\t{}\t{}",
            self.series,
            self.object,
            self.program,
            f(self.verified),
            f(self.xlated)
        )
    }

    fn key(&self) -> (String, String, String) {
        (
            self.series.clone(),
            self.object.clone(),
            self.program.clone(),
        )
    }
}

/// Parse tab-separated rows; the header, blank lines and `#` comments are skipped. Lines that
/// are not rows (e.g. a guest's other output) are skipped too when `lenient` is set.
pub fn parse(text: &str, lenient: bool) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') || line == HEADER {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let num = |s: &str| -> Result<Option<u64>> {
            if s == "-" {
                Ok(None)
            } else {
                Ok(Some(
                    s.parse().with_context(|| format!("`{s}` is no count"))?,
                ))
            }
        };
        let parsed = (f.len() == 5)
            .then(|| -> Result<Row> {
                Ok(Row {
                    series: f[0].into(),
                    object: f[1].into(),
                    program: f[2].into(),
                    verified: num(f[3])?,
                    xlated: num(f[4])?,
                })
            })
            .transpose();
        match parsed {
            Ok(Some(row)) => rows.push(row),
            _ if lenient => {}
            Ok(None) => bail!(
                "line {}: expected 5 tab-separated fields ({HEADER}), got `{line}`",
                n + 1
            ),
            Err(e) => return Err(e.context(format!("line {}", n + 1))),
        }
    }
    Ok(rows)
}

/// The verdict on a set of measurements against a baseline.
#[derive(Debug, Default)]
pub struct Verdict {
    /// The table to print, one line per measured program.
    pub table: String,
    /// Why the check fails; empty when it passes.
    pub failures: Vec<String>,
    /// Worth saying, not failing for (shrunk programs, baseline rows not measured).
    pub notes: Vec<String>,
}

fn pct(new: u64, old: u64) -> String {
    if old == 0 {
        return "new".into();
    }
    let p = (new as f64 - old as f64) * 100.0 / old as f64;
    format!("{p:+.1}%")
}

/// Compare `measured` with `baseline`: a program fails when it did not load, when it has no
/// baseline row, when its verified or xlated count grew by more than [`GROWTH_PCT`] %, or when
/// its verified count is within [`LIMIT_MARGIN_PCT`] % of [`VERIFIER_LIMIT`].
pub fn compare(measured: &[Row], baseline: &[Row]) -> Verdict {
    let base: BTreeMap<_, _> = baseline.iter().map(|r| (r.key(), r)).collect();
    let mut v = Verdict::default();
    let limit = VERIFIER_LIMIT * (100 - LIMIT_MARGIN_PCT) / 100;
    let _ = writeln!(
        v.table,
        "{:<6} {:<14} {:<24} {:>9} {:>9} {:>8} {:>7} {:>7} {:>8}",
        "series", "object", "program", "verified", "baseline", "change", "xlated", "base", "change"
    );
    for m in measured {
        let name = format!("{} {}/{}", m.series, m.object, m.program);
        let b = base.get(&m.key());
        let (Some(ver), Some(xl)) = (m.verified, m.xlated) else {
            let _ = writeln!(
                v.table,
                "{:<6} {:<14} {:<24} {:>9}",
                m.series, m.object, m.program, "LOAD FAILED"
            );
            v.failures.push(format!(
                "{name}: did not load (the verifier or libbpf refused it; its log is above)"
            ));
            continue;
        };
        let (bver, bxl) = b.map_or((None, None), |b| (b.verified, b.xlated));
        let show = |x: Option<u64>| x.map_or("-".into(), |x| x.to_string());
        let _ = writeln!(
            v.table,
            "{:<6} {:<14} {:<24} {:>9} {:>9} {:>8} {:>7} {:>7} {:>8}",
            m.series,
            m.object,
            m.program,
            ver,
            show(bver),
            bver.map_or("new".into(), |b| pct(ver, b)),
            xl,
            show(bxl),
            bxl.map_or("new".into(), |b| pct(xl, b)),
        );
        if ver >= limit {
            v.failures.push(format!(
                "{name}: the verifier processed {ver} instructions, within {LIMIT_MARGIN_PCT} % of \
                 its limit of {VERIFIER_LIMIT}; simplify the program (bounded loops, fewer \
                 branches) before it stops loading"
            ));
        }
        let (Some(bver), Some(bxl)) = (bver, bxl) else {
            v.failures.push(format!(
                "{name}: not in the baseline; if the program is meant to exist, record it with \
                 tests/verifier-cost/run.sh --update"
            ));
            continue;
        };
        for (what, new, old) in [("verified", ver, bver), ("xlated", xl, bxl)] {
            if new * 100 > old * (100 + GROWTH_PCT) {
                v.failures.push(format!(
                    "{name}: {what} instructions grew from {old} to {new} ({}), more than the \
                     {GROWTH_PCT} % allowed; make it smaller, or if the growth is intended, \
                     record it with tests/verifier-cost/run.sh --update",
                    pct(new, old)
                ));
            } else if new * 100 < old * (100 - GROWTH_PCT) {
                v.notes.push(format!(
                    "{name}: {what} instructions shrank from {old} to {new} ({}); \
                     tests/verifier-cost/run.sh --update records the gain",
                    pct(new, old)
                ));
            }
        }
    }
    let measured_keys: std::collections::BTreeSet<_> = measured.iter().map(Row::key).collect();
    let series: std::collections::BTreeSet<_> = measured.iter().map(|r| &r.series).collect();
    for b in baseline {
        if series.contains(&b.series) && !measured_keys.contains(&b.key()) {
            v.notes.push(format!(
                "{} {}/{}: in the baseline but not measured",
                b.series, b.object, b.program
            ));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(program: &str, verified: u64, xlated: u64) -> Row {
        Row {
            series: "7.1".into(),
            object: "scx_simple".into(),
            program: program.into(),
            verified: Some(verified),
            xlated: Some(xlated),
        }
    }

    #[test]
    fn rows_round_trip_through_tsv() {
        let rows = vec![
            row("simple_enqueue", 120, 40),
            Row {
                program: "*".into(),
                verified: None,
                xlated: None,
                ..row("", 0, 0)
            },
        ];
        let text = std::iter::once(HEADER.to_string())
            .chain(rows.iter().map(Row::to_tsv))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(parse(&text, false).unwrap(), rows);
        assert!(parse("a\tb\n", false).is_err());
        assert!(parse("7.1\to\tp\tmany\t3\n", false).is_err());
        assert_eq!(parse("guest noise\n", true).unwrap(), vec![]);
    }

    #[test]
    fn same_or_slightly_bigger_passes() {
        let base = [row("a", 1000, 100)];
        let v = compare(&[row("a", 1200, 120)], &base);
        assert!(v.failures.is_empty(), "{:?}", v.failures);
        assert!(v.table.contains("+20.0%"), "{}", v.table);
    }

    #[test]
    fn growth_over_20_percent_fails_for_either_figure() {
        let base = [row("a", 1000, 100)];
        let v = compare(&[row("a", 1201, 100)], &base);
        assert_eq!(v.failures.len(), 1, "{:?}", v.failures);
        assert!(v.failures[0].contains("verified instructions grew from 1000 to 1201"));
        let v = compare(&[row("a", 1000, 121)], &base);
        assert_eq!(v.failures.len(), 1, "{:?}", v.failures);
        assert!(v.failures[0].contains("xlated"));
    }

    #[test]
    fn nearing_the_verifier_limit_fails_even_without_growth() {
        let base = [row("a", 900_000, 100)];
        let v = compare(&[row("a", 900_000, 100)], &base);
        assert_eq!(v.failures.len(), 1, "{:?}", v.failures);
        assert!(v.failures[0].contains("limit"));
        let v = compare(&[row("a", 899_999, 100)], &[row("a", 899_999, 100)]);
        assert!(v.failures.is_empty());
    }

    #[test]
    fn load_failures_and_unknown_programs_fail() {
        let failed = Row {
            verified: None,
            xlated: None,
            ..row("*", 0, 0)
        };
        let v = compare(&[failed], &[]);
        assert!(v.failures[0].contains("did not load"), "{:?}", v.failures);
        assert!(v.table.contains("LOAD FAILED"));
        let v = compare(&[row("b", 10, 5)], &[row("a", 10, 5)]);
        assert_eq!(v.failures.len(), 1);
        assert!(v.failures[0].contains("not in the baseline"));
        assert!(v.notes[0].contains("7.1 scx_simple/a"), "{:?}", v.notes);
    }

    #[test]
    fn shrinking_is_a_note_not_a_failure() {
        let v = compare(&[row("a", 500, 100)], &[row("a", 1000, 100)]);
        assert!(v.failures.is_empty());
        assert_eq!(v.notes.len(), 1, "{:?}", v.notes);
    }
}
