/* SPDX-License-Identifier: GPL-2.0-only */
/* Types and constants both the BPF side and user space see (bindgen makes them Rust). */
#ifndef __MINIMAL_INTF_H
#define __MINIMAL_INTF_H

/* Indexes of the per-CPU counters. */
enum minimal_stat {
	STAT_DIRECT, /* a waking task found an idle CPU and went straight to it */
	STAT_QUEUED, /* a task went through the shared queue */
	MINIMAL_NR_STATS,
};

#endif /* __MINIMAL_INTF_H */
