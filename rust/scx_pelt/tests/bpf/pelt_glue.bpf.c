// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test program for tests/bpf_glue.rs: the task-storage and per-CPU helpers of scx/pelt.bpf.h,
 * built against a vmlinux.h like a scheduler's BPF code, driven from the sched_switch
 * tracepoint so that the host verifier checks them (the host cannot run sched_ext).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <scx/pelt.bpf.h>

SEC("tp_btf/sched_switch")
int BPF_PROG(pelt_glue_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();
	__s32 cpu = (__s32)bpf_get_smp_processor_id();
	struct scx_pelt_task *t;

	scx_pelt_task_stopping(prev, now);
	if (prev->__state)
		scx_pelt_task_quiescent(prev, now);
	t = scx_pelt_task_get(next);
	if (t && !t->on_rq)
		scx_pelt_task_runnable(next, now, scx_pelt_weight_from_scx(100), cpu);
	scx_pelt_task_running(next, now, cpu);
	scx_pelt_task_set_weight(next, now, 1024);
	return 0;
}

char _license[] SEC("license") = "GPL";
