#!/usr/bin/env python3
"""bench/chart.py RESULTS.json OUT.png: one panel per vCPU count, one group of bars per metric,
one bar per scheduler: its median as a ratio to EEVDF's from the same boot (log scale; the line
at 1 is EEVDF), with its 95 % bootstrap interval as an error bar where report.py gave one. Needs
matplotlib (pip install matplotlib)."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# (metric, label); stress-ng is the geometric mean of the cpu and pipe ratios.
SHOWN = [
    ("lat_idle_avg_us", "wake-up\navg idle"),
    ("lat_hog_avg_us", "wake-up\navg hogs"),
    ("lat_hog_p99_us", "wake-up\np99 hogs"),
    ("hackbench_s", "hack-\nbench"),
    ("stress", "stress-ng\nops/s (↑)"),
    ("frames_late_pct", "late\nframes"),
    ("frames_p99_late_us", "frame\np99 late"),
]
# The layers workload (bench/run.sh --workload layers): cyclictest's latency and the wake-up
# latency proper (from the wake-up to the run, without the timer interrupt's lateness).
SHOWN_LAYERS = [
    ("lat_layers_avg_us", "cyclictest\navg"),
    ("lat_layers_p99_us", "cyclictest\np99"),
    ("lat_layers_run_avg_us", "wake-up\nto run avg"),
    ("lat_layers_run_p99_us", "wake-up\nto run p99"),
]


def ratio(s, m):
    r = s.get("ratio", {})
    if m == "stress":
        c, p = r.get("stress_cpu_ops_s"), r.get("stress_pipe_ops_s")
        return (c * p) ** 0.5 if c and p else None
    return r.get(m)


def interval(s, m, r):
    """(below, above) r for an error bar; (0, 0) without an interval (stress-ng's mean has none)."""
    ci = s.get("ratio_ci", {}).get(m)
    return (r - ci[0], ci[1] - r) if ci else (0, 0)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    res = json.load(open(sys.argv[1]))
    runs = res["runs"]
    fig, axes = plt.subplots(1, len(runs), figsize=(5.2 * len(runs), 4.6), squeeze=False,
                             sharey=True)
    for ax, run in zip(axes[0], runs):
        scheds = [s for s in run["schedulers"] if s["label"] != "eevdf"]
        shown = SHOWN_LAYERS if run.get("meta", {}).get("workload") == "layers" else SHOWN
        width = 0.8 / max(1, len(scheds))
        for i, s in enumerate(scheds):
            xs, ys, errs, missing = [], [], [], []
            for j, (m, _) in enumerate(shown):
                r = ratio(s, m)
                x = j - 0.4 + width * (i + 0.5)
                if r is None or r <= 0:
                    missing.append(x)
                else:
                    xs.append(x)
                    ys.append(r)
                    errs.append(interval(s, m, r))
            ax.bar(xs, ys, width, label=s.get("name", s["label"]), color=f"C{i}",
                   yerr=list(zip(*errs)) if errs else None, error_kw={"lw": 0.8, "capsize": 2})
            for x in missing:
                ax.text(x, 1, "–", ha="center", va="bottom", fontsize=7, color=f"C{i}")
        ax.axhline(1, color="black", lw=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(shown)), [t for _, t in shown], fontsize=7)
        ax.set_title(f"{run['vcpus']} vCPU — kernel {run.get('kernel') or '?'}", fontsize=9)
        ax.grid(axis="y", which="both", lw=0.3, alpha=0.5)
    axes[0][0].set_ylabel("ratio to EEVDF (same boot, median of rounds, 95 % interval)")
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"scx-toolkit bench {res['date']} (git {res['git']}, {res['rounds']} rounds × "
                 f"{res['secs']} s; lower is better except stress-ng; – = no ratio)", fontsize=9)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=90)
    return 0


if __name__ == "__main__":
    sys.exit(main())
