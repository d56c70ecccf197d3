/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One spelling for kfuncs the kernel renamed or added after sched_ext's first release (6.12).
 *
 * vmlinux.h declares the kfuncs of the kernel it was generated from (7.3). Older kernels call
 * some of them by other names or lack them. Each wrapper below declares the older names as weak
 * ksyms with a libbpf "flavor" suffix (libbpf drops everything from "___" when matching the
 * kernel), then picks at load time with bpf_ksym_exists(): the verifier removes the branches the
 * running kernel cannot take, so one object file is meant to load on 6.12 through 7.3 (proven on
 * 6.19 through 7.3, the series Debian ships with sched_ext).
 *
 * Scheduler code calls the scx_* wrappers, never the flavored names. Every wrapper says what it
 * falls back to, and on which kernels that fallback exists; a wrapper without a fallback says so.
 * tests/bpf/compat_all.bpf.c calls every one of them, and the vm-verifier-cost test loads it on
 * each kernel series the project supports.
 *
 * Some kernels cannot run certain kfuncs at all: their BTF describes the kfunc with the
 * verifier's hidden bpf_prog_aux argument but lacks the <name>_impl twin the verifier looks for
 * (BTF made by an older pahole). Read from the kernels' BTF:
 *
 *   Debian 7.1: scx_bpf_kick_cpu, scx_bpf_exit_bstr, bpf_iter_scx_dsq_new,
 *               scx_bpf_get_idle_{cpu,smt}mask[_node], scx_bpf_dsq_move_to_local(dsq, enq_flags),
 *               scx_bpf_locked_rq
 *   Debian 7.2: scx_bpf_kick_cpu, scx_bpf_exit_bstr, scx_bpf_task_set_slice,
 *               scx_bpf_task_set_dsq_vtime, scx_bpf_get_idle_{cpu,smt}mask[_node],
 *               scx_bpf_dsq_insert returning bool, scx_bpf_kick_cid, scx_bpf_locked_rq
 *
 * libbpf leaves those unresolved, so bpf_ksym_exists() is false there and the wrappers fall back.
 * A call that is not guarded by bpf_ksym_exists() fails to load; scx_utils' prepare_ops() and
 * scx/loader.h's scx_loader_check_kfuncs() name such calls before loading.
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

/*
 * Queue @p on @dsq_id with @slice ns. From select_cpu, enqueue or dispatch.
 * Fallback: scx_bpf_dispatch (6.12 only).
 */
static __always_inline void scx_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice,
					   u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert))
		scx_bpf_dsq_insert(p, dsq_id, slice, enq_flags);
	else
		scx_bpf_dispatch___compat(p, dsq_id, slice, enq_flags);
}

/* Queue @p on user DSQ @dsq_id ordered by @vtime. Fallback: scx_bpf_dispatch_vtime (6.12 only). */
static __always_inline void scx_dsq_insert_vtime(struct task_struct *p, u64 dsq_id, u64 slice,
						 u64 vtime, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert_vtime))
		scx_bpf_dsq_insert_vtime(p, dsq_id, slice, vtime, enq_flags);
	else
		scx_bpf_dispatch_vtime___compat(p, dsq_id, slice, vtime, enq_flags);
}

/* From ops.dispatch: move the first task of @dsq_id to this CPU's local DSQ. Fallback:
 * scx_bpf_consume (6.12 only). */
static __always_inline bool scx_dsq_move_to_local(u64 dsq_id)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local))
		return scx_bpf_dsq_move_to_local(dsq_id);
	return scx_bpf_consume___compat(dsq_id);
}

/*
 * Move @p, found while iterating a DSQ with @it, to @dsq_id. Fallback: scx_bpf_dispatch_from_dsq
 * (6.12 only). Debian's 7.1 cannot run bpf_iter_scx_dsq_new: guard the iteration itself with
 * bpf_ksym_exists(bpf_iter_scx_dsq_new) where that kernel matters.
 */
static __always_inline bool scx_dsq_move(struct bpf_iter_scx_dsq *it, struct task_struct *p,
					 u64 dsq_id, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move))
		return scx_bpf_dsq_move(it, p, dsq_id, enq_flags);
	return scx_bpf_dispatch_from_dsq___compat(it, p, dsq_id, enq_flags);
}

/* Like scx_dsq_move(), keeping @p's vtime order on the target DSQ. Fallback:
 * scx_bpf_dispatch_vtime_from_dsq (6.12 only). */
static __always_inline bool scx_dsq_move_vtime(struct bpf_iter_scx_dsq *it, struct task_struct *p,
					       u64 dsq_id, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_vtime))
		return scx_bpf_dsq_move_vtime(it, p, dsq_id, enq_flags);
	return scx_bpf_dispatch_vtime_from_dsq___compat(it, p, dsq_id, enq_flags);
}

/*
 * The scheduler clock. scx_bpf_now() (6.14) is cheap and consistent with the kernel's rq clock;
 * before it, the monotonic clock is the closest substitute. Fallback: bpf_ktime_get_ns (always).
 */
static __always_inline u64 scx_now(void)
{
	if (bpf_ksym_exists(scx_bpf_now))
		return scx_bpf_now();
	return bpf_ktime_get_ns();
}

/* NUMA node of @cpu. Fallback: 0 (kernels without per-node idle tracking, before 6.15). */
static __always_inline s32 scx_cpu_node(s32 cpu)
{
	if (bpf_ksym_exists(scx_bpf_cpu_node))
		return scx_bpf_cpu_node(cpu);
	return 0;
}

/* Number of NUMA node ids. Fallback: 1 (before 6.15). */
static __always_inline u32 scx_nr_node_ids(void)
{
	if (bpf_ksym_exists(scx_bpf_nr_node_ids))
		return scx_bpf_nr_node_ids();
	return 1;
}

/* The task running on @cpu (RCU read side). Fallback: scx_bpf_cpu_rq(cpu)->curr (before 6.18). */
static __always_inline struct task_struct *scx_cpu_curr(s32 cpu)
{
	if (bpf_ksym_exists(scx_bpf_cpu_curr))
		return scx_bpf_cpu_curr(cpu);
	return scx_bpf_cpu_rq___compat(cpu)->curr;
}

/* Set @p's remaining slice: a kfunc since 6.19. Fallback: a plain store (always). */
static __always_inline void scx_task_set_slice(struct task_struct *p, u64 slice)
{
	if (bpf_ksym_exists(scx_bpf_task_set_slice))
		scx_bpf_task_set_slice(p, slice);
	else
		p->scx.slice = slice;
}

/* Set @p's DSQ vtime: a kfunc since 6.19. Fallback: a plain store (always). */
static __always_inline void scx_task_set_dsq_vtime(struct task_struct *p, u64 vtime)
{
	if (bpf_ksym_exists(scx_bpf_task_set_dsq_vtime))
		scx_bpf_task_set_dsq_vtime(p, vtime);
	else
		p->scx.dsq_vtime = vtime;
}

/*
 * Kick @cpu (SCX_KICK_IDLE, _PREEMPT, _WAIT). No fallback: on kernels that cannot run
 * scx_bpf_kick_cpu (Debian 7.1, 7.2) nothing happens and false is returned, so the caller can
 * choose another way to wake the CPU (e.g. inserting into its local DSQ with SCX_DSQ_LOCAL_ON).
 */
static __always_inline bool scx_kick_cpu(s32 cpu, u64 flags)
{
	if (!bpf_ksym_exists(scx_bpf_kick_cpu))
		return false;
	scx_bpf_kick_cpu(cpu, flags);
	return true;
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
