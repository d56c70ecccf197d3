#!/usr/bin/env bash
# Where a scheduler's wake-up latency under hogs goes: one guest boot, cyclictest beside 2 hogs
# per vCPU, traced with tracefs, then bench/trace_report.py. A diagnostic beside bench/run.sh,
# not a benchmark: one short run, no rounds, no ratios.
#
#   bench/trace.sh BUILD_DIR VCPUS SECS OUT eevdf|PATH[:ARGS] [hogs|layers|frames]
#
# The load is "hogs" (default), "layers": the benchmark's layers workload (4 hogs in cgroup
# /batch, 2 in the root cgroup, cyclictest run as "latcyclic"; bench/layers.json is in the
# guest as /etc/bench-layers.json), or "frames": the benchmark's 60 Hz frame task in place of
# cyclictest, beside 2 hogs per vCPU. OUT gets the guest's whole output (the raw trace); the
# report goes to stdout. VCPUS may also be a topology (sockets=2,cores=2,threads=1,nodes=2, as
# bench/run.sh uses for 4 vCPUs). In the environment:
# - TRACE_STACKS="ipi/ipi_send_cpu ..." also records the kernel stack at each of these events;
# - TRACE_EVENTS="irq_vectors/irq_work_entry ..." records more tracefs events, TRACE_FUNCS=
#   "lapic_next_event ..." kernel functions (the function tracer) and TRACE_KPROBES=
#   "p:NAME FUNC ARG=%di;..." kprobe events (all in OUT, for reading by hand: the report reads
#   only its own events);
# - TRACE_BASE_SLICE_NS=N sets EEVDF's base slice (sched/base_slice_ns) and
#   TRACE_SCHED_FEATURES="NO_HRTICK ..." scheduler features (debugfs sched/features) first;
# - TRACE_ICOUNT=SHIFT and TRACE_IDLE_POLL=1 boot the guest as bench/run.sh --icount SHIFT /
#   --idle-poll do.
set -euo pipefail
[ $# = 5 ] || [ $# = 6 ] || { sed -n '2,22p' "$0" >&2; exit 2; }
build=$1 vcpus=$2 secs=$3 out=$4 spec=$5 load=${6:-hogs}
case $load in hogs | layers | frames) ;; *) echo "unknown load $load (hogs, layers or frames)" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=host-lib.sh
. "$here/host-lib.sh"
need_tools "$build"
files=(-f "$build/bench/frames:/usr/bin/frames" -f "$build/bench/cyclichist:/usr/bin/cyclichist"
	-f /usr/bin/cyclictest -f "$here/trace-guest.sh:/usr/bin/trace-guest.sh"
	-f "$here/guest-lib.sh:/usr/bin/bench-lib.sh" -f /usr/bin/cyclictest:/usr/bin/latcyclic
	-f "$here/layers.json:/etc/bench-layers.json")
cmd=eevdf
if [ "$spec" != eevdf ]; then
	split_spec "$spec"
	files+=(-f "$path:/opt/sched/$(basename "$path")")
	cmd="/opt/sched/$(basename "$path")${args:+ $args}"
fi
topo=$vcpus
[[ $topo == *=* ]] || topo="cpus=$vcpus"
emulation=()
[ -z "${TRACE_ICOUNT:-}" ] || emulation+=(--icount "$TRACE_ICOUNT")
[ -z "${TRACE_IDLE_POLL:-}" ] || emulation+=(--idle-poll)
"$build/scx_vmtest" run -t "$topo" "${emulation[@]}" --timeout $((300 + 4 * secs)) "${files[@]}" \
	-- "TRACE_LOAD=$load TRACE_STACKS='${TRACE_STACKS:-}' TRACE_EVENTS='${TRACE_EVENTS:-}' TRACE_FUNCS='${TRACE_FUNCS:-}' TRACE_KPROBES='${TRACE_KPROBES:-}' TRACE_SCHED_FEATURES='${TRACE_SCHED_FEATURES:-}' TRACE_BASE_SLICE_NS=${TRACE_BASE_SLICE_NS:-} sh /usr/bin/trace-guest.sh $secs $cmd" >"$out" 2>&1 || {
	echo "the guest run failed: see $out" >&2
	exit 1
}
python3 "$here/trace_report.py" "$out"
