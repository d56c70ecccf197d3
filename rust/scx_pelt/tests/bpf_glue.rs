//! The map-backed helpers of `scx/pelt.bpf.h` (task storage, per-CPU array) compile against a
//! vmlinux.h dumped from the running kernel and pass the host verifier. Needs root, clang-19
//! and bpftool: ignored by a plain `cargo test`, run by meson's `pelt-bpf` test with `--ignored`
//! (which checks root and bpftool first).

mod common;

use libbpf_rs::{MapCore, ObjectBuilder};
use std::process::Command;

/// Most instructions the five-helper program may have after loading, and that the verifier may
/// process: measured 2657 and 13238 (clang-19, the bookworm host's 6.1 kernel); about 10 % above,
/// so a regression in the helpers fails.
const GLUE_MAX_XLATED: u32 = 2900;
const GLUE_MAX_VERIFIED: u32 = 14500;

#[test]
#[ignore = "needs root and bpftool (loads BPF programs); run by meson test pelt-bpf"]
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
    assert!(
        (GLUE_MAX_XLATED / 2..=GLUE_MAX_XLATED).contains(&xlated),
        "pelt_glue_switch: {xlated} instructions after loading, outside {}..={GLUE_MAX_XLATED}: \
         a regression, or a deliberate change (then update the bound and README's Figures)",
        GLUE_MAX_XLATED / 2
    );
    assert!(
        verified <= GLUE_MAX_VERIFIED,
        "pelt_glue_switch: the verifier processed {verified} instructions, more than \
         {GLUE_MAX_VERIFIED}: a regression, or a deliberate change (then update the bound)"
    );
}
