//! Boot emulated topologies with `scx_vmtest` and check `scx_topology --json`
//! inside the guest against the layout qemu was given.
//!
//! Needs `SCX_VMTEST=<path to the scx_vmtest binary>`, so it is `#[ignore]`d
//! and run by `meson test vm-topology` (`-- --ignored`); run by hand without
//! the variable it fails, saying so. Interface used (tools/scx_vmtest README):
//! `scx_vmtest run --kernel K --topology sockets=S,cores=C,threads=T,nodes=N
//! --file <scx_topology> -- 'scx_topology --json'`, which prints the guest
//! script's output and exits with its status. `SCX_VMTEST_KERNEL` picks the
//! kernel (default `7.3`).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

struct Layout {
    spec: &'static str,
    sockets: usize,
    cores: usize,
    threads: usize,
    nodes: usize,
}

const LAYOUTS: &[Layout] = &[
    Layout {
        spec: "sockets=2,cores=2,threads=2,nodes=2",
        sockets: 2,
        cores: 2,
        threads: 2,
        nodes: 2,
    },
    Layout {
        spec: "sockets=1,cores=4,threads=1,nodes=1",
        sockets: 1,
        cores: 4,
        threads: 1,
        nodes: 1,
    },
    Layout {
        spec: "sockets=1,cores=8,threads=1,nodes=4",
        sockets: 1,
        cores: 8,
        threads: 1,
        nodes: 4,
    },
];

fn ids(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

/// Check the guest's JSON against the layout. qemu numbers CPUs socket by
/// socket, core by core, thread by thread; nodes split the CPUs evenly.
fn check(l: &Layout, j: &Value) {
    let ncpus = l.sockets * l.cores * l.threads;
    let cpus = j["cpus"].as_array().unwrap();
    let online: Vec<&Value> = cpus.iter().filter(|c| c["online"] == true).collect();
    assert_eq!(online.len(), ncpus, "{}: online CPUs", l.spec);
    assert_eq!(
        j["nr_cpu_ids"].as_u64().unwrap() as usize,
        ncpus,
        "{}: nr_cpu_ids",
        l.spec
    );
    let pkgs: BTreeSet<u64> = online
        .iter()
        .map(|c| c["package"].as_u64().unwrap())
        .collect();
    assert_eq!(pkgs.len(), l.sockets, "{}: packages", l.spec);
    let cores = j["cores"].as_array().unwrap();
    assert_eq!(cores.len(), l.sockets * l.cores, "{}: cores", l.spec);
    for c in cores {
        assert_eq!(
            ids(&c["cpus"]).len(),
            l.threads,
            "{}: threads per core",
            l.spec
        );
    }
    assert_eq!(
        j["smt_enabled"].as_bool().unwrap(),
        l.threads > 1,
        "{}: smt",
        l.spec
    );
    let nodes: Vec<Vec<usize>> = j["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| ids(&n["cpus"]))
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(nodes.len(), l.nodes, "{}: nodes", l.spec);
    let per_node = ncpus / l.nodes;
    for (i, n) in nodes.iter().enumerate() {
        let want: Vec<usize> = (i * per_node..(i + 1) * per_node).collect();
        assert_eq!(n, &want, "{}: CPUs of node {i}", l.spec);
    }
    // qemu's L3 is per socket; an LLC domain is the L3 within one node.
    let cores_per_llc = l.cores * l.sockets / (l.sockets.max(l.nodes));
    let llcs = j["llcs"].as_array().unwrap();
    let mut per_llc = BTreeMap::new();
    for llc in llcs {
        per_llc.insert(
            llc["id"].as_u64().unwrap(),
            llc["cores"].as_array().unwrap().len(),
        );
    }
    assert!(
        per_llc.values().all(|&n| n == cores_per_llc),
        "{}: cores per LLC {per_llc:?}, want {cores_per_llc}",
        l.spec
    );
}

#[test]
#[ignore = "needs a VM via SCX_VMTEST; run by meson test vm-topology"]
fn vm_topologies() {
    let vmtest = std::env::var_os("SCX_VMTEST")
        .filter(|v| !v.is_empty())
        .expect("SCX_VMTEST=<path to scx_vmtest> is not set: this test boots emulated topologies");
    let kernel = std::env::var("SCX_VMTEST_KERNEL").unwrap_or_else(|_| "7.3".into());
    let bin = env!("CARGO_BIN_EXE_scx_topology");
    for l in LAYOUTS {
        let out = Command::new(&vmtest)
            .args([
                "run",
                "--kernel",
                &kernel,
                "--topology",
                l.spec,
                "--file",
                bin,
                "--",
            ])
            .arg("scx_topology --json")
            .output()
            .expect("running scx_vmtest");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: scx_vmtest failed ({}):\n{stdout}\n{}",
            l.spec,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        // The JSON document is the first '{' line through the matching last '}' line.
        let start = stdout
            .find("\n{")
            .map(|i| i + 1)
            .or_else(|| stdout.starts_with('{').then_some(0));
        let end = stdout.rfind("\n}").map(|i| i + 2);
        let (Some(s), Some(e)) = (start, end) else {
            panic!("{}: no JSON in guest output:\n{stdout}", l.spec);
        };
        let j: Value = serde_json::from_str(&stdout[s..e])
            .unwrap_or_else(|err| panic!("{}: bad JSON ({err}):\n{stdout}", l.spec));
        check(l, &j);
        println!("{}: guest topology matches", l.spec);
    }
}
