//! The PELT state of one entity or run queue and its update step.
//!
//! [`SchedAvg`] holds the three geometric sums (load, runnable, util), the part of the current
//! period already accounted (`period_contrib`), the averages derived from the sums, and the
//! util_est word. [`SchedAvg::update_load_sum`] advances the sums to a new clock value and
//! [`SchedAvg::update_load_avg`] recomputes the averages; [`SchedAvg::update`] does both the way
//! the kernel does (averages only when a period boundary was crossed).
//!
//! All arithmetic wraps like the kernel's C does, so arbitrary inputs give the kernel's numbers.
//!
//! ```
//! use scx_pelt::SchedAvg;
//!
//! // An always-running nice-0 task, updated once per period for 32 periods.
//! let mut sa = SchedAvg::new();
//! for i in 1..=32u64 {
//!     sa.update(i * scx_pelt::PERIOD_NS, 1, 1, true, 1024);
//! }
//! assert_eq!(sa.util_avg, 512);
//! ```

use crate::consts::{
    LOAD_AVG_MAX, LOAD_AVG_MAX_PERIODS, LOAD_AVG_PERIOD, PELT_MIN_DIVIDER, PERIOD_UNITS,
    RUNNABLE_AVG_YN_INV, SCHED_CAPACITY_SHIFT,
};

/// PELT state, laid out exactly like `struct scx_pelt_avg` in `bpf/scx/pelt.bpf.h`
/// (64 bytes, 8-byte aligned), so a copy read from a BPF map can be updated further here.
///
/// | offset | field |
/// |---|---|
/// | 0 | `last_update_time: u64` |
/// | 8 | `load_sum: u64` |
/// | 16 | `runnable_sum: u64` |
/// | 24 | `util_sum: u32` |
/// | 28 | `period_contrib: u32` |
/// | 32 | `load_avg: u64` |
/// | 40 | `runnable_avg: u64` |
/// | 48 | `util_avg: u64` |
/// | 56 | `util_est: u32` |
/// | 60 | `_pad: u32` |
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SchedAvg {
    /// Clock value (ns) up to which the sums are accounted, a multiple of 1024 ns past the start.
    pub last_update_time: u64,
    /// Decayed sum of `load * time` (weighted runnable time).
    pub load_sum: u64,
    /// Decayed sum of `runnable * time << 10`.
    pub runnable_sum: u64,
    /// Decayed sum of `running time << 10`.
    pub util_sum: u32,
    /// Units (of 1024 ns) of the current, unfinished period already accounted: `0..1024`.
    pub period_contrib: u32,
    /// `load * load_sum / divider`.
    pub load_avg: u64,
    /// `runnable_sum / divider`: 1024 for a task that is always runnable.
    pub runnable_avg: u64,
    /// `util_sum / divider`: 1024 for a task that is always running.
    pub util_avg: u64,
    /// Estimated utilization (EWMA of util_avg at dequeue), with
    /// [`UTIL_AVG_UNCHANGED`](crate::util_est::UTIL_AVG_UNCHANGED) as a flag bit.
    pub util_est: u32,
    /// Padding to 64 bytes; kept zero.
    pub _pad: u32,
}

/// Computes `(a * b) >> 32` with the full 96-bit product, truncated to 64 bits.
///
/// ```
/// assert_eq!(scx_pelt::avg::mul_u64_u32_shr32(u64::MAX, u32::MAX), 0xffff_fffe_ffff_ffff);
/// ```
#[inline]
pub const fn mul_u64_u32_shr32(a: u64, b: u32) -> u64 {
    ((a as u128 * b as u128) >> 32) as u64
}

/// Decays `val` by `n` periods: `val * y^n`, as the kernel rounds it.
///
/// ```
/// use scx_pelt::avg::decay_load;
/// assert_eq!(decay_load(1024, 32), 511);
/// assert_eq!(decay_load(47742, 1), 46718);
/// assert_eq!(decay_load(u64::MAX, 2017), 0);
/// ```
#[inline]
pub const fn decay_load(mut val: u64, n: u64) -> u64 {
    if n > LOAD_AVG_MAX_PERIODS {
        return 0;
    }
    let mut local_n = n;
    if local_n >= LOAD_AVG_PERIOD as u64 {
        val >>= local_n / LOAD_AVG_PERIOD as u64;
        local_n %= LOAD_AVG_PERIOD as u64;
    }
    mul_u64_u32_shr32(val, RUNNABLE_AVG_YN_INV[local_n as usize])
}

/// Contribution of a segment that spans `periods` period boundaries: the decayed remainder `d1`
/// of the first period, the full periods in between, and the `d3` units of the new period.
///
/// ```
/// use scx_pelt::avg::accumulate_segments;
/// // Exactly one boundary: 1024 units of the old period decayed once, nothing in between.
/// assert_eq!(accumulate_segments(1, 1024, 0), 1002);
/// ```
#[inline]
pub const fn accumulate_segments(periods: u64, d1: u32, d3: u32) -> u32 {
    let c1 = decay_load(d1 as u64, periods) as u32;
    let c2 = LOAD_AVG_MAX
        .wrapping_sub(decay_load(LOAD_AVG_MAX as u64, periods) as u32)
        .wrapping_sub(PERIOD_UNITS);
    c1.wrapping_add(c2).wrapping_add(d3)
}

impl SchedAvg {
    /// A zeroed state (`last_update_time` 0).
    pub const fn new() -> Self {
        SchedAvg {
            last_update_time: 0,
            load_sum: 0,
            runnable_sum: 0,
            util_sum: 0,
            period_contrib: 0,
            load_avg: 0,
            runnable_avg: 0,
            util_avg: 0,
            util_est: 0,
            _pad: 0,
        }
    }

    /// A zeroed state whose clock starts at `now`.
    pub const fn starting_at(now: u64) -> Self {
        let mut sa = Self::new();
        sa.last_update_time = now;
        sa
    }

    /// Divider turning sums into averages: `PELT_MIN_DIVIDER + period_contrib`.
    #[inline]
    pub const fn divider(&self) -> u32 {
        PELT_MIN_DIVIDER.wrapping_add(self.period_contrib)
    }

    /// Accumulates `delta` units (of 1024 ns) into the sums; returns the number of period
    /// boundaries crossed. `load == 0` must come with `runnable == 0` and `!running`
    /// ([`update_load_sum`](Self::update_load_sum) enforces it).
    #[inline]
    pub fn accumulate_sum(&mut self, delta: u64, load: u64, runnable: u64, running: bool) -> u64 {
        let mut contrib = delta as u32;
        let delta = delta.wrapping_add(self.period_contrib as u64);
        let periods = delta / PERIOD_UNITS as u64;
        let mut rem = delta;
        if periods != 0 {
            self.load_sum = decay_load(self.load_sum, periods);
            self.runnable_sum = decay_load(self.runnable_sum, periods);
            self.util_sum = decay_load(self.util_sum as u64, periods) as u32;
            rem = delta % PERIOD_UNITS as u64;
            if load != 0 {
                contrib =
                    accumulate_segments(periods, PERIOD_UNITS - self.period_contrib, rem as u32);
            }
        }
        self.period_contrib = rem as u32;
        if load != 0 {
            self.load_sum = self
                .load_sum
                .wrapping_add(load.wrapping_mul(contrib as u64));
        }
        if runnable != 0 {
            self.runnable_sum = self
                .runnable_sum
                .wrapping_add(runnable.wrapping_mul(contrib as u64) << SCHED_CAPACITY_SHIFT);
        }
        if running {
            self.util_sum = self.util_sum.wrapping_add(contrib << SCHED_CAPACITY_SHIFT);
        }
        periods
    }

    /// Advances the sums to clock value `now` (ns) with the entity's state over the elapsed
    /// time: `load` (a weight, or 0/1), `runnable` (0/1 for a task, a count for a run queue)
    /// and `running`. Returns `true` when at least one period boundary was crossed, which is
    /// when the averages should be recomputed.
    ///
    /// A clock going backwards resets `last_update_time` to `now`; less than 1024 ns elapsed
    /// changes nothing (the remainder is kept for later).
    #[inline]
    pub fn update_load_sum(&mut self, now: u64, load: u64, runnable: u64, running: bool) -> bool {
        let delta = now.wrapping_sub(self.last_update_time);
        if (delta as i64) < 0 {
            self.last_update_time = now;
            return false;
        }
        let delta = delta >> 10;
        if delta == 0 {
            return false;
        }
        self.last_update_time = self.last_update_time.wrapping_add(delta << 10);
        let (runnable, running) = if load == 0 {
            (0, false)
        } else {
            (runnable, running)
        };
        self.accumulate_sum(delta, load, runnable, running) != 0
    }

    /// Recomputes the averages from the sums; `load` is the entity's weight (1024 for a nice-0
    /// task; 1 for a run queue, whose `load_sum` already carries the weights).
    #[inline]
    pub fn update_load_avg(&mut self, load: u64) {
        let divider = self.divider() as u64;
        self.load_avg = load.wrapping_mul(self.load_sum) / divider;
        self.runnable_avg = self.runnable_sum / divider;
        self.util_avg = self.util_sum as u64 / divider;
    }

    /// The kernel's update step: [`update_load_sum`](Self::update_load_sum) and, when it
    /// crossed a period boundary, [`update_load_avg`](Self::update_load_avg) with `weight`.
    /// Returns whether the averages were recomputed.
    ///
    /// ```
    /// use scx_pelt::SchedAvg;
    /// let mut sa = SchedAvg::new();
    /// assert!(sa.update(1 << 20, 1, 1, true, 1024));
    /// assert_eq!((sa.load_avg, sa.runnable_avg, sa.util_avg), (21, 21, 21));
    /// ```
    #[inline]
    pub fn update(
        &mut self,
        now: u64,
        load: u64,
        runnable: u64,
        running: bool,
        weight: u64,
    ) -> bool {
        if self.update_load_sum(now, load, runnable, running) {
            self.update_load_avg(weight);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        use core::mem::{align_of, offset_of, size_of};
        assert_eq!(size_of::<SchedAvg>(), 64);
        assert_eq!(align_of::<SchedAvg>(), 8);
        assert_eq!(offset_of!(SchedAvg, last_update_time), 0);
        assert_eq!(offset_of!(SchedAvg, load_sum), 8);
        assert_eq!(offset_of!(SchedAvg, runnable_sum), 16);
        assert_eq!(offset_of!(SchedAvg, util_sum), 24);
        assert_eq!(offset_of!(SchedAvg, period_contrib), 28);
        assert_eq!(offset_of!(SchedAvg, load_avg), 32);
        assert_eq!(offset_of!(SchedAvg, runnable_avg), 40);
        assert_eq!(offset_of!(SchedAvg, util_avg), 48);
        assert_eq!(offset_of!(SchedAvg, util_est), 56);
        assert_eq!(offset_of!(SchedAvg, _pad), 60);
    }

    #[test]
    fn decay_examples() {
        assert_eq!(decay_load(1024, 32), 511);
        assert_eq!(decay_load(47742, 1), 46718);
        // inv[0] = 2^32 - 1: whole half-lives are a shift and a -1 (for values below 2^32).
        for k in 1..=31u64 {
            assert_eq!(
                decay_load(u32::MAX as u64, 32 * k),
                (u32::MAX as u64 >> k) - 1
            );
        }
        assert_eq!(decay_load(u64::MAX, 2016), 0);
        assert_eq!(decay_load(u64::MAX, 2015), 1);
        assert_eq!(decay_load(u64::MAX, 2017), 0);
    }

    #[test]
    fn backwards_clock_resets() {
        let mut sa = SchedAvg::starting_at(10 << 20);
        sa.load_sum = 5;
        assert!(!sa.update(1 << 20, 1, 1, true, 1024));
        assert_eq!(sa.last_update_time, 1 << 20);
        assert_eq!(sa.load_sum, 5);
    }

    #[test]
    fn sub_microsecond_noop() {
        let mut sa = SchedAvg::starting_at(1000);
        let before = sa;
        assert!(!sa.update(2023, 1, 1, true, 1024));
        assert_eq!(sa, before);
        // The remainder is not lost: 1000 + 1024 is reached.
        sa.update(2024, 1, 1, true, 1024);
        assert_eq!(sa.last_update_time, 2024);
        assert_eq!(sa.period_contrib, 1);
    }
}
