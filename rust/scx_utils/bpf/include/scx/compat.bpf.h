/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One spelling for kfuncs the kernel renamed or added after sched_ext's first release (6.12).
 *
 * vmlinux.h declares the kfuncs of the kernel it was generated from (7.3). Older kernels call
 * some of them by other names or lack them. Each wrapper below declares the older names as weak
 * ksyms with a libbpf "flavor" suffix (libbpf drops everything from "___" when matching the
 * kernel), then picks at load time with bpf_ksym_exists(): the verifier removes the branches the
 * running kernel cannot take, so one object file loads on 6.12 through 7.3.
 *
 * Scheduler code calls the scx_* wrappers, never the flavored names.
 *
 * Some kernels cannot run certain kfuncs at all: Debian's 7.1 and 7.2 builds describe
 * scx_bpf_kick_cpu, scx_bpf_task_set_slice, scx_bpf_task_set_dsq_vtime, scx_bpf_exit_bstr and
 * scx_bpf_get_idle_{cpu,smt}mask with the verifier's hidden bpf_prog_aux argument but without
 * the <name>_impl twin the verifier looks for. libbpf leaves them unresolved, so
 * bpf_ksym_exists() is false there and the wrappers below fall back; a direct call fails to
 * load, and scx_utils' prepare_ops() names the kfunc beforehand.
 */
#ifndef __SCX_COMPAT_BPF_H
#define __SCX_COMPAT_BPF_H

/* 6.12 names, renamed in 6.13. */
void scx_bpf_dispatch___compat(struct task_struct *p, u64 dsq_id, u64 slice,
			       u64 enq_flags) __ksym __weak;
void scx_bpf_dispatch_vtime___compat(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime,
				     u64 enq_flags) __ksym __weak;
bool scx_bpf_consume___compat(u64 dsq_id) __ksym __weak;
bool scx_bpf_dispatch_from_dsq___compat(struct bpf_iter_scx_dsq *it, struct task_struct *p,
					u64 dsq_id, u64 enq_flags) __ksym __weak;
bool scx_bpf_dispatch_vtime_from_dsq___compat(struct bpf_iter_scx_dsq *it, struct task_struct *p,
					      u64 dsq_id, u64 enq_flags) __ksym __weak;
/* Before 6.18 the current task of a CPU was reached through its run queue. */
struct rq *scx_bpf_cpu_rq___compat(s32 cpu) __ksym __weak;

/* Queue @p on @dsq_id with @slice ns. From select_cpu, enqueue or dispatch. */
static __always_inline void scx_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice,
					   u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert))
		scx_bpf_dsq_insert(p, dsq_id, slice, enq_flags);
	else
		scx_bpf_dispatch___compat(p, dsq_id, slice, enq_flags);
}

/* Queue @p on user DSQ @dsq_id ordered by @vtime. */
static __always_inline void scx_dsq_insert_vtime(struct task_struct *p, u64 dsq_id, u64 slice,
						 u64 vtime, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert_vtime))
		scx_bpf_dsq_insert_vtime(p, dsq_id, slice, vtime, enq_flags);
	else
		scx_bpf_dispatch_vtime___compat(p, dsq_id, slice, vtime, enq_flags);
}

/* From ops.dispatch: move the first task of @dsq_id to this CPU's local DSQ. */
static __always_inline bool scx_dsq_move_to_local(u64 dsq_id)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local))
		return scx_bpf_dsq_move_to_local(dsq_id);
	return scx_bpf_consume___compat(dsq_id);
}

/* Move @p, found while iterating a DSQ with @it, to @dsq_id. */
static __always_inline bool scx_dsq_move(struct bpf_iter_scx_dsq *it, struct task_struct *p,
					 u64 dsq_id, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move))
		return scx_bpf_dsq_move(it, p, dsq_id, enq_flags);
	return scx_bpf_dispatch_from_dsq___compat(it, p, dsq_id, enq_flags);
}

/* Like scx_dsq_move(), keeping @p's vtime order on the target DSQ. */
static __always_inline bool scx_dsq_move_vtime(struct bpf_iter_scx_dsq *it, struct task_struct *p,
					       u64 dsq_id, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_vtime))
		return scx_bpf_dsq_move_vtime(it, p, dsq_id, enq_flags);
	return scx_bpf_dispatch_vtime_from_dsq___compat(it, p, dsq_id, enq_flags);
}

/*
 * The scheduler clock. scx_bpf_now() (6.14) is cheap and consistent with the kernel's rq clock;
 * before it, the monotonic clock is the closest substitute.
 */
static __always_inline u64 scx_now(void)
{
	if (bpf_ksym_exists(scx_bpf_now))
		return scx_bpf_now();
	return bpf_ktime_get_ns();
}

/* NUMA node of @cpu; 0 on kernels without per-node idle tracking (before 6.15). */
static __always_inline s32 scx_cpu_node(s32 cpu)
{
	if (bpf_ksym_exists(scx_bpf_cpu_node))
		return scx_bpf_cpu_node(cpu);
	return 0;
}

/* Number of NUMA node ids; 1 before 6.15. */
static __always_inline u32 scx_nr_node_ids(void)
{
	if (bpf_ksym_exists(scx_bpf_nr_node_ids))
		return scx_bpf_nr_node_ids();
	return 1;
}

/* The task running on @cpu (RCU read side). */
static __always_inline struct task_struct *scx_cpu_curr(s32 cpu)
{
	if (bpf_ksym_exists(scx_bpf_cpu_curr))
		return scx_bpf_cpu_curr(cpu);
	return scx_bpf_cpu_rq___compat(cpu)->curr;
}

/* Set @p's remaining slice: a kfunc since 6.19, a plain store before. */
static __always_inline void scx_task_set_slice(struct task_struct *p, u64 slice)
{
	if (bpf_ksym_exists(scx_bpf_task_set_slice))
		scx_bpf_task_set_slice(p, slice);
	else
		p->scx.slice = slice;
}

/* Set @p's DSQ vtime: a kfunc since 6.19, a plain store before. */
static __always_inline void scx_task_set_dsq_vtime(struct task_struct *p, u64 vtime)
{
	if (bpf_ksym_exists(scx_bpf_task_set_dsq_vtime))
		scx_bpf_task_set_dsq_vtime(p, vtime);
	else
		p->scx.dsq_vtime = vtime;
}

/*
 * Declare the scheduler. User space (scx_utils, or scx/loader.h for C loaders) clears the
 * members and flags the running kernel does not know before loading, and fills hotplug_seq.
 */
#define SCX_OPS_DEFINE(__name, ...)                                                                \
	SEC(".struct_ops.link")                                                                    \
	struct sched_ext_ops __name = {                                                            \
	    __VA_ARGS__,                                                                           \
	}

#endif /* __SCX_COMPAT_BPF_H */
