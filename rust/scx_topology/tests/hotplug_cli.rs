//! Hotplug re-discovery, `SCX_SYSFS_ROOT`, the command's JSON, and roots so
//! sparse that almost nothing is there.

mod common;

use std::process::Command;

use scx_topology::{SysfsRoot, Topology};

fn machine(name: &str) -> common::Machine {
    common::machines()
        .into_iter()
        .find(|m| m.name == name)
        .unwrap()
}

#[test]
fn refresh_after_hotplug() {
    let mut m = machine("no_numa_dir");
    let root = m.root();
    let mut t = Topology::from_root(root.path()).unwrap();
    assert_eq!(t.online_cpus().weight(), 16);
    assert!(!t.refresh().unwrap());
    // Take CPU 5 (and so its core's sibling masks) offline and rewrite.
    m.cpu_mut(5).online = false;
    m.write(root.path());
    std::fs::remove_dir_all(root.path().join("sys/devices/system/cpu/cpu5/topology")).unwrap();
    std::fs::remove_dir_all(root.path().join("sys/devices/system/cpu/cpu5/cache")).unwrap();
    assert!(t.online_changed().unwrap());
    assert!(t.refresh().unwrap());
    assert_eq!(t.online_cpus().weight(), 15);
    assert!(!t.cpu(5).unwrap().online);
    common::check_invariants("after hotplug", &t);
}

#[test]
fn env_root_and_cli_json() {
    let m = machine("sparse_cpus_and_nodes");
    let root = m.root();
    let t = Topology::from_sysfs_root(SysfsRoot::new(root.path())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scx_topology"))
        .arg("--json")
        .env("SCX_SYSFS_ROOT", root.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["schema_version"], 1);
    assert_eq!(j["nr_cpu_ids"], 48);
    assert_eq!(j["online"], "0-7,40-47");
    assert_eq!(j["smt_enabled"], true);
    let nodes = j["nodes"].as_array().unwrap();
    assert_eq!(nodes[1]["id"], 4);
    assert_eq!(nodes[1]["cpus"].as_array().unwrap().len(), 8);
    assert_eq!(j["cores"].as_array().unwrap().len(), t.cores().len());
    let cpu40 = j["cpus"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == 40)
        .unwrap();
    for k in [
        "id",
        "online",
        "package",
        "core",
        "llc",
        "node",
        "capacity",
        "core_kind",
    ] {
        assert!(cpu40.get(k).is_some(), "cpu field {k}");
    }
    assert_eq!(cpu40["node"], 4);
    // The tree form, with --sysfs-root.
    let out = Command::new(env!("CARGO_BIN_EXE_scx_topology"))
        .arg("--sysfs-root")
        .arg(root.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Node 4: cpus 40-47"), "{text}");
}

#[test]
fn nearly_empty_roots_do_not_panic() {
    let d = common::tempdir();
    // No cpu directory at all: an error naming the path.
    let e = Topology::from_root(d.path()).unwrap_err();
    assert!(format!("{e:#}").contains("sys/devices/system/cpu"));
    // An empty cpu directory: no CPU could be read at all, the one case
    // that aborts discovery.
    let cpu = d.path().join("sys/devices/system/cpu");
    std::fs::create_dir_all(&cpu).unwrap();
    let e = Topology::from_root(d.path()).unwrap_err();
    assert!(format!("{e:#}").contains("no online CPU"), "{e:#}");
    // An online list naming CPUs without directories (a stripped container
    // view): each CPU is its own core and LLC.
    std::fs::write(cpu.join("online"), "0-3\n").unwrap();
    let t = Topology::from_root(d.path()).unwrap();
    assert_eq!(t.cores().len(), 4);
    assert_eq!(t.llcs().len(), 4);
    assert_eq!(t.packages().len(), 1);
    common::check_invariants("stripped", &t);
    // Garbage in a mask file: that fact is lost, with one warning naming
    // the file; discovery goes on.
    std::fs::create_dir_all(cpu.join("cpu0/topology")).unwrap();
    std::fs::write(cpu.join("cpu0/topology/core_cpus_list"), "zz\n").unwrap();
    let t = Topology::from_root(d.path()).unwrap();
    assert_eq!(t.cores().len(), 4);
    let w: Vec<&String> = t
        .warnings()
        .iter()
        .filter(|w| w.contains("cpu0/topology/core_cpus_list"))
        .collect();
    assert_eq!(w.len(), 1, "{:?}", t.warnings());
    common::check_invariants("garbage core_cpus_list", &t);
}

#[test]
fn cli_prints_warnings_and_succeeds() {
    let m = machine("no_numa_dir");
    let root = m.root();
    let bad = root
        .path()
        .join("sys/devices/system/cpu/cpu0/topology/core_id");
    std::fs::write(&bad, "(null)\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scx_topology"))
        .arg("--json")
        .arg("--sysfs-root")
        .arg(root.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains(&bad.display().to_string()), "{err}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["cpus"][0]["core_id"], serde_json::Value::Null);
}
