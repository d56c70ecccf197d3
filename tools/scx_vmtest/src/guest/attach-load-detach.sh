# Scenario attach-load-detach: the normal life of a scheduler.
#   attach (state enabled within 30 s) -> hackbench + stress-ng, with a responsiveness
#   probe -> still enabled and alive -> SIGINT -> exits 0 within 15 s, state disabled ->
#   no oops and no sched_ext error in dmesg.

check() {
	idx=$1 name=$2 bin=$3 args=$4
	why=
	dmesg_mark "$idx"
	start_sched "$idx" "$bin" "$args"
	attach
	LOAD=skipped RESPONSIVE=- SURVIVED=- DETACHED=no
	if [ "$ATTACHED" = yes ]; then
		load_start
		load_finish
		if [ "$(scx_state)" = enabled ] && alive "$SCHED_PID"; then SURVIVED=yes; else SURVIVED=no; fi
		echo "METRIC sched=$name hackbench_cs=$HB_CS load_cs=$LOAD_CS resp_max_cs=$RESP_MAX_CS resp_sched_cs=$RESP_SCHED_CS stall_cs=$STALL_CS resp_limit_ms=$RESP_LIMIT_MS iter_max_cs=$ITER_MAX_CS probes=$PROBES"
	else
		why="$why,attach"
	fi
	stop_sched
	wait_state disabled 15 && DETACHED=yes
	scan_dmesg "$idx"

	[ "$ATTACHED" = yes ] && [ "$LOAD" != ok ] && why="$why,load"
	[ "$RESPONSIVE" = no ] && why="$why,responsive"
	[ "$SURVIVED" = no ] && why="$why,survived"
	[ "$DETACHED" = yes ] || why="$why,detached"
	[ "$EXIT" -eq 0 ] || why="$why,exit"
	[ "$OOPS" = no ] || why="$why,oops"
	[ "$BPF_ERROR" = no ] || why="$why,bpf_error"

	conclude "$idx" "$name"
	echo "RESULT sched=$name kernel=$VMTEST_KERNEL scenario=attach-load-detach attached=$ATTACHED ops=$OPS load=$LOAD responsive=$RESPONSIVE survived=$SURVIVED detached=$DETACHED exit=$EXIT oops=$OOPS bpf_error=$BPF_ERROR verdict=$VERDICT${why:+ why=${why#,}}"
}
