//! Core compaction and the power modes: from the measured utilisation, which cores work goes to
//! and whether to ask for the highest frequency. Pure logic, driven by main.rs every tick.

use crate::layout::Core;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every CPU in use, highest frequency hint.
    Performance,
    /// The fewest cores that carry the load with little headroom.
    Powersave,
    /// Compact with more headroom while the machine is lightly loaded, performance above.
    Autopilot,
}

impl Mode {
    /// The name shown in the stats.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Performance => "performance",
            Mode::Powersave => "powersave",
            Mode::Autopilot => "autopilot",
        }
    }
}

/// Headroom over the measured load when compacting: powersave packs tightly, autopilot leaves
/// room for bursts.
const POWERSAVE_HEADROOM: f64 = 1.25;
const AUTOPILOT_HEADROOM: f64 = 1.6;
/// Autopilot turns to performance above this share of the machine's capacity, and back to
/// compaction below the lower one (hysteresis: no flapping around one value).
const AUTOPILOT_PERF_ABOVE: f64 = 0.5;
const AUTOPILOT_PERF_BELOW: f64 = 0.35;
/// Ticks the load must stay low before the active set shrinks (it grows at once).
const SHRINK_AFTER_TICKS: u32 = 5;

/// One tick's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Keep work on `active` (false: every CPU may be used).
    pub compact: bool,
    /// Ask for the highest frequency everywhere.
    pub perf_max: bool,
    /// The active CPUs, sorted.
    pub active: Vec<usize>,
    /// The policy in force: "performance" or "compact".
    pub policy: &'static str,
    /// Waiting tasks per active CPU before the BPF side wakes an inactive CPU.
    pub expand_backlog: u32,
}

/// The planner's state across ticks.
#[derive(Debug, Clone)]
pub struct Planner {
    mode: Mode,
    order: Vec<Core>,
    /// Cores currently active (a prefix of `order`, plus cores the BPF side expanded to).
    nr_active: usize,
    low_ticks: u32,
    autopilot_perf: bool,
}

impl Planner {
    /// A planner for `mode` over cores in preference order (see [`crate::layout::Layout`]).
    pub fn new(mode: Mode, order: Vec<Core>) -> Self {
        let nr = order.len();
        Self {
            mode,
            order,
            nr_active: nr,
            low_ticks: 0,
            autopilot_perf: false,
        }
    }

    /// Total capacity of the machine, in CPUs of the largest capacity.
    pub fn capacity(&self) -> f64 {
        self.order.iter().map(|c| c.capacity).sum()
    }

    /// Decide for a measured load of `util` (busy CPUs, capacity-weighted) given the CPUs the
    /// BPF side woke outside the active set since the last tick (`expanded`).
    pub fn decide(&mut self, util: f64, expanded: &[usize]) -> Decision {
        let all = self.order.len();
        let share = util / self.capacity().max(1e-9);
        let headroom = match self.mode {
            Mode::Performance => return self.everything(),
            Mode::Powersave => POWERSAVE_HEADROOM,
            Mode::Autopilot => {
                if share >= AUTOPILOT_PERF_ABOVE {
                    self.autopilot_perf = true;
                } else if share < AUTOPILOT_PERF_BELOW {
                    self.autopilot_perf = false;
                }
                if self.autopilot_perf {
                    return self.everything();
                }
                AUTOPILOT_HEADROOM
            }
        };
        let need = util * headroom;
        let mut want = 0;
        let mut cap = 0.0;
        while want < all && (want == 0 || cap < need) {
            cap += self.order[want].capacity;
            want += 1;
        }
        // Cores the BPF side had to wake count as needed in autopilot: it only does so under
        // pressure. Powersave treats them as a passing overflow: they leave again at this tick
        // unless the measured load asks for them.
        let beyond = if self.mode == Mode::Powersave {
            0
        } else {
            self.order[self.nr_active.min(all)..]
                .iter()
                .filter(|c| c.cpus.iter().any(|cpu| expanded.contains(cpu)))
                .count()
        };
        if beyond > 0 {
            want = want.max((self.nr_active + beyond).min(all));
        }
        if want >= self.nr_active {
            self.nr_active = want;
            self.low_ticks = 0;
        } else {
            self.low_ticks += 1;
            if self.low_ticks >= SHRINK_AFTER_TICKS {
                self.nr_active = want;
                self.low_ticks = 0;
            }
        }
        let mut active: Vec<usize> = self.order[..self.nr_active]
            .iter()
            .flat_map(|c| c.cpus.iter().copied())
            .collect();
        active.sort_unstable();
        Decision {
            compact: self.nr_active < all,
            perf_max: false,
            active,
            policy: "compact",
            expand_backlog: if self.mode == Mode::Powersave { 2 } else { 1 },
        }
    }

    fn everything(&mut self) -> Decision {
        self.nr_active = self.order.len();
        self.low_ticks = 0;
        let mut active: Vec<usize> = self.order.iter().flat_map(|c| c.cpus.clone()).collect();
        active.sort_unstable();
        Decision {
            compact: false,
            perf_max: true,
            active,
            policy: "performance",
            expand_backlog: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cores(n: usize) -> Vec<Core> {
        (0..n)
            .map(|c| Core {
                cpus: vec![c],
                capacity: 1.0,
            })
            .collect()
    }

    #[test]
    fn performance_uses_everything() {
        let mut p = Planner::new(Mode::Performance, cores(4));
        let d = p.decide(0.1, &[]);
        assert!(!d.compact && d.perf_max);
        assert_eq!(d.active, vec![0, 1, 2, 3]);
    }

    #[test]
    fn powersave_packs_light_load_and_grows_at_once() {
        let mut p = Planner::new(Mode::Powersave, cores(4));
        // Shrinking waits for the load to stay low.
        for _ in 0..SHRINK_AFTER_TICKS - 1 {
            assert_eq!(p.decide(0.2, &[]).active.len(), 4);
        }
        let d = p.decide(0.2, &[]);
        assert!(d.compact && !d.perf_max);
        assert_eq!(d.active, vec![0]);
        // Load rises: 1.0 busy CPU needs 1.25 -> two cores, at once.
        assert_eq!(p.decide(1.0, &[]).active, vec![0, 1]);
        // The BPF side woke CPU 3: in powersave a passing overflow, it does not join.
        assert_eq!(p.decide(1.0, &[3]).active.len(), 2);
        // Fully busy: no compaction left.
        assert!(!p.decide(4.0, &[]).compact);
    }

    #[test]
    fn autopilot_switches_with_hysteresis() {
        let mut p = Planner::new(Mode::Autopilot, cores(4));
        assert_eq!(p.decide(2.5, &[]).policy, "performance");
        // Between the thresholds: stays in performance.
        assert_eq!(p.decide(1.6, &[]).policy, "performance");
        assert_eq!(p.decide(0.5, &[]).policy, "compact");
        assert_eq!(p.decide(1.6, &[]).policy, "compact");
        // In autopilot a core the BPF side had to wake joins the set.
        for _ in 0..SHRINK_AFTER_TICKS {
            p.decide(0.5, &[]);
        }
        assert_eq!(p.decide(0.5, &[]).active, vec![0]);
        assert_eq!(p.decide(0.5, &[3]).active, vec![0, 1]);
    }

    #[test]
    fn big_cores_are_used_first() {
        let order = vec![
            Core {
                cpus: vec![2, 3],
                capacity: 2.0,
            },
            Core {
                cpus: vec![0],
                capacity: 0.4,
            },
        ];
        let mut p = Planner::new(Mode::Powersave, order);
        for _ in 0..SHRINK_AFTER_TICKS {
            p.decide(0.5, &[]);
        }
        assert_eq!(p.decide(0.5, &[]).active, vec![2, 3]);
    }
}
