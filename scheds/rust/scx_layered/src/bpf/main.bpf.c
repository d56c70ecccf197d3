/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_layered (BPF side): tasks are sorted into the layers an admin describes in JSON, and each
 * layer says where and how its tasks run. User space (src/main.rs, src/alloc.rs) decides which
 * CPUs each layer owns; this side matches tasks, places and orders them.
 *
 * Matching. A task belongs to the first layer one of whose AND-lists it satisfies. Matching runs
 * here, not in user space, so a task is in its layer from its first wake-up. It is redone lazily
 * at the next select_cpu/enqueue whenever something a matcher reads has changed: the comm (exec
 * and prctl renames change it), the nice level (static_prio), the cgroup id, or the cgroup
 * table's generation; and in any case once a second (for the average-runtime, uid and parent
 * matchers). Comparing these few words at every enqueue costs less than hooking exec/rename
 * tracepoints and works on every kernel with no extra attachment or cgroup callbacks.
 * Cgroup matchers are evaluated in user space: it walks /sys/fs/cgroup, writes, per cgroup id,
 * a word with one bit per cgroup matcher that matches the path, and bumps a generation. The BPF
 * side reads the task's cgroup id and tests the bit. String matching on paths in BPF would cost
 * a walk per task and re-matching; the trade-off is that a task in a cgroup created less than a
 * tick (100 ms) ago is matched as if the cgroup matchers were false until the table catches up.
 *
 * CPUs. Every CPU has an owner layer or none (cpu_owner, written by user space; a generation
 * counter tells this side to rebuild its per-layer cpumasks). Confined tasks run only on their
 * layer's CPUs. Grouped tasks run on their layer's CPUs and on unowned ones. Open tasks run on
 * unowned CPUs and on CPUs of non-exclusive layers when the owner leaves them idle. The owner
 * always comes first on its CPUs: a guest's slice ends at the next tick when the owner has work.
 * User space keeps one CPU unowned whenever a layer may run on unowned CPUs, so nothing starves.
 * A task whose affinity forbids every CPU its layer may use (per-CPU kthreads, tasks pinned by
 * their admin) goes straight to a CPU it allows and is counted as an affinity violation: running
 * it outside its layer beats stalling it. The same holds for any task with partial affinity:
 * shared queues would hide it from CPUs it cannot use and a shrinking layer could strand it.
 *
 * Queues and order. One vtime-ordered queue per (layer, LLC); a CPU looks in its own LLC's
 * queue of a layer first, then the others (work-conserving across LLCs). Within a layer, tasks
 * are ordered by weighted CPU time (nice works). Each queue keeps its own clock (its front):
 * a sleeper, a newcomer or a task from another LLC starts within one slice of it, since the
 * LLCs' queues progress at their own rates; no task is queued more than 8 slices ahead, and a
 * task lighter than nice 0 gets a shorter slice (scx/vtime.bpf.h: one 20 ms run of a nice 19
 * task would be charged 2 s, which a busy queue takes minutes to catch up with). Among layers that
 * contend for a CPU, the one with the least CPU time per weight goes first: the weight is each
 * layer's share. Layers with "preempt" get a bounded head start (10 ms of weighted time), so they
 * go first unless they hog, and cannot starve the others. A task whose slice ended keeps its CPU if
 * it is the last runnable one and its layer may use the CPU (SCX_OPS_ENQ_LAST: otherwise a Confined
 * task would keep a CPU its layer just gave away).
 *
 * Preemption. A waking task of a preempt layer takes the CPU of a task of a non-preempting
 * layer: its previous CPU first (the wake-up usually runs there: no IPI, warm cache), else an
 * idle CPU, else another victim, unowned CPUs first (leaving the owners of Confined CPUs alone
 * when it can). It inserts itself into that CPU's local queue with SCX_ENQ_PREEMPT (value from the
 * kernel's BTF), so no scx_bpf_kick_cpu is needed (Debian 7.1/7.2 cannot call it). A per-CPU
 * claim keeps two wakers from picking the same victim. Preempt layers never preempt each other:
 * no ping-pong. The victim goes back to its own CPU, behind the preemptor: moving it to an idle
 * CPU costs a wake-up there and leaves this CPU idle for the next wake-up to wake again. A task
 * with partial affinity preempts too, among the CPUs it allows: latency-critical threads are
 * often pinned.
 *
 * Accounting. Per layer: tasks, CPU time, waiting time (runnable to running), preemptions and
 * affinity violations; user space turns CPU time into utilisation and resizes layers.
 */
#include <scx/common.bpf.h>
#include <scx/masks.bpf.h>
#include <scx/vtime.bpf.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

/* Filled by user space before load. */
const volatile u32 nr_cpu_ids = 1;
/* online CPUs: a task allowed on fewer has partial affinity */
const volatile u32 nr_cpus = 1;
const volatile u32 nr_llcs = 1;
const volatile u32 nr_layers = 1;
const volatile u64 slice_ns = 20ULL * 1000 * 1000;
const volatile u64 enq_preempt_flag;
const volatile u64 enq_last_flag;
const volatile u32 cpu_llc[MAX_CPUS];
const volatile struct layer_spec layers[MAX_LAYERS];

/* Written by user space while running: bumped after cpu_owner / cgroup_bits changed. */
volatile u64 alloc_gen;
volatile u64 cgroup_gen;
/* The alloc_gen the cpumasks were last rebuilt for. */
u64 applied_gen;

SCX_UEI_DEFINE();

/* include/linux/sched.h: a kernel thread (not in BTF: a #define) */
#define LAYERED_PF_KTHREAD 0x00200000

/* A layer's tasks are matched again at least this often (slow-changing matcher inputs). */
#define REMATCH_NS (1000ULL * 1000 * 1000)
/*
 * How much CPU time per weight a preempting layer may be ahead of the others in dispatch. It
 * must stay below SHARE_LAG_NS: a layer that comes back from idle is put that far behind the
 * busiest, and a larger lead would let a busy preempting layer win every dispatch against it.
 */
#define PREEMPT_LEAD_NS (10ULL * 1000 * 1000)
/* A layer idle for a while comes back at most this far behind the busiest one (share vtime). */
#define SHARE_LAG_NS (50ULL * 1000 * 1000)

/* Slots 0..MAX_LAYERS-1: CPUs owned by that layer; then unowned CPUs; then CPUs Open may use. */
#define MASK_UNOWNED (MAX_LAYERS)
#define MASK_OPEN    (MAX_LAYERS + 1)

SCX_MASK_ARRAY(layer_masks, MAX_LAYERS + 2);

SCX_SCRATCH_MASK(scratch_mask);

/* From user space: per CPU, the owning layer or NO_OWNER. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CPUS);
	__type(key, u32);
	__type(value, u32);
} cpu_owner SEC(".maps");

/* From user space: cgroup id -> bit i set when cgroup matcher i matches the cgroup's path. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, u64);
	__type(value, u64);
} cgroup_bits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_LAYERS);
	__type(key, u32);
	__type(value, struct layer_stat);
} layer_stats SEC(".maps");

/* Not waiting in any of a layer's queues (task_ctx's queued_llc, last_llc). */
#define NO_LLC MAX_LLCS

struct layer_ctx {
	/* per LLC: the vtime of the latest task started from the layer's queue there (its clock) */
	u64 clock[MAX_LLCS];
	/* the layer's CPU time divided by its weight: the inter-layer share */
	u64 share_vtime;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_LAYERS);
	__type(key, u32);
	__type(value, struct layer_ctx);
} layer_ctxs SEC(".maps");

/* The largest share_vtime of any layer. */
u64 share_now;

struct cpu_ctx {
	/* layer of the task running here, NO_LAYER when none of ours */
	u32 layer;
	/* set by the waker that chose this CPU to preempt, until a task starts running */
	u32 preempt_claim;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CPUS);
	__type(key, u32);
	__type(value, struct cpu_ctx);
} cpu_ctxs SEC(".maps");

struct task_ctx {
	u32 layer;
	s32 static_prio;
	u64 cgroup_gen;
	u64 cgid;
	u64 comm[2];
	u64 matched_at;
	u64 vtime;
	u64 avg_runtime;
	/* when the current run started, and up to when it was charged (tick or stopping) */
	u64 run_started_at;
	u64 charged_at;
	/* when it was queued (0: not waiting) */
	u64 enq_at;
	/* the LLC of the layer queue its current wait is in (NO_LLC: a CPU's local queue) */
	u32 queued_llc;
	/* the LLC of the layer queue it last waited in (NO_LLC: none yet, or it changed layer) */
	u32 last_llc;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

static struct task_ctx *task_ctx(struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctxs, p, NULL, 0);
}

static struct layer_stat *lstat(u32 layer)
{
	return bpf_map_lookup_elem(&layer_stats, &layer);
}

static struct layer_ctx *lctx(u32 layer)
{
	return bpf_map_lookup_elem(&layer_ctxs, &layer);
}

static struct cpu_ctx *cctx(s32 cpu)
{
	u32 c = cpu;

	return bpf_map_lookup_elem(&cpu_ctxs, &c);
}

static u32 owner_of(s32 cpu)
{
	u32 c = cpu, *o = bpf_map_lookup_elem(&cpu_owner, &c);

	return o ? *o : NO_OWNER;
}

static u32 llc_of(s32 cpu)
{
	u32 c = cpu;

	barrier_var(c);
	if (c >= MAX_CPUS)
		return 0;
	return cpu_llc[c];
}

static u32 kind_of(u32 layer)
{
	barrier_var(layer);
	if (layer >= MAX_LAYERS)
		return KIND_OPEN;
	return layers[layer].kind;
}

static bool layer_preempts(u32 layer)
{
	barrier_var(layer);
	return layer < MAX_LAYERS && layers[layer].preempt;
}

static bool layer_exclusive(u32 layer)
{
	barrier_var(layer);
	return layer < MAX_LAYERS && layers[layer].exclusive;
}

static u64 layer_slice(u32 layer)
{
	barrier_var(layer);
	if (layer >= MAX_LAYERS || !layers[layer].slice_ns)
		return slice_ns;
	return layers[layer].slice_ns;
}

/*
 * @p's slice in @layer: shorter for a task lighter than nice 0, at least 1 ms (scx/vtime.bpf.h),
 * so one run of a nice 19 task is charged 100 ms of vtime, not 2 s that the queue's other tasks
 * would need minutes to catch up with under load.
 */
static u64 task_slice(struct task_struct *p, u32 layer)
{
	return scx_weighted_slice(layer_slice(layer), p->scx.weight, 1000ULL * 1000);
}

static u64 layer_weight(u32 layer)
{
	barrier_var(layer);
	if (layer >= MAX_LAYERS || !layers[layer].weight)
		return 100;
	return layers[layer].weight;
}

static u64 dsq_id(u32 layer, u32 llc)
{
	return (u64)layer * MAX_LLCS + llc;
}

/* Whether a task of @layer may run on @cpu under the current allocation. */
static bool cpu_allowed(u32 layer, s32 cpu)
{
	u32 owner = owner_of(cpu);

	switch (kind_of(layer)) {
	case KIND_CONFINED:
		return owner == layer;
	case KIND_GROUPED:
		return owner == layer || owner == NO_OWNER;
	default:
		return owner == NO_OWNER || owner == layer || !layer_exclusive(owner);
	}
}

/*
 * Whether a waking task of preempting @layer may take @cpu from what runs there: a task of a
 * non-preempting layer, or none of ours. The latter is an idle CPU, a CPU between two tasks (a
 * task was just sent there and has not started) or one running another class: going ahead of
 * what waits in its local queue is right in each case (pick_victim clears the idle bit of an
 * idle one). Treating such a CPU as busy made a waker queue behind the task about to start
 * there, for that task's whole slice (traced under bench/run.sh --workload layers: the measured
 * task's wait from wake-up to running, p90, fell from 24 to 12.6 ms).
 */
static bool preemptible(u32 layer, s32 cpu)
{
	struct cpu_ctx *c = cctx(cpu);

	return c && (c->layer == NO_LAYER || !layer_preempts(c->layer)) && cpu_allowed(layer, cpu);
}

/* --- matching ---------------------------------------------------------------------------- */

struct match_in {
	char comm[COMM_LEN];
	char pcomm[COMM_LEN];
	u64 cgbits;
	u64 avg_runtime;
	s32 nice;
	u32 uid, gid, pid, ppid, tgid;
	bool leader, kthread;
};

static u64 task_cgid(struct task_struct *p)
{
	return BPF_CORE_READ(p, cgroups, dfl_cgrp, kn, id);
}

static bool prefix_of(const volatile char *pre, s64 len, const char *s)
{
	u32 j;

	for (j = 0; j < COMM_LEN; j++) {
		if (j >= len)
			return true;
		if (pre[j] != s[j])
			return false;
	}
	return true;
}

static bool match_one(const volatile struct layer_match *m, struct match_in *in)
{
	switch (m->kind) {
	case MATCH_CGROUP:
		return m->a >= 0 && m->a < 64 && (in->cgbits & (1ULL << m->a));
	case MATCH_COMM_PREFIX:
		return prefix_of(m->str, m->a, in->comm);
	case MATCH_PCOMM_PREFIX:
		return prefix_of(m->str, m->a, in->pcomm);
	case MATCH_NICE_ABOVE:
		return in->nice > m->a;
	case MATCH_NICE_BELOW:
		return in->nice < m->a;
	case MATCH_NICE_EQUALS:
		return in->nice == m->a;
	case MATCH_UID_EQUALS:
		return in->uid == m->a;
	case MATCH_GID_EQUALS:
		return in->gid == m->a;
	case MATCH_PID_EQUALS:
		return in->pid == m->a;
	case MATCH_PPID_EQUALS:
		return in->ppid == m->a;
	case MATCH_TGID_EQUALS:
		return in->tgid == m->a;
	case MATCH_IS_GROUP_LEADER:
		return in->leader == !!m->a;
	case MATCH_IS_KTHREAD:
		return in->kthread == !!m->a;
	case MATCH_AVG_RUNTIME:
		return in->avg_runtime >= m->a && in->avg_runtime < m->b;
	default:
		return false;
	}
}

/* The first layer @in satisfies; the last (a catch-all, checked by user space) otherwise. */
static u32 match_layer(struct match_in *in)
{
	u32 l, o, a;

	bpf_for(l, 0, nr_layers)
	{
		const volatile struct layer_spec *spec;

		if (l >= MAX_LAYERS)
			break;
		spec = &layers[l];
		bpf_for(o, 0, spec->nr_or)
		{
			const volatile struct layer_and *and;
			bool ok = true;

			if (o >= MAX_OR)
				break;
			and = &spec->ors[o];
			bpf_for(a, 0, and->nr)
			{
				if (a >= MAX_AND)
					break;
				if (!match_one(&and->m[a], in)) {
					ok = false;
					break;
				}
			}
			if (ok)
				return l;
		}
	}
	return nr_layers ? nr_layers - 1 : 0;
}

static void set_layer(struct task_ctx *tctx, u32 layer)
{
	struct layer_stat *s;

	if (tctx->layer == layer)
		return;
	if ((s = lstat(tctx->layer)))
		__sync_fetch_and_sub(&s->nr_tasks, 1);
	if ((s = lstat(layer))) {
		__sync_fetch_and_add(&s->nr_tasks, 1);
		__sync_fetch_and_add(&s->matched, 1);
	}
	/* Its next queueing places it as a newcomer (place_in_queue). */
	tctx->last_llc = NO_LLC;
	tctx->layer = layer;
}

/* Match @p again if anything a matcher reads may have changed (see the header). */
static void refresh_layer(struct task_struct *p, struct task_ctx *tctx, u64 now)
{
	struct match_in in = {};
	struct task_struct *leader;
	u64 comm[2] = {}, cgid = task_cgid(p), *bits;

	bpf_probe_read_kernel(comm, sizeof(comm), p->comm);
	if (tctx->layer != NO_LAYER && tctx->cgroup_gen == cgroup_gen && tctx->cgid == cgid &&
	    tctx->comm[0] == comm[0] && tctx->comm[1] == comm[1] &&
	    tctx->static_prio == p->static_prio && now - tctx->matched_at < REMATCH_NS)
		return;
	tctx->cgroup_gen = cgroup_gen;
	tctx->cgid = cgid;
	tctx->comm[0] = comm[0];
	tctx->comm[1] = comm[1];
	tctx->static_prio = p->static_prio;
	tctx->matched_at = now;

	__builtin_memcpy(in.comm, comm, sizeof(in.comm));
	leader = p->group_leader;
	if (leader)
		bpf_probe_read_kernel(in.pcomm, sizeof(in.pcomm), leader->comm);
	bits = bpf_map_lookup_elem(&cgroup_bits, &cgid);
	in.cgbits = bits ? *bits : 0;
	in.avg_runtime = tctx->avg_runtime;
	in.nice = p->static_prio - 120;
	in.uid = BPF_CORE_READ(p, cred, euid.val);
	in.gid = BPF_CORE_READ(p, cred, egid.val);
	in.pid = p->pid;
	in.tgid = p->tgid;
	in.ppid = BPF_CORE_READ(p, real_parent, tgid);
	in.leader = p->pid == p->tgid;
	in.kthread = p->flags & LAYERED_PF_KTHREAD;
	set_layer(tctx, match_layer(&in));
}

/* --- cpumasks ---------------------------------------------------------------------------- */

static void set_or_clear(u32 slot, s32 cpu, bool set)
{
	struct bpf_cpumask *mask = scx_mask_of(&layer_masks, slot);

	if (!mask)
		return;
	if (set)
		bpf_cpumask_set_cpu(cpu, mask);
	else
		bpf_cpumask_clear_cpu(cpu, mask);
}

/* Rebuild the layer cpumasks from cpu_owner once per user-space update (one CPU does it). */
static void apply_alloc(void)
{
	u64 want = alloc_gen, have = applied_gen;
	s32 cpu;
	u32 l;

	if (want == have || __sync_val_compare_and_swap(&applied_gen, have, want) != have)
		return;
	bpf_for(cpu, 0, nr_cpu_ids)
	{
		u32 owner = owner_of(cpu);

		bpf_for(l, 0, nr_layers) set_or_clear(l, cpu, owner == l);
		set_or_clear(MASK_UNOWNED, cpu, owner == NO_OWNER);
		set_or_clear(MASK_OPEN, cpu, owner == NO_OWNER || !layer_exclusive(owner));
	}
}

/* An idle CPU of @slot's mask that @p may use, or -1. */
static s32 pick_idle_in(struct task_struct *p, u32 slot)
{
	struct bpf_cpumask *tmp = scx_mask_of(&scratch_mask, 0),
			   *m = scx_mask_of(&layer_masks, slot);

	if (!tmp || !m)
		return -1;
	bpf_cpumask_and(tmp, cast_mask(m), p->cpus_ptr);
	return scx_bpf_pick_idle_cpu(cast_mask(tmp), 0);
}

/* An idle CPU for a task of @layer: its previous CPU, its own CPUs, then the shared ones. */
static s32 pick_idle(struct task_struct *p, u32 layer, s32 prev_cpu)
{
	s32 cpu;

	if (prev_cpu >= 0 && cpu_allowed(layer, prev_cpu) &&
	    bpf_cpumask_test_cpu(prev_cpu, p->cpus_ptr) &&
	    scx_bpf_test_and_clear_cpu_idle(prev_cpu))
		return prev_cpu;
	switch (kind_of(layer)) {
	case KIND_CONFINED:
		return pick_idle_in(p, layer);
	case KIND_GROUPED:
		cpu = pick_idle_in(p, layer);
		return cpu >= 0 ? cpu : pick_idle_in(p, MASK_UNOWNED);
	default:
		cpu = pick_idle_in(p, MASK_UNOWNED);
		return cpu >= 0 ? cpu : pick_idle_in(p, MASK_OPEN);
	}
}

static bool full_affinity(struct task_struct *p)
{
	return p->nr_cpus_allowed >= nr_cpus;
}

/* --- scheduling -------------------------------------------------------------------------- */

s32 BPF_STRUCT_OPS(layered_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	struct task_ctx *tctx = task_ctx(p);
	u64 now = scx_now();
	s32 cpu;

	if (!tctx || !full_affinity(p))
		return prev_cpu;
	refresh_layer(p, tctx, now);
	/*
	 * A preempting task whose previous CPU runs a task it may preempt stays there: enqueue
	 * preempts locally (the wake-up usually runs on that CPU: a timer or the waker's CPU),
	 * which is faster than waking an idle CPU and keeps its cache warm.
	 */
	if (layer_preempts(tctx->layer) && enq_preempt_flag && preemptible(tctx->layer, prev_cpu)) {
		/* (It may have gone idle since: then its idle bit is ours, use it.) */
		if (!scx_bpf_test_and_clear_cpu_idle(prev_cpu))
			return prev_cpu;
		cpu = prev_cpu;
	} else {
		cpu = pick_idle(p, tctx->layer, prev_cpu);
		if (cpu < 0)
			return prev_cpu;
	}
	tctx->enq_at = now;
	scx_dsq_insert(p, SCX_DSQ_LOCAL, task_slice(p, tctx->layer), 0);
	return cpu;
}

/*
 * A CPU running a task of a non-preempting layer that a waking task of @layer may take, or -1:
 * @prev_cpu first, then unowned CPUs, then the others (only @prev_cpu if @prev_only). The CPU
 * is claimed for this waker.
 */
static s32 pick_victim(struct task_struct *p, u32 layer, s32 prev_cpu, bool prev_only)
{
	u32 pass;
	s32 cpu;

	if (!enq_preempt_flag)
		return -1;
	bpf_for(pass, 0, prev_only ? 1 : 3)
	{
		bpf_for(cpu, 0, nr_cpu_ids)
		{
			struct cpu_ctx *c;
			s32 cand = pass == 0 ? prev_cpu : cpu;
			u32 owner;

			if (cand < 0 || cand >= nr_cpu_ids)
				break;
			owner = owner_of(cand);
			if (pass == 1 && owner != NO_OWNER)
				continue;
			c = cctx(cand);
			if (c && preemptible(layer, cand) &&
			    bpf_cpumask_test_cpu(cand, p->cpus_ptr) &&
			    !__sync_val_compare_and_swap(&c->preempt_claim, 0, 1)) {
				/* (an idle one is ours now: nobody else may take it as idle) */
				if (c->layer == NO_LAYER)
					scx_bpf_test_and_clear_cpu_idle(cand);
				return cand;
			}
			if (pass == 0)
				break;
		}
	}
	return -1;
}

/*
 * Put @p of @layer straight on a CPU if one suits: a waking task of a preempting layer takes
 * @prev_cpu from a victim (see select_cpu), else an idle CPU, else another victim; any other
 * task an idle CPU. False: no CPU now, the caller queues it.
 */
static bool place_on_cpu(struct task_struct *p, u32 layer, s32 prev_cpu, u64 enq_flags)
{
	bool preempting = (enq_flags & SCX_ENQ_WAKEUP) && layer_preempts(layer);
	struct layer_stat *s;
	s32 cpu;

	cpu = preempting ? pick_victim(p, layer, prev_cpu, true) : -1;
	if (cpu < 0) {
		cpu = pick_idle(p, layer, prev_cpu);
		if (cpu >= 0) {
			scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, task_slice(p, layer), enq_flags);
			return true;
		}
		if (preempting)
			cpu = pick_victim(p, layer, prev_cpu, false);
	}
	if (cpu < 0)
		return false;
	if ((s = lstat(layer)))
		__sync_fetch_and_add(&s->preempts, 1);
	scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, task_slice(p, layer),
		       enq_flags | enq_preempt_flag | SCX_ENQ_HEAD);
	return true;
}

/*
 * A task that cannot use the shared queues (partial affinity, no context): straight to a CPU
 * it allows. Placed like any other task first (place_on_cpu: an idle CPU of its layer, and for
 * a waking task of a preempting layer a victim among the CPUs it allows: pinned threads are
 * common among latency-critical tasks, and cyclictest's measuring thread, pinned, otherwise
 * waited 12-24 ms behind a hog's whole slice under bench/run.sh --workload layers). Failing
 * that, its current CPU, or one of its layer's CPUs it allows when its layer may not use the
 * current one.
 */
static void enqueue_direct(struct task_struct *p, struct task_ctx *tctx, u64 enq_flags)
{
	s32 cpu = scx_bpf_task_cpu(p);
	u32 layer = tctx ? tctx->layer : NO_LAYER;
	struct bpf_cpumask *tmp;
	struct layer_stat *s;
	s32 c;

	if (tctx && place_on_cpu(p, layer, cpu, enq_flags))
		return;
	if (tctx && p->nr_cpus_allowed > 1 &&
	    (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr) || !cpu_allowed(layer, cpu))) {
		tmp = scx_mask_of(&scratch_mask, 0);
		c = -1;
		if (tmp && layer < MAX_LAYERS) {
			struct bpf_cpumask *m = scx_mask_of(&layer_masks, layer);

			if (m) {
				bpf_cpumask_and(tmp, cast_mask(m), p->cpus_ptr);
				c = bpf_cpumask_any_distribute(cast_mask(tmp));
			}
		}
		if (c < 0 || c >= nr_cpu_ids)
			c = bpf_cpumask_any_distribute(p->cpus_ptr);
		if (c >= 0 && c < nr_cpu_ids)
			cpu = c;
	}
	if (tctx && !cpu_allowed(layer, cpu) && (s = lstat(layer)))
		__sync_fetch_and_add(&s->affn_viol, 1);
	scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, task_slice(p, layer), enq_flags);
}

static u64 layer_queued(u32 layer)
{
	u64 n = 0;
	u32 i;

	bpf_for(i, 0, nr_llcs) n += scx_bpf_dsq_nr_queued(dsq_id(layer, i));
	return n;
}

/* A layer with nothing queued that gets a task: it may not bank more than SHARE_LAG_NS. */
static void pull_share_up(u32 layer)
{
	struct layer_ctx *lc = lctx(layer);
	u64 floor = share_now > SHARE_LAG_NS ? share_now - SHARE_LAG_NS : 0;

	if (lc && vtime_before(lc->share_vtime, floor) && !layer_queued(layer))
		lc->share_vtime = floor;
}

/*
 * Where @tctx's task goes in the (@layer, @llc) queue. Each queue has its own clock: the LLCs'
 * queues progress at their own rates, and a vtime earned against one means nothing in another.
 * A waiting task banks at most one slice behind its queue's clock. After a sleep, as a
 * newcomer, or coming from another LLC it also starts at most one slice ahead of it: a vtime
 * from a queue that ran ahead (or a nice-19 task's, whose weighted time runs 100x faster)
 * would put it behind all of this queue's work (7.3, the stress mix: a shell waited 13 s for a
 * 0.1 s sleep with one clock per layer). While it stays runnable on one LLC its vtime is kept,
 * so nice levels hold, but never more than 8 slices ahead (a light hog's lead, see task_slice).
 */
static void place_in_queue(struct task_ctx *tctx, u32 layer, u32 llc, u64 enq_flags)
{
	struct layer_ctx *lc = lctx(layer);
	u64 slice = layer_slice(layer), clk;

	if (!lc || llc >= MAX_LLCS)
		return;
	clk = lc->clock[llc & (MAX_LLCS - 1)];
	tctx->vtime = scx_vtime_place(tctx->vtime, clk, slice, clk, 8 * slice, true);
	if (((enq_flags & SCX_ENQ_WAKEUP) || tctx->last_llc != llc) &&
	    vtime_before(clk + slice, tctx->vtime))
		tctx->vtime = clk + slice;
	tctx->last_llc = llc;
}

void BPF_STRUCT_OPS(layered_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = task_ctx(p);
	s32 prev_cpu = scx_bpf_task_cpu(p);
	u64 now = scx_now();
	struct cpu_ctx *c;
	u32 layer, llc;

	if (!tctx || !full_affinity(p)) {
		if (tctx) {
			refresh_layer(p, tctx, now);
			tctx->enq_at = now;
		}
		enqueue_direct(p, tctx, enq_flags);
		return;
	}
	refresh_layer(p, tctx, now);
	layer = tctx->layer;
	tctx->enq_at = now;
	tctx->queued_llc = NO_LLC;
	pull_share_up(layer);

	/*
	 * Preempted here by a waking task of a preempting layer (this CPU is claimed and the task
	 * is not waking up): go back to this CPU's queue, behind the preemptor, which usually runs
	 * for a moment only. Through the shared queue the task would move to an idle CPU, at the
	 * cost of waking that CPU and of its cache, and leave this one idle for the preemptor's
	 * next wake-up to wake again.
	 */
	if (!(enq_flags & SCX_ENQ_WAKEUP) && prev_cpu == bpf_get_smp_processor_id() &&
	    (c = cctx(prev_cpu)) && c->preempt_claim && cpu_allowed(layer, prev_cpu)) {
		scx_dsq_insert(p, SCX_DSQ_LOCAL, task_slice(p, layer), enq_flags);
		return;
	}
	/* The last runnable task here whose layer may stay: keep running. */
	if ((enq_flags & enq_last_flag) && enq_last_flag && cpu_allowed(layer, prev_cpu)) {
		scx_dsq_insert(p, SCX_DSQ_LOCAL, task_slice(p, layer), enq_flags);
		return;
	}
	/*
	 * A preempted RCU reader goes back to its CPU, if its layer may run there: khugepaged
	 * (nice 19) waited in its layer's queue past the RCU stall timeout and the kernel ejected
	 * the scheduler (vm-sched-default on 7.3).
	 */
	if (cpu_allowed(layer, prev_cpu) && scx_rcu_reader_preempted(p, enq_flags)) {
		scx_dsq_insert(p, SCX_DSQ_LOCAL, task_slice(p, layer), enq_flags);
		return;
	}
	if (place_on_cpu(p, layer, prev_cpu, enq_flags))
		return;
	llc = llc_of(prev_cpu);
	place_in_queue(tctx, layer, llc, enq_flags);
	tctx->queued_llc = llc;
	scx_dsq_insert_vtime(p, dsq_id(layer, llc), task_slice(p, layer), tctx->vtime, enq_flags);
}

/* Move the first task of @layer's queues (this LLC's first) here. */
static bool consume_layer(u32 layer, u32 llc)
{
	u32 i;

	bpf_for(i, 0, nr_llcs)
	{
		u32 d = (llc + i) % nr_llcs;

		if (scx_dsq_move_to_local(dsq_id(layer, d)))
			return true;
	}
	return false;
}

/* Whether a CPU owned by @owner (or no one) serves guests of @layer. */
static bool serves_guest(u32 owner, u32 layer)
{
	switch (kind_of(layer)) {
	case KIND_CONFINED:
		return false;
	case KIND_GROUPED:
		return owner == NO_OWNER;
	default:
		return owner == NO_OWNER || !layer_exclusive(owner);
	}
}

void BPF_STRUCT_OPS(layered_dispatch, s32 cpu, struct task_struct *prev)
{
	u32 owner, llc = llc_of(cpu), tried = 0, attempt;

	apply_alloc();
	owner = owner_of(cpu);
	if (owner < MAX_LAYERS && consume_layer(owner, llc))
		return;
	bpf_for(attempt, 0, MAX_LAYERS)
	{
		u32 l, best = NO_LAYER;
		u64 best_key = 0;

		bpf_for(l, 0, nr_layers)
		{
			struct layer_ctx *lc;
			u64 key;

			if (l == owner || (tried & (1U << l)) || !serves_guest(owner, l) ||
			    !layer_queued(l))
				continue;
			lc = lctx(l);
			key = lc ? lc->share_vtime : 0;
			/*
			 * Preempting layers go first, but only by a bounded lead: one that keeps
			 * its CPUs busy falls back to its weighted share instead of starving the
			 * others (the watchdog would eject the scheduler).
			 */
			if (layer_preempts(l))
				key -= PREEMPT_LEAD_NS;
			if (best == NO_LAYER || vtime_before(key, best_key)) {
				best = l;
				best_key = key;
			}
		}
		if (best == NO_LAYER)
			return;
		if (consume_layer(best, llc))
			return;
		tried |= 1U << best;
	}
}

void BPF_STRUCT_OPS(layered_running, struct task_struct *p)
{
	s32 cpu = bpf_get_smp_processor_id();
	struct task_ctx *tctx = task_ctx(p);
	struct cpu_ctx *c = cctx(cpu);
	struct layer_stat *s;
	struct layer_ctx *lc;
	u64 now = scx_now();
	bool queued;
	u32 llc;

	if (c) {
		c->layer = tctx ? tctx->layer : NO_LAYER;
		c->preempt_claim = 0;
	}
	if (!tctx)
		return;
	tctx->run_started_at = now;
	tctx->charged_at = now;
	if (tctx->enq_at && (s = lstat(tctx->layer))) {
		__sync_fetch_and_add(&s->wait_ns, now - tctx->enq_at);
		__sync_fetch_and_add(&s->nr_waits, 1);
	}
	tctx->enq_at = 0;
	/*
	 * A task taken from a queue moves that queue's clock to its vtime (it was the front). One
	 * that went straight to a CPU may be far ahead of everything queued (a nice-19 task), so
	 * it moves its LLC's clock only while it is within a slice of it.
	 */
	queued = tctx->queued_llc < MAX_LLCS;
	llc = queued ? tctx->queued_llc : llc_of(cpu);
	lc = lctx(tctx->layer);
	if (lc && llc < MAX_LLCS) {
		u64 *clk = &lc->clock[llc & (MAX_LLCS - 1)];

		if (vtime_before(*clk, tctx->vtime) &&
		    (queued || vtime_before(tctx->vtime, *clk + layer_slice(tctx->layer))))
			*clk = tctx->vtime;
	}
	tctx->queued_llc = NO_LLC;
}

/*
 * Charge @p's running since the last charge to it and its layer. Called at every tick too: a
 * task that keeps its CPU across slices may not stop for seconds, and the sizer must see its
 * layer's use as it happens.
 */
static void charge(struct task_struct *p, struct task_ctx *tctx, u64 now)
{
	struct layer_stat *s;
	struct layer_ctx *lc;
	u64 ran, share;

	if (!tctx->charged_at || now <= tctx->charged_at)
		return;
	ran = now - tctx->charged_at;
	tctx->charged_at = now;
	tctx->vtime += ran * 100 / (p->scx.weight ?: 1);
	if ((s = lstat(tctx->layer)))
		__sync_fetch_and_add(&s->runtime_ns, ran);
	if ((lc = lctx(tctx->layer))) {
		share =
		    __sync_add_and_fetch(&lc->share_vtime, ran * 100 / layer_weight(tctx->layer));
		if (vtime_before(share_now, share))
			share_now = share;
	}
}

void BPF_STRUCT_OPS(layered_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx = task_ctx(p);
	struct cpu_ctx *c = cctx(bpf_get_smp_processor_id());
	u64 now = scx_now();

	if (c)
		c->layer = NO_LAYER;
	if (!tctx || !tctx->run_started_at)
		return;
	charge(p, tctx, now);
	tctx->avg_runtime = (tctx->avg_runtime * 3 + (now - tctx->run_started_at)) / 4;
	tctx->charged_at = 0;
}

/*
 * On every tick: apply a new allocation, and end the slice of a task that should make way:
 * a guest on a CPU whose owner has work, or a task whose layer may no longer use this CPU.
 */
void BPF_STRUCT_OPS(layered_tick, struct task_struct *p)
{
	struct task_ctx *tctx = task_ctx(p);
	s32 cpu = scx_bpf_task_cpu(p);
	struct cpu_ctx *c;
	u32 owner;

	apply_alloc();
	if (!tctx || tctx->layer == NO_LAYER)
		return;
	/*
	 * A task kept on its CPU when its slice ended may go on without a new running(): start
	 * charging it here then (at most one tick is lost), and keep the CPU's record right.
	 */
	if (!tctx->charged_at)
		tctx->charged_at = scx_now();
	else
		charge(p, tctx, scx_now());
	if ((c = cctx(cpu)))
		c->layer = tctx->layer;
	if (!full_affinity(p))
		return;
	owner = owner_of(cpu);
	if (!cpu_allowed(tctx->layer, cpu) ||
	    (owner < MAX_LAYERS && owner != tctx->layer && layer_queued(owner)))
		scx_task_set_slice(p, 0);
}

s32 BPF_STRUCT_OPS(layered_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	struct task_ctx *tctx;

	tctx = bpf_task_storage_get(&task_ctxs, p, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!tctx)
		return -ENOMEM;
	tctx->layer = NO_LAYER;
	tctx->queued_llc = NO_LLC;
	tctx->last_llc = NO_LLC;
	return 0;
}

void BPF_STRUCT_OPS(layered_exit_task, struct task_struct *p, struct scx_exit_task_args *args)
{
	struct task_ctx *tctx = task_ctx(p);
	struct layer_stat *s;

	if (tctx && (s = lstat(tctx->layer)))
		__sync_fetch_and_sub(&s->nr_tasks, 1);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(layered_init)
{
	u32 i, l;
	s32 ret;

	ret = scx_masks_create(&layer_masks, MAX_LAYERS + 2)
		  ?: scx_scratch_masks_create(&scratch_mask, nr_cpu_ids);
	if (ret)
		return ret;
	bpf_for(i, 0, nr_cpu_ids)
	{
		struct cpu_ctx *c = cctx(i);

		if (c)
			c->layer = NO_LAYER;
	}
	bpf_for(l, 0, nr_layers)
	{
		bpf_for(i, 0, nr_llcs)
		{
			ret = scx_bpf_create_dsq(dsq_id(l, i), -1);
			if (ret) {
				scx_bpf_error("creating the queue of layer %u LLC %u failed: %d", l,
					      i, ret);
				return ret;
			}
		}
	}
	return 0;
}

void BPF_STRUCT_OPS(layered_exit, struct scx_exit_info *ei)
{
	scx_uei_record(ei);
}

SCX_OPS_DEFINE(layered_ops, .select_cpu = (void *)layered_select_cpu,
	       .enqueue = (void *)layered_enqueue, .dispatch = (void *)layered_dispatch,
	       .running = (void *)layered_running, .stopping = (void *)layered_stopping,
	       .tick = (void *)layered_tick, .init_task = (void *)layered_init_task,
	       .exit_task = (void *)layered_exit_task, .init = (void *)layered_init,
	       .exit = (void *)layered_exit, .name = "layered");
