#!/bin/sh
# In the guest: time the same workloads under the kernel's default scheduler (EEVDF) and under
# each scheduler given as argument, interleaved round by round so drifts hit all alike.
# Prints "BENCH <sched> <workload> <round> <value>" lines: hackbench in milliseconds,
# wakeup-latency-us in microseconds.
#
# A round counts only if it measured what it says: for a scheduler, /sys/kernel/sched_ext/state
# must read "enabled" and root/ops the scheduler's own ops name both before and after the
# workloads (the name is read once it attached); for EEVDF, the state must read "disabled" both
# times. Otherwise the round's values are printed as "nan" and a "BENCH-INVALID <sched> <round>
# <why>" line says why, so run.sh leaves them out of the medians.
rounds=${ROUNDS:-3}
SCX=/sys/kernel/sched_ext

now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
state() { cat "$SCX/state" 2>/dev/null || echo missing; }
ops() { cat "$SCX/root/ops" 2>/dev/null; }

# attached_as WANT_STATE WANT_OPS: does sched_ext read WANT_STATE (and root/ops WANT_OPS)?
attached_as() {
	[ "$(state)" = "$1" ] || return 1
	[ -z "$2" ] || [ "$(ops)" = "$2" ]
}

run_workloads() { # run_workloads LABEL ROUND WANT_STATE WANT_OPS
	valid=yes why=""
	attached_as "$3" "$4" || { valid=no why="before: state $(state) ops $(ops)"; }
	t0=$(now_ms)
	hackbench -g 4 -f 10 -l 100 >/dev/null 2>&1
	t1=$(now_ms)
	hb=$((t1 - t0))
	# Wake-up latency under CPU hogs: cyclictest's average, in us.
	stress-ng --cpu "$(($(nproc) * 2))" --timeout 6s >/dev/null 2>&1 &
	hog=$!
	# cyclictest pads "Avg:" to a fixed width, so large values touch the label.
	lat=$(cyclictest -q -D 5 -i 10000 -t 1 -m 2>/dev/null | sed -n 's/.*Avg: *\([0-9]*\).*/\1/p')
	wait $hog
	attached_as "$3" "$4" || { valid=no why="$why${why:+; }after: state $(state) ops $(ops)"; }
	if [ $valid = no ]; then
		echo "BENCH-INVALID $1 $2 $why (want state $3${4:+ ops $4})"
		hb=nan lat=nan
	fi
	echo "BENCH $1 hackbench $2 $hb"
	echo "BENCH $1 wakeup-latency-us $2 ${lat:-nan}"
}

for r in $(seq 1 "$rounds"); do
	run_workloads eevdf "$r" disabled ""
	for s in "$@"; do
		name=$(echo "$s" | sed 's#.*/##' | tr " " "_")
		# shellcheck disable=SC2086 # $s is a command line on purpose.
		/vmtest/scx_vmtest guest-exec -- $s >"/tmp/$name.log" 2>&1 &
		pid=$!
		i=0
		while [ "$(state)" != enabled ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
		want_ops=$(ops)
		[ -n "$want_ops" ] || want_ops="(none: $name did not attach)"
		run_workloads "$name" "$r" enabled "$want_ops"
		kill -INT $pid
		wait $pid
		i=0
		while [ "$(state)" != disabled ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
	done
done
