//! The deadline policy, kept free of BPF so that its ordering can be unit-tested.
//!
//! Fairness comes from a virtual runtime per task: the CPU time it used, divided by its weight
//! (nice 0 = 100). The policy keeps a clock that follows the vruntimes it starts, moving at most
//! one maximum slice per start (so a light task far ahead cannot drag it, and every sleeper with
//! it, along); a task that slept may lag behind the clock by at most one maximum slice, so
//! sleeping earns a little credit but cannot bank an unbounded amount.
//!
//! Order is by deadline = vruntime + the CPU time the task used since it last woke up (also
//! weighted, at most one maximum slice). A task that sleeps often (interactive: short bursts
//! between waits) has a small second term and so runs before a CPU hog with the same vruntime;
//! a hog's deadline moves further out the longer it runs without sleeping.
//!
//! Slices shrink as more tasks wait: the maximum slice times nr_cpus / (waiting + nr_cpus), never
//! below the minimum slice, so latency stays bounded under load and throughput stays high when CPUs
//! are free. A task lighter than nice 0 gets its slice scaled by its weight (still at least the
//! minimum), and no task's vruntime is more than [`MAX_LEAD_SLICES`] maximum slices ahead of the
//! clock: one 20 ms run of a nice-19 task (weight 1) is otherwise charged 2 s, which a dozen busy
//! tasks on 2 CPUs take 12 s or more to catch up with; a kthread preempted inside an RCU read-side
//! section then holds up RCU until the kernel ejects the scheduler (`vm-rustland-default` under the
//! stress mix: an RCU stall while khugepaged, nice 19, had waited 7.4 s). Nice levels hold between
//! tasks within the lead; a lighter one gets at least a minimum slice per lead. These are the rules
//! of scx_utils' `scx/vtime.bpf.h` (`scx_weighted_slice`, the 8-slice lead of `scx_vtime_place`)
//! for BPF schedulers, here in user space. Each task is sent to its previous CPU if that CPU is
//! idle, else to another idle CPU, else to the shared queue ordered by deadline; but a task an
//! interrupt woke that qualifies for a fast wake (below) preempts its previous CPU instead.
//!
//! Fast wakes: a task that woke after a short burst (at most the fast-wake bound, 5 ms by
//! default) and whose vruntime is not ahead of the clock (it has used no more than its share)
//! gets a grant for its next wake-up: if a timer or device wakes it after a burst as short, the
//! BPF side runs it at once in place of the task on its CPU, without waiting for this thread
//! (scx_rustland_core's `DispatchedTask::fast_burst_ns`). The run is charged when its record arrives, and the grant
//! renewed only while both conditions hold, so a task that starts to run long or to take more
//! than its share goes back to waiting in deadline order.

use scx_rustland_core::QueuedTask;
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// Weight of a nice-0 task.
const NICE0: u64 = 100;
/// The wake-up burst that still counts fully toward the deadline, in maximum slices. One: a
/// larger cap kept a CPU hog's deadline that much behind every task that sleeps, and with the
/// sleeping-credit floor it then ran only when no such task waited (stress-ng's cpu stressor
/// got 0.17x its EEVDF throughput next to its pipe stressor on one vCPU with a cap of ten).
const MAX_BURST_SLICES: u64 = 1;
/// How far ahead of the clock a vruntime may be, in maximum slices (see the module doc).
const MAX_LEAD_SLICES: u64 = 8;

/// A task in the queue with the keys computed for it.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// Smaller runs first.
    pub deadline: u64,
    /// Its vruntime after charging the CPU time it reported.
    pub vtime: u64,
    /// The task as the BPF side queued it.
    pub task: QueuedTask,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    // The sequence number is unique per enqueue, so no two entries compare equal and ties
    // on the deadline go to the task queued first.
    fn cmp(&self, o: &Self) -> Ordering {
        (self.deadline, self.task.seq).cmp(&(o.deadline, o.task.seq))
    }
}

/// The policy's state.
#[derive(Debug)]
pub struct Deadline {
    queue: BTreeSet<Entry>,
    clock: u64,
    slice_max_ns: u64,
    slice_min_ns: u64,
    fast_burst_ns: u64,
}

impl Deadline {
    /// A policy with slices between `slice_min_ns` and `slice_max_ns`, granting fast wakes to
    /// bursts of at most a quarter of the longest slice.
    pub fn new(slice_min_ns: u64, slice_max_ns: u64) -> Self {
        Self {
            queue: BTreeSet::new(),
            clock: 0,
            slice_max_ns,
            slice_min_ns: slice_min_ns.min(slice_max_ns),
            fast_burst_ns: slice_max_ns / 4,
        }
    }

    /// Grant fast wakes to bursts of at most `ns` (0: no fast wakes).
    pub fn with_fast_burst(mut self, ns: u64) -> Self {
        self.fast_burst_ns = ns;
        self
    }

    /// Tasks waiting in the queue.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// `task`'s vruntime after charging the CPU time it reported.
    fn charge(&self, task: &QueuedTask) -> u64 {
        let floor = self.clock.saturating_sub(self.slice_max_ns);
        let start = if task.vtime == 0 {
            self.clock
        } else {
            task.vtime.max(floor)
        };
        // The cap is measured from the clock, not from the task's previous vtime: from there,
        // every run of a light task added another lead, and a nice-19 hog under the stress mix
        // ran away seconds ahead and waited 26 s for its next turn.
        let lead = MAX_LEAD_SLICES * self.slice_max_ns;
        (start + task.runtime_ns * NICE0 / task.weight.max(1)).min(self.clock + lead)
    }

    /// Charge `task` for the CPU time it reported, compute its deadline and queue it. Returns
    /// whether it counts as interactive (its burst since waking was shorter than a minimum
    /// slice).
    pub fn enqueue(&mut self, task: QueuedTask) -> bool {
        let vtime = self.charge(&task);
        // (weighted, then capped: a light task's burst would otherwise put it seconds out)
        let cap = MAX_BURST_SLICES * self.slice_max_ns;
        let burst = task.exec_runtime_ns.min(cap);
        let deadline = vtime + (burst * NICE0 / task.weight.max(1)).min(cap);
        self.queue.insert(Entry {
            deadline,
            vtime,
            task,
        });
        task.exec_runtime_ns < self.slice_min_ns
    }

    /// The fast-wake grant for `task` dispatched with vruntime `vtime`: the longest burst its
    /// next wake-up may end to run at once (0: none). Only a task that woke after a short burst
    /// and is not ahead of the clock gets one.
    pub fn grant(&self, task: &QueuedTask, vtime: u64) -> u64 {
        if task.wakeup && task.burst_ns <= self.fast_burst_ns && vtime <= self.clock {
            self.fast_burst_ns
        } else {
            0
        }
    }

    /// Whether `task`, dispatched with vruntime `vtime` and finding no idle CPU, should preempt
    /// its previous CPU: an interrupt woke it and the wake-up would have been fast had its
    /// grant been renewed in time (the answer to its previous fast record is applied only at a
    /// CPU's next dispatch, and a pinned task can wait nowhere else). The round trip then ends
    /// the way a fast wake would have begun.
    pub fn preempts(&self, task: &QueuedTask, vtime: u64) -> bool {
        task.irq_wake && self.grant(task, vtime) > 0 && task.may_run_on(task.cpu)
    }

    /// The answer to a task the BPF side ran on a grant: its charged vruntime and next grant.
    pub fn ran_fast(&self, task: &QueuedTask) -> (u64, u64) {
        let vtime = self.charge(task);
        (vtime, self.grant(task, vtime))
    }

    /// The task with the earliest deadline and its slice for `nr_cpus` CPUs.
    pub fn pop(&mut self, nr_cpus: usize) -> Option<(Entry, u64)> {
        let e = self.queue.pop_first()?;
        // At most one maximum slice per start: a light task's vruntime may be far ahead, and
        // the clock jumping there would pull every other task up with it (the sleeping-credit
        // floor), giving the light task back the lead its weight cost it.
        self.clock = self.clock.max(e.vtime.min(self.clock + self.slice_max_ns));
        let cpus = nr_cpus.max(1) as u64;
        let waiting = self.queue.len() as u64;
        let mut slice = self.slice_max_ns * cpus / (waiting + cpus);
        if e.task.weight < NICE0 {
            slice = slice * e.task.weight.max(1) / NICE0;
        }
        Some((e, slice.max(self.slice_min_ns)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(pid: i32, seq: u64, vtime: u64, runtime: u64, burst: u64) -> QueuedTask {
        QueuedTask {
            pid,
            cpu: 0,
            seq,
            wakeup: true,
            irq_wake: false,
            weight: 100,
            runtime_ns: runtime,
            exec_runtime_ns: burst,
            burst_ns: burst,
            fast: false,
            vtime,
            enq_ns: 0,
            cpumask_lo: 1,
            nr_cpus_allowed: 1,
        }
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn sleeper_runs_before_hog_with_same_vruntime() {
        let mut p = Deadline::new(MS, 20 * MS);
        assert!(!p.enqueue(task(1, 1, 100 * MS, MS, 50 * MS)));
        assert!(p.enqueue(task(2, 2, 100 * MS, MS, 100_000)));
        assert_eq!(p.pop(1).unwrap().0.task.pid, 2);
        assert_eq!(p.pop(1).unwrap().0.task.pid, 1);
        assert!(p.pop(1).is_none());
    }

    #[test]
    fn lower_vruntime_runs_first_and_weight_scales_the_charge() {
        let mut p = Deadline::new(MS, 20 * MS);
        p.enqueue(task(1, 1, 200 * MS, 0, 0));
        p.enqueue(task(2, 2, 150 * MS, 0, 0));
        let mut heavy = task(3, 3, 150 * MS, 10 * MS, 0);
        heavy.weight = 1000;
        p.enqueue(heavy);
        let order: Vec<_> = std::iter::from_fn(|| p.pop(1))
            .map(|(e, _)| e.task.pid)
            .collect();
        // pid 3 is charged 1 ms (10 ms at ten times the weight): 151 ms, after pid 2's 150 ms.
        assert_eq!(order, [2, 3, 1]);
    }

    #[test]
    fn sleeping_credit_is_capped_at_one_max_slice() {
        let mut p = Deadline::new(MS, 20 * MS);
        p.clock = 1000 * MS;
        // A task that slept long comes back with an old vruntime: it starts one max slice
        // behind the clock, not 990 ms behind.
        p.enqueue(task(2, 2, 10 * MS, 0, 0));
        let (e, _) = p.pop(1).unwrap();
        assert_eq!(e.vtime, 980 * MS);
    }

    #[test]
    fn slices_shrink_with_waiting_tasks_but_not_below_min() {
        let mut p = Deadline::new(MS, 20 * MS);
        for i in 0..8 {
            p.enqueue(task(i, i as u64 + 1, 0, 0, 0));
        }
        // 7 still waiting on 1 CPU: 20 ms / 8.
        assert_eq!(p.pop(1).unwrap().1, 20 * MS / 8);
        let mut p = Deadline::new(MS, 20 * MS);
        for i in 0..100 {
            p.enqueue(task(i, i as u64 + 1, 0, 0, 0));
        }
        assert_eq!(p.pop(1).unwrap().1, MS);
        let mut p = Deadline::new(MS, 20 * MS);
        p.enqueue(task(1, 1, 0, 0, 0));
        assert_eq!(p.pop(4).unwrap().1, 20 * MS);
    }

    #[test]
    fn fast_wake_grants_follow_burst_and_share() {
        let mut p = Deadline::new(MS, 20 * MS).with_fast_burst(MS);
        // Hogs have moved the clock to 100 ms.
        p.clock = 100 * MS;
        // A short sleeper behind the clock gets a grant of one minimum slice.
        let sleeper = task(2, 2, 90 * MS, 200_000, 200_000);
        assert_eq!(p.grant(&sleeper, p.charge(&sleeper)), MS);
        // A long burst gets none, nor does a preempted (not waking) task.
        assert_eq!(p.grant(&task(3, 3, 90 * MS, 0, 2 * MS), 90 * MS), 0);
        assert_eq!(Deadline::new(MS, 20 * MS).fast_burst_ns, 5 * MS);
        let off = Deadline::new(MS, 20 * MS).with_fast_burst(0);
        assert_eq!(off.grant(&task(4, 4, 0, 0, 0), 0), 0);
        let mut preempted = sleeper;
        preempted.wakeup = false;
        assert_eq!(p.grant(&preempted, 90 * MS), 0);
        // Charged for what it ran on the grant; once ahead of the clock, the grant stops.
        let mut fast = sleeper;
        fast.fast = true;
        fast.runtime_ns = 5 * MS;
        assert_eq!(p.ran_fast(&fast), (95 * MS, MS));
        fast.vtime = 99 * MS;
        fast.runtime_ns = 2 * MS;
        assert_eq!(p.ran_fast(&fast), (101 * MS, 0));
        // A heavier task is charged less for the same run.
        fast.weight = 200;
        assert_eq!(p.ran_fast(&fast).0, 100 * MS);
    }

    #[test]
    fn only_an_interrupt_wake_that_would_have_been_fast_preempts() {
        let mut p = Deadline::new(MS, 20 * MS).with_fast_burst(MS);
        p.clock = 100 * MS;
        let mut timer = task(2, 2, 90 * MS, 200_000, 200_000);
        timer.irq_wake = true;
        assert!(p.preempts(&timer, 90 * MS));
        // Woken by another task (a chain), or not a wake-up at all: no.
        let mut chained = timer;
        chained.irq_wake = false;
        assert!(!p.preempts(&chained, 90 * MS));
        let mut requeued = timer;
        requeued.wakeup = false;
        assert!(!p.preempts(&requeued, 90 * MS));
        // A long burst, or ahead of the clock: it waits in deadline order.
        let mut long = timer;
        long.burst_ns = 2 * MS;
        assert!(!p.preempts(&long, 90 * MS));
        assert!(!p.preempts(&timer, 101 * MS));
        // Its previous CPU is no longer one it may use: nowhere to preempt.
        let mut moved = timer;
        moved.cpumask_lo = 0b10;
        assert!(!p.preempts(&moved, 90 * MS));
    }

    #[test]
    fn a_light_task_is_never_far_ahead_and_gets_short_slices() {
        let mut p = Deadline::new(MS, 20 * MS);
        p.clock = 100 * MS;
        // A nice-19 task (weight 1) that ran 20 ms would be charged 2 s: it is queued at most
        // 8 max slices (160 ms) ahead of the clock, its deadline one max slice further.
        let mut light = task(2, 2, 100 * MS, 20 * MS, 20 * MS);
        light.weight = 1;
        p.enqueue(light);
        // Twelve nice-0 hogs that each run 10 ms per turn: the light task runs once they have
        // caught up the 180 ms (18 rounds, 216 turns), not 4 s later (about 4,800 turns).
        for i in 0..12 {
            p.enqueue(task(10 + i, 10 + i as u64, 100 * MS, 0, 0));
        }
        let mut seq = 100;
        let mut turns = 0;
        loop {
            let (e, _) = p.pop(2).unwrap();
            if e.task.pid == 2 {
                break;
            }
            turns += 1;
            assert!(
                turns <= 250,
                "the light task still waits after {turns} turns"
            );
            seq += 1;
            p.enqueue(task(e.task.pid, seq, e.vtime, 10 * MS, 10 * MS));
        }
        assert!(
            turns >= 200,
            "it went {turns} turns early: nice no longer holds"
        );

        let mut p = Deadline::new(MS, 20 * MS);
        p.clock = 100 * MS;
        p.enqueue(light);
        let (e, slice) = p.pop(2).unwrap();
        assert_eq!(e.vtime, 100 * MS + 160 * MS);
        assert_eq!(e.deadline, e.vtime + 20 * MS);
        // its slice: 20 ms scaled by weight 1/100, raised to the 1 ms minimum
        assert_eq!(slice, MS);
        // a weight-30 task gets 30 % of the slice; a heavier one than nice 0 the full slice
        let mut mid = task(3, 3, 0, 0, 0);
        mid.weight = 30;
        p.enqueue(mid);
        assert_eq!(p.pop(2).unwrap().1, 6 * MS);
        let mut heavy = task(4, 4, 0, 0, 0);
        heavy.weight = 1000;
        p.enqueue(heavy);
        assert_eq!(p.pop(2).unwrap().1, 20 * MS);
    }

    #[test]
    fn a_light_task_run_again_and_again_stays_within_the_lead() {
        let mut p = Deadline::new(MS, 20 * MS);
        p.clock = 100 * MS;
        let mut light = task(1, 1, 100 * MS, 8 * MS, 8 * MS);
        light.weight = 1;
        light.wakeup = false;
        for seq in 2..20 {
            // each run of 8 ms is charged 800 ms: the lead caps it, every time
            let clock = p.clock;
            p.enqueue(light);
            let (e, _) = p.pop(2).unwrap();
            assert!(
                e.vtime <= clock + 160 * MS,
                "run {seq}: vtime {} ms is more than 8 max slices ahead of the clock {} ms",
                e.vtime / MS,
                clock / MS
            );
            light.vtime = e.vtime;
            light.seq = seq;
        }
    }

    #[test]
    fn the_clock_moves_at_most_one_max_slice_per_start() {
        let mut p = Deadline::new(MS, 20 * MS);
        p.clock = 100 * MS;
        let mut light = task(1, 1, 100 * MS, 20 * MS, 0);
        light.weight = 1;
        p.enqueue(light);
        p.enqueue(task(2, 2, 90 * MS, 0, 0));
        // the nice-0 task first, then the light one, 160 ms ahead: the clock only steps 20 ms
        assert_eq!(p.pop(1).unwrap().0.task.pid, 2);
        assert_eq!(p.clock, 100 * MS);
        assert_eq!(p.pop(1).unwrap().0.vtime, 260 * MS);
        assert_eq!(p.clock, 120 * MS);
        // so a task that comes back from a sleep is floored at 100 ms, not dragged to 240 ms
        p.enqueue(task(3, 3, 50 * MS, 0, 0));
        assert_eq!(p.pop(1).unwrap().0.vtime, 100 * MS);
    }

    #[test]
    fn equal_deadlines_keep_queue_order() {
        let mut p = Deadline::new(MS, 20 * MS);
        p.enqueue(task(7, 9, 5 * MS, 0, 0));
        p.enqueue(task(8, 3, 5 * MS, 0, 0));
        assert_eq!(p.len(), 2);
        assert_eq!(p.pop(1).unwrap().0.task.pid, 8);
    }
}
