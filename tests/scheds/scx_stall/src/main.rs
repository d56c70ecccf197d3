//! scx_stall: the loader of a deliberately broken scheduler (see `bpf/main.bpf.c`), for the
//! watchdog test (tasks named `stallme` are never run, so the kernel must eject it) and the
//! hotplug race test (`--hotplug-in-open`). Never install it.

scx_utils::include_generated!(mod bpf_skel = "bpf_skel.rs");

use anyhow::{Context, Result};
use bpf_skel::{BpfSkel, BpfSkelBuilder, OpenBpfSkel};
use clap::Parser;
use libbpf_rs::skel::SkelBuilder;
use libbpf_rs::OpenObject;
use scx_topology::Topology;
use scx_utils::{OpsOptions, RunLoop, Scheduler};
use std::mem::MaybeUninit;

scx_utils::scx_ops_skel!(OpenBpfSkel<'obj>, BpfSkel<'obj>, stall_ops);

/// A broken test scheduler: tasks named 'stallme' are never run, so the kernel's watchdog must
/// eject it. Never install it.
#[derive(Debug, Parser)]
#[command(version)]
struct Opts {
    /// On the first attach only, take CPU N offline after the topology was read and before the
    /// scheduler attaches: the kernel must refuse that attach and ask for a restart.
    #[arg(long, value_name = "N")]
    hotplug_in_open: Option<usize>,

    #[command(flatten)]
    run: scx_utils::cli::RunArgs,
}

struct Stall {
    hotplug_in_open: Option<usize>,
}

impl Scheduler for Stall {
    type Open<'obj> = OpenBpfSkel<'obj>;
    type Loaded<'obj> = BpfSkel<'obj>;
    type Stats = ();

    fn open<'obj>(
        &mut self,
        topo: &Topology,
        object: &'obj mut MaybeUninit<OpenObject>,
    ) -> Result<OpenBpfSkel<'obj>> {
        log::info!(
            "scx_stall: configuring for online CPUs {}",
            topo.online_cpus().to_cpulist()
        );
        if let Some(cpu) = self.hotplug_in_open.take() {
            let path = format!("/sys/devices/system/cpu/cpu{cpu}/online");
            std::fs::write(&path, "0").with_context(|| format!("writing 0 to {path}"))?;
            log::info!("scx_stall: took CPU {cpu} offline after reading the topology");
        }
        BpfSkelBuilder::default()
            .open(object)
            .context("opening the BPF object")
    }

    fn attached(&mut self, _skel: &mut BpfSkel<'_>, topo: &Topology) -> Result<()> {
        log::info!(
            "scx_stall: attached (tasks named 'stallme' are never run) over online CPUs {}",
            topo.online_cpus().to_cpulist()
        );
        Ok(())
    }

    fn tick(&mut self, _skel: &mut BpfSkel<'_>) -> Result<()> {
        Ok(())
    }
}

fn main() {
    let opts = Opts::parse();
    opts.run.main(
        RunLoop::new("scx_stall").version(env!("CARGO_PKG_VERSION")),
        OpsOptions::default(),
        || {
            Ok(Stall {
                hotplug_in_open: opts.hotplug_in_open,
            })
        },
    )
}
