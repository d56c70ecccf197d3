# Scenario busy: with this scheduler attached, no other may attach or disturb it.
#   attach -> every scheduler binary of this run (INTRUDERS, this one's included) is started
#   with the arguments of its first --sched and must exit 2 within 30 s, saying "another
#   sched_ext scheduler is enabled ("<ops>")" -> the state must still read enabled with the same root/ops, the
#   scheduler alive -> SIGINT -> exits 0, state disabled -> no oops and no sched_ext error.

check() {
	idx=$1 name=$2 bin=$3 args=$4
	why=
	dmesg_mark "$idx"
	start_sched "$idx" "$bin" "$args"
	attach
	REFUSED=- UNDISTURBED=- DETACHED=no
	if [ "$ATTACHED" = yes ]; then
		REFUSED=yes UNDISTURBED=yes
		while read -r intruder iargs; do
			# shellcheck disable=SC2086 # the arguments are meant to be split
			out=$(timeout 30 "$intruder" $iargs 2>&1)
			status=$?
			echo "scx_vmtest: $intruder over $name -> exit $status: $out"
			if [ "$status" != 2 ] || ! echo "$out" | grep -qF "another sched_ext scheduler is enabled (\"$OPS\")"; then
				REFUSED=no
			fi
			if [ "$(scx_state)" != enabled ] || [ "$(scx_ops)" != "$OPS" ] || ! alive "$SCHED_PID"; then
				echo "scx_vmtest: $intruder disturbed $name: state $(scx_state), ops $(scx_ops)"
				UNDISTURBED=no
			fi
		done <<EOF
$INTRUDERS
EOF
	else
		why="$why,attach"
	fi
	stop_sched
	wait_state disabled 15 && DETACHED=yes
	scan_dmesg "$idx"

	[ "$REFUSED" = no ] && why="$why,refused"
	[ "$UNDISTURBED" = no ] && why="$why,undisturbed"
	[ "$DETACHED" = yes ] || why="$why,detached"
	[ "$EXIT" -eq 0 ] || why="$why,exit"
	[ "$OOPS" = no ] || why="$why,oops"
	[ "$BPF_ERROR" = no ] || why="$why,bpf_error"

	conclude "$idx" "$name"
	echo "RESULT sched=$name kernel=$VMTEST_KERNEL scenario=busy attached=$ATTACHED ops=$OPS refused=$REFUSED undisturbed=$UNDISTURBED detached=$DETACHED exit=$EXIT oops=$OOPS bpf_error=$BPF_ERROR verdict=$VERDICT${why:+ why=${why#,}}"
}
