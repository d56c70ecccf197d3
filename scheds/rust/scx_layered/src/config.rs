//! The layer configuration: parsing (file, `f:PATH` or inline JSON; several arguments
//! concatenate their layers), validation with one-line errors that name the layer and the field,
//! the human-readable listing of `--check`, and the `--example` config.
//!
//! Every field is read from the JSON tree one at a time (rather than deserialising the whole
//! document into structs) so that an error can say which layer and which field it is about;
//! JSON syntax errors keep serde_json's line and column.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Limits of the BPF side's tables.
pub const MAX_LAYERS: usize = crate::bpf_intf::layered_consts_MAX_LAYERS as usize;
pub const MAX_OR: usize = crate::bpf_intf::layered_consts_MAX_OR as usize;
pub const MAX_AND: usize = crate::bpf_intf::layered_consts_MAX_AND as usize;
pub const MAX_CGROUP_MATCHERS: usize = crate::bpf_intf::layered_consts_MAX_CGROUP_MATCHERS as usize;
/// A comm is at most 15 bytes (16 with the NUL).
pub const MAX_COMM: usize = crate::bpf_intf::layered_consts_COMM_LEN as usize - 1;
/// Longest layer name (it becomes a stats key).
pub const MAX_NAME: usize = 32;

/// One condition on a task. A layer's `matches` is an OR of AND-lists of these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Matcher {
    /// The task's cgroup path (as under /sys/fs/cgroup, starting with `/`) starts with this.
    CgroupPrefix(String),
    /// The task's cgroup path ends with this.
    CgroupSuffix(String),
    /// The task's cgroup path contains this.
    CgroupContains(String),
    /// The task's comm starts with this.
    CommPrefix(String),
    /// The comm of the task's process leader starts with this.
    PcommPrefix(String),
    /// nice > this.
    NiceAbove(i32),
    /// nice < this.
    NiceBelow(i32),
    /// nice == this.
    NiceEquals(i32),
    /// Effective UID.
    UIDEquals(u32),
    /// Effective GID.
    GIDEquals(u32),
    /// Thread id.
    PIDEquals(u32),
    /// The process id of the parent process.
    PPIDEquals(u32),
    /// The process id (thread group id).
    TGIDEquals(u32),
    /// The task is (true) or is not (false) its process's leader.
    IsGroupLeader(bool),
    /// The task is (true) or is not (false) a kernel thread.
    IsKthread(bool),
    /// The task's runs average at least [0] and less than [1] microseconds.
    AvgRuntime(u64, u64),
}

/// The valid matcher names, for error messages.
pub const MATCHER_NAMES: &[&str] = &[
    "CgroupPrefix",
    "CgroupSuffix",
    "CgroupContains",
    "CommPrefix",
    "PcommPrefix",
    "NiceAbove",
    "NiceBelow",
    "NiceEquals",
    "UIDEquals",
    "GIDEquals",
    "PIDEquals",
    "PPIDEquals",
    "TGIDEquals",
    "IsGroupLeader",
    "IsKthread",
    "AvgRuntime",
];

/// The valid kind names.
pub const KIND_NAMES: &[&str] = &["Confined", "Grouped", "Open"];

/// How a layer shares the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindName {
    /// Only on its own CPUs.
    Confined,
    /// Its own CPUs, plus the CPUs no layer owns.
    Grouped,
    /// Any CPU no layer owns exclusively.
    Open,
}

impl fmt::Display for KindName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KindName::Confined => "Confined",
            KindName::Grouped => "Grouped",
            KindName::Open => "Open",
        })
    }
}

/// A layer's kind and its options, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Kind {
    pub name: KindName,
    /// CPUs the layer owns: at least / at most (Confined and Grouped).
    pub cpus_range: (usize, usize),
    /// Target utilisation per owned CPU (0..1): grow above the upper bound, shrink below the lower.
    pub util_range: (f64, f64),
    /// Slice in µs (0: the `--slice-us` default).
    pub slice_us: u64,
    /// Share among layers when they contend (1..=10000).
    pub weight: u64,
    /// Its waking tasks preempt tasks of non-preempting layers.
    pub preempt: bool,
    /// Whole cores; no other layer runs on them.
    pub exclusive: bool,
}

/// One layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub name: String,
    pub comment: String,
    pub matches: Vec<Vec<Matcher>>,
    pub kind: Kind,
}

/// A problem with the config: a one-line message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

type Res<T> = Result<T, ConfigError>;

fn err<T>(msg: impl Into<String>) -> Res<T> {
    Err(ConfigError(msg.into()))
}

/// Where a layer came from, for messages: `config web.json: layer "batch" (#2)`.
struct Ctx<'a> {
    src: &'a str,
    idx: usize,
    name: Option<&'a str>,
}

impl Ctx<'_> {
    fn fail<T>(&self, field: &str, msg: impl fmt::Display) -> Res<T> {
        match self.name {
            Some(n) => err(format!(
                "config {}: layer \"{n}\" (#{}): {field}: {msg}",
                self.src, self.idx
            )),
            None => err(format!(
                "config {}: layer #{}: {field}: {msg}",
                self.src, self.idx
            )),
        }
    }
}

/// The text of one config argument: `f:PATH` / `file:PATH`, inline JSON (starts with `[` or
/// `{`), or else a path. Returns (label for messages, text).
pub fn read_arg(arg: &str) -> Res<(String, String)> {
    let trimmed = arg.trim_start();
    let path = if let Some(p) = arg.strip_prefix("f:").or_else(|| arg.strip_prefix("file:")) {
        p
    } else if trimmed.starts_with('[') || trimmed.starts_with('{') {
        return Ok(("(inline)".into(), arg.to_string()));
    } else {
        arg
    };
    if path.is_empty() {
        return err("config: empty file name (give a path to a JSON file, f:PATH, or inline JSON)");
    }
    match std::fs::read_to_string(path) {
        Ok(s) => Ok((path.to_string(), s)),
        Err(e) => err(format!(
            "config {path}: cannot read it: {e} (give a path to a JSON file, f:PATH, or inline JSON)"
        )),
    }
}

/// Parse and validate the layers of all `args`, concatenated.
pub fn load(args: &[String]) -> Res<Vec<Layer>> {
    if args.is_empty() {
        return err(
            "no config given: pass a JSON file, f:PATH or inline JSON (--example prints one)",
        );
    }
    let mut layers = Vec::new();
    for a in args {
        let (label, text) = read_arg(a)?;
        layers.extend(parse_text(&label, &text)?);
    }
    validate(&layers)?;
    Ok(layers)
}

/// Parse one document: a JSON array of layers, or an object `{"comment": ..., "layers": [...]}`.
/// Checks each layer on its own; [`validate`] checks the whole list.
pub fn parse_text(src: &str, text: &str) -> Res<Vec<Layer>> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        ConfigError(format!(
            "config {src}: invalid JSON at line {} column {}: {}",
            e.line(),
            e.column(),
            strip_position(&e.to_string())
        ))
    })?;
    let arr = match v {
        Value::Array(a) => a,
        Value::Object(mut o) => {
            if let Some(k) = o.keys().find(|k| *k != "layers" && *k != "comment") {
                return err(format!(
                    "config {src}: unknown top-level field \"{k}\" (valid: layers, comment)"
                ));
            }
            match o.remove("layers") {
                Some(Value::Array(a)) => a,
                Some(_) => {
                    return err(format!(
                        "config {src}: \"layers\" must be an array of layers"
                    ))
                }
                None => {
                    return err(format!(
                        "config {src}: an object config needs a \"layers\" array"
                    ))
                }
            }
        }
        _ => {
            return err(format!(
                "config {src}: expected an array of layers (or an object with \"layers\")"
            ))
        }
    };
    arr.iter()
        .enumerate()
        .map(|(i, l)| parse_layer(src, i, l))
        .collect()
}

fn strip_position(s: &str) -> String {
    match s.find(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_layer(src: &str, idx: usize, v: &Value) -> Res<Layer> {
    let mut ctx = Ctx {
        src,
        idx,
        name: None,
    };
    let Value::Object(o) = v else {
        return ctx.fail(
            "layer",
            format!("expected an object, found {}", type_name(v)),
        );
    };
    let name = match o.get("name") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return ctx.fail(
                "name",
                format!("expected a string, found {}", type_name(other)),
            )
        }
        None => return ctx.fail("name", "missing"),
    };
    if name.is_empty()
        || name.len() > MAX_NAME
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return ctx.fail(
            "name",
            format!(
                "\"{}\" is not 1 to {MAX_NAME} letters, digits, '_' or '-'",
                name.escape_default()
            ),
        );
    }
    ctx.name = Some(&name);
    for k in o.keys() {
        if !["name", "comment", "matches", "kind"].contains(&k.as_str()) {
            return ctx.fail(
                k,
                "unknown field (valid: name, comment, matches, kind; options go inside kind)",
            );
        }
    }
    let comment = match o.get("comment") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return ctx.fail(
                "comment",
                format!("expected a string, found {}", type_name(other)),
            )
        }
    };
    let matches = parse_matches(&ctx, o.get("matches"))?;
    let kind = match o.get("kind") {
        Some(k) => parse_kind(&ctx, k)?,
        None => {
            return ctx.fail(
                "kind",
                format!("missing (one of {})", KIND_NAMES.join(", ")),
            )
        }
    };
    Ok(Layer {
        name: name.clone(),
        comment,
        matches,
        kind,
    })
}

fn parse_matches(ctx: &Ctx, v: Option<&Value>) -> Res<Vec<Vec<Matcher>>> {
    let Some(v) = v else {
        return ctx.fail(
            "matches",
            "missing (a list of AND-lists; [[]] matches every task)",
        );
    };
    let Value::Array(ors) = v else {
        return ctx.fail(
            "matches",
            format!("expected an array of arrays, found {}", type_name(v)),
        );
    };
    if ors.is_empty() {
        return ctx.fail(
            "matches",
            "empty: the layer could never match a task (use [[]] to match every task)",
        );
    }
    if ors.len() > MAX_OR {
        return ctx.fail(
            "matches",
            format!("{} OR groups, at most {MAX_OR} are supported", ors.len()),
        );
    }
    let mut out = Vec::new();
    for (i, and) in ors.iter().enumerate() {
        let field = format!("matches[{i}]");
        let Value::Array(terms) = and else {
            return ctx.fail(
                &field,
                format!("expected an array (an AND-list), found {}", type_name(and)),
            );
        };
        if terms.len() > MAX_AND {
            return ctx.fail(
                &field,
                format!("{} terms, at most {MAX_AND} are supported", terms.len()),
            );
        }
        let mut group = Vec::new();
        for (j, t) in terms.iter().enumerate() {
            group.push(parse_matcher(ctx, &format!("matches[{i}][{j}]"), t)?);
        }
        out.push(group);
    }
    Ok(out)
}

fn parse_matcher(ctx: &Ctx, field: &str, v: &Value) -> Res<Matcher> {
    let valid = || format!("valid matchers: {}", MATCHER_NAMES.join(", "));
    let (key, arg) = match v {
        Value::Object(o) if o.len() == 1 => o.iter().next().expect("one entry"),
        Value::String(s) => {
            return ctx.fail(
                field,
                format!(
                    "\"{s}\" needs an argument: write {{\"{s}\": VALUE}} ({})",
                    valid()
                ),
            )
        }
        _ => {
            return ctx.fail(
                field,
                format!(
                    "expected an object with one matcher, like {{\"CommPrefix\": \"lat\"}} ({})",
                    valid()
                ),
            )
        }
    };
    if !MATCHER_NAMES.contains(&key.as_str()) {
        return ctx.fail(field, format!("unknown matcher \"{key}\" ({})", valid()));
    }
    let m: Matcher =
        serde_json::from_value(Value::Object(Map::from_iter([(key.clone(), arg.clone())])))
            .map_err(|e| {
                ConfigError(format!(
                    "config {}: layer \"{}\" (#{}): {field}: {key}: bad argument {}: {}",
                    ctx.src,
                    ctx.name.unwrap_or("?"),
                    ctx.idx,
                    arg,
                    e
                ))
            })?;
    let field = format!("{field}.{key}");
    match &m {
        Matcher::CgroupPrefix(s) | Matcher::CgroupSuffix(s) | Matcher::CgroupContains(s) => {
            if s.is_empty() {
                return ctx.fail(
                    &field,
                    "empty string (it would match every cgroup; use [] for that)",
                );
            }
            if s.len() > 4096 || s.contains('\0') {
                return ctx.fail(&field, "not a cgroup path (at most 4096 bytes, no NUL)");
            }
        }
        Matcher::CommPrefix(s) | Matcher::PcommPrefix(s)
            if s.is_empty() || s.len() > MAX_COMM || s.contains('\0') =>
        {
            return ctx.fail(
                &field,
                format!(
                    "\"{}\" must be 1 to {MAX_COMM} bytes (a comm's length), no NUL",
                    s.escape_default()
                ),
            );
        }
        Matcher::NiceAbove(n) | Matcher::NiceBelow(n) | Matcher::NiceEquals(n)
            if !(-20..=19).contains(n) =>
        {
            return ctx.fail(&field, format!("{n} is outside the nice range -20..19"));
        }
        Matcher::AvgRuntime(lo, hi) => {
            if lo >= hi {
                return ctx.fail(
                    &field,
                    format!("[{lo}, {hi}] is empty: the minimum (µs) must be below the maximum"),
                );
            }
            if *hi > u64::MAX / 1000 {
                return ctx.fail(&field, format!("{hi} µs is too large"));
            }
        }
        _ => {}
    }
    Ok(m)
}

fn parse_range_usize(ctx: &Ctx, field: &str, v: &Value) -> Res<(usize, usize)> {
    match v {
        Value::Array(a) if a.len() == 2 => {
            let get = |x: &Value| x.as_u64().filter(|n| *n <= 1 << 20);
            match (get(&a[0]), get(&a[1])) {
                (Some(lo), Some(hi)) => Ok((lo as usize, hi as usize)),
                _ => ctx.fail(field, format!("expected [MIN, MAX] CPU counts, found {v}")),
            }
        }
        _ => ctx.fail(field, format!("expected [MIN, MAX] CPU counts, found {v}")),
    }
}

fn parse_range_f64(ctx: &Ctx, field: &str, v: &Value) -> Res<(f64, f64)> {
    match v {
        Value::Array(a) if a.len() == 2 => match (a[0].as_f64(), a[1].as_f64()) {
            (Some(lo), Some(hi)) => Ok((lo, hi)),
            _ => ctx.fail(
                field,
                format!("expected [LOW, HIGH] between 0 and 1, found {v}"),
            ),
        },
        _ => ctx.fail(
            field,
            format!("expected [LOW, HIGH] between 0 and 1, found {v}"),
        ),
    }
}

const KIND_OPTIONS: &[&str] = &[
    "cpus_range",
    "util_range",
    "slice_us",
    "weight",
    "preempt",
    "exclusive",
];

fn parse_kind(ctx: &Ctx, v: &Value) -> Res<Kind> {
    let valid = || format!("valid kinds: {}", KIND_NAMES.join(", "));
    let (key, opts) = match v {
        Value::Object(o) if o.len() == 1 => o.iter().next().expect("one entry"),
        Value::String(s) if KIND_NAMES.contains(&s.as_str()) => {
            return ctx.fail(
                "kind",
                format!("write {{\"{s}\": {{...options}}}} (an object, even if empty)"),
            )
        }
        _ => {
            return ctx.fail(
                "kind",
                format!(
                    "expected an object with one kind, like {{\"Open\": {{}}}} ({})",
                    valid()
                ),
            )
        }
    };
    let name = match key.as_str() {
        "Confined" => KindName::Confined,
        "Grouped" => KindName::Grouped,
        "Open" => KindName::Open,
        _ => return ctx.fail("kind", format!("unknown kind \"{key}\" ({})", valid())),
    };
    let Value::Object(o) = opts else {
        return ctx.fail(
            &format!("kind.{key}"),
            format!("expected an object of options, found {}", type_name(opts)),
        );
    };
    for k in o.keys() {
        if !KIND_OPTIONS.contains(&k.as_str()) {
            return ctx.fail(
                &format!("kind.{key}.{k}"),
                format!("unknown option (valid: {})", KIND_OPTIONS.join(", ")),
            );
        }
    }
    let f = |k: &str| format!("kind.{key}.{k}");
    let owns = name != KindName::Open;
    let cpus_range = match o.get("cpus_range") {
        Some(_) if !owns => {
            return ctx.fail(&f("cpus_range"), "Open layers own no CPUs: remove it")
        }
        Some(r) => parse_range_usize(ctx, &f("cpus_range"), r)?,
        None if owns => {
            return ctx.fail(
                &f("cpus_range"),
                "missing: [MIN, MAX] CPUs the layer may own",
            )
        }
        None => (0, 0),
    };
    let util_range = match o.get("util_range") {
        Some(_) if !owns => {
            return ctx.fail(&f("util_range"), "Open layers are not resized: remove it")
        }
        Some(r) => parse_range_f64(ctx, &f("util_range"), r)?,
        None if owns => {
            return ctx.fail(
                &f("util_range"),
                "missing: [LOW, HIGH] utilisation per CPU, e.g. [0.5, 0.8]",
            )
        }
        None => (0.0, 1.0),
    };
    let num = |k: &str, default: u64| -> Res<u64> {
        match o.get(k) {
            None => Ok(default),
            Some(x) => x.as_u64().map_or_else(
                || ctx.fail(&f(k), format!("expected a whole number, found {x}")),
                Ok,
            ),
        }
    };
    let flag = |k: &str| -> Res<bool> {
        match o.get(k) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(x) => ctx.fail(&f(k), format!("expected true or false, found {x}")),
        }
    };
    let kind = Kind {
        name,
        cpus_range,
        util_range,
        slice_us: num("slice_us", 0)?,
        weight: num("weight", 100)?,
        preempt: flag("preempt")?,
        exclusive: flag("exclusive")?,
    };
    if owns {
        let (lo, hi) = kind.cpus_range;
        if lo > hi {
            return ctx.fail(
                &f("cpus_range"),
                format!("[{lo}, {hi}]: the minimum is above the maximum"),
            );
        }
        if hi == 0 {
            return ctx.fail(
                &f("cpus_range"),
                "[0, 0]: the layer could never own a CPU (use Open)",
            );
        }
        if name == KindName::Confined && lo == 0 {
            return ctx.fail(
                &f("cpus_range"),
                format!(
                    "[0, {hi}]: a Confined layer needs at least 1 CPU or its tasks could never run"
                ),
            );
        }
        let (ulo, uhi) = kind.util_range;
        if !(0.0..=1.0).contains(&ulo) || !(0.0..=1.0).contains(&uhi) {
            return ctx.fail(
                &f("util_range"),
                format!("[{ulo}, {uhi}]: both bounds must be between 0 and 1"),
            );
        }
        if ulo >= uhi {
            return ctx.fail(
                &f("util_range"),
                format!("[{ulo}, {uhi}]: the low bound must be below the high bound"),
            );
        }
    }
    if kind.slice_us != 0 && !(100..=1_000_000).contains(&kind.slice_us) {
        return ctx.fail(
            &f("slice_us"),
            format!(
                "{} is outside 100..=1000000 (0: the default)",
                kind.slice_us
            ),
        );
    }
    if !(1..=10_000).contains(&kind.weight) {
        return ctx.fail(
            &f("weight"),
            format!("{} is outside 1..=10000", kind.weight),
        );
    }
    if kind.exclusive && !owns {
        return ctx.fail(
            &f("exclusive"),
            "Open layers own no CPUs to be exclusive on",
        );
    }
    Ok(kind)
}

fn is_catch_all(l: &Layer) -> bool {
    l.matches.iter().any(|g| g.is_empty())
}

/// Checks across layers: count, unique names, the catch-all at the end, cgroup matcher count.
pub fn validate(layers: &[Layer]) -> Res<()> {
    if layers.is_empty() {
        return err("config: no layers (the last layer must match every task: \"matches\": [[]])");
    }
    if layers.len() > MAX_LAYERS {
        return err(format!(
            "config: {} layers, at most {MAX_LAYERS} are supported",
            layers.len()
        ));
    }
    for (i, l) in layers.iter().enumerate() {
        if let Some(j) = layers[..i].iter().position(|o| o.name == l.name) {
            return err(format!(
                "config: layer \"{}\" (#{i}): name: duplicate of layer #{j}",
                l.name
            ));
        }
        if i + 1 < layers.len() {
            if let Some(g) = l.matches.iter().position(|g| g.is_empty()) {
                return err(format!(
                    "config: layer \"{}\" (#{i}): matches[{g}]: an empty AND-list matches every task, so the layers after it could never match; only the last layer may be a catch-all",
                    l.name
                ));
            }
        }
    }
    let last = layers.last().expect("not empty");
    if !is_catch_all(last) {
        return err(format!(
            "config: layer \"{}\" (#{}): matches: the last layer must match every task (add [] to its matches)",
            last.name,
            layers.len() - 1
        ));
    }
    let nr_cg = cgroup_matchers(layers).len();
    if nr_cg > MAX_CGROUP_MATCHERS {
        return err(format!(
            "config: {nr_cg} cgroup matchers, at most {MAX_CGROUP_MATCHERS} are supported"
        ));
    }
    Ok(())
}

/// Checks against the machine: minimum CPU counts that fit. Open/Grouped layers need a CPU
/// that no layer owns.
pub fn check_fits(layers: &[Layer], nr_cpus: usize) -> Res<()> {
    let need_open = layers.iter().any(|l| l.kind.name != KindName::Confined);
    let avail = nr_cpus.saturating_sub(usize::from(need_open));
    let mut sum = 0;
    for (i, l) in layers.iter().enumerate() {
        if l.kind.name == KindName::Open {
            continue;
        }
        if l.kind.cpus_range.0 > avail {
            return err(format!(
                "config: layer \"{}\" (#{i}): kind.{}.cpus_range: minimum {} is more than the {avail} CPU(s) layers can own on this machine ({nr_cpus} online{})",
                l.name,
                l.kind.name,
                l.kind.cpus_range.0,
                if need_open { ", one kept for Open/Grouped layers" } else { "" }
            ));
        }
        sum += l.kind.cpus_range.0;
    }
    if sum > avail {
        return err(format!(
            "config: the layers' minimum CPU counts add up to {sum}, more than the {avail} CPU(s) layers can own on this machine ({nr_cpus} online{})",
            if need_open { ", one kept for Open/Grouped layers" } else { "" }
        ));
    }
    Ok(())
}

/// The cgroup matchers in config order: (layer, or, and) and the matcher. Their position is the
/// bit the BPF side tests.
pub fn cgroup_matchers(layers: &[Layer]) -> Vec<(usize, usize, usize, &Matcher)> {
    let mut out = Vec::new();
    for (li, l) in layers.iter().enumerate() {
        for (oi, g) in l.matches.iter().enumerate() {
            for (ai, m) in g.iter().enumerate() {
                if matches!(
                    m,
                    Matcher::CgroupPrefix(_)
                        | Matcher::CgroupSuffix(_)
                        | Matcher::CgroupContains(_)
                ) {
                    out.push((li, oi, ai, m));
                }
            }
        }
    }
    out
}

/// Whether a cgroup matcher matches `path` (relative to the cgroup root, starting with `/`).
pub fn cgroup_matches(m: &Matcher, path: &str) -> bool {
    match m {
        Matcher::CgroupPrefix(s) => path.starts_with(s.as_str()),
        Matcher::CgroupSuffix(s) => path.ends_with(s.as_str()),
        Matcher::CgroupContains(s) => path.contains(s.as_str()),
        _ => false,
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::CgroupPrefix(s) => write!(f, "cgroup starts with {s:?}"),
            Matcher::CgroupSuffix(s) => write!(f, "cgroup ends with {s:?}"),
            Matcher::CgroupContains(s) => write!(f, "cgroup contains {s:?}"),
            Matcher::CommPrefix(s) => write!(f, "comm starts with {s:?}"),
            Matcher::PcommPrefix(s) => write!(f, "process comm starts with {s:?}"),
            Matcher::NiceAbove(n) => write!(f, "nice > {n}"),
            Matcher::NiceBelow(n) => write!(f, "nice < {n}"),
            Matcher::NiceEquals(n) => write!(f, "nice == {n}"),
            Matcher::UIDEquals(n) => write!(f, "uid == {n}"),
            Matcher::GIDEquals(n) => write!(f, "gid == {n}"),
            Matcher::PIDEquals(n) => write!(f, "pid == {n}"),
            Matcher::PPIDEquals(n) => write!(f, "ppid == {n}"),
            Matcher::TGIDEquals(n) => write!(f, "tgid == {n}"),
            Matcher::IsGroupLeader(b) => write!(f, "{}group leader", if *b { "" } else { "not " }),
            Matcher::IsKthread(b) => write!(f, "{}kernel thread", if *b { "" } else { "not " }),
            Matcher::AvgRuntime(lo, hi) => write!(f, "average run in [{lo}, {hi}) µs"),
        }
    }
}

/// The `--check` listing: one block per layer, defaults resolved.
pub fn describe(layers: &[Layer], default_slice_us: u64) -> String {
    let mut out = String::new();
    for (i, l) in layers.iter().enumerate() {
        let k = &l.kind;
        out.push_str(&format!("layer {i} \"{}\": {}", l.name, k.name));
        if k.name != KindName::Open {
            out.push_str(&format!(
                " cpus {}..={} util {:.2}..{:.2}",
                k.cpus_range.0, k.cpus_range.1, k.util_range.0, k.util_range.1
            ));
        }
        out.push_str(&format!(
            " slice {} us weight {}{}{}\n",
            if k.slice_us == 0 {
                default_slice_us
            } else {
                k.slice_us
            },
            k.weight,
            if k.preempt { " preempt" } else { "" },
            if k.exclusive { " exclusive" } else { "" }
        ));
        if !l.comment.is_empty() {
            out.push_str(&format!("  # {}\n", l.comment));
        }
        for g in &l.matches {
            if g.is_empty() {
                out.push_str("  match: every task\n");
            } else {
                let terms: Vec<String> = g.iter().map(|m| m.to_string()).collect();
                out.push_str(&format!("  match: {}\n", terms.join(" and ")));
            }
        }
    }
    out
}

/// The `--example` config: valid, every matcher and kind shown, explained in "comment" fields.
pub const EXAMPLE: &str = r#"{
  "comment": "scx_layered example. Each task joins the first layer whose matches it satisfies; matches is an OR of AND-lists; the last layer must match every task ([[]]). Kinds: Confined (only its own CPUs), Grouped (its own CPUs plus the unowned ones), Open (any CPU not owned exclusively). Confined/Grouped layers own between cpus_range CPUs, resized every interval to keep utilisation per CPU within util_range. Options: slice_us (0 = --slice-us), weight (1..10000, share among contending layers), preempt, exclusive (whole cores, no other layer on them).",
  "layers": [
    {
      "name": "batch",
      "comment": "Everything in the /batch cgroup and nice>10 work: one CPU, never more.",
      "matches": [
        [{ "CgroupPrefix": "/batch" }],
        [{ "NiceAbove": 10 }, { "IsKthread": false }]
      ],
      "kind": { "Confined": { "cpus_range": [1, 1], "util_range": [0.5, 0.8], "slice_us": 20000 } }
    },
    {
      "name": "interactive",
      "comment": "Latency-sensitive tasks: preempt the others on wake-up, short slices.",
      "matches": [
        [{ "CommPrefix": "lat" }],
        [{ "PcommPrefix": "Xorg" }],
        [{ "AvgRuntime": [0, 500] }, { "NiceBelow": 0 }]
      ],
      "kind": { "Open": { "preempt": true, "slice_us": 2000, "weight": 200 } }
    },
    {
      "name": "web",
      "comment": "A service's cgroup: owns up to 2 CPUs while busy, may spill onto unowned ones.",
      "matches": [
        [{ "CgroupSuffix": "/web.service" }],
        [{ "CgroupContains": "/nginx" }, { "IsGroupLeader": true }],
        [{ "UIDEquals": 33 }, { "GIDEquals": 33 }]
      ],
      "kind": { "Grouped": { "cpus_range": [0, 2], "util_range": [0.4, 0.7], "weight": 150 } }
    },
    {
      "name": "one-off",
      "comment": "Examples of id matchers: a given process, thread, parent, or nice level.",
      "matches": [
        [{ "TGIDEquals": 4242 }],
        [{ "PIDEquals": 4243 }],
        [{ "PPIDEquals": 4244 }],
        [{ "NiceEquals": 19 }]
      ],
      "kind": { "Open": { "weight": 50 } }
    },
    {
      "name": "rest",
      "comment": "The catch-all: every other task.",
      "matches": [[]],
      "kind": { "Open": {} }
    }
  ]
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Res<Vec<Layer>> {
        let l = parse_text("t", s)?;
        validate(&l)?;
        Ok(l)
    }

    fn bad(s: &str, want: &[&str]) {
        let e = parse(s).expect_err("should be rejected").0;
        assert!(!e.contains('\n'), "one line: {e}");
        for w in want {
            assert!(e.contains(w), "{e:?} should mention {w:?}");
        }
    }

    const CATCH: &str = r#"{"name":"rest","matches":[[]],"kind":{"Open":{}}}"#;

    fn with_layer(l: &str) -> String {
        format!("[{l},{CATCH}]")
    }

    #[test]
    fn example_is_valid_and_complete() {
        let l = parse(EXAMPLE).unwrap();
        assert_eq!(l.len(), 5);
        let used: std::collections::BTreeSet<String> = l
            .iter()
            .flat_map(|l| l.matches.iter().flatten())
            .map(|m| {
                serde_json::to_value(m)
                    .unwrap()
                    .as_object()
                    .unwrap()
                    .keys()
                    .next()
                    .unwrap()
                    .clone()
            })
            .collect();
        for n in MATCHER_NAMES {
            assert!(used.contains(*n), "the example shows {n}");
        }
        assert!(describe(&l, 20000).contains("layer 0 \"batch\": Confined cpus 1..=1"));
    }

    #[test]
    fn parses_kinds_and_defaults() {
        let l = parse(&with_layer(
            r#"{"name":"b","matches":[[{"CgroupPrefix":"/batch"}]],"kind":{"Grouped":{"cpus_range":[0,3],"util_range":[0.5,0.8]}}}"#,
        ))
        .unwrap();
        assert_eq!(l[0].kind.name, KindName::Grouped);
        assert_eq!(l[0].kind.cpus_range, (0, 3));
        assert_eq!(l[0].kind.weight, 100);
        assert_eq!(l[1].kind.name, KindName::Open);
        assert_eq!(l[0].matches[0][0], Matcher::CgroupPrefix("/batch".into()));
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        bad(
            "[\n  {\"name\": \"a\",,}\n]",
            &["config t", "line 2 column", "invalid JSON"],
        );
    }

    #[test]
    fn unknown_matcher_lists_valid_ones() {
        bad(
            &with_layer(r#"{"name":"x","matches":[[{"CommPrefx":"a"}]],"kind":{"Open":{}}}"#),
            &[
                "layer \"x\"",
                "matches[0][0]",
                "CommPrefx",
                "CgroupPrefix",
                "AvgRuntime",
            ],
        );
    }

    #[test]
    fn unknown_kind_lists_valid_ones() {
        bad(
            &with_layer(r#"{"name":"x","matches":[[{"CommPrefix":"a"}]],"kind":{"Closed":{}}}"#),
            &["layer \"x\"", "kind", "Closed", "Confined, Grouped, Open"],
        );
    }

    #[test]
    fn unknown_option_and_field() {
        bad(
            &with_layer(
                r#"{"name":"x","matches":[[{"CommPrefix":"a"}]],"kind":{"Open":{"slice":5}}}"#,
            ),
            &["layer \"x\"", "kind.Open.slice", "unknown option"],
        );
        bad(
            &with_layer(r#"{"name":"x","matchs":[[]],"kind":{"Open":{}}}"#),
            &["layer \"x\"", "matchs", "unknown field"],
        );
    }

    #[test]
    fn ranges() {
        bad(
            &with_layer(
                r#"{"name":"x","matches":[[{"CommPrefix":"a"}]],"kind":{"Confined":{"cpus_range":[3,1],"util_range":[0.5,0.8]}}}"#,
            ),
            &[
                "layer \"x\"",
                "kind.Confined.cpus_range",
                "minimum is above the maximum",
            ],
        );
        bad(
            &with_layer(
                r#"{"name":"x","matches":[[{"CommPrefix":"a"}]],"kind":{"Confined":{"cpus_range":[1,2],"util_range":[0.5,1.5]}}}"#,
            ),
            &["layer \"x\"", "kind.Confined.util_range", "between 0 and 1"],
        );
        bad(
            &with_layer(
                r#"{"name":"x","matches":[[{"CommPrefix":"a"}]],"kind":{"Grouped":{"cpus_range":[1,2],"util_range":[-0.1,0.5]}}}"#,
            ),
            &["kind.Grouped.util_range", "between 0 and 1"],
        );
        bad(
            &with_layer(
                r#"{"name":"x","matches":[[{"CommPrefix":"a"}]],"kind":{"Grouped":{"cpus_range":[1,2],"util_range":[0.8,0.5]}}}"#,
            ),
            &["kind.Grouped.util_range", "below the high bound"],
        );
        bad(
            &with_layer(
                r#"{"name":"x","matches":[[{"CommPrefix":"a"}]],"kind":{"Confined":{"cpus_range":[0,2],"util_range":[0.5,0.8]}}}"#,
            ),
            &["kind.Confined.cpus_range", "at least 1 CPU"],
        );
        bad(
            &with_layer(
                r#"{"name":"x","matches":[[{"AvgRuntime":[500,100]}]],"kind":{"Open":{}}}"#,
            ),
            &[
                "layer \"x\"",
                "matches[0][0].AvgRuntime",
                "below the maximum",
            ],
        );
        bad(
            &with_layer(r#"{"name":"x","matches":[[{"NiceAbove":30}]],"kind":{"Open":{}}}"#),
            &["matches[0][0].NiceAbove", "nice range"],
        );
        bad(
            &with_layer(
                r#"{"name":"x","matches":[[{"CommPrefix":"a"}]],"kind":{"Open":{"weight":0}}}"#,
            ),
            &["kind.Open.weight", "1..=10000"],
        );
        bad(
            &with_layer(
                r#"{"name":"x","matches":[[{"CommPrefix":"a"}]],"kind":{"Open":{"cpus_range":[1,2]}}}"#,
            ),
            &["kind.Open.cpus_range", "own no CPUs"],
        );
    }

    #[test]
    fn empty_matches() {
        bad(
            &with_layer(r#"{"name":"x","matches":[],"kind":{"Open":{}}}"#),
            &["layer \"x\"", "matches", "empty"],
        );
    }

    #[test]
    fn duplicate_names() {
        bad(
            &format!(
                r#"[{{"name":"rest","matches":[[{{"CommPrefix":"a"}}]],"kind":{{"Open":{{}}}}}},{CATCH}]"#
            ),
            &["layer \"rest\"", "name", "duplicate"],
        );
    }

    #[test]
    fn no_catch_all() {
        bad(
            r#"[{"name":"x","matches":[[{"CommPrefix":"a"}]],"kind":{"Open":{}}}]"#,
            &["layer \"x\"", "matches", "last layer must match every task"],
        );
        bad(
            &format!(
                "[{CATCH},{}]",
                r#"{"name":"x","matches":[[]],"kind":{"Open":{}}}"#
            ),
            &["layer \"rest\"", "matches[0]", "only the last layer"],
        );
    }

    #[test]
    fn missing_file() {
        let e = load(&["/nonexistent/web.json".into()]).unwrap_err().0;
        assert!(
            e.contains("/nonexistent/web.json") && e.contains("cannot read"),
            "{e}"
        );
        let e = load(&["f:/nonexistent/x.json".into()]).unwrap_err().0;
        assert!(e.contains("/nonexistent/x.json"), "{e}");
    }

    #[test]
    fn concatenates_arguments_and_files() {
        let dir = std::env::temp_dir().join(format!("scx_layered_test_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.json");
        std::fs::write(
            &p,
            r#"[{"name":"a","matches":[[{"CommPrefix":"a"}]],"kind":{"Open":{}}}]"#,
        )
        .unwrap();
        let l = load(&[format!("f:{}", p.display()), format!("[{CATCH}]")]).unwrap();
        assert_eq!(
            l.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
            ["a", "rest"]
        );
        // Each part alone: the first lacks a catch-all.
        assert!(load(&[p.display().to_string()]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn too_long_comm_and_bad_name() {
        bad(
            &with_layer(
                r#"{"name":"x","matches":[[{"CommPrefix":"abcdefghijklmnopq"}]],"kind":{"Open":{}}}"#,
            ),
            &["matches[0][0].CommPrefix", "1 to 15 bytes"],
        );
        bad(
            &with_layer(r#"{"name":"a b","matches":[[]],"kind":{"Open":{}}}"#),
            &["name", "letters"],
        );
        bad(
            &with_layer(r#"{"name":"x","matches":[[{"UIDEquals":"root"}]],"kind":{"Open":{}}}"#),
            &["matches[0][0]", "UIDEquals", "bad argument"],
        );
    }

    #[test]
    fn fits_the_machine() {
        let l = parse(&with_layer(
            r#"{"name":"b","matches":[[{"CommPrefix":"a"}]],"kind":{"Confined":{"cpus_range":[4,4],"util_range":[0.5,0.8]}}}"#,
        ))
        .unwrap();
        let e = check_fits(&l, 4).unwrap_err().0;
        assert!(e.contains("layer \"b\"") && e.contains("cpus_range"), "{e}");
        assert!(check_fits(&l, 5).is_ok());
    }

    #[test]
    fn cgroup_matching() {
        let m = Matcher::CgroupPrefix("/batch".into());
        assert!(cgroup_matches(&m, "/batch"));
        assert!(cgroup_matches(&m, "/batch/a"));
        assert!(!cgroup_matches(&m, "/web/batch"));
        assert!(cgroup_matches(&Matcher::CgroupSuffix("/a".into()), "/x/a"));
        assert!(cgroup_matches(
            &Matcher::CgroupContains("web".into()),
            "/x/web.service/y"
        ));
    }

    /// Arbitrary bytes never panic the parser. Run with
    /// `cargo test -p scx_layered --release -- --ignored fuzz_config_million` (1,000,000 cases).
    #[test]
    #[ignore]
    fn fuzz_config_million() {
        fuzz_cases(1_000_000);
    }

    #[test]
    fn fuzz_config_quick() {
        fuzz_cases(2_000);
    }

    fn fuzz_cases(n: u32) {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        let mut runner = TestRunner::new(Config {
            cases: n,
            failure_persistence: None,
            ..Config::default()
        });
        // Half raw bytes, half mutations of a valid config (so validation paths are reached).
        let strat = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..256),
            (any::<usize>(), any::<u8>(), 0usize..4).prop_map(|(pos, b, op)| {
                let mut v = EXAMPLE.as_bytes().to_vec();
                let i = pos % v.len();
                match op {
                    0 => v[i] = b,
                    1 => v.insert(i, b),
                    2 => {
                        v.remove(i);
                    }
                    _ => v.truncate(i),
                }
                v
            }),
        ];
        let count = std::sync::atomic::AtomicU64::new(0);
        runner
            .run(&strat, |bytes| {
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let s = String::from_utf8_lossy(&bytes);
                if let Ok(l) = parse_text("fuzz", &s) {
                    let _ = validate(&l);
                    let _ = check_fits(&l, 4);
                    let _ = describe(&l, 20000);
                }
                Ok(())
            })
            .unwrap();
        eprintln!("config fuzz: {} inputs, no panic", count.into_inner());
    }
}
