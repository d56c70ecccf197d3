# Guest-side pieces shared by bench/guest.sh (the benchmark) and bench/trace-guest.sh (its traced
# diagnostic), sourced from /usr/bin/bench-lib.sh: the same cyclictest, the same hogs and the
# same wait for the sched_ext state, so a trace measures what the benchmark measures.
SCX=/sys/kernel/sched_ext

# The checks read with the shell's own `read` into variables: no process, not even a subshell
# (a process costs ~35 ms under emulation, and there are a dozen checks per round).
get_state() { st=missing; read -r st <"$SCX/state" 2>/dev/null; }

# wait_state WANT [SECONDS]: wait up to SECONDS (default 30) for the state WANT; true if it got
# there. The same contract as tests/vm/lib/checks.sh's, without its subshells; leaves the last
# state read in $st.
wait_state() {
	i=0
	get_state
	while [ "$st" != "$1" ] && [ $i -lt $((${2:-30} * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
		get_state
	done
	[ "$st" = "$1" ]
}

# cyclictest_run BINARY SECS HISTFILE: one SCHED_OTHER thread (no -p: an RT thread would bypass
# sched_ext), 5 ms absolute-deadline periods, histogram up to 100 ms in 1 us buckets (a larger
# one costs seconds of emulated time to write and read back).
cyclictest_run() {
	rm -f "$3"
	"$1" -q -m -t 1 -i 5000 -D "$2" -h 100000 --histfile="$3" >/dev/null 2>&1
}

# hogs_reset STOPFILE: the next hogs_spawn's hogs stop when STOPFILE appears.
hogs_reset() {
	hogfile=$1
	rm -f "$hogfile"
	hogpids=""
}
# hogs_spawn N [CGROUP]: N hogs (in CGROUP, a cgroup2 directory, if given) that stop with
# $hogfile, or after 2 × $secs + 60 s at the latest; output to stdout; pids in $hogpids.
hogs_spawn() {
	if [ -z "${2:-}" ]; then
		frames hog -n "$1" -w "$hogfile" -t $((secs * 2 + 60)) 2>&1 &
	else
		# (a shell that moves itself into the cgroup, then becomes the hogs' parent)
		# shellcheck disable=SC2016 # $$ is the inner shell's pid on purpose
		sh -c 'echo $$ >"$1/cgroup.procs" && exec frames hog -n "$2" -w "$3" -t "$4"' \
			hogs "$2" "$1" "$hogfile" $((secs * 2 + 60)) 2>&1 &
	fi
	hogpids="$hogpids $!"
}
