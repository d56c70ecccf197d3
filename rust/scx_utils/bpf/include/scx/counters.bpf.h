/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-CPU event counters, the cheapest way for a scheduler's hot path to count: each CPU bumps
 * its own slot without atomics, and user space sums the slots when it reads them
 * (scx_utils::percpu_counters in Rust).
 *
 *	SCX_COUNTERS_DEFINE(stats, NR_STATS);
 *	scx_counter_inc(&stats, STAT_QUEUED);
 */
#ifndef __SCX_COUNTERS_BPF_H
#define __SCX_COUNTERS_BPF_H

/* A per-CPU array map named @__name of @__nr u64 counters. */
#define SCX_COUNTERS_DEFINE(__name, __nr)                                                          \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                           \
		__uint(max_entries, __nr);                                                         \
		__type(key, u32);                                                                  \
		__type(value, u64);                                                                \
	} __name SEC(".maps")

/* Add @n to this CPU's counter @idx of @map; an index past the map's end is ignored. */
static __always_inline void scx_counter_add(void *map, u32 idx, u64 n)
{
	u64 *cnt = bpf_map_lookup_elem(map, &idx);

	if (cnt)
		*cnt += n;
}

/* Add one to this CPU's counter @idx of @map. */
static __always_inline void scx_counter_inc(void *map, u32 idx)
{
	scx_counter_add(map, idx, 1);
}

#endif /* __SCX_COUNTERS_BPF_H */
