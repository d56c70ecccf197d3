//! Frequency and capacity invariance: the scaled PELT clock.
//!
//! The kernel does not scale PELT contributions; it scales the clock. While a CPU runs
//! something, its PELT clock advances by `cap_scale(cap_scale(delta, cpu_capacity),
//! freq_capacity)`, so one period of wall time on a CPU of half capacity adds half a period of
//! running. While the CPU is idle the clock jumps back in sync with the task clock; if the CPU
//! was fully busy before (no idle time could have existed at full capacity), the gap is recorded
//! as lost idle time and subtracted from the clock, so the signals do not see time that a
//! faster CPU would have spent idle.
//!
//! Feed the value of [`ClockPelt::now`] as `now` to [`SchedAvg::update`](crate::SchedAvg::update).
//!
//! ```
//! use scx_pelt::invariance::{cap_scale, ClockPelt};
//!
//! assert_eq!(cap_scale(1000, 512), 500);
//! let mut clock = ClockPelt::new(0);
//! clock.advance(2_000_000, 512, 1024); // 2 ms running at half capacity
//! assert_eq!(clock.now(), 1_000_000);
//! clock.sync_idle(4_000_000, 0); // idle: catch up with the task clock
//! assert_eq!(clock.now(), 4_000_000);
//! ```

use crate::consts::{LOAD_AVG_MAX, PERIOD_UNITS, SCHED_CAPACITY_SHIFT};

/// `(value * scale) >> 10`: scales a time or a signal by a capacity out of 1024.
#[inline]
pub const fn cap_scale(value: u64, scale: u64) -> u64 {
    value.wrapping_mul(scale) >> SCHED_CAPACITY_SHIFT
}

/// A util_sum at or above this means the CPU was fully busy: no idle time at full capacity.
pub const IDLE_UTIL_SUM_THRESHOLD: u32 =
    ((LOAD_AVG_MAX - PERIOD_UNITS) << SCHED_CAPACITY_SHIFT) - LOAD_AVG_MAX;

/// A per-CPU scaled clock (`clock_pelt`) following a task clock (`clock_task`), in ns.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ClockPelt {
    /// The task clock (time the CPU spent on tasks), ns.
    pub clock_task: u64,
    /// The scaled clock, ns.
    pub clock_pelt: u64,
    /// Accumulated idle time that a full-capacity CPU would have had but this one did not.
    pub lost_idle_time: u64,
}

impl ClockPelt {
    /// A clock starting at `clock_task`, in sync.
    pub const fn new(clock_task: u64) -> Self {
        ClockPelt {
            clock_task,
            clock_pelt: clock_task,
            lost_idle_time: 0,
        }
    }

    /// The PELT clock value to feed to the update step: `clock_pelt - lost_idle_time`.
    #[inline]
    pub const fn now(&self) -> u64 {
        self.clock_pelt.wrapping_sub(self.lost_idle_time)
    }

    /// The CPU ran for `delta` ns of task clock at `cpu_capacity` and `freq_capacity`
    /// (each out of 1024).
    #[inline]
    pub fn advance(&mut self, delta: u64, cpu_capacity: u64, freq_capacity: u64) {
        self.clock_task = self.clock_task.wrapping_add(delta);
        let scaled = cap_scale(cap_scale(delta, cpu_capacity), freq_capacity);
        self.clock_pelt = self.clock_pelt.wrapping_add(scaled);
    }

    /// The CPU is idle at task clock `clock_task`: resynchronize, first recording the gap as
    /// lost idle time when `util_sum` (the CPU's summed util_sum of all classes) shows it was
    /// fully busy.
    #[inline]
    pub fn sync_idle(&mut self, clock_task: u64, util_sum: u32) {
        self.clock_task = clock_task;
        if util_sum >= IDLE_UTIL_SUM_THRESHOLD {
            self.lost_idle_time = self
                .lost_idle_time
                .wrapping_add(clock_task.wrapping_sub(self.clock_pelt));
        }
        self.clock_pelt = clock_task;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold() {
        assert_eq!(IDLE_UTIL_SUM_THRESHOLD, 46718 * 1024 - 47742);
    }

    #[test]
    fn lost_idle() {
        let mut c = ClockPelt::new(0);
        c.advance(4_000_000, 1024, 512);
        assert_eq!(c.now(), 2_000_000);
        c.sync_idle(4_000_000, IDLE_UTIL_SUM_THRESHOLD);
        assert_eq!(c.lost_idle_time, 2_000_000);
        assert_eq!(c.now(), 2_000_000);
    }
}
