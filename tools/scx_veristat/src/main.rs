//! scx_veristat: what the verifier spends on each program of sched_ext BPF objects.
//!
//! `scx_veristat load OBJ...` (as root, on a sched_ext kernel) opens each `.bpf.o`, fits its
//! struct_ops map to the running kernel with `KernelBtf::fit_ops` (what `prepare_ops` does for a
//! skeleton, plus the kfunc-call check), loads it (the verifier
//! checks every program at load time; nothing is attached) and prints one tab-separated row per
//! program: kernel series, object, program, `verified_insns`, xlated instructions. An object that
//! does not load gets one row with `-` figures, and the exit status is 1. An object that loads
//! although `KernelBtf::kfunc_call_warnings` warned it would not is an error of that analysis:
//! its rows are left out and the exit status is 3.
//!
//! `scx_veristat compare --baseline FILE MEASURED...` (anywhere) compares rows with a committed
//! baseline and fails on growth or on nearing the verifier's limit (see `cost.rs`); `--update`
//! rewrites the baseline from the measurements instead.

mod cost;

use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand};
use cost::Row;
use libbpf_rs::{libbpf_sys, MapType, ObjectBuilder};
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    version,
    about = "Record the verifier's cost for each program of sched_ext BPF objects"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Load each object on the running kernel and print its programs' costs (needs root and a
    /// sched_ext kernel; nothing is attached).
    Load {
        /// Series to label the rows with; default: the running kernel's major.minor.
        #[arg(long)]
        series: Option<String>,
        /// Print libbpf's debug output (the verifier log of every program) too.
        #[arg(short, long)]
        verbose: bool,
        /// BPF objects (`.bpf.o`); each needs one struct_ops map.
        #[arg(required = true)]
        objects: Vec<PathBuf>,
    },
    /// Compare measured rows (files of `load` output; other lines are ignored) with a baseline.
    Compare {
        /// The committed baseline (tab-separated, as `load` prints).
        #[arg(long)]
        baseline: PathBuf,
        /// Write the measurements as the new baseline instead of comparing.
        #[arg(long)]
        update: bool,
        #[arg(required = true)]
        measured: Vec<PathBuf>,
    },
}

fn running_series() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .and_then(|r| {
            let mut it = r.trim().split(['.', '-', '+']);
            Some(format!("{}.{}", it.next()?, it.next()?))
        })
        .unwrap_or_else(|| "?".into())
}

fn object_name(path: &Path) -> String {
    let file = path.file_name().unwrap_or_default().to_string_lossy();
    file.strip_suffix(".bpf.o").unwrap_or(&file).to_string()
}

/// Load one object and measure its programs.
fn measure(path: &Path, series: &str) -> Result<Vec<Row>> {
    let elf: &'static [u8] = std::fs::read(path)
        .with_context(|| format!("reading {}", path.display()))?
        .leak();
    let mut open = ObjectBuilder::default()
        .name(object_name(path))
        .context("naming the object")?
        .open_memory(elf)
        .with_context(|| format!("opening {} (is it a BPF object?)", path.display()))?;
    let ops: Vec<String> = open
        .maps()
        .filter(|m| m.map_type() == MapType::StructOps)
        .map(|m| m.name().to_string_lossy().into_owned())
        .collect();
    let [ops] = ops.as_slice() else {
        return Err(anyhow!(
            "{} has {} struct_ops maps; scx_veristat loads objects with exactly one \
             (SCX_OPS_DEFINE)",
            path.display(),
            ops.len()
        ));
    };
    let kernel = scx_utils::KernelBtf::load()?;
    let opts = scx_utils::OpsOptions::default();
    let hotplug_seq = scx_utils::sysfs::hotplug_seq().ok();
    for w in kernel.fit_ops(&mut open, ops, &opts, hotplug_seq, None)? {
        log::warn!("{}: {w}", path.display());
    }
    let warnings = kernel.kfunc_call_warnings(elf)?;
    for w in &warnings {
        log::warn!("{}: {w}", path.display());
    }
    let obj = open.load().with_context(|| {
        format!(
            "loading {}: the verifier or libbpf refused it (its log is above; -v shows every \
             program's log)",
            path.display()
        )
    })?;
    let mut rows = Vec::new();
    for prog in obj.progs() {
        let fd = prog.as_fd().as_raw_fd();
        if fd < 0 {
            continue; // not loaded (autoload off, e.g. a callback this kernel lacks)
        }
        let mut info = libbpf_sys::bpf_prog_info::default();
        let mut len = std::mem::size_of_val(&info) as u32;
        // SAFETY: fd is a loaded program; info and len describe a writable buffer.
        let ret = unsafe { libbpf_sys::bpf_prog_get_info_by_fd(fd, &mut info, &mut len) };
        if ret != 0 {
            return Err(anyhow!(
                "reading the info of program {} in {}: {}",
                prog.name().to_string_lossy(),
                path.display(),
                std::io::Error::from_raw_os_error(-ret)
            ));
        }
        rows.push(Row {
            series: series.into(),
            object: object_name(path),
            program: prog.name().to_string_lossy().into_owned(),
            verified: Some(info.verified_insns.into()),
            xlated: Some(u64::from(info.xlated_prog_len) / 8),
        });
    }
    if !warnings.is_empty() {
        // The warnings said this load would fail; it did not, so the guard analysis is wrong
        // about this object (e.g. the check's result went through the stack).
        return Err(MispredictedLoad(path.display().to_string()).into());
    }
    Ok(rows)
}

/// The object loaded although `kfunc_call_warnings` said it would not.
#[derive(Debug)]
struct MispredictedLoad(String);

impl std::fmt::Display for MispredictedLoad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} loaded although the kfunc warnings above said it would not: the guard analysis \
             (scx_utils kernel_btf::kfunc_calls) is wrong about it; fix the analysis or write the \
             guard so that it is followed (a bpf_ksym_exists() test right before the call)",
            self.0
        )
    }
}

impl std::error::Error for MispredictedLoad {}

fn load(series: Option<String>, objects: &[PathBuf]) -> Result<i32> {
    let series = series.unwrap_or_else(running_series);
    let mut status = 0;
    println!("{}", cost::HEADER);
    for path in objects {
        match measure(path, &series) {
            Ok(rows) => rows.iter().for_each(|r| println!("{}", r.to_tsv())),
            Err(e) if e.is::<MispredictedLoad>() => {
                log::error!("{e:#}");
                status = 3;
            }
            Err(e) => {
                log::error!("{e:#}");
                status = status.max(1);
                let failed = Row {
                    series: series.clone(),
                    object: object_name(path),
                    program: "*".into(),
                    verified: None,
                    xlated: None,
                };
                println!("{}", failed.to_tsv());
            }
        }
    }
    Ok(status)
}

fn compare(baseline: &Path, update: bool, measured: &[PathBuf]) -> Result<i32> {
    let mut rows = Vec::new();
    for m in measured {
        let text =
            std::fs::read_to_string(m).with_context(|| format!("reading {}", m.display()))?;
        rows.extend(cost::parse(&text, true)?);
    }
    if rows.is_empty() {
        return Err(anyhow!(
            "no measurements in {}: did the guest run `scx_veristat load`?",
            measured
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if update {
        if rows.iter().any(|r| r.verified.is_none()) {
            return Err(anyhow!(
                "refusing to write a baseline with objects that did not load"
            ));
        }
        let mut text = format!(
            "# Verifier cost per program, measured by tests/verifier-cost/run.sh --update.\n{}\n",
            cost::HEADER
        );
        for r in &rows {
            text.push_str(&r.to_tsv());
            text.push('\n');
        }
        std::fs::write(baseline, text)
            .with_context(|| format!("writing {}", baseline.display()))?;
        println!("wrote {} rows to {}", rows.len(), baseline.display());
        return Ok(0);
    }
    let text = std::fs::read_to_string(baseline).with_context(|| {
        format!(
            "reading the baseline {} (tests/verifier-cost/run.sh --update writes it)",
            baseline.display()
        )
    })?;
    let verdict = cost::compare(&rows, &cost::parse(&text, false)?);
    print!("{}", verdict.table);
    for n in &verdict.notes {
        println!("note: {n}");
    }
    for f in &verdict.failures {
        println!("FAIL: {f}");
    }
    Ok(if verdict.failures.is_empty() { 0 } else { 1 })
}

fn main() {
    // Warnings and errors only (libbpf's info lines about members an older kernel lacks are
    // noise here); -v shows everything, the verifier logs included.
    let cli = Cli::parse();
    let verbose = matches!(cli.cmd, Cmd::Load { verbose: true, .. });
    scx_utils::init_logging(verbose);
    if !verbose {
        log::set_max_level(log::LevelFilter::Warn);
    }
    let res = match cli.cmd {
        Cmd::Load {
            series, objects, ..
        } => load(series, &objects),
        Cmd::Compare {
            baseline,
            update,
            measured,
        } => compare(&baseline, update, &measured),
    };
    match res {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("scx_veristat: {e:#}");
            std::process::exit(2);
        }
    }
}
