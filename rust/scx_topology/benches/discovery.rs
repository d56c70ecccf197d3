//! Full discovery on the generated 384-CPU EPYC-like root, beside hwloc's
//! discovery of the same root (`lstopo-no-graphics --of xml`, a process
//! spawn, and `hwloc-calc` for a smaller query).
//!
//! `cargo bench -p scx_topology --bench discovery`. The ratio to report is
//! `hwloc/lstopo_xml` over `scx_topology/discover_384` (both include what
//! each needs to answer: hwloc's time includes its process start).

use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "../tests/common/mod.rs"]
mod common;

fn bench(c: &mut Criterion) {
    let m = common::machines()
        .into_iter()
        .find(|m| m.name == "epyc_2s_12ccx_smt2_384")
        .expect("384-CPU machine");
    let root = m.root();
    let path = root.path().to_path_buf();
    let t = scx_topology::Topology::from_root(&path).expect("discovery");
    assert_eq!(t.online_cpus().weight(), 384);

    let mut g = c.benchmark_group("scx_topology");
    g.bench_function("discover_384", |b| {
        b.iter(|| scx_topology::Topology::from_root(&path).expect("discovery"))
    });
    g.bench_function("spawn_cli_json_384", |b| {
        let bin = env!("CARGO_BIN_EXE_scx_topology");
        b.iter(|| {
            let out = Command::new(bin)
                .arg("--json")
                .arg("--sysfs-root")
                .arg(&path)
                .output()
                .unwrap();
            assert!(out.status.success());
        })
    });
    g.finish();

    common::require_hwloc();
    let mut g = c.benchmark_group("hwloc");
    g.bench_function("lstopo_xml_384", |b| {
        b.iter(|| {
            let out = Command::new("lstopo-no-graphics")
                .args(["--of", "xml", "-"])
                .env("HWLOC_FSROOT", &path)
                .env("HWLOC_COMPONENTS", "linux,stop")
                .output()
                .unwrap();
            assert!(out.status.success());
        })
    });
    g.bench_function("calc_cores_384", |b| {
        b.iter(|| {
            let out = Command::new("hwloc-calc")
                .args(["-N", "core", "all"])
                .env("HWLOC_FSROOT", &path)
                .env("HWLOC_COMPONENTS", "linux,stop")
                .output()
                .unwrap();
            assert!(out.status.success());
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
