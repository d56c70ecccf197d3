//! Shared pieces for sched_ext schedulers written in Rust.
//!
//! A scheduler built on this crate is a crate with:
//! - `build.rs`: [`BpfBuilder`] (feature `build`, in `[build-dependencies]`) compiles
//!   `src/bpf/main.bpf.c` against the BPF headers shipped here ([`BPF_HEADERS`]) and generates
//!   the libbpf-rs skeleton and the bindings of `src/bpf/intf.h`;
//! - `src/bpf/main.bpf.c`: the policy. It includes `<scx/common.bpf.h>`, calls kfuncs through
//!   the `scx_*` wrappers of `compat.bpf.h`, declares its ops with `SCX_OPS_DEFINE`, and records
//!   its exit with `SCX_UEI_DEFINE()` / `scx_uei_record(ei)`;
//! - `src/main.rs`: [`scx_ops_skel!`] to type the skeleton, a [`Scheduler`] implementation
//!   (open and configure the BPF side for a topology; periodic user-space work returning stats
//!   declared with [`scx_stats!`]), and [`RunLoop`] to run it — with feature `cli`,
//!   [`cli::RunArgs`] adds the shared flags (`--stats`, `--monitor`, `--json`, `-v`, …).
//!
//! [`RunLoop`] owns the rest: [`preflight`], the hotplug sequence read before the topology,
//! [`prepare_ops`], load, [`attach_ops`], Ctrl-C / SIGTERM ([`Shutdown`]), the stats socket
//! ([`stats`]), the exit report ([`ExitInfo`]) and its exit status, and attaching again when the
//! kernel asks for a restart.
//!
//! Kernel facts come from the running kernel's BTF ([`KernelBtf`]), with typed names for the
//! enum values a scheduler may need ([`OpsFlag`], [`EnqFlag`], [`KickFlag`]).
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "build")]
mod builder;
#[cfg(feature = "cli")]
#[cfg_attr(docsrs, doc(cfg(feature = "cli")))]
pub mod cli;
mod counters;
mod exit_info;
mod headers;
mod kernel_btf;
mod kernel_enums;
mod llc_tables;
mod logging;
mod ops;
mod run_loop;
mod shutdown;
mod skel;
pub mod stats;
pub mod sysfs;

#[cfg(feature = "build")]
#[cfg_attr(docsrs, doc(cfg(feature = "build")))]
pub use builder::{find_bpf_clang, BpfBuilder};
pub use counters::percpu_counters;
pub use exit_info::{ExitInfo, ExitKind, ECODE_ACT_RESTART, ECODE_RSN_HOTPLUG, UEI_MAP_NAME};
pub use headers::{extract_bpf_headers, BPF_HEADERS};
pub use kernel_btf::KernelBtf;
pub use kernel_enums::{EnqFlag, KickFlag, OpsFlag};
pub use llc_tables::{LlcSpan, LlcTables};
pub use logging::{init_libbpf_logging, init_logging};
pub use ops::{attach_ops, preflight, prepare_ops, OpsOptions};
pub use run_loop::{exit_on_error, RunLoop, Scheduler};
pub use shutdown::Shutdown;
pub use skel::{OpenScxSkel, OpsFields, ScxSkel};

// Re-exported for the macros, so a scheduler's crate needs no direct dependency on them.
#[doc(hidden)]
pub use libbpf_rs;
#[doc(hidden)]
pub use serde;
