/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Event-frequency bookkeeping for deadline schedulers that favour wake-up chains: how often a
 * task wakes others or blocks, as a decaying events-per-second figure, its integer log2 (so one
 * extreme rate does not dominate a score) and the test that tells a wake-up done by a task from
 * one done by an interrupt that happened to land on it, and the CPU whose running task did a
 * wake-up (which a preempting scheduler should not preempt for its own wakee).
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

/*
 * x86's per-CPU preempt count. Weak: on kernels or architectures without it every wake-up is
 * taken as done by the current task. Its layout moved in 7.0, and both are in use:
 *
 *	bits		up to 6.19 (an int)		7.0 on (an unsigned long)
 *	 8-15		softirq				softirq
 *	16-23		hardirq 16-19, NMI 20-23	interrupt-disable nesting
 *	24-31		31: inverted need-resched	hardirq 24-27, NMI 28-31
 *	63		-				inverted need-resched
 *
 * (7.x from the offsets irq entry adds: 0x1000000 for a hard interrupt, 0x11000000 for an NMI;
 * 6.19's from its headers.) Bits 16-30 cover hard interrupts and NMIs in both. In 7.x they
 * also take a waker inside an interrupt-disable section for an interrupt, which only costs that
 * rare wake-up its credit; bit 31 is left out (6.19's need-resched, 7.x's eighth nested NMI).
 * The low 32 bits are read, which on a little-endian machine are the low half of 7.x's long.
 */
extern const int __preempt_count __ksym __weak;

#define SCX_PC_IRQ_NMI_MASK 0x7fff0000
#define SCX_PC_SOFTIRQ_OFF  0x00000100

/*
 * Whether this CPU is in an interrupt (hard, soft or NMI). A wake-up from there was not done by
 * the current task, so crediting that task as the waker would invent a wake chain.
 */
static bool scx_in_interrupt(void)
{
	const int *pc;

	if (!bpf_ksym_exists(&__preempt_count))
		return false;
	pc = bpf_this_cpu_ptr(&__preempt_count);
	return *pc & (SCX_PC_IRQ_NMI_MASK | SCX_PC_SOFTIRQ_OFF);
}

/*
 * For a wake-up being enqueued (SCX_ENQ_WAKEUP): the CPU of the task that did it, or -1 when an
 * interrupt or the idle task did. A task that wakes another through a pipe or a socket usually
 * goes on producing and blocks soon after; preempting it for its own wakee turns every message
 * into two context switches (hackbench ran 2-4x slower in scx_rusty and scx_lavd for it). A
 * preempting scheduler spares this CPU: the wakee waits in deadline order until the waker
 * blocks or its slice ends, while wake-ups from timers and devices, which nothing running is
 * waiting to follow, may still preempt.
 */
static s32 scx_task_waker_cpu(void)
{
	struct task_struct *cur = bpf_get_current_task_btf();

	if (scx_in_interrupt() || !cur->pid)
		return -1;
	return bpf_get_smp_processor_id();
}

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

#endif /* __SCX_WAKEFREQ_BPF_H */
