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
        /// CPUs owned by no layer.
        gauge unowned_cpus: u64,
        /// Allocation changes since attach.
        counter resizes: u64,
    }
}
