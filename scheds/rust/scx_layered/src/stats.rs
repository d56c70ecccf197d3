//! What scx_layered serves on its stats socket: one record per layer.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One layer's figures (a row of `--monitor`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerRow {
    /// Tasks in the layer now.
    pub tasks: i64,
    /// CPU time used over the last interval, in CPUs (1.0 = one CPU all the time).
    pub util: f64,
    /// CPUs the layer owns (0 for Open layers).
    pub cpus: u64,
    /// The owned CPUs, as a list ("-" when none).
    pub cpulist: String,
    /// Wake-up preemptions by its tasks since attach.
    pub preempts: u64,
    /// Average wait from runnable to running over the last interval, in µs.
    pub wait_us: f64,
    /// Tasks run outside the layer's CPUs because their affinity allowed none, since attach.
    pub affn_viol: u64,
}

scx_utils::scx_stats! {
    /// What scx_layered serves on its stats socket.
    pub struct LayeredStats {
        /// Per layer, in config order: tasks, util (CPUs), cpus owned, cpulist, preempts
        /// (total), wait_us (average over the interval), affn_viol (total).
        gauge layers: BTreeMap<String, LayerRow>,
        /// Per layer: utilisation over the last interval, in CPUs (for OpenMetrics).
        gauge layer_util: BTreeMap<String, f64>,
        /// Per layer: CPUs owned.
        gauge layer_cpus: BTreeMap<String, u64>,
        /// Per layer: tasks in it.
        gauge layer_tasks: BTreeMap<String, i64>,
        /// Per layer: wake-up preemptions by its tasks.
        counter layer_preempts: BTreeMap<String, u64>,
        /// CPUs owned by no layer.
        gauge unowned_cpus: u64,
        /// Allocation changes since attach.
        counter resizes: u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scx_utils::stats::Stats;

    #[test]
    fn per_layer_rows_and_metrics() {
        let mut s = LayeredStats::default();
        s.layers.insert(
            "00-batch".into(),
            LayerRow {
                tasks: 4,
                util: 1.0,
                cpus: 1,
                cpulist: "3".into(),
                ..Default::default()
            },
        );
        s.layer_util.insert("batch".into(), 1.0);
        s.layer_cpus.insert("batch".into(), 1);
        let v = serde_json::to_value(&s).unwrap();
        let mut table = scx_utils::stats::Table::new("scx_layered", LayeredStats::fields());
        let text = table.render(&v);
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with("00-batch: ") && l.contains("cpulist=3")),
            "{text}"
        );
        let om = scx_utils::stats::openmetrics("scx_layered", &LayeredStats::fields(), &v);
        assert!(
            om.contains("scx_layered_layer_cpus{key=\"batch\"} 1"),
            "{om}"
        );
    }
}
