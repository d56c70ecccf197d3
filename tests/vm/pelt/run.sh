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
# and takes the LAST "scx_rusty: pelt" line reported for each while both still run. PASS when
# duty50's util_avg lies in the steady-state band of shared/docs/pelt.md for that period and
# spin100's is 1023..1024. Prints one PASS/FAIL line with the numbers; exits 0 on PASS, 1 on
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
echo "GUEST: last duty50 \$(grep 'scx_rusty: pelt .*comm=duty50 ' /tmp/snap.log | tail -n 1)"
echo "GUEST: last spin100 \$(grep 'scx_rusty: pelt .*comm=spin100 ' /tmp/snap.log | tail -n 1)"
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

field() { # LINE KEY
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
dline=$(grep '^GUEST: last duty50 ' "$tmp/out")
sline=$(grep '^GUEST: last spin100 ' "$tmp/out")
du=$(field "$dline" util_avg)
su=$(field "$sline" util_avg)
why=""
if [ -z "$du" ]; then
	why="${why}no_duty50_line,"
elif [ "$du" -lt $LO ] || [ "$du" -gt $HI ]; then
	why="${why}duty50_out_of_band,"
fi
if [ -z "$su" ]; then
	why="${why}no_spin100_line,"
elif [ "$su" -lt 1023 ] || [ "$su" -gt 1024 ]; then
	why="${why}spin100_not_saturated,"
fi
summary="kernel=$KERNEL duty=${DUTY_MS}/${DUTY_MS}ms duty50_util_avg=${du:--} band=$LO..$HI spin100_util_avg=${su:--} want=1023..1024"
if [ -z "$why" ]; then
	echo "PASS pelt $summary"
	exit 0
fi
echo "FAIL pelt $summary why=${why%,}"
exit 1
