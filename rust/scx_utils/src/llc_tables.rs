//! The placement tables of `scx/llc_topo.bpf.h`: which LLC and core each CPU is in, which node
//! each LLC is on, and each LLC's CPUs, computed from a [`Topology`] and checked against the
//! header's limits.

use anyhow::{bail, Result};
use scx_topology::{Cpumask, Topology};

/// One LLC as the BPF side sees it: its online CPUs and the id of its NUMA node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlcSpan {
    /// Online CPUs of the LLC (never empty).
    pub cpus: Cpumask,
    /// NUMA node id.
    pub node: u32,
}

/// The tables `scx/llc_topo.bpf.h` reads, for a machine within its limits. Copy them into a
/// skeleton's read-only data with [`fill_llc_tables!`](crate::fill_llc_tables) before load.
///
/// ```
/// use scx_topology::Cpumask;
/// use scx_utils::LlcTables;
///
/// // Two LLCs of two SMT cores each, on nodes 0 and 1; CPU 6 is offline.
/// let m = |c: &[usize]| Cpumask::from_cpus(c.iter().copied());
/// let llcs = [(m(&[0, 1, 2, 3]), 0), (m(&[4, 5, 6, 7]), 1)];
/// let cores = [m(&[0, 1]), m(&[2, 3]), m(&[4, 5]), m(&[6, 7])];
/// let online = m(&[0, 1, 2, 3, 4, 5, 7]);
/// let t = LlcTables::new(&llcs, &cores, 8, &online, "scx_example").unwrap();
/// assert_eq!(t.cpu_llc, [0, 0, 0, 0, 1, 1, LlcTables::NO_LLC, 1]);
/// assert_eq!(t.cpu_core, [0, 0, 1, 1, 2, 2, 3, 3]);
/// assert_eq!(t.llc_cpu_lists().0, [0, 1, 2, 3, 4, 5, 7]);
/// ```
#[derive(Debug, Clone)]
pub struct LlcTables {
    /// The LLCs with an online CPU, numbered densely from 0.
    pub llcs: Vec<LlcSpan>,
    /// Per CPU id: its LLC's index, or [`LlcTables::NO_LLC`].
    pub cpu_llc: Vec<u32>,
    /// Per CPU id: its core's dense index (0 for a CPU in no core span).
    pub cpu_core: Vec<u32>,
    /// How many core indexes there are (at least 1).
    pub nr_cores: usize,
    /// How many CPU ids the tables cover (the highest possible CPU + 1).
    pub nr_cpu_ids: usize,
    /// How many CPUs are in an LLC (online).
    pub nr_online_cpus: usize,
}

impl LlcTables {
    /// Most CPU ids the tables hold (`SCX_TOPO_MAX_CPUS` in the header).
    pub const MAX_CPUS: usize = 512;
    /// Most LLCs (`SCX_TOPO_MAX_LLCS`).
    pub const MAX_LLCS: usize = 64;
    /// Node ids must be below this (`SCX_TOPO_MAX_NODES`).
    pub const MAX_NODES: usize = 64;
    /// Most cores (`SCX_TOPO_MAX_CORES`).
    pub const MAX_CORES: usize = 512;
    /// The LLC of a CPU in none (`SCX_TOPO_NO_LLC`).
    pub const NO_LLC: u32 = Self::MAX_LLCS as u32;

    /// The tables of `topo`. `who` names the scheduler in errors ("scx_foo supports up to …").
    pub fn from_topology(topo: &Topology, who: &str) -> Result<Self> {
        let llcs: Vec<(Cpumask, u32)> = topo
            .llcs()
            .iter()
            .map(|l| (l.cpus.clone(), l.node as u32))
            .collect();
        let cores: Vec<Cpumask> = topo.cores().iter().map(|c| c.cpus.clone()).collect();
        Self::new(&llcs, &cores, topo.nr_cpu_ids(), topo.online_cpus(), who)
    }

    /// The tables from LLC spans with their node ids and from core spans. CPUs outside
    /// `online` are left out of the LLCs, and LLCs left empty are dropped.
    pub fn new(
        llcs: &[(Cpumask, u32)],
        cores: &[Cpumask],
        nr_cpu_ids: usize,
        online: &Cpumask,
        who: &str,
    ) -> Result<Self> {
        if nr_cpu_ids > Self::MAX_CPUS {
            bail!(
                "this machine has {nr_cpu_ids} possible CPU ids; {who} supports up to {}",
                Self::MAX_CPUS
            );
        }
        let llcs: Vec<LlcSpan> = llcs
            .iter()
            .map(|(cpus, node)| LlcSpan {
                cpus: cpus.and(online),
                node: *node,
            })
            .filter(|l| !l.cpus.is_empty())
            .collect();
        if llcs.is_empty() {
            bail!("the topology has no online CPU in any LLC");
        }
        if llcs.len() > Self::MAX_LLCS {
            bail!(
                "this machine has {} LLCs; {who} supports up to {}",
                llcs.len(),
                Self::MAX_LLCS
            );
        }
        if cores.len() > Self::MAX_CORES {
            bail!(
                "this machine has {} cores; {who} supports up to {}",
                cores.len(),
                Self::MAX_CORES
            );
        }
        if let Some(l) = llcs.iter().find(|l| l.node as usize >= Self::MAX_NODES) {
            bail!(
                "NUMA node {} is beyond the {} nodes {who} supports",
                l.node,
                Self::MAX_NODES
            );
        }
        let mut cpu_llc = vec![Self::NO_LLC; nr_cpu_ids];
        for (i, l) in llcs.iter().enumerate() {
            for cpu in l.cpus.iter() {
                if cpu >= nr_cpu_ids {
                    bail!("CPU {cpu} of LLC {i} is beyond nr_cpu_ids {nr_cpu_ids}");
                }
                if cpu_llc[cpu] != Self::NO_LLC {
                    bail!("CPU {cpu} is in two LLCs ({} and {i})", cpu_llc[cpu]);
                }
                cpu_llc[cpu] = i as u32;
            }
        }
        let mut cpu_core = vec![0u32; nr_cpu_ids];
        for (i, c) in cores.iter().enumerate() {
            for cpu in c.iter().filter(|&cpu| cpu < nr_cpu_ids) {
                cpu_core[cpu] = i as u32;
            }
        }
        Ok(Self {
            nr_online_cpus: llcs.iter().map(|l| l.cpus.weight()).sum(),
            llcs,
            cpu_llc,
            cpu_core,
            nr_cores: cores.len().max(1),
            nr_cpu_ids,
        })
    }

    /// The LLCs' CPUs one after the other, each LLC's start in that list and its CPU count:
    /// the header's `scx_topo_llc_cpus`, `_llc_cpu_start` and `_llc_nr_cpus`.
    pub fn llc_cpu_lists(&self) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
        let mut cpus = Vec::with_capacity(self.nr_online_cpus);
        let mut start = Vec::with_capacity(self.llcs.len());
        let mut nr = Vec::with_capacity(self.llcs.len());
        for l in &self.llcs {
            start.push(cpus.len() as u32);
            nr.push(l.cpus.weight() as u32);
            cpus.extend(l.cpus.iter().map(|c| c as u32));
        }
        (cpus, start, nr)
    }
}

/// Copy an [`LlcTables`] into the read-only data of a skeleton whose BPF side includes
/// `scx/llc_topo.bpf.h` (before load):
///
/// ```ignore
/// let tables = LlcTables::from_topology(topo, "scx_foo")?;
/// let ro = skel.maps.rodata_data.as_deref_mut().expect("the BPF side has read-only data");
/// scx_utils::fill_llc_tables!(ro, &tables);
/// ```
#[macro_export]
macro_rules! fill_llc_tables {
    ($rodata:expr, $tables:expr) => {{
        let ro = &mut *$rodata;
        let t: &$crate::LlcTables = $tables;
        let (cpus, start, nr) = t.llc_cpu_lists();
        ro.scx_topo_nr_cpu_ids = t.nr_cpu_ids as u32;
        ro.scx_topo_nr_online_cpus = t.nr_online_cpus as u32;
        ro.scx_topo_nr_llcs = t.llcs.len() as u32;
        ro.scx_topo_nr_cores = t.nr_cores as u32;
        ro.scx_topo_cpu_llc[..t.nr_cpu_ids].copy_from_slice(&t.cpu_llc);
        ro.scx_topo_cpu_core[..t.nr_cpu_ids].copy_from_slice(&t.cpu_core);
        ro.scx_topo_llc_cpus[..cpus.len()].copy_from_slice(&cpus);
        ro.scx_topo_llc_cpu_start[..start.len()].copy_from_slice(&start);
        ro.scx_topo_llc_nr_cpus[..nr.len()].copy_from_slice(&nr);
        for (slot, l) in ro.scx_topo_llc_node.iter_mut().zip(&t.llcs) {
            *slot = l.node;
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(cpus: &[usize]) -> Cpumask {
        Cpumask::from_cpus(cpus.iter().copied())
    }

    fn all(n: usize) -> Cpumask {
        Cpumask::from_cpus(0..n)
    }

    #[test]
    fn two_llcs_on_two_nodes() {
        let llcs = [(mask(&[0, 1, 2, 3]), 0), (mask(&[4, 5, 6, 7]), 1)];
        let cores: Vec<_> = (0..4).map(|c| mask(&[2 * c, 2 * c + 1])).collect();
        let t = LlcTables::new(&llcs, &cores, 8, &all(8), "t").unwrap();
        assert_eq!(t.llcs.len(), 2);
        assert_eq!(t.cpu_llc, vec![0, 0, 0, 0, 1, 1, 1, 1]);
        assert_eq!(t.cpu_core, vec![0, 0, 1, 1, 2, 2, 3, 3]);
        assert_eq!(t.llcs[1].node, 1);
        assert_eq!(t.nr_cores, 4);
        assert_eq!(t.nr_online_cpus, 8);
        let (cpus, start, nr) = t.llc_cpu_lists();
        assert_eq!(cpus, vec![0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(start, vec![0, 4]);
        assert_eq!(nr, vec![4, 4]);
    }

    #[test]
    fn offline_cpus_and_empty_llcs_are_left_out() {
        let llcs = [(mask(&[0, 1]), 0), (mask(&[2, 3]), 1), (mask(&[4]), 1)];
        let cores: Vec<_> = (0..5).map(|c| mask(&[c])).collect();
        let t = LlcTables::new(&llcs, &cores, 5, &mask(&[0, 2, 3]), "t").unwrap();
        let no = LlcTables::NO_LLC;
        assert_eq!(t.cpu_llc, vec![0, no, 1, 1, no]);
        assert_eq!(t.llcs.len(), 2);
        assert_eq!(t.nr_online_cpus, 3);
        assert_eq!(t.llc_cpu_lists().1, vec![0, 1]);
    }

    #[test]
    fn limits_and_bad_spans_are_clear_errors() {
        let on = all(LlcTables::MAX_CPUS + 1);
        let err = |r: Result<LlcTables>| r.unwrap_err().to_string();
        let e = err(LlcTables::new(
            &[(mask(&[0]), 0)],
            &[],
            LlcTables::MAX_CPUS + 1,
            &on,
            "scx_t",
        ));
        assert!(
            e.contains("possible CPU ids; scx_t supports up to 512"),
            "{e}"
        );
        let llcs: Vec<_> = (0..=LlcTables::MAX_LLCS).map(|i| (mask(&[i]), 0)).collect();
        let e = err(LlcTables::new(
            &llcs,
            &[],
            LlcTables::MAX_LLCS + 1,
            &on,
            "scx_t",
        ));
        assert!(e.contains("65 LLCs"), "{e}");
        let cores: Vec<_> = (0..=LlcTables::MAX_CORES).map(|_| mask(&[0])).collect();
        let e = err(LlcTables::new(&[(mask(&[0]), 0)], &cores, 1, &on, "scx_t"));
        assert!(e.contains("513 cores"), "{e}");
        let e = err(LlcTables::new(&[(mask(&[0]), 64)], &[], 1, &on, "scx_t"));
        assert!(e.contains("NUMA node 64"), "{e}");
        let e = err(LlcTables::new(
            &[(mask(&[0, 1]), 0), (mask(&[1]), 0)],
            &[],
            2,
            &on,
            "t",
        ));
        assert!(e.contains("two LLCs"), "{e}");
        let e = err(LlcTables::new(&[(mask(&[3]), 0)], &[], 2, &on, "t"));
        assert!(e.contains("beyond nr_cpu_ids"), "{e}");
        let e = err(LlcTables::new(&[(mask(&[1]), 0)], &[], 2, &mask(&[0]), "t"));
        assert!(e.contains("no online CPU"), "{e}");
    }

    /// The limits above are the header's: a change on one side only fails here.
    #[test]
    fn limits_match_the_header() {
        let (_, header) = crate::BPF_HEADERS
            .iter()
            .find(|(p, _)| p.ends_with("scx/llc_topo.bpf.h"))
            .expect("llc_topo.bpf.h is shipped");
        let header = std::str::from_utf8(header).unwrap();
        let value = |name: &str| -> usize {
            let line = header
                .lines()
                .find(|l| l.starts_with(&format!("#define {name} ")))
                .unwrap_or_else(|| panic!("{name} is not defined in the header"));
            line.split_whitespace().nth(2).unwrap().parse().unwrap()
        };
        assert_eq!(value("SCX_TOPO_MAX_CPUS"), LlcTables::MAX_CPUS);
        assert_eq!(value("SCX_TOPO_MAX_LLCS"), LlcTables::MAX_LLCS);
        assert_eq!(value("SCX_TOPO_MAX_NODES"), LlcTables::MAX_NODES);
        assert_eq!(value("SCX_TOPO_MAX_CORES"), LlcTables::MAX_CORES);
    }
}
