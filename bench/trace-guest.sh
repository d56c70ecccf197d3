#!/bin/sh
# Guest side of bench/trace.sh: cyclictest (the benchmark's, from bench-lib.sh) beside 2 hogs
# per vCPU, with the scheduler under test attached (or EEVDF), traced with tracefs:
# sched_switch, sched_waking, hrtimer_start, hrtimer_expire_entry, ipi_send_cpu and
# ipi_send_cpumask. Prints cyclictest's histogram summary, then the trace
# between TRACE-BEGIN and TRACE-END.
#
#   trace-guest.sh SECS eevdf|COMMAND...
secs=$1
shift
# shellcheck source=guest-lib.sh
. /usr/bin/bench-lib.sh
T=/sys/kernel/tracing
grep -q " $T tracefs" /proc/mounts || mount -t tracefs none $T
if [ "$1" != eevdf ]; then
	/vmtest/scx_vmtest guest-exec -- "$@" >/tmp/sched.log 2>&1 &
	spid=$!
	wait_state enabled 300
	echo "TRACE-META state=$st ops=$(cat $SCX/root/ops 2>/dev/null)"
fi
rm -f /tmp/trace.stop
frames hog -n $((2 * $(nproc))) -w /tmp/trace.stop -t $((secs + 60)) >/dev/null 2>&1 &
hogs=$!
sleep 2
echo 0 >$T/tracing_on
echo >$T/trace
echo 30000 >$T/buffer_size_kb
for e in sched/sched_switch sched/sched_waking timer/hrtimer_start timer/hrtimer_expire_entry \
	ipi/ipi_send_cpu ipi/ipi_send_cpumask; do
	echo 1 >"$T/events/$e/enable" 2>/dev/null || echo "TRACE-META no event $e"
done
echo 1 >$T/tracing_on
cyclictest_run cyclictest "$secs" /tmp/trace.hist
echo 0 >$T/tracing_on
: >/tmp/trace.stop
wait $hogs
echo "TRACE-META $(cyclichist /tmp/trace.hist)"
echo TRACE-BEGIN
grep -v '^#' $T/trace
echo TRACE-END
if [ -n "${spid:-}" ]; then
	kill -INT $spid
	wait $spid
	echo "TRACE-META scheduler exit=$?"
fi
