/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Calls every wrapper of scx/compat.bpf.h and the reporting macros of scx/common.bpf.h, each
 * from a callback where the kernel allows it. It is never meant to schedule anything: loading it
 * (the verifier accepting every program) on each kernel series is the proof that the wrappers'
 * guards and fallbacks hold there. tests/verifier-cost/run.sh loads it with the schedulers.
 */
#include <scx/common.bpf.h>

char _license[] SEC("license") = "GPL";

#define COMPAT_DSQ 0

/* Not const: the verifier must not be able to prove the exit and error paths dead. */
u32 end_with_exit, end_with_error;
u64 seen;

s32 BPF_STRUCT_OPS(compat_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);

	if (is_idle)
		scx_dsq_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
	return cpu;
}

void BPF_STRUCT_OPS(compat_enqueue, struct task_struct *p, u64 enq_flags)
{
	s32 cpu = scx_bpf_task_cpu(p);

	seen += scx_cpu_node(cpu) + scx_nr_node_ids();
	scx_dsq_insert_vtime(p, COMPAT_DSQ, SCX_SLICE_DFL, p->scx.dsq_vtime, enq_flags);
	if (!scx_kick_cpu(cpu, SCX_KICK_IDLE))
		seen++;
	if (end_with_exit)
		scx_bpf_exit(end_with_exit, "compat: exit asked for (%u)", end_with_exit);
	if (end_with_error)
		scx_bpf_error("compat: error asked for (%u)", end_with_error);
}

void BPF_STRUCT_OPS(compat_dispatch, s32 cpu, struct task_struct *prev)
{
	struct bpf_iter_scx_dsq it;
	struct task_struct *p;

	if (scx_dsq_move_to_local(COMPAT_DSQ))
		return;
	/* Debian's 7.1 cannot run bpf_iter_scx_dsq_new: see scx_dsq_move() in compat.bpf.h. */
	if (!bpf_ksym_exists(bpf_iter_scx_dsq_new))
		return;
	bpf_iter_scx_dsq_new(&it, COMPAT_DSQ, 0);
	while ((p = bpf_iter_scx_dsq_next(&it))) {
		if (p->scx.weight > 100 ? scx_dsq_move_vtime(&it, p, COMPAT_DSQ, 0)
					: scx_dsq_move(&it, p, SCX_DSQ_LOCAL, 0))
			break;
	}
	bpf_iter_scx_dsq_destroy(&it);
}

void BPF_STRUCT_OPS(compat_running, struct task_struct *p)
{
	struct task_struct *curr;

	scx_task_set_slice(p, SCX_SLICE_DFL);
	scx_task_set_dsq_vtime(p, p->scx.dsq_vtime + 1);
	seen = scx_now();
	bpf_rcu_read_lock();
	curr = scx_cpu_curr(scx_bpf_task_cpu(p));
	if (curr)
		seen += curr->pid;
	bpf_rcu_read_unlock();
}

void BPF_STRUCT_OPS(compat_dump, struct scx_dump_ctx *dctx)
{
	scx_bpf_dump("compat: seen %llu", seen);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(compat_init)
{
	s32 ret = scx_bpf_create_dsq(COMPAT_DSQ, -1);

	if (ret)
		scx_bpf_error("compat: creating the queue failed: %d", ret);
	return ret;
}

SCX_UEI_DEFINE();

void BPF_STRUCT_OPS(compat_exit, struct scx_exit_info *ei)
{
	scx_uei_record(ei);
}

SCX_OPS_DEFINE(compat_ops, .select_cpu = (void *)compat_select_cpu,
	       .enqueue = (void *)compat_enqueue, .dispatch = (void *)compat_dispatch,
	       .running = (void *)compat_running, .dump = (void *)compat_dump,
	       .init = (void *)compat_init, .exit = (void *)compat_exit, .name = "compat");
