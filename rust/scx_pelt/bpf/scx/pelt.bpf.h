/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx/pelt.bpf.h - the kernel's PELT load tracking for BPF schedulers,
 *bit-exact.
 *
 * Part of the scx_pelt crate, whose Rust side (scx_pelt::SchedAvg, TaskPelt,
 *CpuPelt) computes the same numbers on the same memory layout: user space can
 *read a state from the maps below and keep updating it.
 *
 * Include after vmlinux.h (or linux/types.h + linux/bpf.h) and
 *bpf/bpf_helpers.h:
 *
 *	#include <scx/pelt.bpf.h>
 *
 * Everything is `static __always_inline`, without loops and without 128-bit
 *types: the 64x32-bit products are split in 32-bit halves, and an update step
 *is straight-line code.
 *
 * Layers:
 *   1. arithmetic on struct scx_pelt_avg: scx_pelt_decay_load(),
 *scx_pelt_update_load_sum(), scx_pelt_update_load_avg(), scx_pelt_update(),
 *util_est, clock scaling;
 *   2. bookkeeping on plain structs: scx_pelt_task_do_*() and scx_pelt_cpu_*()
 *take a pointer to a struct scx_pelt_task / scx_pelt_cpu that the caller keeps
 *anywhere;
 *   3. unless SCX_PELT_NO_MAPS is defined: a task-storage map and a per-CPU
 *array map, and scx_pelt_task_runnable() / _running() / _stopping() /
 *_quiescent() to call from the ops callbacks of the same names, plus
 *scx_pelt_task_get() and scx_pelt_cpu_get(). The maps are defined here, so
 *include this header from one .bpf.c file per object.
 */
#ifndef __SCX_PELT_BPF_H
#define __SCX_PELT_BPF_H

#define SCX_PELT_LOAD_AVG_PERIOD 32
#define SCX_PELT_LOAD_AVG_MAX	 47742
#define SCX_PELT_MAX_PERIODS	 (SCX_PELT_LOAD_AVG_PERIOD * 63)
#define SCX_PELT_MIN_DIVIDER	 (SCX_PELT_LOAD_AVG_MAX - 1024)
#define SCX_PELT_CAPACITY_SHIFT	 10
#define SCX_PELT_CAPACITY_SCALE	 (1U << SCX_PELT_CAPACITY_SHIFT)
#define SCX_PELT_PERIOD_NS	 (1024ULL * 1024ULL)

#define SCX_PELT_UTIL_EST_WEIGHT_SHIFT 2
#define SCX_PELT_UTIL_AVG_UNCHANGED    0x80000000U
#define SCX_PELT_UTIL_EST_MARGIN       (SCX_PELT_CAPACITY_SCALE / 100)

/* Signals of one task or run queue. 64 bytes; same layout as
 * scx_pelt::SchedAvg. */
struct scx_pelt_avg {
	__u64 last_update_time; /* ns, advanced in steps of 1024 ns */
	__u64 load_sum;
	__u64 runnable_sum;
	__u32 util_sum;
	__u32 period_contrib; /* units of 1024 ns of the current period, < 1024 */
	__u64 load_avg;
	__u64 runnable_avg;
	__u64 util_avg;
	__u32 util_est; /* EWMA | SCX_PELT_UTIL_AVG_UNCHANGED */
	__u32 __pad;
};

/* Per-task state. 80 bytes; same layout as scx_pelt::TaskPelt. */
struct scx_pelt_task {
	struct scx_pelt_avg avg;
	__u64 weight; /* load weight while queued: 1024 at nice 0 */
	__s32 cpu;    /* CPU holding the task's contribution, valid while on_rq */
	__u8 on_rq;
	__u8 running;
	__u16 __pad;
};

/* Per-CPU (run-queue) state. 80 bytes; same layout as scx_pelt::CpuPelt. */
struct scx_pelt_cpu {
	struct scx_pelt_avg avg;
	__u64 load;	   /* summed weight of the queued tasks */
	__u32 nr_runnable; /* queued tasks */
	__u32 nr_running;  /* running tasks: 0 or 1 */
};

/* (u32)((2^32 - 1) * y^i), y^32 = 1/2 */
static const __u32 scx_pelt_yn_inv[SCX_PELT_LOAD_AVG_PERIOD] = {
    0xffffffff, 0xfa83b2da, 0xf5257d14, 0xefe4b99a, 0xeac0c6e6, 0xe5b906e6, 0xe0ccdeeb, 0xdbfbb796,
    0xd744fcc9, 0xd2a81d91, 0xce248c14, 0xc9b9bd85, 0xc5672a10, 0xc12c4cc9, 0xbd08a39e, 0xb8fbaf46,
    0xb504f333, 0xb123f581, 0xad583ee9, 0xa9a15ab4, 0xa5fed6a9, 0xa2704302, 0x9ef5325f, 0x9b8d39b9,
    0x9837f050, 0x94f4efa8, 0x91c3d373, 0x8ea4398a, 0x8b95c1e3, 0x88980e80, 0x85aac367, 0x82cd8698,
};

/* (a * b) >> 32 of the full 96-bit product, truncated to 64 bits. */
static __always_inline __u64 scx_pelt_mul_u64_u32_shr32(__u64 a, __u32 b)
{
	__u64 low = (a & 0xffffffffULL) * b;
	__u64 high = (a >> 32) * b;

	return high + (low >> 32);
}

/* val * y^n, rounded the kernel's way; 0 past 2016 periods. */
static __always_inline __u64 scx_pelt_decay_load(__u64 val, __u64 n)
{
	if (n > SCX_PELT_MAX_PERIODS)
		return 0;
	if (n >= SCX_PELT_LOAD_AVG_PERIOD) {
		val >>= (n / SCX_PELT_LOAD_AVG_PERIOD) & 63;
		n %= SCX_PELT_LOAD_AVG_PERIOD;
	}
	return scx_pelt_mul_u64_u32_shr32(val, scx_pelt_yn_inv[n & (SCX_PELT_LOAD_AVG_PERIOD - 1)]);
}

/*
 * Contribution of a step crossing `periods` boundaries: the remaining d1 units
 * of the old period (decayed), the full periods between, and d3 units of the
 * new one.
 */
static __always_inline __u32 scx_pelt_accumulate_segments(__u64 periods, __u32 d1, __u32 d3)
{
	__u32 c1 = (__u32)scx_pelt_decay_load(d1, periods);
	__u32 c2 = SCX_PELT_LOAD_AVG_MAX -
		   (__u32)scx_pelt_decay_load(SCX_PELT_LOAD_AVG_MAX, periods) - 1024;

	return c1 + c2 + d3;
}

/* Adds `delta` units of 1024 ns; returns the number of period boundaries
 * crossed. */
static __always_inline __u64 scx_pelt_accumulate_sum(struct scx_pelt_avg *sa, __u64 delta,
						     __u64 load, __u64 runnable, int running)
{
	__u32 contrib = (__u32)delta;
	__u64 periods;

	delta += sa->period_contrib;
	periods = delta / 1024;
	if (periods) {
		sa->load_sum = scx_pelt_decay_load(sa->load_sum, periods);
		sa->runnable_sum = scx_pelt_decay_load(sa->runnable_sum, periods);
		sa->util_sum = (__u32)scx_pelt_decay_load(sa->util_sum, periods);
		delta %= 1024;
		if (load)
			contrib = scx_pelt_accumulate_segments(periods, 1024 - sa->period_contrib,
							       (__u32)delta);
	}
	sa->period_contrib = (__u32)delta;

	if (load)
		sa->load_sum += load * contrib;
	if (runnable)
		sa->runnable_sum += (runnable * contrib) << SCX_PELT_CAPACITY_SHIFT;
	if (running)
		sa->util_sum += contrib << SCX_PELT_CAPACITY_SHIFT;
	return periods;
}

/*
 * Advances the sums to `now` (ns) with the state held since the last update:
 * `load` (weight, or 0/1), `runnable` (0/1, or a count for a run queue),
 * `running`. Returns 1 when a period boundary was crossed (the averages should
 * then be recomputed), else 0. A clock that went backwards resets
 * last_update_time; less than 1024 ns changes nothing.
 */
static __always_inline int scx_pelt_update_load_sum(struct scx_pelt_avg *sa, __u64 now, __u64 load,
						    __u64 runnable, int running)
{
	__u64 delta = now - sa->last_update_time;

	if ((__s64)delta < 0) {
		sa->last_update_time = now;
		return 0;
	}
	delta >>= 10;
	if (!delta)
		return 0;
	sa->last_update_time += delta << 10;
	if (!load) {
		runnable = 0;
		running = 0;
	}
	return scx_pelt_accumulate_sum(sa, delta, load, runnable, running) ? 1 : 0;
}

/* Recomputes the averages; `weight` is the entity's load weight (1 for a run
 * queue). */
static __always_inline void scx_pelt_update_load_avg(struct scx_pelt_avg *sa, __u64 weight)
{
	__u64 divider = SCX_PELT_MIN_DIVIDER + sa->period_contrib;

	sa->load_avg = weight * sa->load_sum / divider;
	sa->runnable_avg = sa->runnable_sum / divider;
	sa->util_avg = sa->util_sum / divider;
}

/* Both steps, the averages only when a boundary was crossed. Returns 1 when
 * they were. */
static __always_inline int scx_pelt_update(struct scx_pelt_avg *sa, __u64 now, __u64 load,
					   __u64 runnable, int running, __u64 weight)
{
	if (!scx_pelt_update_load_sum(sa, now, load, runnable, running))
		return 0;
	scx_pelt_update_load_avg(sa, weight);
	return 1;
}

/* ---- util_est ---- */

/* max(util_avg, util_est without its flag) */
static __always_inline __u64 scx_pelt_task_util_est(const struct scx_pelt_avg *sa)
{
	__u64 est = sa->util_est & ~SCX_PELT_UTIL_AVG_UNCHANGED;

	return sa->util_avg > est ? sa->util_avg : est;
}

/* The averages were recomputed: clear SCX_PELT_UTIL_AVG_UNCHANGED. */
static __always_inline void scx_pelt_util_est_avg_updated(struct scx_pelt_avg *sa)
{
	if (sa->util_est & SCX_PELT_UTIL_AVG_UNCHANGED)
		sa->util_est &= ~SCX_PELT_UTIL_AVG_UNCHANGED;
}

/*
 * Samples util_avg into util_est when the task leaves the queue; nothing unless
 * `task_sleep`. `cpu_capacity` is the capacity of its CPU (1024 for the
 * biggest). Returns 1 if written.
 */
static __always_inline int scx_pelt_util_est_dequeue(struct scx_pelt_avg *sa, int task_sleep,
						     __u64 cpu_capacity)
{
	__u32 ewma = sa->util_est, dequeued, diff;

	if (!task_sleep || (ewma & SCX_PELT_UTIL_AVG_UNCHANGED))
		return 0;
	dequeued = (__u32)sa->util_avg;
	if (ewma <= dequeued) {
		ewma = dequeued;
	} else {
		diff = ewma - dequeued;
		if (diff >= SCX_PELT_UTIL_EST_MARGIN) {
			if ((__u64)dequeued > cpu_capacity)
				return 0;
			if ((__u64)(__u32)(dequeued + SCX_PELT_UTIL_EST_MARGIN) >= sa->runnable_avg)
				ewma = ((ewma << SCX_PELT_UTIL_EST_WEIGHT_SHIFT) - diff) >>
				       SCX_PELT_UTIL_EST_WEIGHT_SHIFT;
		}
	}
	sa->util_est = ewma | SCX_PELT_UTIL_AVG_UNCHANGED;
	return 1;
}

/* ---- frequency / capacity invariance ---- */

/* (value * scale) >> 10 */
static __always_inline __u64 scx_pelt_cap_scale(__u64 value, __u64 scale)
{
	return (value * scale) >> SCX_PELT_CAPACITY_SHIFT;
}

/* Running time `delta` on a CPU of `cpu_capacity` at `freq_capacity` (both
 * /1024) as PELT time. */
static __always_inline __u64 scx_pelt_scale_delta(__u64 delta, __u64 cpu_capacity,
						  __u64 freq_capacity)
{
	return scx_pelt_cap_scale(scx_pelt_cap_scale(delta, cpu_capacity), freq_capacity);
}

/* ---- per-task and per-CPU bookkeeping on plain structs ---- */

/* Brings a task to `now` with its current state; 1 if its averages were
 * recomputed. */
static __always_inline int scx_pelt_task_do_update(struct scx_pelt_task *t, __u64 now)
{
	__u64 on_rq = t->on_rq ? 1 : 0;

	if (!scx_pelt_update(&t->avg, now, on_rq, on_rq, t->running ? 1 : 0, t->weight))
		return 0;
	scx_pelt_util_est_avg_updated(&t->avg);
	return 1;
}

/* ops.runnable: the task was sleeping, is now queued with load weight `weight`.
 */
static __always_inline void scx_pelt_task_do_runnable(struct scx_pelt_task *t, __u64 now,
						      __u64 weight)
{
	scx_pelt_task_do_update(t, now);
	t->weight = weight;
	t->on_rq = 1;
}

/* ops.running: the task was waiting, now runs. */
static __always_inline void scx_pelt_task_do_running(struct scx_pelt_task *t, __u64 now)
{
	scx_pelt_task_do_update(t, now);
	t->on_rq = 1;
	t->running = 1;
}

/* ops.stopping: the task was running, stops. */
static __always_inline void scx_pelt_task_do_stopping(struct scx_pelt_task *t, __u64 now)
{
	scx_pelt_task_do_update(t, now);
	t->running = 0;
}

/* ops.quiescent: the task leaves the queue to sleep; util_est is sampled. */
static __always_inline void scx_pelt_task_do_quiescent(struct scx_pelt_task *t, __u64 now,
						       __u64 cpu_capacity)
{
	scx_pelt_task_do_update(t, now);
	t->on_rq = 0;
	t->running = 0;
	scx_pelt_util_est_dequeue(&t->avg, 1, cpu_capacity);
}

/* ops.set_weight: account the time so far at the old weight. */
static __always_inline void scx_pelt_task_do_set_weight(struct scx_pelt_task *t, __u64 now,
							__u64 weight)
{
	scx_pelt_task_do_update(t, now);
	t->weight = weight;
}

/* Brings a CPU to `now`: load = queued weight, runnable = queued count,
 * averages with weight 1. */
static __always_inline int scx_pelt_cpu_update(struct scx_pelt_cpu *c, __u64 now)
{
	return scx_pelt_update(&c->avg, now, c->load, c->nr_runnable, c->nr_running ? 1 : 0, 1);
}

static __always_inline void scx_pelt_cpu_enqueue(struct scx_pelt_cpu *c, __u64 now, __u64 weight)
{
	scx_pelt_cpu_update(c, now);
	c->load += weight;
	c->nr_runnable += 1;
}

static __always_inline void scx_pelt_cpu_dequeue(struct scx_pelt_cpu *c, __u64 now, __u64 weight)
{
	scx_pelt_cpu_update(c, now);
	c->load = c->load > weight ? c->load - weight : 0;
	if (c->nr_runnable)
		c->nr_runnable -= 1;
}

static __always_inline void scx_pelt_cpu_set_running(struct scx_pelt_cpu *c, __u64 now, int running)
{
	scx_pelt_cpu_update(c, now);
	if (running)
		c->nr_running += 1;
	else if (c->nr_running)
		c->nr_running -= 1;
}

/* ---- maps and callback helpers ---- */
#ifndef SCX_PELT_NO_MAPS

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct scx_pelt_task);
} scx_pelt_task_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scx_pelt_cpu);
} scx_pelt_cpu_map SEC(".maps");

/* The task's state (created zeroed on first use), or NULL. */
static __always_inline struct scx_pelt_task *scx_pelt_task_get(struct task_struct *p)
{
	return bpf_task_storage_get(&scx_pelt_task_map, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
}

/* CPU `cpu`'s run-queue state, or NULL for a CPU out of range. */
static __always_inline struct scx_pelt_cpu *scx_pelt_cpu_get(__s32 cpu)
{
	__u32 zero = 0;

	if (cpu < 0)
		return 0;
	return bpf_map_lookup_percpu_elem(&scx_pelt_cpu_map, &zero, (__u32)cpu);
}

/* From ops.runnable: `weight` is the load weight (1024 at nice 0), `cpu` the
 * task's CPU. */
static __always_inline int scx_pelt_task_runnable(struct task_struct *p, __u64 now, __u64 weight,
						  __s32 cpu)
{
	struct scx_pelt_task *t = scx_pelt_task_get(p);
	struct scx_pelt_cpu *c;

	if (!t)
		return -1;
	scx_pelt_task_do_runnable(t, now, weight);
	t->cpu = cpu;
	c = scx_pelt_cpu_get(cpu);
	if (c)
		scx_pelt_cpu_enqueue(c, now, weight);
	return 0;
}

/* From ops.running: `cpu` is the CPU it runs on; a migration moves its
 * contribution. */
static __always_inline int scx_pelt_task_running(struct task_struct *p, __u64 now, __s32 cpu)
{
	struct scx_pelt_task *t = scx_pelt_task_get(p);
	struct scx_pelt_cpu *c;

	if (!t)
		return -1;
	if (!t->weight)
		t->weight = SCX_PELT_CAPACITY_SCALE;
	c = scx_pelt_cpu_get(cpu);
	if (!t->on_rq || t->cpu != cpu) {
		if (t->on_rq) {
			struct scx_pelt_cpu *prev = scx_pelt_cpu_get(t->cpu);

			if (prev)
				scx_pelt_cpu_dequeue(prev, now, t->weight);
		}
		if (c)
			scx_pelt_cpu_enqueue(c, now, t->weight);
		t->cpu = cpu;
	}
	scx_pelt_task_do_running(t, now);
	if (c)
		scx_pelt_cpu_set_running(c, now, 1);
	return 0;
}

/* From ops.stopping. */
static __always_inline int scx_pelt_task_stopping(struct task_struct *p, __u64 now)
{
	struct scx_pelt_task *t = scx_pelt_task_get(p);
	struct scx_pelt_cpu *c;

	if (!t)
		return -1;
	if (t->running) {
		c = scx_pelt_cpu_get(t->cpu);
		if (c)
			scx_pelt_cpu_set_running(c, now, 0);
	}
	scx_pelt_task_do_stopping(t, now);
	return 0;
}

/* From ops.quiescent: util_est is sampled against a full-capacity CPU. */
static __always_inline int scx_pelt_task_quiescent(struct task_struct *p, __u64 now)
{
	struct scx_pelt_task *t = scx_pelt_task_get(p);
	struct scx_pelt_cpu *c;

	if (!t)
		return -1;
	if (t->on_rq) {
		c = scx_pelt_cpu_get(t->cpu);
		if (c) {
			if (t->running)
				scx_pelt_cpu_set_running(c, now, 0);
			scx_pelt_cpu_dequeue(c, now, t->weight);
		}
	}
	scx_pelt_task_do_quiescent(t, now, SCX_PELT_CAPACITY_SCALE);
	return 0;
}

/* From ops.set_weight (`weight` on the 1024 scale). */
static __always_inline int scx_pelt_task_set_weight(struct task_struct *p, __u64 now, __u64 weight)
{
	struct scx_pelt_task *t = scx_pelt_task_get(p);
	struct scx_pelt_cpu *c;

	if (!t)
		return -1;
	if (t->on_rq) {
		c = scx_pelt_cpu_get(t->cpu);
		if (c) {
			scx_pelt_cpu_update(c, now);
			c->load = c->load > t->weight ? c->load - t->weight : 0;
			c->load += weight;
		}
	}
	scx_pelt_task_do_set_weight(t, now, weight);
	return 0;
}

#endif /* SCX_PELT_NO_MAPS */

/* sched_ext weights (1..10000, 100 = nice 0) to the 1024 load scale, rounded
 * down. */
static __always_inline __u64 scx_pelt_weight_from_scx(__u64 scx_weight)
{
	return scx_weight * 1024 / 100;
}

#endif /* __SCX_PELT_BPF_H */
