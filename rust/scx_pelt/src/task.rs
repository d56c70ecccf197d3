//! Per-task and per-CPU PELT bookkeeping driven by sched_ext callbacks.
//!
//! These mirror `struct scx_pelt_task` / `struct scx_pelt_cpu` and the `scx_pelt_task_do_*` /
//! `scx_pelt_cpu_*` functions of the BPF header, with the same layout, so a state read from the
//! BPF maps can be advanced here (for example to a common `now` before comparing CPUs).
//!
//! A task's signals are updated at each transition with the state it had *before* it:
//! `runnable` (enqueue: it was sleeping), `running` (it was waiting), `stopping` (it was
//! running) and `quiescent` (dequeue: it was waiting; util_est is sampled). A CPU's signals use
//! the summed weight of its queued tasks as `load`, their number as `runnable`, and whether it
//! runs one as `running`; its averages are computed with weight 1, as for a kernel run queue.
//!
//! ```
//! use scx_pelt::{TaskPelt, PERIOD_NS};
//!
//! let mut t = TaskPelt::new();
//! t.runnable(0, 1024);
//! t.running(0);
//! t.stopping(345 * PERIOD_NS);
//! assert_eq!(t.avg.util_avg, 1023);
//! t.quiescent(345 * PERIOD_NS, 1024);
//! assert_eq!(scx_pelt::util_est::task_util_est(&t.avg), 1023);
//! ```

use crate::avg::SchedAvg;
use crate::util_est;

/// Per-task PELT state; same layout as `struct scx_pelt_task` (80 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskPelt {
    /// The task's signals.
    pub avg: SchedAvg,
    /// The load weight used while queued (1024 for nice 0).
    pub weight: u64,
    /// CPU whose [`CpuPelt`] holds this task's contribution (meaningful while `on_rq`).
    pub cpu: i32,
    /// Non-zero while the task is on a run queue (runnable).
    pub on_rq: u8,
    /// Non-zero while the task is running.
    pub running: u8,
    /// Padding; kept zero.
    pub _pad: u16,
}

impl Default for TaskPelt {
    fn default() -> Self {
        Self::new()
    }
}

impl TaskPelt {
    /// A zeroed, sleeping task (as BPF task storage creates it); `runnable` sets the weight.
    pub const fn new() -> Self {
        TaskPelt {
            avg: SchedAvg::new(),
            weight: 0,
            cpu: 0,
            on_rq: 0,
            running: 0,
            _pad: 0,
        }
    }

    /// Brings the signals up to `now` with the current state; clears the util_est flag when
    /// the averages were recomputed. Returns whether they were.
    #[inline]
    pub fn update(&mut self, now: u64) -> bool {
        let on_rq = (self.on_rq != 0) as u64;
        let updated = self
            .avg
            .update(now, on_rq, on_rq, self.running != 0, self.weight);
        if updated {
            util_est::avg_updated(&mut self.avg);
        }
        updated
    }

    /// The task became runnable (`ops.runnable`) with load weight `weight`.
    #[inline]
    pub fn runnable(&mut self, now: u64, weight: u64) {
        self.update(now);
        self.weight = weight;
        self.on_rq = 1;
    }

    /// The task starts running (`ops.running`).
    #[inline]
    pub fn running(&mut self, now: u64) {
        self.update(now);
        self.on_rq = 1;
        self.running = 1;
    }

    /// The task stops running (`ops.stopping`).
    #[inline]
    pub fn stopping(&mut self, now: u64) {
        self.update(now);
        self.running = 0;
    }

    /// The task leaves the run queue to sleep (`ops.quiescent`); util_est is sampled against
    /// `cpu_capacity` (1024 for a full CPU).
    #[inline]
    pub fn quiescent(&mut self, now: u64, cpu_capacity: u64) {
        self.update(now);
        self.on_rq = 0;
        self.running = 0;
        util_est::dequeue(&mut self.avg, true, cpu_capacity);
    }

    /// Changes the weight of the task (`ops.set_weight`), accounting the time before at the old
    /// weight.
    #[inline]
    pub fn set_weight(&mut self, now: u64, weight: u64) {
        self.update(now);
        self.weight = weight;
    }
}

/// Per-CPU (run queue) PELT state; same layout as `struct scx_pelt_cpu` (80 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CpuPelt {
    /// The run queue's signals.
    pub avg: SchedAvg,
    /// Sum of the weights of the queued tasks.
    pub load: u64,
    /// Number of queued (runnable) tasks.
    pub nr_runnable: u32,
    /// Number of running tasks (0 or 1 when callbacks are balanced).
    pub nr_running: u32,
}

impl CpuPelt {
    /// A zeroed, idle CPU.
    pub const fn new() -> Self {
        CpuPelt {
            avg: SchedAvg::new(),
            load: 0,
            nr_runnable: 0,
            nr_running: 0,
        }
    }

    /// Brings the signals up to `now` with the current state. Returns whether the averages
    /// were recomputed.
    #[inline]
    pub fn update(&mut self, now: u64) -> bool {
        self.avg.update(
            now,
            self.load,
            self.nr_runnable as u64,
            self.nr_running != 0,
            1,
        )
    }

    /// A task of weight `weight` was queued.
    #[inline]
    pub fn enqueue(&mut self, now: u64, weight: u64) {
        self.update(now);
        self.load = self.load.wrapping_add(weight);
        self.nr_runnable = self.nr_runnable.wrapping_add(1);
    }

    /// A task of weight `weight` left; the counters saturate at zero.
    #[inline]
    pub fn dequeue(&mut self, now: u64, weight: u64) {
        self.update(now);
        self.load = self.load.saturating_sub(weight);
        self.nr_runnable = self.nr_runnable.saturating_sub(1);
    }

    /// A task starts (`running == true`) or stops running; the counter saturates at zero.
    #[inline]
    pub fn set_running(&mut self, now: u64, running: bool) {
        self.update(now);
        if running {
            self.nr_running = self.nr_running.wrapping_add(1);
        } else {
            self.nr_running = self.nr_running.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn layout() {
        assert_eq!(size_of::<TaskPelt>(), 80);
        assert_eq!(offset_of!(TaskPelt, weight), 64);
        assert_eq!(offset_of!(TaskPelt, cpu), 72);
        assert_eq!(offset_of!(TaskPelt, on_rq), 76);
        assert_eq!(offset_of!(TaskPelt, running), 77);
        assert_eq!(size_of::<CpuPelt>(), 80);
        assert_eq!(offset_of!(CpuPelt, load), 64);
        assert_eq!(offset_of!(CpuPelt, nr_runnable), 72);
        assert_eq!(offset_of!(CpuPelt, nr_running), 76);
    }
}
