//! Shared pieces for sched_ext schedulers written in Rust.
//!
//! A scheduler built on this crate has a `build.rs` that calls [`BpfBuilder`] (feature `build`)
//! to compile its `src/bpf/*.bpf.c` against the BPF headers shipped here, and a `main.rs` that:
//!
//! 1. calls [`preflight`] to fail early, in plain words, when the machine cannot run it;
//! 2. opens its libbpf-rs skeleton and calls [`prepare_ops`] so the ops struct fits the running
//!    kernel (hotplug sequence, exit-dump size, members and flags the kernel lacks);
//! 3. loads the skeleton and calls [`attach_ops`];
//! 4. runs until [`Shutdown`] is requested or [`ExitInfo::has_exited`] says the kernel ended it;
//! 5. drops the link and reports with [`ExitInfo::read`], restarting when
//!    [`ExitInfo::should_restart`] says so (for example after CPU hotplug).
//!
//! The BPF side includes `<scx/common.bpf.h>`, declares its ops with `SCX_OPS_DEFINE`, calls
//! `SCX_UEI_DEFINE()` once and `scx_uei_record(ei)` from `ops.exit`.
#![deny(missing_docs)]

#[cfg(feature = "build")]
mod builder;
mod exit_info;
mod headers;
mod kernel_btf;
mod ops;
mod shutdown;
pub mod sysfs;

#[cfg(feature = "build")]
pub use builder::{find_bpf_clang, BpfBuilder};
pub use exit_info::{ExitInfo, ExitKind, UEI_MAP_NAME};
pub use headers::{extract_bpf_headers, BPF_HEADERS};
pub use kernel_btf::KernelBtf;
pub use ops::{attach_ops, preflight, prepare_ops, OpsOptions};
pub use shutdown::Shutdown;

static LIBBPF_VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn libbpf_to_log(level: libbpf_rs::PrintLevel, msg: String) {
    use libbpf_rs::PrintLevel;
    let msg = msg.trim_end();
    match level {
        PrintLevel::Warn => log::warn!("libbpf: {msg}"),
        PrintLevel::Info => log::info!("libbpf: {msg}"),
        PrintLevel::Debug => {
            if LIBBPF_VERBOSE.load(std::sync::atomic::Ordering::Relaxed) {
                log::debug!("libbpf: {msg}")
            }
        }
    }
}

/// Route libbpf's messages to the `log` crate: warnings and info always, debug output (the
/// verifier log among it) only when `verbose` is set.
pub fn init_libbpf_logging(verbose: bool) {
    LIBBPF_VERBOSE.store(verbose, std::sync::atomic::Ordering::Relaxed);
    libbpf_rs::set_print(Some((libbpf_rs::PrintLevel::Debug, libbpf_to_log)));
}
