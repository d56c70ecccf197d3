//! Discovery, in four stages that each can be read and tested alone:
//!
//! 1. [`read`]: raw facts from sysfs. Never fails on a bad file: the fact is
//!    unknown and one warning names the file. Masks are read lazily.
//! 2. [`masks`]: each CPU's core, package, die, cluster and cache masks,
//!    chosen among the list and hex forms by validity (the mask holds the
//!    CPU and every CPU it names reports the same), with a defined fallback
//!    when no form is valid. Applied here, in [`choose_spans`].
//! 3. [`group`]: partitions of the online CPUs into cores, LLC domains,
//!    nodes (implied ones for CPUs no node lists), packages, dies, clusters,
//!    nested (LLCs widened to whole cores, cut at nodes; cores cut at LLCs).
//! 4. [`nest`]: the tree with dense indexes, ids, capacities and kinds.
//!
//! A new pitfall is a change to one stage: a new kind of bad file to
//! stage 1, a new way masks lie to stage 2, a new grouping rule to stage 3.

pub(crate) mod group;
pub(crate) mod masks;
pub(crate) mod nest;
pub(crate) mod read;

use std::collections::BTreeMap;

use anyhow::Result;

use crate::sysfs::{self, SysfsRoot};
use crate::topology::{CacheInfo, Topology};
use crate::Cpumask;
use group::{Groups, Partition, Spans};
use masks::{Choice, Validator};
use nest::{CpuCaches, Facts, GroupIds};
use read::{CacheKey, CacheType, Form, IdKind, MaskKind, Probe, Reader};

/// Discover the topology below `root`.
pub(crate) fn discover(root: SysfsRoot) -> Result<Topology> {
    let mut r = Reader::new(&root);
    // Stage 1: the machine-wide sets, then per online CPU its caches and
    // performance files; nodes. (Masks and ids are read on demand.)
    let sys = read::read_system(&mut r)?;
    let online = sys.online.clone();
    let probe = Probe::new(&r, online.first());
    let mut perf = BTreeMap::new();
    for c in online.iter() {
        r.read_caches(c);
        perf.insert(c, read::read_perf(&mut r, c, &probe));
    }
    let raw_nodes = read::read_nodes(&mut r);
    let hybrid = {
        let p = r.list(&root.join("sys/devices/cpu_core/cpus"));
        let e = r.list(&root.join("sys/devices/cpu_atom/cpus"));
        match (p, e) {
            (Some(p), Some(e)) if !p.is_empty() && !e.is_empty() => Some((p, e)),
            _ => None,
        }
    };

    // Stage 2.
    let (spans, caches) = choose_spans(&mut r, &online, &probe, &raw_nodes);

    // Stage 3.
    let groups = group::group(&spans);

    // Stage 4 (ids are read once per group, from its first CPU).
    let ids = group_ids(&mut r, &groups);
    let allowed = read::read_allowed(&mut r, &online);
    let warnings = r.into_warnings();
    Ok(nest::nest(Facts {
        root: root.clone(),
        sys,
        groups,
        ids,
        caches,
        perf,
        nodes: raw_nodes,
        hybrid,
        allowed,
        warnings,
    }))
}

/// Warn about the forms of `cpu`'s `kind` mask that stage 2 rejected.
fn warn_rejected(r: &mut Reader, cpu: usize, kind: MaskKind, forms: &[Form], what: &str) {
    for &form in forms {
        if let Some(p) = r.mask_path(cpu, kind, form) {
            r.warn(&p, what);
        }
    }
}

/// Choose `cpu`'s mask of the first kind in `kinds` that has a valid one.
/// `Err(true)`: some form was present but none valid (warned with
/// `fallback`); `Err(false)`: nothing to read, or only empty masks.
fn choose_first(
    r: &mut Reader,
    validators: &mut BTreeMap<MaskKind, Validator>,
    online: &Cpumask,
    cpu: usize,
    kinds: &[MaskKind],
    fallback: &str,
) -> std::result::Result<Cpumask, bool> {
    let mut bad: Vec<(MaskKind, Vec<Form>)> = Vec::new();
    for &kind in kinds {
        let v = validators
            .entry(kind)
            .or_insert_with(|| Validator::new(online));
        let choice = v.choose(cpu, &mut |c, form| r.mask(c, kind, form));
        match choice {
            Choice::Valid { mask, rejected } => {
                let what = "disagrees with the CPUs it names (or leaves this CPU out); \
                            using the other form";
                warn_rejected(r, cpu, kind, &rejected, what);
                return Ok(mask);
            }
            Choice::Invalid(forms) => bad.push((kind, forms)),
            Choice::Empty | Choice::Missing => {}
        }
    }
    if bad.is_empty() {
        return Err(false);
    }
    let what = format!("not a valid mask for this CPU in either form; {fallback}");
    for (kind, forms) in bad {
        warn_rejected(r, cpu, kind, &forms, &what);
    }
    Err(true)
}

/// Stage 2 for every online CPU: the spans stage 3 groups by, and each
/// CPU's caches.
fn choose_spans(
    r: &mut Reader,
    online: &Cpumask,
    probe: &Probe,
    raw_nodes: &read::RawNodes,
) -> (Spans, BTreeMap<usize, CpuCaches>) {
    let mut v: BTreeMap<MaskKind, Validator> = BTreeMap::new();
    let single = |c: usize| Cpumask::from_cpus([c]);
    let mut s = Spans {
        online: online.clone(),
        ..Default::default()
    };

    // Cores: core_cpus, else thread_siblings (old kernels), else the CPU.
    let core_kinds = [MaskKind::Core, MaskKind::ThreadSiblings];
    for c in online.iter() {
        let m = choose_first(
            r,
            &mut v,
            online,
            c,
            &core_kinds,
            "the core is the CPU alone",
        )
        .unwrap_or_else(|_| single(c));
        s.core.insert(c, m);
    }

    // Caches: the LLC (highest level, unified over data at one level), L2
    // and L3. Empty masks mean private to the core; invalid ones fall back
    // to the core; a cache with no mask at all is ignored.
    let mut caches: BTreeMap<usize, CpuCaches> = BTreeMap::new();
    let mut info_memo: BTreeMap<(CacheKey, Cpumask), (Option<u64>, Option<u64>)> = BTreeMap::new();
    let l2 = CacheKey {
        level: 2,
        ty: CacheType::Unified,
    };
    let l3 = CacheKey {
        level: 3,
        ty: CacheType::Unified,
    };
    for c in online.iter() {
        let mut keys = r.caches(c);
        keys.sort();
        let mut cache_span = |r: &mut Reader, key: CacheKey| -> Option<CacheInfo> {
            let kind = MaskKind::Cache(key);
            let fallback = "the cache is taken as private to the core";
            let cpus = match choose_first(r, &mut v, online, c, &[kind], fallback) {
                Ok(m) => m,
                Err(true) => s.core[&c].clone(),
                Err(false) => {
                    let empty = r.mask(c, kind, Form::List).is_some()
                        || r.mask(c, kind, Form::Hex).is_some();
                    if !empty {
                        return None;
                    }
                    s.core[&c].clone()
                }
            };
            let (id, size) = *info_memo.entry((key, cpus.clone())).or_insert_with(|| {
                let dir = r.cache_dir(c, key).unwrap_or_default();
                let id = r.num::<u64>(&dir.join("id"));
                let size_path = dir.join("size");
                let size = r.text(&size_path).and_then(|t| {
                    let v = sysfs::parse_size(&t);
                    if v.is_none() {
                        r.warn(&size_path, "not a cache size; ignored");
                    }
                    v
                });
                (id, size)
            });
            Some(CacheInfo {
                level: key.level,
                id,
                size,
                cpus,
            })
        };
        let mut cc = CpuCaches::default();
        for &key in keys.iter().rev() {
            if cc.llc.is_none() {
                cc.llc = cache_span(r, key);
                if let Some(i) = &cc.llc {
                    if key == l2 {
                        cc.l2 = Some(i.clone());
                    }
                    if key == l3 {
                        cc.l3 = Some(i.clone());
                    }
                }
            } else if key == l2 || key == l3 {
                let i = cache_span(r, key);
                if key == l2 {
                    cc.l2 = i;
                } else {
                    cc.l3 = i;
                }
            }
        }
        if let Some(i) = &cc.llc {
            s.llc.insert(c, i.cpus.clone());
        }
        caches.insert(c, cc);
    }

    // Packages: package_cpus, else core_siblings, else the CPUs with the same
    // physical_package_id (all of them when none has one).
    let pkg_kinds = [MaskKind::Package, MaskKind::CoreSiblings];
    let mut pkg_ids: Option<BTreeMap<usize, Option<i64>>> = None;
    for c in online.iter() {
        let what = "the package is taken from physical_package_id";
        let m = match choose_first(r, &mut v, online, c, &pkg_kinds, what) {
            Ok(m) => m,
            Err(_) => {
                let ids = pkg_ids.get_or_insert_with(|| {
                    online
                        .iter()
                        .map(|o| (o, r.id(o, IdKind::Package)))
                        .collect()
                });
                let mine = ids[&c];
                Cpumask::from_cpus(ids.iter().filter(|(_, &i)| i == mine).map(|(&o, _)| o))
            }
        };
        s.package.insert(c, m);
    }

    // Dies and clusters, where the machine has them.
    for (has, kind, slot, what) in [
        (
            probe.die,
            MaskKind::Die,
            &mut s.die,
            "the die is taken as the package",
        ),
        (
            probe.cluster,
            MaskKind::Cluster,
            &mut s.cluster,
            "the cluster is taken as the CPU alone",
        ),
    ] {
        if !has {
            continue;
        }
        let mut m = BTreeMap::new();
        for c in online.iter() {
            if let Ok(x) = choose_first(r, &mut v, online, c, &[kind], what) {
                m.insert(c, x);
            }
        }
        *slot = Some(m);
    }

    // Nodes: without a node directory, one node 0 with every online CPU.
    if raw_nodes.info {
        s.node_lists = raw_nodes.cpus.clone();
        s.node_max_id = raw_nodes.max_id;
    } else {
        s.node_lists.insert(0, online.clone());
        s.node_max_id = Some(0);
    }
    (s, caches)
}

/// The kernel's ids of each group, read from its first CPU.
fn group_ids(r: &mut Reader, g: &Groups) -> GroupIds {
    let mut ids = |p: Option<&Partition>, kind: IdKind| -> Vec<Option<i64>> {
        p.map(|p| {
            p.groups
                .iter()
                .map(|m| m.first().and_then(|c| r.id(c, kind)))
                .collect()
        })
        .unwrap_or_default()
    };
    GroupIds {
        core: ids(Some(&g.cores), IdKind::Core),
        package: ids(Some(&g.packages), IdKind::Package),
        die: ids(g.dies.as_ref(), IdKind::Die),
        cluster: ids(g.clusters.as_ref(), IdKind::Cluster),
    }
}
