/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The machine as a scheduler with one queue per LLC sees it, and the search for an idle CPU
 * that follows it: the SMT sibling first, then the LLC (a whole idle core before a half-idle
 * one), then the NUMA node. Each step out costs the waking task more cache and the machine
 * more cross-LLC traffic, so a closer idle CPU always wins over a farther one.
 *
 * User space fills the tables before load (Rust: scx_utils::LlcTables and
 * scx_utils::fill_llc_tables!): LLCs and cores numbered densely from 0, each CPU's LLC and core,
 * each LLC's node and the list of its online CPUs. A CPU in no LLC (offline) has
 * SCX_TOPO_NO_LLC. ops.init calls scx_topo_init() to build the LLC, node and core cpumasks.
 *
 *	(ops.init)	  ret = scx_topo_init();
 *	(ops.select_cpu)  cpu = scx_pick_idle_near(p, prev_cpu, llc, NULL, &where);
 *			  if (cpu >= 0) stat_inc(STAT_IDLE_PREV + where);
 *	(preemption)	  victim = scx_llc_random_cpu(llc);
 *
 * The tables hold at most SCX_TOPO_MAX_CPUS CPU ids, _LLCS LLCs, _NODES node ids and _CORES
 * cores; LlcTables refuses a larger machine with an error that names the limit.
 *
 * Used by scx_rusty and scx_lavd.
 */
#ifndef __SCX_LLC_TOPO_BPF_H
#define __SCX_LLC_TOPO_BPF_H

#include <scx/masks.bpf.h>

/* The tables' sizes; scx_utils::LlcTables checks a machine against the same numbers. */
#define SCX_TOPO_MAX_CPUS  512
#define SCX_TOPO_MAX_LLCS  64
#define SCX_TOPO_MAX_NODES 64
#define SCX_TOPO_MAX_CORES 512

/* scx_llc_cpu() keeps its index in bounds with a mask. */
_Static_assert((SCX_TOPO_MAX_CPUS & (SCX_TOPO_MAX_CPUS - 1)) == 0,
	       "SCX_TOPO_MAX_CPUS must be a power of two");

/* The LLC of a CPU in none (offline or unused), and what lookups of bad CPUs return. */
#define SCX_TOPO_NO_LLC SCX_TOPO_MAX_LLCS

const volatile u32 scx_topo_nr_cpu_ids = 1;
const volatile u32 scx_topo_nr_online_cpus = 1;
const volatile u32 scx_topo_nr_llcs = 1;
const volatile u32 scx_topo_nr_cores = 1;
const volatile u32 scx_topo_cpu_llc[SCX_TOPO_MAX_CPUS];
const volatile u32 scx_topo_cpu_core[SCX_TOPO_MAX_CPUS];
const volatile u32 scx_topo_llc_node[SCX_TOPO_MAX_LLCS];
/* LLC l's CPUs are scx_topo_llc_cpus[start .. start + nr], start and nr from these two. */
const volatile u32 scx_topo_llc_cpus[SCX_TOPO_MAX_CPUS];
const volatile u32 scx_topo_llc_cpu_start[SCX_TOPO_MAX_LLCS];
const volatile u32 scx_topo_llc_nr_cpus[SCX_TOPO_MAX_LLCS];

SCX_MASK_ARRAY(scx_topo_llc_masks, SCX_TOPO_MAX_LLCS);
SCX_MASK_ARRAY(scx_topo_node_masks, SCX_TOPO_MAX_NODES);
SCX_MASK_ARRAY(scx_topo_core_masks, SCX_TOPO_MAX_CORES);
/* A per-CPU scratch mask: scx_pick_idle_in() fills it; a scheduler may use it between calls. */
SCX_SCRATCH_MASK(scx_topo_scratch);

/*
 * Table lookups with the bounds check next to the access, for the verifier. A bad CPU has no
 * LLC and is in core 0; a bad LLC is on node 0 and has one CPU (callers divide by it).
 */
static __always_inline u32 scx_llc_of_cpu(s32 cpu)
{
	u32 c = cpu;

	barrier_var(c);
	if (c >= SCX_TOPO_MAX_CPUS)
		return SCX_TOPO_NO_LLC;
	return scx_topo_cpu_llc[c];
}

static __always_inline u32 scx_core_of_cpu(s32 cpu)
{
	u32 c = cpu;

	barrier_var(c);
	if (c >= SCX_TOPO_MAX_CPUS)
		return 0;
	return scx_topo_cpu_core[c];
}

static __always_inline u32 scx_node_of_llc(u32 llc)
{
	barrier_var(llc);
	if (llc >= SCX_TOPO_MAX_LLCS)
		return 0;
	return scx_topo_llc_node[llc];
}

static __always_inline u32 scx_llc_nr_cpus(u32 llc)
{
	barrier_var(llc);
	if (llc >= SCX_TOPO_MAX_LLCS)
		return 1;
	return scx_topo_llc_nr_cpus[llc] ?: 1;
}

/* The @i-th CPU of @llc (0 <= @i < its CPU count), or -1. */
static __always_inline s32 scx_llc_cpu(u32 llc, u32 i)
{
	u32 start;

	barrier_var(llc);
	if (llc >= SCX_TOPO_MAX_LLCS || i >= scx_topo_llc_nr_cpus[llc])
		return -1;
	start = scx_topo_llc_cpu_start[llc];
	if (start >= SCX_TOPO_MAX_CPUS)
		return -1;
	return scx_topo_llc_cpus[(start + i) & (SCX_TOPO_MAX_CPUS - 1)];
}

/* A CPU of @llc drawn at random (how preemption victims are sampled), or -1. */
static __always_inline s32 scx_llc_random_cpu(u32 llc)
{
	barrier_var(llc);
	if (llc >= SCX_TOPO_MAX_LLCS || !scx_topo_llc_nr_cpus[llc])
		return -1;
	return scx_llc_cpu(llc, bpf_get_prandom_u32() % scx_topo_llc_nr_cpus[llc]);
}

/* Whether @p may run on some CPU of @llc (a task must not wait in a queue none can serve). */
static __always_inline bool scx_llc_allows(const struct task_struct *p, u32 llc)
{
	return scx_mask_allows(&scx_topo_llc_masks, llc, scx_topo_nr_llcs, p);
}

/* The cpumask of @llc's CPUs (of @node's, of @core's), or NULL. */
static __always_inline struct bpf_cpumask *scx_llc_mask(u32 llc)
{
	return scx_mask_of(&scx_topo_llc_masks, llc);
}

static __always_inline struct bpf_cpumask *scx_node_mask(u32 node)
{
	return scx_mask_of(&scx_topo_node_masks, node);
}

static __always_inline struct bpf_cpumask *scx_core_mask(u32 core)
{
	return scx_mask_of(&scx_topo_core_masks, core);
}

/* Build the LLC, node and core cpumasks from the tables (ops.init). 0 or -errno. */
static s32 scx_topo_init(void)
{
	s32 ret;
	u32 i;

	if ((ret = scx_masks_create(&scx_topo_llc_masks, scx_topo_nr_llcs)) ||
	    (ret = scx_masks_create(&scx_topo_node_masks, SCX_TOPO_MAX_NODES)) ||
	    (ret = scx_masks_create(&scx_topo_core_masks, scx_topo_nr_cores)) ||
	    (ret = scx_scratch_masks_create(&scx_topo_scratch, scx_topo_nr_cpu_ids)))
		return ret;

	bpf_rcu_read_lock();
	bpf_for(i, 0, scx_topo_nr_cpu_ids)
	{
		u32 llc = scx_llc_of_cpu(i);

		if (llc >= SCX_TOPO_MAX_LLCS)
			continue;
		scx_mask_set_cpu(&scx_topo_llc_masks, llc, i);
		scx_mask_set_cpu(&scx_topo_node_masks, scx_node_of_llc(llc), i);
		scx_mask_set_cpu(&scx_topo_core_masks, scx_core_of_cpu(i), i);
	}
	bpf_rcu_read_unlock();
	return 0;
}

/*
 * An idle CPU among @level's CPUs that @p may use and, if @only is not NULL, that @only holds;
 * or -1. The idle bit of the CPU returned is cleared (the CPU is claimed).
 */
static s32 scx_pick_idle_in(struct task_struct *p, struct bpf_cpumask *level, u64 flags,
			    struct bpf_cpumask *only)
{
	struct bpf_cpumask *tmp = scx_mask_of(&scx_topo_scratch, 0);

	if (!tmp || !level)
		return -1;
	bpf_cpumask_and(tmp, cast_mask(level), p->cpus_ptr);
	if (only)
		bpf_cpumask_and(tmp, cast_mask(tmp), cast_mask(only));
	return scx_bpf_pick_idle_cpu(cast_mask(tmp), flags);
}

/* Where scx_pick_idle_near() found its CPU, nearest first (a stats index for the caller). */
enum scx_idle_where {
	SCX_IDLE_PREV,
	SCX_IDLE_CORE,
	SCX_IDLE_LLC,
	SCX_IDLE_NODE,
};

/*
 * An idle CPU for @p, which will queue in @llc and last ran on @prev_cpu, claimed; or -1. Only
 * CPUs @p may use and, if @only is not NULL, that @only holds. Nearest first: @prev_cpu itself,
 * its SMT siblings (both only if @prev_cpu is in @llc: a task moved to another LLC leaves its
 * cache behind anyway), a whole idle core of @llc, any idle CPU of @llc, then of @llc's node.
 * *@where says which.
 */
static s32 scx_pick_idle_near(struct task_struct *p, s32 prev_cpu, u32 llc,
			      struct bpf_cpumask *only, u32 *where)
{
	bool prev_home = scx_llc_of_cpu(prev_cpu) == llc;
	struct bpf_cpumask *llc_mask;
	s32 cpu;

	if (prev_home && (!only || bpf_cpumask_test_cpu(prev_cpu, cast_mask(only))) &&
	    bpf_cpumask_test_cpu(prev_cpu, p->cpus_ptr) &&
	    scx_bpf_test_and_clear_cpu_idle(prev_cpu)) {
		*where = SCX_IDLE_PREV;
		return prev_cpu;
	}
	/* With one CPU there is nowhere else to look (and every wake-up would pay for looking). */
	if (llc >= SCX_TOPO_MAX_LLCS || p->nr_cpus_allowed == 1 || scx_topo_nr_online_cpus == 1)
		return -1;
	if (prev_home) {
		cpu = scx_pick_idle_in(p, scx_core_mask(scx_core_of_cpu(prev_cpu)), 0, only);
		if (cpu >= 0) {
			*where = SCX_IDLE_CORE;
			return cpu;
		}
	}
	llc_mask = scx_llc_mask(llc);
	cpu = scx_pick_idle_in(p, llc_mask, SCX_PICK_IDLE_CORE, only);
	if (cpu < 0)
		cpu = scx_pick_idle_in(p, llc_mask, 0, only);
	if (cpu >= 0) {
		*where = SCX_IDLE_LLC;
		return cpu;
	}
	cpu = scx_pick_idle_in(p, scx_node_mask(scx_node_of_llc(llc)), 0, only);
	if (cpu >= 0) {
		*where = SCX_IDLE_NODE;
		return cpu;
	}
	return -1;
}

#endif /* __SCX_LLC_TOPO_BPF_H */
