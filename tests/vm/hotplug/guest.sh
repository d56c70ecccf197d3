#!/bin/sh
# In the guest: for each scheduler named in $@, attach it, take CPU 1 offline, and check that the
# kernel's restart request (RSN_HOTPLUG | ACT_RESTART) makes the loader attach again by itself,
# with the new topology; then bring CPU 1 back (another restart) and stop the scheduler with
# SIGINT, expecting status 0. Prints one "HOTPLUG <name> PASS|FAIL <why>" line per scheduler.
failures=0

wait_state() { # wait_state WANT SECONDS
	i=0
	while [ "$(cat /sys/kernel/sched_ext/state)" != "$1" ] && [ $i -lt $(($2 * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(cat /sys/kernel/sched_ext/state)" = "$1" ]
}

# The number of times the scheduler was enabled so far (bumped on every attach).
enable_seq() { cat /sys/kernel/sched_ext/enable_seq; }

flip_cpu1() { # flip_cpu1 0|1 LABEL: set CPU 1's online state, expect a fresh attach
	seq=$(enable_seq)
	echo "$1" >/sys/devices/system/cpu/cpu1/online || why="$why $2-failed"
	i=0
	while [ "$(enable_seq)" = "$seq" ] && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(enable_seq)" != "$seq" ] || why="$why no-reattach-after-$2"
	wait_state enabled 30 || why="$why not-enabled-after-$2"
}

for sched in "$@"; do
	name=$(basename "$sched")
	why=
	/vmtest/scx_vmtest guest-exec -- "$sched" >/tmp/$name.log 2>&1 &
	pid=$!
	wait_state enabled 30 || why="$why never-attached"

	# Each flip makes the kernel eject the scheduler; the loader must attach again by itself.
	flip_cpu1 0 offline
	kill -0 $pid 2>/dev/null || why="$why loader-died"
	flip_cpu1 1 online

	kill -INT $pid 2>/dev/null
	wait $pid
	status=$?
	[ $status = 0 ] || why="$why exit=$status"
	wait_state disabled 15 || why="$why not-detached"
	grep -qi "restart" /tmp/$name.log || why="$why restart-not-reported"

	echo "---- log of $name ----"
	cat /tmp/$name.log
	if [ -z "$why" ]; then
		echo "HOTPLUG $name PASS"
	else
		echo "HOTPLUG $name FAIL$why"
		failures=$((failures + 1))
	fi
done
exit $failures
