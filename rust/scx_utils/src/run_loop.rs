//! The life of a scheduler process, written once: preflight, open, fit the ops struct to the
//! kernel, load, attach, periodic user-space work and stats, Ctrl-C / SIGTERM, the exit report
//! and its status, and attaching again when the kernel asks for a restart (CPU hotplug).

use crate::stats::{Stats, StatsServer, Table, STATS_DIR};
use crate::{attach_ops, prepare_ops, sysfs, ExitInfo, OpenScxSkel, OpsOptions, ScxSkel, Shutdown};
use anyhow::{Context, Result};
use libbpf_rs::skel::OpenSkel;
use libbpf_rs::OpenObject;
use scx_topology::Topology;
use std::mem::MaybeUninit;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A scheduler's own part of the process: configure the BPF side for a topology, then do the
/// periodic user-space work. Everything else is [`RunLoop`]'s.
pub trait Scheduler {
    /// The opened skeleton (see [`scx_ops_skel!`](crate::scx_ops_skel)).
    type Open<'obj>: OpenScxSkel<'obj, Output = Self::Loaded<'obj>>
    where
        Self: 'obj;
    /// The loaded skeleton.
    type Loaded<'obj>: ScxSkel<'obj>
    where
        Self: 'obj;
    /// What [`tick`](Scheduler::tick) reports (`()` for none).
    type Stats: Stats;

    /// Open the BPF object into `object` and configure it (rodata, map sizes) for `topo`.
    ///
    /// Called before every attach with a topology discovered for that attach, after the
    /// kernel's hotplug sequence was read: if a CPU comes or goes after this topology was
    /// read, the kernel refuses the attach and asks for a restart, and this runs again.
    fn open<'obj>(
        &mut self,
        topo: &Topology,
        object: &'obj mut MaybeUninit<OpenObject>,
    ) -> Result<Self::Open<'obj>>;

    /// After the BPF object is loaded, before it attaches: seed the maps that its first
    /// scheduling decisions read. The attach sends every task on the machine through the BPF
    /// side at once, the loader's own threads among them, so a map a task needs in order to be
    /// placed must hold its values by then: filled only after the attach, it is read empty by
    /// all of them (a task with nowhere to run stalls the attach itself until the kernel's
    /// watchdog ejects the scheduler).
    fn loaded(&mut self, _skel: &mut Self::Loaded<'_>, _topo: &Topology) -> Result<()> {
        Ok(())
    }

    /// Right after the scheduler attached (log what it runs with, start what needs it running).
    fn attached(&mut self, _skel: &mut Self::Loaded<'_>, _topo: &Topology) -> Result<()> {
        Ok(())
    }

    /// The periodic user-space work (balancing, reading counters), every
    /// [`RunLoop::tick_interval`]; returns the current stats, which the run loop serves and
    /// prints. An error detaches the scheduler and ends the run.
    fn tick(&mut self, skel: &mut Self::Loaded<'_>) -> Result<Self::Stats>;
}

/// Runs a [`Scheduler`]: preflight, the hotplug sequence read before the topology, open,
/// fitting the ops struct to the kernel, load, the scheduler's seeding of its maps, attach, the
/// periodic tick with its stats (served on the stats socket, printed with
/// [`print_stats`](RunLoop::print_stats)), SIGINT / SIGTERM, the exit report and its status,
/// and attaching again when the kernel asks for a restart.
///
/// ```no_run
/// # fn demo<S: scx_utils::Scheduler>(my_scheduler: S) -> anyhow::Result<()> {
/// let status = scx_utils::RunLoop::new("scx_example")
///     .print_stats(Some(std::time::Duration::from_secs(2)))
///     .run(my_scheduler)?;
/// std::process::exit(status);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RunLoop {
    name: String,
    version: String,
    ops: OpsOptions,
    tick: Duration,
    print_stats: Option<Duration>,
    stats_dir: Option<PathBuf>,
}

/// How often the loop checks for a stop request and the kernel's verdict.
const POLL: Duration = Duration::from_millis(100);

impl RunLoop {
    /// A run loop for the scheduler called `name` (its log prefix and stats socket name).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            version: String::new(),
            ops: OpsOptions::default(),
            tick: Duration::from_secs(1),
            print_stats: None,
            stats_dir: Some(PathBuf::from(STATS_DIR)),
        }
    }

    /// The scheduler's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version string served in the stats `info` reply.
    pub fn version(mut self, version: &str) -> Self {
        self.version = version.to_string();
        self
    }

    /// Ops flags and the exit-dump size (see [`OpsOptions`]).
    pub fn ops_options(mut self, ops: OpsOptions) -> Self {
        self.ops = ops;
        self
    }

    /// How often [`Scheduler::tick`] runs (default 1 s; at least 10 ms).
    pub fn tick_interval(mut self, every: Duration) -> Self {
        self.tick = every.max(Duration::from_millis(10));
        self
    }

    /// Print the stats as a table every so often (`--stats`); `None` (default) prints nothing.
    pub fn print_stats(mut self, every: Option<Duration>) -> Self {
        self.print_stats = every;
        self
    }

    /// Serve stats under `dir` instead of [`STATS_DIR`]; `None` serves none.
    pub fn stats_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.stats_dir = dir;
        self
    }

    /// Run `sched` until a stop is requested (SIGINT, SIGTERM) or the kernel ends it for good;
    /// returns the process exit status the kernel's verdict calls for (see
    /// [`ExitInfo::exit_status`]). Errors are setup errors (status 2 by convention; see
    /// [`exit_on_error`](crate::exit_on_error)).
    pub fn run<S: Scheduler>(self, mut sched: S) -> Result<i32> {
        crate::preflight()?;
        let shutdown = Shutdown::install()?;
        let server = match &self.stats_dir {
            Some(dir) => Some(StatsServer::start(
                dir,
                &self.name,
                &self.version,
                S::Stats::fields(),
            )?),
            None => None,
        };
        loop {
            let exit = self.attach_once(&mut sched, &shutdown, server.as_ref())?;
            exit.report(&self.name);
            if !exit.should_restart() || shutdown.requested() {
                return Ok(exit.exit_status());
            }
        }
    }

    fn attach_once<S: Scheduler>(
        &self,
        sched: &mut S,
        shutdown: &Shutdown,
        server: Option<&StatsServer>,
    ) -> Result<ExitInfo> {
        // Order matters: the sequence number first, then the topology the scheduler is built
        // from. A CPU coming or going in between makes the kernel refuse this attach with a
        // restart request rather than run with a stale topology.
        let hotplug_seq = sysfs::hotplug_seq().ok();
        let topo = Topology::discover().context("discovering the CPU topology")?;
        let mut object = MaybeUninit::uninit();
        let mut open = sched.open(&topo, &mut object)?;
        prepare_ops(&mut open, &self.ops, hotplug_seq)?;
        let mut skel = open
            .load()
            .context("loading the BPF scheduler failed (run with -v for the verifier log)")?;
        sched.loaded(&mut skel, &topo)?;
        let link = attach_ops(&mut skel)?;
        if let Some(s) = server {
            s.set_attached(true);
        }
        sched.attached(&mut skel, &topo)?;

        let mut table = Table::new(&self.name, S::Stats::fields());
        let mut next_tick = Instant::now();
        let mut next_print = self.print_stats.map(|p| Instant::now() + p);
        let result = loop {
            if shutdown.requested() || ExitInfo::has_exited(skel.uei_map()) {
                break Ok(());
            }
            let now = Instant::now();
            if now >= next_tick {
                next_tick = now + self.tick;
                let stats = match sched.tick(&mut skel) {
                    Ok(s) => s,
                    Err(e) => break Err(e),
                };
                let value = serde_json::to_value(&stats).context("serialising the stats")?;
                if let (Some(at), Some(every)) = (next_print, self.print_stats) {
                    if now >= at {
                        println!("{}", table.render(&value));
                        next_print = Some(now + every);
                    }
                }
                if let Some(s) = server {
                    s.publish(value);
                }
            }
            std::thread::sleep(POLL.min(next_tick.saturating_duration_since(Instant::now())));
        };
        drop(link);
        if let Some(s) = server {
            s.set_attached(false);
        }
        result?;
        ExitInfo::read(skel.uei_map())
    }
}

/// Print a setup error as `<name>: <error with causes>` and exit with status 2; pass a status
/// through.
pub fn exit_on_error(name: &str, result: Result<i32>) -> ! {
    match result {
        Ok(status) => std::process::exit(status),
        Err(e) => {
            log::error!("{name}: {e:#}");
            std::process::exit(2);
        }
    }
}
