/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Test programs for tests/preempt_bpf.rs: scx/preempt.bpf.h's tests and victim choice, run in
 * the host kernel with BPF_PROG_TEST_RUN. The topology tables (scx/llc_topo.bpf.h) are set in
 * the object's read-only data before load.
 */
#include <scx/common.bpf.h>
#include <scx/preempt.bpf.h>

char _license[] SEC("license") = "GPL";

/* Mirrored by `RulesCtx` in tests/preempt_bpf.rs. */
struct rules_ctx {
	struct scx_run run;
	struct scx_wakeup w;
	s32 cpu;
	u32 pad;
	u64 margin;
	u64 grace;
	u64 min_run;
	u64 claim_deadline;
	/* out: each test's answer, and the record's deadline after the claim */
	u32 ours;
	u32 later;
	u32 past_grace;
	u32 long_run;
	u32 worth;
	u32 claimed;
	u64 deadline_after;
};

/* The record the claim works on: atomics want map memory. */
struct scx_run claim_run;

SEC("syscall")
int rules(struct rules_ctx *ctx)
{
	struct scx_run r = ctx->run;
	struct scx_wakeup w = ctx->w;

	ctx->ours = scx_run_ours(&r, ctx->cpu, &w);
	ctx->later = scx_run_later(&r, &w, ctx->margin);
	ctx->past_grace = scx_run_past_grace(&r, &w, ctx->grace);
	ctx->long_run = scx_run_long(&r, &w, ctx->min_run);
	ctx->worth = scx_run_worth(&r, ctx->cpu, &w, ctx->margin, ctx->grace, ctx->min_run);
	claim_run = r;
	ctx->claimed = scx_victim_claim(&claim_run, ctx->claim_deadline);
	ctx->deadline_after = claim_run.deadline;
	return 0;
}

#define TEST_CPUS 8

/* Mirrored by `PickCtx` in tests/preempt_bpf.rs. */
struct pick_ctx {
	u64 deadlines[TEST_CPUS];
	/* bit c: the test accepts CPU c */
	u32 accept;
	s32 prev_cpu;
	u32 llc;
	/* out */
	s32 result;
	u64 deadline;
	/* bit c: the test was asked about CPU c */
	u32 asked;
	u32 pad;
};

struct scx_run test_runs[TEST_CPUS];
u32 test_accept;
u32 test_asked;

static struct scx_run *accept_test(s32 cpu, void *ctx)
{
	u32 c = cpu;

	if (c >= TEST_CPUS)
		return NULL;
	test_asked |= 1u << c;
	if (!(test_accept & (1u << c)))
		return NULL;
	return &test_runs[c];
}

/* scx_pick_victim for the calling thread (its affinity is the test's). */
SEC("syscall")
int pick(struct pick_ctx *ctx)
{
	struct task_struct *p = bpf_get_current_task_btf();
	u64 deadline = 0;
	u32 i;

#pragma unroll
	for (i = 0; i < TEST_CPUS; i++)
		test_runs[i].deadline = ctx->deadlines[i];
	test_accept = ctx->accept;
	test_asked = 0;
	/* A syscall program is sleepable: the task's cpumask is read under RCU, as in ops. */
	bpf_rcu_read_lock();
	ctx->result = scx_pick_victim(p, ctx->prev_cpu, ctx->llc, accept_test, NULL, &deadline);
	bpf_rcu_read_unlock();
	ctx->deadline = deadline;
	ctx->asked = test_asked;
	return 0;
}
