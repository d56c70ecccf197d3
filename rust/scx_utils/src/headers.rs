//! The BPF headers this crate ships, embedded so that a scheduler depending on the crate from the
//! registry alone can compile its BPF code.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Every shipped header: its path below the include root, and its contents.
///
/// `include/` holds the project's headers (used as `#include <scx/common.bpf.h>`); `arch/<arch>/`
/// holds that architecture's `vmlinux.h`.
pub const BPF_HEADERS: &[(&str, &[u8])] = &[
    (
        "include/scx/common.bpf.h",
        include_bytes!("../bpf/include/scx/common.bpf.h"),
    ),
    (
        "include/scx/counters.bpf.h",
        include_bytes!("../bpf/include/scx/counters.bpf.h"),
    ),
    (
        "include/scx/waker.bpf.h",
        include_bytes!("../bpf/include/scx/waker.bpf.h"),
    ),
    (
        "include/scx/own_task.bpf.h",
        include_bytes!("../bpf/include/scx/own_task.bpf.h"),
    ),
    (
        "include/scx/wakefreq.bpf.h",
        include_bytes!("../bpf/include/scx/wakefreq.bpf.h"),
    ),
    (
        "include/scx/masks.bpf.h",
        include_bytes!("../bpf/include/scx/masks.bpf.h"),
    ),
    (
        "include/scx/llc_topo.bpf.h",
        include_bytes!("../bpf/include/scx/llc_topo.bpf.h"),
    ),
    (
        "include/scx/vtime.bpf.h",
        include_bytes!("../bpf/include/scx/vtime.bpf.h"),
    ),
    (
        "include/scx/preempt.bpf.h",
        include_bytes!("../bpf/include/scx/preempt.bpf.h"),
    ),
    (
        "include/scx/compat.bpf.h",
        include_bytes!("../bpf/include/scx/compat.bpf.h"),
    ),
    (
        "include/scx/user_exit_info.h",
        include_bytes!("../bpf/include/scx/user_exit_info.h"),
    ),
    (
        "include/scx/user_exit_info.bpf.h",
        include_bytes!("../bpf/include/scx/user_exit_info.bpf.h"),
    ),
    (
        "include/scx/exit_kinds.h",
        include_bytes!("../bpf/include/scx/exit_kinds.h"),
    ),
    (
        "include/scx/loader.h",
        include_bytes!("../bpf/include/scx/loader.h"),
    ),
    (
        "arch/x86/vmlinux.h",
        include_bytes!("../bpf/arch/x86/vmlinux.h"),
    ),
];

/// Write the shipped headers below `dir` (skipping files already identical) and return the two
/// include directories a BPF compile needs: `dir/include` and `dir/arch/<arch>`.
///
/// `arch` is the kernel's name for the target architecture (`x86`); the crate ships `vmlinux.h`
/// for x86 only so far, and other architectures get an error that says so.
pub fn extract_bpf_headers(dir: &Path, arch: &str) -> Result<[PathBuf; 2]> {
    let arch_dir = format!("arch/{arch}/");
    if !BPF_HEADERS.iter().any(|(p, _)| p.starts_with(&arch_dir)) {
        anyhow::bail!(
            "scx_utils ships vmlinux.h only for x86 so far, not for '{arch}': generate one with \
             `bpftool btf dump file /sys/kernel/btf/vmlinux format c` and add its folder to the \
             BPF include path"
        );
    }
    for (rel, contents) in BPF_HEADERS {
        if rel.starts_with("arch/") && !rel.starts_with(&arch_dir) {
            continue;
        }
        let path = dir.join(rel);
        if std::fs::read(&path).ok().as_deref() == Some(*contents) {
            continue;
        }
        let parent = path.parent().expect("header paths have a parent");
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok([dir.join("include"), dir.join(format!("arch/{arch}"))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_file_is_embedded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("bpf");
        let mut on_disk = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "h") {
                    on_disk.push(
                        p.strip_prefix(&root)
                            .unwrap()
                            .to_string_lossy()
                            .into_owned(),
                    );
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<_> = BPF_HEADERS.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded, "add new headers to BPF_HEADERS");
    }

    #[test]
    fn extracts_into_two_include_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let [inc, arch] = extract_bpf_headers(tmp.path(), "x86").unwrap();
        assert!(inc.join("scx/common.bpf.h").is_file());
        assert!(arch.join("vmlinux.h").is_file());
        let err = extract_bpf_headers(tmp.path(), "riscv").unwrap_err();
        assert!(err.to_string().contains("riscv"));
    }
}
