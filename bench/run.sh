#!/usr/bin/env bash
# Benchmarks every scheduler against the kernel's default scheduler (EEVDF) in ONE guest boot and
# prints each workload's result as a ratio to EEVDF's (median of the rounds). Emulated time is
# slow, so only ratios measured side by side mean anything.
#
#   bench/run.sh [BUILD_DIR] [KERNEL]       (ROUNDS=3 by default)
#
# hackbench: wall time in ms, lower is better. wakeup-latency-us: cyclictest's average wake-up
# latency while CPU hogs fill every CPU, lower is better. A round in which the scheduler was not
# attached (or, for EEVDF, one was) before and after its workloads is left out and reported
# (bench/guest.sh's BENCH-INVALID lines); run.sh then exits 1.
set -euo pipefail
build=${1:-build}
kernel=${2:-default}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$build/scx_vmtest" run -k "$kernel" -t sockets=2,cores=2,threads=1,nodes=2 --timeout 1800 \
	-f "$build/scx_simple:/opt/sched/scx_simple" -f "$build/scx_rusty:/opt/sched/scx_rusty" \
	-f /usr/bin/cyclictest -f "$here/guest.sh:/usr/bin/bench-guest.sh" \
	-- "ROUNDS=${ROUNDS:-3} sh /usr/bin/bench-guest.sh /opt/sched/scx_simple '/opt/sched/scx_simple -f' /opt/sched/scx_rusty" |
	tee "$out" | grep '^BENCH' || true
python3 - "$out" <<'PY'
import statistics, sys
res = {}
invalid = []
for line in open(sys.argv[1]):
    p = line.split()
    if p and p[0] == "BENCH-INVALID":
        invalid.append(" ".join(p[1:]))
    if len(p) == 5 and p[0] == "BENCH" and p[4] != "nan":
        res.setdefault((p[1], p[2]), []).append(float(p[4]))
workloads = sorted({w for _, w in res})
scheds = []
for s, _ in res:
    if s not in scheds:
        scheds.append(s)
print(f"{'scheduler':<14}" + "".join(f"{w:>28}" for w in workloads))
for s in scheds:
    cells = []
    for w in workloads:
        base, v = res.get(("eevdf", w)), res.get((s, w))
        if not base or not v:
            cells.append(f"{'n/a':>28}")
            continue
        m, b = statistics.median(v), statistics.median(base)
        cells.append(f"{m:>12.1f} ({m / b:>5.2f}x eevdf)")
    print(f"{s:<14}" + "".join(cells))
if invalid:
    print(f"{len(invalid)} round(s) left out, the scheduler under test was not the one attached:")
    for i in invalid:
        print(f"  {i}")
    sys.exit(1)
PY
