//! Topology discovery from sysfs.
//!
//! See the crate documentation for the model and the defined results on
//! odd machines.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::sysfs::{self, read_list, read_mask, read_num, read_opt, SysfsRoot};
use crate::Cpumask;

const CPU_DIR: &str = "sys/devices/system/cpu";
const NODE_DIR: &str = "sys/devices/system/node";

/// The kind of a core on an asymmetric system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CoreKind {
    /// All cores are alike (as far as the sources tell).
    Uniform,
    /// The fastest tier: an arm "big" core or an Intel P-core.
    Big,
    /// A tier between the fastest and the slowest (three-tier arm SoCs).
    Medium,
    /// The slowest tier: an arm "LITTLE" core or an Intel E-core.
    Little,
}

impl CoreKind {
    /// Lower-case name as used in the JSON output.
    pub fn as_str(&self) -> &'static str {
        match self {
            CoreKind::Uniform => "uniform",
            CoreKind::Big => "big",
            CoreKind::Medium => "medium",
            CoreKind::Little => "little",
        }
    }
}

/// Where core kinds or capacities were derived from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KindSource {
    /// No source: every CPU is [`CoreKind::Uniform`] with capacity 1024.
    None,
    /// Intel hybrid PMU lists `/sys/devices/cpu_core/cpus` (P) and
    /// `/sys/devices/cpu_atom/cpus` (E).
    IntelHybrid,
    /// `cpuN/cpu_capacity` (arm, arm64, riscv, recent x86).
    CpuCapacity,
    /// `cpuN/cpufreq/cpuinfo_max_freq`.
    MaxFrequency,
}

/// A cache as seen by one CPU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CacheInfo {
    /// Cache level (1, 2, 3, ...).
    pub level: u8,
    /// The kernel's cache `id`, when the file exists.
    pub id: Option<u64>,
    /// Size in bytes, when known.
    pub size: Option<u64>,
    /// Online CPUs sharing it (from `shared_cpu_list` / `shared_cpu_map`).
    pub cpus: Cpumask,
}

/// One logical CPU (a hardware thread).
#[derive(Clone, Debug, Serialize)]
pub struct Cpu {
    /// The kernel's CPU number.
    pub id: usize,
    /// Whether it is online. Offline CPUs have no groups (`None` below).
    pub online: bool,
    /// Dense package index into [`Topology::packages`].
    pub package: Option<usize>,
    /// `physical_package_id` (may be -1 or a firmware value).
    pub package_id: Option<i64>,
    /// Dense die index (only where `die_cpus` exists).
    pub die: Option<usize>,
    /// `die_id`, when the file exists.
    pub die_id: Option<i64>,
    /// Dense cluster index (only where `cluster_cpus` exists).
    pub cluster: Option<usize>,
    /// `cluster_id`, when the file exists (may be -1 or 65535).
    pub cluster_id: Option<i64>,
    /// Dense core index into [`Topology::cores`].
    pub core: Option<usize>,
    /// `core_id` (not unique: repeats across packages and clusters).
    pub core_id: Option<i64>,
    /// Dense LLC index into [`Topology::llcs`].
    pub llc: Option<usize>,
    /// NUMA node id (the kernel's number); for offline CPUs, the node
    /// whose cpulist names it, if any.
    pub node: Option<usize>,
    /// The unified level-2 cache, if any.
    pub l2: Option<CacheInfo>,
    /// The unified level-3 cache, if any.
    pub l3: Option<CacheInfo>,
    /// `cpuinfo_min_freq` in kHz.
    pub min_freq_khz: Option<u64>,
    /// `cpuinfo_max_freq` in kHz.
    pub max_freq_khz: Option<u64>,
    /// `base_frequency` in kHz (intel_pstate, amd-pstate).
    pub base_freq_khz: Option<u64>,
    /// Capacity, normalised so that the largest online CPU has 1024.
    pub capacity: u32,
    /// Kind of the CPU's core.
    pub core_kind: CoreKind,
}

/// An SMT core: the CPUs sharing `core_cpus`.
#[derive(Clone, Debug, Serialize)]
pub struct Core {
    /// Dense index into [`Topology::cores`].
    pub index: usize,
    /// `core_id` of its first CPU (not unique system-wide).
    pub id: Option<i64>,
    /// Online CPUs of the core.
    pub cpus: Cpumask,
    /// Dense LLC index.
    pub llc: usize,
    /// NUMA node id.
    pub node: usize,
    /// Dense package index.
    pub package: usize,
    /// Core kind.
    pub kind: CoreKind,
    /// Capacity of its first CPU (normalised to 1024).
    pub capacity: u32,
}

/// A last-level cache domain, always inside one NUMA node.
#[derive(Clone, Debug, Serialize)]
pub struct Llc {
    /// Dense index into [`Topology::llcs`].
    pub index: usize,
    /// The kernel's cache `id`, when present.
    pub id: Option<u64>,
    /// Cache level the LLC was taken from; 0 when the machine reports no
    /// cache and the LLC is the core itself.
    pub level: u8,
    /// Size in bytes, when known.
    pub size: Option<u64>,
    /// Online CPUs of this LLC domain (the cache's CPUs within `node`).
    pub cpus: Cpumask,
    /// All online CPUs sharing the cache; larger than `cpus` only when the
    /// cache spans NUMA nodes.
    pub cache_cpus: Cpumask,
    /// NUMA node id.
    pub node: usize,
    /// Dense core indexes inside it.
    pub cores: Vec<usize>,
}

/// A NUMA node.
#[derive(Clone, Debug, Serialize)]
pub struct Node {
    /// The kernel's node number.
    pub id: usize,
    /// Dense index into [`Topology::nodes`].
    pub index: usize,
    /// Online CPUs of the node (empty for memory-only nodes).
    pub cpus: Cpumask,
    /// Whether the node has memory (`has_memory` / `has_normal_memory`;
    /// true when neither file exists).
    pub has_memory: bool,
    /// Dense LLC indexes inside it.
    pub llcs: Vec<usize>,
    /// Distances to other nodes by node id (`nodeN/distance`); empty without
    /// NUMA information.
    pub distances: BTreeMap<usize, u32>,
}

/// A physical package (socket).
#[derive(Clone, Debug, Serialize)]
pub struct Package {
    /// Dense index into [`Topology::packages`].
    pub index: usize,
    /// `physical_package_id` of its first CPU.
    pub id: Option<i64>,
    /// Online CPUs.
    pub cpus: Cpumask,
}

/// The SMT switch state (`smt/control`, `smt/active`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SmtState {
    /// `smt/control` (`on`, `off`, `forceoff`, `notsupported`, ...).
    pub control: Option<String>,
    /// `smt/active`.
    pub active: Option<bool>,
}

/// A discovered CPU topology.
///
/// Build one with [`Topology::discover`] (live system or `$SCX_SYSFS_ROOT`)
/// or [`Topology::from_root`]. A scheduler typically makes one scheduling
/// domain per LLC:
///
/// ```
/// # fn main() -> anyhow::Result<()> {
/// use scx_topology::Topology;
///
/// let topo = Topology::discover()?;
/// for llc in topo.llcs() {
///     // One domain per LLC: its CPUs, its NUMA node, its cores.
///     let words = llc.cpus.as_bpf_words_len(topo.nr_cpu_ids().div_ceil(64));
///     println!("dom {} node {} cpus {} ({} cores) {:x?}",
///              llc.index, llc.node, llc.cpus, llc.cores.len(), words);
/// }
/// assert_eq!(topo.llcs().iter().map(|l| l.cpus.weight()).sum::<usize>(),
///            topo.online_cpus().weight());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Serialize)]
pub struct Topology {
    #[serde(skip)]
    root: SysfsRoot,
    possible: Cpumask,
    present: Cpumask,
    online: Cpumask,
    isolated: Cpumask,
    nohz_full: Cpumask,
    allowed: Cpumask,
    nr_cpu_ids: usize,
    smt: SmtState,
    smt_enabled: bool,
    numa_info: bool,
    cpus_in_no_node: Cpumask,
    capacity_source: KindSource,
    core_kind_source: KindSource,
    cpus: Vec<Cpu>,
    cores: Vec<Core>,
    llcs: Vec<Llc>,
    nodes: Vec<Node>,
    packages: Vec<Package>,
}

/// Raw per-CPU facts read from `cpuN/` for every online CPU.
#[derive(Default)]
struct RawCpu {
    l2: Option<CacheInfo>,
    l3: Option<CacheInfo>,
    llc: Option<CacheInfo>,
    capacity: Option<u64>,
    min_freq: Option<u64>,
    max_freq: Option<u64>,
    base_freq: Option<u64>,
}

fn cpu_dir(root: &SysfsRoot, cpu: usize) -> PathBuf {
    root.join(format!("{CPU_DIR}/cpu{cpu}"))
}

/// A cache object as read from one `cache/indexM`.
struct KnownCache {
    unified: bool,
    info: CacheInfo,
}

/// Reads `cache/index*` for each CPU, reusing what earlier CPUs reported:
/// a CPU inside the shared set of every cache of an earlier CPU (its SMT
/// siblings) gets that CPU's caches without reading; otherwise each index's
/// `type` and `level` are read and a cache already known at that level and
/// type whose shared set holds the CPU is reused.
#[derive(Default)]
struct CacheReader {
    known: Vec<KnownCache>,
    lists: Vec<Vec<usize>>,
    same_as: BTreeMap<usize, usize>,
}

impl CacheReader {
    fn read(&mut self, dir: &Path, cpu: usize, raw: &mut RawCpu) -> Result<()> {
        let list = match self.same_as.get(&cpu) {
            Some(&l) => self.lists[l].clone(),
            None => {
                let list = self.read_fresh(dir, cpu)?;
                let mut common: Option<Cpumask> = None;
                for &k in &list {
                    let m = &self.known[k].info.cpus;
                    common = Some(match common {
                        None => m.clone(),
                        Some(c) => c.and(m),
                    });
                }
                if let Some(common) = common {
                    let li = self.lists.len();
                    self.lists.push(list.clone());
                    for m in common.iter().filter(|&m| m > cpu) {
                        self.same_as.entry(m).or_insert(li);
                    }
                }
                list
            }
        };
        // Per level, prefer Unified over Data.
        let mut best: BTreeMap<u8, &KnownCache> = BTreeMap::new();
        for &k in &list {
            let kc = &self.known[k];
            let e = best.entry(kc.info.level).or_insert(kc);
            if kc.unified {
                *e = kc;
            }
        }
        raw.l2 = best.get(&2).filter(|k| k.unified).map(|k| k.info.clone());
        raw.l3 = best.get(&3).filter(|k| k.unified).map(|k| k.info.clone());
        raw.llc = best.values().next_back().map(|k| k.info.clone());
        Ok(())
    }

    fn read_fresh(&mut self, dir: &Path, cpu: usize) -> Result<Vec<usize>> {
        let mut list = Vec::new();
        for i in 0..64 {
            let idx = dir.join(format!("cache/index{i}"));
            let Some(ty) = read_opt(&idx.join("type"))? else {
                break;
            };
            if ty == "Instruction" {
                continue;
            }
            let Some(level) = read_num::<u8>(&idx.join("level"))? else {
                continue;
            };
            let unified = ty == "Unified";
            if let Some(k) = self.known.iter().position(|k| {
                k.info.level == level && k.unified == unified && k.info.cpus.test(cpu)
            }) {
                list.push(k);
                continue;
            }
            let cpus = match read_list(&idx.join("shared_cpu_list"))? {
                Some(m) => m,
                None => match sysfs::read_hex(&idx.join("shared_cpu_map"))? {
                    Some(m) => m,
                    None => continue,
                },
            };
            let mut cpus = cpus;
            cpus.set(cpu);
            self.known.push(KnownCache {
                unified,
                info: CacheInfo {
                    level,
                    id: read_num::<u64>(&idx.join("id"))?,
                    size: read_opt(&idx.join("size"))?.and_then(|s| sysfs::parse_size(&s)),
                    cpus,
                },
            });
            list.push(self.known.len() - 1);
        }
        Ok(list)
    }
}

/// Which optional per-CPU files exist, judged on the first online CPU.
struct Probe {
    die: bool,
    cluster: bool,
    capacity: bool,
    freq: bool,
}

impl Probe {
    fn new(root: &SysfsRoot, first: Option<usize>) -> Self {
        let Some(c) = first else {
            return Self {
                die: false,
                cluster: false,
                capacity: false,
                freq: false,
            };
        };
        let d = cpu_dir(root, c);
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

fn read_cpu(
    root: &SysfsRoot,
    cpu: usize,
    probe: &Probe,
    caches: &mut CacheReader,
) -> Result<RawCpu> {
    let dir = cpu_dir(root, cpu);
    let mut raw = RawCpu::default();
    if probe.capacity {
        raw.capacity = read_num(&dir.join("cpu_capacity"))?;
    }
    caches.read(&dir, cpu, &mut raw)?;
    if probe.freq {
        let freq = dir.join("cpufreq");
        raw.max_freq = read_num(&freq.join("cpuinfo_max_freq"))?;
        if raw.max_freq.is_some() {
            raw.min_freq = read_num(&freq.join("cpuinfo_min_freq"))?;
            raw.base_freq = read_num(&freq.join("base_frequency"))?;
        }
    }
    Ok(raw)
}

/// A group mask and id read from a CPU's `topology/` directory, read only
/// for the first CPU of each group.
#[derive(Clone, Default)]
struct GroupFacts {
    mask: Option<Cpumask>,
    id: Option<i64>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Core,
    Package,
    Die,
    Cluster,
}

impl Level {
    fn files(self) -> (&'static [&'static str], &'static str) {
        match self {
            Level::Core => (&["core_cpus", "thread_siblings"], "core_id"),
            Level::Package => (&["package_cpus", "core_siblings"], "physical_package_id"),
            Level::Die => (&["die_cpus"], "die_id"),
            Level::Cluster => (&["cluster_cpus"], "cluster_id"),
        }
    }
}

struct TopoReader<'a> {
    root: &'a SysfsRoot,
    memo: BTreeMap<(Level, usize), GroupFacts>,
}

impl TopoReader<'_> {
    fn get(&mut self, level: Level, cpu: usize) -> Result<GroupFacts> {
        if let Some(f) = self.memo.get(&(level, cpu)) {
            return Ok(f.clone());
        }
        let t = cpu_dir(self.root, cpu).join("topology");
        let (masks, id) = level.files();
        let mut mask = None;
        for m in masks {
            mask = read_mask(&t, m)?;
            if mask.is_some() {
                break;
            }
        }
        let f = GroupFacts {
            mask,
            id: read_num(&t.join(id))?,
        };
        self.memo.insert((level, cpu), f.clone());
        Ok(f)
    }
}

/// Numbered subdirectories `<prefix>N` of `dir`.
fn numbered_entries(dir: &Path, prefix: &str) -> Option<Cpumask> {
    let rd = std::fs::read_dir(dir).ok()?;
    let mut m = Cpumask::new();
    for ent in rd.flatten() {
        let name = ent.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name.strip_prefix(prefix) {
            if let Ok(n) = n.parse::<usize>() {
                m.set(n);
            }
        }
    }
    Some(m)
}

/// Partition `set` in ascending order: each not-yet-taken CPU `c` takes
/// `(span(c) ∩ set ∩ untaken) ∪ {c}`. Returns groups and per-CPU group index.
fn partition(
    set: &Cpumask,
    mut span: impl FnMut(usize) -> Result<Cpumask>,
) -> Result<(Vec<Cpumask>, BTreeMap<usize, usize>)> {
    let mut taken = Cpumask::new();
    let mut groups = Vec::new();
    let mut of = BTreeMap::new();
    for c in set.iter() {
        if taken.test(c) {
            continue;
        }
        let mut g = span(c)?.and(set).andnot(&taken);
        g.set(c);
        for m in g.iter() {
            of.insert(m, groups.len());
        }
        taken = taken.or(&g);
        groups.push(g);
    }
    Ok((groups, of))
}

/// Tier kinds from per-CPU performance values: uniform when all are within
/// 10% of the maximum; else `Big` within 10% of the maximum, `Little` within
/// 10% of the minimum, `Medium` between.
fn tiers(values: &BTreeMap<usize, u64>) -> Option<BTreeMap<usize, CoreKind>> {
    let max = *values.values().max()?;
    let min = *values.values().min()?;
    if max == 0 {
        return None;
    }
    let big = |v: u64| v * 10 >= max * 9;
    if values.values().all(|&v| big(v)) {
        return None;
    }
    Some(
        values
            .iter()
            .map(|(&c, &v)| {
                let k = if big(v) {
                    CoreKind::Big
                } else if v * 10 <= min * 11 {
                    CoreKind::Little
                } else {
                    CoreKind::Medium
                };
                (c, k)
            })
            .collect(),
    )
}

fn allowed_cpus(root: &SysfsRoot, online: &Cpumask) -> Result<Cpumask> {
    let mut allowed = online.clone();
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
    } else if let Some(status) = root.read("proc/self/status")? {
        for line in status.lines() {
            if let Some(v) = line.strip_prefix("Cpus_allowed_list:") {
                if let Ok(m) = Cpumask::parse_list(v) {
                    allowed = allowed.and(&m);
                }
            }
        }
    }
    // cgroup v2: the closest cpuset.cpus.effective up from our cgroup.
    if let Some(cg) = root.read("proc/self/cgroup")? {
        if let Some(path) = cg.lines().find_map(|l| l.strip_prefix("0::")) {
            let mut p = PathBuf::from(path.trim_start_matches('/'));
            loop {
                let f = root
                    .join("sys/fs/cgroup")
                    .join(&p)
                    .join("cpuset.cpus.effective");
                if let Some(m) = read_list(&f)? {
                    if !m.is_empty() {
                        allowed = allowed.and(&m);
                    }
                    break;
                }
                if !p.pop() {
                    break;
                }
            }
        }
    }
    Ok(allowed)
}

impl Topology {
    /// Discover the topology of the live system, or of `$SCX_SYSFS_ROOT`
    /// when that is set.
    pub fn discover() -> Result<Self> {
        Self::from_sysfs_root(SysfsRoot::from_env())
    }

    /// Discover the topology below the filesystem root `root` (a directory
    /// containing `sys/devices/system/cpu`, like `HWLOC_FSROOT`).
    pub fn from_root(root: impl AsRef<Path>) -> Result<Self> {
        Self::from_sysfs_root(SysfsRoot::new(root.as_ref()))
    }

    /// Discover the topology below `root`.
    pub fn from_sysfs_root(root: SysfsRoot) -> Result<Self> {
        let cpu_base = root.join(CPU_DIR);
        if !cpu_base.is_dir() {
            anyhow::bail!("{} is not a directory", cpu_base.display());
        }
        let dirs = numbered_entries(&cpu_base, "cpu").unwrap_or_default();
        let possible = read_list(&cpu_base.join("possible"))?.unwrap_or_else(|| dirs.clone());
        let present = read_list(&cpu_base.join("present"))?.unwrap_or_else(|| dirs.clone());
        let online = Self::read_online(&root, &dirs)?;
        let isolated = read_list(&cpu_base.join("isolated"))?.unwrap_or_default();
        let nohz_full = read_list(&cpu_base.join("nohz_full"))?.unwrap_or_default();
        // Keep online ⊆ present ⊆ possible even when the files disagree.
        let present = present.or(&online);
        let possible = possible.or(&present);
        let all = possible.or(&dirs);
        let nr_cpu_ids = all.last().map_or(0, |c| c + 1);
        let smt = SmtState {
            control: read_opt(&cpu_base.join("smt/control"))?,
            active: read_opt(&cpu_base.join("smt/active"))?.map(|s| s == "1"),
        };

        let probe = Probe::new(&root, online.first());
        let mut cache_reader = CacheReader::default();
        let mut raws: BTreeMap<usize, RawCpu> = BTreeMap::new();
        for c in online.iter() {
            raws.insert(c, read_cpu(&root, c, &probe, &mut cache_reader)?);
        }
        let mut tr = TopoReader {
            root: &root,
            memo: BTreeMap::new(),
        };

        // NUMA nodes.
        let node_base = root.join(NODE_DIR);
        let mut node_cpus_all: BTreeMap<usize, Cpumask> = BTreeMap::new();
        let mut node_mem: BTreeMap<usize, bool> = BTreeMap::new();
        let mut node_dist: BTreeMap<usize, BTreeMap<usize, u32>> = BTreeMap::new();
        let node_ids = numbered_entries(&node_base, "node").filter(|m| !m.is_empty());
        let numa_info = node_ids.is_some();
        if let Some(ids) = &node_ids {
            let has_mem = read_list(&node_base.join("has_memory"))?;
            let has_normal = read_list(&node_base.join("has_normal_memory"))?;
            let online_nodes = read_list(&node_base.join("online"))?.unwrap_or_else(|| ids.clone());
            for n in ids.iter() {
                let d = node_base.join(format!("node{n}"));
                let cpus = match read_list(&d.join("cpulist"))? {
                    Some(m) => m,
                    None => sysfs::read_hex(&d.join("cpumap"))?.unwrap_or_default(),
                };
                node_cpus_all.insert(n, cpus);
                let mem = match &has_mem {
                    Some(m) => m.test(n),
                    None => match read_opt(&d.join("meminfo"))? {
                        Some(mi) => mi
                            .lines()
                            .find(|l| l.contains("MemTotal:"))
                            .and_then(|l| l.split_whitespace().rev().nth(1))
                            .and_then(|v| v.parse::<u64>().ok())
                            .is_none_or(|kb| kb > 0),
                        None => has_normal.as_ref().is_none_or(|m| m.test(n)),
                    },
                };
                node_mem.insert(n, mem);
                if let Some(row) = read_opt(&d.join("distance"))? {
                    let cols: Vec<usize> = online_nodes.iter().collect();
                    let vals: Vec<u32> = row
                        .split_whitespace()
                        .filter_map(|v| v.parse().ok())
                        .collect();
                    let cols = if cols.len() == vals.len() {
                        cols
                    } else {
                        ids.to_vec()
                    };
                    node_dist.insert(n, cols.into_iter().zip(vals).collect());
                }
            }
        } else {
            node_cpus_all.insert(0, online.clone());
            node_mem.insert(0, true);
            node_dist.insert(0, [(0, 10)].into_iter().collect());
        }
        // Each CPU in the lowest-numbered node that lists it.
        let mut cpu_node: BTreeMap<usize, usize> = BTreeMap::new();
        for (&n, m) in node_cpus_all.iter().rev() {
            for c in m.iter() {
                cpu_node.insert(c, n);
            }
        }
        // Online CPUs in no node go to the lowest node with online CPUs
        // (else the lowest node).
        let mut cpus_in_no_node = Cpumask::new();
        let fallback_node = node_cpus_all
            .iter()
            .find(|(_, m)| m.intersects(&online))
            .or_else(|| node_cpus_all.iter().next())
            .map(|(&n, _)| n)
            .unwrap_or(0);
        for c in online.iter() {
            if let std::collections::btree_map::Entry::Vacant(e) = cpu_node.entry(c) {
                e.insert(fallback_node);
                cpus_in_no_node.set(c);
            }
        }
        let node_online: BTreeMap<usize, Cpumask> = node_cpus_all
            .keys()
            .map(|&n| {
                let m = Cpumask::from_cpus(online.iter().filter(|c| cpu_node.get(c) == Some(&n)));
                (n, m)
            })
            .collect();

        // LLCs: the highest-level cache each CPU reports, else its core,
        // split at node boundaries. Cores split at LLC boundaries.
        let node_of = |c: usize| cpu_node.get(&c).copied().unwrap_or(fallback_node);
        let single = |c: usize| Cpumask::from_cpus([c]);
        let (llc_groups, llc_of) = partition(&online, |c| {
            let span = match raws.get(&c).and_then(|r| r.llc.as_ref()) {
                Some(l) => l.cpus.clone(),
                None => tr.get(Level::Core, c)?.mask.unwrap_or_else(|| single(c)),
            };
            Ok(span.and(&node_online[&node_of(c)]))
        })?;
        let (core_groups, core_of) = partition(&online, |c| {
            let span = tr.get(Level::Core, c)?.mask.unwrap_or_else(|| single(c));
            Ok(span.and(&llc_groups[llc_of[&c]]))
        })?;
        // Packages from package masks; without one, from package ids (all
        // online CPUs with the same physical_package_id, or all of them).
        let (pkg_groups, pkg_of) = partition(&online, |c| {
            let f = tr.get(Level::Package, c)?;
            if let Some(m) = f.mask {
                return Ok(m);
            }
            let mut m = Cpumask::new();
            for o in online.iter() {
                if tr.get(Level::Package, o)?.id == f.id {
                    m.set(o);
                }
            }
            Ok(m)
        })?;
        let has_die = probe.die;
        let has_cluster = probe.cluster;
        let (die_groups, die_of) = partition(&online, |c| {
            let pkg = &pkg_groups[pkg_of[&c]];
            if !has_die {
                return Ok(pkg.clone());
            }
            Ok(tr
                .get(Level::Die, c)?
                .mask
                .unwrap_or_else(|| pkg.clone())
                .and(pkg))
        })?;
        let (cluster_groups, cluster_of) = partition(&online, |c| {
            if !has_cluster {
                return Ok(single(c));
            }
            let die = &die_groups[die_of[&c]];
            Ok(tr
                .get(Level::Cluster, c)?
                .mask
                .unwrap_or_else(|| single(c))
                .and(die))
        })?;
        // Ids are read once per group, from its first CPU.
        let mut group_id = |level: Level, group: &Cpumask| -> Result<Option<i64>> {
            match group.first() {
                Some(f) => Ok(tr.get(level, f)?.id),
                None => Ok(None),
            }
        };
        let mut core_ids = Vec::new();
        for g in &core_groups {
            core_ids.push(group_id(Level::Core, g)?);
        }
        let mut pkg_ids = Vec::new();
        for g in &pkg_groups {
            pkg_ids.push(group_id(Level::Package, g)?);
        }
        let mut die_ids = Vec::new();
        for g in &die_groups {
            die_ids.push(if has_die {
                group_id(Level::Die, g)?
            } else {
                None
            });
        }
        let mut cluster_ids = Vec::new();
        for g in &cluster_groups {
            cluster_ids.push(if has_cluster {
                group_id(Level::Cluster, g)?
            } else {
                None
            });
        }
        let llc_span = |c: usize| -> Cpumask {
            match raws.get(&c).and_then(|r| r.llc.as_ref()) {
                Some(l) => l.cpus.clone(),
                None => core_groups[core_of[&c]].clone(),
            }
        };

        // Capacity and core kinds.
        let all_have = |f: &dyn Fn(&RawCpu) -> Option<u64>| -> Option<BTreeMap<usize, u64>> {
            raws.iter().map(|(&c, r)| f(r).map(|v| (c, v))).collect()
        };
        let mut capacity: BTreeMap<usize, u32> = online.iter().map(|c| (c, 1024)).collect();
        let mut kinds: BTreeMap<usize, CoreKind> =
            online.iter().map(|c| (c, CoreKind::Uniform)).collect();
        let mut capacity_source = KindSource::None;
        let mut core_kind_source = KindSource::None;
        if let Some(caps) = all_have(&|r| r.capacity).filter(|m| !m.is_empty()) {
            let max = (*caps.values().max().unwrap_or(&1024)).max(1);
            for (c, v) in &caps {
                capacity.insert(*c, ((v * 1024) / max) as u32);
            }
            capacity_source = KindSource::CpuCapacity;
            if let Some(k) = tiers(&caps) {
                kinds = k;
                core_kind_source = KindSource::CpuCapacity;
            }
        } else if let Some(freqs) = all_have(&|r| r.max_freq).filter(|m| !m.is_empty()) {
            capacity_source = KindSource::MaxFrequency;
            if let Some(k) = tiers(&freqs) {
                let max = (*freqs.values().max().unwrap_or(&1)).max(1);
                for (c, v) in &freqs {
                    let cap = if k[c] == CoreKind::Big {
                        1024
                    } else {
                        (v * 1024 / max) as u32
                    };
                    capacity.insert(*c, cap);
                }
                kinds = k;
                core_kind_source = KindSource::MaxFrequency;
            }
        }
        let p = read_list(&root.join("sys/devices/cpu_core/cpus"))?;
        let e = read_list(&root.join("sys/devices/cpu_atom/cpus"))?;
        if let (Some(p), Some(e)) = (p, e) {
            if !p.is_empty() && !e.is_empty() {
                for c in online.iter() {
                    if p.test(c) {
                        kinds.insert(c, CoreKind::Big);
                    } else if e.test(c) {
                        kinds.insert(c, CoreKind::Little);
                    }
                }
                core_kind_source = KindSource::IntelHybrid;
            }
        }

        // Assemble.
        let mut packages: Vec<Package> = pkg_groups
            .iter()
            .enumerate()
            .map(|(i, g)| Package {
                index: i,
                id: pkg_ids[i],
                cpus: g.clone(),
            })
            .collect();
        packages.sort_by_key(|p| p.index);
        let cores: Vec<Core> = core_groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let f = g.first().unwrap_or(0);
                Core {
                    index: i,
                    id: core_ids[i],
                    cpus: g.clone(),
                    llc: llc_of[&f],
                    node: node_of(f),
                    package: pkg_of[&f],
                    kind: kinds[&f],
                    capacity: capacity[&f],
                }
            })
            .collect();
        let llcs: Vec<Llc> = llc_groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let f = g.first().unwrap_or(0);
                let cache = raws[&f].llc.as_ref();
                Llc {
                    index: i,
                    id: cache.and_then(|c| c.id),
                    level: cache.map_or(0, |c| c.level),
                    size: cache.and_then(|c| c.size),
                    cpus: g.clone(),
                    cache_cpus: llc_span(f).and(&online).or(g),
                    node: node_of(f),
                    cores: cores
                        .iter()
                        .filter(|k| k.llc == i)
                        .map(|k| k.index)
                        .collect(),
                }
            })
            .collect();
        let nodes: Vec<Node> = node_online
            .iter()
            .enumerate()
            .map(|(i, (&n, cpus))| Node {
                id: n,
                index: i,
                cpus: cpus.clone(),
                has_memory: node_mem.get(&n).copied().unwrap_or(true),
                llcs: llcs
                    .iter()
                    .filter(|l| l.node == n)
                    .map(|l| l.index)
                    .collect(),
                distances: node_dist.get(&n).cloned().unwrap_or_default(),
            })
            .collect();
        let listed = present.or(&online);
        let cpus: Vec<Cpu> = listed
            .iter()
            .map(|c| match raws.get_mut(&c) {
                Some(r) => Cpu {
                    id: c,
                    online: true,
                    package: Some(pkg_of[&c]),
                    package_id: pkg_ids[pkg_of[&c]],
                    die: has_die.then(|| die_of[&c]),
                    die_id: if has_die { die_ids[die_of[&c]] } else { None },
                    cluster: has_cluster.then(|| cluster_of[&c]),
                    cluster_id: if has_cluster {
                        cluster_ids[cluster_of[&c]]
                    } else {
                        None
                    },
                    core: Some(core_of[&c]),
                    core_id: core_ids[core_of[&c]],
                    llc: Some(llc_of[&c]),
                    node: Some(node_of(c)),
                    l2: r.l2.take(),
                    l3: r.l3.take(),
                    min_freq_khz: r.min_freq,
                    max_freq_khz: r.max_freq,
                    base_freq_khz: r.base_freq,
                    capacity: capacity[&c],
                    core_kind: kinds[&c],
                },
                None => Cpu {
                    id: c,
                    online: false,
                    package: None,
                    package_id: None,
                    die: None,
                    die_id: None,
                    cluster: None,
                    cluster_id: None,
                    core: None,
                    core_id: None,
                    llc: None,
                    node: cpu_node.get(&c).copied(),
                    l2: None,
                    l3: None,
                    min_freq_khz: None,
                    max_freq_khz: None,
                    base_freq_khz: None,
                    capacity: 0,
                    core_kind: CoreKind::Uniform,
                },
            })
            .collect();
        let smt_enabled = match smt.active {
            Some(a) => a,
            None => cores.iter().any(|c| c.cpus.weight() > 1),
        };
        let allowed = allowed_cpus(&root, &online)?;
        Ok(Self {
            root,
            possible,
            present,
            online,
            isolated,
            nohz_full,
            allowed,
            nr_cpu_ids,
            smt,
            smt_enabled,
            numa_info,
            cpus_in_no_node,
            capacity_source,
            core_kind_source,
            cpus,
            cores,
            llcs,
            nodes,
            packages,
        })
    }

    fn read_online(root: &SysfsRoot, dirs: &Cpumask) -> Result<Cpumask> {
        let base = root.join(CPU_DIR);
        if let Some(m) = read_list(&base.join("online"))? {
            return Ok(m);
        }
        // Old kernels / dumps: cpuN/online, absent (cpu0) meaning online.
        let mut m = Cpumask::new();
        for c in dirs.iter() {
            let on = read_opt(&base.join(format!("cpu{c}/online")))?;
            if on.as_deref().is_none_or(|s| s != "0") {
                m.set(c);
            }
        }
        Ok(m)
    }

    /// Whether the online set differs from the one this topology was built
    /// from (one small read; use after a hotplug notification).
    pub fn online_changed(&self) -> Result<bool> {
        let dirs = numbered_entries(&self.root.join(CPU_DIR), "cpu").unwrap_or_default();
        Ok(Self::read_online(&self.root, &dirs)? != self.online)
    }

    /// Discover again from the same root.
    pub fn rediscover(&self) -> Result<Self> {
        Self::from_sysfs_root(self.root.clone())
    }

    /// Re-discover only if the online set changed; returns whether it did.
    pub fn refresh(&mut self) -> Result<bool> {
        if !self.online_changed()? {
            return Ok(false);
        }
        *self = self.rediscover()?;
        Ok(true)
    }

    /// The root this topology was read from.
    pub fn root(&self) -> &SysfsRoot {
        &self.root
    }

    /// NUMA nodes by ascending id, including memory-only nodes (with empty
    /// `cpus`). Without NUMA information there is one node, id 0.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The node with kernel id `id`.
    pub fn node(&self, id: usize) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// LLC domains, by their first CPU. They partition the online CPUs.
    pub fn llcs(&self) -> &[Llc] {
        &self.llcs
    }

    /// Cores, by their first CPU. They partition the online CPUs.
    pub fn cores(&self) -> &[Core] {
        &self.cores
    }

    /// Packages, by their first CPU.
    pub fn packages(&self) -> &[Package] {
        &self.packages
    }

    /// Present or online CPUs by ascending id (offline ones with `online:
    /// false`); never-present possible CPUs are not listed.
    pub fn cpus(&self) -> &[Cpu] {
        &self.cpus
    }

    /// CPU `id`, if present or online.
    pub fn cpu(&self, id: usize) -> Option<&Cpu> {
        self.cpus
            .binary_search_by_key(&id, |c| c.id)
            .ok()
            .map(|i| &self.cpus[i])
    }

    /// One more than the highest possible CPU id: the size of per-CPU
    /// arrays and BPF cpumasks.
    pub fn nr_cpu_ids(&self) -> usize {
        self.nr_cpu_ids
    }

    /// All online CPUs the topology covers (same as [`Topology::online_cpus`]).
    pub fn span(&self) -> &Cpumask {
        &self.online
    }

    /// Online CPUs.
    pub fn online_cpus(&self) -> &Cpumask {
        &self.online
    }

    /// Possible CPUs (`possible`, else the `cpuN` directories), always
    /// including the present ones.
    pub fn possible_cpus(&self) -> &Cpumask {
        &self.possible
    }

    /// Present CPUs (`present`, else the `cpuN` directories), always
    /// including the online ones.
    pub fn present_cpus(&self) -> &Cpumask {
        &self.present
    }

    /// CPUs isolated from the scheduler (`isolated`).
    pub fn isolated_cpus(&self) -> &Cpumask {
        &self.isolated
    }

    /// `nohz_full` CPUs.
    pub fn nohz_full_cpus(&self) -> &Cpumask {
        &self.nohz_full
    }

    /// Online CPUs this process may use: affinity (`sched_getaffinity` on
    /// the live system, `proc/self/status` under a fake root) and the cgroup
    /// v2 `cpuset.cpus.effective`.
    pub fn allowed_cpus(&self) -> &Cpumask {
        &self.allowed
    }

    /// Whether SMT is on: `smt/active` if present, else whether any core has
    /// more than one online CPU.
    pub fn smt_enabled(&self) -> bool {
        self.smt_enabled
    }

    /// The raw `smt/` switch state.
    pub fn smt_state(&self) -> &SmtState {
        &self.smt
    }

    /// Whether the machine had NUMA information (`sys/devices/system/node`).
    pub fn has_numa_info(&self) -> bool {
        self.numa_info
    }

    /// Online CPUs that no node listed (placed in the lowest node with CPUs).
    pub fn cpus_in_no_node(&self) -> &Cpumask {
        &self.cpus_in_no_node
    }

    /// Distance between nodes `from` and `to` (kernel ids), if known.
    pub fn node_distance(&self, from: usize, to: usize) -> Option<u32> {
        self.node(from)?.distances.get(&to).copied()
    }

    /// Where capacities came from.
    pub fn capacity_source(&self) -> KindSource {
        self.capacity_source
    }

    /// Where core kinds came from.
    pub fn core_kind_source(&self) -> KindSource {
        self.core_kind_source
    }
}
