//! scx_rustland: a sched_ext scheduler whose whole policy is user-space Rust (`policy.rs`: a
//! deadline queue with vruntime fairness, a boost for tasks that sleep often, fast-wake grants
//! for short sleepers within their share, slices that shrink with the number of waiting tasks,
//! previous-CPU idle preference). The BPF half and the
//! channel to it are scx_rustland_core's; the process around it (attach, `--stats`,
//! `--monitor`, the stats socket, the exit report, restart after CPU hotplug) is scx_utils'
//! run loop.

scx_rustland_core::rustland_skel!();

mod policy;

use anyhow::{bail, Context, Result};
use bpf_skel::{BpfSkel, BpfSkelBuilder, OpenBpfSkel};
use clap::Parser;
use libbpf_rs::skel::SkelBuilder;
use libbpf_rs::OpenObject;
use policy::Deadline;
use scx_rustland_core::{BpfScheduler, Config, Counters, DispatchedTask, Policy, RustLand};
use scx_topology::Topology;
use scx_utils::{OpsOptions, RunLoop, Scheduler};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A sched_ext scheduler with its policy in user space: earliest deadline first, with
/// vruntime fairness and a boost for tasks that sleep often.
#[derive(Debug, Parser)]
#[command(version)]
struct Opts {
    /// Longest time slice, in microseconds (given when few tasks wait).
    #[arg(short = 's', long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..=100_000))]
    slice_us: u64,

    /// Shortest time slice, in microseconds (given when many tasks wait).
    #[arg(short = 'm', long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(100..=100_000))]
    slice_min_us: u64,

    /// User space counts as stopped when it has not been heard from for this long (ms); the
    /// kernel side then runs every waiting task itself until it comes back.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(100..=5000))]
    stall_timeout_ms: u64,

    /// A task that waits this long (ms) for a decision is run by the kernel side.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(100..=10_000))]
    task_timeout_ms: u64,

    /// Send every task to user space, even a waking task that finds an idle CPU.
    #[arg(long)]
    no_direct_idle: bool,

    /// Longest burst (CPU time between two sleeps), in microseconds, after which a task that
    /// has not used more than its share may be run at once on its next wake-up, without
    /// waiting for user space (a fast wake, see policy.rs); 0 turns fast wakes off.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(0..=100_000))]
    fast_burst_us: u64,

    #[command(flatten)]
    run: scx_utils::cli::RunArgs,
}

scx_utils::scx_stats! {
    /// What scx_rustland reports.
    pub struct RustlandStats {
        /// Tasks the BPF side queued to user space.
        counter queued: u64,
        /// User-space decisions the BPF side applied.
        counter user_dispatches: u64,
        /// Tasks the BPF side ran itself because user space was stopped or late.
        counter kernel_fallbacks: u64,
        /// Tasks the BPF side ran itself because a ring was full.
        counter congested: u64,
        /// Decisions dropped because their task had already run or was gone.
        counter stale: u64,
        /// Tasks dispatched in BPF by design: idle CPU, per-CPU kthread.
        counter direct: u64,
        /// Dispatches of the scheduler's own threads (always first).
        counter sched_self: u64,
        /// Wake-ups the BPF side ran at once on a fast-wake grant.
        counter fast_wakes: u64,
        /// Tasks preempted inside an RCU read-side section, put back on their CPU at once.
        counter rcu_readers: u64,
        /// Queued tasks whose burst since waking was shorter than the minimum slice.
        counter interactive: u64,
        /// Decisions sent to an idle CPU (previous or other).
        counter to_idle_cpu: u64,
        /// Decisions that preempt the task's previous CPU: an interrupt woke it, no CPU was
        /// idle, and the wake-up would have been fast had its grant been renewed in time.
        counter preempts: u64,
        /// Decisions that found the decision ring full.
        counter ring_full: u64,
        /// User-space CPU time per decision over the last second, in ns.
        gauge decision_ns: u64,
        /// Average time from queueing to user space reading the task, over the last second, in ns.
        gauge queue_delay_ns: u64,
    }
}

/// Counters the policy thread keeps for the stats.
#[derive(Debug, Default)]
struct PolicyCounters {
    interactive: AtomicU64,
    to_idle_cpu: AtomicU64,
    preempts: AtomicU64,
}

/// The policy thread's half: [`Deadline`] plus the calls into scx_rustland_core.
struct RustlandPolicy {
    queue: Deadline,
    counters: Arc<PolicyCounters>,
}

impl Policy for RustlandPolicy {
    fn schedule(&mut self, sched: &mut BpfScheduler) -> usize {
        while let Some(task) = sched.dequeue_task() {
            if task.fast {
                // It has run already: charge it and renew its grant or not.
                let (vtime, grant) = self.queue.ran_fast(&task);
                let mut d = DispatchedTask::new(&task);
                d.vtime = vtime;
                d.fast_burst_ns = grant;
                let _ = sched.dispatch(&d);
                continue;
            }
            if self.queue.enqueue(task) {
                self.counters.interactive.fetch_add(1, Ordering::Relaxed);
            }
        }
        let nr_cpus = sched.nr_cpus();
        while let Some((e, slice)) = self.queue.pop(nr_cpus) {
            let mut d = DispatchedTask::new(&e.task);
            d.vtime = e.vtime;
            d.deadline = e.deadline;
            d.slice_ns = slice;
            d.fast_burst_ns = self.queue.grant(&e.task, e.vtime);
            d.cpu = sched.select_cpu(&e.task);
            if d.cpu >= 0 {
                self.counters.to_idle_cpu.fetch_add(1, Ordering::Relaxed);
            } else if self.queue.preempts(&e.task, e.vtime) {
                d.cpu = e.task.cpu;
                d.preempt = true;
                self.counters.preempts.fetch_add(1, Ordering::Relaxed);
            }
            // A full ring: the BPF side's safety net runs the task after the task timeout.
            let _ = sched.dispatch(&d);
        }
        0
    }
}

struct Rustland {
    core: RustLand<RustlandPolicy>,
    counters: Arc<PolicyCounters>,
    last: Counters,
}

impl Scheduler for Rustland {
    type Open<'obj> = OpenBpfSkel<'obj>;
    type Loaded<'obj> = BpfSkel<'obj>;
    type Stats = RustlandStats;

    fn open<'obj>(
        &mut self,
        _topo: &Topology,
        object: &'obj mut MaybeUninit<OpenObject>,
    ) -> Result<OpenBpfSkel<'obj>> {
        let mut skel = BpfSkelBuilder::default()
            .open(object)
            .context("opening the BPF object")?;
        self.core.open(&mut skel)?;
        self.last = Counters::default();
        Ok(skel)
    }

    fn attached(&mut self, skel: &mut BpfSkel<'_>, topo: &Topology) -> Result<()> {
        log::info!(
            "scx_rustland attached on {} CPUs ({:?})",
            topo.online_cpus().weight(),
            self.core.config()
        );
        self.core.attached(skel)
    }

    fn tick(&mut self, skel: &mut BpfSkel<'_>) -> Result<RustlandStats> {
        let c = self.core.counters(skel)?;
        let dq = c.dequeued.saturating_sub(self.last.dequeued);
        let per = |total: u64, last: u64| total.saturating_sub(last).checked_div(dq).unwrap_or(0);
        let stats = RustlandStats {
            queued: c.queued,
            user_dispatches: c.user_dispatches,
            kernel_fallbacks: c.kernel_fallbacks,
            congested: c.congested,
            stale: c.stale,
            direct: c.direct,
            sched_self: c.sched_self,
            fast_wakes: c.fast_wakes,
            rcu_readers: c.rcu_readers,
            interactive: self.counters.interactive.load(Ordering::Relaxed),
            to_idle_cpu: self.counters.to_idle_cpu.load(Ordering::Relaxed),
            preempts: self.counters.preempts.load(Ordering::Relaxed),
            ring_full: c.ring_full,
            decision_ns: per(c.busy_ns, self.last.busy_ns),
            queue_delay_ns: per(c.queue_delay_ns, self.last.queue_delay_ns),
        };
        self.last = c;
        Ok(stats)
    }
}

fn build(opts: &Opts) -> Result<Rustland> {
    if opts.slice_min_us > opts.slice_us {
        bail!(
            "--slice-min-us {} is larger than --slice-us {}: give a minimum no larger than the maximum",
            opts.slice_min_us,
            opts.slice_us
        );
    }
    if opts.task_timeout_ms < opts.stall_timeout_ms {
        bail!(
            "--task-timeout-ms {} is shorter than --stall-timeout-ms {}: give at least the stall timeout",
            opts.task_timeout_ms,
            opts.stall_timeout_ms
        );
    }
    let config = Config {
        slice: Duration::from_micros(opts.slice_min_us.max(opts.slice_us / 4)),
        stall_timeout: Duration::from_millis(opts.stall_timeout_ms),
        task_timeout: Duration::from_millis(opts.task_timeout_ms),
        direct_idle: !opts.no_direct_idle,
    };
    let counters = Arc::new(PolicyCounters::default());
    let policy = RustlandPolicy {
        queue: Deadline::new(opts.slice_min_us * 1000, opts.slice_us * 1000)
            .with_fast_burst(opts.fast_burst_us * 1000),
        counters: counters.clone(),
    };
    Ok(Rustland {
        core: RustLand::new(config, policy)?,
        counters,
        last: Counters::default(),
    })
}

fn main() {
    let opts = Opts::parse();
    opts.run.main(
        RunLoop::new("scx_rustland").version(env!("CARGO_PKG_VERSION")),
        OpsOptions::default(),
        || build(&opts),
    )
}
