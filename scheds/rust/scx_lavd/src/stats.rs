//! The counters the BPF side keeps and the figures user space adds, served on the stats socket.

use crate::bpf_intf;

/// Number of BPF counters.
pub const NR_STATS: usize = bpf_intf::lavd_stat_LAVD_NR_STATS as usize;

/// Utilisation of each CPU from two readings of /proc/stat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// Per CPU id: (busy, total) in clock ticks.
    pub cpus: Vec<(u64, u64)>,
}

impl CpuTimes {
    /// Parse the per-CPU lines of /proc/stat (`cpuN user nice system idle iowait ...`).
    pub fn parse(text: &str, nr_cpu_ids: usize) -> Self {
        let mut cpus = vec![(0, 0); nr_cpu_ids];
        for line in text.lines() {
            let mut f = line.split_whitespace();
            let Some(name) = f.next() else { continue };
            let Some(id) = name
                .strip_prefix("cpu")
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            let vals: Vec<u64> = f.filter_map(|v| v.parse().ok()).collect();
            if id >= nr_cpu_ids || vals.len() < 4 {
                continue;
            }
            let total: u64 = vals.iter().sum();
            let idle = vals[3] + vals.get(4).copied().unwrap_or(0);
            cpus[id] = (total - idle.min(total), total);
        }
        Self { cpus }
    }

    /// Each CPU's busy share (0..=1) since `prev`.
    pub fn busy_since(&self, prev: &CpuTimes) -> Vec<f64> {
        self.cpus
            .iter()
            .enumerate()
            .map(|(i, (b, t))| {
                let (pb, pt) = prev.cpus.get(i).copied().unwrap_or((0, 0));
                let dt = t.saturating_sub(pt);
                if dt == 0 {
                    0.0
                } else {
                    (b.saturating_sub(pb) as f64 / dt as f64).min(1.0)
                }
            })
            .collect()
    }
}

scx_utils::scx_stats! {
    /// What scx_lavd serves on its stats socket.
    pub struct LavdStats {
        /// The mode asked for: performance, powersave or autopilot.
        gauge mode: String,
        /// The policy in force: performance (every CPU, highest frequency) or compact.
        gauge policy: String,
        /// CPUs work is placed on now.
        gauge active_cpus: u64,
        /// Online CPUs.
        gauge online_cpus: u64,
        /// Busy share of the machine over the last tick, percent.
        gauge util_pct: f64,
        /// Wake-ups placed on their previous CPU, found idle.
        counter idle_prev: u64,
        /// Wake-ups placed on an idle SMT sibling of the previous CPU.
        counter idle_core: u64,
        /// Tasks placed on an idle CPU of their LLC.
        counter idle_llc: u64,
        /// Tasks placed on an idle CPU of their node.
        counter idle_node: u64,
        /// Tasks queued on their LLC's deadline-ordered queue.
        counter queued: u64,
        /// Tasks allowed on a single CPU.
        counter pinned: u64,
        /// Dispatches from the CPU's own LLC.
        counter dispatch_local: u64,
        /// Dispatches that stole from another LLC.
        counter steal: u64,
        /// Waking tasks that preempted the latest-deadline runner among the sampled CPUs.
        counter preempt: u64,
        /// Slices lengthened for tasks whose previous slice a preemption cut short.
        counter slice_boost: u64,
        /// Inactive CPUs woken at once because the active ones could not keep up.
        counter expand: u64,
        /// Tasks preempted inside an RCU read-side section, sent back to their CPU.
        counter rcu_readers: u64,
    }
}

impl LavdStats {
    /// Fill the counters from the summed BPF counters.
    pub fn set_counters(&mut self, c: &[u64]) {
        let g = |i: u32| c.get(i as usize).copied().unwrap_or(0);
        self.idle_prev = g(bpf_intf::lavd_stat_STAT_IDLE_PREV);
        self.idle_core = g(bpf_intf::lavd_stat_STAT_IDLE_CORE);
        self.idle_llc = g(bpf_intf::lavd_stat_STAT_IDLE_LLC);
        self.idle_node = g(bpf_intf::lavd_stat_STAT_IDLE_NODE);
        self.queued = g(bpf_intf::lavd_stat_STAT_QUEUED);
        self.pinned = g(bpf_intf::lavd_stat_STAT_PINNED);
        self.dispatch_local = g(bpf_intf::lavd_stat_STAT_DISPATCH_LOCAL);
        self.steal = g(bpf_intf::lavd_stat_STAT_STEAL);
        self.preempt = g(bpf_intf::lavd_stat_STAT_PREEMPT);
        self.slice_boost = g(bpf_intf::lavd_stat_STAT_SLICE_BOOST);
        self.expand = g(bpf_intf::lavd_stat_STAT_EXPAND);
        self.rcu_readers = g(bpf_intf::lavd_stat_STAT_RCU_READER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_busy_shares() {
        let a = CpuTimes::parse(
            "cpu  10 0 10 80 0 0 0\ncpu0 10 0 0 90 0 0 0\ncpu1 0 0 10 80 10 0 0\n",
            2,
        );
        let b = CpuTimes::parse(
            "cpu  10 0 10 80 0 0 0\ncpu0 60 0 0 140 0 0 0\ncpu1 0 0 10 180 10 0 0\n",
            2,
        );
        assert_eq!(b.busy_since(&a), vec![0.5, 0.0]);
        assert_eq!(a.cpus, vec![(10, 100), (10, 100)]);
    }
}
