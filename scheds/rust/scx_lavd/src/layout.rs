//! The per-CPU tables the BPF side places tasks with: one queue per LLC, each LLC on a node,
//! each CPU in a core; and the order in which compaction hands out cores.

use anyhow::{bail, Result};
use scx_topology::{Cpumask, Topology};

/// Limits of the BPF side's tables (see `bpf/intf.h`).
pub const MAX_CPUS: usize = crate::bpf_intf::lavd_consts_MAX_CPUS as usize;
pub const MAX_LLCS: usize = crate::bpf_intf::lavd_consts_MAX_LLCS as usize;
pub const MAX_NODES: usize = crate::bpf_intf::lavd_consts_MAX_NODES as usize;
pub const MAX_CORES: usize = crate::bpf_intf::lavd_consts_MAX_CORES as usize;

/// Marks a CPU in no LLC (offline, or unused).
pub const NO_LLC: u32 = MAX_LLCS as u32;

/// One LLC: its online CPUs and its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Llc {
    pub cpus: Cpumask,
    pub node: u32,
}

/// One core as compaction sees it: its online CPUs and their summed capacity (1.0 = one CPU of
/// the largest capacity).
#[derive(Debug, Clone, PartialEq)]
pub struct Core {
    pub cpus: Vec<usize>,
    pub capacity: f64,
}

/// Everything the BPF side and the compaction planner need about the machine.
#[derive(Debug, Clone)]
pub struct Layout {
    pub llcs: Vec<Llc>,
    /// Per CPU id: LLC index or [`NO_LLC`].
    pub cpu_llc: Vec<u32>,
    /// Per CPU id: dense core index.
    pub cpu_core: Vec<u32>,
    pub nr_cores: usize,
    pub nr_cpu_ids: usize,
    /// Per CPU id: capacity, 1.0 for the largest.
    pub cpu_cap: Vec<f64>,
    /// Cores with online CPUs, highest capacity first (ties: lowest CPU first): compaction
    /// fills them in this order.
    pub core_order: Vec<Core>,
}

impl Layout {
    /// The layout of `topo`.
    pub fn from_topology(topo: &Topology) -> Result<Self> {
        let llcs: Vec<(Cpumask, u32)> = topo
            .llcs()
            .iter()
            .map(|l| (l.cpus.clone(), l.node as u32))
            .collect();
        let cores: Vec<(Cpumask, Vec<u32>)> = topo
            .cores()
            .iter()
            .map(|c| {
                let caps = c
                    .cpus
                    .iter()
                    .map(|cpu| topo.cpu(cpu).map(|x| x.capacity).unwrap_or(1024))
                    .collect();
                (c.cpus.clone(), caps)
            })
            .collect();
        Self::new(&llcs, &cores, topo.nr_cpu_ids(), topo.online_cpus())
    }

    /// Build from LLC spans with their nodes and core spans with each CPU's capacity (0..=1024),
    /// checking the BPF side's limits.
    pub fn new(
        llcs: &[(Cpumask, u32)],
        cores: &[(Cpumask, Vec<u32>)],
        nr_cpu_ids: usize,
        online: &Cpumask,
    ) -> Result<Self> {
        if nr_cpu_ids > MAX_CPUS {
            bail!("this machine has {nr_cpu_ids} possible CPU ids; scx_lavd supports up to {MAX_CPUS}");
        }
        let llcs: Vec<Llc> = llcs
            .iter()
            .map(|(cpus, node)| Llc {
                cpus: cpus.and(online),
                node: *node,
            })
            .filter(|l| !l.cpus.is_empty())
            .collect();
        if llcs.is_empty() {
            bail!("the topology has no online CPU in any LLC");
        }
        if llcs.len() > MAX_LLCS {
            bail!(
                "this machine has {} LLCs; scx_lavd supports up to {MAX_LLCS}",
                llcs.len()
            );
        }
        if cores.len() > MAX_CORES {
            bail!(
                "this machine has {} cores; scx_lavd supports up to {MAX_CORES}",
                cores.len()
            );
        }
        if let Some(l) = llcs.iter().find(|l| l.node as usize >= MAX_NODES) {
            bail!(
                "NUMA node {} is beyond the {MAX_NODES} nodes scx_lavd supports",
                l.node
            );
        }
        let mut cpu_llc = vec![NO_LLC; nr_cpu_ids];
        for (i, l) in llcs.iter().enumerate() {
            for cpu in l.cpus.iter() {
                if cpu >= nr_cpu_ids {
                    bail!("CPU {cpu} of LLC {i} is beyond nr_cpu_ids {nr_cpu_ids}");
                }
                if cpu_llc[cpu] != NO_LLC {
                    bail!("CPU {cpu} is in two LLCs ({} and {i})", cpu_llc[cpu]);
                }
                cpu_llc[cpu] = i as u32;
            }
        }
        let mut cpu_core = vec![0u32; nr_cpu_ids];
        let mut core_order = Vec::new();
        let mut cpu_cap = vec![1.0; nr_cpu_ids];
        for (i, (span, caps)) in cores.iter().enumerate() {
            let mut cpus = Vec::new();
            let mut capacity = 0.0;
            for (cpu, cap) in span.iter().zip(caps.iter().chain(std::iter::repeat(&1024))) {
                if cpu < nr_cpu_ids {
                    cpu_core[cpu] = i as u32;
                    cpu_cap[cpu] = f64::from((*cap).clamp(1, 1024)) / 1024.0;
                    if cpu_llc[cpu] != NO_LLC {
                        cpus.push(cpu);
                        capacity += cpu_cap[cpu];
                    }
                }
            }
            if !cpus.is_empty() {
                core_order.push(Core { cpus, capacity });
            }
        }
        // CPUs in an LLC but in no core span still need a place in the order.
        for (cpu, llc) in cpu_llc.iter().enumerate() {
            if *llc != NO_LLC && !core_order.iter().any(|c| c.cpus.contains(&cpu)) {
                core_order.push(Core {
                    cpus: vec![cpu],
                    capacity: 1.0,
                });
            }
        }
        core_order.sort_by(|a, b| {
            b.capacity
                .partial_cmp(&a.capacity)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.cpus[0].cmp(&b.cpus[0]))
        });
        Ok(Self {
            llcs,
            cpu_llc,
            cpu_core,
            nr_cores: cores.len().max(1),
            nr_cpu_ids,
            cpu_cap,
            core_order,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(cpus: &[usize]) -> Cpumask {
        Cpumask::from_cpus(cpus.iter().copied())
    }

    #[test]
    fn big_cores_come_first() {
        let llcs = [(mask(&[0, 1, 2, 3]), 0)];
        let cores = [
            (mask(&[0]), vec![400]),
            (mask(&[1]), vec![1024]),
            (mask(&[2, 3]), vec![1024, 1024]),
        ];
        let l = Layout::new(&llcs, &cores, 4, &mask(&[0, 1, 2, 3])).unwrap();
        let order: Vec<Vec<usize>> = l.core_order.iter().map(|c| c.cpus.clone()).collect();
        assert_eq!(order, vec![vec![2, 3], vec![1], vec![0]]);
        assert_eq!(l.cpu_core, vec![0, 1, 2, 2]);
        assert_eq!(l.cpu_llc, vec![0, 0, 0, 0]);
    }

    #[test]
    fn offline_cpus_are_left_out() {
        let llcs = [(mask(&[0, 1]), 0), (mask(&[2, 3]), 1)];
        let cores: Vec<_> = (0..4).map(|c| (mask(&[c]), vec![1024])).collect();
        let l = Layout::new(&llcs, &cores, 4, &mask(&[0, 2, 3])).unwrap();
        assert_eq!(l.cpu_llc, vec![0, NO_LLC, 1, 1]);
        assert_eq!(l.core_order.len(), 3);
    }

    #[test]
    fn limits_are_clear_errors() {
        let on = mask(&[0]);
        let err = Layout::new(&[(mask(&[0]), 0)], &[], MAX_CPUS + 1, &on).unwrap_err();
        assert!(err.to_string().contains("possible CPU ids"));
        let err = Layout::new(&[(mask(&[0]), MAX_NODES as u32)], &[], 1, &on).unwrap_err();
        assert!(err.to_string().contains("NUMA node"));
        assert!(Layout::new(&[(mask(&[1]), 0)], &[], 2, &on).is_err());
    }
}
