//! scx_minimal's user-space half: configure the BPF side (`bpf/main.bpf.c`, where the policy and
//! its trade-offs are described), then report counters and CPU utilisation once a second.
//! Everything else — attach, Ctrl-C, the exit report, restarts after CPU hotplug, `--stats`,
//! `--monitor` and the stats socket — is scx_utils' run loop.

scx_utils::include_generated!(mod bpf_skel = "bpf_skel.rs");
scx_utils::include_generated!(mod bpf_intf = "bpf_intf.rs");

use anyhow::{Context, Result};
use bpf_skel::{BpfSkel, BpfSkelBuilder, OpenBpfSkel};
use clap::Parser;
use libbpf_rs::skel::SkelBuilder;
use libbpf_rs::{MapCore, MapFlags, OpenObject};
use scx_topology::Topology;
use scx_utils::{OpsOptions, RunLoop, Scheduler};
use std::mem::MaybeUninit;

// Typed access to the ops struct (SCX_OPS_DEFINE(minimal_ops, ...)) and the exit report.
scx_utils::scx_ops_skel!(OpenBpfSkel<'obj>, BpfSkel<'obj>, minimal_ops);

/// A minimal sched_ext scheduler: one shared FIFO queue, idle CPUs served directly.
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
    /// What scx_minimal reports.
    pub struct MinimalStats {
        /// Wake-ups sent straight to an idle CPU.
        counter direct: u64,
        /// Tasks that went through the shared queue.
        counter queued: u64,
        /// Average PELT utilisation of the online CPUs (0..=1024).
        gauge cpu_util_avg: u64,
    }
}

struct Minimal {
    slice_us: u64,
    nr_cpus: usize,
}

impl Scheduler for Minimal {
    type Open<'obj> = OpenBpfSkel<'obj>;
    type Loaded<'obj> = BpfSkel<'obj>;
    type Stats = MinimalStats;

    fn open<'obj>(
        &mut self,
        topo: &Topology,
        object: &'obj mut MaybeUninit<OpenObject>,
    ) -> Result<OpenBpfSkel<'obj>> {
        self.nr_cpus = topo.online_cpus().weight();
        let mut skel = BpfSkelBuilder::default()
            .open(object)
            .context("opening the BPF object")?;
        let rodata = skel.maps.rodata_data.as_deref_mut().context("no rodata")?;
        rodata.slice_ns = self.slice_us * 1000;
        Ok(skel)
    }

    fn tick(&mut self, skel: &mut BpfSkel<'_>) -> Result<MinimalStats> {
        let c = scx_utils::percpu_counters(
            &skel.maps.stats,
            bpf_intf::minimal_stat_MINIMAL_NR_STATS as usize,
        )?;
        // One struct scx_pelt_cpu per CPU; offline CPUs read as zero.
        let per_cpu = skel
            .maps
            .scx_pelt_cpu_map
            .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)?
            .unwrap_or_default();
        let util: u64 = per_cpu
            .iter()
            .filter(|b| b.len() >= std::mem::size_of::<bpf_skel::types::scx_pelt_cpu>())
            // SAFETY: each value is a struct scx_pelt_cpu of plain integers.
            .map(|b| unsafe { std::ptr::read_unaligned(b.as_ptr() as *const bpf_skel::types::scx_pelt_cpu) }.avg.util_avg)
            .sum();
        Ok(MinimalStats {
            direct: c[bpf_intf::minimal_stat_STAT_DIRECT as usize],
            queued: c[bpf_intf::minimal_stat_STAT_QUEUED as usize],
            cpu_util_avg: util / self.nr_cpus.max(1) as u64,
        })
    }
}

fn main() {
    let opts = Opts::parse();
    opts.run.main(
        RunLoop::new("scx_minimal").version(env!("CARGO_PKG_VERSION")),
        OpsOptions::default(),
        || {
            Ok(Minimal {
                slice_us: opts.slice_us,
                nr_cpus: 1,
            })
        },
    )
}
