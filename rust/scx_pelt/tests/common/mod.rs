//! Shared by the BPF tests: compiling `tests/bpf/*.bpf.c` with clang-19 against the crate's
//! header, and the root check.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Panics with a clear message unless running as root (loading BPF programs needs it).
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test loads BPF programs and runs them with BPF_PROG_TEST_RUN: it needs root \
         (CAP_BPF + CAP_SYS_ADMIN); run it as root, e.g. `sudo -E cargo test -p scx_pelt`"
    );
}

/// The clang to use: `$SCX_PELT_CLANG`, else `clang-19`.
pub fn clang() -> String {
    std::env::var("SCX_PELT_CLANG").unwrap_or_else(|_| "clang-19".to_string())
}

/// A directory holding `bpf/bpf_helpers.h` (libbpf's headers): `$SCX_PELT_LIBBPF_INCLUDE`, the
/// libbpf sources vendored by the `libbpf-sys` crate in Cargo's registry, or `/usr/include`.
/// Returns it and, when found, libbpf's copy of the UAPI headers.
fn libbpf_include(scratch: &Path) -> (PathBuf, Option<PathBuf>) {
    if let Ok(dir) = std::env::var("SCX_PELT_LIBBPF_INCLUDE") {
        return (PathBuf::from(dir), None);
    }
    let cargo_home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo")
        });
    let mut candidates = Vec::new();
    if let Ok(registries) = std::fs::read_dir(cargo_home.join("registry/src")) {
        for reg in registries.flatten() {
            if let Ok(crates) = std::fs::read_dir(reg.path()) {
                for c in crates.flatten() {
                    let name = c.file_name().to_string_lossy().into_owned();
                    let src = c.path().join("libbpf/src");
                    if name.starts_with("libbpf-sys-") && src.join("bpf_helpers.h").exists() {
                        candidates.push((name, c.path()));
                    }
                }
            }
        }
    }
    candidates.sort();
    if let Some((_, dir)) = candidates.pop() {
        // libbpf's sources are flat; clang wants them under a `bpf/` folder.
        let link = scratch.join("libbpf-include");
        std::fs::create_dir_all(&link).unwrap();
        let bpf = link.join("bpf");
        if !bpf.exists() {
            std::os::unix::fs::symlink(dir.join("libbpf/src"), &bpf).unwrap();
        }
        let uapi = dir.join("libbpf/include/uapi");
        return (link, uapi.exists().then_some(uapi));
    }
    if Path::new("/usr/include/bpf/bpf_helpers.h").exists() {
        return (PathBuf::from("/usr/include"), None);
    }
    panic!(
        "libbpf headers (bpf/bpf_helpers.h) not found: build libbpf-rs once so Cargo unpacks \
         libbpf-sys, install libbpf-dev, or set SCX_PELT_LIBBPF_INCLUDE"
    );
}

/// Compiles `tests/bpf/<name>` into `out_dir`, returning the object's path. Panics with
/// clang's output on failure, or when clang is missing.
pub fn compile_bpf(name: &str, out_dir: &Path, extra: &[&str]) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = manifest.join("tests/bpf").join(name);
    let obj = out_dir.join(name.replace(".c", ".o"));
    let (libbpf, uapi) = libbpf_include(out_dir);
    let mut cmd = Command::new(clang());
    cmd.args([
        "-g",
        "-O2",
        "-target",
        "bpf",
        "-D__TARGET_ARCH_x86",
        "-Wall",
        "-Werror",
    ])
    .arg("-I")
    .arg(scx_pelt::BPF_INCLUDE_DIR)
    .arg("-I")
    .arg(&libbpf);
    if let Some(uapi) = uapi {
        cmd.arg("-I").arg(uapi);
    }
    cmd.args(["-I", "/usr/include/x86_64-linux-gnu"])
        .args(extra);
    cmd.arg("-c").arg(&src).arg("-o").arg(&obj);
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {} ({e}): the BPF tests need clang-19 (apt-get install clang-19) or \
             SCX_PELT_CLANG",
            clang()
        )
    });
    assert!(
        out.status.success(),
        "compiling {} failed:\n{}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    obj
}

/// (xlated instructions, jited bytes, verified instructions) of a loaded program.
pub fn prog_stats(fd: std::os::fd::BorrowedFd<'_>) -> (u32, u32, u32) {
    use std::os::fd::AsRawFd;
    // SAFETY: bpf_prog_info is plain data; the kernel fills what fits in `len`.
    let mut info: libbpf_rs::libbpf_sys::bpf_prog_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of_val(&info) as u32;
    let rc = unsafe {
        libbpf_rs::libbpf_sys::bpf_prog_get_info_by_fd(fd.as_raw_fd(), &mut info, &mut len)
    };
    assert_eq!(rc, 0, "bpf_prog_get_info_by_fd failed");
    (
        info.xlated_prog_len / 8,
        info.jited_prog_len,
        info.verified_insns,
    )
}
