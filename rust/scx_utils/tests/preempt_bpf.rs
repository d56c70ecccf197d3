//! `scx/preempt.bpf.h` in the host kernel: its four tests, the claim and the victim choice.
//!
//! `tests/bpf/preempt_test.bpf.c` is compiled with clang-19 against the shipped headers, loaded
//! with the LLC tables set in its read-only data, and run with `BPF_PROG_TEST_RUN`. Needs root
//! and a libbpf include folder (`SCX_LIBBPF_INCLUDE`), so the tests are ignored by a plain
//! `cargo test`: meson's `scx_utils-bpf` test checks for both and runs them with `--ignored`.

use libbpf_rs::btf::types::{DataSec, Var};
use libbpf_rs::btf::Btf;
use libbpf_rs::{AsRawLibbpf, Object, ObjectBuilder, OpenObject, ProgramInput};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Mirror of `struct scx_run`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct Run {
    deadline: u64,
    started_at: u64,
    avg_burst: u64,
}

/// Mirror of `struct scx_wakeup`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct Wakeup {
    deadline: u64,
    avg_burst: u64,
    now: u64,
    waker_cpu: i32,
    pad: u32,
}

/// Mirror of `struct rules_ctx`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct RulesCtx {
    run: Run,
    w: Wakeup,
    cpu: i32,
    pad: u32,
    margin: u64,
    grace: u64,
    min_run: u64,
    claim_deadline: u64,
    ours: u32,
    later: u32,
    past_grace: u32,
    long_run: u32,
    worth: u32,
    claimed: u32,
    deadline_after: u64,
}

/// Mirror of `struct pick_ctx`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct PickCtx {
    deadlines: [u64; 8],
    accept: u32,
    prev_cpu: i32,
    llc: u32,
    result: i32,
    deadline: u64,
    asked: u32,
    pad: u32,
}

fn bytes_of<T>(v: &mut T) -> &mut [u8] {
    // SAFETY: T is one of the repr(C) plain-data mirrors above; any byte pattern is valid.
    unsafe { std::slice::from_raw_parts_mut(v as *mut T as *mut u8, std::mem::size_of::<T>()) }
}

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test loads BPF programs and runs them with BPF_PROG_TEST_RUN: it needs root"
    );
}

/// The test object, compiled into @dir.
fn compile(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let [inc, arch] = scx_utils::extract_bpf_headers(&dir.join("hdr"), "x86").unwrap();
    let libbpf_inc = std::env::var("SCX_LIBBPF_INCLUDE")
        .expect("SCX_LIBBPF_INCLUDE must name a folder holding bpf/bpf_helpers.h (meson sets it)");
    let clang = std::env::var("BPF_CLANG").unwrap_or_else(|_| "clang-19".into());
    let obj = dir.join("preempt_test.bpf.o");
    let st = std::process::Command::new(&clang)
        .args(["-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86", "-c"])
        .arg(root.join("tests/bpf/preempt_test.bpf.c"))
        .arg(format!("-I{}", inc.display()))
        .arg(format!("-I{}", arch.display()))
        .arg(format!("-I{libbpf_inc}"))
        .arg("-o")
        .arg(&obj)
        .status()
        .unwrap_or_else(|e| panic!("running {clang}: {e}"));
    assert!(st.success(), "compiling the test program failed");
    obj
}

/// A topology for scx/llc_topo.bpf.h: the LLC of each CPU id.
struct Topo<'a> {
    cpu_llc: &'a [u32],
}

/// The offset and size of each variable in the opened object's .rodata (libbpf lays the
/// section out at open; the offsets in the object file's own BTF are not final).
fn rodata_layout(open: &OpenObject) -> HashMap<String, (usize, usize)> {
    // SAFETY: the pointer is the live bpf_object behind `open`, which outlives this call.
    let obj = unsafe { open.as_libbpf_object().as_ref() };
    let btf = Btf::from_bpf_object(obj)
        .unwrap()
        .expect("the object has BTF");
    let sec: DataSec = btf
        .type_by_name(".rodata")
        .expect("the object has a .rodata section");
    sec.iter()
        .filter_map(|v| {
            let var = btf.type_by_id::<Var>(v.ty)?;
            let name = var.name()?.to_str()?.to_string();
            Some((name, (v.offset as usize, v.size)))
        })
        .collect()
}

/// Write the u32 array @vals at variable @name of the .rodata image @rodata.
fn set_rodata(
    layout: &HashMap<String, (usize, usize)>,
    rodata: &mut [u8],
    name: &str,
    vals: &[u32],
) {
    let &(off, size) = layout
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not in .rodata"));
    assert!(vals.len() * 4 <= size, "{name}: too many values");
    for (i, v) in vals.iter().enumerate() {
        rodata[off + 4 * i..off + 4 * i + 4].copy_from_slice(&v.to_ne_bytes());
    }
}

/// The test object, loaded with @topo in its LLC tables.
fn load(obj_path: &Path, topo: &Topo) -> Object {
    let mut open = ObjectBuilder::default().open_file(obj_path).unwrap();
    let layout = rodata_layout(&open);
    let nr_llcs = topo.cpu_llc.iter().max().map_or(1, |m| m + 1);
    let (mut cpus, mut start, mut nr) = (Vec::new(), Vec::new(), Vec::new());
    for llc in 0..nr_llcs {
        start.push(cpus.len() as u32);
        let members: Vec<u32> = (0..topo.cpu_llc.len() as u32)
            .filter(|&c| topo.cpu_llc[c as usize] == llc)
            .collect();
        nr.push(members.len() as u32);
        cpus.extend(members);
    }
    let mut rodata = open
        .maps_mut()
        .find(|m| m.name().to_string_lossy().ends_with(".rodata"))
        .expect("a .rodata map");
    let image = rodata.initial_value_mut().expect(".rodata has an image");
    let n = topo.cpu_llc.len() as u32;
    for (name, vals) in [
        ("scx_topo_nr_cpu_ids", &[n][..]),
        ("scx_topo_nr_online_cpus", &[n]),
        ("scx_topo_nr_llcs", &[nr_llcs]),
        ("scx_topo_cpu_llc", topo.cpu_llc),
        ("scx_topo_llc_cpus", &cpus),
        ("scx_topo_llc_cpu_start", &start),
        ("scx_topo_llc_nr_cpus", &nr),
    ] {
        set_rodata(&layout, image, name, vals);
    }
    open.load().expect("the test program loads")
}

fn run_prog<T>(obj: &mut Object, name: &str, ctx: &mut T) {
    let prog = obj
        .progs_mut()
        .find(|p| p.name() == name)
        .unwrap_or_else(|| panic!("no program {name}"));
    let input = ProgramInput {
        context_in: Some(bytes_of(ctx)),
        ..Default::default()
    };
    let out = prog.test_run(input).expect("BPF_PROG_TEST_RUN");
    assert_eq!(out.return_value, 0);
}

/// The calling thread may run only on @cpus.
fn pin(cpus: &[usize]) {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET and sched_setaffinity only touch it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
            0,
            "sched_setaffinity({cpus:?})"
        );
    }
}

fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

const US: u64 = 1000;
const MS: u64 = 1000 * US;

/// A hog (5 ms bursts, deadline 100 ms) running on CPU 1 for 1 ms, and a wake-up of a 0.2 ms
/// task with deadline 50 ms by a timer; margin 1 ms, grace 100 µs, minimum run 0.5 ms.
fn base() -> RulesCtx {
    RulesCtx {
        run: Run {
            deadline: 100 * MS,
            started_at: 10 * MS,
            avg_burst: 5 * MS,
        },
        w: Wakeup {
            deadline: 50 * MS,
            avg_burst: 200 * US,
            now: 11 * MS,
            waker_cpu: -1,
            pad: 0,
        },
        cpu: 1,
        margin: MS,
        grace: 100 * US,
        min_run: 500 * US,
        claim_deadline: 100 * MS,
        ..Default::default()
    }
}

/// (ours, later, past_grace, long_run, worth) for @c.
fn rules(obj: &mut Object, mut c: RulesCtx) -> ([bool; 5], RulesCtx) {
    run_prog(obj, "rules", &mut c);
    (
        [
            c.ours != 0,
            c.later != 0,
            c.past_grace != 0,
            c.long_run != 0,
            c.worth != 0,
        ],
        c,
    )
}

#[test]
#[ignore = "needs root and SCX_LIBBPF_INCLUDE; run by meson test scx_utils-bpf"]
fn the_four_tests_and_the_claim() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let mut obj = load(&compile(dir.path()), &Topo { cpu_llc: &[0] });
    let yes = [true; 5];

    // A hog, a short timer-woken task with an earlier deadline: worth preempting, even though
    // the run is younger than the grace period would ask of a task's wake-up.
    let mut c = base();
    c.w.now = c.run.started_at + 10 * US;
    assert_eq!(rules(&mut obj, c).0, yes);

    // The same wake-up done by a task on CPU 0: the grace holds it back until 100 µs.
    c.w.waker_cpu = 0;
    assert_eq!(rules(&mut obj, c).0, [true, true, false, true, false]);
    c.w.now = c.run.started_at + 100 * US;
    assert_eq!(rules(&mut obj, c).0, yes);

    // The waker is the runner: a producer is not preempted by its consumer.
    c.w.waker_cpu = 1;
    assert_eq!(rules(&mut obj, c).0, [false, true, true, true, false]);

    // Nothing of ours runs there.
    let mut c = base();
    c.run.started_at = 0;
    assert!(!rules(&mut obj, c).0[0] && !rules(&mut obj, c).0[4]);

    // Deadlines: later by exactly the margin is not enough, a nanosecond more is; the
    // comparison holds across the wrap of u64.
    let mut c = base();
    c.run.deadline = c.w.deadline + c.margin;
    assert_eq!(rules(&mut obj, c).0, [true, false, true, true, false]);
    c.run.deadline += 1;
    assert_eq!(rules(&mut obj, c).0, yes);
    c.w.deadline = u64::MAX - 10 * MS;
    c.run.deadline = 5 * MS;
    assert!(rules(&mut obj, c).0[1], "a wrapped later deadline is later");
    c.w.deadline = 5 * MS;
    c.run.deadline = u64::MAX - 10 * MS;
    assert!(
        !rules(&mut obj, c).0[1],
        "a wrapped earlier deadline is earlier"
    );

    // Bursts: four times the wakee's is enough, less is not; below the minimum run never.
    let mut c = base();
    c.w.avg_burst = 1250 * US;
    assert!(rules(&mut obj, c).0[3]);
    c.w.avg_burst += 1;
    assert_eq!(rules(&mut obj, c).0, [true, true, true, false, false]);
    let mut c = base();
    c.run.avg_burst = 400 * US;
    c.w.avg_burst = 0;
    assert!(!rules(&mut obj, c).0[3], "bursts under the minimum run");

    // The claim: only with the deadline read, and once.
    let (_, out) = rules(&mut obj, base());
    assert_eq!((out.claimed, out.deadline_after), (1, 0));
    let mut c = base();
    c.claim_deadline = 99 * MS;
    let (_, out) = rules(&mut obj, c);
    assert_eq!((out.claimed, out.deadline_after), (0, 100 * MS));
    let mut c = base();
    c.run.deadline = 0;
    c.claim_deadline = 100 * MS;
    let (r, out) = rules(&mut obj, c);
    assert_eq!(out.claimed, 0, "an already claimed record");
    assert!(!r[1], "a claimed record's deadline (0) is not later");
}

fn pick(obj: &mut Object, deadlines: &[u64], accept: &[usize], prev_cpu: i32, llc: u32) -> PickCtx {
    let mut c = PickCtx {
        prev_cpu,
        llc,
        accept: accept.iter().map(|&c| 1u32 << c).sum(),
        ..Default::default()
    };
    c.deadlines[..deadlines.len()].copy_from_slice(deadlines);
    run_prog(obj, "pick", &mut c);
    c
}

#[test]
#[ignore = "needs root and SCX_LIBBPF_INCLUDE; run by meson test scx_utils-bpf"]
fn the_victim_choice() {
    require_root();
    assert!(
        online_cpus() >= 2,
        "the victim test needs 2 CPUs to pin itself to"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = compile(dir.path());
    const ROUNDS: usize = 200;

    // LLC 0 of CPUs 0 and 1, LLC 1 of CPU 2 (which the host need not have: it is only ever a
    // previous CPU here).
    let mut obj = load(
        &path,
        &Topo {
            cpu_llc: &[0, 0, 1],
        },
    );
    pin(&[0, 1]);
    // The previous CPU, accepted, wins outright, though CPU 1's deadline is later; nothing
    // else is asked.
    let c = pick(&mut obj, &[100, 200], &[0, 1], 0, 0);
    assert_eq!((c.result, c.deadline, c.asked), (0, 100, 0b01));
    // Nothing accepted: no victim.
    for _ in 0..ROUNDS {
        assert_eq!(pick(&mut obj, &[100, 200], &[], 0, 0).result, -1);
    }
    // The previous CPU declined: a random draw finds CPU 1, or draws CPU 0 twice.
    let mut found = 0;
    for _ in 0..ROUNDS {
        let c = pick(&mut obj, &[100, 200], &[1], 0, 0);
        match c.result {
            1 => {
                assert_eq!(c.deadline, 200);
                found += 1;
            }
            -1 => assert_eq!(c.asked, 0b01, "declined although CPU 1 was asked"),
            r => panic!("victim {r}, which the test declined"),
        }
    }
    assert!(found > 0, "CPU 1 never drawn in {ROUNDS} rounds");
    // A CPU the task may not run on is never asked.
    pin(&[1]);
    for _ in 0..ROUNDS {
        let c = pick(&mut obj, &[300, 200], &[0, 1], 0, 0);
        assert_eq!(c.asked & 0b01, 0, "CPU 0 is outside the affinity");
        assert!(c.result == 1 || c.result == -1);
    }
    pin(&[0, 1]);
    // The previous CPU outside the LLC: two random draws, and when both CPUs were asked the
    // later deadline wins, across the wrap of u64 too.
    for deadlines in [[300, 200], [u64::MAX - 5, 10]] {
        let latest = if deadlines == [300, 200] { 0 } else { 1 };
        let mut both = 0;
        for _ in 0..ROUNDS {
            let c = pick(&mut obj, &deadlines, &[0, 1], 2, 0);
            assert!(c.result == 0 || c.result == 1, "{c:?}");
            assert_eq!(c.deadline, deadlines[c.result as usize]);
            if c.asked == 0b11 {
                assert_eq!(c.result, latest, "{deadlines:?}: {c:?}");
                both += 1;
            }
        }
        assert!(both > 0, "never drew both CPUs in {ROUNDS} rounds");
    }

    // Two LLCs, one CPU each: a previous CPU of another LLC is not a candidate.
    let mut obj = load(&path, &Topo { cpu_llc: &[0, 1] });
    for _ in 0..ROUNDS {
        let c = pick(&mut obj, &[100, 200], &[0, 1], 1, 0);
        assert_eq!((c.result, c.asked), (0, 0b01));
    }
}
