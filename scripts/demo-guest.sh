#!/bin/sh
# Runs each scheduler for a few seconds under a CPU load and shows that it took over the kernel
# (state, ops name, stats lines) and handed it back. Argument: the folder holding the binaries.
set -u
bin=$1
state() { echo "  sched_ext state: $(cat /sys/kernel/sched_ext/state)  ops: $(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)"; }
start() {
	# Inside the test VM background jobs ignore SIGINT; its helper restores it.
	if [ -x /vmtest/scx_vmtest ]; then
		/vmtest/scx_vmtest guest-exec -- "$@" &
	else
		"$@" &
	fi
	pid=$!
}

for sched in "scx_simple --stats 1" "scx_rusty --stats 1"; do
	name=${sched%% *}
	echo "--- $name"
	state
	start $bin/$sched
	i=0
	while [ "$(cat /sys/kernel/sched_ext/state)" != enabled ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	state
	# Three CPU hogs for four seconds, so there is something to schedule.
	hogs=
	for n in 1 2 3; do
		(end=$(($(date +%s) + 4)); while [ "$(date +%s)" -lt $end ]; do :; done) &
		hogs="$hogs $!"
	done
	for h in $hogs; do wait "$h"; done
	kill -INT "$pid"
	wait "$pid"
	echo "  $name exited with status $?"
	state
done
