/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_lavd (BPF side): latency-criticality-aware virtual deadlines, wake-up preemption and core
 * compaction, for interactive machines where a late frame is what the user notices.
 *
 * What a task is, inferred from how it behaves. Every task keeps three rates, each a decaying
 * events-per-second figure: how often it wakes other tasks (a producer: someone downstream
 * waits for it), how often it blocks (a consumer: it waits for someone upstream), and how long
 * it runs between blocking (its average burst). Its latency criticality is
 *
 *     lc = log2(1 + wake_freq) + log2(1 + wait_freq) + log2(1 + 10 ms / avg_burst)
 *
 * Logarithms, so that a task waking a thousand times a second is more critical than one waking
 * ten times, but not a hundred times more: one extreme rate cannot swamp the others. When a
 * task is woken by a more critical one (the real waker: a wake-up done from an interrupt
 * credits nobody), it inherits half the difference until it blocks again, so every link of a
 * chain that ends in something the user waits for (input -> game logic -> compositor) runs
 * early, even a link that by itself looks ordinary.
 *
 * Ordering. Each LLC has one queue ordered by virtual deadline:
 *
 *     deadline = vtime + min(avg_burst, max slice) * 100 / weight - lc * lc_unit (+ a constant)
 *
 * vtime is the task's weighted CPU time (the fairness term); a task that slept may have fallen
 * at most one maximum slice behind the LLC's running tasks, so sleeping banks only a bounded
 * credit, and no task is queued more than eight maximum slices ahead of them (scx/vtime.bpf.h):
 * a task lighter than nice 0 gets a proportionally shorter slice, so one run of a nice 19 task is
 * charged 100 ms of vtime rather than 2 s, and it waits for others to catch up for seconds, not
 * for the minutes after which the kernel's watchdog would eject the scheduler. The runtime term
 * puts short runners before long ones, the criticality term puts critical tasks earlier still; both
 * are bounded offsets on top of vtime, so over any longer stretch CPU time still follows weight: a
 * hog gets its share and nice levels hold.
 *
 * Slices. The target latency is divided among the LLC's CPUs' share of runnable tasks, between
 * a floor and a ceiling; a CPU nobody waits for gets the maximum slice (throughput). A task
 * whose last slice was cut short by a preemption gets the unused part added to its next one,
 * so being preempted costs it latency, not CPU time.
 *
 * Preemption. A waking task that finds no idle CPU samples its previous CPU and two random
 * CPUs of its LLC and preempts its previous CPU when that qualifies (no IPI for a timer wake-up,
 * which comes there; warm cache), else the one running the latest deadline, if that deadline is
 * later than its own by a margin, the runner is no more critical than it, and the runner's bursts
 * are long (at least four times the wakee's): tasks with alike bursts (hackbench, pipelines) never
 * preempt each other, since one will yield about as soon as preempting it would help; nor does
 * a wakee preempt the task that woke it (a pipe or socket writer goes on writing and blocks soon;
 * wake-ups from timers and devices may preempt). The
 * preemption is an insertion at the head of the victim's local queue with SCX_ENQ_PREEMPT (its
 * value read from the kernel's BTF), which needs no scx_bpf_kick_cpu: Debian's 7.1 and 7.2 cannot
 * call it.
 *
 * Topology. Idle CPUs are searched nearest first: the previous CPU, its SMT siblings, a wholly
 * idle core of its LLC, any idle CPU of the LLC, of the node. An idle CPU takes work from its
 * own LLC's queue first, then steals from the other LLCs of its node, then from farther away.
 * A task allowed on one CPU only waits in that CPU's own deadline queue, which the CPU serves
 * with its LLC's in deadline order; per-CPU kernel threads go straight to their CPU, since
 * the whole machine may be waiting for the work they do.
 *
 * Core compaction. User space (every 100 ms) measures utilisation and chooses the smallest set
 * of cores, highest capacity first, that carries it with headroom; it writes that active set
 * into the ctl map. While compaction is on, placement only looks at active CPUs, and the others
 * stay idle so they can sleep deeply. When the active CPUs cannot keep up (none idle and work
 * already waiting) a waking task takes an idle inactive CPU at once, which joins the active set
 * until user space decides again: a load rise is never held back for a tick. Frequency hints
 * (scx_bpf_cpuperf_set, where the kernel has it) follow the running task's criticality, or ask
 * for the maximum in performance mode.
 */
#include <scx/common.bpf.h>
#include <scx/llc_topo.bpf.h>
#include <scx/counters.bpf.h>
#include <scx/wakefreq.bpf.h>
#include <scx/vtime.bpf.h>
#include <scx/preempt.bpf.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

/* The topology is in scx/llc_topo.bpf.h's tables, which user space fills before load. */
_Static_assert(MAX_LLCS == SCX_TOPO_MAX_LLCS && MAX_CPUS == SCX_TOPO_MAX_CPUS,
	       "intf.h's limits are scx/llc_topo.bpf.h's");
_Static_assert(STAT_IDLE_CORE - STAT_IDLE_PREV == SCX_IDLE_CORE &&
		   STAT_IDLE_LLC - STAT_IDLE_PREV == SCX_IDLE_LLC &&
		   STAT_IDLE_NODE - STAT_IDLE_PREV == SCX_IDLE_NODE,
	       "the idle counters follow enum scx_idle_where");
/* Slices: the maximum (nobody waits), the target latency shared under contention, the floor. */
const volatile u64 slice_max_ns = 20ULL * 1000 * 1000;
const volatile u64 target_latency_ns = 10ULL * 1000 * 1000;
const volatile u64 slice_min_ns = 1000ULL * 1000;
const volatile bool preempt_enabled = true;
/* Give a task whose run a preemption cut short the unused part on its next slice. */
const volatile bool slice_boost_enabled = true;
/* A victim's bursts must average at least this long. */
const volatile u64 preempt_min_run_ns = 500ULL * 1000;
/* How much earlier each unit of latency criticality makes a deadline (--lc-unit-us). */
const volatile u64 lc_unit_ns = 250ULL * 1000;
/* The kernel's SCX_ENQ_PREEMPT, from its BTF (0: none; no preemption). */
const volatile u64 enq_preempt_flag;

/*
 * Criticality scale: each unit of lc moves the deadline earlier by lc_unit_ns, up to LC_MAX
 * units. The window is a small multiple of the target latency: enough to order a frame before
 * a hog, not enough to let a critical task run far ahead of its share.
 */
#define LC_MAX	     40
#define LC_WINDOW_NS (LC_MAX * lc_unit_ns)
/* The burst length against which shortness is scored (the 10 ms of the lc formula). */
#define LC_RUNTIME_REF (10ULL * 1000 * 1000)
/* A victim must have run this long since it last started before a task's wake-up preempts it. */
#define PREEMPT_GRACE_NS (50ULL * 1000)
/* The runtime term of a deadline is at most this many maximum slices. */
#define RTERM_MAX_SLICES 2
/* task_struct flags (not in BTF). */
#define PF_KTHREAD 0x00200000
/* lc at or above which a task asks for the highest frequency. */
#define LC_PERF_FULL 12

SCX_UEI_DEFINE();

/* The active set as the BPF side applies it (user space's choice plus its own expansions). */
SCX_MASK_ARRAY(active_mask, 1);

/* User space's decisions (struct lavd_ctl), one entry. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct lavd_ctl);
} ctl SEC(".maps");

/*
 * CPUs the BPF side added to the active set since user space last looked (bit c of word c / 64);
 * user space folds them into its next decision and clears them.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CPU_WORDS);
	__type(key, u32);
	__type(value, u64);
} expanded SEC(".maps");

/* The ctl sequence number the active mask was last rebuilt for. */
u64 applied_seq;

struct llc_ctx {
	/* vtime of the latest task that started running in this LLC */
	u64 vtime_now;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_LLCS);
	__type(key, u32);
	__type(value, struct llc_ctx);
} llc_ctxs SEC(".maps");

struct task_ctx {
	u64 vtime;
	u64 deadline;
	u32 llc;
	/* effective criticality: own plus what it inherited from its waker */
	u32 lc;
	u64 last_run_at;
	/* CPU time between blockings, summed over preemptions, and its average */
	struct scx_burst burst;
	u64 wake_freq;
	u64 last_wake_at;
	u64 wait_freq;
	u64 last_wait_at;
	/* slice left over when a preemption cut its last run short: added to the next one */
	u64 slice_boost;
	/* this run's slice was boosted: the contention trim in tick leaves it alone */
	bool boosted;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

/* What each CPU runs, for choosing a preemption victim: scx/preempt.bpf.h's record and lavd's. */
struct cpu_run {
	struct scx_run run;
	/* the slice the run started with (trimmed by tick): what a preemption cuts short */
	u64 slice;
	u32 lc;
	/* the last frequency hint given (0: none yet) */
	u32 perf;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CPUS);
	__type(key, u32);
	__type(value, struct cpu_run);
} cpu_runs SEC(".maps");

SCX_COUNTERS_DEFINE(stats, LAVD_NR_STATS);

static void stat_inc(u32 idx)
{
	scx_counter_inc(&stats, idx);
}

/*
 * DSQ ids: LLC l's deadline queue is l; CPU c's queue of tasks that may only run on c is
 * PINNED_DSQ_BASE + c. A CPU serves both in deadline order, so tasks pinned to one CPU keep
 * their nice ratios whatever else waits in the LLC, and the LLC queue's head is (nearly) always
 * a task every CPU of the LLC can take.
 */
#define PINNED_DSQ_BASE MAX_LLCS

static u64 pinned_dsq(s32 cpu)
{
	return PINNED_DSQ_BASE + (u32)cpu;
}

static struct llc_ctx *llc_ctx(u32 llc)
{
	return bpf_map_lookup_elem(&llc_ctxs, &llc);
}

static struct task_ctx *task_ctx(struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctxs, p, NULL, 0);
}

static struct cpu_run *cpu_run(s32 cpu)
{
	u32 c = cpu;

	return bpf_map_lookup_elem(&cpu_runs, &c);
}

static struct lavd_ctl *get_ctl(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&ctl, &zero);
}

static bool compacting(void)
{
	struct lavd_ctl *c = get_ctl();

	return c && c->compact;
}

/* Rebuild the active mask when user space published a new set (one CPU does it). */
static void refresh_active(void)
{
	struct lavd_ctl *c = get_ctl();
	struct bpf_cpumask *m;
	u64 seq, old;
	u32 i;

	if (!c)
		return;
	seq = c->seq;
	old = applied_seq;
	if (seq == old || __sync_val_compare_and_swap(&applied_seq, old, seq) != old)
		return;
	m = scx_mask_of(&active_mask, 0);
	if (!m)
		return;
	bpf_for(i, 0, scx_topo_nr_cpu_ids)
	{
		u32 w = (i / 64) & (MAX_CPU_WORDS - 1);

		if (c->active[w] & (1ULL << (i & 63)))
			bpf_cpumask_set_cpu(i, m);
		else
			bpf_cpumask_clear_cpu(i, m);
	}
}

static bool cpu_active(s32 cpu)
{
	struct bpf_cpumask *m;

	if (!compacting())
		return true;
	m = scx_mask_of(&active_mask, 0);
	return !m || bpf_cpumask_test_cpu(cpu, cast_mask(m));
}

/* Whether @p may run on some active CPU (always, without compaction). */
static bool may_use_active(struct task_struct *p)
{
	struct bpf_cpumask *m;

	if (!compacting())
		return true;
	m = scx_mask_of(&active_mask, 0);
	return !m || bpf_cpumask_intersects(cast_mask(m), p->cpus_ptr);
}

/* @cpu joins the active set now; user space hears of it at its next tick. */
static void expand_to(s32 cpu)
{
	u32 w = ((u32)cpu / 64) & (MAX_CPU_WORDS - 1);
	u64 *word = bpf_map_lookup_elem(&expanded, &w);

	scx_mask_set_cpu(&active_mask, 0, cpu);
	if (word)
		__sync_fetch_and_or(word, 1ULL << (cpu & 63));
	stat_inc(STAT_EXPAND);
}

/*
 * What placement may use while compaction is on: the active CPUs (NULL when it is off, or the
 * mask is missing: every CPU). The filter of scx_pick_idle_in() and scx_pick_idle_near().
 */
static struct bpf_cpumask *active_filter(void)
{
	return compacting() ? scx_mask_of(&active_mask, 0) : NULL;
}

/* How many CPUs of @llc are active (all of them without compaction). */
static u32 llc_active_cpus(u32 llc)
{
	struct bpf_cpumask *tmp = scx_mask_of(&scx_topo_scratch, 0);
	struct bpf_cpumask *lm = scx_llc_mask(llc);
	struct bpf_cpumask *act = scx_mask_of(&active_mask, 0);

	if (!compacting() || !tmp || !lm || !act)
		return scx_llc_nr_cpus(llc);
	bpf_cpumask_and(tmp, cast_mask(lm), cast_mask(act));
	return bpf_cpumask_weight(cast_mask(tmp));
}

/* Own criticality from the three behaviour rates, as of @now. */
static u32 own_lc(struct task_ctx *tctx, u64 now)
{
	u64 wake = scx_decayed_freq(tctx->wake_freq, tctx->last_wake_at, now);
	u64 wait = scx_decayed_freq(tctx->wait_freq, tctx->last_wait_at, now);
	u64 shortness = LC_RUNTIME_REF / (tctx->burst.avg + 1);
	u32 lc;

	lc = scx_log2_u64(1 + scx_min(wake, 100000)) + scx_log2_u64(1 + scx_min(wait, 100000)) +
	     scx_log2_u64(1 + shortness);
	return lc < LC_MAX ? lc : LC_MAX;
}

/* The deadline of @p if its vtime were @vtime. */
static u64 deadline_at(struct task_struct *p, struct task_ctx *tctx, u64 vtime)
{
	u64 run = scx_min(tctx->burst.avg, slice_max_ns);
	u32 lc = tctx->lc < LC_MAX ? tctx->lc : LC_MAX;
	/*
	 * Weighted, so a heavier task's long bursts count for less, but capped: for a nice 19 task
	 * (weight 1) the uncapped term would be 100 slices, and such a task (khugepaged) would wait
	 * until every other task's vtime had moved that far.
	 */
	u64 rterm = scx_min(run * 100 / p->scx.weight, RTERM_MAX_SLICES * slice_max_ns);

	return vtime + LC_WINDOW_NS + rterm - lc * lc_unit_ns;
}

static u64 task_deadline(struct task_struct *p, struct task_ctx *tctx)
{
	return deadline_at(p, tctx, tctx->vtime);
}

/*
 * The slice for a task of @llc: the maximum when nobody waits there, else the target latency
 * shared among the CPUs' runnable tasks, between the floor and the target.
 */
static u64 slice_for(u32 llc, u64 queued)
{
	u64 nr_cpus, slice;

	if (!queued)
		return slice_max_ns;
	nr_cpus = scx_llc_nr_cpus(llc);
	slice = target_latency_ns * nr_cpus / (nr_cpus + queued);
	return scx_clamp(slice, slice_min_ns, target_latency_ns);
}

static u64 llc_slice(u32 llc)
{
	return slice_for(llc, llc < MAX_LLCS ? scx_bpf_dsq_nr_queued(llc) : 0);
}

/* The slice on @cpu: its own pinned queue counts too. */
static u64 cpu_slice(s32 cpu)
{
	u32 llc = scx_llc_of_cpu(cpu);
	u64 queued = llc < MAX_LLCS ? scx_bpf_dsq_nr_queued(llc) : 0;

	return slice_for(llc, queued + scx_bpf_dsq_nr_queued(pinned_dsq(cpu)));
}

/* @slice for @p: shorter for a task lighter than nice 0 (see scx/vtime.bpf.h). */
static u64 weighted_slice(struct task_struct *p, u64 slice)
{
	return scx_weighted_slice(slice, p->scx.weight, slice_min_ns);
}

/* @p's slice: its LLC's, plus what a preemption took from its previous run. */
static u64 task_slice(struct task_struct *p, struct task_ctx *tctx, u32 llc)
{
	u64 slice = weighted_slice(p, llc_slice(llc));

	if (!tctx)
		return slice;
	tctx->boosted = false;
	if (tctx->slice_boost) {
		/*
		 * At most one more slice of the current length: a task preempted during an
		 * uncontended 20 ms slice would otherwise come back, under contention, for up to
		 * 20 ms that the tick does not trim, and everything queued behind it waits for it.
		 */
		slice = scx_min(slice + scx_min(tctx->slice_boost, slice), slice_max_ns);
		tctx->slice_boost = 0;
		tctx->boosted = true;
		stat_inc(STAT_SLICE_BOOST);
	}
	return slice;
}

/* Move @tctx to @llc, keeping its vtime's distance from the LLC's front. */
static void set_llc(struct task_ctx *tctx, u32 llc)
{
	struct llc_ctx *from, *to;

	if (tctx->llc == llc || llc >= MAX_LLCS)
		return;
	from = llc_ctx(tctx->llc);
	to = llc_ctx(llc);
	if (from && to)
		tctx->vtime = tctx->vtime - from->vtime_now + to->vtime_now;
	tctx->llc = llc;
}

/* How far ahead of its LLC's front a task may be queued (scx/vtime.bpf.h). */
#define MAX_LEAD_SLICES 8

/*
 * Keep @tctx's vtime near its LLC's front: a waking task banks at most one maximum slice of
 * credit, and no task is more than MAX_LEAD_SLICES maximum slices ahead of the front or of
 * what it will compete with in @dsq (its head) and on @cpu (the running task; -1: any CPU).
 */
static void place_vtime(struct task_ctx *tctx, bool waking, u64 dsq, s32 cpu)
{
	struct llc_ctx *lctx = llc_ctx(tctx->llc);
	struct task_struct *head;
	struct cpu_run *r;
	u64 ref;

	if (!lctx)
		return;
	ref = lctx->vtime_now;
	if (bpf_ksym_exists(scx_bpf_dsq_peek) && (head = scx_bpf_dsq_peek(dsq)))
		ref = scx_vtime_earlier(ref, head->scx.dsq_vtime);
	if (cpu >= 0 && (r = cpu_run(cpu)) && r->run.started_at && r->run.deadline)
		ref = scx_vtime_earlier(ref, r->run.deadline);
	tctx->vtime = scx_vtime_place(tctx->vtime, lctx->vtime_now, slice_max_ns, ref,
				      MAX_LEAD_SLICES * slice_max_ns, waking);
}

/* @tctx is running with vtime @vtime: its LLC's front follows, a slice at most at a time. */
static void advance_front(struct task_ctx *tctx, u64 vtime)
{
	struct llc_ctx *lctx = llc_ctx(tctx->llc);

	if (lctx)
		lctx->vtime_now = scx_front_advance(lctx->vtime_now, vtime, slice_max_ns);
}

/*
 * The earlier-deadline head of @cpu's two queues (its pinned queue and its LLC's), or NULL when
 * both are empty. *@dsq is set to the queue it heads. Needs scx_bpf_dsq_peek (6.19).
 */
static struct task_struct *first_of(s32 cpu, u32 llc, u64 *dsq)
{
	struct task_struct *a = scx_bpf_dsq_peek(pinned_dsq(cpu));
	struct task_struct *b = scx_bpf_dsq_peek(llc);

	if (a && (!b || vtime_before(a->scx.dsq_vtime, b->scx.dsq_vtime))) {
		*dsq = pinned_dsq(cpu);
		return a;
	}
	*dsq = llc;
	return b;
}

/*
 * Whether @prev, whose slice ended but which is still runnable, should keep its CPU rather than
 * make way for the first task @cpu could take: the kernel asks for a dispatch before it queues
 * @prev again, and without this two tasks sharing a CPU would alternate whatever their weights.
 */
static bool prev_goes_on(struct task_struct *prev, s32 cpu, u32 llc, u64 now)
{
	struct task_struct *head;
	struct task_ctx *tctx;
	struct cpu_run *r;
	u64 vtime, deadline, dsq;

	if (!prev || !(prev->scx.flags & SCX_TASK_QUEUED) || !bpf_ksym_exists(scx_bpf_dsq_peek))
		return false;
	tctx = task_ctx(prev);
	if (!tctx)
		return false;
	vtime = tctx->vtime + (now - tctx->last_run_at) * 100 / prev->scx.weight;
	deadline = deadline_at(prev, tctx, vtime);
	head = first_of(cpu, llc, &dsq);
	if (head && !vtime_before(deadline, head->scx.dsq_vtime))
		return false;
	/*
	 * The front moves with a run that goes on, or tasks waking meanwhile would be placed
	 * behind where the LLC's time really is, and the runner far ahead of them; and the
	 * preemption test sees the runner's deadline as of now, not as of when it was queued,
	 * or wakers placed at the moved front would no longer look earlier than it.
	 */
	advance_front(tctx, vtime);
	r = cpu_run(cpu);
	if (r && r->run.deadline)
		r->run.deadline = deadline;
	return true;
}

static bool preemption_possible(void)
{
	return preempt_enabled && enq_preempt_flag;
}

/* A wake-up looking for a victim: scx/preempt.bpf.h's, and the wakee's latency criticality. */
struct lavd_wakeup {
	struct scx_wakeup w;
	u32 lc;
};

/* *@lw: the wake-up of @tctx (deadline already computed) at @now. */
static __always_inline void wakeup_of(struct lavd_wakeup *lw, const struct task_ctx *tctx, u64 now)
{
	scx_wakeup_init(&lw->w, tctx->deadline, tctx->burst.avg, now);
	lw->lc = tctx->lc;
}

/*
 * @cpu's record if the task running there may be preempted by wake-up @lw, else NULL: the
 * shared test (scx_run_worth: one of ours, not the waker, a deadline later by more than the
 * slice floor, past PREEMPT_GRACE_NS unless a timer or interrupt did the wake-up, bursts of at
 * least preempt_min_run_ns and four times the wakee's), and no more latency-critical.
 */
static struct cpu_run *worth_preempting(s32 cpu, const struct lavd_wakeup *lw)
{
	struct cpu_run *r = cpu_run(cpu);

	if (!r || r->lc > lw->lc ||
	    !scx_run_worth(&r->run, cpu, &lw->w, slice_min_ns, PREEMPT_GRACE_NS,
			   preempt_min_run_ns))
		return NULL;
	return r;
}

/* scx_pick_victim's test: not a CPU compaction keeps idle (it would no longer be idle). */
static struct scx_run *victim_test(s32 cpu, void *ctx)
{
	struct cpu_run *r;

	if (!cpu_active(cpu) || !(r = worth_preempting(cpu, ctx)))
		return NULL;
	return &r->run;
}

/*
 * The CPU to preempt for @p, or -1: scx_pick_victim among @prev_cpu and two random CPUs of
 * @llc. The winner is claimed, so that a second waker does not pick it before it has switched.
 */
static s32 pick_victim(struct task_struct *p, struct task_ctx *tctx, s32 prev_cpu, u32 llc, u64 now)
{
	struct lavd_wakeup lw;
	struct cpu_run *r;
	u64 deadline;
	s32 cpu;

	if (!preemption_possible())
		return -1;
	wakeup_of(&lw, tctx, now);
	cpu = scx_pick_victim(p, prev_cpu, llc, victim_test, &lw, &deadline);
	if (cpu < 0 || !(r = cpu_run(cpu)) || !scx_victim_claim(&r->run, deadline))
		return -1;
	return cpu;
}

static void preempt_cpu(struct task_struct *p, struct task_ctx *tctx, s32 cpu, u64 enq_flags)
{
	stat_inc(STAT_PREEMPT);
	scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, task_slice(p, tctx, scx_llc_of_cpu(cpu)),
		       enq_flags | enq_preempt_flag | SCX_ENQ_HEAD);
}

s32 BPF_STRUCT_OPS(lavd_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	struct task_ctx *tctx = task_ctx(p);
	u32 llc = scx_llc_of_cpu(prev_cpu), where;
	s32 cpu;

	if (tctx && tctx->llc < MAX_LLCS)
		llc = tctx->llc;
	cpu = scx_pick_idle_near(p, prev_cpu, llc, active_filter(), &where);
	if (cpu < 0)
		return prev_cpu;
	stat_inc(STAT_IDLE_PREV + where);
	if (tctx) {
		place_vtime(tctx, true, scx_llc_of_cpu(cpu), -1);
		tctx->deadline = task_deadline(p, tctx);
	}
	scx_dsq_insert(p, SCX_DSQ_LOCAL, task_slice(p, tctx, scx_llc_of_cpu(cpu)), 0);
	return cpu;
}

/*
 * A task that may only run on @cpu (every task, on a 1-CPU machine). It waits in @cpu's own
 * deadline queue, which @cpu serves together with its LLC's in deadline order, so nice holds
 * between tasks pinned to one CPU and a critical one can preempt there too. That needs no kick
 * (Debian 7.1 and 7.2 cannot call scx_bpf_kick_cpu, and elsewhere its self-interrupt cost each
 * such wake-up about 30 us of emulated time on a 1-vCPU guest): the task is being enqueued on
 * @cpu's own run queue, and the kernel reschedules that CPU if it is idle, so it dispatches from
 * the queue. A task whose CPU is idle, one not (yet) allowed on the CPU it is queued on (an
 * affinity change in flight), or one without context goes straight to that CPU's local queue.
 */
static void enqueue_pinned(struct task_struct *p, struct task_ctx *tctx, s32 cpu, u64 enq_flags,
			   u64 now)
{
	u32 llc = scx_llc_of_cpu(cpu);

	stat_inc(STAT_PINNED);
	/*
	 * A per-CPU kernel thread (kworker, ksoftirqd, the sched_ext watchdog's worker on a 1-CPU
	 * machine) does work the whole machine waits for: it runs as soon as its CPU is free,
	 * before anything queued by deadline. Its bursts are short, so this costs others little.
	 */
	if (!tctx || llc >= MAX_LLCS || (p->flags & PF_KTHREAD) ||
	    !bpf_cpumask_test_cpu(cpu, p->cpus_ptr)) {
		scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, task_slice(p, tctx, llc), enq_flags);
		return;
	}
	set_llc(tctx, llc);
	place_vtime(tctx, enq_flags & SCX_ENQ_WAKEUP, pinned_dsq(cpu), cpu);
	tctx->deadline = task_deadline(p, tctx);
	/* Its CPU is idle: run it there now, as select_cpu does for a task with a choice. */
	if (scx_bpf_test_and_clear_cpu_idle(cpu)) {
		stat_inc(STAT_IDLE_PREV);
		scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, task_slice(p, tctx, llc), enq_flags);
		return;
	}
	if ((enq_flags & SCX_ENQ_WAKEUP) && preemption_possible()) {
		struct lavd_wakeup lw;

		wakeup_of(&lw, tctx, now);
		if (worth_preempting(cpu, &lw)) {
			preempt_cpu(p, tctx, cpu, enq_flags);
			return;
		}
	}
	stat_inc(STAT_QUEUED);
	scx_dsq_insert_vtime(p, pinned_dsq(cpu), task_slice(p, tctx, llc), tctx->deadline,
			     enq_flags);
}

/*
 * An idle CPU of @llc that @p may use, lowest id first, or -1. Overflow then lands on the same
 * few CPUs (the next ones in user space's order when capacities are equal) instead of being
 * spread over every idle CPU as the kernel's idle picker does.
 */
static s32 pick_idle_ordered(struct task_struct *p, u32 llc)
{
	u32 i;

	if (llc >= MAX_LLCS)
		return -1;
	bpf_for(i, 0, scx_topo_llc_nr_cpus[llc])
	{
		s32 cpu = scx_llc_cpu(llc, i);

		if (cpu >= 0 && bpf_cpumask_test_cpu(cpu, p->cpus_ptr) &&
		    scx_bpf_test_and_clear_cpu_idle(cpu))
			return cpu;
	}
	return -1;
}

/* Whether enough work waits in @llc for compaction to use an inactive CPU (see expand_for). */
static bool llc_overloaded(u32 llc)
{
	struct lavd_ctl *c = get_ctl();
	u32 backlog = c && c->expand_backlog ? c->expand_backlog : 1;

	return scx_bpf_dsq_nr_queued(llc) >= (u64)backlog * llc_active_cpus(llc);
}

/*
 * Compaction's way out: the active CPUs of @llc are all busy and enough work already waits
 * (ctl's expand_backlog per active CPU), so take an idle inactive CPU (the LLC's, then the
 * node's) at once. Returns it, or -1.
 */
static s32 expand_for(struct task_struct *p, u32 llc)
{
	s32 cpu;

	if (!compacting() || !llc_overloaded(llc))
		return -1;
	cpu = pick_idle_ordered(p, llc);
	if (cpu < 0)
		cpu = scx_pick_idle_in(p, scx_llc_mask(llc), 0, NULL);
	if (cpu < 0)
		cpu = scx_pick_idle_in(p, scx_node_mask(scx_node_of_llc(llc)), 0, NULL);
	if (cpu >= 0)
		expand_to(cpu);
	return cpu;
}

void BPF_STRUCT_OPS(lavd_enqueue, struct task_struct *p, u64 enq_flags)
{
	s32 prev_cpu = scx_bpf_task_cpu(p), cpu;
	struct task_ctx *tctx = task_ctx(p);
	u64 now = scx_now();
	u32 llc;

	if (!tctx || p->nr_cpus_allowed == 1) {
		enqueue_pinned(p, tctx, prev_cpu, enq_flags, now);
		return;
	}
	/* A preempted RCU reader goes back to its CPU (scx_rcu_reader_preempted says why). */
	if (scx_rcu_reader_preempted(p, enq_flags)) {
		stat_inc(STAT_RCU_READER);
		scx_dsq_insert(p, SCX_DSQ_LOCAL, weighted_slice(p, slice_min_ns), enq_flags);
		return;
	}
	/*
	 * An LLC the task may no longer run in (its affinity changed): the LLC of the CPU the
	 * kernel moved it to. Queued there, no CPU of the LLC could take it, and the others steal
	 * only when idle: under load it would wait until the watchdog fired.
	 */
	if (tctx->llc >= MAX_LLCS || !scx_llc_allows(p, tctx->llc))
		set_llc(tctx, scx_llc_of_cpu(prev_cpu));
	llc = tctx->llc;
	if (llc >= MAX_LLCS) {
		enqueue_pinned(p, NULL, prev_cpu, enq_flags, now);
		return;
	}
	/*
	 * Allowed on no active CPU (affinity): it waits for its own CPU, like a pinned task, or
	 * nothing would ever take it from the LLC queue.
	 */
	if (!may_use_active(p)) {
		enqueue_pinned(p, tctx, prev_cpu, enq_flags, now);
		return;
	}
	place_vtime(tctx, enq_flags & SCX_ENQ_WAKEUP, llc, -1);
	tctx->deadline = task_deadline(p, tctx);

	/*
	 * A CPU may have gone idle since select_cpu looked (or select_cpu was not called).
	 * Inserting on a remote local queue wakes that CPU without a kick.
	 */
	cpu = scx_topo_nr_online_cpus > 1
		  ? scx_pick_idle_in(p, scx_llc_mask(llc), 0, active_filter())
		  : -1;
	if (cpu >= 0) {
		stat_inc(STAT_IDLE_LLC);
		scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, task_slice(p, tctx, llc), enq_flags);
		return;
	}
	if (enq_flags & SCX_ENQ_WAKEUP) {
		cpu = pick_victim(p, tctx, prev_cpu, llc, now);
		if (cpu >= 0) {
			preempt_cpu(p, tctx, cpu, enq_flags);
			return;
		}
	}
	cpu = expand_for(p, llc);
	if (cpu >= 0) {
		scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, task_slice(p, tctx, llc), enq_flags);
		return;
	}
	stat_inc(STAT_QUEUED);
	scx_dsq_insert_vtime(p, llc, task_slice(p, tctx, llc), tctx->deadline, enq_flags);
}

void BPF_STRUCT_OPS(lavd_dispatch, s32 cpu, struct task_struct *prev)
{
	u32 llc = scx_llc_of_cpu(cpu), node, i;
	u64 now = scx_now(), first;

	refresh_active();
	if (llc >= MAX_LLCS)
		return;
	if (prev_goes_on(prev, cpu, llc, now)) {
		struct task_ctx *tctx = task_ctx(prev);
		struct cpu_run *r = cpu_run(cpu);
		u64 slice = weighted_slice(prev, cpu_slice(cpu));

		scx_task_set_slice(prev, slice);
		if (tctx && r)
			r->slice = now - tctx->last_run_at + slice;
		return;
	}
	/*
	 * A CPU compaction keeps idle serves its pinned queue, and its LLC's queue only when the
	 * active CPUs are overloaded by the same test that wakes inactive CPUs; it never steals.
	 */
	if (!cpu_active(cpu)) {
		if (scx_dsq_move_to_local(pinned_dsq(cpu)))
			return;
		if (llc_overloaded(llc) && scx_dsq_move_to_local(llc)) {
			expand_to(cpu);
			stat_inc(STAT_DISPATCH_LOCAL);
		}
		return;
	}
	/* The earlier head of the CPU's pinned queue and its LLC's first; without peek, pinned. */
	first = pinned_dsq(cpu);
	if (bpf_ksym_exists(scx_bpf_dsq_peek))
		first_of(cpu, llc, &first);
	if (scx_dsq_move_to_local(first) ||
	    scx_dsq_move_to_local(first == llc ? pinned_dsq(cpu) : llc)) {
		stat_inc(STAT_DISPATCH_LOCAL);
		return;
	}
	if (scx_topo_nr_llcs <= 1)
		return;
	node = scx_node_of_llc(llc);
	bpf_for(i, 0, 2)
	{
		bool near = i == 0;
		u32 j;

		bpf_for(j, 1, scx_topo_nr_llcs)
		{
			u32 l = (llc + j) % scx_topo_nr_llcs;

			if ((scx_node_of_llc(l) == node) != near)
				continue;
			if (scx_dsq_move_to_local(l)) {
				stat_inc(STAT_STEAL);
				return;
			}
		}
	}
}

void BPF_STRUCT_OPS(lavd_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_struct *waker;
	struct task_ctx *tctx, *wctx;
	u64 now = scx_now();
	u32 own;

	if (!(enq_flags & SCX_ENQ_WAKEUP))
		return;
	tctx = task_ctx(p);
	if (!tctx)
		return;
	own = own_lc(tctx, now);
	tctx->lc = own;
	if (scx_in_interrupt())
		return;
	waker = bpf_get_current_task_btf();
	if (!waker->pid || waker == p)
		return;
	wctx = task_ctx(waker);
	if (!wctx)
		return;
	wctx->wake_freq = scx_ewma4(wctx->wake_freq, scx_freq_of_gap(now - wctx->last_wake_at));
	wctx->last_wake_at = now;
	/* Half of a more critical waker's lead carries over to its wakee, until the wakee sleeps.
	 */
	if (wctx->lc > own)
		tctx->lc = own + (wctx->lc - own) / 2;
}

/* A frequency hint for @tctx's run: full for critical tasks, scaled down for the others. */
static u32 task_perf(struct task_ctx *tctx, struct lavd_ctl *c)
{
	u32 perf;

	if (!c || c->perf_max || tctx->lc >= LC_PERF_FULL)
		return SCX_CPUPERF_ONE;
	perf = SCX_CPUPERF_ONE * (tctx->lc + 4) / (LC_PERF_FULL + 4);
	return perf < SCX_CPUPERF_ONE / 4 ? SCX_CPUPERF_ONE / 4 : perf;
}

void BPF_STRUCT_OPS(lavd_running, struct task_struct *p)
{
	struct task_ctx *tctx = task_ctx(p);
	/* p's CPU, not this one: while the scheduler attaches, running is called from elsewhere */
	s32 cpu = scx_bpf_task_cpu(p);
	struct cpu_run *r = cpu_run(cpu);
	u64 now = scx_now();

	if (!tctx)
		return;
	tctx->last_run_at = now;
	set_llc(tctx, scx_llc_of_cpu(cpu));
	advance_front(tctx, tctx->vtime);
	if (!r)
		return;
	r->lc = tctx->lc;
	r->slice = p->scx.slice;
	scx_run_start(&r->run, tctx->deadline, tctx->burst.avg, now);
	if (bpf_ksym_exists(scx_bpf_cpuperf_set)) {
		u32 perf = task_perf(tctx, get_ctl());

		if (perf != r->perf) {
			scx_bpf_cpuperf_set(cpu, perf);
			r->perf = perf;
		}
	}
}

void BPF_STRUCT_OPS(lavd_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx = task_ctx(p);
	struct cpu_run *r = cpu_run(scx_bpf_task_cpu(p));
	u64 now = scx_now(), ran, given = 0;

	if (r) {
		scx_run_stop(&r->run);
		given = r->slice;
	}
	if (!tctx)
		return;
	ran = now - tctx->last_run_at;
	tctx->vtime += ran * 100 / p->scx.weight;
	scx_burst_ran(&tctx->burst, ran, runnable);
	if (!runnable)
		return;
	/*
	 * Still runnable well before its slice was used up: a preemption cut this run short (the
	 * kernel zeroes the victim's slice, so the slice it started with tells what was left).
	 */
	if (slice_boost_enabled && given < SCX_SLICE_INF && ran + PREEMPT_GRACE_NS < given)
		tctx->slice_boost = scx_min(given - ran, slice_max_ns);
}

void BPF_STRUCT_OPS(lavd_quiescent, struct task_struct *p, u64 deq_flags)
{
	struct task_ctx *tctx;
	u64 now = scx_now();

	if (!(deq_flags & SCX_DEQ_SLEEP))
		return;
	tctx = task_ctx(p);
	if (!tctx)
		return;
	tctx->wait_freq = scx_ewma4(tctx->wait_freq, scx_freq_of_gap(now - tctx->last_wait_at));
	tctx->last_wait_at = now;
	scx_burst_blocked(&tctx->burst);
	tctx->slice_boost = 0;
}

void BPF_STRUCT_OPS(lavd_tick, struct task_struct *p)
{
	struct task_ctx *tctx = task_ctx(p);
	u64 slice;

	refresh_active();
	/* Waiters arrived since this run started: trim it to the contended slice. */
	if (tctx && tctx->boosted)
		return;
	slice = weighted_slice(p, cpu_slice(scx_bpf_task_cpu(p)));
	if (p->scx.slice > slice) {
		struct cpu_run *r = cpu_run(scx_bpf_task_cpu(p));

		scx_task_set_slice(p, slice);
		/* the run now ends at slice from here: keep the preemption test in step */
		if (r && tctx)
			r->slice = scx_now() - tctx->last_run_at + slice;
	}
}

void BPF_STRUCT_OPS(lavd_enable, struct task_struct *p)
{
	struct task_ctx *tctx = task_ctx(p);
	u32 llc = scx_llc_of_cpu(scx_bpf_task_cpu(p));
	struct llc_ctx *lctx;

	if (!tctx)
		return;
	tctx->llc = llc < MAX_LLCS ? llc : 0;
	lctx = llc_ctx(tctx->llc);
	tctx->vtime = lctx ? lctx->vtime_now : 0;
}

s32 BPF_STRUCT_OPS(lavd_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	if (!bpf_task_storage_get(&task_ctxs, p, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE))
		return -ENOMEM;
	return 0;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(lavd_init)
{
	u32 i;
	s32 ret;

	if ((ret = scx_topo_init()) || (ret = scx_masks_create(&active_mask, 1)))
		return ret;

	/* Until user space decides, every CPU of an LLC is active. */
	bpf_rcu_read_lock();
	bpf_for(i, 0, scx_topo_nr_cpu_ids)
	{
		if (scx_llc_of_cpu(i) < MAX_LLCS)
			scx_mask_set_cpu(&active_mask, 0, i);
	}
	bpf_rcu_read_unlock();

	bpf_for(i, 0, scx_topo_nr_llcs)
	{
		ret = scx_bpf_create_dsq(i, scx_node_of_llc(i));
		if (ret) {
			scx_bpf_error("creating the queue of LLC %u failed: %d", i, ret);
			return ret;
		}
	}
	bpf_for(i, 0, scx_topo_nr_cpu_ids)
	{
		ret = scx_bpf_create_dsq(pinned_dsq(i), scx_node_of_llc(scx_llc_of_cpu(i)));
		if (ret) {
			scx_bpf_error("creating the pinned queue of CPU %u failed: %d", i, ret);
			return ret;
		}
	}
	return 0;
}

void BPF_STRUCT_OPS(lavd_exit, struct scx_exit_info *ei)
{
	scx_uei_record(ei);
}

SCX_OPS_DEFINE(lavd_ops, .select_cpu = (void *)lavd_select_cpu, .enqueue = (void *)lavd_enqueue,
	       .dispatch = (void *)lavd_dispatch, .runnable = (void *)lavd_runnable,
	       .running = (void *)lavd_running, .stopping = (void *)lavd_stopping,
	       .quiescent = (void *)lavd_quiescent, .tick = (void *)lavd_tick,
	       .enable = (void *)lavd_enable, .init_task = (void *)lavd_init_task,
	       .init = (void *)lavd_init, .exit = (void *)lavd_exit, .name = "lavd");
