#!/bin/sh
# Guest side of bench/trace.sh: cyclictest (the benchmark's, from bench-lib.sh) beside 2 hogs
# per vCPU (TRACE_LOAD=layers: 4 hogs in cgroup /batch, 2 in the root, cyclictest as
# latcyclic; TRACE_LOAD=frames: the benchmark's 60 Hz frame task in place of cyclictest), with
# the scheduler under test attached (or EEVDF), traced with tracefs:
# sched_switch, sched_waking, hrtimer_start, hrtimer_expire_entry, ipi_send_cpu,
# ipi_send_cpumask, and sys_exit of clock_nanosleep. Prints cyclictest's histogram summary,
# then the trace between TRACE-BEGIN and TRACE-END.
#
# TRACE_EVENTS adds tracefs events to these, TRACE_FUNCS kernel functions (function tracer);
# TRACE_KPROBES kprobe events ("p:rearm lapic_next_event delta=%di", ';' between them);
# TRACE_SCHED_FEATURES sets scheduler features first (debugfs sched/features: NO_HRTICK, ...).
#
#   [TRACE_LOAD=hogs|layers|frames] [TRACE_STACKS=EVENTS] [TRACE_EVENTS=EVENTS] \
#       [TRACE_FUNCS=FUNCTIONS] [TRACE_KPROBES=PROBES] [TRACE_SCHED_FEATURES=FEATURES] \
#       [TRACE_BASE_SLICE_NS=N] trace-guest.sh SECS eevdf|COMMAND...
secs=$1
shift
# shellcheck source=guest-lib.sh
. /usr/bin/bench-lib.sh
T=$TRACEFS
tracefs_mount
# EEVDF's base slice (debugfs), to see what slice length alone does to the same load.
if [ -n "${TRACE_BASE_SLICE_NS:-}" ]; then
	echo "$TRACE_BASE_SLICE_NS" >/sys/kernel/debug/sched/base_slice_ns
	echo "TRACE-META base_slice_ns=$(cat /sys/kernel/debug/sched/base_slice_ns)"
fi
# Scheduler features (debugfs sched/features, e.g. NO_HRTICK), to see what one does to the load.
for f in ${TRACE_SCHED_FEATURES:-}; do
	echo "$f" >/sys/kernel/debug/sched/features || echo "TRACE-META no feature $f"
done
[ -z "${TRACE_SCHED_FEATURES:-}" ] || echo "TRACE-META features=$(cat /sys/kernel/debug/sched/features)"
if [ "$1" != eevdf ]; then
	/vmtest/scx_vmtest guest-exec -- "$@" >/tmp/sched.log 2>&1 &
	spid=$!
	wait_state enabled 30
	echo "TRACE-META state=$st ops=$(cat $SCX/root/ops 2>/dev/null)"
	if [ "$st" != enabled ]; then
		echo "TRACE-META the scheduler did not attach; its log:"
		tail -n 20 /tmp/sched.log
		exit 1
	fi
fi
load=${TRACE_LOAD:-hogs}
if [ "$load" = frames ]; then
	# (calibrated with the scheduler attached and busy vCPUs, as bench/guest.sh does per boot)
	loops=$(frames calibrate -b -t 500 | sed -n 's/^loops_per_ms=//p')
	echo "TRACE-META loops_per_ms=$loops"
fi
hogs_reset /tmp/trace.stop
if [ "$load" = layers ]; then
	mkdir -p /sys/fs/cgroup/batch
	hogs_spawn 4 /sys/fs/cgroup/batch >/dev/null
	hogs_spawn 2 >/dev/null
	cyclic=latcyclic
else
	hogs_spawn $((2 * $(nproc))) >/dev/null
	cyclic=cyclictest
fi
sleep 2
echo 0 >$T/tracing_on
echo >$T/trace
echo 30000 >$T/buffer_size_kb
for e in sched/sched_switch sched/sched_waking timer/hrtimer_start timer/hrtimer_expire_entry \
	ipi/ipi_send_cpu ipi/ipi_send_cpumask ${TRACE_EVENTS:-}; do
	echo 1 >"$T/events/$e/enable" 2>/dev/null || echo "TRACE-META no event $e"
done
# The measuring thread's return from clock_nanosleep ends its wake-up (bench-lib.sh).
{ nanosleep_exits 2>/dev/null && echo 1 >$T/events/raw_syscalls/sys_exit/enable 2>/dev/null; } ||
	echo "TRACE-META no event raw_syscalls/sys_exit"
# TRACE_STACKS="ipi/ipi_send_cpu ...": also record the kernel stack at each of these events.
for e in ${TRACE_STACKS:-}; do
	echo stacktrace >"$T/events/$e/trigger" 2>/dev/null || echo "TRACE-META no stack for $e"
done
# TRACE_KPROBES="p:name func arg=%di;...": kprobe events (';' between them), recorded too.
if [ -n "${TRACE_KPROBES:-}" ]; then
	echo "$TRACE_KPROBES" | tr ';' '\n' | while read -r k; do
		[ -z "$k" ] || echo "$k" >>$T/kprobe_events || echo "TRACE-META no kprobe $k"
	done
	echo 1 >$T/events/kprobes/enable 2>/dev/null || echo "TRACE-META no kprobe events"
fi
# TRACE_FUNCS="func ...": also trace these kernel functions (the function tracer).
if [ -n "${TRACE_FUNCS:-}" ]; then
	for f in $TRACE_FUNCS; do
		echo "$f" >>$T/set_ftrace_filter 2>/dev/null || echo "TRACE-META no function $f"
	done
	echo function >$T/current_tracer
fi
echo 1 >$T/tracing_on
if [ "$load" = frames ]; then
	frames run -l "$loops" -p 16667 -w 4000 -d "$secs" >/tmp/frames.out &
	echo "TRACE-META framepid=$!"
	wait $!
else
	cyclictest_run $cyclic "$secs" /tmp/trace.hist
fi
echo 0 >$T/tracing_on
: >"$hogfile"
# shellcheck disable=SC2086 # a list of pids
wait $hogpids
if [ "$load" = frames ]; then
	echo "TRACE-META $(cat /tmp/frames.out)"
else
	echo "TRACE-META $(cyclichist /tmp/trace.hist)"
fi
echo TRACE-BEGIN
grep -v '^#' $T/trace
echo TRACE-END
if [ -n "${spid:-}" ]; then
	kill -INT $spid
	wait $spid
	echo "TRACE-META scheduler exit=$?"
fi
