/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_minimal: the smallest useful policy, as a starting point.
 *
 * Policy: a waking task that the kernel's idle picker places on an idle CPU is queued straight
 * on that CPU; every other task joins one machine-wide first-in-first-out queue, and a CPU that
 * runs out of work takes the oldest task from it. Every task gets the same slice.
 *
 * Trade-offs: the hot path is as cheap as it gets and nothing can starve (FIFO order), but
 * there is no fairness between nice levels, no preference for interactive tasks, and one queue
 * shared by all CPUs limits it to small machines. Grow it from here: per-LLC queues from
 * scx_topology, vtime ordering, preemption.
 *
 * It also keeps the kernel's PELT utilisation per task and per CPU (scx_pelt), which user space
 * reads for its stats, as a balancer would.
 */
#include <scx/common.bpf.h>
#include <scx/counters.bpf.h>
#include <scx/pelt.bpf.h>

#include "intf.h"

char _license[] SEC("license") = "GPL";

/* Set by user space before load. */
const volatile u64 slice_ns = 5ULL * 1000 * 1000;

#define SHARED_DSQ 0

SCX_UEI_DEFINE();
SCX_COUNTERS_DEFINE(stats, MINIMAL_NR_STATS);

s32 BPF_STRUCT_OPS(minimal_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool idle = false;
	s32 cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &idle);

	if (idle) {
		scx_counter_inc(&stats, STAT_DIRECT);
		scx_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
	}
	return cpu;
}

void BPF_STRUCT_OPS(minimal_enqueue, struct task_struct *p, u64 enq_flags)
{
	scx_counter_inc(&stats, STAT_QUEUED);
	scx_dsq_insert(p, SHARED_DSQ, slice_ns, enq_flags);
}

void BPF_STRUCT_OPS(minimal_dispatch, s32 cpu, struct task_struct *prev)
{
	scx_dsq_move_to_local(SHARED_DSQ);
}

void BPF_STRUCT_OPS(minimal_runnable, struct task_struct *p, u64 enq_flags)
{
	scx_pelt_task_runnable(p, scx_now(), scx_pelt_weight_from_scx(p->scx.weight),
			       scx_bpf_task_cpu(p));
}

void BPF_STRUCT_OPS(minimal_running, struct task_struct *p)
{
	scx_pelt_task_running(p, scx_now(), bpf_get_smp_processor_id());
}

void BPF_STRUCT_OPS(minimal_stopping, struct task_struct *p, bool runnable)
{
	scx_pelt_task_stopping(p, scx_now());
}

void BPF_STRUCT_OPS(minimal_quiescent, struct task_struct *p, u64 deq_flags)
{
	scx_pelt_task_quiescent(p, scx_now());
}

s32 BPF_STRUCT_OPS_SLEEPABLE(minimal_init)
{
	return scx_bpf_create_dsq(SHARED_DSQ, -1);
}

void BPF_STRUCT_OPS(minimal_exit, struct scx_exit_info *ei)
{
	scx_uei_record(ei);
}

SCX_OPS_DEFINE(minimal_ops, .select_cpu = (void *)minimal_select_cpu,
	       .enqueue = (void *)minimal_enqueue, .dispatch = (void *)minimal_dispatch,
	       .runnable = (void *)minimal_runnable, .running = (void *)minimal_running,
	       .stopping = (void *)minimal_stopping, .quiescent = (void *)minimal_quiescent,
	       .init = (void *)minimal_init, .exit = (void *)minimal_exit, .name = "minimal");
