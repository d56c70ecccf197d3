//! Stats as people and scrapers read them: a table with rates, and the OpenMetrics text format.

use super::{FieldKind, FieldMeta};
use serde_json::Value;
use std::fmt::Write;
use std::time::Instant;

/// Prints snapshots as a table; counters as a rate over the time since the previous snapshot.
#[derive(Debug)]
pub struct Table {
    scheduler: String,
    fields: Vec<FieldMeta>,
    prev: Option<(Instant, Value)>,
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn fmt_value(v: &Value) -> String {
    match v {
        Value::Number(n) => fmt_num(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(fmt_value).collect::<Vec<_>>().join(" "),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| format!("{k}={}", fmt_value(v)))
            .collect::<Vec<_>>()
            .join(" "),
        Value::Bool(b) => b.to_string(),
        Value::Null => "-".into(),
    }
}

/// `now - before` element-wise for numbers, arrays and objects of numbers; `None` otherwise.
fn rate(now: &Value, before: &Value, secs: f64) -> Option<Value> {
    match (now, before) {
        (Value::Number(a), Value::Number(b)) => {
            let d = a.as_f64()? - b.as_f64()?;
            serde_json::Number::from_f64(d / secs).map(Value::Number)
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => Some(Value::Array(
            a.iter()
                .zip(b)
                .map(|(x, y)| rate(x, y, secs))
                .collect::<Option<_>>()?,
        )),
        _ => None,
    }
}

impl Table {
    /// A table for `scheduler`'s `fields`.
    pub fn new(scheduler: &str, fields: Vec<FieldMeta>) -> Self {
        Self {
            scheduler: scheduler.to_string(),
            fields,
            prev: None,
        }
    }

    /// One block: a header line, then `name  value  description` per field. Counters show their
    /// rate per second since the previous call (their total on the first).
    pub fn render(&mut self, stats: &Value) -> String {
        let now = Instant::now();
        let secs = self
            .prev
            .as_ref()
            .map(|(t, _)| now.duration_since(*t).as_secs_f64())
            .filter(|s| *s > 0.0);
        let mut out = format!("{} stats", self.scheduler);
        if let Some(s) = secs {
            let _ = write!(out, " (rates over {s:.1} s)");
        }
        let width = self.fields.iter().map(|f| f.name.len()).max().unwrap_or(0);
        for f in &self.fields {
            let v = &stats[&f.name];
            let shown = match (f.kind, &self.prev, secs) {
                (FieldKind::Counter, Some((_, before)), Some(s)) => {
                    match rate(v, &before[&f.name], s) {
                        Some(r) => format!("{}/s", fmt_value(&r)),
                        None => fmt_value(v),
                    }
                }
                (FieldKind::Counter, _, _) => format!("{} total", fmt_value(v)),
                (FieldKind::Gauge, _, _) => fmt_value(v),
            };
            // A map of records (e.g. one per layer): the description, then one row per key.
            if let Value::Object(rows) = v {
                if !rows.is_empty() && rows.values().all(Value::is_object) {
                    let _ = write!(out, "\n  {:width$}  {:>14}  {}", f.name, "", f.desc);
                    for (k, row) in rows {
                        let _ = write!(out, "\n    {k}: {}", fmt_value(row));
                    }
                    continue;
                }
            }
            let _ = write!(out, "\n  {:width$}  {:>14}  {}", f.name, shown, f.desc);
        }
        self.prev = Some((now, stats.clone()));
        out
    }
}

fn metric_name(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// The OpenMetrics text exposition of one scheduler's snapshot: one metric family per numeric
/// field, named `<scheduler>_<field>` (counters get the `_total` sample suffix), with the field's
/// description as `HELP`; vectors get an `index` label and maps a `key` label. String fields are
/// left out. Ends without `# EOF` so several schedulers can be concatenated; append it once.
pub fn openmetrics(scheduler: &str, fields: &[FieldMeta], stats: &Value) -> String {
    let mut out = String::new();
    for f in fields {
        let family = format!("{}_{}", metric_name(scheduler), metric_name(&f.name));
        let (kind, suffix) = match f.kind {
            FieldKind::Counter => ("counter", "_total"),
            FieldKind::Gauge => ("gauge", ""),
        };
        let mut samples = Vec::new();
        match &stats[&f.name] {
            Value::Number(n) => samples.push((String::new(), n.to_string())),
            Value::Bool(b) => samples.push((String::new(), u8::from(*b).to_string())),
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    if let Value::Number(n) = v {
                        samples.push((format!("{{index=\"{i}\"}}"), n.to_string()));
                    }
                }
            }
            Value::Object(o) => {
                for (k, v) in o {
                    if let Value::Number(n) = v {
                        samples.push((format!("{{key=\"{}\"}}", escape_label(k)), n.to_string()));
                    }
                }
            }
            _ => {}
        }
        if samples.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# TYPE {family} {kind}");
        let _ = writeln!(out, "# HELP {family} {}", escape_help(&f.desc));
        for (labels, value) in samples {
            let _ = writeln!(out, "{family}{suffix}{labels} {value}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields() -> Vec<FieldMeta> {
        vec![
            FieldMeta {
                name: "picks".into(),
                kind: FieldKind::Counter,
                desc: "Idle CPUs picked.".into(),
            },
            FieldMeta {
                name: "busy".into(),
                kind: FieldKind::Gauge,
                desc: "Busy share per domain, \"percent\".".into(),
            },
            FieldMeta {
                name: "mode".into(),
                kind: FieldKind::Gauge,
                desc: "Mode.".into(),
            },
        ]
    }

    #[test]
    fn openmetrics_has_types_help_suffixes_and_labels() {
        let text = openmetrics(
            "scx_x",
            &fields(),
            &json!({"picks": 12, "busy": [50.5, 7], "mode": "auto"}),
        );
        let expected = "# TYPE scx_x_picks counter\n\
                        # HELP scx_x_picks Idle CPUs picked.\n\
                        scx_x_picks_total 12\n\
                        # TYPE scx_x_busy gauge\n\
                        # HELP scx_x_busy Busy share per domain, \"percent\".\n\
                        scx_x_busy{index=\"0\"} 50.5\n\
                        scx_x_busy{index=\"1\"} 7\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn table_shows_totals_then_rates() {
        let mut t = Table::new("scx_x", fields());
        let first = t.render(&json!({"picks": 10, "busy": [1, 2], "mode": "auto"}));
        assert!(first.contains("10 total"), "{first}");
        assert!(first.contains("Idle CPUs picked."), "{first}");
        assert!(first.contains("auto"), "{first}");
        std::thread::sleep(std::time::Duration::from_millis(100));
        let second = t.render(&json!({"picks": 20, "busy": [1, 2], "mode": "auto"}));
        assert!(second.contains("/s"), "{second}");
        assert!(second.contains("rates over"), "{second}");
    }

    #[test]
    fn table_shows_a_map_of_records_one_row_per_key() {
        let fields = vec![FieldMeta {
            name: "layers".into(),
            kind: FieldKind::Gauge,
            desc: "Per layer.".into(),
        }];
        let mut t = Table::new("scx_x", fields);
        let out = t.render(
            &json!({"layers": {"a": {"cpus": 1, "util": 0.5}, "b": {"cpus": 2, "util": 1.5}}}),
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(lines[1].contains("Per layer."), "{out}");
        assert_eq!(lines[2].trim(), "a: cpus=1 util=0.50");
        assert_eq!(lines[3].trim(), "b: cpus=2 util=1.50");
    }
}
