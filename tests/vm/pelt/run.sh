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
# After WARM_SECS (steady state is reached after ~0.35 s of PELT time) it dumps scx_rusty's
# tracked_pelt BPF map with bpftool (copied from the host) in a loop for WINDOW_SECS: the raw
# `struct scx_pelt_task` the BPF side published after each update of the two tasks, read straight
# from the kernel, not through scx_rusty's user space or the scx_pelt crate. judge.py (next to
# this script) brings each raw state to the time of its dump with its own implementation of
# shared/docs/pelt.md and judges the AVERAGE of duty50's util_avg over the window against
# 1024 x 50 % (511..512, with a band from the number of samples; its docstring has the
# derivation), the spread against the sawtooth of the 32-period half-life, and spin100's raw
# util_avg: 1023..1024, never above. Prints one PASS/FAIL line with the numbers; exits 0 on
# PASS, 1 on FAIL, 2 on a usage or VM error, 77 when bpftool or python3 is missing (a failure
# under CI=true, meson-scripts/prereq.sh).
#
# Environment: DUTY_MS (1, 4, 16 or 32; default 32), WARM_SECS (default 3), WINDOW_SECS
# (default 15: about 100 dumps, bpftool takes ~0.15 s of guest time each), PELT_OUT (copy the
# guest's whole output, dumps included, there; `judge.py PELT_OUT DUTY_MS` judges it again).
set -u
. "$(dirname "$0")/../../../meson-scripts/prereq.sh"

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
	echo "usage: $0 SCX_VMTEST SCX_RUSTY DUTYCYCLE [KERNEL]" >&2
	exit 2
fi
VMTEST=$1
RUSTY=$2
DUTY=$3
KERNEL=${4:-7.3}
DUTY_MS=${DUTY_MS:-32}
WARM_SECS=${WARM_SECS:-3}
WINDOW_SECS=${WINDOW_SECS:-15}
SECS=$((WARM_SECS + WINDOW_SECS + 2))

case $DUTY_MS in
1 | 4 | 16 | 32) ;;
*)
	echo "run.sh: DUTY_MS must be 1, 4, 16 or 32 (the periods pelt.md gives a band for)" >&2
	exit 2
	;;
esac
BPFTOOL=$(command -v bpftool || true)
[ -n "$BPFTOOL" ] || skip_or_fail "bpftool (>= 7.5), to dump the BPF map in the guest"
command -v python3 >/dev/null || skip_or_fail "python3, to judge the dumps"
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
# milliseconds of guest time. The dumps end 2 s before the tasks do.
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
sleep $WARM_SECS
read -r up _ </proc/uptime
end=\$((\${up%.*} + $WINDOW_SECS))
while [ "\${up%.*}" -lt \$end ]; do
	bpftool -j map dump name tracked_pelt | tr -d '\n'
	echo
	read -r up _ </proc/uptime
done >/tmp/dumps
wait \$a \$b
cat /tmp/duty50.out /tmp/spin100.out
echo "GUEST: state \$(cat /sys/kernel/sched_ext/state)"
sed 's/^/GUEST: dump /' /tmp/dumps
tail -n 4 /tmp/rusty.log
GUEST
)

# The VM's timing is guest time, but host load stalls the single qemu thread and shows up as
# jitter in the duty cycle: give qemu a better share of the host when we may.
nice_cmd=""
if nice -n -10 true 2>/dev/null; then
	nice_cmd="nice -n -10"
fi
$nice_cmd "$VMTEST" run -k "$KERNEL" -t cpus=3 -f "$RUSTY" -f "$tmp/duty50" -f "$tmp/spin100" -f "$BPFTOOL" \
	-- "$guest" >"$tmp/out" 2>&1
rc=$?
[ -n "${PELT_OUT:-}" ] && cp "$tmp/out" "$PELT_OUT"
grep -v '^GUEST: dump ' "$tmp/out"
# scx_vmtest's own verdict on a missing prerequisite (qemu, a kernel): SKIP (it already said
# 126, a failure, under CI=true).
[ $rc -eq 77 ] && exit 77
if [ $rc -ne 0 ]; then
	echo "FAIL pelt kernel=$KERNEL why=vm_exit_$rc"
	exit 2
fi
echo "kernel=$KERNEL: $(grep -c '^GUEST: dump ' "$tmp/out") dumps of tracked_pelt"
python3 "$(dirname "$0")/judge.py" "$tmp/out" "$DUTY_MS"
exit $?
