//! scx_layered: a sched_ext scheduler configured in JSON. An admin sorts tasks into layers; each
//! layer says which CPUs its tasks may use, how much it gets when layers contend, and whether its
//! tasks preempt others on wake-up.
//!
//! The policy (matching, placement, order, preemption) is in `bpf/main.bpf.c`; this side parses
//! and validates the config (`config.rs`), resizes and places layers every interval (`alloc.rs`),
//! keeps the cgroup table the BPF side matches against, and serves per-layer stats (`stats.rs`).

scx_utils::include_generated!(mod bpf_skel = "bpf_skel.rs");
scx_utils::include_generated!(mod bpf_intf = "bpf_intf.rs");
mod alloc;
mod config;
mod stats;

use anyhow::{Context, Result};
use bpf_skel::{BpfSkel, BpfSkelBuilder, OpenBpfSkel};
use clap::Parser;
use config::{KindName, Layer, Matcher};
use libbpf_rs::skel::SkelBuilder;
use libbpf_rs::OpenObject;
use libbpf_rs::{MapCore, MapFlags};
use log::info;
use scx_topology::Topology;
use scx_utils::{EnqFlag, KernelBtf, OpsFlag, OpsOptions, RunLoop, Scheduler};
use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

scx_utils::scx_ops_skel!(OpenBpfSkel<'obj>, BpfSkel<'obj>, layered_ops);

const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("SCX_GIT_REV"), ")");

const NO_OWNER: u32 = bpf_intf::layered_consts_NO_OWNER;
const MAX_CPUS: usize = bpf_intf::layered_consts_MAX_CPUS as usize;
const MAX_LLCS: usize = bpf_intf::layered_consts_MAX_LLCS as usize;
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// A sched_ext scheduler configured in JSON: tasks are sorted into layers (the first whose
/// matches they satisfy), and each layer owns CPUs (Confined, Grouped) or shares the rest
/// (Open), with its own slice, weight and preemption. `--example` prints a commented config.
///
/// Exit status: 0 when stopped by a signal or an orderly unregister (or --check/--example
/// succeeded), 1 when the kernel ended the scheduler with an error, 2 on a bad config, usage or
/// setup error (the running scheduler, if any, is left untouched).
#[derive(Debug, Parser)]
#[command(version = VERSION)]
struct Opts {
    /// Layer configs: a JSON file path, f:PATH, or inline JSON. Several concatenate their layers.
    #[arg(value_name = "CONFIG")]
    configs: Vec<String>,

    /// Print a complete, commented example config and exit.
    #[arg(long)]
    example: bool,

    /// Validate the configs and print the resolved layers; do not attach.
    #[arg(long)]
    check: bool,

    /// Default time slice in microseconds (layers may set their own slice_us).
    #[arg(short = 's', long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    slice_us: u64,

    /// Milliseconds between layer resizes (and cgroup table refreshes).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(10..=10_000))]
    interval_ms: u64,

    #[command(flatten)]
    run: scx_utils::cli::RunArgs,
}

struct Layered {
    opts: Opts,
    layers: Vec<Layer>,
    topo: Option<alloc::Topo>,
    shapes: Vec<alloc::LayerShape>,
    sizer: alloc::Sizer,
    owner: Vec<Option<usize>>,
    /// Cgroup matchers in bit order.
    cg_matchers: Vec<Matcher>,
    cg_table: HashMap<u64, u64>,
    prev: Vec<bpf_intf::layer_stat>,
    prev_at: Instant,
    resizes: u64,
    started: Instant,
}

/// A matcher as the BPF side reads it (`struct layer_match`).
#[derive(Debug, Default)]
struct BpfMatch {
    kind: u32,
    a: i64,
    b: i64,
    str_: [i8; 16],
}

fn copy_str(dst: &mut [i8; 16], s: &str) {
    for (d, b) in dst.iter_mut().zip(s.bytes()) {
        *d = b as i8;
    }
}

/// The BPF form of a matcher; cgroup matchers take the next bit.
fn bpf_match(m: &Matcher, next_cg_bit: &mut i64) -> BpfMatch {
    let mut out = BpfMatch::default();
    let (kind, a, b) = match m {
        Matcher::CgroupPrefix(_) | Matcher::CgroupSuffix(_) | Matcher::CgroupContains(_) => {
            let bit = *next_cg_bit;
            *next_cg_bit += 1;
            (bpf_intf::match_kind_MATCH_CGROUP, bit, 0)
        }
        Matcher::CommPrefix(s) => {
            copy_str(&mut out.str_, s);
            (bpf_intf::match_kind_MATCH_COMM_PREFIX, s.len() as i64, 0)
        }
        Matcher::PcommPrefix(s) => {
            copy_str(&mut out.str_, s);
            (bpf_intf::match_kind_MATCH_PCOMM_PREFIX, s.len() as i64, 0)
        }
        Matcher::NiceAbove(n) => (bpf_intf::match_kind_MATCH_NICE_ABOVE, *n as i64, 0),
        Matcher::NiceBelow(n) => (bpf_intf::match_kind_MATCH_NICE_BELOW, *n as i64, 0),
        Matcher::NiceEquals(n) => (bpf_intf::match_kind_MATCH_NICE_EQUALS, *n as i64, 0),
        Matcher::UIDEquals(n) => (bpf_intf::match_kind_MATCH_UID_EQUALS, *n as i64, 0),
        Matcher::GIDEquals(n) => (bpf_intf::match_kind_MATCH_GID_EQUALS, *n as i64, 0),
        Matcher::PIDEquals(n) => (bpf_intf::match_kind_MATCH_PID_EQUALS, *n as i64, 0),
        Matcher::PPIDEquals(n) => (bpf_intf::match_kind_MATCH_PPID_EQUALS, *n as i64, 0),
        Matcher::TGIDEquals(n) => (bpf_intf::match_kind_MATCH_TGID_EQUALS, *n as i64, 0),
        Matcher::IsGroupLeader(v) => (bpf_intf::match_kind_MATCH_IS_GROUP_LEADER, *v as i64, 0),
        Matcher::IsKthread(v) => (bpf_intf::match_kind_MATCH_IS_KTHREAD, *v as i64, 0),
        Matcher::AvgRuntime(lo, hi) => (
            bpf_intf::match_kind_MATCH_AVG_RUNTIME,
            (*lo * 1000) as i64,
            (*hi * 1000).min(i64::MAX as u64) as i64,
        ),
    };
    out.kind = kind;
    out.a = a;
    out.b = b;
    out
}

fn alloc_topo(topo: &Topology) -> alloc::Topo {
    let mut cpu_core = vec![None; topo.nr_cpu_ids()];
    let cores = topo
        .cores()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            for cpu in c.cpus.iter() {
                if cpu < cpu_core.len() {
                    cpu_core[cpu] = Some(i);
                }
            }
            alloc::CoreInfo {
                cpus: c.cpus.to_vec(),
                llc: c.llc,
                node: c.node,
            }
        })
        .collect();
    alloc::Topo { cores, cpu_core }
}

/// Whether a layer may run on unowned CPUs: then one CPU always stays unowned.
fn reserve(layers: &[Layer]) -> usize {
    usize::from(layers.iter().any(|l| l.kind.name != KindName::Confined))
}

impl Scheduler for Layered {
    type Open<'obj> = OpenBpfSkel<'obj>;
    type Loaded<'obj> = BpfSkel<'obj>;
    type Stats = stats::LayeredStats;

    fn open<'obj>(
        &mut self,
        topo: &Topology,
        object: &'obj mut MaybeUninit<OpenObject>,
    ) -> Result<OpenBpfSkel<'obj>> {
        let nr_cpus = topo.online_cpus().weight();
        config::check_fits(&self.layers, nr_cpus)?;
        if topo.nr_cpu_ids() > MAX_CPUS {
            anyhow::bail!(
                "this machine has {} possible CPU ids; scx_layered supports up to {MAX_CPUS}",
                topo.nr_cpu_ids()
            );
        }
        if topo.llcs().len() > MAX_LLCS {
            anyhow::bail!(
                "this machine has {} LLCs; scx_layered supports up to {MAX_LLCS}",
                topo.llcs().len()
            );
        }
        let mut skel = BpfSkelBuilder::default()
            .open(object)
            .context("opening the BPF object")?;
        let ro = skel
            .maps
            .rodata_data
            .as_deref_mut()
            .expect("the BPF side has read-only data");
        ro.nr_cpu_ids = topo.nr_cpu_ids() as u32;
        ro.nr_cpus = nr_cpus as u32;
        ro.nr_llcs = topo.llcs().len().max(1) as u32;
        ro.nr_layers = self.layers.len() as u32;
        ro.slice_ns = self.opts.slice_us * 1000;
        let btf = KernelBtf::load()?;
        ro.enq_preempt_flag = EnqFlag::Preempt.value_in(&btf).unwrap_or(0);
        ro.enq_last_flag = EnqFlag::Last.value_in(&btf).unwrap_or(0);
        for (i, llc) in topo.llcs().iter().enumerate() {
            for cpu in llc.cpus.iter() {
                if cpu < MAX_CPUS {
                    ro.cpu_llc[cpu] = i as u32;
                }
            }
        }
        let mut bit = 0;
        for (spec, l) in ro.layers.iter_mut().zip(&self.layers) {
            spec.kind = match l.kind.name {
                KindName::Confined => bpf_intf::layer_kind_KIND_CONFINED,
                KindName::Grouped => bpf_intf::layer_kind_KIND_GROUPED,
                KindName::Open => bpf_intf::layer_kind_KIND_OPEN,
            };
            spec.preempt = l.kind.preempt.into();
            spec.exclusive = l.kind.exclusive.into();
            spec.slice_ns = l.kind.slice_us * 1000;
            spec.weight = l.kind.weight;
            spec.nr_or = l.matches.len() as u32;
            for (o, group) in spec.ors.iter_mut().zip(&l.matches) {
                o.nr = group.len() as u32;
                for (m, src) in o.m.iter_mut().zip(group) {
                    let b = bpf_match(src, &mut bit);
                    m.kind = b.kind;
                    m.a = b.a;
                    m.b = b.b;
                    m.str = b.str_;
                }
            }
        }
        self.topo = Some(alloc_topo(topo));
        Ok(skel)
    }

    /// The first allocation and the cgroup table go in before the attach: a Confined layer's
    /// tasks may run nowhere else, and when that layer is the catch-all (the loader's own
    /// threads in it) an attach with no CPUs owned yet stalled until the watchdog ejected it.
    fn loaded(&mut self, skel: &mut BpfSkel<'_>, topo: &Topology) -> Result<()> {
        self.sizer = alloc::Sizer::new(self.layers.len());
        self.owner = vec![None; topo.nr_cpu_ids()];
        self.cg_table.clear();
        self.prev = vec![bpf_intf::layer_stat::default(); self.layers.len()];
        self.prev_at = Instant::now();
        self.started = Instant::now();
        // The map starts zeroed ("layer 0 owns everything"): say "no owner" first.
        for cpu in 0..topo.nr_cpu_ids() as u32 {
            skel.maps
                .cpu_owner
                .update(&cpu.to_ne_bytes(), &NO_OWNER.to_ne_bytes(), MapFlags::ANY)
                .context("writing cpu_owner")?;
        }
        if let Some(bss) = skel.maps.bss_data.as_deref_mut() {
            bss.alloc_gen += 1;
        }
        let mins: Vec<usize> = self.shapes.iter().map(|s| s.cpus_range.0).collect();
        self.apply(skel, &mins, &vec![0.0; self.layers.len()])?;
        self.refresh_cgroups(skel)?;
        Ok(())
    }

    fn attached(&mut self, _skel: &mut BpfSkel<'_>, topo: &Topology) -> Result<()> {
        info!(
            "scx_layered: attached: {} layer(s) over {} online CPU(s)",
            self.layers.len(),
            topo.online_cpus().weight()
        );
        Ok(())
    }

    fn tick(&mut self, skel: &mut BpfSkel<'_>) -> Result<stats::LayeredStats> {
        let now: Vec<bpf_intf::layer_stat> = (0..self.layers.len())
            .map(|l| read_stat(&skel.maps.layer_stats, l))
            .collect::<Result<_>>()?;
        let secs = self.prev_at.elapsed().as_secs_f64().max(1e-3);
        let util: Vec<f64> = now
            .iter()
            .zip(&self.prev)
            .map(|(n, p)| n.runtime_ns.saturating_sub(p.runtime_ns) as f64 / 1e9 / secs)
            .collect();
        let cur: Vec<usize> = (0..self.layers.len()).map(|l| self.owned(l)).collect();
        let online = self.topo.as_ref().map_or(0, |t| t.nr_cpus()) as f64;
        let cap: Vec<f64> = self
            .shapes
            .iter()
            .zip(&cur)
            .map(|(s, n)| if s.confined { *n as f64 } else { online })
            .collect();
        self.sizer.observe(&util, &cap);
        let targets = self.sizer.targets(&self.shapes, &cur);
        if targets != cur {
            let smoothed = self.sizer.util.clone();
            self.apply(skel, &targets, &smoothed)?;
        }
        self.refresh_cgroups(skel)?;

        let mut out = stats::LayeredStats::default();
        for (l, layer) in self.layers.iter().enumerate() {
            let (n, p) = (&now[l], &self.prev[l]);
            let waits = n.nr_waits.saturating_sub(p.nr_waits);
            let cpus: Vec<usize> = (0..self.owner.len())
                .filter(|c| self.owner[*c] == Some(l))
                .collect();
            out.layer_util
                .insert(layer.name.clone(), (util[l] * 100.0).round() / 100.0);
            out.layer_cpus.insert(layer.name.clone(), cpus.len() as u64);
            out.layer_tasks.insert(layer.name.clone(), n.nr_tasks);
            out.layer_preempts.insert(layer.name.clone(), n.preempts);
            out.layers.insert(
                format!("{l:02}-{}", layer.name),
                stats::LayerRow {
                    tasks: n.nr_tasks,
                    util: (util[l] * 100.0).round() / 100.0,
                    cpus: cpus.len() as u64,
                    cpulist: if cpus.is_empty() {
                        "-".into()
                    } else {
                        scx_topology::Cpumask::from_cpus(cpus).to_cpulist()
                    },
                    preempts: n.preempts,
                    wait_us: if waits == 0 {
                        0.0
                    } else {
                        (n.wait_ns.saturating_sub(p.wait_ns) as f64 / waits as f64 / 1e3 * 10.0)
                            .round()
                            / 10.0
                    },
                    affn_viol: n.affn_viol,
                },
            );
        }
        out.unowned_cpus =
            (online as usize).saturating_sub(self.owner.iter().flatten().count()) as u64;
        out.resizes = self.resizes;
        self.prev = now;
        self.prev_at = Instant::now();
        Ok(out)
    }
}

fn read_stat(map: &dyn MapCore, l: usize) -> Result<bpf_intf::layer_stat> {
    let bytes = map
        .lookup(&(l as u32).to_ne_bytes(), MapFlags::ANY)
        .context("reading the layer stats map")?
        .unwrap_or_default();
    if bytes.len() < std::mem::size_of::<bpf_intf::layer_stat>() {
        return Ok(bpf_intf::layer_stat::default());
    }
    // SAFETY: the value is a struct layer_stat of plain integers.
    Ok(unsafe { std::ptr::read_unaligned(bytes.as_ptr() as *const bpf_intf::layer_stat) })
}

impl Layered {
    fn owned(&self, l: usize) -> usize {
        self.owner.iter().filter(|o| **o == Some(l)).count()
    }

    /// Place `targets`, write the owners the BPF side reads and tell it, log what changed.
    fn apply(&mut self, skel: &mut BpfSkel<'_>, targets: &[usize], util: &[f64]) -> Result<()> {
        let topo = self.topo.as_ref().expect("open ran before attach");
        let new = alloc::place(
            topo,
            &self.shapes,
            &self.owner,
            targets,
            reserve(&self.layers),
        );
        if new == self.owner {
            return Ok(());
        }
        for (cpu, o) in new.iter().enumerate() {
            let v = o.map_or(NO_OWNER, |l| l as u32);
            skel.maps
                .cpu_owner
                .update(&(cpu as u32).to_ne_bytes(), &v.to_ne_bytes(), MapFlags::ANY)
                .context("writing cpu_owner")?;
        }
        let secs = self.started.elapsed().as_secs_f64();
        for (l, layer) in self.layers.iter().enumerate() {
            if !self.shapes[l].owns {
                continue;
            }
            let before = self.owner.iter().filter(|o| **o == Some(l)).count();
            let cpus: Vec<usize> = (0..new.len()).filter(|c| new[*c] == Some(l)).collect();
            if before != cpus.len() || self.resizes == 0 {
                info!(
                    "scx_layered: alloc t={secs:.1}s layer {} cpus {} -> {} ({}) util {:.2}",
                    layer.name,
                    before,
                    cpus.len(),
                    scx_topology::Cpumask::from_cpus(cpus.iter().copied()).to_cpulist(),
                    util.get(l).copied().unwrap_or(0.0)
                );
            }
        }
        self.owner = new;
        self.resizes += 1;
        let bss = skel
            .maps
            .bss_data
            .as_deref_mut()
            .expect("the BPF side has a bss");
        bss.alloc_gen += 1;
        Ok(())
    }

    /// Evaluate the cgroup matchers on every cgroup and update the table the BPF side reads.
    fn refresh_cgroups(&mut self, skel: &mut BpfSkel<'_>) -> Result<()> {
        if self.cg_matchers.is_empty() {
            return Ok(());
        }
        let mut table = HashMap::new();
        walk_cgroups(
            Path::new(CGROUP_ROOT),
            "/",
            &self.cg_matchers,
            &mut table,
            0,
        );
        let mut changed = false;
        for (id, bits) in &table {
            if self.cg_table.get(id) != Some(bits) {
                skel.maps
                    .cgroup_bits
                    .update(&id.to_ne_bytes(), &bits.to_ne_bytes(), MapFlags::ANY)
                    .context("writing cgroup_bits")?;
                changed = true;
            }
        }
        for id in self.cg_table.keys() {
            if !table.contains_key(id) {
                let _ = skel.maps.cgroup_bits.delete(&id.to_ne_bytes());
                changed = true;
            }
        }
        self.cg_table = table;
        if changed {
            let bss = skel
                .maps
                .bss_data
                .as_deref_mut()
                .expect("the BPF side has a bss");
            bss.cgroup_gen += 1;
        }
        Ok(())
    }
}

/// Record the match bits of `dir` (cgroup path `path`) and its descendants; only cgroups that
/// match something are recorded (a missing entry means no bit set).
fn walk_cgroups(dir: &Path, path: &str, ms: &[Matcher], out: &mut HashMap<u64, u64>, depth: u32) {
    if depth > 64 || out.len() >= 65536 {
        return;
    }
    let Ok(meta) = std::fs::metadata(dir) else {
        return;
    };
    let bits = ms
        .iter()
        .enumerate()
        .filter(|(_, m)| config::cgroup_matches(m, path))
        .fold(0u64, |b, (i, _)| b | (1 << i));
    if bits != 0 {
        out.insert(meta.ino(), bits);
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let child = if path == "/" {
                format!("/{name}")
            } else {
                format!("{path}/{name}")
            };
            walk_cgroups(&e.path(), &child, ms, out, depth + 1);
        }
    }
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("scx_layered: {msg}");
    std::process::exit(2);
}

fn main() {
    let opts = Opts::parse();
    if opts.example {
        print!("{}", config::EXAMPLE);
        std::process::exit(0);
    }
    let layers = if opts.run.monitor.is_some() {
        Vec::new()
    } else {
        // Without a config, say first whether this machine could run one at all (not root, no
        // sched_ext, another scheduler attached): that is what a caller probing it needs.
        if opts.configs.is_empty() && !opts.check {
            if let Err(e) = scx_utils::preflight() {
                fail(format!("{e:#}"));
            }
        }
        let layers = config::load(&opts.configs).unwrap_or_else(|e| fail(e));
        // Checked against this machine before anything is loaded (again at each attach).
        match Topology::discover() {
            Ok(t) => {
                if let Err(e) = config::check_fits(&layers, t.online_cpus().weight()) {
                    // --check may run on a CI machine smaller than the target: only warn.
                    if !opts.check {
                        fail(e);
                    }
                    eprintln!("scx_layered: warning: {e}");
                }
            }
            Err(e) if !opts.check => fail(format!("reading the CPU topology: {e:#}")),
            Err(_) => {}
        }
        if opts.check {
            print!("{}", config::describe(&layers, opts.slice_us));
            println!("config OK: {} layer(s)", layers.len());
            std::process::exit(0);
        }
        layers
    };
    let shapes = layers
        .iter()
        .map(|l| alloc::LayerShape {
            owns: l.kind.name != KindName::Open,
            confined: l.kind.name == KindName::Confined,
            cpus_range: l.kind.cpus_range,
            util_range: l.kind.util_range,
            exclusive: l.kind.exclusive,
            weight: l.kind.weight,
        })
        .collect();
    let cg_matchers = config::cgroup_matchers(&layers)
        .into_iter()
        .map(|(_, _, _, m)| m.clone())
        .collect();
    let ops = OpsOptions {
        set_flags: vec![OpsFlag::EnqLast],
        ..Default::default()
    };
    let run = opts.run.clone();
    let interval = Duration::from_millis(opts.interval_ms);
    run.main(
        RunLoop::new("scx_layered")
            .version(VERSION)
            .tick_interval(interval),
        ops,
        move || {
            Ok(Layered {
                opts,
                sizer: alloc::Sizer::new(layers.len()),
                layers,
                topo: None,
                shapes,
                owner: Vec::new(),
                cg_matchers,
                cg_table: HashMap::new(),
                prev: Vec::new(),
                prev_at: Instant::now(),
                resizes: 0,
                started: Instant::now(),
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_passes_check_and_converts() {
        let layers = config::load(&[config::EXAMPLE.to_string()]).unwrap();
        let mut bit = 0;
        let mut kinds = std::collections::BTreeMap::new();
        for l in &layers {
            for g in &l.matches {
                for m in g {
                    let b = bpf_match(m, &mut bit);
                    kinds.insert(b.kind, ());
                }
            }
        }
        assert_eq!(bit as usize, config::cgroup_matchers(&layers).len());
        assert_eq!(
            kinds.len(),
            14,
            "every BPF matcher kind is used by the example"
        );
    }
}
