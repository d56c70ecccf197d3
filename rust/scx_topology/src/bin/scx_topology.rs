//! Print the CPU topology as a tree, or as JSON with `--json`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use scx_topology::{SysfsRoot, Topology};

/// Print the CPU topology (NUMA node → LLC → core → CPU).
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Print JSON (stable schema, see the crate README) instead of a tree.
    #[arg(long)]
    json: bool,
    /// Read sysfs below this root instead of `/` (overrides SCX_SYSFS_ROOT).
    #[arg(long, value_name = "DIR")]
    sysfs_root: Option<PathBuf>,
}

fn size(s: Option<u64>) -> String {
    match s {
        Some(b) if b >= 1 << 20 && b % (1 << 20) == 0 => format!(" {}MiB", b >> 20),
        Some(b) if b >= 1 << 10 => format!(" {}KiB", b >> 10),
        Some(b) => format!(" {b}B"),
        None => String::new(),
    }
}

fn tree(t: &Topology) -> String {
    let mut o = String::new();
    o.push_str(&format!(
        "Machine: {} online CPUs ({}), possible {}, nr_cpu_ids {}, SMT {}\n",
        t.online_cpus().weight(),
        t.online_cpus(),
        t.possible_cpus(),
        t.nr_cpu_ids(),
        if t.smt_enabled() { "on" } else { "off" }
    ));
    if !t.isolated_cpus().is_empty() {
        o.push_str(&format!("  isolated: {}\n", t.isolated_cpus()));
    }
    if t.allowed_cpus() != t.online_cpus() {
        o.push_str(&format!("  allowed: {}\n", t.allowed_cpus()));
    }
    for n in t.nodes() {
        let dist: Vec<String> = n.distances.values().map(|d| d.to_string()).collect();
        o.push_str(&format!(
            "  Node {}: cpus {}{}{}\n",
            n.id,
            if n.cpus.is_empty() {
                "none".to_string()
            } else {
                n.cpus.to_string()
            },
            if n.has_memory { "" } else { " (no memory)" },
            if dist.is_empty() {
                String::new()
            } else {
                format!(" distances [{}]", dist.join(" "))
            }
        ));
        for &l in &n.llcs {
            let llc = &t.llcs()[l];
            let what = if llc.level == 0 {
                "core (no cache info)".to_string()
            } else {
                format!("L{}", llc.level)
            };
            o.push_str(&format!(
                "    LLC {} ({what}{}): cpus {}\n",
                llc.index,
                size(llc.size),
                llc.cpus
            ));
            for &c in &llc.cores {
                let core = &t.cores()[c];
                o.push_str(&format!(
                    "      Core {} (package {}, core_id {}, {} cap {}): cpus {}\n",
                    core.index,
                    core.package,
                    core.id.map_or("-".into(), |i| i.to_string()),
                    core.kind.as_str(),
                    core.capacity,
                    core.cpus
                ));
            }
        }
    }
    let offline: Vec<String> = t
        .cpus()
        .iter()
        .filter(|c| !c.online)
        .map(|c| c.id.to_string())
        .collect();
    if !offline.is_empty() {
        o.push_str(&format!("  offline: {}\n", offline.join(",")));
    }
    o
}

fn main() -> Result<()> {
    let args = Args::parse();
    let root = match args.sysfs_root {
        Some(p) => SysfsRoot::new(p),
        None => SysfsRoot::from_env(),
    };
    let t = Topology::from_sysfs_root(root)?;
    for w in t.warnings() {
        eprintln!("scx_topology: warning: {w}");
    }
    if args.json {
        println!("{}", t.to_json());
    } else {
        print!("{}", tree(&t));
    }
    Ok(())
}
