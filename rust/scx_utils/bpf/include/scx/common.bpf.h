/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The header every scheduler's BPF code includes first.
 *
 * It pulls in the kernel's types and kfunc prototypes (vmlinux.h, generated from a Debian
 * sched_ext kernel's BTF, see scripts/gen-vmlinux-h.sh) and libbpf's helper macros, then adds
 * the few things every sched_ext scheduler needs and libbpf does not provide: a way to declare
 * struct_ops callbacks, printf-style error and exit reporting, and small utilities.
 *
 * Kernel-version differences live in compat.bpf.h, which this header includes: it is written
 * for every kernel from 6.12 on, and proven on 6.19 to 7.3 (the oldest and newest series Debian
 * builds with sched_ext; no older one is tested).
 */
#ifndef __SCX_COMMON_BPF_H
#define __SCX_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

/*
 * A sched_ext_ops callback: BPF_STRUCT_OPS(simple_enqueue, struct task_struct *p, u64 flags).
 * Callbacks that may sleep (init, exit, init_task, cgroup_init, ...) use the sleepable form,
 * which lets them call scx_bpf_create_dsq() and other sleepable kfuncs.
 */
#define BPF_STRUCT_OPS(name, args...)		SEC("struct_ops/" #name) BPF_PROG(name, ##args)
#define BPF_STRUCT_OPS_SLEEPABLE(name, args...) SEC("struct_ops.s/" #name) BPF_PROG(name, ##args)

/*
 * The kernel's reporting kfuncs take a format string and an array of u64 arguments. These
 * macros pack the arguments with libbpf's ___bpf_fill so callers can write printf-style code.
 * The format string lives in .rodata; all arguments are widened to u64.
 */
#define __scx_pack_args(fmt, args...)                                                              \
	static char ___fmt[] = fmt;                                                                \
	unsigned long long ___param[___bpf_narg(args)];                                            \
	_Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wint-conversion\"")      \
	    ___bpf_fill(___param, args);                                                           \
	_Pragma("GCC diagnostic pop")

/*
 * The reporting kfuncs are called through these macros only, each guarded with bpf_ksym_exists()
 * so that a kernel which cannot run one of them still loads the scheduler (Debian's 7.1 and 7.2
 * cannot run scx_bpf_exit_bstr, see compat.bpf.h). Their fallbacks still end the scheduler; the
 * fallbacks are guarded too, so that no call here is one that prepare_ops() has to warn about (a
 * kernel that could run neither kfunc would not end the scheduler; none of 6.12 to 7.3 is one).
 */

/*
 * End the scheduler with SCX_EXIT_ERROR_BPF; the message reaches the loader's exit report.
 * Fallback where scx_bpf_error_bstr cannot run: scx_bpf_exit_bstr with exit code 1 (the report
 * then says SCX_EXIT_UNREG_BPF, and the loader exits with status 1 all the same).
 */
#define scx_bpf_error(fmt, args...)                                                                \
	({                                                                                         \
		__scx_pack_args(fmt, ##args);                                                      \
		if (bpf_ksym_exists(scx_bpf_error_bstr))                                           \
			scx_bpf_error_bstr(___fmt, ___param, sizeof(___param));                    \
		else if (bpf_ksym_exists(scx_bpf_exit_bstr))                                       \
			scx_bpf_exit_bstr(1, ___fmt, ___param, sizeof(___param));                  \
	})

/*
 * End the scheduler on purpose with SCX_EXIT_UNREG_BPF and an exit code. The low 32 bits are
 * the scheduler's own; SCX_ECODE_ACT_RESTART asks the loader to attach again.
 * Fallback where scx_bpf_exit_bstr cannot run (Debian 7.1, 7.2): scx_bpf_error_bstr with the same
 * message. The scheduler still ends, but as SCX_EXIT_ERROR_BPF and without @code, so the loader
 * exits with status 1 and does not restart.
 */
#define scx_bpf_exit(code, fmt, args...)                                                           \
	({                                                                                         \
		__scx_pack_args(fmt, ##args);                                                      \
		if (bpf_ksym_exists(scx_bpf_exit_bstr))                                            \
			scx_bpf_exit_bstr(code, ___fmt, ___param, sizeof(___param));               \
		else if (bpf_ksym_exists(scx_bpf_error_bstr))                                      \
			scx_bpf_error_bstr(___fmt, ___param, sizeof(___param));                    \
	})

/* Write a line into the kernel's debug dump (from ops.dump*). No fallback: the line is dropped. */
#define scx_bpf_dump(fmt, args...)                                                                 \
	({                                                                                         \
		__scx_pack_args(fmt, ##args);                                                      \
		if (bpf_ksym_exists(scx_bpf_dump_bstr))                                            \
			scx_bpf_dump_bstr(___fmt, ___param, sizeof(___param));                     \
	})

/* vmlinux.h carries no errno values; these are the ones sched_ext callbacks commonly return. */
#ifndef ENOENT
#define ENOENT 2
#define ESRCH  3
#define E2BIG  7
#define ENOMEM 12
#define EBUSY  16
#define EEXIST 17
#define EINVAL 22
#define ENOSPC 28
#endif

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#ifndef READ_ONCE
#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#endif
#ifndef WRITE_ONCE
#define WRITE_ONCE(x, val) ((*(volatile typeof(x) *)&(x)) = (val))
#endif

/*
 * Hide @var's value from the compiler so a bounds check stays next to the access it guards: clang
 * otherwise merges or reorders checks in ways the verifier cannot follow.
 */
#define barrier_var(var) asm volatile("" : "+r"(var))

#define scx_min(a, b)	     ((a) < (b) ? (a) : (b))
#define scx_max(a, b)	     ((a) > (b) ? (a) : (b))
#define scx_clamp(v, lo, hi) scx_min(scx_max((v), (lo)), (hi))

/* Did vtime a come before vtime b? Correct across u64 wrap-around. */
static __always_inline bool vtime_before(u64 a, u64 b)
{
	return (s64)(a - b) < 0;
}

/*
 * Was @p preempted inside an RCU read-side critical section, and is it still in it? With
 * preemptible RCU such a reader is queued on its rcu_node's list of blocked tasks, and the grace
 * period (every synchronize_rcu() and call_rcu() of the machine) waits until it runs again and
 * leaves the section: a policy that makes it wait long (a nice-19 kthread at the back of a
 * deadline queue) stalls RCU, and the kernel ejects the scheduler after the RCU stall timeout
 * (21 s on Debian). This reads the flag the kernel sets when it queues the reader, not the
 * nesting count: a BPF program runs under rcu_read_lock() itself, so in ops.enqueue for a
 * preempted task (the current task) the count is never 0. Kernels without preemptible RCU have
 * no such field, and their readers cannot be preempted: false.
 */
static __always_inline bool scx_task_blocks_rcu(const struct task_struct *p)
{
	if (!bpf_core_field_exists(p->rcu_read_unlock_special))
		return false;
	return BPF_CORE_READ(p, rcu_read_unlock_special.b.blocked) != 0;
}

/*
 * The question every ops.enqueue should ask before queueing @p behind others: was it just
 * preempted inside an RCU read-side section (not woken: a reader cannot sleep), on a CPU it may
 * still run on? If so, the scheduler should put it back on that CPU's local queue
 * (SCX_DSQ_LOCAL), as RCU priority boosting would: in a fair queue a light task (khugepaged at
 * nice 19, preempted while copying a huge page, under the stress mix) can wait seconds per
 * turn, and the kernel ejected scx_rustland and scx_layered for RCU stalls that way. Its run
 * is charged as usual when it stops.
 */
static __always_inline bool scx_rcu_reader_preempted(const struct task_struct *p, u64 enq_flags)
{
	return !(enq_flags & SCX_ENQ_WAKEUP) && scx_task_blocks_rcu(p) &&
	       bpf_cpumask_test_cpu(scx_bpf_task_cpu(p), p->cpus_ptr);
}

/* bpf_cpumask and cpumask are the same bits; kfuncs that only read take the latter. */
static __always_inline const struct cpumask *cast_mask(struct bpf_cpumask *mask)
{
	return (const struct cpumask *)mask;
}

/* Store a new bpf_cpumask into a map field, releasing the one that was there. */
static __always_inline void scx_cpumask_swap(struct bpf_cpumask **slot, struct bpf_cpumask *mask)
{
	struct bpf_cpumask *old = bpf_kptr_xchg(slot, mask);

	if (old)
		bpf_cpumask_release(old);
}

#include "compat.bpf.h"
#include "user_exit_info.bpf.h"

#endif /* __SCX_COMMON_BPF_H */
