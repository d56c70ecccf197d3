/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * An ops struct that uses what only 7.3 has (SCX_OPS_TID_TO_TASK, rescue_quantum_us) next to
 * what every kernel has, and a guarded call to a kfunc some kernels cannot run, for testing
 * prepare_ops() against different kernels' BTF. Built with -DPROBE_UNGUARDED it also calls that
 * kfunc unguarded, next to the guarded call and in a program of its own, which prepare_ops()
 * must name for kernels that cannot run it.
 */
#include <scx/common.bpf.h>

char _license[] SEC("license") = "GPL";

void BPF_STRUCT_OPS(probe_enqueue, struct task_struct *p, u64 enq_flags)
{
	scx_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
	if (bpf_ksym_exists(scx_bpf_kick_cpu))
		scx_bpf_kick_cpu(0, SCX_KICK_IDLE);
#ifdef PROBE_UNGUARDED
	/* The check above does not cover this call. */
	scx_bpf_kick_cpu(1, 0);
#endif
}

#ifdef PROBE_UNGUARDED
void BPF_STRUCT_OPS(probe_dispatch, s32 cpu, struct task_struct *prev)
{
	scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
}
#define PROBE_DISPATCH .dispatch = (void *)probe_dispatch,
#else
#define PROBE_DISPATCH
#endif

SCX_OPS_DEFINE(probe_ops, .enqueue = (void *)probe_enqueue,
	       PROBE_DISPATCH.flags = SCX_OPS_ENQ_LAST | SCX_OPS_TID_TO_TASK,
	       .rescue_quantum_us = 500, .timeout_ms = 5000, .name = "probe");
