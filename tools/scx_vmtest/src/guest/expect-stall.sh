# Scenario expect-stall: the kernel watchdog must eject a broken scheduler.
#
# Contract with the scheduler under test: its BPF side never dispatches tasks whose comm is
# "stallme". After attach, this check starts /tmp/stallme, a CPU-bound shell script (a
# script run directly gets its file name as comm). The scheduler passes when, without any
# signal from us, sched_ext reaches state disabled within 90 s (the watchdog
# fires between timeout_ms and 1.5 x timeout_ms, at most 45 s with the 30 s default), the loader exits by itself
# with a non-zero status, its output mentions the stall (case-insensitive "stall"), and
# there is no oops.

check() {
	idx=$1 name=$2 bin=$3 args=$4
	why=
	dmesg_mark "$idx"
	printf '#!/bin/sh\nwhile :; do :; done\n' >/tmp/stallme
	chmod 755 /tmp/stallme
	start_sched "$idx" "$bin" "$args"
	attach
	EJECTED=no SELF_EXIT=no STALL_MSG=no STALL_PID=
	if [ "$ATTACHED" = yes ]; then
		t0=$(now_cs)
		/tmp/stallme &
		STALL_PID=$!
		wait_state disabled 90 && EJECTED=yes
		echo "METRIC sched=$name eject_cs=$(($(now_cs) - t0))"
		wait_gone "$SCHED_PID" 15 && SELF_EXIT=yes
	else
		why="$why,attach"
	fi
	if [ "$SELF_EXIT" = yes ]; then
		wait "$SCHED_PID"
		EXIT=$?
	else
		stop_sched
		wait_state disabled 15
	fi
	[ -n "$STALL_PID" ] && kill -KILL "$STALL_PID" 2>/dev/null && wait "$STALL_PID" 2>/dev/null
	grep -qi stall "$SCHED_LOG" && STALL_MSG=yes
	scan_dmesg "$idx"

	if [ "$ATTACHED" = yes ]; then
		[ "$EJECTED" = yes ] || why="$why,ejected"
		[ "$SELF_EXIT" = yes ] || why="$why,self_exit"
		[ "$EXIT" -ne 0 ] || why="$why,exit"
		[ "$STALL_MSG" = yes ] || why="$why,stall_msg"
	fi
	[ "$OOPS" = no ] || why="$why,oops"

	conclude "$idx" "$name"
	echo "RESULT sched=$name kernel=$VMTEST_KERNEL scenario=expect-stall attached=$ATTACHED ops=$OPS ejected=$EJECTED self_exit=$SELF_EXIT exit=$EXIT stall_msg=$STALL_MSG oops=$OOPS verdict=$VERDICT${why:+ why=${why#,}}"
}
