//! PELT in user space: the per-CPU run-queue signals summed per domain (the load balancer's
//! input) and the `--track-comm` report of chosen tasks.

use crate::bpf_intf;
use anyhow::{bail, Context, Result};
use libbpf_rs::{MapCore, MapFlags};
use scx_pelt::{CpuPelt, TaskPelt};

/// Most names `--track-comm` accepts.
pub const MAX_TRACK_COMMS: usize = bpf_intf::rusty_consts_MAX_TRACK_COMMS as usize;
/// The kernel's TASK_COMM_LEN: a comm is at most this minus one bytes.
pub const COMM_LEN: usize = bpf_intf::rusty_consts_RUSTY_COMM_LEN as usize;

/// Check the `--track-comm` names and pack them NUL-padded for the BPF side.
pub fn comm_table(names: &[String]) -> Result<Vec<[u8; COMM_LEN]>> {
    if names.len() > MAX_TRACK_COMMS {
        bail!(
            "--track-comm given {} times; at most {MAX_TRACK_COMMS} names can be tracked",
            names.len()
        );
    }
    names
        .iter()
        .map(|name| {
            let bytes = name.as_bytes();
            if bytes.is_empty() {
                bail!("--track-comm: the name is empty");
            }
            if bytes.len() > COMM_LEN - 1 {
                bail!(
                    "--track-comm {name:?}: {} bytes, but a comm has at most {} (TASK_COMM_LEN - 1)",
                    bytes.len(),
                    COMM_LEN - 1
                );
            }
            if bytes.contains(&0) {
                bail!("--track-comm {name:?}: contains a NUL byte");
            }
            let mut slot = [0u8; COMM_LEN];
            slot[..bytes.len()].copy_from_slice(bytes);
            Ok(slot)
        })
        .collect()
}

/// Sum of the `util_avg` of each domain's CPUs, as of each CPU's latest scheduling event
/// (0..=1024 per CPU).
pub fn dom_util(cpu_map: &dyn MapCore, cpu_dom: &[u32], nr_doms: usize) -> Result<Vec<u64>> {
    let per_cpu = cpu_map
        .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)
        .context("reading the per-CPU PELT map")?
        .unwrap_or_default();
    let mut util = vec![0u64; nr_doms];
    for (cpu, bytes) in per_cpu.iter().enumerate() {
        let Some(&dom) = cpu_dom.get(cpu) else { break };
        if let (Some(slot), Some(c)) = (util.get_mut(dom as usize), read_pod::<CpuPelt>(bytes)) {
            *slot += c.avg.util_avg;
        }
    }
    Ok(util)
}

/// One tracked task's signals, brought up to the time of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub pid: u32,
    pub comm: String,
    pub util_avg: u64,
    pub runnable_avg: u64,
    pub load_avg: u64,
}

impl Tracked {
    /// The report's state advanced (with scx_pelt, bit-exact with the BPF side) to the PELT
    /// clock time that corresponds to `mono_now` (CLOCK_MONOTONIC, ns): what the BPF side
    /// would compute if it updated the task at that moment. A sleeping task decays, a running
    /// one keeps accruing; without this, a task that is asleep whenever we look would always
    /// show the value it had when it last stopped (the top of its sawtooth).
    fn from_report(r: &bpf_intf::pelt_report, mono_now: u64) -> Self {
        let mut t: TaskPelt = read_pod(as_bytes(&r.pelt)).unwrap_or_default();
        let now = r.sched_clock + mono_now.saturating_sub(r.mono_clock);
        t.update(now);
        let raw: Vec<u8> = r
            .comm
            .iter()
            .map(|&c| c as u8)
            .take_while(|&c| c != 0)
            .collect();
        Tracked {
            pid: r.pid,
            comm: String::from_utf8_lossy(&raw).into_owned(),
            util_avg: t.avg.util_avg,
            runnable_avg: t.avg.runnable_avg,
            load_avg: t.avg.load_avg,
        }
    }

    /// The machine-greppable report line.
    pub fn line(&self) -> String {
        format!(
            "scx_rusty: pelt pid={} comm={} util_avg={} runnable_avg={} load_avg={}",
            self.pid, self.comm, self.util_avg, self.runnable_avg, self.load_avg
        )
    }
}

/// CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns().
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The tracked tasks that are still alive, by pid. Entries of exited tasks (normally removed
/// by the BPF side's exit_task) are dropped from the map.
pub fn tracked(map: &dyn MapCore) -> Result<Vec<Tracked>> {
    let mut out = Vec::new();
    let keys: Vec<Vec<u8>> = map.keys().collect();
    for key in keys {
        let Some(bytes) = map
            .lookup(&key, MapFlags::ANY)
            .context("reading tracked_pelt")?
        else {
            continue;
        };
        let Some(rep) = read_pod::<bpf_intf::pelt_report>(&bytes) else {
            continue;
        };
        let t = Tracked::from_report(&rep, monotonic_ns());
        if std::path::Path::new(&format!("/proc/{}", t.pid)).exists() {
            out.push(t);
        } else {
            let _ = map.delete(&key);
        }
    }
    out.sort_by_key(|t| t.pid);
    Ok(out)
}

/// Marker for the plain-integer structs read out of map values.
trait Pod: Copy {}
impl Pod for CpuPelt {}
impl Pod for bpf_intf::pelt_report {}
impl Pod for TaskPelt {}

fn as_bytes(words: &[u64]) -> &[u8] {
    // SAFETY: a u64 slice is readable as bytes of 8 times its length.
    unsafe { std::slice::from_raw_parts(words.as_ptr() as *const u8, std::mem::size_of_val(words)) }
}

fn read_pod<T: Pod>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < std::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: T is a repr(C) struct of integers (Pod); any bit pattern is valid, and the
    // length was checked.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr() as *const T) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_names_are_checked() {
        let t = comm_table(&["duty50".into(), "a".repeat(15)]).unwrap();
        assert_eq!(&t[0][..7], b"duty50\0");
        assert_eq!(t[1][15], 0);
        let err = comm_table(&["a".repeat(16)]).unwrap_err().to_string();
        assert!(err.contains("at most 15"), "{err}");
        let five: Vec<String> = (0..5).map(|i| format!("t{i}")).collect();
        let err = comm_table(&five).unwrap_err().to_string();
        assert!(err.contains("at most 4"), "{err}");
        assert!(comm_table(&[String::new()]).is_err());
        assert!(comm_table(&[]).unwrap().is_empty());
    }

    fn report(t: &TaskPelt, sched_clock: u64, mono_clock: u64) -> bpf_intf::pelt_report {
        let mut r = bpf_intf::pelt_report {
            pid: 42,
            sched_clock,
            mono_clock,
            ..Default::default()
        };
        // SAFETY: TaskPelt is 80 bytes of integers, pelt is [u64; 10].
        r.pelt = unsafe { std::mem::transmute::<TaskPelt, [u64; 10]>(*t) };
        for (d, s) in r.comm.iter_mut().zip(b"duty50") {
            *d = *s as _;
        }
        r
    }

    #[test]
    fn report_is_brought_up_to_date() {
        const MS: u64 = 1 << 20; // one PELT period, ns
        let mut t = TaskPelt::new();
        t.runnable(0, 1024);
        t.running(0);
        t.stopping(345 * MS);
        t.quiescent(345 * MS, 1024);
        assert_eq!(t.avg.util_avg, 1023);
        // published at sched clock 345 periods = monotonic 1000; read 32 periods later
        let r = report(&t, 345 * MS, 1000);
        let now = Tracked::from_report(&r, 1000 + 32 * MS);
        assert_eq!(now.util_avg, 511);
        assert_eq!(
            now.line(),
            "scx_rusty: pelt pid=42 comm=duty50 util_avg=511 runnable_avg=511 load_avg=511"
        );
        // a clock read before the publication changes nothing
        assert_eq!(Tracked::from_report(&r, 0).util_avg, 1023);
    }
}
