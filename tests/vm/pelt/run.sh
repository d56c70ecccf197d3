#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# run.sh SCX_VMTEST SCX_RUSTY DUTYCYCLE [KERNEL]
#
# Boots ONE test VM (3 CPUs, kernel KERNEL, default 7.3) that attaches scx_rusty with
# --track-comm duty50 --track-comm spin100, runs the dutycycle binary under two names
# concurrently, each pinned to a CPU of its own (CPU 1 and CPU 2; everything that can move,
# the shell and scx_rusty included, is moved to CPU 0, and so are unbound workqueues):
#   duty50  $DUTY_MS $DUTY_MS $SECS   (50 % duty cycle, default 32/32 ms)
#   spin100 0 0 $SECS                  (always running)
# and takes the last 5 "scx_rusty: pelt" lines (one a second) reported for each while both still
# run. PASS when the median of duty50's util_avg lies in the steady-state band of
# shared/docs/pelt.md for that period, and spin100's util_avg reaches 1023..1024 (its largest
# sample) without ever exceeding 1024. One sample alone is at the mercy of emulation jitter: the
# single-threaded TCG host thread can stretch one 32 ms run by 10-20 ms, or leave a vCPU's
# kernel thread holding the spinner's CPU for a moment, which moves one reading out of the band. Prints one PASS/FAIL line with the numbers; exits 0 on PASS, 1 on
# FAIL, 2 on a usage or VM error.
#
# Environment: DUTY_MS (1, 4, 16 or 32; default 32), SECS (default 12: steady state is reached
# after ~0.35 s of PELT time, the rest gives scx_rusty's 1 s reports time to repeat).
set -u

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
	echo "usage: $0 SCX_VMTEST SCX_RUSTY DUTYCYCLE [KERNEL]" >&2
	exit 2
fi
VMTEST=$1
RUSTY=$2
DUTY=$3
KERNEL=${4:-7.3}
DUTY_MS=${DUTY_MS:-32}
SECS=${SECS:-12}

case $DUTY_MS in
1) LO=506 HI=517 ;;
4) LO=491 HI=533 ;;
16) LO=428 HI=596 ;;
32) LO=348 HI=675 ;;
*)
	echo "run.sh: DUTY_MS must be 1, 4, 16 or 32 (the periods pelt.md gives a band for)" >&2
	exit 2
	;;
esac
for f in "$VMTEST" "$RUSTY" "$DUTY"; do
	if [ ! -x "$f" ]; then
		echo "run.sh: $f is not an executable file" >&2
		exit 2
	fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$DUTY" "$tmp/duty50"
cp "$DUTY" "$tmp/spin100"

# The guest script. Only per-CPU kernel threads can still run on CPUs 1 and 2: an always-running
# task reads 1023..1024 only if nothing took its CPU for more than ~0.1 ms in the last ~0.2 s,
# and under emulation a kernel thread that runs for microseconds of CPU work can hold a vCPU for
# milliseconds of guest time. scx_rusty's pelt lines are read from its log after SECS-2 s,
# while both tasks still run.
guest=$(
	cat <<GUEST
for p in /proc/[0-9]*; do taskset -p -c 0 \${p#/proc/} >/dev/null 2>&1; done
echo 1 >/sys/devices/virtual/workqueue/cpumask 2>/dev/null
/vmtest/scx_vmtest guest-exec -- scx_rusty --track-comm duty50 --track-comm spin100 >/tmp/rusty.log 2>&1 &
i=0
while [ "\$(cat /sys/kernel/sched_ext/state)" != enabled ]; do
	i=\$((i + 1))
	if [ \$i -gt 300 ]; then echo "GUEST: scx_rusty did not attach"; cat /tmp/rusty.log; exit 3; fi
	sleep 0.1
done
taskset -c 1 duty50 $DUTY_MS $DUTY_MS $SECS > /tmp/duty50.out &
a=\$!
taskset -c 2 spin100 0 0 $SECS > /tmp/spin100.out &
b=\$!
sleep $((SECS - 2))
cp /tmp/rusty.log /tmp/snap.log
wait \$a \$b
cat /tmp/duty50.out /tmp/spin100.out
echo "GUEST: state \$(cat /sys/kernel/sched_ext/state)"
grep -c 'scx_rusty: pelt' /tmp/snap.log | sed 's/^/GUEST: pelt lines /'
grep 'scx_rusty: pelt .*comm=duty50 ' /tmp/snap.log | tail -n 5 | sed 's/^/GUEST: sample duty50 /'
grep 'scx_rusty: pelt .*comm=spin100 ' /tmp/snap.log | tail -n 5 | sed 's/^/GUEST: sample spin100 /'
GUEST
)

# The VM's timing is guest time, but host load stalls the single qemu thread and shows up as
# jitter in the duty cycle: give qemu a better share of the host when we may.
nice_cmd=""
if nice -n -10 true 2>/dev/null; then
	nice_cmd="nice -n -10"
fi
$nice_cmd "$VMTEST" run -k "$KERNEL" -t cpus=3 -f "$RUSTY" -f "$tmp/duty50" -f "$tmp/spin100" \
	-- "$guest" >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
if [ $rc -ne 0 ]; then
	echo "FAIL pelt kernel=$KERNEL why=vm_exit_$rc"
	exit 2
fi

# util_avg of every sample of task $1, sorted numerically, one per line.
samples() {
	grep "^GUEST: sample $1 " "$tmp/out" | tr ' ' '\n' | sed -n 's/^util_avg=//p' | sort -n
}
dus=$(samples duty50)
sus=$(samples spin100)
nd=$(echo "$dus" | grep -c .)
ns=$(echo "$sus" | grep -c .)
du=$(echo "$dus" | sed -n "$(((nd + 1) / 2))p")
smax=$(echo "$sus" | tail -n 1)
why=""
if [ "$nd" -lt 3 ]; then
	why="${why}too_few_duty50_samples,"
elif [ "$du" -lt $LO ] || [ "$du" -gt $HI ]; then
	why="${why}duty50_out_of_band,"
fi
if [ "$ns" -lt 3 ]; then
	why="${why}too_few_spin100_samples,"
elif [ "$smax" -lt 1023 ] || [ "$smax" -gt 1024 ]; then
	why="${why}spin100_not_saturated,"
fi
summary="kernel=$KERNEL duty=${DUTY_MS}/${DUTY_MS}ms duty50_median_util_avg=${du:--} band=$LO..$HI spin100_max_util_avg=${smax:--} want=1023..1024 duty50_samples=$(echo $dus | tr ' ' ,) spin100_samples=$(echo $sus | tr ' ' ,)"
if [ -z "$why" ]; then
	echo "PASS pelt $summary"
	exit 0
fi
echo "FAIL pelt $summary why=${why%,}"
exit 1
