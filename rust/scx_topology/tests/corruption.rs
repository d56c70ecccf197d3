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
        4 => b"18446744073709551616123\n"[..21].to_vec(),
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

#[test]
fn one_corrupt_file_spoils_one_fact() {
    // Small machines covering SMT, clusters, dies, NUMA, no cache ids, old
    // names, hybrid, phones; the 384- and 160-CPU ones only slow it down.
    let machines: Vec<common::Machine> = common::machines()
        .into_iter()
        .filter(|m| m.cpus.len() <= 40)
        .collect();
    assert!(machines.len() >= 12, "{} machines", machines.len());
    let roots: Vec<(String, tempfile::TempDir, Vec<PathBuf>)> = machines
        .iter()
        .map(|m| {
            let d = m.root();
            let mut f = Vec::new();
            files(d.path(), &mut f);
            f.sort();
            (m.name.clone(), d, f)
        })
        .collect();
    let mut rng = Rng(SEED);
    let mut failures = Vec::new();
    for trial in 0..TRIALS {
        let (name, root, list) = &roots[rng.below(roots.len())];
        let victim = &list[rng.below(list.len())];
        let junk = garbage(&mut rng);
        let saved = fs::read(victim).unwrap();
        fs::write(victim, &junk).unwrap();
        let rel = victim
            .strip_prefix(root.path())
            .unwrap()
            .display()
            .to_string();
        let what = format!(
            "trial {trial}: {name}: {rel} = {:?}",
            String::from_utf8_lossy(&junk[..junk.len().min(24)])
        );
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
        fs::write(victim, saved).unwrap();
    }
    for f in failures.iter().take(40) {
        println!("{f}");
    }
    assert!(
        failures.is_empty(),
        "{} of {TRIALS} single-file corruptions broke discovery (first ones above)",
        failures.len()
    );
}
