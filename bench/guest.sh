#!/bin/sh
# In the guest: time the same workloads under the kernel's default scheduler (EEVDF) and under
# each scheduler given as argument, interleaved round by round so drifts hit all alike.
# Prints "BENCH <sched> <workload> <round> <seconds>" lines.
rounds=${ROUNDS:-3}

now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }

run_workloads() { # run_workloads LABEL ROUND
	t0=$(now_ms)
	hackbench -g 4 -f 10 -l 100 >/dev/null 2>&1
	t1=$(now_ms)
	echo "BENCH $1 hackbench $2 $(((t1 - t0)))"
	# Wake-up latency under CPU hogs: cyclictest's average, in us.
	stress-ng --cpu "$(($(nproc) * 2))" --timeout 6s >/dev/null 2>&1 &
	hog=$!
	# cyclictest pads "Avg:" to a fixed width, so large values touch the label.
	lat=$(cyclictest -q -D 5 -i 10000 -t 1 -m 2>/dev/null | sed -n 's/.*Avg: *\([0-9]*\).*/\1/p')
	wait $hog
	echo "BENCH $1 wakeup-latency-us $2 ${lat:-nan}"
}

for r in $(seq 1 "$rounds"); do
	run_workloads eevdf "$r"
	for s in "$@"; do
		name=$(basename "$s" | tr " " "_")
		/vmtest/scx_vmtest guest-exec -- $s >/tmp/$name.log 2>&1 &
		pid=$!
		i=0
		while [ "$(cat /sys/kernel/sched_ext/state)" != enabled ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
		run_workloads "$name" "$r"
		kill -INT $pid
		wait $pid
	done
done
