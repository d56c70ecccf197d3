//! Real machines' sysfs pitfalls (issue #12), one generated case each: a
//! generated root is written, then the files are edited the way a real
//! machine (or a broken one) has them, and the result is checked against the
//! rule in the README's pitfall list.

mod common;

use std::fs;
use std::path::Path;

use common::{check_invariants, Layout, Machine};
use scx_topology::Topology;

const CPU: &str = "sys/devices/system/cpu";

fn put(root: &Path, rel: &str, s: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, s).unwrap();
}

fn get(root: &Path, rel: &str) -> String {
    fs::read_to_string(root.join(rel)).unwrap()
}

fn discover(name: &str, root: &Path) -> Topology {
    let t = Topology::from_root(root).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    check_invariants(name, &t);
    t
}

/// Warnings that name `file` (a path suffix).
fn warned(t: &Topology, file: &str) -> usize {
    t.warnings().iter().filter(|w| w.contains(file)).count()
}

fn groups<'a>(m: impl Iterator<Item = &'a scx_topology::Cpumask>) -> Vec<String> {
    m.map(|c| c.to_string()).collect()
}

/// 1 package, 4 cores, SMT2, Intel numbering (siblings c and c+4), one L3.
fn smt_machine(name: &str) -> Machine {
    Layout {
        cores: 4,
        threads: 2,
        interleave: true,
        ..Default::default()
    }
    .build(name)
}

#[test]
fn null_and_unreadable_optional_files_are_empty() {
    let m = smt_machine("nohz_full_null");
    let root = m.root();
    let r = root.path();
    // A kernel booted without nohz_full= prints "(null)", space padded.
    put(r, &format!("{CPU}/nohz_full"), "(null)                 \n");
    put(r, &format!("{CPU}/isolated"), "\u{1}\u{2}garbage\n");
    // Unreadable: a directory where a file should be.
    fs::remove_file(r.join(format!("{CPU}/smt/control"))).unwrap();
    fs::create_dir_all(r.join(format!("{CPU}/smt/control"))).unwrap();
    put(r, "sys/devices/system/node/has_memory", "(null)\n");
    let t = discover("nohz_full_null", r);
    assert!(t.nohz_full_cpus().is_empty());
    assert!(t.isolated_cpus().is_empty());
    assert_eq!(t.smt_state().control, None);
    assert!(t.node(0).unwrap().has_memory, "falls back to meminfo");
    assert_eq!(t.cores().len(), 4);
    assert_eq!(warned(&t, "nohz_full"), 0, "(null) is not an error");
    assert_eq!(warned(&t, "cpu/isolated"), 1, "{:?}", t.warnings());
}

#[test]
fn all_zero_shared_map_is_private_to_the_core() {
    // No L3: the LLC is the per-core L2, which reads as all zeros.
    let m = Layout {
        cores: 4,
        threads: 2,
        interleave: true,
        llcs: 0,
        ..Default::default()
    }
    .build("zero_shared_map");
    let root = m.root();
    for c in 0..8 {
        let d = format!("{CPU}/cpu{c}/cache/index2");
        assert_eq!(get(root.path(), &format!("{d}/level")).trim(), "2");
        put(root.path(), &format!("{d}/shared_cpu_map"), "00000000\n");
        put(root.path(), &format!("{d}/shared_cpu_list"), "\n");
    }
    let t = discover("zero_shared_map", root.path());
    // One LLC per SMT core (not per CPU), still the L2.
    assert_eq!(
        groups(t.llcs().iter().map(|l| &l.cpus)),
        ["0,4", "1,5", "2,6", "3,7"]
    );
    assert!(t.llcs().iter().all(|l| l.level == 2));
    assert_eq!(
        t.cpu(4).unwrap().l2.as_ref().unwrap().cpus.to_string(),
        "0,4"
    );
    assert!(t.warnings().is_empty(), "{:?}", t.warnings());
}

#[test]
fn cache_index_gaps_read_every_index() {
    let m = Layout {
        packages: 1,
        llcs: 2,
        cores: 2,
        threads: 2,
        ..Default::default()
    }
    .build("cache_index_gaps");
    let root = m.root();
    let want = discover("before", root.path());
    for c in 0..8 {
        let d = root.path().join(format!("{CPU}/cpu{c}/cache"));
        // index2 (L2) with no index0/index1; on odd CPUs the L3 is index7.
        fs::remove_dir_all(d.join("index0")).unwrap();
        fs::remove_dir_all(d.join("index1")).unwrap();
        if c % 2 == 1 {
            fs::rename(d.join("index3"), d.join("index7")).unwrap();
        }
    }
    let t = discover("cache_index_gaps", root.path());
    assert_eq!(t.llcs().len(), 2);
    assert!(t.llcs().iter().all(|l| l.level == 3));
    assert_eq!(
        groups(t.llcs().iter().map(|l| &l.cpus)),
        groups(want.llcs().iter().map(|l| &l.cpus))
    );
    assert!(t.cpus().iter().all(|c| c.l2.is_some() && c.l3.is_some()));
}

/// Two L3s of 2 SMT2 cores: CPUs 0-3 and 4-7.
fn two_llcs(name: &str) -> Machine {
    Layout {
        llcs: 2,
        cores: 2,
        threads: 2,
        ..Default::default()
    }
    .build(name)
}

#[test]
fn stale_list_copied_from_another_cpu_uses_the_hex_form() {
    let m = two_llcs("stale_list");
    let root = m.root();
    let r = root.path();
    let l3 = |c: usize| format!("{CPU}/cpu{c}/cache/index3");
    // CPU 5's L3 list is CPU 0's.
    let stale = get(r, &format!("{}/shared_cpu_list", l3(0)));
    put(r, &format!("{}/shared_cpu_list", l3(5)), &stale);
    // CPU 6's core list names CPUs 6-7 and 0: the others disagree.
    put(r, &format!("{CPU}/cpu6/topology/core_cpus_list"), "0,6-7\n");
    let t = discover("stale_list", r);
    assert_eq!(groups(t.llcs().iter().map(|l| &l.cpus)), ["0-3", "4-7"]);
    assert_eq!(
        t.cpu(5).unwrap().l3.as_ref().unwrap().cpus.to_string(),
        "4-7"
    );
    assert_eq!(
        t.cores()[t.cpu(6).unwrap().core.unwrap()].cpus.to_string(),
        "6-7"
    );
    assert_eq!(warned(&t, "cpu5/cache/index3/shared_cpu_list"), 1);
    assert_eq!(warned(&t, "cpu6/topology/core_cpus_list"), 1);
    assert_eq!(t.warnings().len(), 2, "{:?}", t.warnings());
}

#[test]
fn corrupted_hex_map_uses_the_list_form() {
    let m = two_llcs("corrupt_hex");
    let root = m.root();
    let r = root.path();
    put(
        r,
        &format!("{CPU}/cpu1/cache/index3/shared_cpu_map"),
        "00000082\n",
    );
    put(
        r,
        &format!("{CPU}/cpu1/cache/index3/shared_cpu_list"),
        "0-3\n",
    );
    put(r, &format!("{CPU}/cpu2/topology/core_cpus"), "000000ff\n");
    let t = discover("corrupt_hex", r);
    assert_eq!(groups(t.llcs().iter().map(|l| &l.cpus)), ["0-3", "4-7"]);
    assert_eq!(
        groups(t.cores().iter().map(|c| &c.cpus)),
        ["0-1", "2-3", "4-5", "6-7"]
    );
    // Only the list is read while it is valid: the bad maps are not needed.
    assert!(t.warnings().is_empty(), "{:?}", t.warnings());
}

#[test]
fn neither_form_valid_falls_back_to_the_core_never_repaired() {
    let m = two_llcs("both_forms_bad");
    let root = m.root();
    let r = root.path();
    // CPU 3's L3 leaves CPU 3 out in both forms: not "repaired" to 0-1,3.
    put(
        r,
        &format!("{CPU}/cpu3/cache/index3/shared_cpu_list"),
        "0-1\n",
    );
    put(
        r,
        &format!("{CPU}/cpu3/cache/index3/shared_cpu_map"),
        "00000003\n",
    );
    let t = discover("both_forms_bad", r);
    assert_eq!(
        t.cpu(3).unwrap().l3.as_ref().unwrap().cpus.to_string(),
        "2-3"
    );
    assert_eq!(warned(&t, "cpu3/cache/index3/shared_cpu_list"), 1);
    assert_eq!(warned(&t, "cpu3/cache/index3/shared_cpu_map"), 1);
    // CPU 3 objects to CPU 0's mask (0-3), so the CPUs before it fall back
    // too; every LLC is still whole cores inside one node.
    for l in t.llcs() {
        for c in &l.cores {
            assert!(t.cores()[*c].cpus.is_subset(&l.cpus));
        }
    }
    assert_eq!(t.cores().len(), 4);
}

#[test]
fn llc_never_splits_an_smt_core() {
    // Siblings c and c+4; the L3 masks say 0-3 and 4-7, splitting every
    // core. The kernel widens the LLC to whole cores: one LLC 0-7.
    let m = smt_machine("llc_splits_core");
    let root = m.root();
    let r = root.path();
    for c in 0..8 {
        let (list, map) = if c < 4 { ("0-3", "0f") } else { ("4-7", "f0") };
        put(
            r,
            &format!("{CPU}/cpu{c}/cache/index3/shared_cpu_list"),
            list,
        );
        put(r, &format!("{CPU}/cpu{c}/cache/index3/shared_cpu_map"), map);
    }
    let t = discover("llc_splits_core", r);
    assert_eq!(groups(t.llcs().iter().map(|l| &l.cpus)), ["0-7"]);
    assert_eq!(
        groups(t.cores().iter().map(|c| &c.cpus)),
        ["0,4", "1,5", "2,6", "3,7"]
    );
    // A cache spanning two nodes is split at the node boundary (as the
    // kernel does), and that is kept.
    let m = common::machines()
        .into_iter()
        .find(|m| m.name == "l3_spans_nodes")
        .unwrap();
    let root = m.root();
    let t = discover("l3_spans_nodes", root.path());
    assert_eq!(groups(t.llcs().iter().map(|l| &l.cpus)), ["0-7", "8-15"]);
    assert!(t.llcs().iter().all(|l| l.cache_cpus.to_string() == "0-15"));
}

#[test]
fn cpus_of_an_offline_node_get_an_implied_node_per_package() {
    // 3 packages, one node each; node 1 and node 2 are offline (no nodeN
    // directory), node 3 is possible: implied nodes are numbered 4, 5.
    let mut m = Layout {
        packages: 3,
        cores: 2,
        threads: 2,
        ..Default::default()
    }
    .build("offline_nodes");
    for c in &mut m.cpus {
        if c.pkg_key > 0 {
            c.node = None;
        }
    }
    m.nodes = Some(vec![common::FakeNode {
        id: 0,
        has_memory: true,
    }]);
    let root = m.root();
    put(root.path(), "sys/devices/system/node/possible", "0-3\n");
    let t = discover("offline_nodes", root.path());
    assert_eq!(t.cpus_in_no_node().to_string(), "4-11");
    let nodes: Vec<(usize, String, bool)> = t
        .nodes()
        .iter()
        .map(|n| (n.id, n.cpus.to_string(), n.implied))
        .collect();
    assert_eq!(
        nodes,
        [
            (0, "0-3".to_string(), false),
            (4, "4-7".to_string(), true),
            (5, "8-11".to_string(), true)
        ]
    );
    assert!(!t.node(4).unwrap().has_memory);
    assert_eq!(t.cpu(9).unwrap().node, Some(5));
    let j: serde_json::Value = serde_json::from_str(&t.to_json()).unwrap();
    let implied: Vec<bool> = j["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["implied"].as_bool().unwrap())
        .collect();
    assert_eq!(implied, [false, true, true]);
}

#[test]
fn amd_compute_units_follow_the_kernels_smt_mask() {
    // Bulldozer-style: the two cores of a compute unit are in each other's
    // thread_siblings / core_cpus but have different core_ids.
    let mut m = Layout {
        cores: 4,
        threads: 2,
        ..Default::default()
    }
    .build("amd_compute_units");
    for c in &mut m.cpus {
        c.core_id = c.id as i64;
    }
    let root = m.root();
    let t = discover("amd_compute_units", root.path());
    assert_eq!(
        groups(t.cores().iter().map(|c| &c.cpus)),
        ["0-1", "2-3", "4-5", "6-7"]
    );
    assert_eq!(t.cores()[1].id, Some(2), "core id of the unit's first CPU");
    assert_eq!(t.cpu(3).unwrap().core_id, Some(2));
    assert!(t.smt_enabled());
}

/// The facts issue #12 lists, each corrupted alone: discovery goes on, the
/// fact falls back, and one warning names the file.
#[test]
fn one_bad_file_spoils_one_fact() {
    let m = Layout {
        packages: 2,
        dies: 2,
        clusters: 2,
        cores: 2,
        threads: 2,
        ..Default::default()
    }
    .build("dies_clusters");
    let root = m.root();
    let r = root.path();
    let want = discover("dies_clusters", r);
    assert!(want.warnings().is_empty(), "{:?}", want.warnings());
    // Ids are read once per group, from its first CPU (CPU 0 here); masks
    // and cache levels from every CPU.
    let x1000 = "x".repeat(1000);
    let cases: &[(&str, &str)] = &[
        ("cpu2/cache/index3/level", "(null)"),
        ("cpu0/cache/index3/id", "-1"),
        ("cpu2/cache/index3/shared_cpu_list", "3-1"),
        ("cpu2/topology/core_cpus_list", "\u{0}\u{7f}\u{1}binary"),
        ("cpu0/topology/core_id", "123456789012345678901"),
        ("cpu0/topology/cluster_id", &x1000),
        ("cpu0/topology/die_id", "(null)"),
        ("../node/has_memory", "3-1"),
    ];
    for (rel, junk) in cases {
        let path = format!("{CPU}/{rel}");
        let saved = get(r, &path);
        put(r, &path, junk);
        let t = discover(rel, r);
        let file = rel.trim_start_matches("../");
        assert_eq!(warned(&t, file), 1, "{rel}: {:?}", t.warnings());
        assert_eq!(t.warnings().len(), 1, "{rel}: {:?}", t.warnings());
        // Groups are unchanged: the spoilt fact had a fallback.
        for (what, a, b) in [
            (
                "cores",
                groups(t.cores().iter().map(|c| &c.cpus)),
                groups(want.cores().iter().map(|c| &c.cpus)),
            ),
            (
                "llcs",
                groups(t.llcs().iter().map(|c| &c.cpus)),
                groups(want.llcs().iter().map(|c| &c.cpus)),
            ),
            (
                "nodes",
                groups(t.nodes().iter().map(|c| &c.cpus)),
                groups(want.nodes().iter().map(|c| &c.cpus)),
            ),
        ] {
            assert_eq!(a, b, "{rel}: {what}");
        }
        let (cpu0, cpu2) = (t.cpu(0).unwrap(), t.cpu(2).unwrap());
        match *rel {
            "cpu2/cache/index3/level" => assert!(cpu2.l3.is_none() && cpu0.l3.is_some()),
            "cpu0/cache/index3/id" => assert_eq!(cpu0.l3.as_ref().unwrap().id, None),
            "cpu0/topology/core_id" => assert_eq!(cpu0.core_id, None),
            "cpu0/topology/cluster_id" => assert_eq!(cpu0.cluster_id, None),
            "cpu0/topology/die_id" => assert_eq!(cpu0.die_id, None),
            "../node/has_memory" => assert!(t.nodes().iter().all(|n| n.has_memory)),
            _ => assert_eq!(cpu2.l3, want.cpu(2).unwrap().l3, "{rel}"),
        }
        assert_eq!(cpu2.core_id, want.cpu(2).unwrap().core_id, "{rel}");
        put(r, &path, &saved);
    }
}
