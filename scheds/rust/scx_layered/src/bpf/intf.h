/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Types and limits shared by scx_layered's BPF side and its Rust side (through bindgen).
 */
#ifndef __LAYERED_INTF_H
#define __LAYERED_INTF_H

#ifndef __VMLINUX_H__
typedef int s32;
typedef unsigned int u32;
typedef long long s64;
typedef unsigned long long u64;
#endif

enum layered_consts {
	MAX_CPUS = 512,
	MAX_LLCS = 64,
	MAX_LAYERS = 16,
	/* OR groups per layer, AND terms per group */
	MAX_OR = 16,
	MAX_AND = 8,
	/* cgroup matchers over the whole config: one bit each in a cgroup's match word */
	MAX_CGROUP_MATCHERS = 64,
	COMM_LEN = 16,
	/* cpu_owner value of a CPU no layer owns */
	NO_OWNER = 0xffff,
	/* a task's layer before it was matched */
	NO_LAYER = 0xffff,
};

enum layer_kind {
	KIND_CONFINED = 0,
	KIND_GROUPED = 1,
	KIND_OPEN = 2,
};

enum match_kind {
	/* a: the matcher's bit in cgroup_bits (user space evaluates cgroup paths) */
	MATCH_CGROUP = 1,
	/* str, a = prefix length */
	MATCH_COMM_PREFIX,
	MATCH_PCOMM_PREFIX,
	/* a: nice value */
	MATCH_NICE_ABOVE,
	MATCH_NICE_BELOW,
	MATCH_NICE_EQUALS,
	/* a: id */
	MATCH_UID_EQUALS,
	MATCH_GID_EQUALS,
	MATCH_PID_EQUALS,
	MATCH_PPID_EQUALS,
	MATCH_TGID_EQUALS,
	/* a: 1 = must be, 0 = must not be */
	MATCH_IS_GROUP_LEADER,
	MATCH_IS_KTHREAD,
	/* average run length in [a, b) ns */
	MATCH_AVG_RUNTIME,
};

struct layer_match {
	u32 kind;
	u32 __pad;
	s64 a;
	s64 b;
	char str[COMM_LEN];
};

struct layer_and {
	u32 nr;
	u32 __pad;
	struct layer_match m[MAX_AND];
};

/* One layer as the BPF side sees it (rodata, filled before load). */
struct layer_spec {
	u32 kind;
	u32 nr_or;
	u32 preempt;
	u32 exclusive;
	u64 slice_ns;
	u64 weight;
	struct layer_and ors[MAX_OR];
};

/* Per-layer counters the BPF side accumulates (layer_stats map); user space reads deltas. */
struct layer_stat {
	/* tasks currently in the layer (matched, not exited) */
	s64 nr_tasks;
	/* CPU time its tasks ran, ns */
	u64 runtime_ns;
	/* time its tasks waited between becoming runnable and running, ns, and how many waits */
	u64 wait_ns;
	u64 nr_waits;
	/* its waking tasks preempted a task of a non-preempting layer */
	u64 preempts;
	/* its tasks whose affinity left no CPU of the layer: run where their affinity says */
	u64 affn_viol;
	/* times a task was (re)matched into it */
	u64 matched;
};

#endif /* __LAYERED_INTF_H */
