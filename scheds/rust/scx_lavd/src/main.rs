//! scx_lavd: latency-criticality-aware virtual deadlines for interactive machines, with core
//! compaction.
//!
//! The policy (criticality, deadlines, slices, preemption, placement) is in `bpf/main.bpf.c`.
//! This side turns the topology into the BPF side's tables (`layout.rs`, on scx_utils'
//! `LlcTables`), loads and attaches it, and every 100 ms measures utilisation and picks the
//! active core set and frequency policy for the chosen mode (`compact.rs`), then serves the
//! stats (`stats.rs`).

scx_utils::include_generated!(mod bpf_skel = "bpf_skel.rs");
scx_utils::include_generated!(mod bpf_intf = "bpf_intf.rs");
mod compact;
mod layout;
mod stats;

use anyhow::{Context, Result};
use bpf_skel::{BpfSkel, BpfSkelBuilder, OpenBpfSkel};
use clap::Parser;
use compact::{Mode, Planner};
use layout::Layout;
use libbpf_rs::skel::SkelBuilder;
use libbpf_rs::OpenObject;
use libbpf_rs::{MapCore, MapFlags};
use log::info;
use scx_topology::Topology;
use scx_utils::{EnqFlag, KernelBtf, LlcTables, OpsFlag, OpsOptions, RunLoop, Scheduler};
use stats::{CpuTimes, LavdStats};
use std::mem::MaybeUninit;
use std::time::Duration;

scx_utils::scx_ops_skel!(OpenBpfSkel<'obj>, BpfSkel<'obj>, lavd_ops);

const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("SCX_GIT_REV"), ")");

/// A sched_ext scheduler for interactive machines: tasks that wake others or wait often and
/// run briefly get earlier virtual deadlines (criticality inherited along wake chains), a
/// critical task that wakes preempts the least urgent runner, slices follow a target latency,
/// and a lightly loaded machine runs on fewer cores so the rest can sleep. Runs until Ctrl-C.
///
/// Exit status: 0 when stopped by a signal or an orderly unregister, 1 when the kernel ended the
/// scheduler with an error (the reason is printed), 2 on a usage or setup error.
#[derive(Debug, Parser)]
#[command(version = VERSION)]
struct Opts {
    /// Use every CPU and ask for the highest frequency: no compaction.
    #[arg(long, group = "mode")]
    performance: bool,

    /// Pack work onto the fewest cores that carry it, with little headroom.
    #[arg(long, group = "mode")]
    powersave: bool,

    /// Compact while the machine is lightly loaded, switch to performance above half its
    /// capacity (the default).
    #[arg(long, group = "mode")]
    autopilot: bool,

    /// The longest slice (µs), given when nobody waits.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    slice_max_us: u64,

    /// Under contention, this latency (µs) is shared among the runnable tasks to size slices.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    target_latency_us: u64,

    /// The shortest slice (µs), however many tasks wait.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(50..=1_000_000))]
    slice_min_us: u64,

    /// How much earlier (µs) each unit of latency criticality makes a task's deadline.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    lc_unit_us: u64,

    /// Never preempt a running task for a waking one.
    #[arg(long)]
    no_preempt: bool,

    /// Do not lengthen the next slice of a task whose run a preemption cut short.
    #[arg(long)]
    no_slice_boost: bool,

    /// Only tasks whose runs average at least this long (µs) may be preempted.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(10..=1_000_000))]
    preempt_min_run_us: u64,

    /// Only schedule tasks that opted into SCHED_EXT; leave the rest to the kernel's scheduler.
    #[arg(short = 'p', long)]
    partial: bool,

    #[command(flatten)]
    run: scx_utils::cli::RunArgs,
}

impl Opts {
    fn mode(&self) -> Mode {
        if self.performance {
            Mode::Performance
        } else if self.powersave {
            Mode::Powersave
        } else {
            Mode::Autopilot
        }
    }
}

/// The user-space half: tables for the BPF side, the compaction planner, the stats.
struct Lavd {
    opts: Opts,
    layout: Option<Layout>,
    planner: Option<Planner>,
    last_times: CpuTimes,
    seq: u64,
    last_active: Vec<usize>,
    last_compact: bool,
    last_perf_max: bool,
}

/// How often the run loop calls tick: the compaction planner's pace.
const TICK: Duration = Duration::from_millis(100);

impl Scheduler for Lavd {
    type Open<'obj> = OpenBpfSkel<'obj>;
    type Loaded<'obj> = BpfSkel<'obj>;
    type Stats = LavdStats;

    fn open<'obj>(
        &mut self,
        topo: &Topology,
        object: &'obj mut MaybeUninit<OpenObject>,
    ) -> Result<OpenBpfSkel<'obj>> {
        let layout = Layout::from_topology(topo)?;
        let mut skel = BpfSkelBuilder::default()
            .open(object)
            .context("opening the BPF object")?;
        let ro = skel
            .maps
            .rodata_data
            .as_deref_mut()
            .expect("the BPF side has read-only data");
        scx_utils::fill_llc_tables!(ro, &layout.tables);
        ro.slice_max_ns = self.opts.slice_max_us * 1000;
        ro.target_latency_ns = self.opts.target_latency_us.min(self.opts.slice_max_us) * 1000;
        ro.slice_min_ns = self
            .opts
            .slice_min_us
            .min(self.opts.target_latency_us)
            .min(self.opts.slice_max_us)
            * 1000;
        ro.lc_unit_ns = self.opts.lc_unit_us * 1000;
        ro.preempt_enabled = !self.opts.no_preempt;
        ro.slice_boost_enabled = !self.opts.no_slice_boost;
        ro.preempt_min_run_ns = self.opts.preempt_min_run_us * 1000;
        // The kernel's own value for SCX_ENQ_PREEMPT (enum values are not ABI).
        ro.enq_preempt_flag = EnqFlag::Preempt.value_in(&KernelBtf::load()?).unwrap_or(0);
        self.planner = Some(Planner::new(self.opts.mode(), layout.core_order.clone()));
        self.layout = Some(layout);
        Ok(skel)
    }

    fn attached(&mut self, _skel: &mut BpfSkel<'_>, topo: &Topology) -> Result<()> {
        let layout = self.layout.as_ref().expect("open ran before attach");
        info!(
            "scx_lavd: attached: {} LLC(s) over {} online CPU(s), mode {}",
            layout.tables.llcs.len(),
            topo.online_cpus().weight(),
            self.opts.mode().name()
        );
        self.last_times = read_cpu_times(layout.tables.nr_cpu_ids);
        self.last_active.clear();
        Ok(())
    }

    fn tick(&mut self, skel: &mut BpfSkel<'_>) -> Result<LavdStats> {
        let layout = self.layout.as_ref().expect("open ran before tick");
        let planner = self.planner.as_mut().expect("open ran before tick");
        let now = read_cpu_times(layout.tables.nr_cpu_ids);
        let busy = now.busy_since(&self.last_times);
        self.last_times = now;
        let util: f64 = busy
            .iter()
            .zip(&layout.cpu_cap)
            .enumerate()
            .filter(|(cpu, _)| layout.tables.cpu_llc[*cpu] != LlcTables::NO_LLC)
            .map(|(_, (b, c))| b * c)
            .sum();
        let expanded = take_expanded(skel)?;
        let d = planner.decide(util, &expanded);
        // Expansions are rewritten too: the BPF side's additions hold only until user space
        // has taken them into account.
        if d.active != self.last_active
            || d.compact != self.last_compact
            || d.perf_max != self.last_perf_max
            || !expanded.is_empty()
        {
            self.seq += 1;
            write_ctl(skel, &d, self.seq)?;
            self.last_active = d.active.clone();
            self.last_compact = d.compact;
            self.last_perf_max = d.perf_max;
        }
        let mut out = LavdStats {
            mode: self.opts.mode().name().to_string(),
            policy: d.policy.to_string(),
            active_cpus: d.active.len() as u64,
            online_cpus: layout.tables.nr_online_cpus as u64,
            util_pct: (1000.0 * util / planner.capacity().max(1e-9)).round() / 10.0,
            ..Default::default()
        };
        out.set_counters(&scx_utils::percpu_counters(
            &skel.maps.stats,
            stats::NR_STATS,
        )?);
        Ok(out)
    }
}

fn read_cpu_times(nr_cpu_ids: usize) -> CpuTimes {
    CpuTimes::parse(
        &std::fs::read_to_string("/proc/stat").unwrap_or_default(),
        nr_cpu_ids,
    )
}

/// The CPUs the BPF side expanded to since the last call, clearing its record.
fn take_expanded(skel: &mut BpfSkel<'_>) -> Result<Vec<usize>> {
    let mut cpus = Vec::new();
    for w in 0..bpf_intf::lavd_consts_MAX_CPU_WORDS {
        let key = w.to_ne_bytes();
        let Some(v) = skel.maps.expanded.lookup(&key, MapFlags::ANY)? else {
            continue;
        };
        let bits = u64::from_ne_bytes(v[..8].try_into().expect("u64 value"));
        if bits == 0 {
            continue;
        }
        skel.maps
            .expanded
            .update(&key, &0u64.to_ne_bytes(), MapFlags::ANY)?;
        cpus.extend(
            (0..64)
                .filter(|b| bits & (1 << b) != 0)
                .map(|b| w as usize * 64 + b),
        );
    }
    Ok(cpus)
}

fn write_ctl(skel: &mut BpfSkel<'_>, d: &compact::Decision, seq: u64) -> Result<()> {
    let mut c = bpf_intf::lavd_ctl {
        seq,
        compact: u32::from(d.compact),
        perf_max: u32::from(d.perf_max),
        expand_backlog: d.expand_backlog,
        ..Default::default()
    };
    for &cpu in &d.active {
        if let Some(w) = c.active.get_mut(cpu / 64) {
            *w |= 1 << (cpu % 64);
        }
    }
    // SAFETY: lavd_ctl is plain integers; viewing it as bytes is sound.
    let bytes = unsafe {
        std::slice::from_raw_parts(
            &c as *const bpf_intf::lavd_ctl as *const u8,
            std::mem::size_of::<bpf_intf::lavd_ctl>(),
        )
    };
    skel.maps
        .ctl
        .update(&0u32.to_ne_bytes(), bytes, MapFlags::ANY)
        .context("writing the active CPU set")?;
    Ok(())
}

fn main() {
    let opts = Opts::parse();
    let ops = OpsOptions {
        set_flags: if opts.partial {
            vec![OpsFlag::SwitchPartial]
        } else {
            vec![]
        },
        ..Default::default()
    };
    let run = opts.run.clone();
    run.main(
        RunLoop::new("scx_lavd")
            .version(VERSION)
            .tick_interval(TICK),
        ops,
        || {
            Ok(Lavd {
                opts,
                layout: None,
                planner: None,
                last_times: CpuTimes::default(),
                seq: 0,
                last_active: Vec::new(),
                last_compact: false,
                last_perf_max: false,
            })
        },
    )
}
