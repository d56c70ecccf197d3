/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Who did a wake-up: the task running on this CPU, or an interrupt that happened to land on it.
 * A scheduler that credits wakers (wake chains) or spares them from preemption needs to tell
 * the two apart: a timer or device wake-up was not the running task's doing.
 *
 *	if (scx_in_interrupt())
 *		return;		// nobody to credit
 *	...
 *	if (cpu == scx_task_waker_cpu())
 *		continue;	// do not preempt the waker for its own wakee
 *
 * Used by scx_rusty, scx_lavd (through scx/wakefreq.bpf.h) and scx_rustland_core.
 */
#ifndef __SCX_WAKER_BPF_H
#define __SCX_WAKER_BPF_H

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

#endif /* __SCX_WAKER_BPF_H */
