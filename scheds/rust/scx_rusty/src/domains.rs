//! Scheduling domains: one per LLC, numbered densely, plus the per-CPU tables the BPF side reads.
//!
//! This is also where a user-space load balancer will live: it needs exactly these tables
//! (which CPUs form a domain, which node a domain is on) to decide where tasks should move.

use anyhow::{bail, Result};
use scx_topology::{Cpumask, Topology};

/// Limits of the BPF side's tables (see `bpf/intf.h`).
pub const MAX_CPUS: usize = crate::bpf_intf::rusty_consts_MAX_CPUS as usize;
pub const MAX_DOMS: usize = crate::bpf_intf::rusty_consts_MAX_DOMS as usize;
pub const MAX_CORES: usize = crate::bpf_intf::rusty_consts_MAX_CORES as usize;

/// Marks a CPU that belongs to no domain (offline, or outside every LLC we use).
pub const NO_DOM: u32 = MAX_DOMS as u32;

/// A domain: the online CPUs of one LLC and the NUMA node they are on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub cpus: Cpumask,
    pub node: u32,
}

/// Everything the BPF side needs to know about placement.
#[derive(Debug, Clone)]
pub struct Domains {
    pub doms: Vec<Domain>,
    /// Per CPU id: domain index or [`NO_DOM`].
    pub cpu_dom: Vec<u32>,
    /// Per CPU id: dense core index (0 for CPUs in no domain).
    pub cpu_core: Vec<u32>,
    pub nr_cores: usize,
    pub nr_cpu_ids: usize,
}

impl Domains {
    /// One domain per LLC of `topo`.
    pub fn from_topology(topo: &Topology) -> Result<Self> {
        let llcs: Vec<(Cpumask, u32)> = topo
            .llcs()
            .iter()
            .map(|l| (l.cpus.clone(), l.node as u32))
            .collect();
        let cores: Vec<Cpumask> = topo.cores().iter().map(|c| c.cpus.clone()).collect();
        Self::new(&llcs, &cores, topo.nr_cpu_ids())
    }

    /// Build from LLC spans with their nodes and core spans, checking the BPF side's limits.
    pub fn new(llcs: &[(Cpumask, u32)], cores: &[Cpumask], nr_cpu_ids: usize) -> Result<Self> {
        if nr_cpu_ids > MAX_CPUS {
            bail!("this machine has {nr_cpu_ids} possible CPU ids; scx_rusty supports up to {MAX_CPUS}");
        }
        let doms: Vec<Domain> = llcs
            .iter()
            .filter(|(cpus, _)| !cpus.is_empty())
            .map(|(cpus, node)| Domain {
                cpus: cpus.clone(),
                node: *node,
            })
            .collect();
        if doms.is_empty() {
            bail!("the topology has no online CPU in any LLC");
        }
        if doms.len() > MAX_DOMS {
            bail!(
                "this machine has {} LLC domains; scx_rusty supports up to {MAX_DOMS}",
                doms.len()
            );
        }
        if cores.len() > MAX_CORES {
            bail!(
                "this machine has {} cores; scx_rusty supports up to {MAX_CORES}",
                cores.len()
            );
        }
        if let Some(d) = doms.iter().find(|d| d.node as usize >= MAX_DOMS) {
            bail!(
                "NUMA node {} is beyond the {MAX_DOMS} nodes scx_rusty supports",
                d.node
            );
        }
        let mut cpu_dom = vec![NO_DOM; nr_cpu_ids];
        for (i, d) in doms.iter().enumerate() {
            for cpu in d.cpus.iter() {
                if cpu >= nr_cpu_ids {
                    bail!("CPU {cpu} of domain {i} is beyond nr_cpu_ids {nr_cpu_ids}");
                }
                if cpu_dom[cpu] != NO_DOM {
                    bail!("CPU {cpu} is in two LLC domains ({} and {i})", cpu_dom[cpu]);
                }
                cpu_dom[cpu] = i as u32;
            }
        }
        let mut cpu_core = vec![0u32; nr_cpu_ids];
        for (i, c) in cores.iter().enumerate() {
            for cpu in c.iter().filter(|&cpu| cpu < nr_cpu_ids) {
                cpu_core[cpu] = i as u32;
            }
        }
        Ok(Self {
            doms,
            cpu_dom,
            cpu_core,
            nr_cores: cores.len().max(1),
            nr_cpu_ids,
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
    fn two_llcs_on_two_nodes() {
        let llcs = [(mask(&[0, 1, 2, 3]), 0), (mask(&[4, 5, 6, 7]), 1)];
        let cores: Vec<_> = (0..4).map(|c| mask(&[2 * c, 2 * c + 1])).collect();
        let d = Domains::new(&llcs, &cores, 8).unwrap();
        assert_eq!(d.doms.len(), 2);
        assert_eq!(d.cpu_dom, vec![0, 0, 0, 0, 1, 1, 1, 1]);
        assert_eq!(d.cpu_core, vec![0, 0, 1, 1, 2, 2, 3, 3]);
        assert_eq!(d.doms[1].node, 1);
    }

    #[test]
    fn offline_cpus_belong_to_no_domain() {
        let llcs = [(mask(&[0, 2]), 0)];
        let d = Domains::new(&llcs, &[mask(&[0]), mask(&[2])], 4).unwrap();
        assert_eq!(d.cpu_dom, vec![0, NO_DOM, 0, NO_DOM]);
    }

    #[test]
    fn limits_are_clear_errors() {
        let err = Domains::new(&[(mask(&[0]), 0)], &[mask(&[0])], MAX_CPUS + 1).unwrap_err();
        assert!(err.to_string().contains("possible CPU ids"));
        let llcs: Vec<_> = (0..MAX_DOMS + 1).map(|i| (mask(&[i]), 0)).collect();
        let err = Domains::new(&llcs, &[], MAX_DOMS + 1).unwrap_err();
        assert!(err.to_string().contains("LLC domains"));
        let err = Domains::new(&[(mask(&[0, 1]), 0), (mask(&[1]), 0)], &[], 2).unwrap_err();
        assert!(err.to_string().contains("two LLC domains"));
        assert!(Domains::new(&[(Cpumask::new(), 0)], &[], 1).is_err());
    }
}
