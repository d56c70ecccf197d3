//! Test support: a fake-sysfs generator and the hwloc oracle.
//!
//! [`Machine`] describes CPUs by group keys (which CPUs share a core, a
//! cluster, a die, a package, a cache) and writes the files the kernel
//! writes for them, in both hex-word and cpulist forms, below a root that
//! `Topology::from_root` and `HWLOC_FSROOT` can both read.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use scx_topology::{Cpumask, Topology};

/// A cache as one CPU sees it; CPUs with equal `key` at the same level share it.
#[derive(Clone, Debug)]
pub struct Cache {
    pub level: u8,
    pub ty: &'static str,
    pub size_kb: u64,
    pub id: Option<u64>,
    pub key: usize,
}

/// One CPU of the fake machine.
#[derive(Clone, Debug)]
pub struct FakeCpu {
    pub id: usize,
    pub present: bool,
    pub online: bool,
    pub package_id: i64,
    pub die_id: Option<i64>,
    pub cluster_id: Option<i64>,
    pub core_id: i64,
    pub pkg_key: usize,
    pub die_key: Option<usize>,
    pub cluster_key: Option<usize>,
    pub core_key: usize,
    pub caches: Vec<Cache>,
    pub capacity: Option<u32>,
    pub max_freq: Option<u64>,
    pub node: Option<usize>,
}

/// A NUMA node of the fake machine.
#[derive(Clone, Debug)]
pub struct FakeNode {
    pub id: usize,
    pub has_memory: bool,
}

/// A fake machine and how to write it.
#[derive(Clone, Debug)]
pub struct Machine {
    pub name: String,
    pub cpus: Vec<FakeCpu>,
    /// `None`: no `sys/devices/system/node` at all.
    pub nodes: Option<Vec<FakeNode>>,
    /// Highest possible CPU + 1 (never-present CPUs beyond the listed ones).
    pub nr_possible: usize,
    /// Write `possible`, `present`, `online`, `offline` at the cpu root.
    pub root_files: bool,
    /// Only `thread_siblings` / `core_siblings` (hex), no `*_list`, no
    /// `core_cpus` / `package_cpus`.
    pub old_names: bool,
    /// `smt/control` value; `None`: no smt dir.
    pub smt_control: Option<&'static str>,
    /// Intel hybrid PMU cpu lists (P, E).
    pub hybrid: Option<(Vec<usize>, Vec<usize>)>,
    /// Write cache `id` files.
    pub cache_ids: bool,
}

/// A regular layout.
#[derive(Clone, Debug)]
pub struct Layout {
    pub packages: usize,
    /// Dies per package; 0 means no die files.
    pub dies: usize,
    /// L3 domains per die (or per package without dies); 0 means no L3.
    pub llcs: usize,
    /// Clusters per L3 domain; 0 means no cluster files.
    pub clusters: usize,
    /// Cores per cluster (or per L3 domain).
    pub cores: usize,
    pub threads: usize,
    /// NUMA nodes per package; 0 means no node dir.
    pub nodes_per_package: usize,
    /// Intel-style numbering: thread t of core k is `t * ncores + k`.
    pub interleave: bool,
    /// L2 shared by a cluster instead of per core.
    pub l2_per_cluster: bool,
    pub l3_kb: u64,
}

impl Default for Layout {
    fn default() -> Self {
        Self {
            packages: 1,
            dies: 0,
            llcs: 1,
            clusters: 0,
            cores: 4,
            threads: 1,
            nodes_per_package: 1,
            interleave: false,
            l2_per_cluster: false,
            l3_kb: 16384,
        }
    }
}

impl Layout {
    /// Build the machine.
    pub fn build(&self, name: &str) -> Machine {
        let dies = self.dies.max(1);
        let llcs = self.llcs.max(1);
        let clusters = self.clusters.max(1);
        let ncores = self.packages * dies * llcs * clusters * self.cores;
        let mut cpus = Vec::new();
        let mut k = 0;
        for p in 0..self.packages {
            for d in 0..dies {
                for l in 0..llcs {
                    let llc_global = (p * dies + d) * llcs + l;
                    let llc_in_pkg = d * llcs + l;
                    let node = if self.nodes_per_package == 0 {
                        None
                    } else {
                        Some(
                            p * self.nodes_per_package
                                + llc_in_pkg * self.nodes_per_package / (dies * llcs),
                        )
                    };
                    for c in 0..clusters {
                        let cl_global = llc_global * clusters + c;
                        for co in 0..self.cores {
                            let core_in_pkg =
                                (d * llcs + l) * clusters * self.cores + c * self.cores + co;
                            for t in 0..self.threads {
                                let id = if self.interleave {
                                    t * ncores + k
                                } else {
                                    k * self.threads + t
                                };
                                let mut caches = vec![
                                    Cache {
                                        level: 1,
                                        ty: "Data",
                                        size_kb: 32,
                                        id: Some(k as u64),
                                        key: k,
                                    },
                                    Cache {
                                        level: 1,
                                        ty: "Instruction",
                                        size_kb: 32,
                                        id: Some(k as u64),
                                        key: k,
                                    },
                                ];
                                let l2key = if self.l2_per_cluster { cl_global } else { k };
                                caches.push(Cache {
                                    level: 2,
                                    ty: "Unified",
                                    size_kb: 1024,
                                    id: Some(l2key as u64),
                                    key: l2key,
                                });
                                if self.llcs > 0 {
                                    caches.push(Cache {
                                        level: 3,
                                        ty: "Unified",
                                        size_kb: self.l3_kb,
                                        id: Some(llc_global as u64),
                                        key: llc_global,
                                    });
                                }
                                cpus.push(FakeCpu {
                                    id,
                                    present: true,
                                    online: true,
                                    package_id: p as i64,
                                    die_id: (self.dies > 0).then_some(d as i64),
                                    cluster_id: (self.clusters > 0).then_some(cl_global as i64),
                                    core_id: core_in_pkg as i64,
                                    pkg_key: p,
                                    die_key: (self.dies > 0).then_some(p * dies + d),
                                    cluster_key: (self.clusters > 0).then_some(cl_global),
                                    core_key: k,
                                    caches,
                                    capacity: None,
                                    max_freq: None,
                                    node,
                                });
                            }
                            k += 1;
                        }
                    }
                }
            }
        }
        cpus.sort_by_key(|c| c.id);
        let nodes = (self.nodes_per_package > 0).then(|| {
            (0..self.packages * self.nodes_per_package)
                .map(|id| FakeNode {
                    id,
                    has_memory: true,
                })
                .collect()
        });
        let nr = cpus.len();
        Machine {
            name: name.into(),
            cpus,
            nodes,
            nr_possible: nr,
            root_files: true,
            old_names: false,
            smt_control: Some(if self.threads > 1 {
                "on"
            } else {
                "notsupported"
            }),
            hybrid: None,
            cache_ids: true,
        }
    }
}

fn w(path: &Path, s: impl AsRef<str>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, format!("{}\n", s.as_ref())).unwrap();
}

impl Machine {
    pub fn cpu_mut(&mut self, id: usize) -> &mut FakeCpu {
        self.cpus.iter_mut().find(|c| c.id == id).unwrap()
    }

    /// Renumber CPUs through `f`.
    pub fn renumber(&mut self, f: impl Fn(usize) -> usize) {
        for c in &mut self.cpus {
            c.id = f(c.id);
        }
        self.cpus.sort_by_key(|c| c.id);
        self.nr_possible = self
            .nr_possible
            .max(self.cpus.last().map_or(0, |c| c.id + 1));
    }

    pub fn online(&self) -> Cpumask {
        self.cpus
            .iter()
            .filter(|c| c.online && c.present)
            .map(|c| c.id)
            .collect()
    }

    fn peers(&self, f: impl Fn(&FakeCpu) -> bool) -> Cpumask {
        self.cpus
            .iter()
            .filter(|c| c.online && c.present && f(c))
            .map(|c| c.id)
            .collect()
    }

    fn mask(&self, dir: &Path, name: &str, m: &Cpumask, lists: bool) {
        w(&dir.join(name), m.to_hex_string_width(self.nr_possible));
        if lists {
            w(&dir.join(format!("{name}_list")), m.to_cpulist());
        }
    }

    /// Write the root into `root` (which must exist).
    pub fn write(&self, root: &Path) {
        let base = root.join("sys/devices/system/cpu");
        fs::create_dir_all(&base).unwrap();
        let present: Cpumask = self
            .cpus
            .iter()
            .filter(|c| c.present)
            .map(|c| c.id)
            .collect();
        let online = self.online();
        if self.root_files {
            w(
                &base.join("possible"),
                Cpumask::first_n(self.nr_possible).to_cpulist(),
            );
            w(&base.join("present"), present.to_cpulist());
            w(&base.join("online"), online.to_cpulist());
            w(
                &base.join("offline"),
                Cpumask::first_n(self.nr_possible)
                    .andnot(&online)
                    .to_cpulist(),
            );
            w(&base.join("kernel_max"), "8191");
            w(&base.join("isolated"), "");
        }
        if let Some(ctl) = self.smt_control {
            w(&base.join("smt/control"), ctl);
            let active = self.cpus.iter().any(|c| {
                c.online
                    && self
                        .cpus
                        .iter()
                        .any(|o| o.id != c.id && o.online && o.core_key == c.core_key)
            });
            w(&base.join("smt/active"), if active { "1" } else { "0" });
        }
        let lists = !self.old_names;
        for c in self.cpus.iter().filter(|c| c.present) {
            let d = base.join(format!("cpu{}", c.id));
            fs::create_dir_all(&d).unwrap();
            if c.id != 0 {
                w(&d.join("online"), if c.online { "1" } else { "0" });
            }
            if !c.online {
                continue;
            }
            let t = d.join("topology");
            w(&t.join("physical_package_id"), c.package_id.to_string());
            w(&t.join("core_id"), c.core_id.to_string());
            let core = self.peers(|o| o.core_key == c.core_key);
            let pkg = self.peers(|o| o.pkg_key == c.pkg_key);
            self.mask(&t, "thread_siblings", &core, lists);
            self.mask(&t, "core_siblings", &pkg, lists);
            if !self.old_names {
                self.mask(&t, "core_cpus", &core, true);
                self.mask(&t, "package_cpus", &pkg, true);
                if let (Some(k), Some(id)) = (c.die_key, c.die_id) {
                    w(&t.join("die_id"), id.to_string());
                    self.mask(&t, "die_cpus", &self.peers(|o| o.die_key == Some(k)), true);
                }
                if let (Some(k), Some(id)) = (c.cluster_key, c.cluster_id) {
                    w(&t.join("cluster_id"), id.to_string());
                    self.mask(
                        &t,
                        "cluster_cpus",
                        &self.peers(|o| o.cluster_key == Some(k)),
                        true,
                    );
                }
            }
            for (i, cache) in c.caches.iter().enumerate() {
                let ci = d.join(format!("cache/index{i}"));
                w(&ci.join("level"), cache.level.to_string());
                w(&ci.join("type"), cache.ty);
                w(&ci.join("size"), format!("{}K", cache.size_kb));
                w(&ci.join("coherency_line_size"), "64");
                if self.cache_ids {
                    if let Some(id) = cache.id {
                        w(&ci.join("id"), id.to_string());
                    }
                }
                let shared = self.peers(|o| {
                    o.caches
                        .iter()
                        .any(|x| x.level == cache.level && x.ty == cache.ty && x.key == cache.key)
                });
                w(
                    &ci.join("shared_cpu_map"),
                    shared.to_hex_string_width(self.nr_possible),
                );
                w(&ci.join("shared_cpu_list"), shared.to_cpulist());
            }
            if let Some(cap) = c.capacity {
                w(&d.join("cpu_capacity"), cap.to_string());
            }
            if let Some(f) = c.max_freq {
                w(&d.join("cpufreq/cpuinfo_max_freq"), f.to_string());
                w(&d.join("cpufreq/cpuinfo_min_freq"), "400000");
            }
        }
        if let Some((p, e)) = &self.hybrid {
            w(
                &root.join("sys/devices/cpu_core/cpus"),
                Cpumask::from_cpus(p.iter().copied()).to_cpulist(),
            );
            w(
                &root.join("sys/devices/cpu_atom/cpus"),
                Cpumask::from_cpus(e.iter().copied()).to_cpulist(),
            );
        }
        if let Some(nodes) = &self.nodes {
            let nb = root.join("sys/devices/system/node");
            let ids: Cpumask = nodes.iter().map(|n| n.id).collect();
            w(&nb.join("possible"), ids.to_cpulist());
            w(&nb.join("online"), ids.to_cpulist());
            let with_mem: Cpumask = nodes
                .iter()
                .filter(|n| n.has_memory)
                .map(|n| n.id)
                .collect();
            w(&nb.join("has_memory"), with_mem.to_cpulist());
            w(&nb.join("has_normal_memory"), with_mem.to_cpulist());
            let with_cpu: Cpumask = nodes
                .iter()
                .filter(|n| self.cpus.iter().any(|c| c.present && c.node == Some(n.id)))
                .map(|n| n.id)
                .collect();
            w(&nb.join("has_cpu"), with_cpu.to_cpulist());
            for n in nodes {
                let d = nb.join(format!("node{}", n.id));
                let cpus: Cpumask = self
                    .cpus
                    .iter()
                    .filter(|c| c.present && c.node == Some(n.id))
                    .map(|c| c.id)
                    .collect();
                self.mask_node(&d, &cpus);
                let dist: Vec<String> = nodes
                    .iter()
                    .map(|o| {
                        if o.id == n.id {
                            "10".into()
                        } else {
                            "20".into()
                        }
                    })
                    .collect();
                w(&d.join("distance"), dist.join(" "));
                let kb = if n.has_memory { 16 * 1024 * 1024 } else { 0 };
                w(
                    &d.join("meminfo"),
                    format!(
                        "Node {} MemTotal:       {kb} kB\nNode {} MemFree:        {kb} kB",
                        n.id, n.id
                    ),
                );
            }
        }
    }

    fn mask_node(&self, d: &Path, cpus: &Cpumask) {
        w(
            &d.join("cpumap"),
            cpus.to_hex_string_width(self.nr_possible),
        );
        w(&d.join("cpulist"), cpus.to_cpulist());
    }

    /// Write into a new temp dir.
    pub fn root(&self) -> tempfile::TempDir {
        let d = tempdir();
        self.write(d.path());
        d
    }
}

/// A temp dir, in /dev/shm when it exists (fake roots are many small files).
pub fn tempdir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::Builder::new()
            .prefix("scx_topology")
            .tempdir_in(shm)
        {
            return d;
        }
    }
    tempfile::tempdir().unwrap()
}

/// All test machines, each covering one or more pitfalls.
pub fn machines() -> Vec<Machine> {
    let mut v = Vec::new();

    // 2-socket EPYC-like: 12 CCXs per socket, 8 cores per CCX, SMT2 = 384.
    v.push(
        Layout {
            packages: 2,
            llcs: 12,
            cores: 8,
            threads: 2,
            interleave: true,
            l3_kb: 32768,
            ..Default::default()
        }
        .build("epyc_2s_12ccx_smt2_384"),
    );

    // Device-tree big.LITTLE phone: 4 little + 3 medium + 1 big, clusters,
    // core_id restarting per cluster, cpu_capacity, no NUMA, no cache ids.
    let mut m = Layout {
        cores: 8,
        nodes_per_package: 0,
        ..Default::default()
    }
    .build("phone_big_little_dt");
    for c in &mut m.cpus {
        let (cl, core_id, cap, f) = match c.id {
            0..=3 => (0, c.id, 278, 1_800_000),
            4..=6 => (1, c.id - 4, 740, 2_400_000),
            _ => (2, 0, 1024, 3_000_000),
        };
        c.cluster_id = Some(cl);
        c.cluster_key = Some(cl as usize);
        c.core_id = core_id as i64;
        c.capacity = Some(cap);
        c.max_freq = Some(f);
    }
    m.cache_ids = false;
    m.smt_control = None;
    v.push(m);

    // Intel hybrid: 6 P-cores with SMT2 (0-11) + 8 E-cores (12-19) whose
    // clusters of 4 share an L2; hybrid PMU lists; frequencies differ.
    let mut m = Layout {
        cores: 14,
        threads: 1,
        ..Default::default()
    }
    .build("intel_hybrid_6p8e");
    let mut cpus = Vec::new();
    for (k, base) in m.cpus.iter().enumerate() {
        let threads = if k < 6 { 2 } else { 1 };
        for t in 0..threads {
            let mut c = base.clone();
            c.id = if k < 6 { k * 2 + t } else { 12 + (k - 6) };
            c.max_freq = Some(if k < 6 { 5_000_000 } else { 3_800_000 });
            if k >= 6 {
                let cl = 100 + (k - 6) / 4;
                c.cluster_key = Some(cl);
                for x in &mut c.caches {
                    if x.level == 2 {
                        x.key = cl;
                        x.id = Some(cl as u64);
                    }
                }
            }
            cpus.push(c);
        }
    }
    m.cpus = cpus;
    m.nr_possible = 20;
    m.smt_control = Some("on");
    m.hybrid = Some(((0..12).collect(), (12..20).collect()));
    v.push(m);

    // SMT switched off: siblings offline.
    let mut m = Layout {
        cores: 8,
        threads: 2,
        interleave: true,
        ..Default::default()
    }
    .build("smt_off");
    for c in &mut m.cpus {
        if c.id >= 8 {
            c.online = false;
        }
    }
    m.smt_control = Some("off");
    v.push(m);

    // Some CPUs offline, only per-CPU online files (no root files).
    let mut m = Layout {
        packages: 2,
        cores: 4,
        threads: 2,
        nodes_per_package: 1,
        ..Default::default()
    }
    .build("offline_mixed_no_root_files");
    for id in [3, 6, 13] {
        m.cpu_mut(id).online = false;
    }
    m.root_files = false;
    v.push(m);

    // Firmware lists never-present CPUs as possible.
    let mut m = Layout {
        cores: 4,
        threads: 2,
        ..Default::default()
    }
    .build("never_present_possible_64");
    m.nr_possible = 64;
    v.push(m);

    // VM with no L3: L2 per core is the LLC.
    v.push(
        Layout {
            cores: 8,
            llcs: 0,
            ..Default::default()
        }
        .build("no_l3_l2_per_core"),
    );

    // No L3, L2 shared by clusters of 2 cores.
    v.push(
        Layout {
            cores: 2,
            clusters: 4,
            llcs: 0,
            l2_per_cluster: true,
            ..Default::default()
        }
        .build("no_l3_l2_per_cluster"),
    );

    // No cache directory at all: the LLC is the core.
    let mut m = Layout {
        packages: 2,
        cores: 2,
        threads: 2,
        ..Default::default()
    }
    .build("no_cache_dir");
    for c in &mut m.cpus {
        c.caches.clear();
    }
    v.push(m);

    // Kunpeng-like: clusters of 4 cores, an L3 per node, no cache ids.
    let mut m = Layout {
        packages: 2,
        llcs: 2,
        clusters: 2,
        cores: 4,
        nodes_per_package: 2,
        ..Default::default()
    }
    .build("no_cache_ids_clusters");
    m.cache_ids = false;
    v.push(m);

    // One L3 spanning two NUMA nodes.
    let mut m = Layout {
        cores: 16,
        nodes_per_package: 1,
        ..Default::default()
    }
    .build("l3_spans_nodes");
    m.nodes = Some(vec![
        FakeNode {
            id: 0,
            has_memory: true,
        },
        FakeNode {
            id: 1,
            has_memory: true,
        },
    ]);
    for c in &mut m.cpus {
        c.node = Some(c.id / 8);
    }
    v.push(m);

    // No NUMA directory.
    v.push(
        Layout {
            packages: 2,
            cores: 4,
            threads: 2,
            nodes_per_package: 0,
            ..Default::default()
        }
        .build("no_numa_dir"),
    );

    // Memory-only (CXL) nodes and a CPU-only node.
    let mut m = Layout {
        packages: 2,
        cores: 4,
        nodes_per_package: 1,
        ..Default::default()
    }
    .build("memory_only_and_cpuless_nodes");
    m.nodes = Some(vec![
        FakeNode {
            id: 0,
            has_memory: true,
        },
        FakeNode {
            id: 1,
            has_memory: false,
        },
        FakeNode {
            id: 2,
            has_memory: true,
        },
        FakeNode {
            id: 3,
            has_memory: true,
        },
    ]);
    v.push(m);

    // CPUs that no node lists.
    let mut m = Layout {
        packages: 2,
        cores: 4,
        nodes_per_package: 1,
        ..Default::default()
    }
    .build("cpus_in_no_node");
    m.cpu_mut(6).node = None;
    m.cpu_mut(7).node = None;
    v.push(m);

    // Sparse CPU numbering (0-7, 40-47) and sparse node ids (0, 4).
    let mut m = Layout {
        packages: 2,
        cores: 4,
        threads: 2,
        nodes_per_package: 1,
        ..Default::default()
    }
    .build("sparse_cpus_and_nodes");
    m.renumber(|id| if id < 8 { id } else { id + 32 });
    for c in &mut m.cpus {
        if c.node == Some(1) {
            c.node = Some(4);
        }
    }
    m.nodes = Some(vec![
        FakeNode {
            id: 0,
            has_memory: true,
        },
        FakeNode {
            id: 4,
            has_memory: true,
        },
    ]);
    v.push(m);

    // Multi-word masks: 4 packages, 160 CPUs, 4 nodes.
    v.push(
        Layout {
            packages: 4,
            llcs: 2,
            cores: 10,
            threads: 2,
            interleave: true,
            ..Default::default()
        }
        .build("multiword_160"),
    );

    // POWER-like: package id -1 everywhere, SMT4, two chips.
    let mut m = Layout {
        packages: 2,
        cores: 4,
        threads: 4,
        ..Default::default()
    }
    .build("power_package_minus_one");
    for c in &mut m.cpus {
        c.package_id = -1;
    }
    v.push(m);

    // Repeated and gapped core ids, firmware package ids, dies.
    let mut m = Layout {
        packages: 2,
        dies: 2,
        cores: 3,
        threads: 2,
        nodes_per_package: 2,
        ..Default::default()
    }
    .build("repeated_core_ids_dies");
    for c in &mut m.cpus {
        c.core_id = [0, 1, 2, 8, 9, 10][c.core_key % 6];
        c.package_id = [36, 8442][c.pkg_key];
    }
    v.push(m);

    // Old kernel: only thread_siblings / core_siblings hex, no lists, no
    // die/cluster, no root cpu files.
    let mut m = Layout {
        packages: 2,
        cores: 2,
        threads: 2,
        interleave: true,
        ..Default::default()
    }
    .build("old_file_names");
    m.old_names = true;
    m.root_files = false;
    m.smt_control = None;
    v.push(m);

    v
}

/// One hwloc object: its type and cpuset.
pub struct HwlocObj {
    pub ty: String,
    pub cpuset: Cpumask,
}

fn attr<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let i = s.find(&key)? + key.len();
    let j = s[i..].find('"')?;
    Some(&s[i..i + j])
}

/// Panics, naming the Debian package, unless hwloc's tools are installed
/// (the hwloc tests need them; scripts/install-deps.sh installs them).
pub fn require_hwloc() {
    let ok = Command::new("lstopo-no-graphics")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "lstopo-no-graphics not found: install hwloc (Debian package hwloc-nox, \
         scripts/install-deps.sh does)"
    );
}

/// hwloc's objects for a root, from `lstopo-no-graphics --of xml`.
pub fn hwloc_objects(root: &Path) -> Vec<HwlocObj> {
    let out = Command::new("lstopo-no-graphics")
        .args(["--of", "xml", "-"])
        .env("HWLOC_FSROOT", root)
        .env("HWLOC_COMPONENTS", "linux,stop")
        .output()
        .expect("running lstopo-no-graphics");
    assert!(
        out.status.success(),
        "lstopo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = String::from_utf8_lossy(&out.stdout);
    let mut v = Vec::new();
    for line in xml.lines() {
        let line = line.trim_start();
        if !line.starts_with("<object ") {
            continue;
        }
        let (Some(ty), Some(cs)) = (attr(line, "type"), attr(line, "cpuset")) else {
            continue;
        };
        v.push(HwlocObj {
            ty: ty.into(),
            cpuset: Cpumask::parse_hex(cs).expect("hwloc cpuset"),
        });
    }
    v
}

pub type Groups = BTreeSet<Cpumask>;

pub fn hwloc_groups(objs: &[HwlocObj], ty: &str) -> Groups {
    objs.iter()
        .filter(|o| o.ty == ty && !o.cpuset.is_empty())
        .map(|o| o.cpuset.clone())
        .collect()
}

/// Compare our groupings with hwloc's for the root; returns a description
/// of what was compared.
pub fn compare_with_hwloc(name: &str, root: &Path, t: &Topology) -> Vec<String> {
    let objs = hwloc_objects(root);
    let mut checked = Vec::new();
    let pus = hwloc_groups(&objs, "PU");
    let online: Groups = t
        .online_cpus()
        .iter()
        .map(|c| Cpumask::from_cpus([c]))
        .collect();
    assert_eq!(online, pus, "{name}: online CPUs vs hwloc PUs");
    checked.push("pu".to_string());

    let cores: Groups = t.cores().iter().map(|c| c.cpus.clone()).collect();
    assert_eq!(cores, hwloc_groups(&objs, "Core"), "{name}: cores vs hwloc");
    checked.push("core".into());

    let pkgs: Groups = t.packages().iter().map(|p| p.cpus.clone()).collect();
    assert_eq!(
        pkgs,
        hwloc_groups(&objs, "Package"),
        "{name}: packages vs hwloc"
    );
    checked.push("package".into());

    let hw_nodes = hwloc_groups(&objs, "NUMANode");
    let ours: Groups = t
        .nodes()
        .iter()
        .filter(|n| !n.cpus.is_empty())
        .map(|n| n.cpus.clone())
        .collect();
    if t.cpus_in_no_node().is_empty() {
        assert_eq!(ours, hw_nodes, "{name}: NUMA nodes vs hwloc");
        checked.push("numanode".into());
    } else {
        // hwloc leaves CPUs no node lists out of every node; we place them
        // in implied nodes (one per package). Compare without them.
        let stray = t.cpus_in_no_node();
        let ours: Groups = ours
            .iter()
            .map(|g| g.andnot(stray))
            .filter(|g| !g.is_empty())
            .collect();
        let hw: Groups = hw_nodes
            .iter()
            .map(|g| g.andnot(stray))
            .filter(|g| !g.is_empty())
            .collect();
        assert_eq!(
            ours, hw,
            "{name}: NUMA nodes (without unlisted CPUs) vs hwloc"
        );
        checked.push("numanode(-unlisted)".into());
    }

    // LLC: the whole cache spans compare with hwloc's cache objects of that level.
    let levels: BTreeSet<u8> = t.llcs().iter().map(|l| l.level).collect();
    let spans: Groups = t.llcs().iter().map(|l| l.cache_cpus.clone()).collect();
    if levels.len() == 1 && levels.iter().next() != Some(&0) {
        let lvl = *levels.iter().next().unwrap();
        let hw = hwloc_groups(&objs, &format!("L{lvl}Cache"));
        assert_eq!(spans, hw, "{name}: LLC (L{lvl}) spans vs hwloc");
        checked.push(format!("l{lvl}cache"));
    } else {
        assert!(
            hwloc_groups(&objs, "L3Cache").is_empty(),
            "{name}: hwloc has an L3 we did not use"
        );
        checked.push("llc=core fallback (hwloc has no cache)".into());
    }
    checked
}

/// Invariants every topology must satisfy.
pub fn check_invariants(name: &str, t: &Topology) {
    let online = t.online_cpus();
    // Each online CPU exactly once in cpus().
    let listed: Vec<usize> = t.cpus().iter().filter(|c| c.online).map(|c| c.id).collect();
    assert_eq!(
        Cpumask::from_cpus(listed.iter().copied()),
        *online,
        "{name}: online cpus listed"
    );
    assert_eq!(listed.len(), online.weight(), "{name}: duplicate cpus");
    for (what, groups) in [
        (
            "cores",
            t.cores().iter().map(|c| c.cpus.clone()).collect::<Vec<_>>(),
        ),
        ("llcs", t.llcs().iter().map(|c| c.cpus.clone()).collect()),
        ("nodes", t.nodes().iter().map(|c| c.cpus.clone()).collect()),
        (
            "packages",
            t.packages().iter().map(|c| c.cpus.clone()).collect(),
        ),
    ] {
        let mut union = Cpumask::new();
        let mut total = 0;
        for g in &groups {
            total += g.weight();
            union = union.or(g);
        }
        assert_eq!(union, *online, "{name}: {what} cover the online set");
        assert_eq!(total, online.weight(), "{name}: {what} overlap");
    }
    for core in t.cores() {
        assert!(!core.cpus.is_empty());
        let llc = &t.llcs()[core.llc];
        assert!(
            core.cpus.is_subset(&llc.cpus),
            "{name}: core {} inside llc",
            core.index
        );
        let node = t.node(core.node).unwrap();
        assert!(
            core.cpus.is_subset(&node.cpus),
            "{name}: core {} inside node",
            core.index
        );
        assert!(llc.cores.contains(&core.index));
        assert!(core.cpus.is_subset(&t.packages()[core.package].cpus));
    }
    for llc in t.llcs() {
        assert!(
            llc.cpus.is_subset(&t.node(llc.node).unwrap().cpus),
            "{name}: llc inside node"
        );
        assert!(llc.cpus.is_subset(&llc.cache_cpus));
        assert!(t.node(llc.node).unwrap().llcs.contains(&llc.index));
    }
    for c in t.cpus().iter().filter(|c| c.online) {
        let core = &t.cores()[c.core.unwrap()];
        assert!(core.cpus.test(c.id));
        assert!(t.llcs()[c.llc.unwrap()].cpus.test(c.id));
        assert!(t.node(c.node.unwrap()).unwrap().cpus.test(c.id));
        assert!(c.capacity <= 1024 && c.capacity > 0);
    }
    if !online.is_empty() {
        assert_eq!(
            t.cpus().iter().map(|c| c.capacity).max(),
            Some(1024),
            "{name}: max capacity"
        );
    }
    assert!(t.nr_cpu_ids() > online.last().unwrap_or(0));
    assert!(online.is_subset(t.possible_cpus()));
    // JSON always serialises and matches the schema basics.
    let j: serde_json::Value = serde_json::from_str(&t.to_json()).unwrap();
    for k in [
        "cpus",
        "cores",
        "llcs",
        "nodes",
        "smt_enabled",
        "nr_cpu_ids",
    ] {
        assert!(j.get(k).is_some(), "{name}: json key {k}");
    }
}

/// The real-machine sysfs dumps kept in the repository
/// (`tests/fixtures/sysfs`, see the README there).
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sysfs")
}

/// Unpack a `.tar.bz2` fixture into a temp dir; returns the dir and the
/// root inside it (the single top-level directory).
pub fn unpack(tarball: &Path) -> (tempfile::TempDir, PathBuf) {
    let d = tempdir();
    let st = Command::new("tar")
        .arg("xjf")
        .arg(tarball)
        .arg("-C")
        .arg(d.path())
        .status()
        .expect("tar");
    assert!(st.success());
    let root = fs::read_dir(d.path())
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .unwrap()
        .path();
    (d, root)
}

/// Expected counts for a machine, independent of hwloc.
pub fn expected_counts(m: &Machine) -> BTreeMap<&'static str, usize> {
    let on: Vec<&FakeCpu> = m.cpus.iter().filter(|c| c.online && c.present).collect();
    let cores: BTreeSet<usize> = on.iter().map(|c| c.core_key).collect();
    let pkgs: BTreeSet<usize> = on.iter().map(|c| c.pkg_key).collect();
    let mut r = BTreeMap::new();
    r.insert("cpus", on.len());
    r.insert("cores", cores.len());
    r.insert("packages", pkgs.len());
    r
}
