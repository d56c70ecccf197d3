//! # scx_pelt: the kernel's PELT load tracking, bit-exact, in Rust and in BPF
//!
//! Tasks scheduled by sched_ext get no kernel PELT signals: a BPF scheduler that wants load,
//! runnable and utilization averages has to compute them itself. This crate provides the same
//! arithmetic twice, number for number equal to the kernel's (`kernel/sched/pelt.c`):
//!
//! - in Rust ([`SchedAvg`], [`TaskPelt`], [`CpuPelt`], [`util_est`], [`invariance`]), `no_std`
//!   unless the default `std` feature is on;
//! - in a BPF header, `bpf/scx/pelt.bpf.h` (see [`BPF_INCLUDE_DIR`]), with task-storage and
//!   per-CPU helpers for the `runnable` / `running` / `stopping` / `quiescent` callbacks.
//!
//! The structures have the same layout on both sides, so user space can read a BPF map value
//! and keep computing from it.
//!
//! ```
//! use scx_pelt::{SchedAvg, PERIOD_NS};
//!
//! // A task running 1 ms, sleeping 1 ms, for a second: util_avg settles around half.
//! let mut sa = SchedAvg::new();
//! let mut now = 0;
//! for _ in 0..500 {
//!     now += 1_000_000;
//!     sa.update(now, 1, 1, true, 1024);
//!     now += 1_000_000;
//!     sa.update(now, 0, 0, false, 1024);
//! }
//! assert!((480..=530).contains(&sa.util_avg));
//! // Idle for more than 2016 periods forgets everything.
//! sa.update(now + 2100 * PERIOD_NS, 0, 0, false, 1024);
//! assert_eq!((sa.load_sum, sa.util_sum, sa.util_avg), (0, 0, 0));
//! ```
//!
//! A scheduler's `build.rs` adds the header directory to clang's include path:
//!
//! ```
//! let flag = format!("-I{}", scx_pelt::BPF_INCLUDE_DIR);
//! assert!(std::path::Path::new(scx_pelt::BPF_INCLUDE_DIR).join("scx/pelt.bpf.h").exists());
//! # let _ = flag;
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

pub mod avg;
pub mod consts;
pub mod invariance;
pub mod task;
pub mod util_est;

pub use avg::SchedAvg;
pub use consts::{
    LOAD_AVG_MAX, LOAD_AVG_PERIOD, PELT_MIN_DIVIDER, PERIOD_NS, RUNNABLE_AVG_YN_INV,
    SCHED_CAPACITY_SCALE, SCHED_CAPACITY_SHIFT,
};
pub use invariance::ClockPelt;
pub use task::{CpuPelt, TaskPelt};

/// Directory to put on the BPF compiler's include path (`-I`): it holds `scx/pelt.bpf.h`,
/// included from BPF code as `#include <scx/pelt.bpf.h>`.
pub const BPF_INCLUDE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/bpf");

/// Path of the BPF header itself.
pub const BPF_HEADER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/bpf/scx/pelt.bpf.h");

/// [`BPF_INCLUDE_DIR`] as a path.
#[cfg(feature = "std")]
pub fn bpf_include_dir() -> &'static std::path::Path {
    std::path::Path::new(BPF_INCLUDE_DIR)
}
