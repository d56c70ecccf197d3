//! Topology discovery from sysfs.
//!
//! See the crate documentation for the model and the defined results on
//! odd machines.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::discover::read::{numbered_entries, read_online, Reader};
use crate::sysfs::SysfsRoot;
use crate::Cpumask;

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
    /// NUMA node id (the kernel's number, or an implied node's, see
    /// [`Node::implied`]); for offline CPUs, the node whose cpulist names
    /// it, if any.
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
    /// true when neither file exists; false for implied nodes).
    pub has_memory: bool,
    /// Made up by discovery, not listed by the kernel: online CPUs that no
    /// `nodeN/cpulist` names (their node is offline) get one implied node
    /// per package, numbered after the highest node the kernel knows.
    pub implied: bool,
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
    pub(crate) root: SysfsRoot,
    pub(crate) possible: Cpumask,
    pub(crate) present: Cpumask,
    pub(crate) online: Cpumask,
    pub(crate) isolated: Cpumask,
    pub(crate) nohz_full: Cpumask,
    pub(crate) allowed: Cpumask,
    pub(crate) nr_cpu_ids: usize,
    pub(crate) smt: SmtState,
    pub(crate) smt_enabled: bool,
    pub(crate) numa_info: bool,
    pub(crate) cpus_in_no_node: Cpumask,
    pub(crate) capacity_source: KindSource,
    pub(crate) core_kind_source: KindSource,
    pub(crate) cpus: Vec<Cpu>,
    pub(crate) cores: Vec<Core>,
    pub(crate) llcs: Vec<Llc>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) packages: Vec<Package>,
    pub(crate) warnings: Vec<String>,
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
    ///
    /// Fails only when `root` has no CPU directory or no online CPU can be
    /// found; every other bad or unreadable file costs the one fact it
    /// holds, with a warning naming it (see [`Topology::warnings`]).
    pub fn from_sysfs_root(root: SysfsRoot) -> Result<Self> {
        crate::discover::discover(root)
    }

    /// Whether the online set differs from the one this topology was built
    /// from (one small read; use after a hotplug notification).
    pub fn online_changed(&self) -> Result<bool> {
        let mut r = Reader::new(&self.root);
        let dirs = numbered_entries(&r.cpu_base(), "cpu").unwrap_or_default();
        Ok(read_online(&mut r, &dirs) != self.online)
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

    /// Online CPUs that no node listed (placed in implied nodes, one per
    /// package, see [`Node::implied`]).
    pub fn cpus_in_no_node(&self) -> &Cpumask {
        &self.cpus_in_no_node
    }

    /// What discovery could not use: one line per bad or unreadable file,
    /// naming it and saying what was done instead (also sent to the `log`
    /// crate at warn level as they are found). Empty on a healthy machine.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
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
