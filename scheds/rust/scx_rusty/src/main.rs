//! scx_rusty: a sched_ext scheduler with one deadline-ordered queue per LLC domain.
//!
//! The policy (placement, ordering, stealing) is in `bpf/main.bpf.c`; this side discovers the
//! topology, turns it into domains (`domains.rs`), loads and attaches the BPF side, prints stats
//! (`stats.rs`, `pelt.rs`) and reports why the scheduler ended. User-space load balancing between
//! domains will build on `domains.rs`, the per-domain load the BPF side already accumulates and
//! the PELT signals it keeps for every task and CPU.

mod bpf_skel {
    #![allow(
        clippy::all,
        missing_docs,
        non_camel_case_types,
        non_snake_case,
        dead_code
    )]
    include!(concat!(env!("OUT_DIR"), "/bpf_skel.rs"));
}
mod bpf_intf {
    #![allow(
        clippy::all,
        missing_docs,
        non_camel_case_types,
        non_upper_case_globals,
        non_snake_case,
        dead_code
    )]
    include!(concat!(env!("OUT_DIR"), "/bpf_intf.rs"));
}
mod domains;
mod pelt;
mod stats;

use anyhow::{Context, Result};
use bpf_skel::{BpfSkel, BpfSkelBuilder, OpenBpfSkel};
use clap::{CommandFactory, Parser};
use domains::Domains;
use libbpf_rs::skel::SkelBuilder;
use libbpf_rs::OpenObject;
use log::info;
use scx_topology::Topology;
use scx_utils::{OpsFlag, OpsOptions, RunLoop, Scheduler};
use std::mem::MaybeUninit;
use std::time::Instant;

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
    /// Time slice in microseconds.
    #[arg(short = 's', long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    slice_us: u64,

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

/// The user-space half: configures the BPF side per topology, reads its counters every second.
struct Rusty {
    slice_us: u64,
    comms: Vec<[u8; pelt::COMM_LEN]>,
    doms: Option<Domains>,
    last: (Instant, stats::Snapshot),
}

impl Scheduler for Rusty {
    type Open<'obj> = OpenBpfSkel<'obj>;
    type Loaded<'obj> = BpfSkel<'obj>;
    type Stats = stats::RustyStats;

    fn open<'obj>(
        &mut self,
        topo: &Topology,
        object: &'obj mut MaybeUninit<OpenObject>,
    ) -> Result<OpenBpfSkel<'obj>> {
        let doms = Domains::from_topology(topo)?;
        let mut skel = BpfSkelBuilder::default()
            .open(object)
            .context("opening the BPF object")?;
        let ro = skel
            .maps
            .rodata_data
            .as_deref_mut()
            .expect("the BPF side has read-only data");
        ro.nr_doms = doms.doms.len() as u32;
        ro.nr_cpu_ids = doms.nr_cpu_ids as u32;
        ro.nr_cores = doms.nr_cores as u32;
        ro.slice_ns = self.slice_us * 1000;
        ro.cpu_dom[..doms.nr_cpu_ids].copy_from_slice(&doms.cpu_dom);
        ro.cpu_core[..doms.nr_cpu_ids].copy_from_slice(&doms.cpu_core);
        for (i, d) in doms.doms.iter().enumerate() {
            ro.dom_node[i] = d.node;
        }
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
            doms.doms.len(),
            topo.online_cpus().weight(),
            self.slice_us
        );
        for (i, d) in doms.doms.iter().enumerate() {
            info!(
                "scx_rusty: dom{i}: node {} cpus {}",
                d.node,
                d.cpus.to_cpulist()
            );
        }
        self.last = (Instant::now(), stats::Snapshot::default());
        Ok(())
    }

    fn tick(&mut self, skel: &mut BpfSkel<'_>) -> Result<stats::RustyStats> {
        let doms = self.doms.as_ref().expect("open ran before tick");
        let now = stats::Snapshot::read(&skel.maps.stats, &skel.maps.dom_ctxs, doms.doms.len())?;
        let dom_cpus: Vec<usize> = doms.doms.iter().map(|d| d.cpus.weight()).collect();
        let mut out = now.stats(&self.last.1, self.last.0.elapsed().as_secs_f64(), &dom_cpus);
        out.dom_util = pelt::dom_util(&skel.maps.scx_pelt_cpu_map, &doms.cpu_dom, doms.doms.len())?;
        if !self.comms.is_empty() {
            for t in pelt::tracked(&skel.maps.tracked_pelt)? {
                println!("{}", t.line());
            }
        }
        self.last = (Instant::now(), now);
        Ok(out)
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
    opts.run
        .main(RunLoop::new("scx_rusty").version(VERSION), ops, || {
            Ok(Rusty {
                slice_us: opts.slice_us,
                comms,
                doms: None,
                last: (Instant::now(), stats::Snapshot::default()),
            })
        })
}
