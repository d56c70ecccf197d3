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
use bpf_skel::BpfSkelBuilder;
use clap::{CommandFactory, Parser};
use domains::Domains;
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use log::info;
use scx_utils::{ExitInfo, OpsOptions, Shutdown};
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

const OPS_MAP: &str = "rusty_ops";

/// A sched_ext scheduler: one deadline-ordered queue per last-level cache, idle-CPU search from
/// the previous CPU's core outwards, and deadlines that favour short runners and wake/block
/// chains without breaking weighted fairness. Runs until Ctrl-C, then hands the machine back.
///
/// Exit status: 0 when stopped by a signal or an orderly unregister, 1 when the kernel ended the
/// scheduler with an error (the reason is printed), 2 on a usage or setup error.
#[derive(Debug, Parser)]
#[command(version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("SCX_GIT_REV"), ")"))]
struct Opts {
    /// Time slice in microseconds.
    #[arg(short = 's', long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    slice_us: u64,

    /// Print stats every SECS seconds (with --track-comm, followed by the tracked tasks' lines).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    stats: Option<u64>,

    /// Publish the PELT signals of tasks whose comm is COMM and print, with each stats report
    /// (every second without --stats), one line per live such task:
    /// `scx_rusty: pelt pid=<pid> comm=<comm> util_avg=<n> runnable_avg=<n> load_avg=<n>`.
    /// Repeat for up to 4 names of at most 15 bytes each.
    #[arg(long = "track-comm", value_name = "COMM", action = clap::ArgAction::Append)]
    track_comm: Vec<String>,

    /// Only schedule tasks that opted into SCHED_EXT; leave the rest to the kernel's scheduler.
    #[arg(short = 'p', long)]
    partial: bool,

    /// Bytes of the kernel's debug dump to keep when the scheduler fails (at most 32768, the
    /// capacity of the exit report).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1..=32768))]
    exit_dump_len: Option<u32>,

    /// Print libbpf's debug output, including the verifier log.
    #[arg(short = 'v', long)]
    verbose: bool,
}

fn init_logging(verbose: bool) {
    let level = if verbose {
        simplelog::LevelFilter::Debug
    } else {
        simplelog::LevelFilter::Info
    };
    let config = simplelog::ConfigBuilder::new()
        .set_time_level(simplelog::LevelFilter::Off)
        .set_target_level(simplelog::LevelFilter::Off)
        .set_thread_level(simplelog::LevelFilter::Off)
        .build();
    let _ = simplelog::WriteLogger::init(level, config, std::io::stderr());
    scx_utils::init_libbpf_logging(verbose);
}

/// Attach once and run until a stop is requested or the kernel ends the scheduler.
fn run_once(opts: &Opts, shutdown: &Shutdown) -> Result<ExitInfo> {
    let topo = scx_topology::Topology::discover().context("discovering the CPU topology")?;
    let doms = Domains::from_topology(&topo)?;

    let mut open_object = MaybeUninit::uninit();
    let mut open_skel = BpfSkelBuilder::default()
        .open(&mut open_object)
        .context("opening the BPF object")?;

    let ro = open_skel
        .maps
        .rodata_data
        .as_deref_mut()
        .expect("the BPF side has read-only data");
    ro.nr_doms = doms.doms.len() as u32;
    ro.nr_cpu_ids = doms.nr_cpu_ids as u32;
    ro.nr_cores = doms.nr_cores as u32;
    ro.slice_ns = opts.slice_us * 1000;
    ro.cpu_dom[..doms.nr_cpu_ids].copy_from_slice(&doms.cpu_dom);
    ro.cpu_core[..doms.nr_cpu_ids].copy_from_slice(&doms.cpu_core);
    for (i, d) in doms.doms.iter().enumerate() {
        ro.dom_node[i] = d.node;
    }
    let comms = pelt::comm_table(&opts.track_comm)?;
    ro.nr_track_comms = comms.len() as u32;
    for (slot, name) in ro.track_comms.iter_mut().zip(&comms) {
        for (d, s) in slot.iter_mut().zip(name) {
            *d = *s as _;
        }
    }

    let ops_opts = OpsOptions {
        exit_dump_len: opts.exit_dump_len,
        set_flags: if opts.partial {
            vec!["SCX_OPS_SWITCH_PARTIAL"]
        } else {
            vec![]
        },
    };
    scx_utils::prepare_ops(open_skel.open_object_mut(), OPS_MAP, &ops_opts)?;

    let mut skel = open_skel
        .load()
        .context("loading the BPF scheduler failed (run with -v for the verifier log)")?;
    let link = scx_utils::attach_ops(skel.object_mut(), OPS_MAP)?;
    info!(
        "scx_rusty: attached: {} domain(s) over {} online CPU(s), slice {} us",
        doms.doms.len(),
        topo.online_cpus().weight(),
        opts.slice_us
    );
    for (i, d) in doms.doms.iter().enumerate() {
        info!(
            "scx_rusty: dom{i}: node {} cpus {}",
            d.node,
            d.cpus.to_cpulist()
        );
    }

    let dom_cpus: Vec<usize> = doms.doms.iter().map(|d| d.cpus.weight()).collect();
    let tracking = !opts.track_comm.is_empty();
    let period = match (opts.stats, tracking) {
        (Some(secs), _) => Some(Duration::from_secs(secs)),
        (None, true) => Some(Duration::from_secs(1)),
        (None, false) => None,
    };
    let mut last = (Instant::now(), stats::Snapshot::default());
    while !shutdown.requested() && !ExitInfo::has_exited(skel.object()) {
        std::thread::sleep(Duration::from_millis(100));
        let Some(period) = period else { continue };
        if last.0.elapsed() < period {
            continue;
        }
        let now = stats::Snapshot::read(&skel.maps.stats, &skel.maps.dom_ctxs, doms.doms.len())?;
        if opts.stats.is_some() {
            let util = pelt::dom_util(&skel.maps.scx_pelt_cpu_map, &doms.cpu_dom, doms.doms.len())?;
            println!(
                "scx_rusty: {}{}",
                now.report(&last.1, last.0.elapsed().as_secs_f64(), &dom_cpus),
                pelt::dom_util_report(&util)
            );
        }
        if tracking {
            for t in pelt::tracked(&skel.maps.tracked_pelt)? {
                println!("{}", t.line());
            }
        }
        last = (Instant::now(), now);
    }
    drop(link);
    ExitInfo::read(skel.object())
}

fn run(opts: &Opts) -> Result<i32> {
    scx_utils::preflight()?;
    let shutdown = Shutdown::install()?;
    loop {
        let exit = run_once(opts, &shutdown)?;
        exit.report("scx_rusty");
        if !exit.should_restart() || shutdown.requested() {
            return Ok(exit.exit_status());
        }
    }
}

fn main() {
    let opts = Opts::parse();
    if let Err(e) = pelt::comm_table(&opts.track_comm) {
        Opts::command()
            .error(clap::error::ErrorKind::ValueValidation, format!("{e:#}"))
            .exit();
    }
    init_logging(opts.verbose);
    match run(&opts) {
        Ok(status) => std::process::exit(status),
        Err(e) => {
            log::error!("scx_rusty: {e:#}");
            std::process::exit(2);
        }
    }
}
