//! scxstats: print the stats of the running scx-toolkit schedulers, read from their stats
//! sockets (`/run/scx/<scheduler>/stats`, see `scx_utils::stats` for the protocol).
//!
//! Exit status: 0 on success, 1 when no scheduler (or not the one asked for) is running.

use anyhow::{bail, Result};
use clap::Parser;
use scx_utils::stats::{list_running, openmetrics, StatsClient, Table, STATS_DIR};
use serde_json::json;
use std::path::PathBuf;

/// Print the stats of the running sched_ext schedulers of this project: a table by default.
#[derive(Debug, Parser)]
#[command(version)]
struct Opts {
    /// One JSON object a line: {"scheduler": NAME, "info": {...}, "stats": {...}}.
    #[arg(long, conflicts_with = "openmetrics")]
    json: bool,

    /// OpenMetrics text exposition (Prometheus): one counter or gauge per field, HELP from the
    /// field's description.
    #[arg(long)]
    openmetrics: bool,

    /// Only this scheduler (e.g. scx_rusty); default: every one that is running.
    #[arg(short = 's', long, value_name = "NAME")]
    sched: Option<String>,

    /// Where the sockets are.
    #[arg(long, value_name = "DIR", default_value = STATS_DIR, hide = true)]
    dir: PathBuf,
}

fn run(opts: &Opts) -> Result<()> {
    let names = match &opts.sched {
        Some(n) => vec![n.clone()],
        None => list_running(&opts.dir),
    };
    if names.is_empty() {
        bail!(
            "no scheduler of this project is running (no live stats socket under {})",
            opts.dir.display()
        );
    }
    let mut om = String::new();
    for name in &names {
        let mut c = StatsClient::connect(&opts.dir, name)?;
        let meta = c.meta()?;
        let stats = c.stats()?;
        if opts.openmetrics {
            om.push_str(&openmetrics(name, &meta, &stats));
        } else if opts.json {
            let info = c.info()?;
            println!(
                "{}",
                json!({"scheduler": name, "info": info, "stats": stats})
            );
        } else if stats.is_null() {
            println!("{name}: no stats yet (it attached less than a tick ago)");
        } else {
            println!("{}", Table::new(name, meta).render(&stats));
        }
    }
    if opts.openmetrics {
        println!("{om}# EOF");
    }
    Ok(())
}

fn main() {
    let opts = Opts::parse();
    scx_utils::init_logging(false);
    if let Err(e) = run(&opts) {
        log::error!("scxstats: {e:#}");
        std::process::exit(1);
    }
}
