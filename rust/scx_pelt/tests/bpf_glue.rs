//! The map-backed helpers of `scx/pelt.bpf.h` (task storage, per-CPU array) compile against a
//! vmlinux.h dumped from the running kernel and pass the host verifier. Needs root, clang-19
//! and bpftool.

mod common;

use libbpf_rs::{MapCore, ObjectBuilder};
use std::process::Command;

#[test]
fn glue_compiles_with_vmlinux_h_and_loads() {
    common::require_root();
    let dir = tempfile::tempdir().unwrap();
    let vmlinux = Command::new("bpftool")
        .args([
            "btf",
            "dump",
            "file",
            "/sys/kernel/btf/vmlinux",
            "format",
            "c",
        ])
        .output()
        .expect("bpftool (>= 7.5) is needed to dump vmlinux.h");
    assert!(
        vmlinux.status.success(),
        "bpftool btf dump failed: {}",
        String::from_utf8_lossy(&vmlinux.stderr)
    );
    std::fs::write(dir.path().join("vmlinux.h"), &vmlinux.stdout).unwrap();
    let inc = format!("-I{}", dir.path().display());
    let obj_path = common::compile_bpf(
        "pelt_glue.bpf.c",
        dir.path(),
        &[&inc, "-Wno-missing-declarations"],
    );
    let obj = ObjectBuilder::default()
        .open_file(&obj_path)
        .expect("open")
        .load()
        .expect("the verifier rejected the helpers");
    let names: Vec<String> = obj
        .maps()
        .map(|m| m.name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n == "scx_pelt_task_map"), "{names:?}");
    assert!(names.iter().any(|n| n == "scx_pelt_cpu_map"), "{names:?}");
    let map = obj.maps().find(|m| m.name() == "scx_pelt_cpu_map").unwrap();
    assert_eq!(
        map.value_size() as usize,
        std::mem::size_of::<scx_pelt::CpuPelt>()
    );
    let tmap = obj
        .maps()
        .find(|m| m.name() == "scx_pelt_task_map")
        .unwrap();
    assert_eq!(
        tmap.value_size() as usize,
        std::mem::size_of::<scx_pelt::TaskPelt>()
    );
    let prog = obj.progs().next().unwrap();
    let (xlated, _, verified) = common::prog_stats(std::os::fd::AsFd::as_fd(&prog));
    eprintln!("pelt_glue_switch: xlated {xlated} insns, verifier processed {verified} insns");
}
