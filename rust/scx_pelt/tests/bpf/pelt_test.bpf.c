// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test program for tests/bpf_equivalence.rs: one SEC("syscall") program that
 * applies one operation of scx/pelt.bpf.h to the state carried in its context
 * and writes it back.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define SCX_PELT_NO_MAPS
#include <scx/pelt.bpf.h>

enum pelt_test_op {
	OP_UPDATE = 0,
	OP_UPDATE_LOAD_SUM = 1,
	OP_UPDATE_LOAD_AVG = 2,
	OP_DECAY_LOAD = 3,
	OP_ACCUMULATE_SEGMENTS = 4,
	OP_UTIL_EST_DEQUEUE = 5,
	OP_TASK_UPDATE = 6,
	OP_TASK_RUNNABLE = 7,
	OP_TASK_RUNNING = 8,
	OP_TASK_STOPPING = 9,
	OP_TASK_QUIESCENT = 10,
	OP_TASK_SET_WEIGHT = 11,
	OP_CPU_UPDATE = 12,
	OP_CPU_ENQUEUE = 13,
	OP_CPU_DEQUEUE = 14,
	OP_CPU_SET_RUNNING = 15,
	OP_SCALE_DELTA = 16,
};

/* Mirrored by `Ctx` in tests/bpf_equivalence.rs. */
struct pelt_test_ctx {
	__u32 op;
	__u32 flag;
	__u64 now;
	__u64 load;
	__u64 runnable;
	__u64 running;
	__u64 weight;
	__u64 ret;
	struct scx_pelt_avg avg;
	struct scx_pelt_task task;
	struct scx_pelt_cpu cpu;
};

SEC("syscall")
int pelt_step(struct pelt_test_ctx *ctx)
{
	struct scx_pelt_avg avg;
	struct scx_pelt_task task;
	struct scx_pelt_cpu cpu;
	__u64 now = ctx->now, load = ctx->load, runnable = ctx->runnable, weight = ctx->weight;
	int running = ctx->running != 0, flag = ctx->flag != 0;
	__u64 ret = 0;

	__builtin_memcpy(&avg, &ctx->avg, sizeof(avg));
	__builtin_memcpy(&task, &ctx->task, sizeof(task));
	__builtin_memcpy(&cpu, &ctx->cpu, sizeof(cpu));

	switch (ctx->op) {
	case OP_UPDATE:
		ret = scx_pelt_update(&avg, now, load, runnable, running, weight);
		break;
	case OP_UPDATE_LOAD_SUM:
		ret = scx_pelt_update_load_sum(&avg, now, load, runnable, running);
		break;
	case OP_UPDATE_LOAD_AVG:
		scx_pelt_update_load_avg(&avg, weight);
		break;
	case OP_DECAY_LOAD:
		ret = scx_pelt_decay_load(load, runnable);
		break;
	case OP_ACCUMULATE_SEGMENTS:
		ret = scx_pelt_accumulate_segments(load, (__u32)runnable, (__u32)weight);
		break;
	case OP_UTIL_EST_DEQUEUE:
		ret = scx_pelt_util_est_dequeue(&avg, flag, weight);
		break;
	case OP_TASK_UPDATE:
		ret = scx_pelt_task_do_update(&task, now);
		break;
	case OP_TASK_RUNNABLE:
		scx_pelt_task_do_runnable(&task, now, weight);
		break;
	case OP_TASK_RUNNING:
		scx_pelt_task_do_running(&task, now);
		break;
	case OP_TASK_STOPPING:
		scx_pelt_task_do_stopping(&task, now);
		break;
	case OP_TASK_QUIESCENT:
		scx_pelt_task_do_quiescent(&task, now, weight);
		break;
	case OP_TASK_SET_WEIGHT:
		scx_pelt_task_do_set_weight(&task, now, weight);
		break;
	case OP_CPU_UPDATE:
		ret = scx_pelt_cpu_update(&cpu, now);
		break;
	case OP_CPU_ENQUEUE:
		scx_pelt_cpu_enqueue(&cpu, now, weight);
		break;
	case OP_CPU_DEQUEUE:
		scx_pelt_cpu_dequeue(&cpu, now, weight);
		break;
	case OP_CPU_SET_RUNNING:
		scx_pelt_cpu_set_running(&cpu, now, flag);
		break;
	case OP_SCALE_DELTA:
		ret = scx_pelt_scale_delta(load, runnable, weight);
		break;
	default:
		return -1;
	}

	__builtin_memcpy(&ctx->avg, &avg, sizeof(avg));
	__builtin_memcpy(&ctx->task, &task, sizeof(task));
	__builtin_memcpy(&ctx->cpu, &cpu, sizeof(cpu));
	ctx->ret = ret;
	return 0;
}

/* The update step alone, to measure its instruction count. */
SEC("syscall")
int pelt_update_only(struct pelt_test_ctx *ctx)
{
	struct scx_pelt_avg avg;

	__builtin_memcpy(&avg, &ctx->avg, sizeof(avg));
	ctx->ret = scx_pelt_update(&avg, ctx->now, ctx->load, ctx->runnable, ctx->running != 0,
				   ctx->weight);
	__builtin_memcpy(&ctx->avg, &avg, sizeof(avg));
	return 0;
}

char _license[] SEC("license") = "GPL";
