//! Running a [`Policy`] next to scx_utils' run loop: configuring the BPF side, the scheduling
//! thread, and the counters.

use crate::{intf, now_ns, BpfScheduler, Config, Policy, UserCounters};
use anyhow::{anyhow, Context, Result};
use libbpf_rs::{MapCore, MapHandle};
use scx_utils::{EnqFlag, KernelBtf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The BPF side's maps that the scheduling thread uses, duplicated so that the thread does not
/// borrow the skeleton. Made by [`rustland_skel!`](crate::rustland_skel).
#[derive(Debug)]
pub struct RustlandMaps {
    /// The ring buffer of queued tasks.
    pub queued: MapHandle,
    /// The user ring buffer of decisions.
    pub dispatched: MapHandle,
    /// The mmapped array shared with user space.
    pub shared: MapHandle,
}

/// What [`RustLand::open`] sets in the BPF side's read-only data before load.
#[derive(Debug, Clone, Copy, Default)]
pub struct RodataConfig {
    /// Thread-group id of the scheduler process (its threads are dispatched first).
    pub usersched_tgid: i32,
    /// [`Config::slice`] in ns.
    pub slice_ns: u64,
    /// [`Config::stall_timeout`] in ns.
    pub stall_timeout_ns: u64,
    /// [`Config::task_timeout`] in ns.
    pub task_timeout_ns: u64,
    /// [`Config::direct_idle`].
    pub direct_idle: bool,
    /// The running kernel's `SCX_ENQ_PREEMPT`.
    pub enq_preempt_flag: u64,
    /// The running kernel's `SCX_ENQ_HEAD`.
    pub enq_head_flag: u64,
}

/// The opened skeleton of a scheduler built on this crate (implemented by
/// [`rustland_skel!`](crate::rustland_skel)).
pub trait RustlandOpenSkel {
    /// Write `cfg` into the read-only data.
    fn configure(&mut self, cfg: &RodataConfig) -> Result<()>;
}

/// The loaded skeleton of a scheduler built on this crate (implemented by
/// [`rustland_skel!`](crate::rustland_skel)).
pub trait RustlandSkel {
    /// Duplicate the maps the scheduling thread needs.
    fn rustland_maps(&self) -> Result<RustlandMaps>;
    /// The per-CPU counters map (`rl_stats`).
    fn stats_map(&self) -> &dyn MapCore;
}

/// What the two halves have counted since the scheduler attached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Tasks the BPF side queued to user space.
    pub queued: u64,
    /// Tasks user space dequeued.
    pub dequeued: u64,
    /// Decisions user space sent.
    pub scheduled: u64,
    /// Decisions the BPF side applied (user-space dispatches).
    pub user_dispatches: u64,
    /// Tasks the BPF side dispatched itself because user space was gone or late.
    pub kernel_fallbacks: u64,
    /// Tasks dispatched by the BPF side because the rings were full.
    pub congested: u64,
    /// Decisions dropped because their task had already been dispatched or was gone.
    pub stale: u64,
    /// Tasks dispatched in BPF by design (idle CPU, per-CPU kthread).
    pub direct: u64,
    /// Dispatches of the scheduler's own threads.
    pub sched_self: u64,
    /// Wake-ups run at once on a fast-wake grant ([`DispatchedTask::fast_burst_ns`](crate::DispatchedTask::fast_burst_ns)).
    pub fast_wakes: u64,
    /// Tasks preempted inside an RCU read-side section, put back on their CPU without a
    /// round trip (a grace period waits for them).
    pub rcu_readers: u64,
    /// Decisions that found the decision ring full.
    pub ring_full: u64,
    /// Tasks the policy holds back right now.
    pub held: u64,
    /// Calls of [`Policy::schedule`].
    pub rounds: u64,
    /// Time spent in [`Policy::schedule`], in ns.
    pub busy_ns: u64,
    /// Sum over dequeued tasks of the time from queueing to dequeue, in ns.
    pub queue_delay_ns: u64,
}

/// Runs a [`Policy`] for scx_utils' run loop: the `Scheduler` implementation of a scheduler
/// crate calls [`open`](Self::open), [`attached`](Self::attached) and
/// [`counters`](Self::counters) from its own `open`, `attached` and `tick`.
///
/// ```ignore
/// scx_rustland_core::rustland_skel!();
///
/// struct Sched(RustLand<Fifo>);
///
/// impl scx_utils::Scheduler for Sched {
///     type Open<'obj> = bpf_skel::OpenBpfSkel<'obj>;
///     type Loaded<'obj> = bpf_skel::BpfSkel<'obj>;
///     type Stats = MyStats;
///
///     fn open<'obj>(&mut self, _topo: &Topology, object: &'obj mut MaybeUninit<OpenObject>)
///         -> Result<Self::Open<'obj>> {
///         let mut skel = bpf_skel::BpfSkelBuilder::default().open(object)?;
///         self.0.open(&mut skel)?;
///         Ok(skel)
///     }
///     fn attached(&mut self, skel: &mut Self::Loaded<'_>, _topo: &Topology) -> Result<()> {
///         self.0.attached(skel)
///     }
///     fn tick(&mut self, skel: &mut Self::Loaded<'_>) -> Result<MyStats> {
///         let c = self.0.counters(skel)?;
///         Ok(MyStats { queued: c.queued, /* ... */ })
///     }
/// }
/// ```
/// (templates/scx_rlfifo is the whole example.)
pub struct RustLand<P: Policy> {
    config: Config,
    policy: Option<P>,
    thread: Option<JoinHandle<P>>,
    stop: Arc<AtomicBool>,
    user: Arc<UserCounters>,
    enq_flags: Option<(u64, u64)>,
}

impl<P: Policy> std::fmt::Debug for RustLand<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RustLand")
            .field("config", &self.config)
            .field("running", &self.thread.is_some())
            .finish()
    }
}

impl<P: Policy> RustLand<P> {
    /// A runner for `policy` with `config` (checked: an error names the bad value).
    pub fn new(config: Config, policy: P) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            policy: Some(policy),
            thread: None,
            stop: Arc::new(AtomicBool::new(false)),
            user: Arc::new(UserCounters::default()),
            enq_flags: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Configure the opened skeleton; stops the scheduling thread of a previous attach first.
    pub fn open(&mut self, skel: &mut impl RustlandOpenSkel) -> Result<()> {
        self.stop()?;
        let (preempt, head) = match self.enq_flags {
            Some(f) => f,
            None => {
                let btf = KernelBtf::load().context("reading the kernel's BTF")?;
                let f = (
                    EnqFlag::Preempt.value_in(&btf).unwrap_or(0),
                    EnqFlag::Head.value_in(&btf).unwrap_or(0),
                );
                self.enq_flags = Some(f);
                f
            }
        };
        let ro = RodataConfig {
            usersched_tgid: std::process::id() as i32,
            slice_ns: self.config.slice.as_nanos() as u64,
            stall_timeout_ns: self.config.stall_timeout.as_nanos() as u64,
            task_timeout_ns: self.config.task_timeout.as_nanos() as u64,
            direct_idle: self.config.direct_idle,
            enq_preempt_flag: preempt,
            enq_head_flag: head,
        };
        log::debug!("scx_rustland_core: BPF side configured with {ro:?}");
        skel.configure(&ro)
    }

    /// Lock memory (see the crate docs) and start the scheduling thread.
    pub fn attached(&mut self, skel: &impl RustlandSkel) -> Result<()> {
        lock_memory();
        let mut policy = self
            .policy
            .take()
            .ok_or_else(|| anyhow!("the scheduling thread is already running"))?;
        self.stop.store(false, Ordering::Relaxed);
        let mut sched =
            BpfScheduler::new(skel.rustland_maps()?, self.stop.clone(), self.user.clone())?;
        let thread = std::thread::Builder::new()
            .name("rustland-sched".into())
            .spawn(move || {
                while !sched.exited() {
                    sched.heartbeat();
                    let t0 = now_ns();
                    let held = policy.schedule(&mut sched);
                    let c = sched.counters();
                    c.busy_ns.fetch_add(now_ns() - t0, Ordering::Relaxed);
                    c.rounds.fetch_add(1, Ordering::Relaxed);
                    c.held.store(held as u64, Ordering::Relaxed);
                    sched.wait(if held > 0 {
                        Duration::from_millis(1)
                    } else {
                        Duration::from_millis(50)
                    });
                }
                policy
            })
            .context("starting the scheduling thread")?;
        self.thread = Some(thread);
        Ok(())
    }

    /// Both halves' counters. Fails if the scheduling thread died (its policy panicked), so
    /// that the run loop detaches rather than leave the BPF side's safety net in charge.
    pub fn counters(&self, skel: &impl RustlandSkel) -> Result<Counters> {
        if self.thread.as_ref().is_some_and(|t| t.is_finished())
            && !self.stop.load(Ordering::Relaxed)
        {
            return Err(anyhow!(
                "the scheduling thread ended unexpectedly (see the panic message above)"
            ));
        }
        let k = scx_utils::percpu_counters(skel.stats_map(), intf::RL_NR_STATS)?;
        let u = &self.user;
        let r = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        Ok(Counters {
            queued: k[0],
            user_dispatches: k[1],
            kernel_fallbacks: k[2],
            congested: k[3],
            stale: k[4],
            direct: k[5],
            sched_self: k[6],
            fast_wakes: k[7],
            rcu_readers: k[8],
            dequeued: r(&u.dequeued),
            scheduled: r(&u.dispatched),
            ring_full: r(&u.ring_full),
            held: r(&u.held),
            rounds: r(&u.rounds),
            busy_ns: r(&u.busy_ns),
            queue_delay_ns: r(&u.queue_delay_ns),
        })
    }

    /// Stop the scheduling thread and take the policy back (called by [`open`](Self::open)
    /// and on drop).
    pub fn stop(&mut self) -> Result<()> {
        if let Some(t) = self.thread.take() {
            self.stop.store(true, Ordering::Relaxed);
            match t.join() {
                Ok(p) => self.policy = Some(p),
                Err(_) => return Err(anyhow!("the scheduling thread panicked")),
            }
        }
        Ok(())
    }

    /// The policy, while no scheduling thread runs it.
    pub fn policy(&self) -> Option<&P> {
        self.policy.as_ref()
    }
}

impl<P: Policy> Drop for RustLand<P> {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

fn lock_memory() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: mlockall has no memory-safety preconditions.
        if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } != 0 {
            log::warn!(
                "mlockall failed ({}): a page fault in the scheduler can stall tasks until the \
                 kernel-side safety net takes over",
                std::io::Error::last_os_error()
            );
        }
    });
}

/// Include the skeleton that [`RustLandBuilder`](crate::RustLandBuilder) generated as
/// `mod bpf_skel` (types `bpf_skel::OpenBpfSkel`, `bpf_skel::BpfSkel`,
/// `bpf_skel::BpfSkelBuilder`) and implement scx_utils' and this crate's skeleton traits for
/// it. The crate must depend on `libbpf-rs` and `scx_utils` (the generated code names them).
#[macro_export]
macro_rules! rustland_skel {
    () => {
        $crate::scx_utils::include_generated!(mod bpf_skel = "bpf_skel.rs");
        $crate::scx_utils::scx_ops_skel!(
            bpf_skel::OpenBpfSkel<'obj>,
            bpf_skel::BpfSkel<'obj>,
            rustland
        );
        impl<'obj> $crate::RustlandOpenSkel for bpf_skel::OpenBpfSkel<'obj> {
            fn configure(&mut self, c: &$crate::RodataConfig) -> $crate::__anyhow::Result<()> {
                let ro = self
                    .maps
                    .rodata_data
                    .as_deref_mut()
                    .ok_or_else(|| $crate::__anyhow::anyhow!("the BPF object has no rodata"))?;
                ro.usersched_tgid = c.usersched_tgid;
                ro.slice_ns = c.slice_ns;
                ro.stall_timeout_ns = c.stall_timeout_ns;
                ro.task_timeout_ns = c.task_timeout_ns;
                ro.direct_idle = c.direct_idle;
                ro.enq_preempt_flag = c.enq_preempt_flag;
                ro.enq_head_flag = c.enq_head_flag;
                Ok(())
            }
        }
        impl<'obj> $crate::RustlandSkel for bpf_skel::BpfSkel<'obj> {
            fn rustland_maps(&self) -> $crate::__anyhow::Result<$crate::RustlandMaps> {
                use ::std::convert::TryFrom;
                Ok($crate::RustlandMaps {
                    queued: $crate::__libbpf_rs::MapHandle::try_from(&self.maps.queued)?,
                    dispatched: $crate::__libbpf_rs::MapHandle::try_from(&self.maps.dispatched)?,
                    shared: $crate::__libbpf_rs::MapHandle::try_from(&self.maps.rl_shared)?,
                })
            }
            fn stats_map(&self) -> &dyn $crate::__libbpf_rs::MapCore {
                &self.maps.rl_stats
            }
        }
    };
}
