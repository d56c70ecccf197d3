#!/usr/bin/env python3
"""Turn bench/guest.sh's output (one raw log per vCPU count, from bench/run.sh) into
results.json and a markdown table of ratios to EEVDF.

Per scheduler and metric: the median of the valid rounds. A round listed in a BENCH-INVALID
line is dropped entirely for that scheduler (it measured something else) and counted. Ratios
are the scheduler's median over EEVDF's median from the same boot. Each ratio also gets a 95 %
interval (results.json's "ratio_ci", and the layers table): a percentile bootstrap over the
rounds both measured, resampling whole rounds so each scheduler keeps the EEVDF value of the
same round (they ran minutes apart under the same host load). It says how far another run of
the same builds could land in the same boot, so a target can be called met or missed only when
the whole interval is on one side of it.

Boots of the same setup (bench/run.sh --boots N, or raw logs of several runs given together)
are also pooled: per scheduler and metric, the geometric mean of the boots' ratios, with a
two-level bootstrap interval (resample the boots, then the rounds within each). Boots differ by
more than one boot's rounds show, and only the pooled interval carries that. "hogs/idle" is a
scheduler's own median wake-up latency under hogs over its median with no hogs (1.0: load does
not delay a waking task at all); it is reported as is, not as a ratio to EEVDF.

Exit status 1 when a round was dropped or a boot failed, so that nobody quotes a partial table
by accident (the files are written anyway).
"""
import argparse
import datetime
import json
import math
import random
import statistics
import sys

# metric -> (column title, better direction)
METRICS = {
    "lat_idle_avg_us": ("wake-up avg, idle", "lower"),
    "lat_idle_p99_us": ("wake-up p99, idle", "lower"),
    "lat_hog_avg_us": ("wake-up avg, hogs", "lower"),
    "lat_hog_p99_us": ("wake-up p99, hogs", "lower"),
    "hackbench_s": ("hackbench time", "lower"),
    "stress_cpu_ops_s": ("stress-ng cpu ops/s", "higher"),
    "stress_pipe_ops_s": ("stress-ng pipe ops/s", "higher"),
    "frames_late_pct": ("late frames", "lower"),
    "frames_p99_late_us": ("frame p99 lateness", "lower"),
    "lat_layers_avg_us": ("cyclictest avg, layers load", "lower"),
    "lat_layers_p99_us": ("cyclictest p99, layers load", "lower"),
    # From the wake-up (sched_waking) to the switch onto the thread (the scheduler's share),
    # and on to its return to user space: without the timer interrupt's lateness that
    # cyclictest's figure holds (bench/guest-lib.sh).
    "lat_layers_run_avg_us": ("wake-up to run avg, layers load", "lower"),
    "lat_layers_run_p99_us": ("wake-up to run p99, layers load", "lower"),
    "lat_layers_user_avg_us": ("wake-up to user avg, layers load", "lower"),
    "lat_layers_user_p99_us": ("wake-up to user p99, layers load", "lower"),
    # A diagnostic, not a figure of merit: shown as is, never as a ratio.
    "lat_layers_cpu0_idle_pct": ("CPU 0 idle %, layers load", "none"),
}
NO_RATIO = {"hog_idle", "lat_layers_cpu0_idle_pct"}
HIST_MAX_US = 100000  # bench/guest.sh's cyclictest histogram size
BOOT_RESAMPLES = 4000
BOOT_MIN_ROUNDS = 3  # fewer paired rounds give no interval at all


def paired_rounds(mine, base):
    """The rounds both {round: value} maps have, in order; None when fewer than
    BOOT_MIN_ROUNDS (too few for an interval)."""
    rounds = sorted(set(mine) & set(base))
    return rounds if len(rounds) >= BOOT_MIN_ROUNDS else None


def middle_95(samples):
    """The 2.5th and 97.5th percentiles of the bootstrap's BOOT_RESAMPLES-long samples."""
    samples.sort()
    n = len(samples)
    return samples[int(0.025 * n)], samples[int(0.975 * n) - 1]


def ratio_ci(mine, base, resamples=BOOT_RESAMPLES, seed=1):
    """95 % percentile-bootstrap interval of median(mine) / median(base) over the rounds both
    have ({round: value} each), resampling rounds as pairs. None when fewer than
    BOOT_MIN_ROUNDS rounds pair up or a resampled base median is 0 (no ratio exists)."""
    rounds = paired_rounds(mine, base)
    if not rounds:
        return None
    rng = random.Random(seed)  # the same files give the same table
    ratios = []
    for _ in range(resamples):
        pick = [rng.choice(rounds) for _ in rounds]
        b = statistics.median(base[r] for r in pick)
        if b == 0:
            return None
        ratios.append(statistics.median(mine[r] for r in pick) / b)
    return middle_95(ratios)


def pooled_ratio(boots, resamples=BOOT_RESAMPLES, seed=1):
    """Boots of one setup, each a (mine, base) pair of {round: value}: the geometric mean of
    the boots' ratios of medians and its 95 % interval, resampling boots and then each chosen
    boot's paired rounds. None when a boot has fewer than BOOT_MIN_ROUNDS paired rounds or a
    zero median."""
    paired = []
    for mine, base in boots:
        rounds = paired_rounds(mine, base)
        if not rounds:
            return None
        paired.append([(mine[r], base[r]) for r in rounds])

    def ratio(pairs):
        b = statistics.median(p[1] for p in pairs)
        m = statistics.median(p[0] for p in pairs)
        return m / b if b and m else None

    def geomean(rs):
        return math.exp(sum(math.log(r) for r in rs) / len(rs))

    point = [ratio(p) for p in paired]
    if None in point:
        return None
    rng = random.Random(seed)
    ratios = []
    for _ in range(resamples):
        rs = []
        for _ in paired:
            boot = rng.choice(paired)
            rs.append(ratio([rng.choice(boot) for _ in boot]))
        if None in rs:
            return None
        ratios.append(geomean(rs))
    return geomean(point), middle_95(ratios)


def parse_kv(words):
    out = {}
    for w in words:
        if "=" in w:
            k, v = w.split("=", 1)
            out[k] = v.strip("'")
    return out


def parse_raw(path):
    run = {"raw": path, "meta": {}, "host": {}, "order": [], "values": {}, "invalid": [],
           "notes": [], "complete": False}
    with open(path, errors="replace") as f:
        lines = f.readlines()
    for line in lines:
        p = line.split()
        if not p:
            continue
        tag = p[0]
        if tag == "BENCH-HOST":
            run["host"].update(parse_kv(p[1:]))
        elif tag == "BENCH-META":
            # hackbench='-g 4 ...' holds spaces: keep the quoted value whole.
            rest = line.split(None, 1)[1].strip()
            if "hackbench='" in rest:
                pre, q = rest.split("hackbench='", 1)
                hb, post = q.split("'", 1)
                run["meta"]["hackbench"] = hb
                rest = pre + post
            run["meta"].update(parse_kv(rest.split()))
        elif tag == "BENCH" and len(p) == 5:
            label, rnd, metric, value = p[1], int(p[2]), p[3], p[4]
            if label not in run["order"]:
                run["order"].append(label)
            try:
                run["values"].setdefault(label, {}).setdefault(metric, {})[rnd] = float(value)
            except ValueError:
                pass
        elif tag == "BENCH-INVALID" and len(p) >= 3:
            run["invalid"].append({"label": p[1], "round": int(p[2]), "why": " ".join(p[3:])})
            if p[1] not in run["order"]:
                run["order"].append(p[1])
        elif tag == "BENCH-NOTE":
            run["notes"].append(line.split(None, 1)[1].rstrip() if len(p) > 1 else "")
        elif tag == "BENCH-END":
            run["complete"] = True
    return run


def summarise(run):
    dropped = {(i["label"], i["round"]) for i in run["invalid"]}
    scheds = []
    for label in run["order"]:
        rounds = {}
        by_round = {}
        valid = set()
        for metric, per_round in run["values"].get(label, {}).items():
            kept = {r: v for r, v in per_round.items() if (label, r) not in dropped}
            rounds[metric] = [kept[r] for r in sorted(kept)]
            by_round[metric] = kept
            valid |= set(kept)
        med = {m: statistics.median(v) for m, v in rounds.items() if v}
        if med.get("lat_idle_avg_us") and "lat_hog_avg_us" in med:
            med["hog_idle"] = med["lat_hog_avg_us"] / med["lat_idle_avg_us"]
        scheds.append({
            "label": label,
            "valid_rounds": len(valid),
            "dropped_rounds": sorted(r for (l, r) in dropped if l == label),
            "rounds": rounds,
            "median": med,
            "_by_round": by_round,
        })
    base = next((s for s in scheds if s["label"] == "eevdf"), None)
    for s in scheds:
        s["ratio"] = {}
        s["ratio_ci"] = {}
        for m, v in s["median"].items():
            if m in NO_RATIO or not base or m not in base["median"]:
                continue
            b = base["median"][m]
            s["ratio"][m] = v / b if b else (1.0 if v == 0 else None)
            if s is not base and s["ratio"][m] is not None and b:
                ci = ratio_ci(s["_by_round"][m], base["_by_round"][m])
                if ci:
                    s["ratio_ci"][m] = list(ci)
    return scheds


def cell(s, base, m):
    if m not in s["median"]:
        return "n/a"
    ge = "≥" if m.endswith("_p99_us") and s["median"][m] >= HIST_MAX_US else ""
    r = s["ratio"].get(m)
    if r is None:
        if base and base["median"].get(m) == 0:
            return "EEVDF 0"
        return "n/a"
    if base and base["median"].get(m) == 0:
        return "1.00 (both 0)"
    return f"{ge}{r:.2f}"


def cell_ci(s, base, m):
    """cell() with the 95 % interval after it, when there is one."""
    ci = s.get("ratio_ci", {}).get(m)
    return cell(s, base, m) + (f" ({ci[0]:.2f}–{ci[1]:.2f})" if ci else "")


def stress_cell(s, base):
    c, p = (cell(s, base, m) for m in ("stress_cpu_ops_s", "stress_pipe_ops_s"))
    rc, rp = s["ratio"].get("stress_cpu_ops_s"), s["ratio"].get("stress_pipe_ops_s")
    if rc and rp:
        return f"{(rc * rp) ** 0.5:.2f} ({c} · {p})"
    return f"n/a ({c} · {p})"


def sched_name(s):
    return "EEVDF" if s["label"] == "eevdf" else f"`{s.get('name', s['label'])}`"


def rounds_cell(s):
    return f"{s['valid_rounds']}/{s['valid_rounds'] + len(s['dropped_rounds'])}"


def run_footer(run):
    """The lines under a boot's table: dropped rounds, an incomplete boot, a blank line."""
    lines = [f"\nDropped: {i['label']} round {i['round']}: {i['why']}" for i in run["invalid"]]
    if not run["complete"]:
        lines.append(f"\n**Incomplete boot** (exit {run['host'].get('exit', '?')}): see {run['raw']}")
    return lines + [""]


# The layers table's columns: METRICS' titles without the workload, which the table names.
LAYERS_COLUMNS = tuple((m, METRICS[m][0].removesuffix(", layers load")) for m in (
    "lat_layers_avg_us", "lat_layers_p99_us", "lat_layers_run_avg_us", "lat_layers_run_p99_us",
    "lat_layers_user_avg_us", "lat_layers_user_p99_us"))


def layers_table(run, base):
    """The layers workload (scx_layered's issue): cyclictest's latency and the wake-up latency
    proper, as ratios with intervals, then each round's values."""
    lines = ["| scheduler | " + " | ".join(t for _, t in LAYERS_COLUMNS) + " | rounds |",
             "|---" * (len(LAYERS_COLUMNS) + 2) + "|"]
    for s in run["schedulers"]:
        lines.append("| " + " | ".join([sched_name(s)] + [cell_ci(s, base, m) for m, _ in LAYERS_COLUMNS]
                                       + [rounds_cell(s)]) + " |")
    lines += run_footer(run)
    lines += ["| scheduler | per round | values |", "|---|---|---|"]
    for s in run["schedulers"]:
        for m, title in LAYERS_COLUMNS + (("lat_layers_cpu0_idle_pct", "CPU 0 idle %"),):
            if s["rounds"].get(m):
                unit = "" if m.endswith("_pct") else " (µs)"
                lines.append(f"| {sched_name(s)} | {title}{unit} | "
                             + " ".join(f"{v:.0f}" for v in s["rounds"][m]) + " |")
    lines.append("")
    lines.append("Layers load: cyclictest (as `latcyclic`, 5 ms periods) beside 4 hogs in cgroup "
                 "`/batch` and 2 in the root cgroup. cyclictest: from the timer's expiry to the "
                 "thread's run. Wake-up to run: from the thread's wake-up (sched_waking) to the "
                 "switch onto it, the scheduler's share; to user: on to its return from "
                 "clock_nanosleep. Both leave out the timer interrupt's lateness (tracefs; "
                 "bench/README.md, \"Timer lateness is the emulator's\"). Ratios to EEVDF's "
                 "median in the same boot, in brackets a 95 % bootstrap interval over the rounds "
                 "(report.py). CPU 0 idle: how long the measuring thread's CPU sat idle, a "
                 "diagnostic.")
    lines.append("")
    return lines


def setup_key(run):
    """What must match for two boots to be pooled: the machine, the guest clock, the kernel and
    the workload."""
    h, m = run["host"], run["meta"]
    return (run["vcpus"], run["topology"], h.get("clock", "host"), h.get("idle", "halt"),
            m.get("kernel"), m.get("workload", "standard"))


def pool(runs):
    """Pool the boots of each setup that has more than one; schedulers by label, metrics with a
    ratio in every boot."""
    groups = {}
    for run in runs:
        groups.setdefault(setup_key(run), []).append(run)
    pooled = []
    for key, boots in groups.items():
        if len(boots) < 2:
            continue
        entry = {"vcpus": key[0], "topology": key[1], "clock": key[2], "idle": key[3],
                 "kernel": key[4], "workload": key[5], "raws": [b["raw"] for b in boots],
                 "schedulers": []}
        labels = [s["label"] for s in boots[0]["schedulers"] if s["label"] != "eevdf"]
        for label in labels:
            per_boot = []
            for b in boots:
                mine = next((s for s in b["schedulers"] if s["label"] == label), None)
                base = next((s for s in b["schedulers"] if s["label"] == "eevdf"), None)
                if not mine or not base:
                    break
                per_boot.append((mine, base))
            if len(per_boot) < len(boots):
                continue
            sched = {"label": label, "name": per_boot[0][0].get("name", label), "ratio": {},
                     "ratio_ci": {}}
            for m in METRICS:
                if m in NO_RATIO or not all(m in x["_by_round"] and m in y["_by_round"]
                                            for x, y in per_boot):
                    continue
                r = pooled_ratio([(x["_by_round"][m], y["_by_round"][m]) for x, y in per_boot])
                if r:
                    sched["ratio"][m], sched["ratio_ci"][m] = r[0], list(r[1])
            entry["schedulers"].append(sched)
        pooled.append(entry)
    return pooled


def pooled_markdown(pooled):
    lines = []
    for p in pooled:
        metrics = [m for m in METRICS if any(m in s["ratio"] for s in p["schedulers"])]
        clock = "" if p["clock"] == "host" else f"guest clock {p['clock']}, "
        idle = "" if p["idle"] == "halt" else f"idle={p['idle']}, "
        lines.append(f"**{p['vcpus']} vCPU, pooled over {len(p['raws'])} boots** (`{p['topology']}`, "
                     f"kernel {p['kernel'] or '?'}, {clock}{idle}workload {p['workload']})")
        lines.append("")
        if not metrics:
            lines.append(f"No pooled ratios: each boot needs {BOOT_MIN_ROUNDS} rounds or more.")
            lines.append("")
            continue
        lines.append("| scheduler | " + " | ".join(METRICS[m][0] for m in metrics) + " |")
        lines.append("|---" * (len(metrics) + 1) + "|")
        for sc in p["schedulers"]:
            row = [sched_name(sc)]
            for m in metrics:
                r, ci = sc["ratio"].get(m), sc["ratio_ci"].get(m)
                row.append(f"{r:.2f} ({ci[0]:.2f}–{ci[1]:.2f})" if r is not None else "n/a")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        lines.append("Geometric mean of the boots' ratios to EEVDF, each boot's EEVDF its own; in "
                     "brackets a 95 % interval from resampling the boots and then their rounds "
                     "(report.py).")
        lines.append("")
    return lines


def markdown(res):
    lines = []
    for run in res["runs"]:
        meta = run["meta"]
        host = run["host"]
        clock = "" if host.get("clock", "host") == "host" else f"guest clock {host['clock']}, "
        idle = "" if host.get("idle", "halt") == "halt" else f"idle={host['idle']}, "
        lines.append(f"**{run['vcpus']} vCPU** (`{run['topology']}`, kernel {meta.get('kernel', '?')}, {clock}{idle}"
                     f"{res['rounds']} rounds of {res['secs']} s, host load "
                     f"{run['host'].get('loadavg_start', '?')}→{run['host'].get('loadavg_end', '?')})")
        lines.append("")
        base = next((s for s in run["schedulers"] if s["label"] == "eevdf"), None)
        if meta.get("workload") == "layers":
            lines += layers_table(run, base)
            continue
        lines.append("| scheduler | wake-up avg idle | p99 idle | avg under hogs | p99 under hogs "
                     "| hogs/idle avg | hackbench time | stress-ng ops/s (cpu · pipe) | late frames "
                     "| frame p99 lateness | rounds |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for s in run["schedulers"]:
            name = sched_name(s)
            hi = s["median"].get("hog_idle")
            row = [name] + [cell(s, base, m) for m in
                            ("lat_idle_avg_us", "lat_idle_p99_us", "lat_hog_avg_us", "lat_hog_p99_us")]
            row.append(f"{hi:.2f}" if hi is not None else "n/a")
            row.append(cell(s, base, "hackbench_s"))
            row.append(stress_cell(s, base))
            row.append(cell(s, base, "frames_late_pct"))
            row.append(cell(s, base, "frames_p99_late_us"))
            row.append(rounds_cell(s))
            lines.append("| " + " | ".join(row) + " |")
        lines += run_footer(run)
    lines += pooled_markdown(res.get("pooled", []))
    if all(run["meta"].get("workload") == "layers" for run in res["runs"]):
        return "\n".join(lines) + "\n"
    lines.append("Ratios to EEVDF's median in the same boot; lower is better except stress-ng "
                 "(geometric mean of the cpu and pipe ratios, each in brackets). hogs/idle: the "
                 "scheduler's own wake-up average under 2 hogs per vCPU over its idle average "
                 "(not a ratio to EEVDF). \"EEVDF 0\": EEVDF had no late frame, so no ratio.")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("raw", nargs="+")
    ap.add_argument("--json", required=True)
    ap.add_argument("--md", required=True)
    ap.add_argument("--git", default="unknown")
    ap.add_argument("--command", default="")
    ap.add_argument("--elapsed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--secs", type=int, default=0)
    ap.add_argument("--kernel-spec", default="default")
    ap.add_argument("--specs", help="run.sh's spec file: LABEL<tab>OPS<tab>GUEST COMMAND")
    a = ap.parse_args()

    res = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git": a.git, "command": a.command, "kernel_spec": a.kernel_spec, "rounds": a.rounds, "secs": a.secs,
        "wall_s": a.elapsed, "metrics": {m: {"title": t, "better": b} for m, (t, b) in METRICS.items()},
        "runs": [],
    }
    specs = {}
    if a.specs:
        for line in open(a.specs):
            label, ops, cmd = line.rstrip("\n").split("\t", 2)
            exe, _, args = cmd.partition(" ")
            specs[label] = {"name": (exe.rsplit("/", 1)[-1] + " " + args).strip(), "ops": ops,
                            "command": cmd}
    bad = False
    for path in a.raw:
        run = parse_raw(path)
        scheds = summarise(run)
        for sc in scheds:
            sc.update(specs.get(sc["label"], {}))
        vcpus = int(run["meta"].get("vcpus", run["host"].get("vcpus", 0)))
        res["runs"].append({
            "vcpus": vcpus, "topology": run["host"].get("topology", "?"),
            "kernel": run["meta"].get("kernel"), "meta": run["meta"], "host": run["host"],
            "complete": run["complete"], "raw": path, "schedulers": scheds,
            "invalid": run["invalid"], "notes": run["notes"],
        })
        bad |= bool(run["invalid"]) or not run["complete"]
    res["pooled"] = pool(res["runs"])
    for run in res["runs"]:
        for sc in run["schedulers"]:
            del sc["_by_round"]
    with open(a.json, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    with open(a.md, "w") as f:
        f.write(markdown(res))
    if bad:
        print("some rounds were dropped or a boot did not complete: see the tables", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
