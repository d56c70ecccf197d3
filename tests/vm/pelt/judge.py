#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""judge.py OUT DUTY_MS: judge the raw BPF PELT states that run.sh's guest dumped.

OUT holds `GUEST: dump <json>` lines, each the output of one `bpftool -j map dump name
tracked_pelt` taken while duty50 (DUTY_MS on / DUTY_MS off) and spin100 (always running) ran:
scx_rusty's BPF side publishes a tracked task's `struct scx_pelt_task` there after each update
(runnable, running, stopping, quiescent, tick). No number here comes from scx_rusty's user space
or the scx_pelt crate: this file re-implements the kernel's definition from
shared/docs/pelt.md (decay_load, accumulate_segments, accumulate_sum, update_load_avg) to bring
a raw state forward, so it is a second, independent implementation.

Sampling. A dump shows each task's state as of its last update. The time of the dump is taken
as the latest publication in it (spin100 publishes at every tick, so at most a tick stale), and
duty50's raw state is brought forward to that time: sleeping if it was published sleeping,
running if running (it cannot have changed in between, or a newer publication would show).
That is util_avg as the BPF code would report it at that moment, at a phase of the duty cycle
that the dump loop does not choose: the samples are spread over the sawtooth.

Expected average. util_avg is a linear filter of the running indicator with DC gain of an
always-running task (1023..1024, pelt.md), so its average over whole cycles is the running share
times that: 511..512 for a 50 % duty cycle, whatever the period (pelt.md's steady-state bands
are centred there: 506-517 for 1/1 ms, 348-675 for 32/32 ms). This script derives the figure
(and the spread over one cycle, sigma) by running the same arithmetic on an ideal DUTY_MS /
DUTY_MS task, updated every 1 ms, for at least 40 cycles and 2 s, averaging the last 8 cycles.

Band. The mean of n samples taken at spread-out phases is within 4 sigma / sqrt(n) of the
cycle average (4 standard errors), plus 2 % for the emulator, whose vCPU turns stretch single
runs (dutycycle pays them back, so its busy share stays 50 %, but a stretched run moves the
samples near it). With the ~100 samples of a 15 s window that is about +-50 around 512. An
implementation that does not decay while the task sleeps (mean towards 1024), counts sleep as
running (1024), leaves out the << 10 of util_sum (0..1), or double-decays (mean well under
400) is far outside. The filter's half-life does not move the average, it moves the spread:
the samples' standard deviation must lie within 0.6..1.6 sigma of the ideal 32-period
half-life (sigma = 100 for 32/32 ms; a half-life of 16 periods makes the sawtooth 1.8 times
as tall, 205..819, one of 64 periods half as tall, 424..600), and spin100's raw
util_avg must reach 1023..1024 and never exceed 1024.

What the band cannot see: a divider off by 2 % (LOAD_AVG_MAX instead of 46718 +
period_contrib) moves the mean by 11, inside it; meson's pelt-bpf test compares the BPF code
with the Rust code bit for bit on the host, and the Rust code is checked against pelt.md's
worked examples.

Prints one PASS/FAIL line; exit 0 on PASS, 1 on FAIL.

`judge.py --selftest` runs the judge on dumps simulated from this file's implementation and
from three deliberately wrong ones (every period decayed twice, no decay while asleep,
util_sum without the << 10), sampled like the guest does; the right one must pass and each wrong one
fail (meson test pelt-judge).
"""
import json
import math
import random
import statistics
import sys

INV = [
    0xFFFFFFFF, 0xFA83B2DA, 0xF5257D14, 0xEFE4B99A, 0xEAC0C6E6, 0xE5B906E6, 0xE0CCDEEB, 0xDBFBB796,
    0xD744FCC9, 0xD2A81D91, 0xCE248C14, 0xC9B9BD85, 0xC5672A10, 0xC12C4CC9, 0xBD08A39E, 0xB8FBAF46,
    0xB504F333, 0xB123F581, 0xAD583EE9, 0xA9A15AB4, 0xA5FED6A9, 0xA2704302, 0x9EF5325F, 0x9B8D39B9,
    0x9837F050, 0x94F4EFA8, 0x91C3D373, 0x8EA4398A, 0x8B95C1E3, 0x88980E80, 0x85AAC367, 0x82CD8698,
]
LOAD_AVG_MAX = 47742
PELT_MIN_DIVIDER = LOAD_AVG_MAX - 1024
PERIOD_NS = 1 << 20


def decay_load(val, n):
    if n > 32 * 63:
        return 0
    if n >= 32:
        val >>= n // 32
        n %= 32
    return (val * INV[n]) >> 32


def accumulate_segments(periods, d1, d3):
    c1 = decay_load(d1, periods)
    c2 = LOAD_AVG_MAX - decay_load(LOAD_AVG_MAX, periods) - 1024
    return (c1 + c2 + d3) & 0xFFFFFFFF


class Util:
    """The util part of a task's sched_avg (load = runnable = on_rq, running = is current)."""

    def __init__(self, last_update_time=0, util_sum=0, period_contrib=0, util_avg=0):
        self.lut, self.sum, self.pc, self.avg = last_update_time, util_sum, period_contrib, util_avg

    def update(self, now, on_rq, running):
        delta = now - self.lut
        if delta < 0:
            self.lut = now
            return
        delta >>= 10
        if not delta:
            return
        self.lut += delta << 10
        if not on_rq:
            running = False
        contrib = delta
        delta += self.pc
        periods = delta // 1024
        if periods:
            self.sum = decay_load(self.sum, periods)
            delta %= 1024
            if on_rq:
                contrib = accumulate_segments(periods, 1024 - self.pc, delta)
        self.pc = delta
        if running:
            self.sum = (self.sum + (contrib << 10)) & 0xFFFFFFFF
        if periods:
            self.avg = self.sum // (PELT_MIN_DIVIDER + self.pc)


def ideal(duty_ms):
    """(mean, sigma) of util_avg over a cycle of an ideal duty_ms/duty_ms task in steady state."""
    u = Util()
    t, vals = 0, []
    cycles = max(40, 2000 // (2 * duty_ms))  # steady state: > 1000 periods
    for c in range(cycles):
        for phase in range(2 * duty_ms):
            running = phase < duty_ms
            t += PERIOD_NS
            u.update(t, running, running)
            if c >= cycles - 8:
                vals.append(u.avg)
    return statistics.fmean(vals), statistics.pstdev(vals)


def entries(dump):
    """{comm: value} of one bpftool -j map dump (with BTF: key/value formatted)."""
    out = {}
    for e in dump:
        v = e.get("formatted", e).get("value", e.get("value"))
        if not isinstance(v, dict):
            raise SystemExit(f"judge.py: bpftool printed no BTF-formatted value: {e}")
        comm = v["comm"] if isinstance(v["comm"], str) else bytes(v["comm"]).split(b"\0")[0].decode()
        out[comm] = v
    return out


def task(v):
    w = [int(x) for x in v["pelt"]]
    return {
        "lut": w[0],
        "util_sum": w[3] & 0xFFFFFFFF,
        "pc": w[3] >> 32,
        "util_avg": w[6],
        "on_rq": (w[9] >> 32) & 0xFF,
        "running": (w[9] >> 40) & 0xFF,
    }


def judge(dumps, duty_ms):
    """(passed, summary) for the list of parsed dumps."""
    exp_mean, sigma = ideal(duty_ms)
    samples, spin_raw, seen, raw_duty = [], [], set(), 0
    for d in dumps:
        e = entries(d)
        if "duty50" not in e or "spin100" not in e:
            continue
        now = max(int(v["sched_clock"]) for v in e.values())
        if now in seen:
            continue
        seen.add(now)
        t = task(e["duty50"])
        if t["util_avg"] > 1024:
            raw_duty += 1
        u = Util(t["lut"], t["util_sum"], t["pc"], t["util_avg"])
        u.update(now, t["on_rq"], t["running"])
        samples.append(u.avg)
        spin_raw.append(task(e["spin100"])["util_avg"])
    n = len(samples)
    why = []
    summary = f"dumps={len(dumps)} samples={n} ideal_mean={exp_mean:.1f} ideal_sigma={sigma:.1f}"
    if n < 30:
        why.append("too_few_samples")
        mean = sd = float("nan")
        lo = hi = 0
    else:
        mean, sd = statistics.fmean(samples), statistics.pstdev(samples)
        half = 4 * sigma / math.sqrt(n) + 0.02 * exp_mean
        lo, hi = exp_mean - half, exp_mean + half
        if not lo <= mean <= hi:
            why.append("duty50_mean_out_of_band")
        if not 0.6 * sigma <= sd <= 1.6 * sigma:
            why.append("duty50_spread_wrong")
        if raw_duty:
            why.append("duty50_raw_over_1024")
    smax = max(spin_raw) if spin_raw else -1
    if not spin_raw or smax < 1023 or smax > 1024:
        why.append("spin100_not_saturated")
    q = sorted(samples)
    pct = (lambda p: q[min(n - 1, int(p * n))]) if n else (lambda p: "-")
    summary += (
        f" duty={duty_ms}/{duty_ms}ms duty50_mean={mean:.1f} band={lo:.0f}..{hi:.0f}"
        f" duty50_sd={sd:.1f} sd_band={0.6 * sigma:.0f}..{1.6 * sigma:.0f}"
        f" duty50_p10={pct(0.1)} duty50_p90={pct(0.9)} spin100_raw_max={smax} want=1023..1024"
    )
    if why:
        return False, f"{summary} why={','.join(why)}"
    return True, summary


class DoubleDecay(Util):
    """Wrong: every elapsed period is decayed twice (say, once in the update and once more by a
    caller)."""

    def update(self, now, on_rq, running):
        lut = self.lut
        super().update(now, on_rq, running)
        periods = (now - lut) >> 20
        if periods:
            self.sum = decay_load(self.sum, periods)
            self.avg = self.sum // (PELT_MIN_DIVIDER + self.pc)


class NoSleepDecay(Util):
    """Wrong: a sleeping task keeps its sums (only time advances)."""

    def update(self, now, on_rq, running):
        if on_rq:
            super().update(now, on_rq, running)
        else:
            self.lut = now


class NoShift(Util):
    """Wrong: util_sum accumulates running time without the << 10."""

    def update(self, now, on_rq, running):
        before = self.sum
        super().update(now, on_rq, running)
        if running and on_rq and self.sum > before:
            self.sum = before + ((self.sum - before) >> 10)
            self.avg = self.sum // (PELT_MIN_DIVIDER + self.pc)


def simulate(model, duty_ms, secs=18, warm_ms=3000, seed=1):
    """Dumps as the guest takes them, of a duty_ms/duty_ms task whose BPF state follows `model`:
    published when it starts and stops running and at every 4 ms tick while running; spin100
    published at every tick; a dump every 150 +- 50 ms after warm_ms."""
    rng = random.Random(seed)
    u, running, pub = model(), False, None
    dumps, next_dump = [], warm_ms + rng.uniform(0, 150)

    def words(st, on_rq, run):
        return [st.lut, 0, 0, st.sum | (st.pc << 32), 0, 0, st.avg, 0, 1024, (on_rq << 32) | (run << 40)]

    for ms in range(secs * 1000):
        now = ms * PERIOD_NS
        want = ms % (2 * duty_ms) < duty_ms
        if want != running or (running and ms % 4 == 0):
            u.update(now, running, running)
            running = want
            pub = {"pelt": words(u, int(running), int(running)), "sched_clock": now, "comm": "duty50"}
        if ms >= next_dump:
            tick = ms - ms % 4
            spin = {"pelt": words(Util(tick * PERIOD_NS, 0, 0, 1024), 1, 1),
                    "sched_clock": tick * PERIOD_NS, "comm": "spin100"}
            dumps.append([{"key": 1, "value": pub}, {"key": 2, "value": spin}])
            next_dump += 150 + rng.uniform(-50, 50)
    return dumps


def selftest():
    ok = True
    for model, want in ((Util, True), (DoubleDecay, False), (NoSleepDecay, False), (NoShift, False)):
        passed, summary = judge(simulate(model, 32), 32)
        good = passed == want
        ok &= good
        print(f"{'ok' if good else 'WRONG'}: {model.__name__} {'passes' if passed else 'fails'}: {summary}")
    return 0 if ok else 1


def main():
    if sys.argv[1:] == ["--selftest"]:
        return selftest()
    out, duty_ms = sys.argv[1], int(sys.argv[2])
    dumps = []
    for line in open(out, errors="replace"):
        if line.startswith("GUEST: dump "):
            try:
                dumps.append(json.loads(line[len("GUEST: dump "):]))
            except json.JSONDecodeError:
                pass
    passed, summary = judge(dumps, duty_ms)
    print(f"{'PASS' if passed else 'FAIL'} pelt {summary}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
