//! The command-line flags every scheduler shares (feature `cli`): flatten [`RunArgs`] into the
//! scheduler's clap parser and hand the run to [`RunArgs::main`].

use crate::stats::monitor;
use crate::{OpsOptions, RunLoop, Scheduler};
use std::time::Duration;

fn positive_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() && v <= 86400.0 => Ok(v),
        _ => Err(format!(
            "'{s}' is not a number of seconds between 0 and 86400"
        )),
    }
}

/// `--stats`, `--monitor`, `--json`, `--exit-dump-len` and `-v`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Print stats every SECS seconds while scheduling.
    #[arg(long, value_name = "SECS", value_parser = positive_secs)]
    pub stats: Option<f64>,

    /// Do not schedule: print the stats of the instance that is running every SECS seconds
    /// (read from its stats socket; exits when it stops).
    #[arg(long, value_name = "SECS", value_parser = positive_secs, conflicts_with = "stats")]
    pub monitor: Option<f64>,

    /// With --monitor: print one JSON object a line instead of a table.
    #[arg(long, requires = "monitor")]
    pub json: bool,

    /// Bytes of the kernel's debug dump to keep when the scheduler fails (at most 32768, the
    /// capacity of the exit report).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1..=32768))]
    pub exit_dump_len: Option<u32>,

    /// Print debug output, libbpf's (with the verifier log) included.
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

impl RunArgs {
    /// Set up logging, then either monitor the running instance (`--monitor`) or run `sched`
    /// with `run` (given `--stats` and `--exit-dump-len`), and exit with the resulting status:
    /// the kernel's verdict, 1 when `--monitor` finds nothing to read, 2 on setup errors. `sched`
    /// is only built when it will run.
    pub fn main<S: Scheduler>(
        &self,
        run: RunLoop,
        mut ops: OpsOptions,
        sched: impl FnOnce() -> anyhow::Result<S>,
    ) -> ! {
        crate::init_logging(self.verbose);
        let name = run.name().to_string();
        if let Some(secs) = self.monitor {
            match monitor(&name, Duration::from_secs_f64(secs), self.json) {
                Ok(()) => std::process::exit(0),
                Err(e) => {
                    log::error!("{name}: {e:#}");
                    std::process::exit(1);
                }
            }
        }
        if self.exit_dump_len.is_some() {
            ops.exit_dump_len = self.exit_dump_len;
        }
        let run = run
            .ops_options(ops)
            .print_stats(self.stats.map(Duration::from_secs_f64));
        crate::exit_on_error(&name, sched().and_then(|s| run.run(s)))
    }
}
