//! Estimated utilization (util_est), in the kernel ≥ 6.8 single-word layout.
//!
//! A task's util_avg decays while it sleeps, so right after wakeup it under-reports what the
//! task will use. util_est keeps an EWMA of util_avg sampled when the task goes to sleep, only
//! smoothing decreases (increases are taken at once). The word's top bit,
//! [`UTIL_AVG_UNCHANGED`], says "util_avg has not been recomputed since the last sample": a
//! dequeue finding it set skips the update, and the next average recomputation clears it.
//!
//! ```
//! use scx_pelt::{util_est, SchedAvg};
//!
//! let mut sa = SchedAvg::new();
//! sa.util_est = 600;
//! sa.util_avg = 200;
//! util_est::dequeue(&mut sa, true, 1024);
//! assert_eq!(sa.util_est, 500 | util_est::UTIL_AVG_UNCHANGED);
//! assert_eq!(util_est::task_util_est(&sa), 500);
//! ```

use crate::avg::SchedAvg;
use crate::consts::SCHED_CAPACITY_SCALE;

/// EWMA weight: the new sample counts for `1 / (1 << UTIL_EST_WEIGHT_SHIFT)`.
pub const UTIL_EST_WEIGHT_SHIFT: u32 = 2;

/// Flag bit of `util_est`: util_avg unchanged since the last sample.
pub const UTIL_AVG_UNCHANGED: u32 = 0x8000_0000;

/// Changes smaller than this (about 1% of a CPU) are not recorded.
pub const UTIL_EST_MARGIN: u32 = (SCHED_CAPACITY_SCALE / 100) as u32;

/// The task's estimated utilization: `max(util_avg, util_est without flag)`.
#[inline]
pub const fn task_util_est(sa: &SchedAvg) -> u64 {
    let est = (sa.util_est & !UTIL_AVG_UNCHANGED) as u64;
    if sa.util_avg > est {
        sa.util_avg
    } else {
        est
    }
}

/// The kernel's reaction to a recomputation of the averages: clears [`UTIL_AVG_UNCHANGED`].
#[inline]
pub fn avg_updated(sa: &mut SchedAvg) {
    if sa.util_est & UTIL_AVG_UNCHANGED != 0 {
        sa.util_est &= !UTIL_AVG_UNCHANGED;
    }
}

/// Samples util_avg into util_est when the task leaves the run queue; `task_sleep` is false for
/// a dequeue that is not a sleep (nothing is done then), `cpu_capacity` is the capacity of the
/// CPU it ran on (1024 for the biggest). Returns whether `util_est` was written.
///
/// Cases (ewma, util_avg → result): (600, 200) → 500; (600, 595) → 600; (300, 500) → 500.
#[inline]
pub fn dequeue(sa: &mut SchedAvg, task_sleep: bool, cpu_capacity: u64) -> bool {
    if !task_sleep {
        return false;
    }
    let mut ewma = sa.util_est;
    if ewma & UTIL_AVG_UNCHANGED != 0 {
        return false;
    }
    let dequeued = sa.util_avg as u32;
    if ewma > dequeued {
        let diff = ewma - dequeued;
        if diff >= UTIL_EST_MARGIN {
            if dequeued as u64 > cpu_capacity {
                return false;
            }
            if (dequeued.wrapping_add(UTIL_EST_MARGIN) as u64) >= sa.runnable_avg {
                ewma =
                    ((ewma << UTIL_EST_WEIGHT_SHIFT).wrapping_sub(diff)) >> UTIL_EST_WEIGHT_SHIFT;
            }
        }
    } else {
        ewma = dequeued;
    }
    sa.util_est = ewma | UTIL_AVG_UNCHANGED;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ewma: u32, util: u64, runnable: u64) -> u32 {
        let mut sa = SchedAvg {
            util_est: ewma,
            util_avg: util,
            runnable_avg: runnable,
            ..SchedAvg::new()
        };
        dequeue(&mut sa, true, 1024);
        sa.util_est & !UTIL_AVG_UNCHANGED
    }

    #[test]
    fn worked_cases() {
        assert_eq!(run(600, 200, 0), 500);
        assert_eq!(run(600, 595, 0), 600);
        assert_eq!(run(300, 500, 0), 500);
        assert_eq!(run(600, 200, 400), 600);
    }

    #[test]
    fn flag_skips_and_clears() {
        let mut sa = SchedAvg {
            util_est: 600 | UTIL_AVG_UNCHANGED,
            util_avg: 200,
            ..SchedAvg::new()
        };
        assert!(!dequeue(&mut sa, true, 1024));
        assert_eq!(sa.util_est, 600 | UTIL_AVG_UNCHANGED);
        avg_updated(&mut sa);
        assert_eq!(sa.util_est, 600);
        assert!(!dequeue(&mut sa, false, 1024));
        // Above capacity: no write at all.
        sa.util_avg = 100;
        assert!(dequeue(&mut sa, true, 1024));
        let mut big = SchedAvg {
            util_est: 1000,
            util_avg: 900,
            ..SchedAvg::new()
        };
        assert!(!dequeue(&mut big, true, 512));
        assert_eq!(big.util_est, 1000);
    }
}
