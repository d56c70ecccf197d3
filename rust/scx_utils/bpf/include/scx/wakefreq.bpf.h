/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Event-frequency bookkeeping for deadline schedulers that favour wake-up chains: how often a
 * task wakes others or blocks, as a decaying events-per-second figure, its integer log2 (so one
 * extreme rate does not dominate a score), and its CPU bursts (struct scx_burst). Which task did
 * a wake-up (so that only the real waker is credited) comes from scx/waker.bpf.h, included here.
 *
 *	tctx->wake_freq = scx_ewma4(tctx->wake_freq, scx_freq_of_gap(now - tctx->last_wake_at));
 *	tctx->last_wake_at = now;
 *	...
 *	score = scx_log2_u64(1 + scx_decayed_freq(tctx->wake_freq, tctx->last_wake_at, now));
 *
 * Used by scx_rusty and scx_lavd.
 */
#ifndef __SCX_WAKEFREQ_BPF_H
#define __SCX_WAKEFREQ_BPF_H

#include <scx/waker.bpf.h>

/*
 * floor(log2(v)), 0 for v <= 1. Branchy, so the verifier sees no loop; and a global function,
 * so it verifies the six branches once: inlined, each call site multiplies the paths of the
 * next (three calls in one callback cost scx_lavd 127k verified instructions, 12 % of the
 * limit). The caller sees an unknown result and must bound it before using it as an index.
 */
__weak __noinline u32 scx_log2_u64(u64 v)
{
	u32 r = 0;

	if (v >= 1ULL << 32) {
		v >>= 32;
		r += 32;
	}
	if (v >= 1ULL << 16) {
		v >>= 16;
		r += 16;
	}
	if (v >= 1ULL << 8) {
		v >>= 8;
		r += 8;
	}
	if (v >= 1ULL << 4) {
		v >>= 4;
		r += 4;
	}
	if (v >= 1ULL << 2) {
		v >>= 2;
		r += 2;
	}
	if (v >= 1ULL << 1)
		r += 1;
	return r;
}

/* Exponentially weighted moving average giving the new sample a weight of 1/4. */
static u64 scx_ewma4(u64 old, u64 sample)
{
	return (old * 3 + sample) / 4;
}

/* Events per second implied by a gap of @gap_ns between two events; 0 for a gap of 0. */
static u64 scx_freq_of_gap(u64 gap_ns)
{
	return gap_ns ? 1000000000ULL / gap_ns : 0;
}

/*
 * @freq as of @now: no more than one event per the time since the last one (@last_at), so a
 * rate decays once its events stop instead of staying frozen at its last value.
 */
static u64 scx_decayed_freq(u64 freq, u64 last_at, u64 now)
{
	u64 bound;

	if (!last_at || now <= last_at)
		return freq;
	bound = scx_freq_of_gap(now - last_at);
	return freq < bound ? freq : bound;
}

/*
 * A task's CPU bursts: the CPU time it uses between two blockings, summed over preemptions and
 * slice ends. Counting each run on its own would make a CPU hog that wake-up preemptions cut
 * into pieces look like a short runner, and a scheduler that only preempts long runners would
 * then stop preempting it. Call scx_burst_ran() from ops.stopping and scx_burst_blocked() from
 * ops.quiescent when the task goes to sleep (SCX_DEQ_SLEEP).
 */
#define SCX_BURST_CAP_NS (1000ULL * 1000 * 1000)

struct scx_burst {
	/* CPU time since the task last blocked, capped at SCX_BURST_CAP_NS */
	u64 cur;
	/* average of its bursts; a burst still going raises it once it exceeds it */
	u64 avg;
};

/* The task ran @ran ns and is @runnable still (preempted or out of slice) or not (blocking). */
static void scx_burst_ran(struct scx_burst *b, u64 ran, bool runnable)
{
	b->cur = b->cur + ran < SCX_BURST_CAP_NS ? b->cur + ran : SCX_BURST_CAP_NS;
	/* A task that keeps running without blocking: let the average see the burst grow. */
	if (runnable && b->cur > b->avg)
		b->avg = scx_ewma4(b->avg, b->cur);
}

/* The task blocks: its burst is complete. */
static void scx_burst_blocked(struct scx_burst *b)
{
	b->avg = scx_ewma4(b->avg, b->cur);
	b->cur = 0;
}

#endif /* __SCX_WAKEFREQ_BPF_H */
