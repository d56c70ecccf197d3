/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The scheduler's own user-space process: its run loop, load balancer and stats server.
 *
 * In a scheduler whose user-space half only keeps house (statistics, load balancing; not one
 * that dispatches from user space, as scx_rustland does), that work can always wait a little,
 * while the task it would delay may be the one a user is waiting for. Such a scheduler can let
 * any waking task preempt its own process, whatever the usual victim tests say: a run-loop pass
 * is short on average, so a "long runners only" test never lets a wake-up in, yet one pass can
 * hold a CPU for milliseconds (scx_rusty's, under emulation on one CPU with hogs: a wake-up that
 * came during one waited for its end).
 *
 * The loader sets scx_own_tgid to its process id before load (0, the default, matches nothing):
 *
 *	rodata.scx_own_tgid = std::process::id();
 *
 *	if (scx_is_own_task(p))
 *		...	// a victim any wake-up may preempt
 *
 * Used by scx_rusty. (scx_lavd tried it: in two 1-vCPU boots its wake-up average under hogs
 * went up, 0.66-0.71x EEVDF's to 0.80-0.87x, so it does not.)
 */
#ifndef __SCX_OWN_TASK_BPF_H
#define __SCX_OWN_TASK_BPF_H

/* The process id of the scheduler's user-space process, set before load. */
const volatile u32 scx_own_tgid;

/* Whether @p is a thread of the scheduler's own user-space process. */
static bool scx_is_own_task(const struct task_struct *p)
{
	return scx_own_tgid && p->tgid == scx_own_tgid;
}

#endif /* __SCX_OWN_TASK_BPF_H */
