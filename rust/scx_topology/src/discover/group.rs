//! Stage 3: partition the online CPUs into cores, LLC domains, NUMA nodes,
//! packages, dies and clusters, from each CPU's validated spans.
//!
//! Every level is built by [`partition`], so it partitions the online CPUs
//! whatever the spans say. Nesting is enforced here: LLC spans are widened
//! to whole cores (cache data never splits an SMT core), LLC domains are cut
//! at node boundaries, and cores are cut at LLC-domain and package
//! boundaries.

use std::collections::BTreeMap;

use crate::Cpumask;

/// A partition of a set of CPUs: the groups in order of their first CPU,
/// and each CPU's group index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Partition {
    pub groups: Vec<Cpumask>,
    pub of: BTreeMap<usize, usize>,
}

impl Partition {
    /// The group holding `cpu`.
    pub fn group_of(&self, cpu: usize) -> &Cpumask {
        &self.groups[self.of[&cpu]]
    }
}

/// Partition `set` in ascending order: each not-yet-taken CPU `c` takes
/// `(span(c) ∩ set ∩ untaken) ∪ {c}`.
pub(crate) fn partition(set: &Cpumask, mut span: impl FnMut(usize) -> Cpumask) -> Partition {
    let mut taken = Cpumask::new();
    let mut p = Partition::default();
    for c in set.iter() {
        if taken.test(c) {
            continue;
        }
        let mut g = span(c).and(set).andnot(&taken);
        g.set(c);
        for m in g.iter() {
            p.of.insert(m, p.groups.len());
        }
        taken = taken.or(&g);
        p.groups.push(g);
    }
    p
}

/// The union of the groups of `p` that intersect `span`.
pub(crate) fn widen(span: &Cpumask, p: &Partition) -> Cpumask {
    let mut out = span.clone();
    for c in span.iter() {
        if let Some(&g) = p.of.get(&c) {
            out = out.or(&p.groups[g]);
        }
    }
    out
}

/// Each online CPU's spans, as chosen by stage 2 (each contains its CPU).
#[derive(Clone, Debug, Default)]
pub(crate) struct Spans {
    pub online: Cpumask,
    /// The SMT core (`core_cpus`); the CPU alone when unknown.
    pub core: BTreeMap<usize, Cpumask>,
    /// The LLC's shared CPUs; absent: no cache information, the LLC is the
    /// core.
    pub llc: BTreeMap<usize, Cpumask>,
    /// The package (mask, or CPUs with the same package id).
    pub package: BTreeMap<usize, Cpumask>,
    /// Die masks where the machine has dies (absent per CPU: the package).
    pub die: Option<BTreeMap<usize, Cpumask>>,
    /// Cluster masks where the machine has clusters (absent per CPU: the
    /// CPU alone).
    pub cluster: Option<BTreeMap<usize, Cpumask>>,
    /// Node number → CPUs its `cpulist` names (online or not).
    pub node_lists: BTreeMap<usize, Cpumask>,
    /// Highest node number known to exist; implied nodes are numbered
    /// after it.
    pub node_max_id: Option<usize>,
}

/// One NUMA node's online CPUs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NodeGroup {
    pub cpus: Cpumask,
    /// Made up for online CPUs no node lists (one per package).
    pub implied: bool,
}

/// The partitions of the online CPUs.
#[derive(Clone, Debug)]
pub(crate) struct Groups {
    pub cores: Partition,
    pub llcs: Partition,
    /// Per LLC domain: the whole cache's online CPUs (widened to cores).
    pub llc_cache_cpus: Vec<Cpumask>,
    /// Nodes by number, including listed nodes without online CPUs.
    pub nodes: BTreeMap<usize, NodeGroup>,
    /// Node number of every CPU a node lists, and of every online CPU.
    pub cpu_node: BTreeMap<usize, usize>,
    pub cpus_in_no_node: Cpumask,
    pub packages: Partition,
    pub dies: Option<Partition>,
    pub clusters: Option<Partition>,
}

fn single(c: usize) -> Cpumask {
    Cpumask::from_cpus([c])
}

/// Build every level from the spans.
pub(crate) fn group(s: &Spans) -> Groups {
    let online = &s.online;
    let span = |m: &BTreeMap<usize, Cpumask>, c: usize| m.get(&c).cloned();
    // SMT cores as the kernel sees them (cut at LLC boundaries below).
    let smt = partition(online, |c| span(&s.core, c).unwrap_or_else(|| single(c)));
    let packages = partition(online, |c| span(&s.package, c).unwrap_or_else(|| single(c)));

    // Nodes: each CPU in the lowest-numbered node listing it; online CPUs no
    // node lists get an implied node per package, numbered after the
    // highest known node.
    let mut cpu_node: BTreeMap<usize, usize> = BTreeMap::new();
    for (&n, m) in s.node_lists.iter().rev() {
        for c in m.iter() {
            cpu_node.insert(c, n);
        }
    }
    let mut nodes: BTreeMap<usize, NodeGroup> = s
        .node_lists
        .keys()
        .map(|&n| {
            let cpus = online.iter().filter(|c| cpu_node.get(c) == Some(&n));
            (
                n,
                NodeGroup {
                    cpus: Cpumask::from_cpus(cpus),
                    implied: false,
                },
            )
        })
        .collect();
    let cpus_in_no_node = Cpumask::from_cpus(online.iter().filter(|c| !cpu_node.contains_key(c)));
    let mut next_id = s
        .node_max_id
        .max(s.node_lists.keys().next_back().copied())
        .map_or(0, |m| m + 1);
    for pkg in &packages.groups {
        let stray = pkg.and(&cpus_in_no_node);
        if stray.is_empty() {
            continue;
        }
        for c in stray.iter() {
            cpu_node.insert(c, next_id);
        }
        nodes.insert(
            next_id,
            NodeGroup {
                cpus: stray,
                implied: true,
            },
        );
        next_id += 1;
    }
    let node_cpus = |c: usize| &nodes[&cpu_node[&c]].cpus;

    // LLC domains: the cache's CPUs widened to whole SMT cores, cut at the
    // node boundary; without cache information, the core.
    let llc_span = |c: usize| match s.llc.get(&c) {
        Some(m) => widen(&m.and(online), &smt),
        None => smt.group_of(c).clone(),
    };
    let llcs = partition(online, |c| llc_span(c).and(node_cpus(c)));
    let llc_cache_cpus = llcs
        .groups
        .iter()
        .map(|g| llc_span(g.first().unwrap_or(0)).or(g))
        .collect();
    // Cores nest in their LLC domain and package even when the masks say
    // otherwise (several bad files at once can make them disagree).
    let cores = partition(online, |c| {
        smt.group_of(c)
            .and(llcs.group_of(c))
            .and(packages.group_of(c))
    });

    let dies = s.die.as_ref().map(|d| {
        partition(online, |c| {
            let pkg = packages.group_of(c);
            d.get(&c).unwrap_or(pkg).and(pkg)
        })
    });
    let clusters = s.cluster.as_ref().map(|cl| {
        partition(online, |c| {
            let within = match &dies {
                Some(d) => d.group_of(c),
                None => packages.group_of(c),
            };
            cl.get(&c).cloned().unwrap_or_else(|| single(c)).and(within)
        })
    });
    Groups {
        cores,
        llcs,
        llc_cache_cpus,
        nodes,
        cpu_node,
        cpus_in_no_node,
        packages,
        dies,
        clusters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(s: &str) -> Cpumask {
        Cpumask::parse_list(s).unwrap()
    }

    fn each(online: &str, f: impl Fn(usize) -> &'static str) -> BTreeMap<usize, Cpumask> {
        l(online).iter().map(|c| (c, l(f(c)))).collect()
    }

    fn groups(p: &Partition) -> Vec<String> {
        p.groups.iter().map(|g| g.to_string()).collect()
    }

    /// 8 CPUs, SMT siblings c and c+4, one package, one node.
    fn base() -> Spans {
        Spans {
            online: l("0-7"),
            core: each("0-7", |c| ["0,4", "1,5", "2,6", "3,7"][c % 4]),
            package: each("0-7", |_| "0-7"),
            node_lists: [(0, l("0-7"))].into_iter().collect(),
            node_max_id: Some(0),
            ..Default::default()
        }
    }

    #[test]
    fn llc_that_splits_a_core_is_widened() {
        let mut s = base();
        s.llc = each("0-7", |c| if c < 4 { "0-3" } else { "4-7" });
        let g = group(&s);
        assert_eq!(groups(&g.llcs), ["0-7"]);
        assert_eq!(groups(&g.cores), ["0,4", "1,5", "2,6", "3,7"]);
    }

    #[test]
    fn llc_split_at_node_boundary_is_kept() {
        let mut s = base();
        s.llc = each("0-7", |_| "0-7");
        s.node_lists = [(0, l("0-1,4-5")), (1, l("2-3,6-7"))].into_iter().collect();
        s.node_max_id = Some(1);
        let g = group(&s);
        assert_eq!(groups(&g.llcs), ["0-1,4-5", "2-3,6-7"]);
        assert!(g.llc_cache_cpus.iter().all(|m| *m == l("0-7")));
    }

    #[test]
    fn cpus_no_node_lists_get_an_implied_node_per_package() {
        let mut s = base();
        s.package = each("0-7", |c| if c % 4 < 2 { "0-1,4-5" } else { "2-3,6-7" });
        // Node 1 (2-3,6-7) is offline: only node 0 is listed; node 3 exists.
        s.node_lists = [(0, l("0-1,4-5"))].into_iter().collect();
        s.node_max_id = Some(3);
        let g = group(&s);
        assert_eq!(g.cpus_in_no_node, l("2-3,6-7"));
        assert_eq!(g.nodes[&0].cpus, l("0-1,4-5"));
        assert!(!g.nodes[&0].implied);
        assert_eq!(g.nodes[&4].cpus, l("2-3,6-7"));
        assert!(g.nodes[&4].implied);
        assert_eq!(g.cpu_node[&7], 4);
    }

    #[test]
    fn inconsistent_spans_still_partition() {
        let mut s = base();
        s.core = each("0-7", |c| ["0-2", "1", "2,6", "3"][c % 4]);
        s.llc = each("0-7", |c| if c == 5 { "5" } else { "0-7" });
        let g = group(&s);
        for p in [&g.cores, &g.llcs, &g.packages] {
            let total: usize = p.groups.iter().map(|g| g.weight()).sum();
            assert_eq!(total, 8);
        }
    }
}
