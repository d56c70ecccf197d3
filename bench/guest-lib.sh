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

# The wake-up latency proper of a task named $1 (the layers workload's latcyclic), apart from
# the lateness of the timer interrupt that wakes it. tracefs records the task's wake-ups
# (sched_waking), the switches onto it (sched_switch) and its returns from clock_nanosleep
# (x86-64 syscall 230). Wake-up to run, from the first to the second, is the scheduler's share
# (what runqlat and perf sched latency call the wake-up latency); wake-up to user space, to
# the third, adds the kernel's way back to the thread. cyclictest's own figure also holds the
# timer interrupt's lateness, under the emulator the vCPUs' turn-taking (bench/README.md,
# "Timer lateness is the emulator's").
TRACEFS=/sys/kernel/tracing
tracefs_mount() {
	grep -q " $TRACEFS tracefs" /proc/mounts || mount -t tracefs none $TRACEFS
}
# nanosleep_exits [COMM]: raw_syscalls/sys_exit records only returns from clock_nanosleep
# (x86-64 syscall 230), of tasks named COMM if given (where the kernel filters on comm).
nanosleep_exits() {
	f=$TRACEFS/events/raw_syscalls/sys_exit/filter
	{ [ -n "${1:-}" ] && echo "id == 230 && comm == \"$1\"" >$f 2>/dev/null; } ||
		echo "id == 230" >$f
}
wake_trace_start() {
	tracefs_mount
	echo 0 >$TRACEFS/tracing_on
	echo >$TRACEFS/trace
	echo 4096 >$TRACEFS/buffer_size_kb
	echo "comm == \"$1\"" >$TRACEFS/events/sched/sched_waking/filter
	echo "next_comm == \"$1\"" >$TRACEFS/events/sched/sched_switch/filter
	nanosleep_exits "$1"
	for e in sched/sched_waking sched/sched_switch raw_syscalls/sys_exit; do
		echo 1 >$TRACEFS/events/$e/enable
	done
	echo 1 >$TRACEFS/tracing_on
}
wake_trace_stop() {
	echo 0 >$TRACEFS/tracing_on
	for e in sched/sched_waking sched/sched_switch raw_syscalls/sys_exit; do
		echo 0 >$TRACEFS/events/$e/enable
		echo 0 >$TRACEFS/events/$e/filter
	done
}
# wake_trace_result: "run_avg_us=N run_p99_us=N user_avg_us=N user_p99_us=N samples=N" (p99s
# the nearest rank, as cyclichist's) of the thread with the most wake-ups (cyclictest's
# measuring thread), or nothing.
wake_trace_result() {
	awk '{
		ts = ""
		for (i = 1; i < NF; i++)
			if ($i ~ /^[0-9]+\.[0-9]+:$/) { ts = substr($i, 1, length($i) - 1); ev = $(i + 1); break }
		if (ts == "") next
		if (ev == "sched_waking:") {
			for (j = i + 2; j <= NF; j++)
				if ($j ~ /^pid=/) { p = substr($j, 5); if (!(p in w)) w[p] = ts }
		} else if (ev == "sched_switch:") {
			for (j = i + 2; j <= NF; j++)
				if ($j ~ /^next_pid=/) { p = substr($j, 10); if ((p in w) && !(p in r)) r[p] = ts }
		} else if (ev == "sys_exit:") {
			p = $1; sub(/.*-/, "", p)
			if ((p in w) && (p in r))
				printf "%s %.0f %.0f\n", p, (r[p] - w[p]) * 1e6, (ts - w[p]) * 1e6
			delete w[p]; delete r[p]
		}
	}' $TRACEFS/trace >/tmp/wake.pairs
	best=$(cut -d' ' -f1 /tmp/wake.pairs | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2 }')
	[ -n "$best" ] || return 0
	for col in 2 3; do
		awk -v p="$best" -v c=$col '$1 == p { print $c }' /tmp/wake.pairs | sort -n | awk -v c=$col '
			{ v[NR] = $1; s += $1 }
			END {
				if (!NR) exit
				r = int(NR * 0.99); if (r < NR * 0.99) r++; if (r < 1) r = 1
				k = c == 2 ? "run" : "user"
				printf "%s_avg_us=%.0f %s_p99_us=%d samples=%d\n", k, s / NR, k, v[r], NR
			}'
	done
}
