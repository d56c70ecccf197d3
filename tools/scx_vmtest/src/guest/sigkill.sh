# Scenario sigkill: the loader dies without cleaning up.
#   attach -> start hackbench + stress-ng -> kill -9 the loader after 1 s -> the kernel must
#   unregister the scheduler (state disabled within 10 s) -> the load still completes
#   (hackbench and stress-ng exit 0) -> no oops and no sched_ext error in dmesg.

check() {
	idx=$1 name=$2 bin=$3 args=$4
	why=
	dmesg_mark "$idx"
	start_sched "$idx" "$bin" "$args"
	attach
	LOAD=skipped KILLED=no DETACHED=no
	if [ "$ATTACHED" = yes ]; then
		load_start
		sleep 1
		if alive "$SCHED_PID"; then
			kill -KILL "$SCHED_PID"
			KILLED=yes
		fi
		wait_state disabled 10 && DETACHED=yes
		load_finish
		echo "METRIC sched=$name hackbench_cs=$HB_CS load_cs=$LOAD_CS resp_max_cs=$RESP_MAX_CS resp_sched_cs=$RESP_SCHED_CS stall_cs=$STALL_CS probes=$PROBES"
		wait "$SCHED_PID"
		EXIT=$?
	else
		why="$why,attach"
		stop_sched
		wait_state disabled 15 && DETACHED=yes
	fi
	scan_dmesg "$idx"

	[ "$ATTACHED" = yes ] && [ "$KILLED" = no ] && why="$why,killed"
	[ "$ATTACHED" = yes ] && [ "$LOAD" != ok ] && why="$why,load"
	[ "$DETACHED" = yes ] || why="$why,detached"
	[ "$OOPS" = no ] || why="$why,oops"
	[ "$BPF_ERROR" = no ] || why="$why,bpf_error"

	conclude "$idx" "$name"
	echo "RESULT sched=$name kernel=$VMTEST_KERNEL scenario=sigkill attached=$ATTACHED ops=$OPS killed=$KILLED detached=$DETACHED load=$LOAD oops=$OOPS bpf_error=$BPF_ERROR verdict=$VERDICT${why:+ why=${why#,}}"
}
