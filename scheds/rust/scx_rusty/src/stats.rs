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
        s.counters
            .copy_from_slice(&scx_utils::percpu_counters(stats, NR_STATS)?);
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

    /// The served stats: counters since attach, and each domain's weighted load over the
    /// `secs` since `prev` as a share of its CPUs' time.
    pub fn stats(&self, prev: &Snapshot, secs: f64, dom_cpus: &[usize]) -> RustyStats {
        let c = |i: u32| self.counters[i as usize];
        let dom_load_pct = self
            .dom_weighted_runtime
            .iter()
            .zip(dom_cpus)
            .enumerate()
            .map(|(i, (now, nr_cpus))| {
                let before = prev.dom_weighted_runtime.get(i).copied().unwrap_or(0);
                let busy_ns = now.saturating_sub(before) as f64;
                let capacity_ns = secs.max(1e-3) * 1e9 * (*nr_cpus).max(1) as f64;
                (1000.0 * busy_ns / capacity_ns).round() / 10.0
            })
            .collect();
        RustyStats {
            idle_prev: c(bpf_intf::rusty_stat_STAT_IDLE_PREV),
            idle_core: c(bpf_intf::rusty_stat_STAT_IDLE_CORE),
            idle_llc: c(bpf_intf::rusty_stat_STAT_IDLE_LLC),
            idle_node: c(bpf_intf::rusty_stat_STAT_IDLE_NODE),
            queued: c(bpf_intf::rusty_stat_STAT_QUEUED),
            pinned: c(bpf_intf::rusty_stat_STAT_PINNED),
            dispatch_local: c(bpf_intf::rusty_stat_STAT_DISPATCH_LOCAL),
            steal_node: c(bpf_intf::rusty_stat_STAT_STEAL_NODE),
            steal_remote: c(bpf_intf::rusty_stat_STAT_STEAL_REMOTE),
            preempt: c(bpf_intf::rusty_stat_STAT_PREEMPT),
            preempt_declined: c(bpf_intf::rusty_stat_STAT_PREEMPT_DECLINED),
            migrated: c(bpf_intf::rusty_stat_STAT_MIGRATED),
            rcu_readers: c(bpf_intf::rusty_stat_STAT_RCU_READER),
            idle_remote: c(bpf_intf::rusty_stat_STAT_IDLE_REMOTE),
            dom_load_pct,
            dom_util: Vec::new(),
            dom_balance_load: Vec::new(),
            dom_overloaded: 0,
            imbalance_pct: 0.0,
            tasks_moved: 0,
        }
    }
}

scx_utils::scx_stats! {
    /// What scx_rusty serves on its stats socket.
    pub struct RustyStats {
        /// Wake-ups placed on their previous CPU, found idle.
        counter idle_prev: u64,
        /// Wake-ups placed on an idle SMT sibling of the previous CPU.
        counter idle_core: u64,
        /// Tasks placed on an idle CPU of their LLC domain.
        counter idle_llc: u64,
        /// Tasks placed on an idle CPU of their NUMA node.
        counter idle_node: u64,
        /// Tasks queued on their domain's deadline-ordered queue.
        counter queued: u64,
        /// Single-CPU tasks sent straight to their CPU.
        counter pinned: u64,
        /// Dispatches that took a task from the CPU's own domain.
        counter dispatch_local: u64,
        /// Dispatches that stole from another domain of the same node.
        counter steal_node: u64,
        /// Dispatches that stole from a domain of another node.
        counter steal_remote: u64,
        /// Waking tasks that preempted a running long runner with a later deadline.
        counter preempt: u64,
        /// Waking tasks with an earlier deadline that found no victim worth preempting.
        counter preempt_declined: u64,
        /// Balancer moves that took effect at the task's next enqueue.
        counter migrated: u64,
        /// Tasks preempted inside an RCU read-side section, sent back to their CPU.
        counter rcu_readers: u64,
        /// Tasks whose domain had a queue and no idle CPU, sent to an idle CPU of another domain.
        counter idle_remote: u64,
        /// Moves the balancer asked for.
        counter tasks_moved: u64,
        /// Each domain's load as the balancer saw it last (PELT load_avg, infeasible weights capped).
        gauge dom_balance_load: Vec<f64>,
        /// Largest distance of a domain from its share of the load, in percent of one CPU's fair load.
        gauge imbalance_pct: f64,
        /// Domains the tuner found overloaded (CPUs >= 90 % utilised): stolen from first.
        gauge dom_overloaded: u64,
        /// Weighted load of each domain over the last second, in percent of its CPUs' time.
        gauge dom_load_pct: Vec<f64>,
        /// Sum of the PELT util_avg of each domain's CPUs (0..=1024 per CPU).
        gauge dom_util: Vec<u64>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_keep_counters_and_compute_load() {
        let prev = Snapshot {
            counters: [1; NR_STATS],
            dom_weighted_runtime: vec![0, 0],
        };
        let mut now = prev.clone();
        now.counters[bpf_intf::rusty_stat_STAT_QUEUED as usize] = 11;
        now.dom_weighted_runtime = vec![1_000_000_000, 500_000_000];
        let s = now.stats(&prev, 1.0, &[2, 1]);
        assert_eq!(s.queued, 11);
        assert_eq!(s.idle_prev, 1);
        assert_eq!(s.dom_load_pct, vec![50.0, 50.0]);
    }
}
