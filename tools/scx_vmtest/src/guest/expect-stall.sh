# Scenario expect-stall: the kernel watchdog must eject a broken scheduler.
#
# Contract with the scheduler under test: its BPF side never dispatches tasks whose comm is
# "stallme". After attach, this check starts /tmp/stallme, a CPU-bound shell script (a
# script run directly gets its file name as comm). The scheduler passes when, without any
# signal from us, sched_ext reaches state disabled within 90 s (the watchdog
# fires between timeout_ms and 1.5 x timeout_ms, at most 45 s with the 30 s default), the
# loader exits by itself with status 1 exactly, its report names the kernel's exit kind
#   <name>: scheduler <words> (kind SCX_EXIT_ERROR_STALL = 1026, exit code 0x...)
# (kind=yes), its `<name>: message:` line names the stalled task, comm "stallme" and the pid we
# started (victim=yes), and there is no oops. A banner or a log line that merely says "stall"
# proves nothing: only the kernel's exit kind and the kernel's message do.

check() {
	idx=$1 name=$2 bin=$3 args=$4
	why=
	dmesg_mark "$idx"
	printf '#!/bin/sh\nwhile :; do :; done\n' >/tmp/stallme
	chmod 755 /tmp/stallme
	start_sched "$idx" "$bin" "$args"
	attach
	EJECTED=no SELF_EXIT=no KIND=no VICTIM=no STALL_PID=
	if [ "$ATTACHED" = yes ]; then
		t0=$(now_cs)
		/tmp/stallme &
		STALL_PID=$!
		wait_state disabled 90 && EJECTED=yes
		echo "METRIC sched=$name eject_cs=$(($(now_cs) - t0)) victim_pid=$STALL_PID"
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
	stall_report "$SCHED_LOG" "$name" "$STALL_PID"
	scan_dmesg "$idx"

	if [ "$ATTACHED" = yes ]; then
		[ "$EJECTED" = yes ] || why="$why,ejected"
		[ "$SELF_EXIT" = yes ] || why="$why,self_exit"
		[ "$EXIT" -eq 1 ] || why="$why,exit"
		[ "$KIND" = yes ] || why="$why,kind"
		[ "$VICTIM" = yes ] || why="$why,victim"
	fi
	[ "$OOPS" = no ] || why="$why,oops"

	conclude "$idx" "$name"
	echo "RESULT sched=$name kernel=$VMTEST_KERNEL scenario=expect-stall attached=$ATTACHED ops=$OPS ejected=$EJECTED self_exit=$SELF_EXIT exit=$EXIT kind=$KIND victim=$VICTIM oops=$OOPS verdict=$VERDICT${why:+ why=${why#,}}"
}
