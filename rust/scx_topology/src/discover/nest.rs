//! Stage 4: nest the partitions into the tree — dense indexes, ids,
//! capacities and core kinds — and assemble the [`Topology`].

use std::collections::BTreeMap;

use super::group::Groups;
use super::read::{Perf, RawNodes, SystemSets};
use crate::sysfs::SysfsRoot;
use crate::topology::{CacheInfo, Core, CoreKind, Cpu, KindSource, Llc, Node, Package, Topology};
use crate::Cpumask;

/// The caches one online CPU reports, after validation.
#[derive(Clone, Debug, Default)]
pub(crate) struct CpuCaches {
    pub l2: Option<CacheInfo>,
    pub l3: Option<CacheInfo>,
    pub llc: Option<CacheInfo>,
}

/// Ids of each group (from its first CPU), index-aligned with the
/// partitions.
#[derive(Clone, Debug, Default)]
pub(crate) struct GroupIds {
    pub core: Vec<Option<i64>>,
    pub package: Vec<Option<i64>>,
    pub die: Vec<Option<i64>>,
    pub cluster: Vec<Option<i64>>,
}

/// Everything the tree is built from.
pub(crate) struct Facts {
    pub root: SysfsRoot,
    pub sys: SystemSets,
    pub groups: Groups,
    pub ids: GroupIds,
    pub caches: BTreeMap<usize, CpuCaches>,
    pub perf: BTreeMap<usize, Perf>,
    pub nodes: RawNodes,
    /// Intel hybrid PMU lists (P, E), when both are non-empty.
    pub hybrid: Option<(Cpumask, Cpumask)>,
    pub allowed: Cpumask,
    pub warnings: Vec<String>,
}

/// Tier kinds from per-CPU performance values: uniform when all are within
/// 10% of the maximum; else `Big` within 10% of the maximum, `Little` within
/// 10% of the minimum, `Medium` between.
pub(crate) fn tiers(values: &BTreeMap<usize, u64>) -> Option<BTreeMap<usize, CoreKind>> {
    let max = *values.values().max()?;
    let min = *values.values().min()?;
    if max == 0 {
        return None;
    }
    let big = |v: u64| v.saturating_mul(10) >= max.saturating_mul(9);
    if values.values().all(|&v| big(v)) {
        return None;
    }
    Some(
        values
            .iter()
            .map(|(&c, &v)| {
                let k = if big(v) {
                    CoreKind::Big
                } else if v.saturating_mul(10) <= min.saturating_mul(11) {
                    CoreKind::Little
                } else {
                    CoreKind::Medium
                };
                (c, k)
            })
            .collect(),
    )
}

/// Per-CPU capacity (max 1024) and kind, and their sources.
struct Capacities {
    capacity: BTreeMap<usize, u32>,
    kinds: BTreeMap<usize, CoreKind>,
    capacity_source: KindSource,
    core_kind_source: KindSource,
}

fn capacities(
    online: &Cpumask,
    perf: &BTreeMap<usize, Perf>,
    hybrid: &Option<(Cpumask, Cpumask)>,
) -> Capacities {
    let all_have = |f: &dyn Fn(&Perf) -> Option<u64>| -> Option<BTreeMap<usize, u64>> {
        online
            .iter()
            .map(|c| perf.get(&c).and_then(f).map(|v| (c, v)))
            .collect::<Option<BTreeMap<_, _>>>()
            .filter(|m| !m.is_empty() && m.values().any(|&v| v > 0))
    };
    let mut out = Capacities {
        capacity: online.iter().map(|c| (c, 1024)).collect(),
        kinds: online.iter().map(|c| (c, CoreKind::Uniform)).collect(),
        capacity_source: KindSource::None,
        core_kind_source: KindSource::None,
    };
    let scale = |v: u64, max: u64| (v.min(max) as u128 * 1024 / max.max(1) as u128).max(1) as u32;
    if let Some(caps) = all_have(&|p| p.capacity) {
        let max = *caps.values().max().unwrap_or(&1024);
        for (c, v) in &caps {
            out.capacity.insert(*c, scale(*v, max));
        }
        out.capacity_source = KindSource::CpuCapacity;
        if let Some(k) = tiers(&caps) {
            out.kinds = k;
            out.core_kind_source = KindSource::CpuCapacity;
        }
    } else if let Some(freqs) = all_have(&|p| p.max_freq) {
        out.capacity_source = KindSource::MaxFrequency;
        if let Some(k) = tiers(&freqs) {
            let max = *freqs.values().max().unwrap_or(&1);
            for (c, v) in &freqs {
                let cap = if k[c] == CoreKind::Big {
                    1024
                } else {
                    scale(*v, max)
                };
                out.capacity.insert(*c, cap);
            }
            out.kinds = k;
            out.core_kind_source = KindSource::MaxFrequency;
        }
    }
    if let Some((p, e)) = hybrid {
        for c in online.iter() {
            if p.test(c) {
                out.kinds.insert(c, CoreKind::Big);
            } else if e.test(c) {
                out.kinds.insert(c, CoreKind::Little);
            }
        }
        out.core_kind_source = KindSource::IntelHybrid;
    }
    out
}

/// Build the topology.
pub(crate) fn nest(mut f: Facts) -> Topology {
    let g = &f.groups;
    let online = f.sys.online.clone();
    let caps = capacities(&online, &f.perf, &f.hybrid);
    let node_of = |c: usize| g.cpu_node[&c];
    let first = |m: &Cpumask| m.first().unwrap_or(0);

    let packages: Vec<Package> = g
        .packages
        .groups
        .iter()
        .enumerate()
        .map(|(i, m)| Package {
            index: i,
            id: f.ids.package.get(i).copied().flatten(),
            cpus: m.clone(),
        })
        .collect();
    let cores: Vec<Core> = g
        .cores
        .groups
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let c = first(m);
            Core {
                index: i,
                id: f.ids.core.get(i).copied().flatten(),
                cpus: m.clone(),
                llc: g.llcs.of[&c],
                node: node_of(c),
                package: g.packages.of[&c],
                kind: caps.kinds[&c],
                capacity: caps.capacity[&c],
            }
        })
        .collect();
    let llcs: Vec<Llc> = g
        .llcs
        .groups
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let c = first(m);
            let cache = f.caches.get(&c).and_then(|k| k.llc.as_ref());
            Llc {
                index: i,
                id: cache.and_then(|k| k.id),
                level: cache.map_or(0, |k| k.level),
                size: cache.and_then(|k| k.size),
                cpus: m.clone(),
                cache_cpus: g.llc_cache_cpus[i].clone(),
                node: node_of(c),
                cores: cores
                    .iter()
                    .filter(|k| k.llc == i)
                    .map(|k| k.index)
                    .collect(),
            }
        })
        .collect();
    let nodes: Vec<Node> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, (&n, ng))| Node {
            id: n,
            index: i,
            cpus: ng.cpus.clone(),
            has_memory: !ng.implied && f.nodes.mem.get(&n).copied().unwrap_or(true),
            implied: ng.implied,
            llcs: llcs
                .iter()
                .filter(|l| l.node == n)
                .map(|l| l.index)
                .collect(),
            distances: f.nodes.dist.get(&n).cloned().unwrap_or_default(),
        })
        .collect();
    let listed = f.sys.present.or(&online);
    let cpus: Vec<Cpu> = listed
        .iter()
        .map(|c| {
            if !online.test(c) {
                return Cpu {
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
                    node: g.cpu_node.get(&c).copied(),
                    l2: None,
                    l3: None,
                    min_freq_khz: None,
                    max_freq_khz: None,
                    base_freq_khz: None,
                    capacity: 0,
                    core_kind: CoreKind::Uniform,
                };
            }
            let caches = f.caches.remove(&c).unwrap_or_default();
            let perf = f.perf.get(&c).cloned().unwrap_or_default();
            let pkg = g.packages.of[&c];
            let die = g.dies.as_ref().map(|d| d.of[&c]);
            let cluster = g.clusters.as_ref().map(|d| d.of[&c]);
            Cpu {
                id: c,
                online: true,
                package: Some(pkg),
                package_id: f.ids.package.get(pkg).copied().flatten(),
                die,
                die_id: die.and_then(|d| f.ids.die.get(d).copied().flatten()),
                cluster,
                cluster_id: cluster.and_then(|d| f.ids.cluster.get(d).copied().flatten()),
                core: Some(g.cores.of[&c]),
                core_id: f.ids.core.get(g.cores.of[&c]).copied().flatten(),
                llc: Some(g.llcs.of[&c]),
                node: Some(node_of(c)),
                l2: caches.l2,
                l3: caches.l3,
                min_freq_khz: perf.min_freq,
                max_freq_khz: perf.max_freq,
                base_freq_khz: perf.base_freq,
                capacity: caps.capacity[&c],
                core_kind: caps.kinds[&c],
            }
        })
        .collect();
    let smt_enabled = match f.sys.smt.active {
        Some(a) => a,
        None => cores.iter().any(|c| c.cpus.weight() > 1),
    };
    let all = f.sys.possible.or(&f.sys.dirs);
    Topology {
        root: f.root,
        nr_cpu_ids: all.last().map_or(0, |c| c + 1),
        possible: f.sys.possible,
        present: f.sys.present,
        online,
        isolated: f.sys.isolated,
        nohz_full: f.sys.nohz_full,
        allowed: f.allowed,
        smt: f.sys.smt,
        smt_enabled,
        numa_info: f.nodes.info,
        cpus_in_no_node: f.groups.cpus_in_no_node.clone(),
        capacity_source: caps.capacity_source,
        core_kind_source: caps.core_kind_source,
        cpus,
        cores,
        llcs,
        nodes,
        packages,
        warnings: f.warnings,
    }
}
