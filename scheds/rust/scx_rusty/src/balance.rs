//! The user-space load balancer: every balance interval, compare each domain's load with its
//! share of the machine's and move tasks from over- to under-loaded domains.
//!
//! Load. A task's load is its PELT `load_avg` (the share of time it was runnable, times its load
//! weight: 1024 for an always-runnable nice-0 task), as the BPF side last published it, decayed
//! by PELT's 32 ms half-life for the time since (a task that went to sleep stops counting).
//!
//! Infeasible weights. A task cannot use more than one CPU, so no task's load may count for more
//! than one CPU's share of the machine. The rule: with total load L over N CPUs, the heaviest
//! task above L / N is set aside with one CPU and the share is recomputed over the rest, until no
//! task is above it; each task set aside then counts as that final share, but never less than
//! its own runnable share (`runnable_avg`, 0..1024: what it would weigh at nice 0, so a task
//! that wants a whole CPU counts as one whole nice-0 CPU when there is room for everyone).
//! Without this, one heavy (low nice) task would make its domain look overloaded however many
//! other CPUs it left idle, and the balancer would empty the domain of everything else around
//! it.
//!
//! Moves. A domain's target is the machine's load times its share of the CPUs. While the most
//! loaded domain is above its target by more than the threshold (a share of one CPU's fair load)
//! and another is below, a task moves from the first to the second: a domain of the same NUMA
//! node first, another node only when the imbalance is twice the threshold (a remote node costs
//! memory bandwidth). The task chosen is the one whose load best matches what the receiver
//! lacks, among those allowed there (a pinned task never moves; a task whose CPU mask excludes
//! a domain never goes there) and not moved in the last two intervals (no ping-pong). Each move
//! must shrink the pair's combined imbalance. At most `max_moves` tasks move per interval.

use std::collections::HashMap;

/// One task as the balancer sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskLoad {
    pub pid: u32,
    pub dom: usize,
    pub load: f64,
    /// PELT runnable_avg, 0..=1024.
    pub runnable: f64,
    /// Bit d: the task may run in domain d.
    pub dom_allowed: u64,
}

/// One domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomInfo {
    pub nr_cpus: usize,
    pub node: u32,
}

/// A task to move.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    pub pid: u32,
    pub from: usize,
    pub to: usize,
    pub load: f64,
}

/// What one balancing round found and decided.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// Each domain's load after capping, before the moves.
    pub dom_load: Vec<f64>,
    /// The largest distance of a domain from its target, in percent of one CPU's fair load.
    pub imbalance_pct: f64,
    pub moves: Vec<Move>,
}

/// Balancer settings and the memory of recent moves.
#[derive(Debug, Clone)]
pub struct Balancer {
    /// Imbalance worth acting on, as a share of one CPU's fair load.
    pub threshold: f64,
    pub max_moves: usize,
    round: u64,
    moved_at: HashMap<u32, u64>,
}

/// Cap each task's load (see the module documentation); `runnable` is each task's
/// `runnable_avg`. Returns the capped loads in the same order.
pub fn cap_infeasible(loads: &[f64], runnable: &[f64], nr_cpus: usize) -> Vec<f64> {
    let mut order: Vec<usize> = (0..loads.len()).collect();
    order.sort_by(|&a, &b| loads[b].total_cmp(&loads[a]));
    let (mut cpus_left, mut load_left) = (nr_cpus as f64, loads.iter().sum::<f64>());
    let mut nr_capped = 0;
    for &i in &order {
        if cpus_left < 1.0 || loads[i] <= load_left / cpus_left {
            break;
        }
        load_left -= loads[i];
        cpus_left -= 1.0;
        nr_capped += 1;
    }
    let share = if cpus_left >= 1.0 {
        load_left / cpus_left
    } else {
        0.0
    };
    let mut out = loads.to_vec();
    for &i in &order[..nr_capped] {
        out[i] = share.max(runnable[i].min(loads[i]));
    }
    out
}

impl Balancer {
    pub fn new(threshold: f64, max_moves: usize) -> Self {
        Self {
            threshold,
            max_moves,
            round: 0,
            moved_at: HashMap::new(),
        }
    }

    /// One balancing round over `tasks` in `doms`.
    pub fn plan(&mut self, tasks: &[TaskLoad], doms: &[DomInfo]) -> Plan {
        self.round += 1;
        let round = self.round;
        self.moved_at.retain(|_, r| round - *r <= 2);
        let nr_cpus: usize = doms.iter().map(|d| d.nr_cpus).sum();
        if doms.len() < 2 || nr_cpus == 0 {
            return Plan {
                dom_load: vec![tasks.iter().map(|t| t.load).sum(); doms.len()],
                ..Default::default()
            };
        }
        let loads = cap_infeasible(
            &tasks.iter().map(|t| t.load).collect::<Vec<_>>(),
            &tasks.iter().map(|t| t.runnable).collect::<Vec<_>>(),
            nr_cpus,
        );
        let mut dom_load = vec![0.0; doms.len()];
        for (t, l) in tasks.iter().zip(&loads) {
            if let Some(d) = dom_load.get_mut(t.dom) {
                *d += l;
            }
        }
        let total: f64 = dom_load.iter().sum();
        let per_cpu = total / nr_cpus as f64;
        let target: Vec<f64> = doms.iter().map(|d| per_cpu * d.nr_cpus as f64).collect();
        let imbalance_pct = if per_cpu > 0.0 {
            dom_load
                .iter()
                .zip(&target)
                .map(|(l, t)| (l - t).abs())
                .fold(0.0, f64::max)
                / per_cpu
                * 100.0
        } else {
            0.0
        };
        let mut plan = Plan {
            dom_load: dom_load.clone(),
            imbalance_pct,
            moves: Vec::new(),
        };
        let threshold = self.threshold * per_cpu;
        if per_cpu <= 0.0 {
            return plan;
        }
        // Which task is where now (moves update it).
        let mut where_: Vec<usize> = tasks.iter().map(|t| t.dom).collect();
        while plan.moves.len() < self.max_moves {
            let surplus = |d: usize, dl: &[f64]| dl[d] - target[d];
            let Some(from) = (0..doms.len())
                .filter(|&d| surplus(d, &dom_load) > threshold)
                .max_by(|&a, &b| surplus(a, &dom_load).total_cmp(&surplus(b, &dom_load)))
            else {
                break;
            };
            let node = doms[from].node;
            let receivers = |same_node: bool| {
                (0..doms.len())
                    .filter(|&d| d != from && (doms[d].node == node) == same_node)
                    .filter(|&d| -surplus(d, &dom_load) > threshold)
                    .max_by(|&a, &b| surplus(b, &dom_load).total_cmp(&surplus(a, &dom_load)))
            };
            let to = match receivers(true) {
                Some(d) => Some(d),
                None if surplus(from, &dom_load) > 2.0 * threshold => {
                    receivers(false).filter(|&d| -surplus(d, &dom_load) > 2.0 * threshold)
                }
                None => None,
            };
            let Some(to) = to else { break };
            let want = surplus(from, &dom_load).min(-surplus(to, &dom_load));
            let pick = tasks
                .iter()
                .enumerate()
                .filter(|(i, t)| {
                    where_[*i] == from
                        && to < 64
                        && t.dom_allowed & (1 << to) != 0
                        && !self.moved_at.contains_key(&t.pid)
                        && loads[*i] > 0.0
                        && loads[*i] < 2.0 * want
                })
                .min_by(|(i, _), (j, _)| {
                    (loads[*i] - want)
                        .abs()
                        .total_cmp(&(loads[*j] - want).abs())
                });
            let Some((i, t)) = pick else { break };
            dom_load[from] -= loads[i];
            dom_load[to] += loads[i];
            where_[i] = to;
            self.moved_at.insert(t.pid, round);
            plan.moves.push(Move {
                pid: t.pid,
                from,
                to,
                load: loads[i],
            });
        }
        plan
    }
}

/// PELT's decay over `ns` nanoseconds: halves every 32 periods of 1024 * 1024 ns.
pub fn pelt_decay(load: f64, ns: u64) -> f64 {
    load * 0.5f64.powf(ns as f64 / (32.0 * 1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_nodes() -> Vec<DomInfo> {
        vec![
            DomInfo {
                nr_cpus: 2,
                node: 0,
            },
            DomInfo {
                nr_cpus: 2,
                node: 1,
            },
        ]
    }

    fn hog(pid: u32, dom: usize) -> TaskLoad {
        TaskLoad {
            pid,
            dom,
            load: 1024.0,
            runnable: 1024.0,
            dom_allowed: 0b11,
        }
    }

    #[test]
    fn four_hogs_in_one_domain_become_two_and_two() {
        let mut b = Balancer::new(0.25, 8);
        let tasks: Vec<_> = (1..=4).map(|p| hog(p, 0)).collect();
        let plan = b.plan(&tasks, &two_nodes());
        assert_eq!(plan.dom_load, vec![4096.0, 0.0]);
        assert_eq!(plan.imbalance_pct, 200.0);
        assert_eq!(plan.moves.len(), 2, "{plan:?}");
        assert!(plan.moves.iter().all(|m| m.from == 0 && m.to == 1));
    }

    #[test]
    fn pinned_tasks_never_move() {
        let mut b = Balancer::new(0.25, 8);
        let mut tasks: Vec<_> = (1..=4).map(|p| hog(p, 0)).collect();
        for t in &mut tasks[..2] {
            t.dom_allowed = 0b01;
        }
        let plan = b.plan(&tasks, &two_nodes());
        assert!(plan.moves.iter().all(|m| m.pid > 2), "{plan:?}");
        assert_eq!(plan.moves.len(), 2);
        // All pinned: nothing to do.
        for t in &mut tasks {
            t.dom_allowed = 0b01;
        }
        let mut b = Balancer::new(0.25, 8);
        assert!(b.plan(&tasks, &two_nodes()).moves.is_empty());
    }

    #[test]
    fn balanced_or_small_imbalance_moves_nothing() {
        let mut b = Balancer::new(0.25, 8);
        let tasks = vec![hog(1, 0), hog(2, 0), hog(3, 1), hog(4, 1)];
        assert!(b.plan(&tasks, &two_nodes()).moves.is_empty());
        let mut tasks = tasks;
        tasks[0].load = 900.0;
        assert!(b.plan(&tasks, &two_nodes()).moves.is_empty());
    }

    #[test]
    fn same_node_first_then_remote_only_for_big_imbalance() {
        let doms = vec![
            DomInfo {
                nr_cpus: 2,
                node: 0,
            },
            DomInfo {
                nr_cpus: 2,
                node: 0,
            },
            DomInfo {
                nr_cpus: 2,
                node: 1,
            },
        ];
        let mut b = Balancer::new(0.25, 1);
        let tasks: Vec<_> = (1..=6)
            .map(|p| TaskLoad {
                dom_allowed: 0b111,
                ..hog(p, 0)
            })
            .collect();
        let plan = b.plan(&tasks, &doms);
        assert_eq!(plan.moves[0].to, 1, "same node first: {plan:?}");
    }

    #[test]
    fn recently_moved_tasks_stay_put() {
        let mut b = Balancer::new(0.25, 8);
        let tasks = vec![hog(1, 0), hog(2, 0), hog(3, 0)];
        let first = b.plan(&tasks, &two_nodes());
        assert_eq!(first.moves.len(), 1);
        let moved = first.moves[0].pid;
        // Pretend it bounced back: it must not be picked again right away.
        let again = b.plan(&tasks, &two_nodes());
        assert!(again.moves.iter().all(|m| m.pid != moved), "{again:?}");
    }

    #[test]
    fn infeasible_weight_is_capped_at_one_cpu() {
        // One nice -20 hog (88761) and three nice-0 hogs on 4 CPUs: the heavy one can use one
        // CPU only, so it counts as one CPU's share of the rest, not 96 % of everything.
        let r = [1024.0; 4];
        let capped = cap_infeasible(&[88761.0, 1024.0, 1024.0, 1024.0], &r, 4);
        assert!((capped[0] - 1024.0).abs() < 1e-6, "{capped:?}");
        assert_eq!(&capped[1..], &[1024.0, 1024.0, 1024.0]);
        // Feasible loads are untouched.
        assert_eq!(
            cap_infeasible(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0], 2),
            vec![1.0, 2.0, 3.0]
        );
        // Room for everyone: each always-runnable task counts as one nice-0 CPU.
        assert_eq!(
            cap_infeasible(&[88761.0, 1024.0], &[1024.0, 1024.0], 4),
            vec![1024.0, 1024.0]
        );
        assert_eq!(
            cap_infeasible(&[1024.0; 3], &[1024.0; 3], 4),
            vec![1024.0; 3]
        );
    }

    #[test]
    fn heavy_task_counts_as_one_cpu() {
        let mut b = Balancer::new(0.25, 8);
        let mut heavy = hog(1, 0);
        heavy.load = 88761.0;
        // Balanced by CPUs: a heavy and a nice-0 hog per 2-CPU domain. Nothing to move.
        let tasks = vec![heavy.clone(), hog(2, 0), hog(3, 1), hog(4, 1)];
        assert!(b.plan(&tasks, &two_nodes()).moves.is_empty());
        // All four in one domain: two move, the way four nice-0 hogs would.
        let tasks = vec![heavy, hog(2, 0), hog(3, 0), hog(4, 0)];
        let plan = Balancer::new(0.25, 8).plan(&tasks, &two_nodes());
        assert_eq!(plan.moves.len(), 2, "{plan:?}");
    }

    #[test]
    fn decay_halves_every_32_periods() {
        let half = pelt_decay(1024.0, 32 * 1024 * 1024);
        assert!((half - 512.0).abs() < 1e-9);
    }
}
