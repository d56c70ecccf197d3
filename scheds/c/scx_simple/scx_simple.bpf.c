/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_simple: one shared queue for the whole machine, in one of two orders.
 *
 * Weighted vtime (default): every task carries a virtual time that grows by the CPU time it used
 * divided by its weight, and the queue hands out the smallest vtime first. Heavier (lower nice)
 * tasks therefore get proportionally more CPU, and a task that slept long cannot hoard credit:
 * its vtime is pulled up to at most one slice behind the current front on wake-up.
 *
 * FIFO (-f): first come, first served, no accounting at all. Cheapest possible hot path; fine
 * for throughput, poor for latency when CPU hogs fill the queue.
 *
 * Both modes send a waking task straight to an idle CPU's local queue when the kernel's default
 * idle picker finds one, skipping the shared queue. A single queue is a contention point beyond
 * a socket or two: this scheduler is for small machines and for reading, not for big servers.
 */
#include <scx/common.bpf.h>
#include <scx/counters.bpf.h>

char _license[] SEC("license") = "GPL";

/* Set by the loader before load. */
const volatile bool fifo_mode;
const volatile u64 slice_ns = 20ULL * 1000 * 1000;

/* The shared queue's id (user DSQ ids are any u64 below 2^63). */
#define SHARED_DSQ 0

/* Front of the vtime order: the largest vtime that has started running. */
static u64 vtime_now;

SCX_UEI_DEFINE();

/* Counters the loader prints: [0] direct to an idle CPU, [1] through the shared queue. */
SCX_COUNTERS_DEFINE(stats, 2);

static void count(u32 idx)
{
	scx_counter_inc(&stats, idx);
}

s32 BPF_STRUCT_OPS(simple_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);

	if (is_idle) {
		count(0);
		scx_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
	}
	return cpu;
}

void BPF_STRUCT_OPS(simple_enqueue, struct task_struct *p, u64 enq_flags)
{
	u64 vtime = p->scx.dsq_vtime;

	count(1);
	if (fifo_mode) {
		scx_dsq_insert(p, SHARED_DSQ, slice_ns, enq_flags);
		return;
	}
	/* A sleeper may bank at most one slice of credit. */
	if (vtime_before(vtime, vtime_now - slice_ns))
		vtime = vtime_now - slice_ns;
	scx_dsq_insert_vtime(p, SHARED_DSQ, slice_ns, vtime, enq_flags);
}

void BPF_STRUCT_OPS(simple_dispatch, s32 cpu, struct task_struct *prev)
{
	scx_dsq_move_to_local(SHARED_DSQ);
}

void BPF_STRUCT_OPS(simple_running, struct task_struct *p)
{
	if (!fifo_mode && vtime_before(vtime_now, p->scx.dsq_vtime))
		vtime_now = p->scx.dsq_vtime;
}

void BPF_STRUCT_OPS(simple_stopping, struct task_struct *p, bool runnable)
{
	u64 used;

	if (fifo_mode)
		return;
	/* Charge the part of the slice it used, scaled by 100 / weight (100 is nice 0). */
	used = slice_ns - p->scx.slice;
	if (used > slice_ns)
		used = slice_ns;
	scx_task_set_dsq_vtime(p, p->scx.dsq_vtime + used * 100 / p->scx.weight);
}

void BPF_STRUCT_OPS(simple_enable, struct task_struct *p)
{
	scx_task_set_dsq_vtime(p, vtime_now);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(simple_init)
{
	return scx_bpf_create_dsq(SHARED_DSQ, -1);
}

void BPF_STRUCT_OPS(simple_exit, struct scx_exit_info *ei)
{
	scx_uei_record(ei);
}

SCX_OPS_DEFINE(simple_ops, .select_cpu = (void *)simple_select_cpu,
	       .enqueue = (void *)simple_enqueue, .dispatch = (void *)simple_dispatch,
	       .running = (void *)simple_running, .stopping = (void *)simple_stopping,
	       .enable = (void *)simple_enable, .init = (void *)simple_init,
	       .exit = (void *)simple_exit, .name = "simple");
