//! The machine as compaction sees it: each CPU's capacity and the order in which cores are
//! handed out, on top of the placement tables the BPF side reads (scx_utils' [`LlcTables`] for
//! `scx/llc_topo.bpf.h`: one queue per LLC, each LLC on a node, each CPU in a core).

use anyhow::Result;
use scx_topology::{Cpumask, Topology};
use scx_utils::LlcTables;

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
    /// The BPF side's placement tables.
    pub tables: LlcTables,
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
        let spans: Vec<Cpumask> = cores.iter().map(|(span, _)| span.clone()).collect();
        let tables = LlcTables::new(llcs, &spans, nr_cpu_ids, online, "scx_lavd")?;
        let mut core_order = Vec::new();
        let mut cpu_cap = vec![1.0; nr_cpu_ids];
        for (span, caps) in cores {
            let mut cpus = Vec::new();
            let mut capacity = 0.0;
            for (cpu, cap) in span.iter().zip(caps.iter().chain(std::iter::repeat(&1024))) {
                if cpu < nr_cpu_ids {
                    cpu_cap[cpu] = f64::from((*cap).clamp(1, 1024)) / 1024.0;
                    if tables.cpu_llc[cpu] != LlcTables::NO_LLC {
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
        for (cpu, llc) in tables.cpu_llc.iter().enumerate() {
            if *llc != LlcTables::NO_LLC && !core_order.iter().any(|c| c.cpus.contains(&cpu)) {
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
            tables,
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
        assert_eq!(l.tables.cpu_core, vec![0, 1, 2, 2]);
        assert_eq!(l.tables.cpu_llc, vec![0, 0, 0, 0]);
    }

    #[test]
    fn offline_cpus_are_left_out() {
        let llcs = [(mask(&[0, 1]), 0), (mask(&[2, 3]), 1)];
        let cores: Vec<_> = (0..4).map(|c| (mask(&[c]), vec![1024])).collect();
        let l = Layout::new(&llcs, &cores, 4, &mask(&[0, 2, 3])).unwrap();
        assert_eq!(l.tables.cpu_llc, vec![0, LlcTables::NO_LLC, 1, 1]);
        assert_eq!(l.core_order.len(), 3);
    }

    /// The limits themselves are LlcTables' (tested in scx_utils); the errors name scx_lavd.
    #[test]
    fn limits_are_clear_errors() {
        let on = mask(&[0]);
        let err = Layout::new(&[(mask(&[0]), 0)], &[], LlcTables::MAX_CPUS + 1, &on).unwrap_err();
        assert!(
            err.to_string().contains("scx_lavd supports up to 512"),
            "{err}"
        );
        assert!(Layout::new(&[(mask(&[1]), 0)], &[], 2, &on).is_err());
    }
}
