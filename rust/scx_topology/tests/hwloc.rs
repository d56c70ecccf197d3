//! Every generated fake machine and every real-machine dump: groupings equal
//! hwloc's for the same root, and the invariants hold.

mod common;

use common::*;
use scx_topology::{CoreKind, KindSource, Topology};

#[test]
fn generated_machines_match_hwloc() {
    let machines = machines();
    assert!(machines.len() >= 15);
    require_hwloc();
    for m in &machines {
        let root = m.root();
        let t = Topology::from_root(root.path()).unwrap_or_else(|e| panic!("{}: {e:#}", m.name));
        check_invariants(&m.name, &t);
        assert!(t.warnings().is_empty(), "{}: {:?}", m.name, t.warnings());
        let exp = expected_counts(m);
        assert_eq!(t.online_cpus().weight(), exp["cpus"], "{}", m.name);
        assert_eq!(t.cores().len(), exp["cores"], "{}", m.name);
        assert_eq!(t.packages().len(), exp["packages"], "{}", m.name);
        let checked = compare_with_hwloc(&m.name, root.path(), &t);
        println!("{}: matches hwloc on {}", m.name, checked.join(", "));
    }
}

fn topo(name: &str) -> Topology {
    let m = machines().into_iter().find(|m| m.name == name).unwrap();
    let root = m.root();
    Topology::from_root(root.path()).unwrap()
}

#[test]
fn epyc_shape() {
    let t = topo("epyc_2s_12ccx_smt2_384");
    assert_eq!(t.online_cpus().weight(), 384);
    assert_eq!(t.nr_cpu_ids(), 384);
    assert_eq!(t.llcs().len(), 24);
    assert_eq!(t.nodes().len(), 2);
    assert!(t
        .llcs()
        .iter()
        .all(|l| l.cores.len() == 8 && l.cpus.weight() == 16 && l.level == 3));
    assert!(t.cores().iter().all(|c| c.cpus.weight() == 2));
    assert!(t.smt_enabled());
    // Interleaved numbering: CPU 0 and 192 are siblings.
    assert_eq!(t.cores()[0].cpus.to_string(), "0,192");
}

#[test]
fn phone_kinds_and_capacity() {
    let t = topo("phone_big_little_dt");
    assert!(!t.has_numa_info());
    assert_eq!(t.nodes().len(), 1);
    assert_eq!(t.core_kind_source(), KindSource::CpuCapacity);
    let kinds: Vec<CoreKind> = t.cpus().iter().map(|c| c.core_kind).collect();
    assert_eq!(&kinds[..4], &[CoreKind::Little; 4]);
    assert_eq!(&kinds[4..7], &[CoreKind::Medium; 3]);
    assert_eq!(kinds[7], CoreKind::Big);
    assert_eq!(t.cpu(7).unwrap().capacity, 1024);
    assert_eq!(t.cpu(0).unwrap().capacity, 278);
    assert_eq!(t.cores().len(), 8);
    assert_eq!(t.llcs().len(), 1);
    assert_eq!(t.cpu(4).unwrap().cluster, Some(1));
    assert!(!t.smt_enabled());
}

#[test]
fn hybrid_kinds() {
    let t = topo("intel_hybrid_6p8e");
    assert_eq!(t.core_kind_source(), KindSource::IntelHybrid);
    assert_eq!(t.capacity_source(), KindSource::MaxFrequency);
    assert_eq!(t.cpu(0).unwrap().core_kind, CoreKind::Big);
    assert_eq!(t.cpu(19).unwrap().core_kind, CoreKind::Little);
    assert_eq!(t.cpu(19).unwrap().capacity, 3_800_000 * 1024 / 5_000_000);
    assert_eq!(t.cores().len(), 14);
}

#[test]
fn pitfalls_defined_results() {
    let t = topo("smt_off");
    assert!(!t.smt_enabled());
    assert_eq!(t.smt_state().control.as_deref(), Some("off"));
    assert_eq!(t.online_cpus().to_string(), "0-7");
    assert_eq!(t.cpus().iter().filter(|c| !c.online).count(), 8);

    let t = topo("offline_mixed_no_root_files");
    assert_eq!(t.online_cpus().to_string(), "0-2,4-5,7-12,14-15");
    assert!(t.cpu(3).is_some_and(|c| !c.online && c.core.is_none()));

    let t = topo("never_present_possible_64");
    assert_eq!(t.nr_cpu_ids(), 64);
    assert_eq!(t.cpus().len(), 8);

    let t = topo("no_l3_l2_per_core");
    assert!(t
        .llcs()
        .iter()
        .all(|l| l.level == 2 && l.cpus.weight() == 1));

    let t = topo("no_l3_l2_per_cluster");
    assert_eq!(t.llcs().len(), 4);

    let t = topo("no_cache_dir");
    assert!(t.llcs().iter().all(|l| l.level == 0));
    assert_eq!(t.llcs().len(), t.cores().len());

    let t = topo("l3_spans_nodes");
    assert_eq!(t.llcs().len(), 2);
    assert!(t
        .llcs()
        .iter()
        .all(|l| l.cache_cpus.weight() == 16 && l.cpus.weight() == 8));

    let t = topo("memory_only_and_cpuless_nodes");
    assert_eq!(t.nodes().len(), 4);
    assert!(t.node(2).unwrap().cpus.is_empty() && t.node(2).unwrap().has_memory);
    assert!(!t.node(1).unwrap().has_memory && !t.node(1).unwrap().cpus.is_empty());
    assert_eq!(t.node_distance(0, 3), Some(20));

    let t = topo("cpus_in_no_node");
    assert_eq!(t.cpus_in_no_node().to_string(), "6-7");
    // Their node is offline: an implied node (per package), not node 0 or 1.
    let implied = t.node(2).unwrap();
    assert!(implied.implied && !implied.has_memory);
    assert_eq!(implied.cpus.to_string(), "6-7");
    assert!(t.nodes().iter().filter(|n| n.id != 2).all(|n| !n.implied));

    let t = topo("sparse_cpus_and_nodes");
    assert_eq!(t.online_cpus().to_string(), "0-7,40-47");
    assert_eq!(t.node(4).unwrap().cpus.to_string(), "40-47");
    assert_eq!(t.nr_cpu_ids(), 48);

    let t = topo("power_package_minus_one");
    assert_eq!(t.packages().len(), 2);
    assert!(t.packages().iter().all(|p| p.id == Some(-1)));

    let t = topo("repeated_core_ids_dies");
    assert_eq!(t.cores().len(), 12);
    assert_eq!(t.packages()[1].id, Some(8442));
    assert!(t.cpus().iter().all(|c| c.die.is_some()));

    let t = topo("old_file_names");
    assert_eq!(t.cores().len(), 4);
    assert!(t.cores().iter().all(|c| c.cpus.weight() == 2));
}

#[test]
fn real_machine_dumps_match_hwloc() {
    require_hwloc();
    let dir = fixtures_dir();
    let mut n = 0;
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the dumps are part of the repository)",
            dir.display()
        )
    });
    for ent in entries.flatten() {
        let p = ent.path();
        if !p.to_string_lossy().ends_with(".tar.bz2") {
            continue;
        }
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let (_tmp, root) = unpack(&p);
        let t = Topology::from_root(&root).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        check_invariants(&name, &t);
        assert!(t.warnings().is_empty(), "{name}: {:?}", t.warnings());
        let checked = compare_with_hwloc(&name, &root, &t);
        println!("{name}: matches hwloc on {}", checked.join(", "));
        n += 1;
    }
    assert!(n >= 4, "{}: expected 4 dumps, found {n}", dir.display());
}
