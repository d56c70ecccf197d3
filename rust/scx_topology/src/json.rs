//! The stable JSON schema printed by `scx_topology --json`.
//!
//! Schema version 1 (fields are only ever added; a removal or change of
//! meaning bumps `schema_version`). CPU sets are sorted arrays of CPU ids in
//! group objects and cpulist strings (`"0-3,8"`) at the top level.
//!
//! | field | type | meaning |
//! | --- | --- | --- |
//! | `schema_version` | int | 1 |
//! | `nr_cpu_ids` | int | highest possible CPU + 1 |
//! | `smt_enabled` | bool | SMT active |
//! | `possible`, `present`, `online`, `isolated`, `allowed` | string | cpulists |
//! | `capacity_source`, `core_kind_source` | string | `none`, `intel_hybrid`, `cpu_capacity`, `max_frequency` |
//! | `cpus` | array | present or online CPUs, see [`JsonCpu`] |
//! | `cores` | array | [`JsonCore`]; `id` is the dense index CPUs refer to |
//! | `llcs` | array | [`JsonLlc`]; `id` is the dense index CPUs refer to |
//! | `nodes` | array | [`JsonNode`]; `id` is the kernel's node number |
//! | `packages` | array | [`JsonPackage`]; `id` is the dense index CPUs refer to |

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{CoreKind, KindSource, Topology};

/// Current schema version.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole document.
#[derive(Debug, Serialize)]
pub struct JsonTopology {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// One more than the highest possible CPU id.
    pub nr_cpu_ids: usize,
    /// Whether SMT is active.
    pub smt_enabled: bool,
    /// Possible CPUs (cpulist).
    pub possible: String,
    /// Present CPUs (cpulist).
    pub present: String,
    /// Online CPUs (cpulist).
    pub online: String,
    /// Isolated CPUs (cpulist).
    pub isolated: String,
    /// CPUs this process may use (cpulist).
    pub allowed: String,
    /// Source of `capacity`.
    pub capacity_source: KindSource,
    /// Source of `core_kind`.
    pub core_kind_source: KindSource,
    /// Present or online CPUs by id.
    pub cpus: Vec<JsonCpu>,
    /// Cores.
    pub cores: Vec<JsonCore>,
    /// LLC domains.
    pub llcs: Vec<JsonLlc>,
    /// NUMA nodes (memory-only ones have empty `cpus`).
    pub nodes: Vec<JsonNode>,
    /// Packages.
    pub packages: Vec<JsonPackage>,
}

/// One CPU. Group fields are `null` for offline CPUs.
#[derive(Debug, Serialize)]
pub struct JsonCpu {
    /// Kernel CPU number.
    pub id: usize,
    /// Online.
    pub online: bool,
    /// Dense package index.
    pub package: Option<usize>,
    /// Dense die index (where the kernel reports dies).
    pub die: Option<usize>,
    /// Dense cluster index (where the kernel reports clusters).
    pub cluster: Option<usize>,
    /// Dense core index.
    pub core: Option<usize>,
    /// Dense LLC index.
    pub llc: Option<usize>,
    /// Kernel node number.
    pub node: Option<usize>,
    /// Capacity normalised to 1024 (0 when offline).
    pub capacity: u32,
    /// `uniform`, `big`, `medium` or `little`.
    pub core_kind: CoreKind,
    /// `physical_package_id`.
    pub package_id: Option<i64>,
    /// `core_id`.
    pub core_id: Option<i64>,
    /// L2 size in bytes.
    pub l2_size: Option<u64>,
    /// L3 size in bytes.
    pub l3_size: Option<u64>,
    /// `cpuinfo_min_freq` (kHz).
    pub min_freq_khz: Option<u64>,
    /// `cpuinfo_max_freq` (kHz).
    pub max_freq_khz: Option<u64>,
    /// `base_frequency` (kHz).
    pub base_freq_khz: Option<u64>,
}

/// One core.
#[derive(Debug, Serialize)]
pub struct JsonCore {
    /// Dense index.
    pub id: usize,
    /// Kernel `core_id` (not unique).
    pub core_id: Option<i64>,
    /// Sorted online CPU ids.
    pub cpus: Vec<usize>,
    /// Dense LLC index.
    pub llc: usize,
    /// Kernel node number.
    pub node: usize,
    /// Dense package index.
    pub package: usize,
    /// Core kind.
    pub kind: CoreKind,
}

/// One LLC domain.
#[derive(Debug, Serialize)]
pub struct JsonLlc {
    /// Dense index.
    pub id: usize,
    /// Kernel cache `id`, if any.
    pub cache_id: Option<u64>,
    /// Cache level (0: no cache info, the LLC is a core).
    pub level: u8,
    /// Size in bytes.
    pub size: Option<u64>,
    /// Sorted online CPU ids.
    pub cpus: Vec<usize>,
    /// Kernel node number.
    pub node: usize,
    /// Dense core indexes.
    pub cores: Vec<usize>,
}

/// One NUMA node.
#[derive(Debug, Serialize)]
pub struct JsonNode {
    /// Kernel node number.
    pub id: usize,
    /// Sorted online CPU ids.
    pub cpus: Vec<usize>,
    /// Whether it has memory.
    pub has_memory: bool,
    /// Made up for online CPUs that no node lists (their node is offline):
    /// one per package, numbered after the highest node the kernel knows.
    pub implied: bool,
    /// Dense LLC indexes.
    pub llcs: Vec<usize>,
    /// Distance by node number (keys are strings in JSON).
    pub distances: BTreeMap<usize, u32>,
}

/// One package.
#[derive(Debug, Serialize)]
pub struct JsonPackage {
    /// Dense index.
    pub id: usize,
    /// `physical_package_id`.
    pub package_id: Option<i64>,
    /// Sorted online CPU ids.
    pub cpus: Vec<usize>,
}

impl JsonTopology {
    /// Build the document from a topology.
    pub fn new(t: &Topology) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            nr_cpu_ids: t.nr_cpu_ids(),
            smt_enabled: t.smt_enabled(),
            possible: t.possible_cpus().to_cpulist(),
            present: t.present_cpus().to_cpulist(),
            online: t.online_cpus().to_cpulist(),
            isolated: t.isolated_cpus().to_cpulist(),
            allowed: t.allowed_cpus().to_cpulist(),
            capacity_source: t.capacity_source(),
            core_kind_source: t.core_kind_source(),
            cpus: t
                .cpus()
                .iter()
                .map(|c| JsonCpu {
                    id: c.id,
                    online: c.online,
                    package: c.package,
                    die: c.die,
                    cluster: c.cluster,
                    core: c.core,
                    llc: c.llc,
                    node: c.node,
                    capacity: c.capacity,
                    core_kind: c.core_kind,
                    package_id: c.package_id,
                    core_id: c.core_id,
                    l2_size: c.l2.as_ref().and_then(|x| x.size),
                    l3_size: c.l3.as_ref().and_then(|x| x.size),
                    min_freq_khz: c.min_freq_khz,
                    max_freq_khz: c.max_freq_khz,
                    base_freq_khz: c.base_freq_khz,
                })
                .collect(),
            cores: t
                .cores()
                .iter()
                .map(|c| JsonCore {
                    id: c.index,
                    core_id: c.id,
                    cpus: c.cpus.to_vec(),
                    llc: c.llc,
                    node: c.node,
                    package: c.package,
                    kind: c.kind,
                })
                .collect(),
            llcs: t
                .llcs()
                .iter()
                .map(|l| JsonLlc {
                    id: l.index,
                    cache_id: l.id,
                    level: l.level,
                    size: l.size,
                    cpus: l.cpus.to_vec(),
                    node: l.node,
                    cores: l.cores.clone(),
                })
                .collect(),
            nodes: t
                .nodes()
                .iter()
                .map(|n| JsonNode {
                    id: n.id,
                    cpus: n.cpus.to_vec(),
                    has_memory: n.has_memory,
                    implied: n.implied,
                    llcs: n.llcs.clone(),
                    distances: n.distances.clone(),
                })
                .collect(),
            packages: t
                .packages()
                .iter()
                .map(|p| JsonPackage {
                    id: p.index,
                    package_id: p.id,
                    cpus: p.cpus.to_vec(),
                })
                .collect(),
        }
    }
}

impl Topology {
    /// The topology as pretty-printed JSON in the stable schema of
    /// [`crate::json`].
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&JsonTopology::new(self)).unwrap_or_else(|_| "{}".into())
    }
}
