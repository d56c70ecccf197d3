/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_rustland_core, kernel half: a courier between the kernel and a scheduling policy written
 * as ordinary user-space Rust.
 *
 * Policy split. The kernel side decides almost nothing. A task that becomes runnable is
 * described in a record on the "queued" ring buffer and left in BPF custody; user space answers
 * on the "dispatched" user ring buffer with a CPU (or "any"), a slice and a vtime, and
 * ops.dispatch applies the answers. A handful of tasks never make the round trip because it
 * could only hurt them: per-CPU kthreads go straight to their CPU's local queue (kernel
 * housekeeping, first come first served), a waking task that finds an idle CPU goes there
 * when the scheduler asks for it (direct_idle: cheaper than a round trip and what user space
 * would pick anyway), a task preempted inside an RCU read-side section goes back to its CPU
 * (every grace period waits for it), and the threads of the user-space scheduler itself run
 * first, at the head of their CPU's queue and preempting what runs there, because every other
 * task waits on them.
 *
 * Trade-offs. Each decision costs a ring record, a wake-up of the scheduler thread and a
 * context switch or two: throughput under heavy wake-up load is lower than an in-kernel policy,
 * in exchange for a policy that can use any data structure and be unit-tested. Decisions that
 * arrive late are harmless: every enqueue gets a sequence number kept in task storage, and a
 * decision is applied only if it claims that number (compare-and-swap), so a decision for a
 * task that was already run, dequeued or re-queued is dropped and counted as stale.
 *
 * Safety net. User space can stop (SIGSTOP), hang or fall behind, and a scheduler that only
 * waits for it would let the watchdog kill it. Every queued task is therefore also recorded in
 * a BPF queue map ("pending") with its enqueue time. User space writes a heartbeat at least
 * every 50 ms; when it is older than stall_timeout_ns, user space counts as gone: new tasks go
 * straight to a kernel FIFO and ops.dispatch drains the pending records into it, oldest first.
 * A single task that waits longer than task_timeout_ns is taken over the same way even while
 * the heartbeat is fresh (user space alive but stuck on something). A BPF timer checks every
 * 50 ms and kicks a CPU so that an idle machine notices too (kernels without
 * scx_bpf_kick_cpu rely on the next scheduling event instead). When the heartbeat comes back,
 * new tasks go to user space again; decisions for tasks the kernel ran meanwhile are stale and
 * dropped. Counters tell both paths apart.
 *
 * Fast wakes. The round trip puts two context switches (to the scheduler thread and back)
 * between a wake-up and the run, which on a busy CPU made a timer-driven task wait about twice
 * as long as under the kernel's own scheduler. So a decision may carry a grant for the task's
 * next wake-up only: if the burst it then ends is no longer than the grant says, the BPF side
 * runs it on its previous CPU at once, preempting, and sends user space a record of it
 * (RL_TASK_FAST) instead of a request. Only wake-ups by an interrupt (a timer, a device) are
 * fast: one by another task is part of a chain that hands the CPU over by itself. A fast wake
 * never preempts the scheduler thread or a task that woke fast itself (it goes next after them),
 * and neither does a decision that asks to preempt.
 * The grant is used up by that wake; user space charges the run and renews the grant, or not,
 * in its answer to the record. The policy thus stays in user space (who gets a grant, for
 * which bursts), user space sees every wake, and a task never wakes fast twice without user
 * space having looked at it in between.
 */
#include <scx/common.bpf.h>
#include <scx/counters.bpf.h>
#include <scx/waker.bpf.h>

#include "intf.h"

char _license[] SEC("license") = "GPL";

/* Set by user space before load. */
const volatile s32 usersched_tgid;
const volatile u64 slice_ns = 5ULL * 1000 * 1000;
const volatile u64 stall_timeout_ns = 250ULL * 1000 * 1000;
const volatile u64 task_timeout_ns = 500ULL * 1000 * 1000;
const volatile bool direct_idle = true;
/* The running kernel's values of SCX_ENQ_PREEMPT and SCX_ENQ_HEAD (enum values are not ABI). */
const volatile u64 enq_preempt_flag;
const volatile u64 enq_head_flag;

/* User-space ANY decisions, ordered by the vtime user space gave them. */
#define SHARED_DSQ 1
/* Tasks the kernel dispatched itself (user space late or congested), first come first served. */
#define FALLBACK_DSQ 2

#ifndef PF_KTHREAD
#define PF_KTHREAD 0x00200000
#endif
#ifndef CLOCK_MONOTONIC
#define CLOCK_MONOTONIC 1
#endif
#define PREEMPT_AFTER_NS  (500ULL * 1000)
#define TIMER_INTERVAL_NS (50ULL * 1000 * 1000)
/* How many pending records one dispatch call may look at. */
#define GC_BATCH 64

SCX_UEI_DEFINE();
SCX_COUNTERS_DEFINE(rl_stats, RL_NR_STATS);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} queued SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 1 << 20);
} dispatched SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct rl_shared);
} rl_shared SEC(".maps");

struct pending_rec {
	s32 pid;
	u32 pad;
	u64 seq;
	u64 enq_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 65536);
	__type(value, struct pending_rec);
} pending SEC(".maps");

struct task_ctx {
	u64 seq; /* nonzero while a decision from user space is awaited */
	u64 last_sum_exec;
	u64 exec_runtime;
	u64 vtime;
	u64 fast_burst_ns; /* fast-wake grant for the next wake-up, 0 = none */
	u64 fast_slice_ns;
	u64 fast_seq; /* sequence number of the last fast-wake record, until answered */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctx_stor SEC(".maps");

struct timer_wrap {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct timer_wrap);
} rl_timer SEC(".maps");

/* Per CPU: its current task. */
struct cpu_run {
	u64 since;	   /* when it started running */
	s32 fast_pid;	   /* a task sent here by a fast wake, until it runs */
	u32 unpreemptible; /* the scheduler thread or a fast-woken task runs */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct cpu_run);
} cpu_runs SEC(".maps");

static __always_inline struct cpu_run *cpu_run_of(s32 cpu)
{
	u32 zero = 0;

	return bpf_map_lookup_percpu_elem(&cpu_runs, &zero, cpu);
}

u64 rl_seq;
/* One CPU at a time walks the pending records; the others skip rather than wait. */
u32 gc_busy;

static __always_inline struct rl_shared *shared(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&rl_shared, &zero);
}

static __always_inline bool is_usersched(const struct task_struct *p)
{
	return usersched_tgid && p->tgid == usersched_tgid;
}

/* User space counts as gone when its heartbeat is older than stall_timeout_ns. */
static __always_inline bool user_gone(u64 now)
{
	struct rl_shared *sh = shared();
	u64 hb;

	if (!sh)
		return true;
	hb = sh->heartbeat_ns;
	return !hb || (now > hb && now - hb > stall_timeout_ns);
}

/*
 * Set when a task woken by an interrupt (a timer, a device) was queued for user space, cleared
 * when the scheduler thread next runs: nothing running is waiting to hand over to that task.
 */
static volatile bool urgent_queued;
/* A fast-wake record was queued without waking the scheduler thread; the next record must. */
static volatile bool fast_unannounced;

/*
 * When the scheduler thread wakes up, it goes to the head of its CPU's queue; it also preempts
 * the running task if that one has been running for a while, or at once when an interrupt woke
 * the task it is coming to decide on. A task that has just started is likely to block soon (a
 * wake-up chain such as hackbench's), and preempting it would cost another round trip through
 * user space for it, which is how heavy wake-up loads would drown in decisions. A timer wake-up
 * (cyclictest, a frame timer) follows no such chain, and waiting for the runner's grace period
 * made it wait up to a whole slice (1 vCPU under hogs: p99 2.6x EEVDF's). A runner inside its
 * grace period keeps the CPU only until the period ends (below).
 */
static __always_inline u64 usersched_preempt_flag(s32 cpu)
{
	struct cpu_run *r = cpu_run_of(cpu);
	struct task_struct *curr;
	u64 age;

	if (urgent_queued || !r)
		return enq_preempt_flag;
	age = bpf_ktime_get_ns() - r->since;
	if (age >= PREEMPT_AFTER_NS)
		return enq_preempt_flag;
	/*
	 * The grace period, not the runner's whole slice: a hog that had just started kept the
	 * thread waiting up to 24 ms (4 vCPUs under hogs), and with it the answers that renew
	 * fast-wake grants, so a timer-driven task's next wake-up often found no grant and waited
	 * too. The kernel checks the slice at the tick, so the thread waits at most about one tick
	 * past the grace period. A fast-woken runner keeps its slice, as it keeps the CPU against
	 * every other preemption here; cut, a 60 Hz frame task (1 vCPU under hogs) had late
	 * frames in 3 of 7 rounds, against none.
	 */
	if (r->unpreemptible)
		return 0;
	curr = scx_cpu_curr(cpu);
	if (curr && curr->scx.slice > PREEMPT_AFTER_NS - age)
		scx_task_set_slice(curr, PREEMPT_AFTER_NS - age);
	return 0;
}

/*
 * The preempt flag for an insert on the CPU @r describes: none while the scheduler thread or a
 * fast-woken task runs there (the new task then goes next). Fast wakes and decisions alike.
 */
static __always_inline u64 preempt_flag_on(const struct cpu_run *r)
{
	return r && r->unpreemptible ? 0 : enq_preempt_flag;
}

static __always_inline bool cpu_ok_for(struct task_struct *p, s32 cpu)
{
	if (cpu < 0 || (u32)cpu >= scx_bpf_nr_cpu_ids())
		return false;
	/*
	 * The kernel runs migration-disabled tasks itself (no SCX_OPS_ENQ_MIGRATION_DISABLED),
	 * but one can reach us in a narrow window; never send such a task to another CPU, whose
	 * local queue would refuse it with an error.
	 */
	if (p->migration_disabled && cpu != scx_bpf_task_cpu(p))
		return false;
	return bpf_cpumask_test_cpu(cpu, p->cpus_ptr);
}

s32 BPF_STRUCT_OPS(rustland_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool idle = false;
	s32 cpu;

	if (!is_usersched(p) && !direct_idle)
		return prev_cpu;
	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &idle);
	if (idle) {
		scx_counter_inc(&rl_stats, is_usersched(p) ? RL_STAT_SCHED : RL_STAT_DIRECT);
		scx_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
	}
	return cpu;
}

static __always_inline void kernel_fifo(struct task_struct *p, u64 enq_flags, u32 stat)
{
	scx_counter_inc(&rl_stats, stat);
	scx_dsq_insert(p, FALLBACK_DSQ, slice_ns, enq_flags);
}

/* Describe @p for user space: it ran @delta since its previous enqueue; @burst see intf.h. */
static __always_inline void fill_task(struct rl_task *msg, struct task_struct *p,
				      struct task_ctx *tctx, u64 seq, u64 flags, u64 delta,
				      u64 burst, u64 now)
{
	msg->pid = p->pid;
	msg->cpu = scx_bpf_task_cpu(p);
	msg->seq = seq;
	msg->flags = flags;
	msg->weight = p->scx.weight;
	msg->runtime_ns = delta;
	msg->exec_runtime_ns = tctx->exec_runtime;
	msg->burst_ns = burst;
	msg->vtime = tctx->vtime;
	msg->enq_ns = now;
	msg->cpumask_lo = 0;
	for (u32 c = 0; c < 64 && c < scx_bpf_nr_cpu_ids(); c++)
		if (bpf_cpumask_test_cpu(c, p->cpus_ptr))
			msg->cpumask_lo |= 1ULL << c;
	msg->nr_cpus_allowed = p->nr_cpus_allowed;
	msg->pad = 0;
}

/*
 * A waking @p with a fast-wake grant that covers the burst it ended (@burst): run it on its
 * previous CPU at once if what runs there may be preempted, and tell user space (see the top
 * of the file). Returns whether it did.
 */
static __always_inline bool fast_wake(struct task_struct *p, struct task_ctx *tctx, u64 enq_flags,
				      u64 delta, u64 burst, u64 now)
{
	s32 cpu = scx_bpf_task_cpu(p);
	struct rl_task *msg;
	struct cpu_run *r;
	u64 seq;

	/*
	 * Only a wake-up by an interrupt (a timer, a device). One by another task is part of a
	 * chain (a pipe, a futex) whose tasks hand the CPU over by themselves soon: preempting
	 * there made hackbench 2.6 times slower on one vCPU.
	 */
	if (!tctx->fast_burst_ns || burst > tctx->fast_burst_ns || !enq_preempt_flag ||
	    scx_task_waker_cpu() >= 0 || !cpu_ok_for(p, cpu))
		return false;
	r = cpu_run_of(cpu);
	if (!r)
		return false;
	msg = bpf_ringbuf_reserve(&queued, sizeof(*msg), 0);
	if (!msg)
		return false;
	seq = __sync_fetch_and_add(&rl_seq, 1) + 1;
	tctx->fast_seq = seq;
	fill_task(msg, p, tctx, seq, RL_TASK_WAKEUP | RL_TASK_FAST, delta, burst, now);
	/*
	 * No wake-up of the scheduler thread for this record: woken now, it would go first, ahead
	 * of the task this is all about. The task preempted here is queued to user space in a
	 * moment, and that record wakes the thread (forced: the ring buffer wakes its reader only
	 * for a record that finds it caught up), which then reads this one too.
	 */
	bpf_ringbuf_submit(msg, BPF_RB_NO_WAKEUP);
	fast_unannounced = true;
	r->fast_pid = p->pid;
	scx_counter_inc(&rl_stats, RL_STAT_FAST);
	scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, tctx->fast_slice_ns ?: slice_ns,
		       enq_flags | preempt_flag_on(r));
	tctx->fast_burst_ns = 0;
	return true;
}

void BPF_STRUCT_OPS(rustland_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct pending_rec rec = {};
	struct task_ctx *tctx;
	struct rl_task *msg;
	u64 now, sum, delta, burst;
	s32 cpu;

	if (is_usersched(p)) {
		scx_counter_inc(&rl_stats, RL_STAT_SCHED);
		scx_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns,
			       enq_flags | enq_head_flag |
				   usersched_preempt_flag(scx_bpf_task_cpu(p)));
		return;
	}
	/*
	 * A preempted RCU reader goes back to its CPU, not to user space's queue: there a nice-19
	 * kthread got 1 ms every second or two under the stress mix on 2 CPUs, and the kernel
	 * ejected the scheduler for an RCU stall. Its run is charged at its next enqueue.
	 */
	if (scx_rcu_reader_preempted(p, enq_flags)) {
		scx_counter_inc(&rl_stats, RL_STAT_RCU);
		scx_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, enq_flags);
		return;
	}
	/*
	 * Per-CPU kthreads (ksoftirqd, kworkers of a CPU) go first-come first-served to their
	 * CPU. A user task pinned to one CPU still needs the policy: where it runs is fixed, but
	 * not when. Sent straight to its CPU's queue it waited behind the running task's whole
	 * slice, never preempting and never granted a fast wake: cyclictest's measuring thread
	 * (pinned) waited about 20 ms per wake-up on 2 vCPUs under hogs.
	 */
	if (p->nr_cpus_allowed == 1 && (p->flags & PF_KTHREAD)) {
		scx_counter_inc(&rl_stats, RL_STAT_DIRECT);
		scx_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, enq_flags);
		return;
	}

	/*
	 * A waking task whose CPU is idle, when select_cpu was not asked (the kernel skips it for
	 * a task allowed on one CPU, which on a 1-CPU machine is every task): the same direct
	 * dispatch select_cpu would have done. Without it every wake-up of a 1-CPU machine made the
	 * round trip, idle or not (its wake-up latency with nothing else running: 3x EEVDF's).
	 */
	cpu = scx_bpf_task_cpu(p);
	if (direct_idle && (enq_flags & SCX_ENQ_WAKEUP) && cpu_ok_for(p, cpu) &&
	    scx_bpf_test_and_clear_cpu_idle(cpu)) {
		scx_counter_inc(&rl_stats, RL_STAT_DIRECT);
		scx_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, enq_flags);
		return;
	}

	now = bpf_ktime_get_ns();
	if (user_gone(now)) {
		kernel_fifo(p, enq_flags, RL_STAT_FALLBACK);
		return;
	}
	tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!tctx) {
		kernel_fifo(p, enq_flags, RL_STAT_CONGESTED);
		return;
	}

	sum = p->se.sum_exec_runtime;
	delta = sum > tctx->last_sum_exec ? sum - tctx->last_sum_exec : 0;
	tctx->last_sum_exec = sum;
	burst = tctx->exec_runtime + delta;
	if (enq_flags & SCX_ENQ_WAKEUP) {
		tctx->exec_runtime = 0;
		if (fast_wake(p, tctx, enq_flags, delta, burst, now))
			return;
	} else {
		tctx->exec_runtime = burst;
		burst = 0;
	}

	rec.pid = p->pid;
	rec.seq = __sync_fetch_and_add(&rl_seq, 1) + 1;
	rec.enq_ns = now;
	tctx->seq = rec.seq;
	if (bpf_map_push_elem(&pending, &rec, 0)) {
		tctx->seq = 0;
		kernel_fifo(p, enq_flags, RL_STAT_CONGESTED);
		return;
	}
	msg = bpf_ringbuf_reserve(&queued, sizeof(*msg), 0);
	if (!msg) {
		/* The record in "pending" is now stale and will be dropped by the next walk. */
		if (__sync_val_compare_and_swap(&tctx->seq, rec.seq, 0) == rec.seq)
			kernel_fifo(p, enq_flags, RL_STAT_CONGESTED);
		return;
	}
	fill_task(msg, p, tctx, rec.seq, 0, delta, burst, now);
	/* The flags after fill_task's CPU loop: branching before it doubled the verifier's work. */
	if (enq_flags & SCX_ENQ_WAKEUP) {
		msg->flags = RL_TASK_WAKEUP;
		if (scx_task_waker_cpu() < 0) {
			msg->flags |= RL_TASK_IRQ_WAKE;
			urgent_queued = true;
		}
	}
	if (fast_unannounced) {
		fast_unannounced = false;
		bpf_ringbuf_submit(msg, BPF_RB_FORCE_WAKEUP);
	} else {
		bpf_ringbuf_submit(msg, 0);
	}
	scx_counter_inc(&rl_stats, RL_STAT_QUEUED);
}

/* What a decision sets for the task's next enqueue: its vtime and its fast-wake grant. */
static __always_inline void remember(struct task_ctx *tctx, const struct rl_decision *d)
{
	tctx->vtime = d->vtime;
	tctx->fast_burst_ns = d->fast_burst_ns;
	tctx->fast_slice_ns = d->slice_ns;
}

/*
 * Apply one user-space decision (a bpf_user_ringbuf_drain callback). Returns 1 to stop the
 * drain when this dispatch call has no slot left for another insert.
 */
static long apply_decision(struct bpf_dynptr *dynptr, void *ctx)
{
	struct rl_decision d;
	struct task_struct *p;
	struct task_ctx *tctx;
	u64 slice;
	s32 cpu;

	/*
	 * The drain consumes a record whatever this returns, so the check for a free dispatch
	 * slot comes after each insert (stop before the next record), never before reading.
	 */
	if (bpf_dynptr_read(&d, sizeof(d), dynptr, 0, 0))
		return 0;
	p = bpf_task_from_pid(d.pid);
	if (!p) {
		scx_counter_inc(&rl_stats, RL_STAT_STALE);
		return scx_bpf_dispatch_nr_slots() ? 0 : 1;
	}
	tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, 0);
	if (tctx && d.seq && tctx->fast_seq == d.seq) {
		/* The answer to a fast-wake record: the task ran already; keep vtime and grant. */
		tctx->fast_seq = 0;
		remember(tctx, &d);
		bpf_task_release(p);
		return 0;
	}
	if (!tctx || !d.seq || __sync_val_compare_and_swap(&tctx->seq, d.seq, 0) != d.seq) {
		scx_counter_inc(&rl_stats, RL_STAT_STALE);
		bpf_task_release(p);
		return 0;
	}
	remember(tctx, &d);
	slice = d.slice_ns ? d.slice_ns : slice_ns;
	cpu = d.cpu;
	if (!cpu_ok_for(p, cpu)) {
		/* "Any": an idle CPU the task may use, woken by the insert itself. */
		cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
		if (cpu >= 0 && !cpu_ok_for(p, cpu))
			cpu = -1;
	}
	scx_counter_inc(&rl_stats, RL_STAT_USER);
	if (cpu >= 0)
		scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, slice,
			       (d.flags & RL_DECISION_PREEMPT) ? preempt_flag_on(cpu_run_of(cpu))
							       : 0);
	else
		scx_dsq_insert_vtime(p, SHARED_DSQ, slice, d.deadline, 0);
	bpf_task_release(p);
	return scx_bpf_dispatch_nr_slots() ? 0 : 1;
}

/*
 * Walk the oldest pending records: drop those already decided (or whose task is gone) and take
 * over those user space is late with. Stops at the first record that is still legitimately
 * waiting, since the ones behind it are younger.
 */
static void take_over_late(u64 now)
{
	bool gone = user_gone(now);
	struct pending_rec rec;
	struct task_struct *p;
	struct task_ctx *tctx;
	u32 i;

	if (__sync_val_compare_and_swap(&gc_busy, 0, 1))
		return;
	bpf_for(i, 0, GC_BATCH)
	{
		if (bpf_map_peek_elem(&pending, &rec))
			break;
		p = bpf_task_from_pid(rec.pid);
		if (!p) {
			bpf_map_pop_elem(&pending, &rec);
			continue;
		}
		tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, 0);
		if (!tctx || tctx->seq != rec.seq) {
			bpf_task_release(p);
			bpf_map_pop_elem(&pending, &rec);
			continue;
		}
		if (!gone && now - rec.enq_ns < task_timeout_ns) {
			bpf_task_release(p);
			break;
		}
		if (!scx_bpf_dispatch_nr_slots()) {
			bpf_task_release(p);
			break;
		}
		bpf_map_pop_elem(&pending, &rec);
		if (__sync_val_compare_and_swap(&tctx->seq, rec.seq, 0) == rec.seq) {
			scx_counter_inc(&rl_stats, RL_STAT_FALLBACK);
			scx_dsq_insert(p, FALLBACK_DSQ, slice_ns, 0);
		}
		bpf_task_release(p);
	}
	gc_busy = 0;
}

void BPF_STRUCT_OPS(rustland_dispatch, s32 cpu, struct task_struct *prev)
{
	take_over_late(bpf_ktime_get_ns());
	/*
	 * No wake-up of writers: user space never waits for room in the ring (a full ring is
	 * counted, not waited out), and without the flag every drain that applied a decision
	 * raised a self-interrupt (irq_work) to wake nobody.
	 */
	if (scx_bpf_dispatch_nr_slots())
		bpf_user_ringbuf_drain(&dispatched, apply_decision, NULL, BPF_RB_NO_WAKEUP);
	if (scx_dsq_move_to_local(FALLBACK_DSQ))
		return;
	scx_dsq_move_to_local(SHARED_DSQ);
}

void BPF_STRUCT_OPS(rustland_running, struct task_struct *p)
{
	u32 zero = 0;
	struct cpu_run *r = bpf_map_lookup_elem(&cpu_runs, &zero);
	bool fast;

	if (r) {
		fast = r->fast_pid && r->fast_pid == p->pid;
		r->since = bpf_ktime_get_ns();
		r->unpreemptible = fast || is_usersched(p);
		if (fast)
			r->fast_pid = 0;
	}
	if (is_usersched(p))
		urgent_queued = false;
}

void BPF_STRUCT_OPS(rustland_update_idle, s32 cpu, bool idle)
{
	struct rl_shared *sh = shared();

	if (sh && cpu >= 0 && cpu < RL_MAX_CPUS)
		sh->cpu_idle[cpu] = idle;
}

static int timer_cb(void *map, int *key, struct bpf_timer *timer)
{
	struct pending_rec rec;
	u64 now = bpf_ktime_get_ns();

	/*
	 * Something waits and user space is gone or late with it: make this CPU go through
	 * ops.dispatch (woken if idle, its task preempted otherwise).
	 */
	if (!bpf_map_peek_elem(&pending, &rec) &&
	    (user_gone(now) || now - rec.enq_ns >= task_timeout_ns))
		scx_kick_cpu(bpf_get_smp_processor_id(), SCX_KICK_PREEMPT);
	bpf_timer_start(timer, TIMER_INTERVAL_NS, 0);
	return 0;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(rustland_init)
{
	struct rl_shared *sh = shared();
	struct timer_wrap *tw;
	u32 zero = 0;
	s32 ret;

	if (sh)
		sh->nr_cpu_ids = scx_bpf_nr_cpu_ids();
	ret = scx_bpf_create_dsq(SHARED_DSQ, -1);
	if (ret)
		return ret;
	ret = scx_bpf_create_dsq(FALLBACK_DSQ, -1);
	if (ret)
		return ret;
	tw = bpf_map_lookup_elem(&rl_timer, &zero);
	if (!tw)
		return -ENOENT;
	bpf_timer_init(&tw->timer, &rl_timer, CLOCK_MONOTONIC);
	bpf_timer_set_callback(&tw->timer, timer_cb);
	return bpf_timer_start(&tw->timer, TIMER_INTERVAL_NS, 0);
}

void BPF_STRUCT_OPS(rustland_exit, struct scx_exit_info *ei)
{
	struct rl_shared *sh = shared();

	if (sh)
		sh->exited = 1;
	scx_uei_record(ei);
}

SCX_OPS_DEFINE(rustland, .select_cpu = (void *)rustland_select_cpu,
	       .enqueue = (void *)rustland_enqueue, .dispatch = (void *)rustland_dispatch,
	       .running = (void *)rustland_running, .update_idle = (void *)rustland_update_idle,
	       .init = (void *)rustland_init, .exit = (void *)rustland_exit,
	       .flags = SCX_OPS_KEEP_BUILTIN_IDLE, .name = "rustland");
