/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Wake-up preemption for deadline schedulers: whose run a waking task may cut short, and on
 * which CPU.
 *
 * Each CPU keeps a struct scx_run about the task it runs, written by its own ops.running and
 * ops.stopping (scx_run_start, scx_run_stop) and read without a lock by wakers on other CPUs.
 * A stale read costs one poor choice (a victim that has just switched, or a victim missed), not
 * a lost task: the wakee is inserted at the head of the victim's local queue, and whatever it
 * displaces goes back to its queue.
 *
 * A run is worth cutting short for a wake-up (scx_run_worth) when all of these hold:
 * - a task of the scheduler runs there, and it is not the waker: a producer preempted by its
 *   consumer has to run again right after (scx_run_ours);
 * - its deadline is later than the wakee's by more than a margin: a near tie does not pay for
 *   two context switches (scx_run_later);
 * - for a wake-up by a task, the run is at least a grace period old: a wake-up chain such as
 *   hackbench's would otherwise switch at every message. A timer or device wake-up starts no
 *   chain, and declined it would wait for the runner's slice to end at a tick, milliseconds
 *   away, so it is never held back (scx_run_past_grace);
 * - the runner's bursts average at least a minimum run and four times the wakee's: two tasks
 *   of alike run lengths do not preempt each other, since either yields about as soon as a
 *   preemption would help (scx_run_long).
 * The parts are callable alone, for a scheduler that exempts some runners from some of them.
 *
 * The victim (scx_pick_victim) is chosen among the wakee's previous CPU and two random CPUs of
 * its LLC that it may use, those the caller's test accepts: the latest deadline wins, except
 * that the previous CPU, if accepted, wins outright. A timer wake-up comes on the CPU the task
 * last ran on, where preempting needs no IPI and the cache is warm; a remote victim costs a
 * reschedule IPI (in a 4-vCPU guest under 8 hogs, taking the latest deadline of all three sent
 * one per cyclictest wake-up). Two random picks, not a scan, keep the cost independent of the
 * LLC's size.
 *
 *	(ops.running)	scx_run_start(&r->run, tctx->deadline, tctx->burst.avg, now);
 *	(ops.stopping)	scx_run_stop(&r->run);
 *	(ops.enqueue)	scx_wakeup_init(&w, tctx->deadline, tctx->burst.avg, now);
 *			cpu = scx_pick_victim(p, prev_cpu, llc, victim_test, &w, &deadline);
 *
 * where victim_test(cpu, ctx) returns @cpu's struct scx_run if it accepts @cpu, else NULL.
 *
 * Used by scx_rusty and scx_lavd.
 */
#ifndef __SCX_PREEMPT_BPF_H
#define __SCX_PREEMPT_BPF_H

#include <scx/llc_topo.bpf.h>
#include <scx/waker.bpf.h>

/* What a CPU runs, as wakers on other CPUs see it. */
struct scx_run {
	/* the runner's deadline; 0 once a waker has claimed the CPU (scx_victim_claim) */
	u64 deadline;
	/* when the run started; 0 when no task of the scheduler runs there */
	u64 started_at;
	/* the runner's average burst (run length between sleeps) */
	u64 avg_burst;
};

/* A wake-up looking for a run to cut short. */
struct scx_wakeup {
	/* the wakee's deadline and average burst */
	u64 deadline;
	u64 avg_burst;
	u64 now;
	/* scx_task_waker_cpu(), read once per wake-up: -1 for a timer or device wake-up */
	s32 waker_cpu;
};

/* *@w: a wake-up, now, of a task with @deadline and @avg_burst; reads who did it. */
static __always_inline void scx_wakeup_init(struct scx_wakeup *w, u64 deadline, u64 avg_burst,
					    u64 now)
{
	w->deadline = deadline;
	w->avg_burst = avg_burst;
	w->now = now;
	w->waker_cpu = scx_task_waker_cpu();
}

/* The CPU of @r starts running a task with @deadline and @avg_burst. */
static __always_inline void scx_run_start(struct scx_run *r, u64 deadline, u64 avg_burst, u64 now)
{
	r->deadline = deadline;
	r->avg_burst = avg_burst;
	r->started_at = now;
}

/* The CPU of @r stops running its task. */
static __always_inline void scx_run_stop(struct scx_run *r)
{
	r->started_at = 0;
}

/* A task of the scheduler runs on @cpu (@r), and it did not do wake-up @w. */
static __always_inline bool scx_run_ours(const struct scx_run *r, s32 cpu,
					 const struct scx_wakeup *w)
{
	return r->started_at && cpu != w->waker_cpu;
}

/* The run's deadline is later than @w's by more than @margin (wrap-safe). */
static __always_inline bool scx_run_later(const struct scx_run *r, const struct scx_wakeup *w,
					  u64 margin)
{
	return vtime_before(w->deadline + margin, r->deadline);
}

/* @w is a timer or device wake-up, or the run is at least @grace old. */
static __always_inline bool scx_run_past_grace(const struct scx_run *r, const struct scx_wakeup *w,
					       u64 grace)
{
	return w->waker_cpu < 0 || w->now - r->started_at >= grace;
}

/* The runner's bursts average at least @min_run and four times @w's. */
static __always_inline bool scx_run_long(const struct scx_run *r, const struct scx_wakeup *w,
					 u64 min_run)
{
	return r->avg_burst >= min_run && w->avg_burst * 4 <= r->avg_burst;
}

/* All four tests above: the run on @cpu (@r) is worth cutting short for @w. */
static __always_inline bool scx_run_worth(const struct scx_run *r, s32 cpu,
					  const struct scx_wakeup *w, u64 margin, u64 grace,
					  u64 min_run)
{
	return scx_run_ours(r, cpu, w) && scx_run_later(r, w, margin) &&
	       scx_run_past_grace(r, w, grace) && scx_run_long(r, w, min_run);
}

/* The caller's test of a candidate victim: @cpu's record if it accepts @cpu, else NULL. */
typedef struct scx_run *(*scx_victim_test_fn)(s32 cpu, void *ctx);

/*
 * The CPU to preempt for @p, waking from @prev_cpu into @llc, or -1 (see the top of this file);
 * *@deadline is set to the winner's deadline as read. @test is called with @ctx on each
 * candidate @p may run on; it must be a function known at compile time (BPF has no indirect
 * calls: this helper is inlined, and the call becomes a direct one).
 */
static __always_inline s32 scx_pick_victim(const struct task_struct *p, s32 prev_cpu, u32 llc,
					   scx_victim_test_fn test, void *ctx, u64 *deadline)
{
	u64 best_deadline = 0;
	struct scx_run *r;
	s32 best = -1, cpu;
	u32 i;

	for (i = 0; i < 3; i++) {
		if (i == 0)
			cpu = scx_llc_of_cpu(prev_cpu) == llc ? prev_cpu : -1;
		else
			cpu = scx_llc_random_cpu(llc);
		if (cpu < 0 || !bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		r = test(cpu, ctx);
		if (!r)
			continue;
		if (best < 0 || vtime_before(best_deadline, r->deadline)) {
			best = cpu;
			best_deadline = r->deadline;
		}
		if (i == 0)
			break;
	}
	*deadline = best_deadline;
	return best;
}

/*
 * Claim the victim whose record is @r, chosen with @deadline: its deadline becomes 0, so a
 * second waker does not choose the same CPU before its runner has switched. False when another
 * waker claimed it first or a new run started there.
 */
static __always_inline bool scx_victim_claim(struct scx_run *r, u64 deadline)
{
	return __sync_val_compare_and_swap(&r->deadline, deadline, 0) == deadline;
}

#endif /* __SCX_PREEMPT_BPF_H */
