/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A queue's virtual-time front, for schedulers that order tasks by weighted CPU time (vtime):
 * where a task that joins the queue is placed, and how the front moves.
 *
 * The front is the vtime of the tasks the queue is running now. A task waking up, or arriving
 * from another queue, is placed within one slice of it on both sides: below, so that sleeping
 * banks at most one slice of credit; above, so that a task whose vtime ran far ahead (a nice-19
 * task's weighted time grows 100 times faster than a nice-0 task's) does not wait for everyone
 * to catch up, which can exceed the kernel's watchdog timeout.
 *
 * The front follows the tasks that start running, with one exception: a task that did not
 * come from the head of the queue (sent straight to an idle CPU, a preemption, a CPU's own
 * pinned queue) and is more than a slice ahead of the front. Letting it move the front would
 * place every later waker up there, behind every queued task for as long as they need to
 * catch up (scx_layered, whose clock could run ahead of a queue's work, once made a shell wait
 * 13 s for a 0.1 s sleep). A task taken from the queue always moves it: it was its front.
 *
 *	on wake-up:	tctx->vtime = scx_vtime_place(tctx->vtime, q->front, slice);
 *	in running:	scx_vtime_front_update(&q->front, tctx->vtime, tctx->from_queue, slice);
 */
#ifndef __SCX_VTIME_BPF_H
#define __SCX_VTIME_BPF_H

/* @vtime kept within @slice of @front, on both sides. */
static __always_inline u64 scx_vtime_place(u64 vtime, u64 front, u64 slice)
{
	if (vtime_before(vtime, front - slice))
		return front - slice;
	if (vtime_before(front + slice, vtime))
		return front + slice;
	return vtime;
}

/*
 * A task with @vtime starts running; @from_queue: it was taken from the queue (not inserted
 * straight into a CPU's local queue). Moves *@front forward to @vtime when it should.
 */
static __always_inline void scx_vtime_front_update(u64 *front, u64 vtime, bool from_queue,
						   u64 slice)
{
	if (vtime_before(*front, vtime) && (from_queue || !vtime_before(*front + slice, vtime)))
		*front = vtime;
}

#endif /* __SCX_VTIME_BPF_H */
