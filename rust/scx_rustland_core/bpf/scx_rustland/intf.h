/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The records that cross between the BPF half of scx_rustland_core and the user-space
 * scheduler. The Rust side mirrors them field for field (src/intf.rs) and a unit test checks
 * the sizes, so change both together.
 */
#ifndef __SCX_RUSTLAND_INTF_H
#define __SCX_RUSTLAND_INTF_H

#ifndef __VMLINUX_H__
typedef unsigned int u32;
typedef int s32;
typedef unsigned long long u64;
#endif

/* Highest CPU id + 1 the shared idle map covers. */
#define RL_MAX_CPUS 512

/* rl_task.flags: the kernel woke the task up (as opposed to a preempted or yielding task). */
#define RL_TASK_WAKEUP (1ULL << 0)
/*
 * rl_task.flags: the BPF side already ran the task on the fast-wake grant of its previous
 * decision; the decision for this record only sets its vtime and may grant the next fast wake.
 */
#define RL_TASK_FAST (1ULL << 1)
/*
 * rl_task.flags, with RL_TASK_WAKEUP: an interrupt (a timer, a device) woke the task, not
 * another task. Such a task is what fast wakes are for; one woken by a task is part of a chain
 * that hands the CPU over by itself.
 */
#define RL_TASK_IRQ_WAKE (1ULL << 2)

/* rl_decision.cpu: let the kernel pick (first idle CPU, else the shared vtime queue). */
#define RL_CPU_ANY (-1)

/* rl_decision.flags: insert at the target CPU and preempt what runs there. */
#define RL_DECISION_PREEMPT (1ULL << 0)

/* A task that became runnable, sent to user space (BPF_MAP_TYPE_RINGBUF "queued"). */
struct rl_task {
	s32 pid;
	s32 cpu;	     /* CPU it last ran on */
	u64 seq;	     /* identifies this enqueue; echo it in the decision */
	u64 flags;	     /* RL_TASK_* */
	u64 weight;	     /* sched_ext weight, 100 = nice 0 */
	u64 runtime_ns;	     /* CPU time since its previous enqueue */
	u64 exec_runtime_ns; /* CPU time since it last woke up (small = sleeps often) */
	u64 burst_ns;	     /* at a wake-up: CPU time between its previous wake-up and blocking */
	u64 vtime;	     /* the vtime user space gave it last time (0 = new) */
	u64 enq_ns;	     /* when it was queued (CLOCK_MONOTONIC) */
	u64 cpumask_lo;	     /* allowed CPUs 0..63 */
	u32 nr_cpus_allowed;
	u32 pad;
};

/* A decision for one queued task (BPF_MAP_TYPE_USER_RINGBUF "dispatched"). */
struct rl_decision {
	s32 pid;
	s32 cpu; /* target CPU or RL_CPU_ANY */
	u64 seq;
	u64 slice_ns; /* 0 = the default slice */
	u64 vtime;    /* remembered and sent back as the next rl_task.vtime */
	u64 deadline; /* order in the shared queue (RL_CPU_ANY) */
	u64 flags;    /* RL_DECISION_* */
	/*
	 * Fast-wake grant (0 = none): if a timer or device next wakes the task after a burst at
	 * most this long, the BPF side runs it on its previous CPU at once (see main.bpf.c).
	 */
	u64 fast_burst_ns;
};

/*
 * State shared through a mmapped array: user space writes heartbeat_ns, BPF writes the rest.
 * One u8 per CPU keeps the idle view cheap to scan.
 */
struct rl_shared {
	u64 heartbeat_ns;
	u32 exited;
	u32 nr_cpu_ids;
	unsigned char cpu_idle[RL_MAX_CPUS];
};

/* Indexes of the per-CPU counters (map "rl_stats"). */
enum rl_stat {
	RL_STAT_QUEUED,	   /* sent to user space */
	RL_STAT_USER,	   /* user-space decisions applied */
	RL_STAT_FALLBACK,  /* dispatched by the kernel side because user space was late */
	RL_STAT_CONGESTED, /* could not be queued (ring or pending list full): kernel FIFO */
	RL_STAT_STALE,	   /* user-space decisions dropped: task already dispatched or gone */
	RL_STAT_DIRECT,	   /* dispatched in BPF: idle CPU, per-CPU kthread */
	RL_STAT_SCHED,	   /* the user-space scheduler's own threads dispatched first */
	RL_STAT_FAST,	   /* woken and run at once on a fast-wake grant */
	RL_STAT_RCU,	   /* preempted inside an RCU read-side section: back on its CPU at once */
	RL_NR_STATS,
};

#endif /* __SCX_RUSTLAND_INTF_H */
