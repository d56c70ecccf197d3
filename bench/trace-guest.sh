#!/bin/sh
# Guest side of bench/trace.sh: cyclictest (as in the benchmark: one SCHED_OTHER thread, 5 ms
# absolute periods) beside 2 hogs per vCPU, with the scheduler under test attached (or EEVDF),
# traced with tracefs: sched_switch, sched_waking, hrtimer_start, hrtimer_expire_entry,
# ipi_send_cpu and ipi_send_cpumask. Prints cyclictest's histogram summary, then the trace
# between TRACE-BEGIN and TRACE-END.
#
#   trace-guest.sh SECS eevdf|COMMAND...
secs=$1
shift
T=/sys/kernel/tracing
grep -q " $T tracefs" /proc/mounts || mount -t tracefs none $T
if [ "$1" != eevdf ]; then
	/vmtest/scx_vmtest guest-exec -- "$@" >/tmp/sched.log 2>&1 &
	spid=$!
	i=0
	while [ "$(cat /sys/kernel/sched_ext/state)" != enabled ] && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	echo "TRACE-META ops=$(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)"
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
cyclictest -q -m -t 1 -i 5000 -D "$secs" -h 100000 --histfile=/tmp/trace.hist >/dev/null 2>&1
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
