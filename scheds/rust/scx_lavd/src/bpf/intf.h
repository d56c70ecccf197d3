/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Types and limits shared by scx_lavd's BPF side and its Rust side (through bindgen).
 */
#ifndef __LAVD_INTF_H
#define __LAVD_INTF_H

#ifndef __VMLINUX_H__
typedef unsigned int u32;
typedef unsigned long long u64;
#endif

enum lavd_consts {
	MAX_CPUS = 512,
	MAX_CPU_WORDS = MAX_CPUS / 64,
	MAX_LLCS = 64,
};

/* Counters the BPF side keeps per CPU; user space sums them. */
enum lavd_stat {
	/* a waking task found an idle CPU: its previous one, an SMT sibling, one in its LLC, node
	 */
	STAT_IDLE_PREV,
	STAT_IDLE_CORE,
	STAT_IDLE_LLC,
	STAT_IDLE_NODE,
	/* queued on its LLC's deadline-ordered queue */
	STAT_QUEUED,
	/* tasks allowed on a single CPU */
	STAT_PINNED,
	/* dispatch took from its own LLC, stole from another LLC */
	STAT_DISPATCH_LOCAL,
	STAT_STEAL,
	/* a waking task preempted the running task with the latest deadline among those sampled */
	STAT_PREEMPT,
	/* a slice was lengthened because the task's previous one was cut short by a preemption */
	STAT_SLICE_BOOST,
	/* compaction: no active CPU was free and work piled up, so an inactive CPU was woken */
	STAT_EXPAND,
	/* a task preempted inside an RCU read-side section went back to its CPU */
	STAT_RCU_READER,
	LAVD_NR_STATS,
};

/*
 * What user space decides every tick (the `ctl` map, one entry): which CPUs work goes to and
 * how the frequency hints are chosen. BPF reads it; only user space writes it.
 */
struct lavd_ctl {
	/* bit c of word c / 64: CPU c is in the active set (ignored while compact is 0) */
	u64 active[MAX_CPU_WORDS];
	/* bumped after each change of active: the BPF side rebuilds its cpumask when it moves */
	u64 seq;
	/* 1: keep work on the active CPUs; 0: use every CPU */
	u32 compact;
	/* 1: always ask for the highest performance level (performance mode) */
	u32 perf_max;
	/*
	 * Compaction's way out: an inactive CPU is woken once this many tasks per active CPU of the
	 * LLC already wait (powersave tolerates more waiting than autopilot)
	 */
	u32 expand_backlog;
	u32 __pad;
};

#endif /* __LAVD_INTF_H */
