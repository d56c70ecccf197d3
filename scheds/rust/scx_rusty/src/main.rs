//! scx_rusty: a sched_ext scheduler with one deadline-ordered queue per LLC domain.
//!
//! The policy (placement, ordering, stealing) is in `bpf/main.bpf.c`; this side discovers the
//! topology and turns it into domains, one per LLC (scx_utils' [`LlcTables`], which
//! `scx/llc_topo.bpf.h` reads), loads and attaches the BPF side, balances load between domains
//! (`balance.rs`), prints stats (`stats.rs`, `pelt.rs`) and reports why the scheduler ended.

scx_utils::include_generated!(mod bpf_skel = "bpf_skel.rs");
scx_utils::include_generated!(mod bpf_intf = "bpf_intf.rs");
mod balance;
mod pelt;
mod stats;

use anyhow::{Context, Result};
use bpf_skel::{BpfSkel, BpfSkelBuilder, OpenBpfSkel};
use clap::{CommandFactory, Parser};
use libbpf_rs::skel::SkelBuilder;
use libbpf_rs::OpenObject;
use libbpf_rs::{MapCore, MapFlags};
use log::info;
use scx_topology::Topology;
use scx_utils::{EnqFlag, KernelBtf, LlcTables, OpsFlag, OpsOptions, RunLoop, Scheduler};
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

scx_utils::scx_ops_skel!(OpenBpfSkel<'obj>, BpfSkel<'obj>, rusty_ops);

const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("SCX_GIT_REV"), ")");

/// A sched_ext scheduler: one deadline-ordered queue per last-level cache, idle-CPU search from
/// the previous CPU's core outwards, and deadlines that favour short runners and wake/block
/// chains without breaking weighted fairness. Runs until Ctrl-C, then hands the machine back.
///
/// Exit status: 0 when stopped by a signal or an orderly unregister, 1 when the kernel ended the
/// scheduler with an error (the reason is printed), 2 on a usage or setup error.
#[derive(Debug, Parser)]
#[command(version = VERSION)]
struct Opts {
    /// Time slice in microseconds when nobody waits (the longest slice).
    #[arg(short = 's', long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    slice_us: u64,

    /// Under contention, this latency (µs) is shared among the waiting tasks to size slices.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    target_latency_us: u64,

    /// The shortest slice (µs), however many tasks wait.
    #[arg(long, default_value_t = 3_000, value_parser = clap::value_parser!(u64).range(50..=1_000_000))]
    min_slice_us: u64,

    /// Never preempt a running task for a waking one.
    #[arg(long)]
    no_preempt: bool,

    /// A running task may be preempted only if its CPU bursts (between blockings) average at
    /// least this long (µs), and only by a task whose deadline is earlier by this much.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(10..=1_000_000))]
    preempt_min_run_us: u64,

    /// Seconds between load-balancing rounds (0 disables the balancer).
    #[arg(long, default_value_t = 2.0)]
    balance_interval: f64,

    /// Imbalance worth a move, as a share of one CPU's fair load.
    #[arg(long, default_value_t = 0.25)]
    balance_threshold: f64,

    /// Publish the PELT signals of tasks whose comm is COMM and print, every second, one line
    /// per live such task:
    /// `scx_rusty: pelt pid=<pid> comm=<comm> util_avg=<n> runnable_avg=<n> load_avg=<n>`.
    /// Repeat for up to 4 names of at most 15 bytes each.
    #[arg(long = "track-comm", value_name = "COMM", action = clap::ArgAction::Append)]
    track_comm: Vec<String>,

    /// Only schedule tasks that opted into SCHED_EXT; leave the rest to the kernel's scheduler.
    #[arg(short = 'p', long)]
    partial: bool,

    #[command(flatten)]
    run: scx_utils::cli::RunArgs,
}

/// The user-space half: configures the BPF side per topology, balances load between domains,
/// reads its counters.
struct Rusty {
    opts: Opts,
    comms: Vec<[u8; pelt::COMM_LEN]>,
    /// The domains: domain d is LLC d of these tables.
    doms: Option<LlcTables>,
    /// The snapshot the load figures are computed against (at most a second old).
    last: (Instant, stats::Snapshot),
    /// The latest per-domain load figures, refreshed every second.
    dom_load_pct: Vec<f64>,
    balancer: balance::Balancer,
    next_balance: Instant,
    last_plan: balance::Plan,
    moves_issued: u64,
    /// Ticks left before the tracked tasks' lines are printed again.
    track_countdown: u32,
}

/// How often the run loop calls tick: the tuner's pace; stats and balancing run at multiples.
const TICK: Duration = Duration::from_millis(100);

impl Scheduler for Rusty {
    type Open<'obj> = OpenBpfSkel<'obj>;
    type Loaded<'obj> = BpfSkel<'obj>;
    type Stats = stats::RustyStats;

    fn open<'obj>(
        &mut self,
        topo: &Topology,
        object: &'obj mut MaybeUninit<OpenObject>,
    ) -> Result<OpenBpfSkel<'obj>> {
        let doms = LlcTables::from_topology(topo, "scx_rusty")?;
        let mut skel = BpfSkelBuilder::default()
            .open(object)
            .context("opening the BPF object")?;
        let ro = skel
            .maps
            .rodata_data
            .as_deref_mut()
            .expect("the BPF side has read-only data");
        scx_utils::fill_llc_tables!(ro, &doms);
        ro.slice_ns = self.opts.slice_us * 1000;
        ro.target_latency_ns = self.opts.target_latency_us * 1000;
        ro.min_slice_ns = self.opts.min_slice_us.min(self.opts.slice_us) * 1000;
        ro.preempt_enabled = !self.opts.no_preempt;
        ro.preempt_min_run_ns = self.opts.preempt_min_run_us * 1000;
        // Our own threads (run loop, balancer, stats server) yield to any wake-up.
        ro.scx_own_tgid = std::process::id();
        // The kernel's own value for SCX_ENQ_PREEMPT (enum values are not ABI).
        ro.enq_preempt_flag = EnqFlag::Preempt.value_in(&KernelBtf::load()?).unwrap_or(0);
        ro.nr_track_comms = self.comms.len() as u32;
        for (slot, name) in ro.track_comms.iter_mut().zip(&self.comms) {
            for (d, s) in slot.iter_mut().zip(name) {
                *d = *s as _;
            }
        }
        self.doms = Some(doms);
        Ok(skel)
    }

    fn attached(&mut self, _skel: &mut BpfSkel<'_>, topo: &Topology) -> Result<()> {
        let doms = self.doms.as_ref().expect("open ran before attach");
        info!(
            "scx_rusty: attached: {} domain(s) over {} online CPU(s), slice {} us",
            doms.llcs.len(),
            topo.online_cpus().weight(),
            self.opts.slice_us
        );
        for (i, d) in doms.llcs.iter().enumerate() {
            info!(
                "scx_rusty: dom{i}: node {} cpus {}",
                d.node,
                d.cpus.to_cpulist()
            );
        }
        self.last = (Instant::now(), stats::Snapshot::default());
        self.dom_load_pct.clear();
        self.next_balance = Instant::now() + Duration::from_secs_f64(self.opts.balance_interval);
        Ok(())
    }

    fn tick(&mut self, skel: &mut BpfSkel<'_>) -> Result<stats::RustyStats> {
        let doms = self.doms.as_ref().expect("open ran before tick");
        let now = stats::Snapshot::read(&skel.maps.stats, &skel.maps.dom_ctxs, doms.llcs.len())?;
        let dom_cpus: Vec<usize> = doms.llcs.iter().map(|d| d.cpus.weight()).collect();
        let elapsed = self.last.0.elapsed().as_secs_f64();
        let mut out = now.stats(&self.last.1, elapsed, &dom_cpus);
        if elapsed >= 1.0 || self.dom_load_pct.is_empty() {
            self.dom_load_pct = out.dom_load_pct.clone();
            self.last = (Instant::now(), now);
        }
        out.dom_load_pct = self.dom_load_pct.clone();
        out.dom_util = pelt::dom_util(&skel.maps.scx_pelt_cpu_map, &doms.cpu_llc, doms.llcs.len())?;
        out.dom_overloaded = self.tune(skel, &out.dom_util, &dom_cpus)?;

        if self.opts.balance_interval > 0.0 && Instant::now() >= self.next_balance {
            self.next_balance =
                Instant::now() + Duration::from_secs_f64(self.opts.balance_interval);
            self.balance(skel)?;
        }
        out.dom_balance_load = self.last_plan.dom_load.iter().map(|l| l.round()).collect();
        out.imbalance_pct = self.last_plan.imbalance_pct.round();
        out.tasks_moved = self.moves_issued;

        if !self.comms.is_empty() {
            if self.track_countdown == 0 {
                for t in pelt::tracked(&skel.maps.tracked_pelt)? {
                    println!("{}", t.line());
                }
                self.track_countdown = 10;
            }
            self.track_countdown -= 1;
        }
        Ok(out)
    }
}

/// A domain whose CPUs' average PELT utilisation is at least this share is overloaded: idle
/// CPUs elsewhere steal from it first.
const OVERLOAD_UTIL: f64 = 0.9;

impl Rusty {
    /// The tuner, every tick: tell the BPF side which domains are overloaded. Returns how many.
    fn tune(&self, skel: &mut BpfSkel<'_>, dom_util: &[u64], dom_cpus: &[usize]) -> Result<u64> {
        let mut overloaded = 0;
        for (d, (util, nr)) in dom_util.iter().zip(dom_cpus).enumerate() {
            let share = *util as f64 / (1024.0 * (*nr).max(1) as f64);
            let tune = bpf_intf::dom_tune {
                overloaded: u32::from(share >= OVERLOAD_UTIL),
                util_pct: (share * 100.0).round() as u32,
            };
            overloaded += u64::from(tune.overloaded);
            // SAFETY: dom_tune is plain integers; viewing it as bytes is sound.
            let bytes = unsafe {
                std::slice::from_raw_parts(
                    &tune as *const bpf_intf::dom_tune as *const u8,
                    std::mem::size_of::<bpf_intf::dom_tune>(),
                )
            };
            skel.maps
                .dom_tunes
                .update(&(d as u32).to_ne_bytes(), bytes, MapFlags::ANY)?;
        }
        Ok(overloaded)
    }

    /// One balancing round: read the published task loads, plan, ask BPF to move tasks.
    fn balance(&mut self, skel: &mut BpfSkel<'_>) -> Result<()> {
        let doms = self.doms.as_ref().expect("open ran before balance");
        let infos: Vec<balance::DomInfo> = doms
            .llcs
            .iter()
            .map(|d| balance::DomInfo {
                nr_cpus: d.cpus.weight(),
                node: d.node,
            })
            .collect();
        let mut raw = Vec::new();
        for key in skel.maps.task_loads.keys() {
            let Some(v) = skel.maps.task_loads.lookup(&key, MapFlags::ANY)? else {
                continue;
            };
            if key.len() < 4 || v.len() < std::mem::size_of::<bpf_intf::task_load>() {
                continue;
            }
            let pid = u32::from_ne_bytes(key[..4].try_into().unwrap());
            // SAFETY: the value is a struct task_load of plain integers.
            let tl: bpf_intf::task_load =
                unsafe { std::ptr::read_unaligned(v.as_ptr() as *const bpf_intf::task_load) };
            raw.push((pid, tl));
        }
        // The latest publication stands for "now" on the scheduler's clock; older ones decay.
        let latest = raw.iter().map(|(_, t)| t.at).max().unwrap_or(0);
        let tasks: Vec<balance::TaskLoad> = raw
            .iter()
            .filter(|(_, t)| (t.dom as usize) < infos.len() && t.nr_cpus_allowed > 1)
            .map(|(pid, t)| balance::TaskLoad {
                pid: *pid,
                dom: t.dom as usize,
                load: balance::pelt_decay(t.load_avg as f64, latest.saturating_sub(t.at)),
                runnable: balance::pelt_decay(t.runnable_avg as f64, latest.saturating_sub(t.at)),
                dom_allowed: t.dom_allowed,
            })
            .collect();
        let plan = self.balancer.plan(&tasks, &infos);
        for m in &plan.moves {
            let to = m.to as u32;
            skel.maps
                .migrations
                .update(&m.pid.to_ne_bytes(), &to.to_ne_bytes(), MapFlags::ANY)?;
            log::debug!(
                "scx_rusty: balance: pid {} (load {:.0}) dom{} -> dom{}",
                m.pid,
                m.load,
                m.from,
                m.to
            );
        }
        self.moves_issued += plan.moves.len() as u64;
        self.last_plan = plan;
        Ok(())
    }
}

fn main() {
    let opts = Opts::parse();
    let comms = match pelt::comm_table(&opts.track_comm) {
        Ok(c) => c,
        Err(e) => Opts::command()
            .error(clap::error::ErrorKind::ValueValidation, format!("{e:#}"))
            .exit(),
    };
    let ops = OpsOptions {
        set_flags: if opts.partial {
            vec![OpsFlag::SwitchPartial]
        } else {
            vec![]
        },
        ..Default::default()
    };
    if !(0.0..=3600.0).contains(&opts.balance_interval)
        || !(0.0..=100.0).contains(&opts.balance_threshold)
    {
        Opts::command()
            .error(
                clap::error::ErrorKind::ValueValidation,
                "--balance-interval must be 0..=3600 seconds and --balance-threshold 0..=100",
            )
            .exit();
    }
    let run = opts.run.clone();
    run.main(
        RunLoop::new("scx_rusty")
            .version(VERSION)
            .tick_interval(TICK),
        ops,
        || {
            let balancer = balance::Balancer::new(opts.balance_threshold, 8);
            Ok(Rusty {
                opts,
                comms,
                doms: None,
                last: (Instant::now(), stats::Snapshot::default()),
                dom_load_pct: Vec::new(),
                balancer,
                next_balance: Instant::now(),
                last_plan: balance::Plan::default(),
                moves_issued: 0,
                track_countdown: 0,
            })
        },
    )
}
