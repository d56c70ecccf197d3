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
	/* a waking task preempted a running one (SCX_ENQ_PREEMPT) */
	STAT_PREEMPT,
	/* a waking task had an earlier deadline than every candidate, but none was worth preempting
	 */
	STAT_PREEMPT_DECLINED,
	/* the user-space balancer's move of a task to another domain took effect */
	STAT_MIGRATED,
	/* a task preempted inside an RCU read-side section went back to its CPU */
	STAT_RCU_READER,
	/* a task whose domain had a queue and no idle CPU went to an idle CPU of another domain */
	STAT_IDLE_REMOTE,
	RUSTY_NR_STATS,
};

/* Per-domain work the BPF side accumulates (stats). */
struct dom_load {
	/* sum over runs of runtime * weight / 100, in ns: heavier tasks count for more */
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

/*
 * What the BPF side publishes per task for the user-space balancer (task_loads map, by pid),
 * refreshed at most every LOAD_PUBLISH_NS of the task's running.
 */
struct task_load {
	/* PELT load_avg (runnable share times load weight, 1024 = always runnable at nice 0) */
	u64 load_avg;
	/* PELT runnable_avg (0..1024: the share of time it was runnable) */
	u64 runnable_avg;
	/* its home domain */
	u32 dom;
	/* CPUs it may run on */
	u32 nr_cpus_allowed;
	/* bit d set when it may run on some CPU of domain d */
	u64 dom_allowed;
	/* scheduler clock when published */
	u64 at;
};

/* What the user-space tuner tells the BPF side about a domain (dom_tunes map). */
struct dom_tune {
	/* its CPUs' PELT utilisation is above the overload threshold: steal from it first */
	u32 overloaded;
	/* average PELT utilisation of its CPUs, percent */
	u32 util_pct;
};

enum rusty_timing {
	LOAD_PUBLISH_NS = 100 * 1000 * 1000,
};

#endif /* __RUSTY_INTF_H */
