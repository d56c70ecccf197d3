//! Property tests: the crate against a plain reference model written here from the notes'
//! definition (u128 arithmetic, loops instead of shifts, a float-generated table), plus
//! invariants of the signals.

use proptest::prelude::*;
use scx_pelt::avg::decay_load;
use scx_pelt::{SchedAvg, LOAD_AVG_MAX, RUNNABLE_AVG_YN_INV};

/// The table generated the way the kernel's generator does it, with floating point.
fn float_table() -> [u32; 32] {
    let y = 0.5f64.powf(1.0 / 32.0);
    core::array::from_fn(|i| (4_294_967_295.0f64 * y.powi(i as i32)) as u32)
}

/// Reference model of one state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Model {
    last: u64,
    load_sum: u64,
    runnable_sum: u64,
    util_sum: u32,
    contrib: u32,
    load_avg: u64,
    runnable_avg: u64,
    util_avg: u64,
}

const M64: u128 = u64::MAX as u128;

fn model_decay(table: &[u32; 32], val: u64, n: u64) -> u64 {
    if n > 2016 {
        return 0;
    }
    let mut v = val;
    for _ in 0..n / 32 {
        v /= 2;
    }
    ((v as u128 * table[(n % 32) as usize] as u128 / (1u128 << 32)) & M64) as u64
}

fn model_max(table: &[u32; 32]) -> u64 {
    let mut max = 0u64;
    loop {
        let next = max * table[1] as u64 / (1 << 32) + 1024;
        if next == max {
            return max;
        }
        max = next;
    }
}

impl Model {
    fn step(&mut self, t: &[u32; 32], now: u64, load: u64, runnable: u64, running: bool, w: u64) {
        let max = model_max(t);
        let elapsed = now.wrapping_sub(self.last);
        if elapsed > i64::MAX as u64 {
            // The clock went backwards.
            self.last = now;
            return;
        }
        let units = elapsed / 1024;
        if units == 0 {
            return;
        }
        self.last = self.last.wrapping_add(units * 1024);
        let (runnable, running) = if load == 0 {
            (0, false)
        } else {
            (runnable, running)
        };
        let total = units + self.contrib as u64;
        let periods = total / 1024;
        // Contribution of this step in units, as a u32 like the kernel's.
        let mut contrib = units as u32;
        if periods > 0 {
            self.load_sum = model_decay(t, self.load_sum, periods);
            self.runnable_sum = model_decay(t, self.runnable_sum, periods);
            self.util_sum = model_decay(t, self.util_sum as u64, periods) as u32;
            if load > 0 {
                let first = model_decay(t, (1024 - self.contrib) as u64, periods);
                let middle = max - model_decay(t, max, periods) - 1024;
                let last = total % 1024;
                contrib = (first + middle + last) as u32;
            }
            self.contrib = (total % 1024) as u32;
        } else {
            self.contrib = total as u32;
        }
        let c = contrib as u128;
        self.load_sum = ((self.load_sum as u128 + load as u128 * c) & M64) as u64;
        self.runnable_sum =
            ((self.runnable_sum as u128 + ((runnable as u128 * c) & M64) * 1024) & M64) as u64;
        if running {
            self.util_sum =
                ((self.util_sum as u64 + ((c as u64 * 1024) & 0xffff_ffff)) & 0xffff_ffff) as u32;
        }
        if periods > 0 {
            let div = (max - 1024 + self.contrib as u64) as u128;
            self.load_avg = (((w as u128 * self.load_sum as u128) & M64) / div) as u64;
            self.runnable_avg = (self.runnable_sum as u128 / div) as u64;
            self.util_avg = (self.util_sum as u128 / div) as u64;
        }
    }

    fn same(&self, sa: &SchedAvg) -> bool {
        *self
            == Model {
                last: sa.last_update_time,
                load_sum: sa.load_sum,
                runnable_sum: sa.runnable_sum,
                util_sum: sa.util_sum,
                contrib: sa.period_contrib,
                load_avg: sa.load_avg,
                runnable_avg: sa.runnable_avg,
                util_avg: sa.util_avg,
            }
    }
}

#[test]
fn table_and_max_agree_with_float_generation() {
    let t = float_table();
    assert_eq!(t, RUNNABLE_AVG_YN_INV);
    assert_eq!(model_max(&t), LOAD_AVG_MAX as u64);
}

/// One step: a clock gap (may be negative) and the inputs.
fn step_strategy() -> impl Strategy<Value = (i64, u64, u64, bool, u64)> {
    let gap = prop_oneof![
        Just(0i64),
        1i64..1024,
        1024i64..(1 << 20),
        0i64..(64 << 20),
        (2017i64 << 20)..(5000i64 << 20),
        -(8i64 << 20)..0,
    ];
    let load = prop_oneof![
        Just(0u64),
        Just(1u64),
        Just(1024u64),
        0u64..(1 << 30),
        any::<u64>()
    ];
    (
        gap,
        load,
        0u64..8,
        any::<bool>(),
        prop_oneof![Just(1u64), Just(1024u64), any::<u64>()],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn update_matches_model(start in any::<u64>(), steps in prop::collection::vec(step_strategy(), 1..200)) {
        let t = float_table();
        let mut sa = SchedAvg::starting_at(start);
        let mut m = Model { last: start, ..Model::default() };
        let mut now = start;
        for (gap, load, runnable, running, w) in steps {
            now = now.wrapping_add_signed(gap);
            sa.update(now, load, runnable, running, w);
            m.step(&t, now, load, runnable, running, w);
            prop_assert!(m.same(&sa), "model {:?} vs {:?}", m, sa);
        }
    }

    #[test]
    fn decay_matches_model(val in any::<u64>(), n in 0u64..2100) {
        prop_assert_eq!(decay_load(val, n), model_decay(&float_table(), val, n));
    }

    #[test]
    fn decay_never_grows(val in any::<u64>(), n in 0u64..2100) {
        prop_assert!(decay_load(val, n) <= val);
        prop_assert!(decay_load(val, n + 1) <= decay_load(val, n));
    }

    #[test]
    fn task_signals_stay_in_range(steps in prop::collection::vec((0u64..(40 << 20), any::<bool>(), any::<bool>()), 1..300)) {
        let mut sa = SchedAvg::new();
        let mut now = 0u64;
        for (gap, on_rq, running) in steps {
            now += gap;
            let load = on_rq as u64;
            sa.update(now, load, load, running && on_rq, 1024);
            prop_assert!(sa.period_contrib < 1024);
            prop_assert!(sa.util_avg <= 1024 && sa.runnable_avg <= 1024 && sa.load_avg <= 1024);
            prop_assert!(sa.util_sum as u64 <= LOAD_AVG_MAX as u64 * 1024);
            prop_assert!(sa.util_avg <= sa.runnable_avg);
            prop_assert!(now - sa.last_update_time < 1024);
        }
    }
}
