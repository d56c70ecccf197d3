//! Stage 1: read raw facts from sysfs.
//!
//! Every read goes through [`Reader`], which never fails: a missing file is an
//! unknown fact, and a file that cannot be read or parsed is an unknown fact
//! plus one warning naming it. Masks are read lazily and memoised, because
//! stage 2 reads other CPUs' masks to validate one CPU's.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::sysfs::{self, SysfsRoot};
use crate::topology::SmtState;
use crate::Cpumask;

pub(crate) const CPU_DIR: &str = "sys/devices/system/cpu";
pub(crate) const NODE_DIR: &str = "sys/devices/system/node";

/// The two spellings of a mask: `<name>_list` (cpulist) and `<name>` (hex
/// words). Caches spell them `shared_cpu_list` and `shared_cpu_map`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Form {
    List,
    Hex,
}

/// Data or unified (instruction caches are never read).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CacheType {
    Data,
    Unified,
}

/// A cache as the kernel describes it to one CPU: level and type. The
/// `indexM` number means nothing (it differs between CPUs and has gaps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct CacheKey {
    pub level: u8,
    pub ty: CacheType,
}

/// Every per-CPU mask discovery uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum MaskKind {
    Core,
    ThreadSiblings,
    Package,
    CoreSiblings,
    Die,
    Cluster,
    Cache(CacheKey),
}

impl MaskKind {
    fn topology_name(self) -> Option<&'static str> {
        Some(match self {
            MaskKind::Core => "core_cpus",
            MaskKind::ThreadSiblings => "thread_siblings",
            MaskKind::Package => "package_cpus",
            MaskKind::CoreSiblings => "core_siblings",
            MaskKind::Die => "die_cpus",
            MaskKind::Cluster => "cluster_cpus",
            MaskKind::Cache(_) => return None,
        })
    }
}

/// Per-CPU ids in `topology/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdKind {
    Core,
    Package,
    Die,
    Cluster,
}

impl IdKind {
    fn file(self) -> &'static str {
        match self {
            IdKind::Core => "core_id",
            IdKind::Package => "physical_package_id",
            IdKind::Die => "die_id",
            IdKind::Cluster => "cluster_id",
        }
    }
}

/// Reads files below a root; collects one warning per bad file.
pub(crate) struct Reader<'a> {
    root: &'a SysfsRoot,
    warnings: Vec<String>,
    warned: BTreeSet<PathBuf>,
    masks: BTreeMap<(usize, MaskKind, Form), Option<Cpumask>>,
    /// Per CPU: the `cache/indexM` directory of each data/unified cache.
    caches: BTreeMap<usize, BTreeMap<CacheKey, PathBuf>>,
}

/// A short, printable excerpt of bad file contents.
fn excerpt(s: &str) -> String {
    let mut e: String = s.chars().take(24).collect();
    if e.len() < s.len() {
        e.push('…');
    }
    format!("{e:?}")
}

impl<'a> Reader<'a> {
    pub fn new(root: &'a SysfsRoot) -> Self {
        Self {
            root,
            warnings: Vec::new(),
            warned: BTreeSet::new(),
            masks: BTreeMap::new(),
            caches: BTreeMap::new(),
        }
    }

    pub fn root(&self) -> &'a SysfsRoot {
        self.root
    }

    pub fn cpu_base(&self) -> PathBuf {
        self.root.join(CPU_DIR)
    }

    pub fn cpu_dir(&self, cpu: usize) -> PathBuf {
        self.root.join(format!("{CPU_DIR}/cpu{cpu}"))
    }

    /// Record a warning about `path` (at most one per file).
    pub fn warn(&mut self, path: &Path, what: impl Display) {
        if self.warned.insert(path.to_path_buf()) {
            let w = format!("{}: {what}", path.display());
            log::warn!("{w}");
            self.warnings.push(w);
        }
    }

    pub fn into_warnings(self) -> Vec<String> {
        self.warnings
    }

    /// Trimmed contents; `None` if missing or unreadable (warned).
    pub fn text(&mut self, path: &Path) -> Option<String> {
        match sysfs::read_opt(path) {
            Ok(v) => v,
            Err(e) => {
                self.warn(path, format!("unreadable ({e:#}); ignored"));
                None
            }
        }
    }

    /// A number; `None` if missing, empty or not a number (warned).
    pub fn num<T: FromStr>(&mut self, path: &Path) -> Option<T> {
        let s = self.text(path)?;
        if s.is_empty() {
            return None;
        }
        match s.parse::<T>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.warn(path, format!("not a number ({}); ignored", excerpt(&s)));
                None
            }
        }
    }

    fn parsed(
        &mut self,
        path: &Path,
        parse: fn(&str) -> anyhow::Result<Cpumask>,
    ) -> Option<Cpumask> {
        let s = self.text(path)?;
        if sysfs::is_null(&s) {
            return Some(Cpumask::new());
        }
        match parse(&s) {
            Ok(m) => Some(m),
            Err(e) => {
                self.warn(
                    path,
                    format!("bad CPU mask {} ({e:#}); ignored", excerpt(&s)),
                );
                None
            }
        }
    }

    /// A cpulist file; `(null)` is the empty set; `None` if missing or bad.
    pub fn list(&mut self, path: &Path) -> Option<Cpumask> {
        self.parsed(path, Cpumask::parse_list)
    }

    /// A hex-word mask file; `(null)` is the empty set; `None` if missing
    /// or bad.
    pub fn hex(&mut self, path: &Path) -> Option<Cpumask> {
        self.parsed(path, Cpumask::parse_hex)
    }

    /// An optional CPU list (`isolated`, `nohz_full`): empty unless it can
    /// be read.
    pub fn opt_list(&mut self, path: &Path) -> Cpumask {
        self.list(path).unwrap_or_default()
    }

    /// The file behind one form of a CPU's mask, if the CPU has it.
    pub fn mask_path(&self, cpu: usize, kind: MaskKind, form: Form) -> Option<PathBuf> {
        let (dir, name) = match kind.topology_name() {
            Some(n) => (self.cpu_dir(cpu).join("topology"), n.to_string()),
            None => {
                let MaskKind::Cache(key) = kind else {
                    return None;
                };
                let dir = self.caches.get(&cpu)?.get(&key)?.clone();
                (dir, "shared_cpu".to_string())
            }
        };
        let cache = matches!(kind, MaskKind::Cache(_));
        Some(dir.join(match (form, cache) {
            (Form::List, _) => format!("{name}_list"),
            (Form::Hex, false) => name,
            (Form::Hex, true) => format!("{name}_map"),
        }))
    }

    /// One form of a CPU's mask (memoised); `None` if missing or bad.
    pub fn mask(&mut self, cpu: usize, kind: MaskKind, form: Form) -> Option<Cpumask> {
        if let Some(m) = self.masks.get(&(cpu, kind, form)) {
            return m.clone();
        }
        let m = self.mask_path(cpu, kind, form).and_then(|p| match form {
            Form::List => self.list(&p),
            Form::Hex => self.hex(&p),
        });
        self.masks.insert((cpu, kind, form), m.clone());
        m
    }

    /// A CPU's id of a kind (`core_id`, ...); `None` if missing or bad.
    pub fn id(&mut self, cpu: usize, kind: IdKind) -> Option<i64> {
        let p = self.cpu_dir(cpu).join("topology").join(kind.file());
        self.num(&p)
    }

    /// The caches a CPU reports (read by [`Reader::read_caches`]).
    pub fn caches(&self, cpu: usize) -> Vec<CacheKey> {
        self.caches
            .get(&cpu)
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default()
    }

    /// The `indexM` directory of a CPU's cache.
    pub fn cache_dir(&self, cpu: usize, key: CacheKey) -> Option<PathBuf> {
        self.caches.get(&cpu)?.get(&key).cloned()
    }

    /// Read a CPU's `cache/index*` directories: each that exists (numbers
    /// may have gaps), by `type` and `level`; instruction caches skipped.
    pub fn read_caches(&mut self, cpu: usize) {
        let dir = self.cpu_dir(cpu).join("cache");
        let mut found = BTreeMap::new();
        let Some(indexes) = numbered_entries(&dir, "index") else {
            self.caches.insert(cpu, found);
            return;
        };
        for i in indexes.iter() {
            let idx = dir.join(format!("index{i}"));
            let ty_path = idx.join("type");
            let ty = match self.text(&ty_path).as_deref() {
                None => continue,
                Some("Instruction") => continue,
                Some("Data") => CacheType::Data,
                Some("Unified") => CacheType::Unified,
                Some(other) => {
                    let what = format!("unknown cache type {}; cache ignored", excerpt(other));
                    self.warn(&ty_path, what);
                    continue;
                }
            };
            let level_path = idx.join("level");
            let Some(level) = self.num::<u8>(&level_path) else {
                continue;
            };
            if level == 0 {
                self.warn(&level_path, "cache level 0; cache ignored");
                continue;
            }
            found.entry(CacheKey { level, ty }).or_insert(idx);
        }
        self.caches.insert(cpu, found);
    }
}

/// Numbered subdirectories `<prefix>N` of `dir`; `None` if `dir` cannot be
/// listed.
pub(crate) fn numbered_entries(dir: &Path, prefix: &str) -> Option<Cpumask> {
    let rd = std::fs::read_dir(dir).ok()?;
    let mut m = Cpumask::new();
    for ent in rd.flatten() {
        let name = ent.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name.strip_prefix(prefix) {
            if let Ok(n) = n.parse::<usize>() {
                if n < crate::cpumask::MAX_CPUS {
                    m.set(n);
                }
            }
        }
    }
    Some(m)
}

/// The machine-wide CPU sets.
pub(crate) struct SystemSets {
    pub dirs: Cpumask,
    pub possible: Cpumask,
    pub present: Cpumask,
    pub online: Cpumask,
    pub isolated: Cpumask,
    pub nohz_full: Cpumask,
    pub smt: SmtState,
}

/// `cpu/online`, else (missing, bad or empty) the `cpuN/online` files, a
/// missing one meaning online (cpu0 has none).
pub(crate) fn read_online(r: &mut Reader, dirs: &Cpumask) -> Cpumask {
    let path = r.cpu_base().join("online");
    match r.list(&path) {
        Some(m) if !m.is_empty() => return m,
        Some(_) => r.warn(&path, "empty; using the cpuN/online files"),
        None => {}
    }
    let mut m = Cpumask::new();
    for c in dirs.iter() {
        let p = r.cpu_dir(c).join("online");
        match r.text(&p).as_deref() {
            Some("0") => {}
            None | Some("1") => m.set(c),
            Some(other) => {
                r.warn(
                    &p,
                    format!("neither 0 nor 1 ({}); taken as online", excerpt(other)),
                );
                m.set(c);
            }
        }
    }
    m
}

/// Read the machine-wide sets. Fails only when there is no CPU directory or
/// no online CPU at all.
pub(crate) fn read_system(r: &mut Reader) -> anyhow::Result<SystemSets> {
    let base = r.cpu_base();
    if !base.is_dir() {
        anyhow::bail!("{} is not a directory", base.display());
    }
    let dirs = numbered_entries(&base, "cpu").unwrap_or_default();
    let set_or_dirs = |r: &mut Reader, name: &str| -> Cpumask {
        let p = base.join(name);
        match r.list(&p) {
            Some(m) if !m.is_empty() => m,
            Some(_) => {
                r.warn(&p, "empty; using the cpuN directories");
                dirs.clone()
            }
            None => dirs.clone(),
        }
    };
    let possible = set_or_dirs(r, "possible");
    let present = set_or_dirs(r, "present");
    let online = read_online(r, &dirs);
    if online.is_empty() {
        anyhow::bail!(
            "{}: no online CPU (no readable online file and no cpuN directories)",
            base.display()
        );
    }
    let isolated = r.opt_list(&base.join("isolated"));
    let nohz_full = r.opt_list(&base.join("nohz_full"));
    // Keep online ⊆ present ⊆ possible even when the files disagree.
    let present = present.or(&online);
    let possible = possible.or(&present);
    let control = r.text(&base.join("smt/control"));
    let active_path = base.join("smt/active");
    let active = match r.text(&active_path).as_deref() {
        None => None,
        Some("1") => Some(true),
        Some("0") => Some(false),
        Some(other) => {
            r.warn(
                &active_path,
                format!("neither 0 nor 1 ({}); ignored", excerpt(other)),
            );
            None
        }
    };
    Ok(SystemSets {
        dirs,
        possible,
        present,
        online,
        isolated,
        nohz_full,
        smt: SmtState { control, active },
    })
}

/// Which optional per-CPU files exist, judged on the first online CPU.
pub(crate) struct Probe {
    pub die: bool,
    pub cluster: bool,
    pub capacity: bool,
    pub freq: bool,
}

impl Probe {
    pub fn new(r: &Reader, first: Option<usize>) -> Self {
        let Some(c) = first else {
            return Self {
                die: false,
                cluster: false,
                capacity: false,
                freq: false,
            };
        };
        let d = r.cpu_dir(c);
        let t = d.join("topology");
        let any = |names: &[&str]| names.iter().any(|n| t.join(n).exists());
        Self {
            die: any(&["die_cpus_list", "die_cpus", "die_id"]),
            cluster: any(&["cluster_cpus_list", "cluster_cpus", "cluster_id"]),
            capacity: d.join("cpu_capacity").exists(),
            freq: d.join("cpufreq/cpuinfo_max_freq").exists(),
        }
    }
}

/// Capacity and frequencies of one CPU.
#[derive(Clone, Debug, Default)]
pub(crate) struct Perf {
    pub capacity: Option<u64>,
    pub min_freq: Option<u64>,
    pub max_freq: Option<u64>,
    pub base_freq: Option<u64>,
}

pub(crate) fn read_perf(r: &mut Reader, cpu: usize, probe: &Probe) -> Perf {
    let dir = r.cpu_dir(cpu);
    let mut p = Perf::default();
    if probe.capacity {
        p.capacity = r.num(&dir.join("cpu_capacity"));
    }
    if probe.freq {
        let f = dir.join("cpufreq");
        p.max_freq = r.num(&f.join("cpuinfo_max_freq"));
        if p.max_freq.is_some() {
            p.min_freq = r.num(&f.join("cpuinfo_min_freq"));
            p.base_freq = r.num(&f.join("base_frequency"));
        }
    }
    p
}

/// What `sys/devices/system/node` says.
#[derive(Default)]
pub(crate) struct RawNodes {
    /// Whether the directory exists with at least one `nodeN`.
    pub info: bool,
    /// CPUs (online or not) each node lists.
    pub cpus: BTreeMap<usize, Cpumask>,
    pub mem: BTreeMap<usize, bool>,
    pub dist: BTreeMap<usize, BTreeMap<usize, u32>>,
    /// The highest node number the directory mentions (`nodeN`, `possible`).
    pub max_id: Option<usize>,
}

fn meminfo_has_memory(mi: &str) -> Option<bool> {
    let line = mi.lines().find(|l| l.contains("MemTotal:"))?;
    let kb = line.split_whitespace().rev().nth(1)?.parse::<u64>().ok()?;
    Some(kb > 0)
}

pub(crate) fn read_nodes(r: &mut Reader) -> RawNodes {
    let base = r.root().join(NODE_DIR);
    let Some(ids) = numbered_entries(&base, "node").filter(|m| !m.is_empty()) else {
        // No NUMA information: one node 0 (its CPUs are all online ones).
        return RawNodes {
            mem: [(0, true)].into_iter().collect(),
            dist: [(0, [(0, 10)].into_iter().collect())].into_iter().collect(),
            ..Default::default()
        };
    };
    let mut n = RawNodes {
        info: true,
        ..Default::default()
    };
    let possible = r.list(&base.join("possible")).unwrap_or_default();
    n.max_id = ids.last().max(possible.last());
    // Some node always has memory: an empty (or `(null)`) list is no answer.
    let has_mem = r.list(&base.join("has_memory")).filter(|m| !m.is_empty());
    let has_normal = r
        .list(&base.join("has_normal_memory"))
        .filter(|m| !m.is_empty());
    let online_nodes = r
        .list(&base.join("online"))
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| ids.clone());
    for id in ids.iter() {
        let d = base.join(format!("node{id}"));
        let cpus = match r.list(&d.join("cpulist")) {
            Some(m) => m,
            None => r.hex(&d.join("cpumap")).unwrap_or_default(),
        };
        n.cpus.insert(id, cpus);
        let mem = match &has_mem {
            Some(m) => m.test(id),
            None => {
                let mi = r.text(&d.join("meminfo"));
                match mi.as_deref().and_then(meminfo_has_memory) {
                    Some(v) => v,
                    None => has_normal.as_ref().is_none_or(|m| m.test(id)),
                }
            }
        };
        n.mem.insert(id, mem);
        if let Some(row) = r.text(&d.join("distance")) {
            let vals: Vec<u32> = row
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            let cols: Vec<usize> = if online_nodes.weight() == vals.len() {
                online_nodes.to_vec()
            } else {
                ids.to_vec()
            };
            n.dist.insert(id, cols.into_iter().zip(vals).collect());
        }
    }
    n
}

/// Online CPUs this process may use: affinity (`sched_getaffinity` on the
/// live system, `proc/self/status` under a fake root) ∩ the closest cgroup
/// v2 `cpuset.cpus.effective`. Unreadable files are ignored (warned).
pub(crate) fn read_allowed(r: &mut Reader, online: &Cpumask) -> Cpumask {
    let mut allowed = online.clone();
    let root = r.root();
    if root.is_live() {
        // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let rc =
            unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
        if rc == 0 {
            let mut aff = Cpumask::new();
            for c in 0..(8 * std::mem::size_of::<libc::cpu_set_t>()) {
                // SAFETY: c is within the set's size.
                if unsafe { libc::CPU_ISSET(c, &set) } {
                    aff.set(c);
                }
            }
            allowed = allowed.and(&aff);
        }
    } else if let Some(status) = r.text(&root.join("proc/self/status")) {
        for line in status.lines() {
            if let Some(v) = line.strip_prefix("Cpus_allowed_list:") {
                if let Ok(m) = Cpumask::parse_list(v) {
                    allowed = allowed.and(&m);
                }
            }
        }
    }
    // cgroup v2: the closest cpuset.cpus.effective up from our cgroup.
    if let Some(cg) = r.text(&root.join("proc/self/cgroup")) {
        if let Some(path) = cg.lines().find_map(|l| l.strip_prefix("0::")) {
            let mut p = PathBuf::from(path.trim_start_matches('/'));
            loop {
                let f = root
                    .join("sys/fs/cgroup")
                    .join(&p)
                    .join("cpuset.cpus.effective");
                if f.exists() {
                    if let Some(m) = r.list(&f) {
                        if !m.is_empty() {
                            allowed = allowed.and(&m);
                        }
                    }
                    break;
                }
                if !p.pop() {
                    break;
                }
            }
        }
    }
    allowed
}
