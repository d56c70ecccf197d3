/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tables of BPF cpumasks: one mask per domain, LLC, node, core or layer, kept as kptrs in an
 * array map so that an index computed at run time selects one; created in ops.init, filled
 * from the topology, and read on the hot path. And a per-CPU scratch mask for "this table entry's
 * CPUs that the task may use", so the hot path allocates nothing.
 *
 *	SCX_MASK_ARRAY(llc_masks, MAX_LLCS);
 *	SCX_SCRATCH_MASK(scratch_mask);
 *	...
 *	(ops.init)  ret = scx_masks_create(&llc_masks, nr_llcs) ?:
 *			  scx_scratch_masks_create(&scratch_mask, nr_cpu_ids);
 *		    scx_mask_set_cpu(&llc_masks, llc_of(cpu), cpu);
 *	(hot path)  if (!scx_mask_allows(&llc_masks, llc, nr_llcs, p)) ...
 *
 * Used by scx_rusty, scx_lavd and scx_layered.
 */
#ifndef __SCX_MASKS_BPF_H
#define __SCX_MASKS_BPF_H

struct scx_mask_slot {
	struct bpf_cpumask __kptr *mask;
};

/* An array map @name of @n cpumask slots. */
#define SCX_MASK_ARRAY(name, n)                                                                    \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                                  \
		__uint(max_entries, n);                                                            \
		__type(key, u32);                                                                  \
		__type(value, struct scx_mask_slot);                                               \
	} name SEC(".maps")

/* A per-CPU map @name of one scratch cpumask: slot 0 of each CPU's copy. */
#define SCX_SCRATCH_MASK(name)                                                                     \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                           \
		__uint(max_entries, 1);                                                            \
		__type(key, u32);                                                                  \
		__type(value, struct scx_mask_slot);                                               \
	} name SEC(".maps")

/* The cpumask in slot @idx of @map (this CPU's copy for a per-CPU map), or NULL. */
static __always_inline struct bpf_cpumask *scx_mask_of(void *map, u32 idx)
{
	struct scx_mask_slot *slot = bpf_map_lookup_elem(map, &idx);

	return slot ? slot->mask : NULL;
}

/* Give every slot of @map below @n a fresh empty cpumask (ops.init). 0 or -errno. */
static s32 scx_masks_create(void *map, u32 n)
{
	u32 i;

	bpf_for(i, 0, n)
	{
		struct scx_mask_slot *slot = bpf_map_lookup_elem(map, &i);
		struct bpf_cpumask *mask;

		if (!slot)
			return -ENOENT;
		mask = bpf_cpumask_create();
		if (!mask)
			return -ENOMEM;
		scx_cpumask_swap(&slot->mask, mask);
	}
	return 0;
}

/* Give the copies of CPUs 0..@nr_cpus - 1 of the per-CPU scratch map @map a cpumask (ops.init). */
static s32 scx_scratch_masks_create(void *map, u32 nr_cpus)
{
	u32 i;

	bpf_for(i, 0, nr_cpus)
	{
		u32 zero = 0;
		struct scx_mask_slot *slot = bpf_map_lookup_percpu_elem(map, &zero, i);
		struct bpf_cpumask *mask;

		if (!slot)
			continue;
		mask = bpf_cpumask_create();
		if (!mask)
			return -ENOMEM;
		scx_cpumask_swap(&slot->mask, mask);
	}
	return 0;
}

/* Add @cpu to the mask in slot @idx of @map, if there is one. */
static __always_inline void scx_mask_set_cpu(void *map, u32 idx, s32 cpu)
{
	struct bpf_cpumask *mask = scx_mask_of(map, idx);

	if (mask)
		bpf_cpumask_set_cpu(cpu, mask);
}

/*
 * Whether @p may run on some CPU of the mask in slot @idx of @map (slots below @n are in use).
 * A task whose affinity leaves its domain or LLC must not wait in that one's queue: none of
 * the CPUs it may use would take it from there.
 */
static __always_inline bool scx_mask_allows(void *map, u32 idx, u32 n, const struct task_struct *p)
{
	struct bpf_cpumask *mask = idx < n ? scx_mask_of(map, idx) : NULL;

	return mask && bpf_cpumask_intersects(cast_mask(mask), p->cpus_ptr);
}

#endif /* __SCX_MASKS_BPF_H */
