//! CPU topology discovery for sched_ext schedulers.
//!
//! [`Topology`] reads `/sys/devices/system/{cpu,node}` (or a fake root, see
//! [`SysfsRoot`] and `$SCX_SYSFS_ROOT`) and builds the hierarchy
//! NUMA node → LLC → core → CPU, each level with its span ([`Cpumask`]),
//! the kernel's id where one exists and a dense index.
//!
//! Groups are built from the kernel's masks (`core_cpus`, `package_cpus`,
//! cache `shared_cpu_list`, node `cpulist`), never from ids, and every odd
//! machine has a defined result instead of a panic; see the crate README for
//! the list. In short:
//!
//! * only online CPUs are grouped; offline ones are listed with `online:
//!   false`; never-present possible CPUs only count in `nr_cpu_ids`;
//! * the LLC is the highest-level data/unified cache a CPU reports (L3, else
//!   L2, ...), else the CPU's core; an LLC spanning NUMA nodes is split into
//!   one LLC domain per node (`Llc::cache_cpus` keeps the whole span);
//! * without `sys/devices/system/node` there is one node, id 0; online CPUs
//!   that no node lists get an implied node per package ([`Node::implied`]);
//!   memory-only nodes are listed with no CPUs;
//! * a mask is used only if valid (it holds its CPU and every CPU it names
//!   reports the same), from the list or the hex form;
//! * a bad file costs the one fact it holds, with a warning naming it
//!   ([`Topology::warnings`]); discovery fails only when no CPU can be read;
//! * cores are split at LLC boundaries and LLCs at node boundaries, so the
//!   hierarchy always nests and each level partitions the online CPUs.
//!
//! ```
//! # fn main() -> anyhow::Result<()> {
//! let topo = scx_topology::Topology::discover()?;
//! println!("{} CPUs online, {} LLCs, {} nodes, SMT {}",
//!          topo.online_cpus().weight(), topo.llcs().len(), topo.nodes().len(),
//!          topo.smt_enabled());
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod cpumask;
mod discover;
pub mod json;
pub mod sysfs;
pub mod topology;

pub use cpumask::Cpumask;
pub use sysfs::{SysfsRoot, SYSFS_ROOT_ENV};
pub use topology::{
    CacheInfo, Core, CoreKind, Cpu, KindSource, Llc, Node, Package, SmtState, Topology,
};
