/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Types and limits shared by scx_rusty's BPF side and its Rust side (through bindgen).
 */
#ifndef __RUSTY_INTF_H
#define __RUSTY_INTF_H

#ifndef __VMLINUX_H__
typedef unsigned int u32;
typedef unsigned long long u64;
#endif

enum rusty_consts {
	MAX_CPUS = 512,
	MAX_CPU_WORDS = MAX_CPUS / 64,
	MAX_DOMS = 64,
	MAX_CORES = 512,
	/* --track-comm: at most this many names, each shorter than RUSTY_COMM_LEN (NUL included) */
	MAX_TRACK_COMMS = 4,
	RUSTY_COMM_LEN = 16,
	/* entries of the tracked_pelt map (live tasks whose comm is tracked) */
	MAX_TRACKED_TASKS = 1024,
};

/* Counters the BPF side keeps per CPU; user space sums and prints them. */
enum rusty_stat {
	/*
	 * An idle CPU was found for a task: the previous one, its SMT sibling, one in its LLC
	 * (select_cpu, or enqueue when one went idle meanwhile), one in its node.
	 */
	STAT_IDLE_PREV,
	STAT_IDLE_CORE,
	STAT_IDLE_LLC,
	STAT_IDLE_NODE,
	/* queued on the task's domain DSQ */
	STAT_QUEUED,
	/* single-CPU tasks sent straight to their CPU */
	STAT_PINNED,
	/* dispatch took a task from its own domain, from another domain of its node, from afar */
	STAT_DISPATCH_LOCAL,
	STAT_STEAL_NODE,
	STAT_STEAL_REMOTE,
	RUSTY_NR_STATS,
};

/* Per-domain load the BPF side accumulates for the (future) user-space load balancer. */
struct dom_load {
	/* sum over runs of runtime * weight / 100, in ns */
	u64 weighted_runtime;
	u64 nr_runs;
};

/* Per-domain state. */
struct dom_ctx {
	/* vruntime of the latest task that started running in this domain */
	u64 vtime_now;
	struct dom_load load;
};

/*
 * PELT state of a task whose comm is tracked (--track-comm), published in the tracked_pelt hash
 * map under its pid whenever the BPF side updates it (runnable, running, stopping, quiescent,
 * tick).
 */
struct pelt_report {
	/* struct scx_pelt_task after that update; scx_pelt::TaskPelt in Rust (80 bytes) */
	u64 pelt[10];
	/*
	 * The scheduler clock (scx_now(), the PELT clock) and CLOCK_MONOTONIC (bpf_ktime_get_ns())
	 * read together at publication: user space maps its own time onto the PELT clock with them
	 * and brings the state up to the moment it reports.
	 */
	u64 sched_clock;
	u64 mono_clock;
	u32 pid;
	char comm[RUSTY_COMM_LEN];
	u32 __pad;
};

#endif /* __RUSTY_INTF_H */
