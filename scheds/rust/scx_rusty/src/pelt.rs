//! PELT in user space: the per-CPU run-queue signals summed per domain (the load balancer's
//! input) and the `--track-comm` report of chosen tasks.

use crate::bpf_intf;
use anyhow::{bail, Context, Result};
use libbpf_rs::{MapCore, MapFlags};
use scx_pelt::CpuPelt;

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

/// The stats line's ` | util dom0 <n> ...` part.
pub fn dom_util_report(util: &[u64]) -> String {
    let mut s = String::from(" | util");
    for (i, u) in util.iter().enumerate() {
        s.push_str(&format!(" dom{i} {u}"));
    }
    s
}

/// One tracked task's published signals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub pid: u32,
    pub comm: String,
    pub util_avg: u64,
    pub runnable_avg: u64,
    pub load_avg: u64,
}

impl Tracked {
    fn from_report(r: &bpf_intf::pelt_report) -> Self {
        let raw: Vec<u8> = r
            .comm
            .iter()
            .map(|&c| c as u8)
            .take_while(|&c| c != 0)
            .collect();
        Tracked {
            pid: r.pid,
            comm: String::from_utf8_lossy(&raw).into_owned(),
            util_avg: r.util_avg,
            runnable_avg: r.runnable_avg,
            load_avg: r.load_avg,
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
        let t = Tracked::from_report(&rep);
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

    #[test]
    fn report_line_format() {
        let mut r = bpf_intf::pelt_report {
            util_avg: 512,
            runnable_avg: 520,
            load_avg: 519,
            pid: 42,
            ..Default::default()
        };
        for (d, s) in r.comm.iter_mut().zip(b"duty50") {
            *d = *s as _;
        }
        assert_eq!(
            Tracked::from_report(&r).line(),
            "scx_rusty: pelt pid=42 comm=duty50 util_avg=512 runnable_avg=520 load_avg=519"
        );
    }
}
