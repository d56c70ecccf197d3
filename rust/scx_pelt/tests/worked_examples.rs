//! Every worked example of the shared PELT notes (`shared/docs/pelt.md`), reproduced.

use scx_pelt::avg::decay_load;
use scx_pelt::util_est::{self, UTIL_AVG_UNCHANGED};
use scx_pelt::{
    SchedAvg, TaskPelt, LOAD_AVG_MAX, PELT_MIN_DIVIDER, PERIOD_NS, RUNNABLE_AVG_YN_INV,
};

const MS: u64 = 1_000_000;

#[test]
fn constants_and_table() {
    assert_eq!(LOAD_AVG_MAX, 47742);
    assert_eq!(PELT_MIN_DIVIDER, 46718);
    assert_eq!(RUNNABLE_AVG_YN_INV[1], 0xfa83b2da);
    assert_eq!(RUNNABLE_AVG_YN_INV[16], 0xb504f333);
    assert_eq!(RUNNABLE_AVG_YN_INV[31], 0x82cd8698);
    assert_eq!(decay_load(1024, 32), 511);
    assert_eq!(decay_load(47742, 1), 46718);
}

fn always_running_one_update(periods: u64) -> u64 {
    let mut sa = SchedAvg::new();
    sa.update(periods * PERIOD_NS, 1, 1, true, 1024);
    sa.util_avg
}

fn always_running_every(step: u64, total: u64) -> SchedAvg {
    let mut sa = SchedAvg::new();
    let mut now = 0;
    while now < total {
        now += step;
        sa.update(now, 1, 1, true, 1024);
    }
    sa
}

#[test]
fn always_running_table() {
    for (periods, one, every) in [
        (1, 21, 21),
        (32, 512, 512),
        (64, 768, 768),
        (345, 1023, 1024),
    ] {
        assert_eq!(
            always_running_one_update(periods),
            one,
            "{periods} periods, one update"
        );
        let sa = always_running_every(PERIOD_NS, periods * PERIOD_NS);
        assert_eq!(sa.util_avg, every, "{periods} periods, update every period");
        assert_eq!(sa.runnable_avg, every);
        // load_avg = 1024 * load_sum / divider lands one unit lower at saturation.
        assert!(sa.load_avg == every || (every == 1024 && sa.load_avg == 1023));
    }
}

#[test]
fn always_running_every_ms() {
    for (ms, util) in [(32, 495), (64, 751), (345, 1023)] {
        assert_eq!(always_running_every(MS, ms * MS).util_avg, util, "{ms} ms");
    }
}

#[test]
fn idle_from_saturation() {
    let mut sat = SchedAvg::new();
    sat.update(1000 * PERIOD_NS, 1, 1, true, 1024);
    assert_eq!(sat.util_avg, 1024);
    for (idle, util) in [(32, 511), (64, 255)] {
        let mut sa = sat;
        sa.update((1000 + idle) * PERIOD_NS, 0, 0, false, 1024);
        assert_eq!(sa.util_avg, util, "idle {idle} periods");
    }
}

/// Steady-state (min, max) of util_avg for a task running `on` and sleeping `on`.
fn duty_cycle_band(on: u64) -> (u64, u64) {
    let mut sa = SchedAvg::new();
    let mut now = 0;
    let (mut lo, mut hi) = (u64::MAX, 0);
    for cycle in 0..3000 {
        now += on;
        sa.update(now, 1, 1, true, 1024);
        let peak = sa.util_avg;
        now += on;
        sa.update(now, 0, 0, false, 1024);
        if cycle >= 1000 {
            hi = hi.max(peak);
            lo = lo.min(sa.util_avg);
        }
    }
    (lo, hi)
}

#[test]
fn duty_cycle_bands() {
    // The notes give the bands with their edges rounded from the continuous-time values; the
    // discrete simulation touches them to within one unit (4/4 ms reaches 490, 16/16 ms 595).
    for (ms, lo, hi) in [(1, 506, 517), (4, 491, 533), (16, 428, 596), (32, 348, 675)] {
        let (got_lo, got_hi) = duty_cycle_band(ms * MS);
        assert!(
            got_lo + 1 >= lo && got_lo <= lo,
            "{ms}/{ms} ms: min {got_lo} vs band {lo}"
        );
        assert!(
            got_hi <= hi && got_hi + 1 >= hi,
            "{ms}/{ms} ms: max {got_hi} vs band {hi}"
        );
    }
    assert_eq!(duty_cycle_band(MS), (506, 517));
    assert_eq!(duty_cycle_band(32 * MS), (348, 675));
}

#[test]
fn two_tasks_sharing_a_cpu() {
    let mut t = [TaskPelt::new(), TaskPelt::new()];
    t[0].runnable(0, 1024);
    t[1].runnable(0, 1024);
    let mut now = 0;
    for i in 0..2000 {
        let k = i % 2;
        t[k].running(now);
        now += MS;
        t[k].stopping(now);
    }
    // Task 1 just ran its slice; task 0 waited through it.
    let mut waiting = t[0];
    waiting.update(now);
    assert_eq!(waiting.avg.util_avg, 506);
    assert_eq!(waiting.avg.runnable_avg, 1024);
    // load 1023 at a period boundary, as in the notes.
    let mut at_boundary = waiting;
    let next = (now / PERIOD_NS + 1) * PERIOD_NS;
    at_boundary.update(next);
    assert_eq!(at_boundary.avg.runnable_avg, 1024);
    assert!((1023..=1024).contains(&waiting.avg.load_avg));
}

#[test]
fn long_idle_zeroes_everything() {
    let mut sa = always_running_every(PERIOD_NS, 400 * PERIOD_NS);
    sa.update(sa.last_update_time + 2017 * PERIOD_NS, 0, 0, false, 1024);
    assert_eq!(
        (
            sa.load_sum,
            sa.runnable_sum,
            sa.util_sum,
            sa.load_avg,
            sa.runnable_avg,
            sa.util_avg
        ),
        (0, 0, 0, 0, 0, 0)
    );
}

#[test]
fn under_1024_ns_changes_nothing() {
    let mut sa = always_running_every(PERIOD_NS, 10 * PERIOD_NS);
    let before = sa;
    assert!(!sa.update(sa.last_update_time + 1023, 1, 1, true, 1024));
    assert_eq!(sa, before);
}

#[test]
fn util_est_cases() {
    for (ewma, dequeued, runnable, want) in [
        (600, 200, 0, 500),
        (600, 595, 0, 600),
        (300, 500, 0, 500),
        (600, 200, 400, 600),
    ] {
        let mut sa = SchedAvg {
            util_est: ewma,
            util_avg: dequeued,
            runnable_avg: runnable,
            ..SchedAvg::new()
        };
        assert!(util_est::dequeue(&mut sa, true, 1024));
        assert_eq!(
            sa.util_est,
            want | UTIL_AVG_UNCHANGED,
            "({ewma}, {dequeued}, {runnable})"
        );
    }
}
