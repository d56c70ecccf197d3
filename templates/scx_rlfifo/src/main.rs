//! scx_rlfifo: the smallest scheduler with its policy in user space. Every task that competes
//! for a CPU runs in the order it became runnable, on an idle CPU if one is free. Change
//! `Fifo::schedule` to try another policy; scx_rustland_core moves the tasks between the kernel
//! and this function, and runs them itself if this process stops answering.

scx_rustland_core::rustland_skel!();

use anyhow::Result;
use bpf_skel::{BpfSkel, BpfSkelBuilder, OpenBpfSkel};
use clap::Parser;
use libbpf_rs::skel::SkelBuilder;
use libbpf_rs::OpenObject;
use scx_rustland_core::{BpfScheduler, Config, DispatchedTask, Policy, RustLand};
use scx_topology::Topology;
use scx_utils::{OpsOptions, RunLoop, Scheduler};
use std::mem::MaybeUninit;

/// A FIFO scheduler with its policy in user space.
#[derive(Debug, Parser)]
#[command(version)]
struct Opts {
    /// Time slice in microseconds.
    #[arg(short = 's', long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(100..=100_000))]
    slice_us: u64,

    #[command(flatten)]
    run: scx_utils::cli::RunArgs,
}

scx_utils::scx_stats! {
    /// What scx_rlfifo reports.
    pub struct RlfifoStats {
        /// Decisions made in user space and applied.
        counter user_dispatches: u64,
        /// Tasks the kernel side ran itself because user space was late.
        counter kernel_fallbacks: u64,
    }
}

/// The policy: first come, first served.
struct Fifo {
    slice_ns: u64,
}

impl Policy for Fifo {
    fn schedule(&mut self, sched: &mut BpfScheduler) -> usize {
        while let Some(task) = sched.dequeue_task() {
            let mut d = DispatchedTask::new(&task);
            d.cpu = sched.select_cpu(&task);
            d.slice_ns = self.slice_ns;
            // Queue order is the enqueue time: the shared queue stays first come, first served.
            d.deadline = task.enq_ns;
            // A full ring is harmless: the kernel side runs the task after its timeout.
            let _ = sched.dispatch(&d);
        }
        0
    }
}

struct Rlfifo(RustLand<Fifo>);

impl Scheduler for Rlfifo {
    type Open<'obj> = OpenBpfSkel<'obj>;
    type Loaded<'obj> = BpfSkel<'obj>;
    type Stats = RlfifoStats;

    fn open<'obj>(
        &mut self,
        _topo: &Topology,
        object: &'obj mut MaybeUninit<OpenObject>,
    ) -> Result<OpenBpfSkel<'obj>> {
        let mut skel = BpfSkelBuilder::default().open(object)?;
        self.0.open(&mut skel)?;
        Ok(skel)
    }

    fn attached(&mut self, skel: &mut BpfSkel<'_>, _topo: &Topology) -> Result<()> {
        self.0.attached(skel)
    }

    fn tick(&mut self, skel: &mut BpfSkel<'_>) -> Result<RlfifoStats> {
        let c = self.0.counters(skel)?;
        Ok(RlfifoStats {
            user_dispatches: c.user_dispatches,
            kernel_fallbacks: c.kernel_fallbacks,
        })
    }
}

fn main() {
    let opts = Opts::parse();
    let slice_ns = opts.slice_us * 1000;
    opts.run.main(
        RunLoop::new("scx_rlfifo").version(env!("CARGO_PKG_VERSION")),
        OpsOptions::default(),
        || {
            let config = Config {
                slice: std::time::Duration::from_nanos(slice_ns),
                ..Config::default()
            };
            Ok(Rlfifo(RustLand::new(config, Fifo { slice_ns })?))
        },
    )
}
