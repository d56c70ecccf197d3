//! Write a sched_ext scheduling policy as ordinary user-space Rust.
//!
//! The crate has two halves:
//! - a BPF program, shipped as source ([`BPF_SOURCE`], [`BPF_INTF`]) and compiled into the
//!   scheduler's own crate by [`RustLandBuilder`] (feature `build`), which moves every task that
//!   becomes runnable to user space over a `BPF_MAP_TYPE_RINGBUF` and applies the decisions that
//!   come back over a `BPF_MAP_TYPE_USER_RINGBUF`. Per-CPU kthreads and (optionally) wake-ups
//!   that find an idle CPU are dispatched in BPF, and so is a wake-up the policy granted in
//!   advance ([`DispatchedTask::fast_burst_ns`]: a fast wake, reported afterwards); the
//!   scheduler's own threads always run first. If user space stops answering (SIGSTOP, a
//!   hang, too slow), the BPF side notices within [`Config::stall_timeout`] and runs the waiting tasks itself from a
//!   FIFO until user space is back (see the comment at the top of the BPF source).
//! - this Rust API: a [`Policy`] gets a [`BpfScheduler`] whose [`dequeue_task`](BpfScheduler::dequeue_task)
//!   yields [`QueuedTask`]s and whose [`dispatch`](BpfScheduler::dispatch) sends
//!   [`DispatchedTask`]s back. [`RustLand`] runs the policy in its own thread next to
//!   scx_utils' [`RunLoop`](scx_utils::RunLoop), which keeps doing the rest (attach, stats,
//!   exit report, restart).
//!
//! A scheduler crate needs three things:
//!
//! ```no_run
//! // build.rs, with scx_rustland_core = { features = ["build"] } in [build-dependencies]:
//! # #[cfg(feature = "build")]
//! fn main() -> anyhow::Result<()> {
//!     scx_rustland_core::RustLandBuilder::new()?.build()
//! }
//! # #[cfg(not(feature = "build"))]
//! # fn main() {}
//! ```
//! then `scx_rustland_core::rustland_skel!();` at the top of `main.rs` (it includes the
//! generated skeleton as `mod bpf_skel` and connects it to this crate and to scx_utils), and a
//! [`Policy`]:
//!
//! ```
//! use scx_rustland_core::{BpfScheduler, DispatchedTask, Policy};
//!
//! /// Runs every task in the order it became runnable.
//! struct Fifo;
//!
//! impl Policy for Fifo {
//!     fn schedule(&mut self, sched: &mut BpfScheduler) -> usize {
//!         while let Some(task) = sched.dequeue_task() {
//!             let mut d = DispatchedTask::new(&task);
//!             d.cpu = sched.select_cpu(&task);
//!             // A full ring means the BPF side is behind; the task is then taken over by
//!             // its safety net, so dropping the decision is safe.
//!             let _ = sched.dispatch(&d);
//!         }
//!         0 // no task held back
//!     }
//! }
//! ```
//!
//! The `Scheduler` implementation for the run loop then delegates to [`RustLand`]: see its
//! example.
//!
//! # Memory
//!
//! [`RustLand::attached`] locks the process's memory (`mlockall(MCL_CURRENT | MCL_FUTURE)`). A
//! page fault in the scheduling thread can need other tasks to run first (reclaim, writeback,
//! the page-fault path waking a kworker); those tasks wait for a decision from the very thread
//! that is stuck in the fault. The BPF safety net would break the cycle after
//! [`Config::stall_timeout`], but every such fault would cost that long, so the memory is made
//! resident once instead. The hot path ([`BpfScheduler::dequeue_task`],
//! [`BpfScheduler::dispatch`], [`BpfScheduler::select_cpu`]) works on memory mapped once at
//! start and does not allocate.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "build")]
mod builder;
mod intf;
mod ring;
mod runner;

#[cfg(feature = "build")]
#[cfg_attr(docsrs, doc(cfg(feature = "build")))]
pub use builder::RustLandBuilder;
pub use runner::{Counters, RodataConfig, RustLand, RustlandMaps, RustlandOpenSkel, RustlandSkel};

use anyhow::{bail, Context, Result};
use libbpf_rs::{MapHandle, UserRingBuffer};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[doc(hidden)]
pub use anyhow as __anyhow;
#[doc(hidden)]
pub use libbpf_rs as __libbpf_rs;
#[doc(hidden)]
pub use scx_utils;

/// The BPF program (`main.bpf.c`) that [`RustLandBuilder`] compiles into a scheduler crate.
pub const BPF_SOURCE: &str = include_str!("../bpf/scx_rustland/main.bpf.c");

/// The header shared by the BPF program and this crate (`intf.h`).
pub const BPF_INTF: &str = include_str!("../bpf/scx_rustland/intf.h");

/// [`DispatchedTask::cpu`] value that lets the BPF side choose: the first idle CPU the task
/// may use, else the shared queue ordered by [`DispatchedTask::vtime`].
pub const CPU_ANY: i32 = intf::RL_CPU_ANY;

/// How the BPF side behaves; set before each attach by [`RustLand::open`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Slice of the tasks the BPF side dispatches itself, and of decisions with no slice.
    pub slice: Duration,
    /// User space counts as gone when its heartbeat (written at least every 50 ms while it
    /// runs) is older than this; every queued task is then dispatched by the kernel side.
    pub stall_timeout: Duration,
    /// A single task waiting longer than this for a decision is dispatched by the kernel side
    /// even while user space is alive.
    pub task_timeout: Duration,
    /// Dispatch waking tasks that find an idle CPU straight there, without a round trip to
    /// user space (which then sees only the tasks that compete for CPUs).
    pub direct_idle: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            slice: Duration::from_millis(5),
            stall_timeout: Duration::from_millis(250),
            task_timeout: Duration::from_millis(500),
            direct_idle: true,
        }
    }
}

impl Config {
    /// Check the values; the error names the field and its allowed range.
    pub fn validate(&self) -> Result<()> {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        if !(Duration::from_micros(100)..=Duration::from_millis(100)).contains(&self.slice) {
            bail!(
                "slice {:.3} ms is out of range (0.1 to 100 ms)",
                ms(self.slice)
            );
        }
        if !(Duration::from_millis(100)..=Duration::from_secs(5)).contains(&self.stall_timeout) {
            bail!(
                "stall timeout {:.0} ms is out of range (100 to 5000 ms)",
                ms(self.stall_timeout)
            );
        }
        if self.task_timeout < self.stall_timeout || self.task_timeout > Duration::from_secs(10) {
            bail!(
                "task timeout {:.0} ms must be between the stall timeout and 10000 ms",
                ms(self.task_timeout)
            );
        }
        Ok(())
    }
}

/// A task that became runnable and waits for a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedTask {
    /// Its pid (thread id).
    pub pid: i32,
    /// The CPU it ran on last.
    pub cpu: i32,
    /// Identifies this enqueue; [`DispatchedTask::new`] copies it, and a decision whose
    /// sequence number is outdated is dropped by the BPF side.
    pub seq: u64,
    /// It was woken up (rather than preempted or out of slice).
    pub wakeup: bool,
    /// An interrupt (a timer, a device) woke it, not another task: the kind of wake-up fast
    /// wakes are for ([`DispatchedTask::fast_burst_ns`]). A task woken by another task is part
    /// of a chain that hands the CPU over by itself.
    pub irq_wake: bool,
    /// Its sched_ext weight (100 for nice 0).
    pub weight: u64,
    /// CPU time since its previous enqueue, in ns.
    pub runtime_ns: u64,
    /// CPU time since it last woke up, in ns: small for tasks that sleep often.
    pub exec_runtime_ns: u64,
    /// For a wake-up: the CPU time it used between its previous wake-up and blocking (its
    /// last burst), in ns; 0 otherwise.
    pub burst_ns: u64,
    /// The BPF side already ran this task on the fast-wake grant of its previous decision
    /// ([`DispatchedTask::fast_burst_ns`]). Answer with a [`DispatchedTask`] all the same: its
    /// [`vtime`](DispatchedTask::vtime) and [`fast_burst_ns`](DispatchedTask::fast_burst_ns)
    /// (the next grant) are kept, its CPU, slice and deadline are ignored.
    pub fast: bool,
    /// The vtime the policy gave it in its previous decision (0 for a task not seen yet).
    pub vtime: u64,
    /// When it was queued (CLOCK_MONOTONIC, ns; compare with [`now_ns`]).
    pub enq_ns: u64,
    /// The CPUs 0..63 it may run on, one bit each.
    pub cpumask_lo: u64,
    /// How many CPUs it may run on.
    pub nr_cpus_allowed: u32,
}

impl QueuedTask {
    /// Whether the task may run on `cpu` (exact for CPUs 0..63; above, true when the task may
    /// run on more CPUs than the low mask shows).
    pub fn may_run_on(&self, cpu: i32) -> bool {
        match cpu {
            0..=63 => self.cpumask_lo & (1u64 << cpu) != 0,
            64.. => self.nr_cpus_allowed > self.cpumask_lo.count_ones(),
            _ => false,
        }
    }

    fn from_raw(r: &intf::RlTask) -> Self {
        Self {
            pid: r.pid,
            cpu: r.cpu,
            seq: r.seq,
            wakeup: r.flags & intf::RL_TASK_WAKEUP != 0,
            irq_wake: r.flags & intf::RL_TASK_IRQ_WAKE != 0,
            weight: r.weight,
            runtime_ns: r.runtime_ns,
            exec_runtime_ns: r.exec_runtime_ns,
            burst_ns: r.burst_ns,
            fast: r.flags & intf::RL_TASK_FAST != 0,
            vtime: r.vtime,
            enq_ns: r.enq_ns,
            cpumask_lo: r.cpumask_lo,
            nr_cpus_allowed: r.nr_cpus_allowed,
        }
    }
}

/// A decision for one [`QueuedTask`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchedTask {
    /// The task's pid.
    pub pid: i32,
    /// Its [`QueuedTask::seq`].
    pub seq: u64,
    /// The CPU to run on, or [`CPU_ANY`]. A CPU the task may not use counts as [`CPU_ANY`].
    pub cpu: i32,
    /// Its time slice in ns; 0 for the default ([`Config::slice`]).
    pub slice_ns: u64,
    /// The task's virtual time, given back as [`QueuedTask::vtime`] next time.
    pub vtime: u64,
    /// Its order among [`CPU_ANY`] decisions (smaller runs first).
    pub deadline: u64,
    /// Preempt the task running on [`cpu`](Self::cpu) (ignored with [`CPU_ANY`]), unless that
    /// is the scheduling thread or a fast-woken task: then this one goes next.
    pub preempt: bool,
    /// A fast-wake grant for the task's next wake-up (0: none). If a timer or device wakes it
    /// after a burst (CPU time since its previous wake-up) of at most this long, in ns, the
    /// BPF side runs it on its previous CPU at once, preempting what runs there (unless that
    /// is the scheduling thread or a fast-woken task: then it goes next), with this decision's
    /// slice, and queues it for the policy only as a record with [`QueuedTask::fast`] set.
    /// That saves the round trip (two context switches) a waking task otherwise waits for on a
    /// busy CPU. A grant is used up by one wake-up; renew it in the answer to the fast record,
    /// or not. Wake-ups by other tasks always make the round trip.
    pub fast_burst_ns: u64,
}

impl DispatchedTask {
    /// A decision for `task`: any CPU, the default slice, its previous vtime (as vtime and
    /// deadline).
    pub fn new(task: &QueuedTask) -> Self {
        Self {
            pid: task.pid,
            seq: task.seq,
            cpu: CPU_ANY,
            slice_ns: 0,
            vtime: task.vtime,
            deadline: task.vtime,
            preempt: false,
            fast_burst_ns: 0,
        }
    }
}

/// Why [`BpfScheduler::dispatch`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispatchError {
    /// The decision ring is full: the BPF side has not drained it. The task is dispatched by
    /// the kernel side's safety net after [`Config::task_timeout`].
    RingFull,
}

impl std::fmt::Display for DispatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DispatchError::RingFull => write!(f, "the decision ring buffer is full"),
        }
    }
}

impl std::error::Error for DispatchError {}

/// The current CLOCK_MONOTONIC time in ns, the clock of [`QueuedTask::enq_ns`] and of the
/// BPF side's timestamps.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Counters kept by user space (the BPF side's are read from its map).
#[derive(Debug, Default)]
pub(crate) struct UserCounters {
    pub dequeued: AtomicU64,
    pub dispatched: AtomicU64,
    pub ring_full: AtomicU64,
    pub held: AtomicU64,
    pub rounds: AtomicU64,
    pub busy_ns: AtomicU64,
    pub queue_delay_ns: AtomicU64,
}

/// The policy's view of the BPF side, handed to [`Policy::schedule`].
pub struct BpfScheduler {
    queued: ring::RingConsumer,
    dispatched: UserRingBuffer,
    shared: ring::Mmap,
    epoll: OwnedFd,
    nr_cpus: usize,
    stop: Arc<AtomicBool>,
    counters: Arc<UserCounters>,
    // Keep the duplicated map descriptors open while the mappings are in use.
    _maps: [MapHandle; 3],
}

// SAFETY: the raw pointers inside (mappings and libbpf's user ring buffer) are owned by this
// value and used only by the thread that currently owns it.
unsafe impl Send for BpfScheduler {}

impl BpfScheduler {
    pub(crate) fn new(
        maps: RustlandMaps,
        stop: Arc<AtomicBool>,
        counters: Arc<UserCounters>,
    ) -> Result<Self> {
        let queued = ring::RingConsumer::new(&maps.queued).context("mapping the queued ring")?;
        let dispatched =
            UserRingBuffer::new(&maps.dispatched).context("mapping the dispatched ring")?;
        let shared = ring::Mmap::new(
            maps.shared.as_fd(),
            std::mem::size_of::<intf::RlShared>(),
            true,
            0,
        )
        .context("mapping rl_shared")?;
        // SAFETY: epoll_create1 returns a new descriptor or -1.
        let efd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if efd < 0 {
            return Err(std::io::Error::last_os_error()).context("epoll_create1");
        }
        // SAFETY: efd is a fresh descriptor we own.
        let epoll = unsafe { OwnedFd::from_raw_fd(efd) };
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 0,
        };
        // SAFETY: both descriptors are open; ev is a valid event.
        if unsafe {
            libc::epoll_ctl(
                epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                maps.queued.as_fd().as_raw_fd(),
                &mut ev,
            )
        } < 0
        {
            return Err(std::io::Error::last_os_error()).context("epoll_ctl on the queued ring");
        }
        let mut s = Self {
            queued,
            dispatched,
            shared,
            epoll,
            nr_cpus: 1,
            stop,
            counters,
            _maps: [maps.queued, maps.dispatched, maps.shared],
        };
        s.nr_cpus = (s.shared_ref().nr_cpu_ids as usize).clamp(1, intf::RL_MAX_CPUS);
        Ok(s)
    }

    fn shared_ref(&self) -> &intf::RlShared {
        // SAFETY: the mapping is at least one RlShared long and lives as long as self.
        unsafe { &*(self.shared.ptr() as *const intf::RlShared) }
    }

    /// The next task waiting for a decision, or `None` when none is queued right now.
    pub fn dequeue_task(&mut self) -> Option<QueuedTask> {
        let mut raw = intf::RlTask::default();
        if !self.queued.pop(&mut raw) {
            return None;
        }
        self.counters.dequeued.fetch_add(1, Ordering::Relaxed);
        self.counters
            .queue_delay_ns
            .fetch_add(now_ns().saturating_sub(raw.enq_ns), Ordering::Relaxed);
        Some(QueuedTask::from_raw(&raw))
    }

    /// Send a decision to the BPF side, which applies it the next time a CPU looks for work.
    pub fn dispatch(&mut self, task: &DispatchedTask) -> Result<(), DispatchError> {
        let raw = intf::RlDecision {
            pid: task.pid,
            cpu: task.cpu,
            seq: task.seq,
            slice_ns: task.slice_ns,
            vtime: task.vtime,
            deadline: task.deadline,
            flags: if task.preempt {
                intf::RL_DECISION_PREEMPT
            } else {
                0
            },
            fast_burst_ns: task.fast_burst_ns,
        };
        let mut sample = match self
            .dispatched
            .reserve(std::mem::size_of::<intf::RlDecision>())
        {
            Ok(s) => s,
            Err(_) => {
                self.counters.ring_full.fetch_add(1, Ordering::Relaxed);
                return Err(DispatchError::RingFull);
            }
        };
        sample.copy_from_slice(intf::as_bytes(&raw));
        // libbpf's submit cannot fail; the Result is for API compatibility.
        let _ = self.dispatched.submit(sample);
        self.counters.dispatched.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// An idle CPU for `task`: its previous CPU if idle, else the first idle CPU it may use,
    /// else [`CPU_ANY`]. The CPU is marked busy in the shared view so that the next call picks
    /// another one; the BPF side validates the choice again when it applies the decision.
    pub fn select_cpu(&mut self, task: &QueuedTask) -> i32 {
        let base = self.shared.ptr();
        let off = std::mem::offset_of!(intf::RlShared, cpu_idle);
        // SAFETY: cpu_idle has RL_MAX_CPUS bytes inside the mapping; bytes written by the BPF
        // side concurrently are read and written as single volatile bytes.
        let idle = |cpu: usize| unsafe { std::ptr::read_volatile(base.add(off + cpu)) != 0 };
        let claim = |cpu: usize| unsafe { std::ptr::write_volatile(base.add(off + cpu), 0) };
        let prev = task.cpu;
        if prev >= 0
            && (prev as usize) < self.nr_cpus
            && task.may_run_on(prev)
            && idle(prev as usize)
        {
            claim(prev as usize);
            return prev;
        }
        for cpu in 0..self.nr_cpus {
            if idle(cpu) && task.may_run_on(cpu as i32) {
                claim(cpu);
                return cpu as i32;
            }
        }
        CPU_ANY
    }

    /// Number of possible CPU ids.
    pub fn nr_cpus(&self) -> usize {
        self.nr_cpus
    }

    /// Whether the scheduler is ending: the BPF side exited, or the run loop asked this thread
    /// to stop. [`Policy::schedule`] is not called again once this is true.
    pub fn exited(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
            // SAFETY: a u32 inside the mapping, written by the BPF side.
            || unsafe { std::ptr::read_volatile(&self.shared_ref().exited) } != 0
    }

    pub(crate) fn heartbeat(&mut self) {
        let off = std::mem::offset_of!(intf::RlShared, heartbeat_ns);
        // SAFETY: an aligned u64 inside the mapping; the BPF side only reads it.
        unsafe {
            std::ptr::write_volatile(self.shared.ptr().add(off) as *mut u64, now_ns());
        }
    }

    /// Block until the BPF side queues a task or `timeout` passes.
    pub(crate) fn wait(&mut self, timeout: Duration) {
        if self.queued.has_data() {
            return;
        }
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: one event slot; the descriptor is open.
        unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                &mut ev,
                1,
                timeout.as_millis().min(i32::MAX as u128) as i32,
            )
        };
    }

    pub(crate) fn counters(&self) -> &UserCounters {
        &self.counters
    }
}

/// A scheduling policy: the user-space half of a scheduler built on this crate.
///
/// It runs in a thread of its own, started by [`RustLand::attached`]. That thread writes the
/// heartbeat the BPF safety net watches, calls [`schedule`](Policy::schedule), then sleeps
/// until the BPF side queues a task (or 50 ms pass, to keep the heartbeat fresh).
pub trait Policy: Send + 'static {
    /// Take the waiting tasks ([`BpfScheduler::dequeue_task`]) and send decisions
    /// ([`BpfScheduler::dispatch`]). Returns how many tasks the policy still holds back; when
    /// that is nonzero, it is called again within 1 ms even if nothing new is queued.
    ///
    /// Tasks held for longer than [`Config::task_timeout`] are run by the BPF side; their
    /// decisions are then dropped as stale.
    fn schedule(&mut self, sched: &mut BpfScheduler) -> usize;
}
