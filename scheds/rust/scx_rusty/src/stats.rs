//! The counters the BPF side keeps, summed over CPUs, and their periodic report.

use crate::bpf_intf;
use anyhow::{Context, Result};
use libbpf_rs::{MapCore, MapFlags};

const NR_STATS: usize = bpf_intf::rusty_stat_RUSTY_NR_STATS as usize;

/// One reading of every counter plus each domain's accumulated weighted runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub counters: [u64; NR_STATS],
    pub dom_weighted_runtime: Vec<u64>,
}

impl Snapshot {
    /// Read the `stats` (per-CPU) and `dom_ctxs` maps.
    pub fn read(stats: &dyn MapCore, dom_ctxs: &dyn MapCore, nr_doms: usize) -> Result<Self> {
        let mut s = Snapshot::default();
        for (idx, slot) in s.counters.iter_mut().enumerate() {
            let per_cpu = stats
                .lookup_percpu(&(idx as u32).to_ne_bytes(), MapFlags::ANY)
                .context("reading the stats map")?
                .unwrap_or_default();
            *slot = per_cpu
                .iter()
                .map(|v| u64::from_ne_bytes(v[..8].try_into().unwrap()))
                .sum();
        }
        for dom in 0..nr_doms as u32 {
            let bytes = dom_ctxs
                .lookup(&dom.to_ne_bytes(), MapFlags::ANY)
                .context("reading the domain map")?
                .unwrap_or_default();
            let ctx = if bytes.len() >= std::mem::size_of::<bpf_intf::dom_ctx>() {
                // SAFETY: the map value is a struct dom_ctx (plain integers, any bit pattern ok).
                unsafe { std::ptr::read_unaligned(bytes.as_ptr() as *const bpf_intf::dom_ctx) }
            } else {
                bpf_intf::dom_ctx::default()
            };
            s.dom_weighted_runtime.push(ctx.load.weighted_runtime);
        }
        Ok(s)
    }

    /// A one-line report of what changed between `prev` and `self` over `secs` seconds, with
    /// each domain's weighted load as a share of its CPUs' time.
    pub fn report(&self, prev: &Snapshot, secs: f64, dom_cpus: &[usize]) -> String {
        let d = |i: u32| self.counters[i as usize].saturating_sub(prev.counters[i as usize]);
        let mut line = format!(
            "idle prev/core/llc/node {}/{}/{}/{} queued {} pinned {} dispatch local {} steal node/remote {}/{}",
            d(bpf_intf::rusty_stat_STAT_IDLE_PREV),
            d(bpf_intf::rusty_stat_STAT_IDLE_CORE),
            d(bpf_intf::rusty_stat_STAT_IDLE_LLC),
            d(bpf_intf::rusty_stat_STAT_IDLE_NODE),
            d(bpf_intf::rusty_stat_STAT_QUEUED),
            d(bpf_intf::rusty_stat_STAT_PINNED),
            d(bpf_intf::rusty_stat_STAT_DISPATCH_LOCAL),
            d(bpf_intf::rusty_stat_STAT_STEAL_NODE),
            d(bpf_intf::rusty_stat_STAT_STEAL_REMOTE),
        );
        line.push_str(" | load");
        for (i, (now, nr_cpus)) in self.dom_weighted_runtime.iter().zip(dom_cpus).enumerate() {
            let before = prev.dom_weighted_runtime.get(i).copied().unwrap_or(0);
            let busy_ns = now.saturating_sub(before) as f64;
            let capacity_ns = secs * 1e9 * (*nr_cpus).max(1) as f64;
            line.push_str(&format!(" dom{i} {:.1}%", 100.0 * busy_ns / capacity_ns));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_shows_deltas_and_load() {
        let prev = Snapshot {
            counters: [1; NR_STATS],
            dom_weighted_runtime: vec![0, 0],
        };
        let mut now = prev.clone();
        now.counters[bpf_intf::rusty_stat_STAT_QUEUED as usize] = 11;
        now.dom_weighted_runtime = vec![1_000_000_000, 500_000_000];
        let line = now.report(&prev, 1.0, &[2, 1]);
        assert!(line.contains("queued 10 "), "{line}");
        assert!(line.contains("dom0 50.0%"), "{line}");
        assert!(line.contains("dom1 50.0%"), "{line}");
    }
}
