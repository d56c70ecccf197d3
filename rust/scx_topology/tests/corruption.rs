//! One bad file spoils one fact, not the machine: each trial overwrites one
//! random file of a generated root with garbage and discovery must still
//! succeed, without panicking, with every online CPU in exactly one core,
//! LLC and node (the invariants of `common::check_invariants`).
//!
//! Deterministic: a fixed seed, so a failure names a trial that repeats.

mod common;

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use scx_topology::Topology;

const TRIALS: usize = 1200;
const SEED: u64 = 0x5ca1_ab1e_0dd5_eed5;

/// xorshift64*: enough randomness for picking files, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn garbage(rng: &mut Rng) -> Vec<u8> {
    match rng.below(6) {
        0 => b"(null)                 \n".to_vec(),
        1 => b"-1\n".to_vec(),
        2 => b"3-1\n".to_vec(),
        3 => (0..1 + rng.below(64)).map(|_| rng.next() as u8).collect(),
        4 => {
            // 20 digits: more than any u64/i64 parse or CPU id allows.
            let mut v: Vec<u8> = (0..20).map(|_| b'0' + rng.below(10) as u8).collect();
            v[0] = b'9';
            v.push(b'\n');
            v
        }
        _ => {
            let mut v: Vec<u8> = (0..1000).map(|_| b'a' + rng.below(26) as u8).collect();
            v.push(b'\n');
            v
        }
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

struct Roots {
    roots: Vec<(String, tempfile::TempDir, Vec<PathBuf>)>,
}

/// Every generated machine of up to 40 CPUs, written once.
fn roots() -> Roots {
    // Small machines covering SMT, clusters, dies, NUMA, no cache ids, old
    // names, hybrid, phones; the 384- and 160-CPU ones only slow it down.
    let machines: Vec<common::Machine> = common::machines()
        .into_iter()
        .filter(|m| m.cpus.len() <= 40)
        .collect();
    assert!(machines.len() >= 12, "{} machines", machines.len());
    let roots = machines
        .iter()
        .map(|m| {
            let d = m.root();
            let mut f = Vec::new();
            files(d.path(), &mut f);
            f.sort();
            (m.name.clone(), d, f)
        })
        .collect();
    Roots { roots }
}

/// Run `trials` trials, each overwriting `per_trial` random files of one
/// root with garbage (and restoring them); returns the failures.
fn run(roots: &Roots, seed: u64, trials: usize, per_trial: usize) -> Vec<String> {
    let mut rng = Rng(seed);
    let mut failures = Vec::new();
    for trial in 0..trials {
        let (name, root, list) = &roots.roots[rng.below(roots.roots.len())];
        let mut what = format!("trial {trial}: {name}:");
        let mut saved = Vec::new();
        for _ in 0..per_trial {
            let victim = &list[rng.below(list.len())];
            let junk = garbage(&mut rng);
            saved.push((victim, fs::read(victim).unwrap()));
            fs::write(victim, &junk).unwrap();
            let rel = victim.strip_prefix(root.path()).unwrap().display();
            let shown = String::from_utf8_lossy(&junk[..junk.len().min(24)]).to_string();
            what.push_str(&format!(" {rel} = {shown:?}"));
        }
        let r = catch_unwind(AssertUnwindSafe(|| {
            match Topology::from_root(root.path()) {
                Ok(t) => {
                    common::check_invariants(name, &t);
                    Ok(())
                }
                Err(e) => Err(format!("discovery failed: {e:#}")),
            }
        }));
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("{what}: {e}")),
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{what}: panic: {msg}"));
            }
        }
        for (victim, data) in saved.into_iter().rev() {
            fs::write(victim, data).unwrap();
        }
    }
    for f in failures.iter().take(40) {
        println!("{f}");
    }
    failures
}

#[test]
fn one_corrupt_file_spoils_one_fact() {
    let failures = run(&roots(), SEED, TRIALS, 1);
    assert!(
        failures.is_empty(),
        "{} of {TRIALS} single-file corruptions broke discovery (first ones above)",
        failures.len()
    );
}

/// Several bad files at once: masks and ids can then disagree in ways one
/// file cannot make them; the tree must still nest.
#[test]
fn several_corrupt_files_never_break_the_tree() {
    let trials = 400;
    let failures = run(&roots(), SEED ^ 0xffff, trials, 5);
    assert!(
        failures.is_empty(),
        "{} of {trials} five-file corruptions broke discovery (first ones above)",
        failures.len()
    );
}
