/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_rusty (BPF side): per-LLC domains, each with a deadline-ordered queue; the load balancer
 * between domains lives in user space (src/balance.rs).
 *
 * Placement. One scheduling domain per last-level cache; every task has a home domain. A waking
 * task goes to an idle CPU, nearest first: its previous CPU, that CPU's SMT siblings, a wholly
 * idle core of its home domain, any idle CPU there, then any in the home node. Warm caches first.
 *
 * Ordering. A task that finds no idle CPU waits in its home domain's queue, ordered by deadline:
 *
 *     deadline = vruntime + min(avg_burst, slice) * 100 / weight / latency_factor
 *     latency_factor = 1 + log2(1 + wakee_freq) + log2(1 + block_freq)
 *
 * vruntime is weighted CPU time (the fairness term; a sleeper may bank at most one slice, and
 * no task is queued more than eight slices ahead of its domain's front). A task lighter than
 * nice 0 gets a proportionally shorter slice (at least 1 ms; scx/vtime.bpf.h), so one run of a
 * nice 19 task is charged 100 ms of vruntime rather than 2 s: it then waits for the others to
 * catch up for seconds, not for the minutes after which the kernel's watchdog would eject the
 * scheduler (khugepaged did, under the stress mix). The second term is capped at two slices.
 * avg_burst is the average CPU time a task uses between two blockings, summed over preemptions
 * (struct scx_burst of scx/wakefreq.bpf.h). The second term favours short runners, and it
 * shrinks further for tasks that wake others often (producers) or block often (consumers): the
 * links of a wake/block chain, such as a pipeline or a client and its server, run sooner and
 * hand work along without waiting behind CPU hogs. Because the bonus is bounded by one slice
 * of weighted time, hogs still get their share. Only the real waker is credited (not a task an
 * interrupt happened to land on), and both frequencies decay when the events stop: a
 * frequency never exceeds one over the time since the last event.
 * Tasks pinned to one CPU wait in the same queue (only their CPU takes them), so nice levels
 * hold for them too.
 *
 * Slices shrink with contention: with nobody queued a task gets the full slice (--slice-us,
 * throughput); otherwise the target latency (--target-latency-us) is divided among the domain's
 * CPUs' share of queued tasks, with a floor (--min-slice-us).
 *
 * Preemption. A waking task that finds no idle CPU looks at a few CPUs of its home domain (its
 * previous CPU and two random ones it may use) and preempts its previous CPU if that is worth
 * it (no IPI for a timer wake-up, which comes there; warm cache), else the one running the latest
 * deadline, by inserting itself into that CPU's local queue with SCX_ENQ_PREEMPT (no
 * scx_bpf_kick_cpu, which Debian's 7.1 and 7.2 cannot call). It pays only when a short runner
 * displaces a long one: the victim's bursts must average at least --preempt-min-run-us and four
 * times the wakee's, and the wakee's deadline must be earlier by that much. Tasks of alike run
 * lengths (the wake-ups of hackbench, a pipeline) never preempt each other: they will yield sooner
 * than a preemption would help, and preempting them is what makes a preempting scheduler slow. Nor
 * does a wakee preempt the task that woke it (a writer to a pipe or socket goes on writing and
 * blocks soon: letting it batch is what keeps hackbench fast), while wake-ups from timers and
 * devices may. A victim gets 100 us of every run before a task's wake-up can preempt it again
 * (a timer's or device's need not wait: declined, it would wait for the next tick, which is
 * when slices end, milliseconds later), and a short task that preempted cannot be preempted by
 * the long one it displaced: no ping-pong. scx_rusty's own process (run loop, balancer, stats
 * server) is the exception: any wake-up but its own wakee's may preempt it, since its passes are
 * short on average yet can hold a CPU for milliseconds, and nothing waits on them.
 * SCX_ENQ_PREEMPT's value comes from the kernel's BTF.
 *
 * Balancing. User space moves tasks between domains by load (see src/balance.rs): it reads the
 * PELT load each task publishes in task_loads and writes a new home domain into migrations,
 * which takes effect at the task's next wake-up or enqueue. Between balancer runs, an idle CPU
 * takes work from its own domain first, then from domains of its node, then from anywhere, and a
 * task that runs in another domain makes it its home: work-conserving.
 *
 * Load tracking. Tasks under sched_ext get no kernel PELT, so every task and every CPU run
 * queue keeps its own, bit-exact with the kernel's (scx/pelt.bpf.h from scx_pelt): util_avg
 * (share of recent time spent running, 0..1024), runnable_avg (share spent queued or running)
 * and load_avg (runnable share times load weight), with a 32 ms half-life. The task state is
 * advanced from runnable / running / stopping / quiescent / set_weight and, for the running
 * task, from tick. The balancer uses the tasks' load_avg; per-CPU util summed per domain is in
 * the stats. --track-comm publishes the state of tasks with chosen comms in the tracked_pelt map
 * after each of their updates.
 */
#include <scx/common.bpf.h>
#include <scx/llc_topo.bpf.h>
#include <scx/counters.bpf.h>
#include <scx/pelt.bpf.h>
#include <scx/wakefreq.bpf.h>
#include <scx/vtime.bpf.h>
#include <scx/preempt.bpf.h>
#include <scx/own_task.bpf.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

/*
 * A domain is an LLC: domain d is LLC d of scx/llc_topo.bpf.h's tables, which user space fills
 * from scx_topology before load (MAX_DOMS is the tables' SCX_TOPO_NO_LLC).
 */
_Static_assert(MAX_DOMS == SCX_TOPO_MAX_LLCS && MAX_CPUS == SCX_TOPO_MAX_CPUS,
	       "intf.h's limits are scx/llc_topo.bpf.h's");
_Static_assert(STAT_IDLE_CORE - STAT_IDLE_PREV == SCX_IDLE_CORE &&
		   STAT_IDLE_LLC - STAT_IDLE_PREV == SCX_IDLE_LLC &&
		   STAT_IDLE_NODE - STAT_IDLE_PREV == SCX_IDLE_NODE,
	       "the idle counters follow enum scx_idle_where");
/* The slice when nobody waits (the longest one). */
const volatile u64 slice_ns = 20ULL * 1000 * 1000;
/* Under contention: this latency divided among the waiting tasks, but never below min_slice_ns. */
const volatile u64 target_latency_ns = 10ULL * 1000 * 1000;
const volatile u64 min_slice_ns = 3000ULL * 1000;
/* Preemption: off when 0; a victim must have run this long, in runs at least this long. */
const volatile bool preempt_enabled = true;
const volatile u64 preempt_min_run_ns = 1000ULL * 1000;
/* The kernel's SCX_ENQ_PREEMPT, from its BTF (0: this kernel has none; no preemption). */
const volatile u64 enq_preempt_flag;
/* --track-comm: NUL-padded names, the first nr_track_comms used. */
const volatile u32 nr_track_comms = 0;
const volatile char track_comms[MAX_TRACK_COMMS][RUSTY_COMM_LEN];

SCX_UEI_DEFINE();

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_DOMS);
	__type(key, u32);
	__type(value, struct dom_ctx);
} dom_ctxs SEC(".maps");

struct task_ctx {
	u64 vruntime;
	u32 dom;
	/* the deadline it was queued (or dispatched) with */
	u64 deadline;
	u64 last_run_at;
	u64 load_published_at;
	/* CPU time between blockings (a preempted hog still shows as the long runner it is) */
	struct scx_burst burst;
	u64 last_woke_other_at;
	u64 wakee_freq;
	u64 last_blocked_at;
	u64 block_freq;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

SCX_COUNTERS_DEFINE(stats, RUSTY_NR_STATS);

/* What each CPU runs, for choosing a preemption victim: scx/preempt.bpf.h's record and rusty's. */
struct cpu_run {
	struct scx_run run;
	/* the task is a thread of scx_rusty's own process (scx/own_task.bpf.h) */
	bool own;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CPUS);
	__type(key, u32);
	__type(value, struct cpu_run);
} cpu_runs SEC(".maps");

/* For the balancer: each task's load, by pid (see struct task_load). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, u32);
	__type(value, struct task_load);
} task_loads SEC(".maps");

/* From the balancer: pid -> new home domain, applied at the task's next enqueue. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u32);
	__type(value, u32);
} migrations SEC(".maps");

/* From the user-space tuner (every 100 ms): which domains are overloaded. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_DOMS);
	__type(key, u32);
	__type(value, struct dom_tune);
} dom_tunes SEC(".maps");

static bool dom_overloaded(u32 dom)
{
	struct dom_tune *t = bpf_map_lookup_elem(&dom_tunes, &dom);

	return t && t->overloaded;
}

/* PELT of the live tasks whose comm is tracked, by pid. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_TRACKED_TASKS);
	__type(key, u32);
	__type(value, struct pelt_report);
} tracked_pelt SEC(".maps");

static void stat_inc(u32 idx)
{
	scx_counter_inc(&stats, idx);
}

static struct dom_ctx *dom_ctx(u32 dom)
{
	return bpf_map_lookup_elem(&dom_ctxs, &dom);
}

static struct task_ctx *task_ctx(struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctxs, p, NULL, 0);
}

static struct cpu_run *cpu_run(s32 cpu)
{
	u32 c = cpu;

	return bpf_map_lookup_elem(&cpu_runs, &c);
}

/* Move @tctx to @dom, keeping its vruntime's distance from the domain's front. */
static void set_dom(struct task_ctx *tctx, u32 dom)
{
	struct dom_ctx *from, *to;

	if (tctx->dom == dom || dom >= MAX_DOMS)
		return;
	from = dom_ctx(tctx->dom);
	to = dom_ctx(dom);
	if (from && to)
		tctx->vruntime = tctx->vruntime - from->vtime_now + to->vtime_now;
	tctx->dom = dom;
}

/* Whether @p's comm is one of the --track-comm names. Callers check nr_track_comms first. */
static bool comm_tracked(struct task_struct *p)
{
	char comm[RUSTY_COMM_LEN];
	u32 i, j;

	if (bpf_probe_read_kernel_str(comm, sizeof(comm), p->comm) < 0)
		return false;
	for (i = 0; i < MAX_TRACK_COMMS; i++) {
		if (i >= nr_track_comms)
			break;
		for (j = 0; j < RUSTY_COMM_LEN; j++) {
			if (comm[j] != track_comms[i][j])
				break;
			if (!comm[j])
				return true;
		}
	}
	return false;
}

_Static_assert(sizeof(((struct pelt_report *)0)->pelt) == sizeof(struct scx_pelt_task),
	       "pelt_report.pelt holds a struct scx_pelt_task");

/* Publish @p's PELT state, updated at @now, if its comm is tracked. */
static void publish_pelt(struct task_struct *p, u64 now)
{
	struct pelt_report rep = {};
	struct scx_pelt_task *t;
	u32 pid;

	if (!nr_track_comms || !comm_tracked(p))
		return;
	t = scx_pelt_task_get(p);
	if (!t)
		return;
	pid = p->pid;
	rep.pid = pid;
	__builtin_memcpy(rep.pelt, t, sizeof(*t));
	rep.sched_clock = now;
	rep.mono_clock = bpf_ktime_get_ns();
	bpf_probe_read_kernel_str(rep.comm, sizeof(rep.comm), p->comm);
	bpf_map_update_elem(&tracked_pelt, &pid, &rep, BPF_ANY);
}

/* The deadline of @p if its vruntime were @vruntime. */
static u64 deadline_at(struct task_struct *p, struct task_ctx *tctx, u64 vruntime, u64 now)
{
	u64 run = scx_min(tctx->burst.avg, slice_ns);
	u64 wakee = scx_decayed_freq(tctx->wakee_freq, tctx->last_woke_other_at, now);
	u64 block = scx_decayed_freq(tctx->block_freq, tctx->last_blocked_at, now);
	u64 factor = 1 + scx_log2_u64(1 + wakee) + scx_log2_u64(1 + block);

	return vruntime + scx_min(run * 100 / p->scx.weight, 2 * slice_ns) / factor;
}

static u64 task_deadline(struct task_struct *p, struct task_ctx *tctx, u64 now)
{
	return deadline_at(p, tctx, tctx->vruntime, now);
}

/* The floor of a light task's slice: short, so that one run's charge stays bounded. */
#define LIGHT_MIN_SLICE_NS (1000ULL * 1000)
/* How far ahead of its domain's front a task may be queued. */
#define MAX_LEAD_SLICES 8

/* @slice for @p: shorter for a task lighter than nice 0 (see scx/vtime.bpf.h). */
static u64 weighted_slice(struct task_struct *p, u64 slice)
{
	return scx_weighted_slice(slice, p->scx.weight, LIGHT_MIN_SLICE_NS);
}

/* @tctx is running with vruntime @vruntime: its domain's front follows, a slice at most at a
 * time (scx/vtime.bpf.h).
 */
static void advance_front(struct task_ctx *tctx, u64 vruntime)
{
	struct dom_ctx *dctx = dom_ctx(tctx->dom);

	if (dctx)
		dctx->vtime_now = scx_front_advance(dctx->vtime_now, vruntime, slice_ns);
}

/*
 * Keep @tctx's vruntime near its domain's front: a waking task banks at most one slice of
 * credit, and no task is more than MAX_LEAD_SLICES slices ahead of the front or of what it will
 * compete with: its domain queue's head and, for a task pinned to @cpu, the task running there
 * (-1: any CPU). See scx/vtime.bpf.h.
 */
static void place_vruntime(struct task_ctx *tctx, bool waking, s32 cpu)
{
	struct dom_ctx *dctx = dom_ctx(tctx->dom);
	struct task_struct *head;
	struct cpu_run *r;
	u64 ref;

	if (!dctx)
		return;
	ref = dctx->vtime_now;
	if (bpf_ksym_exists(scx_bpf_dsq_peek) && (head = scx_bpf_dsq_peek(tctx->dom)))
		ref = scx_vtime_earlier(ref, head->scx.dsq_vtime);
	if (cpu >= 0 && (r = cpu_run(cpu)) && r->run.started_at && r->run.deadline)
		ref = scx_vtime_earlier(ref, r->run.deadline);
	tctx->vruntime = scx_vtime_place(tctx->vruntime, dctx->vtime_now, slice_ns, ref,
					 MAX_LEAD_SLICES * slice_ns, waking);
}

/*
 * Whether @prev, whose slice ended but which is still runnable, should go on running rather
 * than make way for the head of @dom's queue. The kernel asks for a dispatch before it queues
 * @prev again, so without this check two tasks sharing a CPU would simply alternate, whatever
 * their weights. @prev's deadline counts the run it is finishing.
 */
static bool prev_goes_on(struct task_struct *prev, s32 cpu, u32 dom, u64 now)
{
	struct task_struct *head;
	struct task_ctx *tctx;
	struct cpu_run *r;
	u64 vruntime, deadline;

	if (!prev || !(prev->scx.flags & SCX_TASK_QUEUED) || !bpf_ksym_exists(scx_bpf_dsq_peek))
		return false;
	tctx = task_ctx(prev);
	if (!tctx)
		return false;
	head = scx_bpf_dsq_peek(dom);
	vruntime = tctx->vruntime + (now - tctx->last_run_at) * 100 / prev->scx.weight;
	deadline = deadline_at(prev, tctx, vruntime, now);
	if (head && !vtime_before(deadline, head->scx.dsq_vtime))
		return false;
	/*
	 * The front moves with a run that goes on, or tasks waking meanwhile would be placed
	 * behind where the domain's time really is, and the runner far ahead of them; and the
	 * preemption test sees the runner's deadline as of now, not as of when it was queued,
	 * or wakers placed at the moved front would no longer look earlier than it.
	 */
	advance_front(tctx, vruntime);
	r = cpu_run(cpu);
	if (r && r->run.deadline)
		r->run.deadline = deadline;
	return true;
}

/*
 * The slice for a task of @dom: the full one when nobody waits there, else the target latency
 * shared among the CPUs' queued tasks, never below the floor.
 */
static u64 dom_slice(u32 dom)
{
	u64 queued = scx_bpf_dsq_nr_queued(dom);
	u64 nr_cpus, slice;

	if (dom >= MAX_DOMS || !queued)
		return slice_ns;
	nr_cpus = scx_llc_nr_cpus(dom);
	slice = target_latency_ns * nr_cpus / (nr_cpus + queued);
	return scx_max(scx_min(slice, slice_ns), min_slice_ns);
}

/* Apply a move the balancer asked for, if @p may run in the new domain. */
static void apply_migration(struct task_struct *p, struct task_ctx *tctx)
{
	u32 pid = p->pid, *to;

	to = bpf_map_lookup_elem(&migrations, &pid);
	if (!to)
		return;
	if (*to != tctx->dom && scx_llc_allows(p, *to)) {
		set_dom(tctx, *to);
		stat_inc(STAT_MIGRATED);
	}
	bpf_map_delete_elem(&migrations, &pid);
}

/*
 * A wake-up looking for a victim (scx/preempt.bpf.h); @later is set when some runner's deadline
 * was later (or the runner is our own process) but another test declined it.
 */
struct rusty_wakeup {
	struct scx_wakeup w;
	bool later;
};

/* *@rw: the wake-up of @tctx (deadline already computed) at @now. */
static __always_inline void wakeup_of(struct rusty_wakeup *rw, const struct task_ctx *tctx, u64 now)
{
	scx_wakeup_init(&rw->w, tctx->deadline, tctx->burst.avg, now);
	rw->later = false;
}

/*
 * @cpu's record if the task running there may be preempted by wake-up @rw, else NULL: the
 * shared test (scx_run_worth: one of ours, not the waker, a deadline later by more than the
 * minimum run, past PREEMPT_GRACE_NS unless a timer or interrupt did the wake-up, bursts of at
 * least the minimum run and four times the wakee's). Two tasks of alike run lengths
 * (hackbench's, a pipeline's) never preempt each other. A thread of scx_rusty's own process
 * (balancer, run loop, stats server) may be preempted by any wake-up but its own wakee's, after
 * the grace, whatever its deadline and bursts: its passes are short on average but can hold a
 * CPU for milliseconds, and nothing waits on them.
 */
#define PREEMPT_GRACE_NS (100ULL * 1000)

static struct cpu_run *worth_preempting(s32 cpu, struct rusty_wakeup *rw)
{
	struct cpu_run *r = cpu_run(cpu);

	if (!r || !scx_run_ours(&r->run, cpu, &rw->w) ||
	    (!r->own && !scx_run_later(&r->run, &rw->w, preempt_min_run_ns)))
		return NULL;
	rw->later = true;
	if (!scx_run_past_grace(&r->run, &rw->w, PREEMPT_GRACE_NS) ||
	    (!r->own && !scx_run_long(&r->run, &rw->w, preempt_min_run_ns)))
		return NULL;
	return r;
}

/* scx_pick_victim's test. */
static struct scx_run *victim_test(s32 cpu, void *ctx)
{
	struct cpu_run *r = worth_preempting(cpu, ctx);

	return r ? &r->run : NULL;
}

static bool preemption_possible(void)
{
	return preempt_enabled && enq_preempt_flag;
}

/* The CPU to preempt for @p, or -1: scx_pick_victim among @prev_cpu and two random CPUs of @dom. */
static s32 pick_victim(struct task_struct *p, const struct task_ctx *tctx, s32 prev_cpu, u32 dom,
		       u64 now)
{
	struct rusty_wakeup rw;
	u64 deadline;
	s32 cpu;

	if (!preemption_possible() || dom >= MAX_DOMS)
		return -1;
	wakeup_of(&rw, tctx, now);
	cpu = scx_pick_victim(p, prev_cpu, dom, victim_test, &rw, &deadline);
	if (cpu < 0 && rw.later)
		stat_inc(STAT_PREEMPT_DECLINED);
	return cpu;
}

s32 BPF_STRUCT_OPS(rusty_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	struct task_ctx *tctx = task_ctx(p);
	u32 dom = scx_llc_of_cpu(prev_cpu), where;
	s32 cpu;

	if (tctx) {
		apply_migration(p, tctx);
		if (tctx->dom < MAX_DOMS)
			dom = tctx->dom;
	}
	cpu = scx_pick_idle_near(p, prev_cpu, dom, NULL, &where);
	if (cpu < 0)
		return prev_cpu;
	stat_inc(STAT_IDLE_PREV + where);
	if (tctx) {
		place_vruntime(tctx, true, -1);
		tctx->deadline = task_deadline(p, tctx, scx_now());
	}
	scx_dsq_insert(p, SCX_DSQ_LOCAL, weighted_slice(p, slice_ns), 0);
	return cpu;
}

/*
 * A task that may only run on @cpu (every task, on a 1-CPU machine). It waits in @cpu's domain
 * queue in deadline order like everyone else (nice levels hold between tasks pinned to one CPU,
 * and a short runner can preempt there too); other CPUs of the domain skip it. It cannot be
 * forgotten there: it is being enqueued on @cpu's own run queue, and the kernel reschedules
 * that CPU if it is idle, so @cpu dispatches from the queue. No kick: scx_bpf_kick_cpu is not
 * callable on Debian 7.1 and 7.2, and where it is, its self-interrupt cost each such wake-up
 * about 30 us of emulated time on a 1-vCPU guest (measured with bpf_stats) for nothing. A task
 * not (yet) allowed on the CPU it is queued on (an affinity change in flight) or without
 * context goes straight onto the CPU, and so does one whose CPU is idle.
 */
static void enqueue_pinned(struct task_struct *p, struct task_ctx *tctx, s32 cpu, u64 enq_flags,
			   u64 now)
{
	u32 dom = scx_llc_of_cpu(cpu);

	stat_inc(STAT_PINNED);
	if (!tctx || dom >= MAX_DOMS || !bpf_cpumask_test_cpu(cpu, p->cpus_ptr)) {
		scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, weighted_slice(p, slice_ns), enq_flags);
		return;
	}
	set_dom(tctx, dom);
	place_vruntime(tctx, enq_flags & SCX_ENQ_WAKEUP, cpu);
	tctx->deadline = task_deadline(p, tctx, now);
	/* Its CPU is idle: run it there now, as select_cpu does for a task with a choice. */
	if (scx_bpf_test_and_clear_cpu_idle(cpu)) {
		stat_inc(STAT_IDLE_PREV);
		scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, weighted_slice(p, slice_ns), enq_flags);
		return;
	}
	/* Its one CPU runs a long runner with a later deadline: take its place (1-CPU machines). */
	if ((enq_flags & SCX_ENQ_WAKEUP) && preemption_possible()) {
		struct rusty_wakeup rw;

		wakeup_of(&rw, tctx, now);
		if (worth_preempting(cpu, &rw)) {
			stat_inc(STAT_PREEMPT);
			scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, weighted_slice(p, dom_slice(dom)),
				       enq_flags | enq_preempt_flag | SCX_ENQ_HEAD);
			return;
		}
		if (rw.later)
			stat_inc(STAT_PREEMPT_DECLINED);
	}
	scx_dsq_insert_vtime(p, dom, weighted_slice(p, dom_slice(dom)), tctx->deadline, enq_flags);
}

/* An idle CPU of a domain other than @dom that @p may use (the next domains first), or -1. */
static s32 pick_idle_elsewhere(struct task_struct *p, u32 dom)
{
	u32 j;

	bpf_for(j, 1, scx_topo_nr_llcs)
	{
		u32 d = (dom + j) % scx_topo_nr_llcs;
		s32 cpu;

		if (d >= MAX_DOMS)
			break;
		cpu = scx_pick_idle_in(p, scx_llc_mask(d), 0, NULL);
		if (cpu >= 0)
			return cpu;
	}
	return -1;
}

void BPF_STRUCT_OPS(rusty_enqueue, struct task_struct *p, u64 enq_flags)
{
	s32 prev_cpu = scx_bpf_task_cpu(p), cpu;
	struct task_ctx *tctx = task_ctx(p);
	u64 now = scx_now();
	u32 dom;

	if (!tctx || p->nr_cpus_allowed == 1) {
		enqueue_pinned(p, tctx, prev_cpu, enq_flags, now);
		return;
	}
	/* A preempted RCU reader goes back to its CPU (scx_rcu_reader_preempted says why). */
	if (scx_rcu_reader_preempted(p, enq_flags)) {
		stat_inc(STAT_RCU_READER);
		scx_dsq_insert(p, SCX_DSQ_LOCAL, weighted_slice(p, min_slice_ns), enq_flags);
		return;
	}
	apply_migration(p, tctx);
	/*
	 * A home domain the task may no longer run in (its affinity changed): the domain of the
	 * CPU the kernel moved it to. Queued there, no CPU of the domain could take it, and
	 * the others steal only when idle: under load it would wait until the watchdog fired.
	 */
	if (tctx->dom >= MAX_DOMS || !scx_llc_allows(p, tctx->dom))
		set_dom(tctx, scx_llc_of_cpu(prev_cpu));
	dom = tctx->dom;
	if (dom >= MAX_DOMS) {
		enqueue_pinned(p, NULL, prev_cpu, enq_flags, now);
		return;
	}
	place_vruntime(tctx, enq_flags & SCX_ENQ_WAKEUP, -1);
	tctx->deadline = task_deadline(p, tctx, now);

	/*
	 * A CPU of the domain may have gone idle since select_cpu looked (or select_cpu was not
	 * called: preemption, yield, affinity change). Hand the task straight to it: inserting on
	 * a remote local DSQ wakes that CPU, with no kick needed (scx_bpf_kick_cpu is not callable
	 * on Debian's 7.1 and 7.2 kernels, whose BTF lacks its _impl twin).
	 */
	cpu = scx_pick_idle_in(p, scx_llc_mask(dom), 0, NULL);
	if (cpu >= 0) {
		stat_inc(STAT_IDLE_LLC);
		scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, weighted_slice(p, slice_ns), enq_flags);
		return;
	}
	if (enq_flags & SCX_ENQ_WAKEUP) {
		cpu = pick_victim(p, tctx, prev_cpu, dom, now);
		if (cpu >= 0) {
			stat_inc(STAT_PREEMPT);
			scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, weighted_slice(p, dom_slice(dom)),
				       enq_flags | enq_preempt_flag | SCX_ENQ_HEAD);
			return;
		}
	}
	/*
	 * Tasks already wait in the domain: an idle CPU of another domain takes this one now. An
	 * idle CPU looks at other domains' queues only when something wakes it, and without
	 * scx_bpf_kick_cpu (Debian 7.1, 7.2) nothing here can: in vm-sched-7.1 a shell waited
	 * 3.3 s in a full domain while the other one was 25-60 % busy, until the balancer, which
	 * moves a few tasks a second, caught up. The task's home follows it (rusty_running).
	 */
	if (scx_bpf_dsq_nr_queued(dom)) {
		cpu = pick_idle_elsewhere(p, dom);
		if (cpu >= 0) {
			stat_inc(STAT_IDLE_REMOTE);
			scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, weighted_slice(p, slice_ns),
				       enq_flags);
			return;
		}
	}
	stat_inc(STAT_QUEUED);
	scx_dsq_insert_vtime(p, dom, weighted_slice(p, dom_slice(dom)), tctx->deadline, enq_flags);
}

void BPF_STRUCT_OPS(rusty_dispatch, s32 cpu, struct task_struct *prev)
{
	u32 dom = scx_llc_of_cpu(cpu), node, i;

	if (dom >= MAX_DOMS)
		return;
	if (prev_goes_on(prev, cpu, dom, scx_now())) {
		scx_task_set_slice(prev, weighted_slice(prev, dom_slice(dom)));
		return;
	}
	if (scx_dsq_move_to_local(dom)) {
		stat_inc(STAT_DISPATCH_LOCAL);
		return;
	}
	/*
	 * Steal: domains of this node before remote ones, and within each, the domains the tuner
	 * found overloaded before the others (they are the ones whose tasks wait longest).
	 */
	if (scx_topo_nr_llcs <= 1)
		return;
	node = scx_node_of_llc(dom);
	bpf_for(i, 0, 4)
	{
		bool local = i < 2, busy_only = !(i & 1);
		u32 j;

		bpf_for(j, 1, scx_topo_nr_llcs)
		{
			u32 d = (dom + j) % scx_topo_nr_llcs;

			if ((scx_node_of_llc(d) == node) != local ||
			    (busy_only && !dom_overloaded(d)))
				continue;
			if (scx_dsq_move_to_local(d)) {
				stat_inc(local ? STAT_STEAL_NODE : STAT_STEAL_REMOTE);
				return;
			}
		}
	}
}

/* Tell the balancer @p's load, home domain and the domains it may run in. */
static void publish_load(struct task_struct *p, struct task_ctx *tctx, u64 now)
{
	struct scx_pelt_task *t = scx_pelt_task_get(p);
	struct task_load tl = {};
	u32 pid = p->pid, d;

	if (!t)
		return;
	tctx->load_published_at = now;
	tl.load_avg = t->avg.load_avg;
	tl.runnable_avg = t->avg.runnable_avg;
	tl.dom = tctx->dom;
	tl.nr_cpus_allowed = p->nr_cpus_allowed;
	tl.at = now;
	bpf_for(d, 0, scx_topo_nr_llcs)
	{
		if (d < 64 && scx_llc_allows(p, d))
			tl.dom_allowed |= 1ULL << d;
	}
	bpf_map_update_elem(&task_loads, &pid, &tl, BPF_ANY);
}

void BPF_STRUCT_OPS(rusty_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_struct *waker;
	struct task_ctx *wctx;
	u64 now = scx_now();

	scx_pelt_task_runnable(p, now, scx_pelt_weight_from_scx(p->scx.weight),
			       scx_bpf_task_cpu(p));
	publish_pelt(p, now);
	if (!(enq_flags & SCX_ENQ_WAKEUP) || scx_in_interrupt())
		return;
	/* The current task woke @p (not an interrupt that landed on it): count it as a producer. */
	waker = bpf_get_current_task_btf();
	if (!waker->pid || waker == p)
		return;
	wctx = task_ctx(waker);
	if (!wctx)
		return;
	wctx->wakee_freq =
	    scx_ewma4(wctx->wakee_freq, scx_freq_of_gap(now - wctx->last_woke_other_at));
	wctx->last_woke_other_at = now;
}

void BPF_STRUCT_OPS(rusty_running, struct task_struct *p)
{
	struct task_ctx *tctx = task_ctx(p);
	s32 cpu = bpf_get_smp_processor_id();
	u32 dom = scx_llc_of_cpu(cpu);
	struct cpu_run *r = cpu_run(cpu);
	u64 now = scx_now();

	scx_pelt_task_running(p, now, cpu);
	publish_pelt(p, now);
	if (!tctx)
		return;
	tctx->last_run_at = now;
	if (r) {
		r->own = scx_is_own_task(p);
		scx_run_start(&r->run, tctx->deadline, tctx->burst.avg, now);
	}
	/* Running in another domain (stolen, or pinned there) makes it the task's home. */
	set_dom(tctx, dom);
	advance_front(tctx, tctx->vruntime);
}

void BPF_STRUCT_OPS(rusty_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx = task_ctx(p);
	struct cpu_run *r = cpu_run(bpf_get_smp_processor_id());
	struct dom_ctx *dctx;
	u64 now = scx_now(), ran, weighted;

	if (r)
		scx_run_stop(&r->run);
	scx_pelt_task_stopping(p, now);
	publish_pelt(p, now);
	if (!tctx)
		return;
	ran = now - tctx->last_run_at;
	/* Fairness: vruntime grows slower for heavier tasks. */
	tctx->vruntime += ran * 100 / p->scx.weight;
	scx_burst_ran(&tctx->burst, ran, runnable);
	/* Load: heavier tasks count for more. */
	weighted = ran * p->scx.weight / 100;
	dctx = dom_ctx(tctx->dom);
	if (dctx) {
		__sync_fetch_and_add(&dctx->load.weighted_runtime, weighted);
		__sync_fetch_and_add(&dctx->load.nr_runs, 1);
	}
	if (now - tctx->load_published_at >= LOAD_PUBLISH_NS)
		publish_load(p, tctx, now);
}

void BPF_STRUCT_OPS(rusty_quiescent, struct task_struct *p, u64 deq_flags)
{
	struct task_ctx *tctx;
	u64 now = scx_now();

	scx_pelt_task_quiescent(p, now);
	publish_pelt(p, now);
	if (!(deq_flags & SCX_DEQ_SLEEP))
		return;
	tctx = task_ctx(p);
	if (!tctx)
		return;
	scx_burst_blocked(&tctx->burst);
	/* @p blocks: count it as a consumer. */
	tctx->block_freq =
	    scx_ewma4(tctx->block_freq, scx_freq_of_gap(now - tctx->last_blocked_at));
	tctx->last_blocked_at = now;
}

/*
 * The running task's PELT advances on every tick, as the kernel's does: without this, a task
 * that keeps its CPU across slices (no running/stopping in between) would not be updated.
 */
void BPF_STRUCT_OPS(rusty_tick, struct task_struct *p)
{
	struct scx_pelt_task *t = scx_pelt_task_get(p);
	s32 cpu = scx_bpf_task_cpu(p);
	struct task_ctx *tctx;
	struct scx_pelt_cpu *c;
	u64 now = scx_now(), slice;

	/* Waiters arrived since this run started: shorten it to the contended slice. */
	slice = weighted_slice(p, dom_slice(scx_llc_of_cpu(cpu)));
	if (p->scx.slice > slice)
		scx_task_set_slice(p, slice);
	if (!t)
		return;
	scx_pelt_task_do_update(t, now);
	c = scx_pelt_cpu_get(cpu);
	if (c)
		scx_pelt_cpu_update(c, now);
	publish_pelt(p, now);
	/* A task that keeps its CPU across slices never stops: publish its load from here. */
	tctx = task_ctx(p);
	if (tctx && now - tctx->load_published_at >= LOAD_PUBLISH_NS)
		publish_load(p, tctx, now);
}

void BPF_STRUCT_OPS(rusty_set_weight, struct task_struct *p, u32 weight)
{
	scx_pelt_task_set_weight(p, scx_now(), scx_pelt_weight_from_scx(weight));
}

void BPF_STRUCT_OPS(rusty_exit_task, struct task_struct *p, struct scx_exit_task_args *args)
{
	u32 pid = p->pid;

	if (nr_track_comms)
		bpf_map_delete_elem(&tracked_pelt, &pid);
	bpf_map_delete_elem(&task_loads, &pid);
	bpf_map_delete_elem(&migrations, &pid);
}

void BPF_STRUCT_OPS(rusty_enable, struct task_struct *p)
{
	struct task_ctx *tctx = task_ctx(p);
	struct dom_ctx *dctx;
	u32 dom = scx_llc_of_cpu(scx_bpf_task_cpu(p));

	if (!tctx)
		return;
	tctx->dom = dom < MAX_DOMS ? dom : 0;
	dctx = dom_ctx(tctx->dom);
	tctx->vruntime = dctx ? dctx->vtime_now : 0;
}

s32 BPF_STRUCT_OPS(rusty_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	if (!bpf_task_storage_get(&task_ctxs, p, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE))
		return -ENOMEM;
	return 0;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(rusty_init)
{
	u32 i;
	s32 ret;

	ret = scx_topo_init();
	if (ret)
		return ret;
	bpf_for(i, 0, scx_topo_nr_llcs)
	{
		ret = scx_bpf_create_dsq(i, scx_node_of_llc(i));
		if (ret) {
			scx_bpf_error("creating the queue of domain %u failed: %d", i, ret);
			return ret;
		}
	}
	return 0;
}

void BPF_STRUCT_OPS(rusty_exit, struct scx_exit_info *ei)
{
	scx_uei_record(ei);
}

SCX_OPS_DEFINE(rusty_ops, .select_cpu = (void *)rusty_select_cpu, .enqueue = (void *)rusty_enqueue,
	       .dispatch = (void *)rusty_dispatch, .runnable = (void *)rusty_runnable,
	       .running = (void *)rusty_running, .stopping = (void *)rusty_stopping,
	       .quiescent = (void *)rusty_quiescent, .tick = (void *)rusty_tick,
	       .set_weight = (void *)rusty_set_weight, .enable = (void *)rusty_enable,
	       .init_task = (void *)rusty_init_task, .exit_task = (void *)rusty_exit_task,
	       .init = (void *)rusty_init, .exit = (void *)rusty_exit, .name = "rusty");
