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
#
# It also checks the responsiveness probe's witness (src/witness.rs) the other way round: a
# scheduler that starves a task is not a guest-wide stall, so the witness, running through the
# starvation, must excuse less than half of it (witness=ok). Otherwise load_finish would take a
# scheduler's own starvation off the probe's sleeps and pass it.

check() {
	idx=$1 name=$2 bin=$3 args=$4
	why=
	dmesg_mark "$idx"
	printf '#!/bin/sh\nwhile :; do :; done\n' >/tmp/stallme
	chmod 755 /tmp/stallme
	start_sched "$idx" "$bin" "$args"
	attach
	EJECTED=no SELF_EXIT=no KIND=no VICTIM=no WITNESS=no STALL_PID=
	if [ "$ATTACHED" = yes ]; then
		witness_start
		t0=$(now_cs)
		/tmp/stallme &
		STALL_PID=$!
		wait_state disabled 90 && EJECTED=yes
		t1=$(now_cs)
		wfailed=no
		witness_stop && wfailed=yes
		# The starved task's whole wait as one "slow sleep": what the witness leaves of it.
		echo "$t0 $t1" >/tmp/starved.span
		j=$(witness_judge 0 /tmp/starved.span) || j="0 -"
		[ $wfailed = no ] && [ $((${j% *} * 2)) -gt $((t1 - t0)) ] && WITNESS=ok
		echo "METRIC sched=$name eject_cs=$((t1 - t0)) victim_pid=$STALL_PID" \
			"unexcused_cs=${j% *} witness_stall_cs=${j#* }"
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
		[ "$WITNESS" = ok ] || why="$why,witness"
	fi
	[ "$OOPS" = no ] || why="$why,oops"

	conclude "$idx" "$name"
	echo "RESULT sched=$name kernel=$VMTEST_KERNEL scenario=expect-stall attached=$ATTACHED ops=$OPS ejected=$EJECTED self_exit=$SELF_EXIT exit=$EXIT kind=$KIND victim=$VICTIM witness=$WITNESS oops=$OOPS verdict=$VERDICT${why:+ why=${why#,}}"
}
