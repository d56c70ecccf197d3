/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Bounds on weighted virtual time, for schedulers that queue tasks by vtime (or a deadline
 * derived from it) and keep a per-queue "front": the vtime of the latest work that ran there.
 *
 * A task's vtime grows by its CPU time times 100 / weight, so one run of a nice 19 task
 * (weight 1) is charged a hundred times its length: a 20 ms slice puts it 2 s of vtime ahead
 * of everyone. Exact weighted fairness then makes it wait until the front has moved 2 s, which
 * under load (the front moves at CPUs / tasks) takes minutes, and the kernel's watchdog ejects
 * the scheduler after 30 s. Two rules keep the wait bounded without giving up nice:
 *
 * - scx_weighted_slice(): a task lighter than nice 0 gets a proportionally shorter slice, never
 *   below a floor; the charge of one run is then at most max(slice, floor * 100 / weight),
 *   as the fair class does (a lighter task gets a shorter slice, not a rarer one);
 * - scx_vtime_place(): when a task is queued, its vtime lies at most @max_lead ahead of
 *   @lead_ref and, if it is waking up, at most @credit behind the front (a sleeper banks at most
 *   that much). @lead_ref is the earliest of the front and of what the task will compete with
 *   (its queue's head, the task running on its CPU): a CPU crowded with pinned tasks progresses
 *   slower than its LLC's front, which the uncontended CPUs drive, and a lead over that front
 *   is a longer one over the crowd;
 * - scx_front_advance(): the front follows a running task's vtime by at most one step per
 *   observation. Taken whole, the vtime of a light task (or of one extended alone on a CPU,
 *   charged a hundred times its run) would drag the front ahead of every other task: the
 *   lead bound, relative to the front, would bound nothing, and sleepers waking at the front
 *   would wait behind hogs that are far behind it.
 *
 *	tctx->vtime = scx_vtime_place(tctx->vtime, front, slice_max, ref, 8 * slice_max, waking);
 *	slice = scx_weighted_slice(slice, p->scx.weight, slice_min);
 *	(in ops.running) front = scx_front_advance(front, tctx->vtime, slice_max);
 *
 * Used by scx_rusty and scx_lavd.
 */
#ifndef __SCX_VTIME_BPF_H
#define __SCX_VTIME_BPF_H

/* The weight of a nice 0 task in sched_ext (p->scx.weight ranges 1..10000). */
#define SCX_WEIGHT_NICE0 100

/* @slice scaled down for a task lighter than nice 0, never below @floor (nor above @slice). */
static __always_inline u64 scx_weighted_slice(u64 slice, u32 weight, u64 floor)
{
	u64 s;

	if (weight >= SCX_WEIGHT_NICE0 || slice <= floor)
		return slice;
	s = slice * weight / SCX_WEIGHT_NICE0;
	return s < floor ? floor : s;
}

/*
 * @vtime moved to at most @lead_ref + @max_lead and, when @waking, at least @front - @credit
 * (a task queued again at the end of its slice keeps what it is owed, or a nice 0 task sharing a
 * CPU with a lighter one would be pulled up to the lighter one's faster-growing vtime at every
 * slice). The upper bound wins. Comparisons are wrap-safe.
 */
static __always_inline u64 scx_vtime_place(u64 vtime, u64 front, u64 credit, u64 lead_ref,
					   u64 max_lead, bool waking)
{
	if (waking && (s64)(vtime - (front - credit)) < 0)
		vtime = front - credit;
	if ((s64)(vtime - (lead_ref + max_lead)) > 0)
		vtime = lead_ref + max_lead;
	return vtime;
}

/* The earlier of @ref and @v: the reference a lead is measured from. */
static __always_inline u64 scx_vtime_earlier(u64 ref, u64 v)
{
	return (s64)(v - ref) < 0 ? v : ref;
}

/* The front after a task with @vtime was seen running: moved toward it by at most @step. */
static __always_inline u64 scx_front_advance(u64 front, u64 vtime, u64 step)
{
	if ((s64)(vtime - front) <= 0)
		return front;
	return (s64)(vtime - (front + step)) > 0 ? front + step : vtime;
}

#endif /* __SCX_VTIME_BPF_H */
