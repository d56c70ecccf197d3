/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_stall: a deliberately broken scheduler for testing the kernel's watchdog and the loaders'
 * exit reporting. Never install it.
 *
 * Every task goes through one global FIFO queue, except tasks whose comm is "stallme": those are
 * parked on a queue that nothing ever consumes. Once such a task has been runnable for longer
 * than timeout_ms, the kernel's watchdog must eject the scheduler with SCX_EXIT_ERROR_STALL and
 * hand every task back to the fair class; the loader must then say so and exit non-zero.
 */
#include <scx/common.bpf.h>

char _license[] SEC("license") = "GPL";

#define RUN_DSQ	 0
#define PARK_DSQ 1

SCX_UEI_DEFINE();

static bool is_stallme(struct task_struct *p)
{
	static const char victim[] = "stallme";
	char comm[sizeof(victim)];

	if (bpf_probe_read_kernel_str(comm, sizeof(comm), p->comm) != sizeof(victim))
		return false;
	for (int i = 0; i < sizeof(victim); i++)
		if (comm[i] != victim[i])
			return false;
	return true;
}

void BPF_STRUCT_OPS(stall_enqueue, struct task_struct *p, u64 enq_flags)
{
	scx_dsq_insert(p, is_stallme(p) ? PARK_DSQ : RUN_DSQ, SCX_SLICE_DFL, enq_flags);
}

void BPF_STRUCT_OPS(stall_dispatch, s32 cpu, struct task_struct *prev)
{
	scx_dsq_move_to_local(RUN_DSQ);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(stall_init)
{
	s32 ret = scx_bpf_create_dsq(RUN_DSQ, -1);

	return ret ?: scx_bpf_create_dsq(PARK_DSQ, -1);
}

void BPF_STRUCT_OPS(stall_exit, struct scx_exit_info *ei)
{
	scx_uei_record(ei);
}

SCX_OPS_DEFINE(stall_ops, .enqueue = (void *)stall_enqueue, .dispatch = (void *)stall_dispatch,
	       .init = (void *)stall_init, .exit = (void *)stall_exit,
	       /* Short, so the test does not wait the default 30 s. */
	       .timeout_ms = 3000, .name = "stall");
