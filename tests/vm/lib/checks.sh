# Helpers and checks shared by the guest scripts under tests/vm (copied into the guest as
# /usr/bin/scx-checks.sh), sourced after setting TAG (the word each result line starts with)
# and, for check_stress, the scheduler's loader PID in pid. Each check prints
# "TAG <check> PASS|FAIL <detail>" and counts its failures in failures.
failures=0
pass() { echo "$TAG $1 PASS ${2:-}"; }
fail() {
	echo "$TAG $1 FAIL ${2:-}"
	failures=$((failures + 1))
}

hog() { while :; do :; done; }

# sched_state: sched_ext's state (enabled, disabled, ...).
sched_state() { cat /sys/kernel/sched_ext/state; }

# wait_for SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds, for at most SECONDS;
# true if it did. Every wait in the guest scripts is bounded, so a hang shows up as a failure
# with a log, not as the guest's timeout with nothing to read.
wait_for() {
	_wait_left=$(($1 * 10))
	shift
	until "$@"; do
		[ "$_wait_left" -gt 0 ] || return 1
		sleep 0.1
		_wait_left=$((_wait_left - 1))
	done
}

# state_is WANT: sched_ext is in state WANT.
state_is() { [ "$(sched_state)" = "$1" ]; }

# gone PID: the process has exited.
gone() { ! kill -0 "$1" 2>/dev/null; }

# wait_state WANT [SECONDS]: wait up to SECONDS (default 30) for sched_ext to be in state WANT;
# true if it got there. bench/guest-lib.sh has the same contract (the benchmark's guest).
wait_state() { wait_for "${2:-30}" state_is "$1"; }

# cpu_busy SECS: per-CPU busy percent over SECS, "97 99 3 0" (cpu0 first).
cpu_busy() {
	grep '^cpu[0-9]' /proc/stat >/tmp/stat.a
	sleep "$1"
	grep '^cpu[0-9]' /proc/stat >/tmp/stat.b
	paste /tmp/stat.a /tmp/stat.b | awk '{
		n = (NF - 2) / 2; ta = 0; tb = 0
		for (i = 2; i <= n + 1; i++) ta += $i
		for (i = n + 3; i <= NF; i++) tb += $i
		ia = $5 + $6; ib = $(n + 1 + 5) + $(n + 1 + 6)
		busy = (tb - ta) - (ib - ia)
		printf "%d ", (tb - ta) ? 100 * busy / (tb - ta) : 0
	}'
}

# thread_named COMM: the TID of a thread named COMM (any process), or nothing.
thread_named() {
	for _t in /proc/[0-9]*/task/[0-9]*; do
		[ "$(cat "$_t/comm" 2>/dev/null)" = "$1" ] && { echo "${_t##*/}"; return; }
	done
}

# trace_waits_start TID, trace_waits_stop BOUND_US: trace one thread's waits from its wake-up
# (sched_waking) to its run (sched_switch onto it) with tracefs in between; the stop sets
# TW_WAITS (how many), TW_OVER (how many were longer than BOUND_US) and TW_MAX (µs). What the
# run queue delay of /proc/PID/schedstat cannot tell: its sum hides whether a few were long.
TRACEFS=/sys/kernel/tracing
trace_waits_start() {
	grep -q " $TRACEFS tracefs" /proc/mounts || mount -t tracefs none $TRACEFS || return 1
	echo 0 >$TRACEFS/tracing_on
	echo >$TRACEFS/trace
	echo 2048 >$TRACEFS/buffer_size_kb
	echo "pid == $1" >$TRACEFS/events/sched/sched_waking/filter
	echo "next_pid == $1" >$TRACEFS/events/sched/sched_switch/filter
	echo 1 >$TRACEFS/events/sched/sched_waking/enable
	echo 1 >$TRACEFS/events/sched/sched_switch/enable
	echo 1 >$TRACEFS/tracing_on
}
trace_waits_stop() {
	echo 0 >$TRACEFS/tracing_on
	for _e in sched_waking sched_switch; do
		echo 0 >$TRACEFS/events/sched/$_e/enable
		echo 0 >$TRACEFS/events/sched/$_e/filter
	done
	awk -v bound="$1" '
		{
			for (i = 1; i < NF; i++)
				if ($i ~ /^[0-9]+\.[0-9]+:$/) break
			if (i >= NF) next
			t = substr($i, 1, length($i) - 1) * 1e6
			if ($(i + 1) == "sched_waking:") { if (w == "") w = t }
			else if ($(i + 1) == "sched_switch:" && w != "") {
				d = t - w; w = ""; n++
				if (d > bound) over++
				if (d > max) max = d
			}
		}
		END { printf "%d %d %d\n", n, over, max }' $TRACEFS/trace >/tmp/trace_waits.out
	read -r TW_WAITS TW_OVER TW_MAX </tmp/trace_waits.out
}

# start_hogs N: N CPU hogs in the background, their PIDs in hogs.
start_hogs() {
	hogs= _n=$1
	while [ "$_n" -gt 0 ]; do
		hog &
		hogs="$hogs $!" _n=$((_n - 1))
	done
}

# on_cpu PID: the CPU the task last ran on.
on_cpu() { awk '{ print $39 }' "/proc/$1/stat" 2>/dev/null; }

# ticks PID: utime + stime in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }

# fairness: nice 0 and nice 5 hogs sharing CPU 3 get CPU time 1024 : 335 (3.06), +- 10 %.
check_fairness() {
	hog &
	a=$!
	hog &
	b=$!
	renice -n 5 -p $b >/dev/null
	taskset -p 8 $a >/dev/null
	taskset -p 8 $b >/dev/null
	sleep 2
	a0=$(ticks $a) b0=$(ticks $b)
	sleep 8
	a1=$(ticks $a) b1=$(ticks $b)
	kill $a $b 2>/dev/null
	wait $a $b 2>/dev/null
	da=$((a1 - a0)) db=$((b1 - b0))
	ratio=$((db > 0 ? 100 * da / db : 0))
	if [ $ratio -ge 275 ] && [ $ratio -le 337 ]; then
		pass fairness "nice0 $da ticks, nice5 $db ticks, ratio x100 $ratio"
	else
		fail fairness "nice0 $da ticks, nice5 $db ticks, ratio x100 $ratio (want 275..337)"
	fi
}

# light: a nice 19 hog sharing CPU 3 with four nice 0 hogs gets its small share often enough,
# never off the CPU for more than 2 s in 8 s (sampled every 0.1 s from its schedstat runtime).
# Exact weighted fairness without bounds charges one 20 ms run of a weight-1 task 2 s of vtime,
# which four nice 0 tasks take 8 s to catch up: under heavier load the kernel's watchdog
# (30 s) ejects the scheduler, as khugepaged made it do under the stress mix.
check_light() {
	start_hogs 4
	hog &
	l=$!
	renice -n 19 -p $l >/dev/null
	for h in $hogs $l; do taskset -p 8 "$h" >/dev/null; done
	sleep 1
	gap=$(
		last=$(cut -d' ' -f1 "/proc/$l/schedstat")
		t_last=$(cut -d' ' -f1 /proc/uptime)
		t_end=$(echo "$t_last" | awk '{ print $1 + 8 }')
		max=0
		while :; do
			sleep 0.1
			now=$(cut -d' ' -f1 /proc/uptime)
			run=$(cut -d' ' -f1 "/proc/$l/schedstat")
			over=$(awk -v n="$now" -v e="$t_end" 'BEGIN { print (n >= e) }')
			if [ "$run" != "$last" ] || [ "$over" = 1 ]; then
				max=$(awk -v m="$max" -v a="$t_last" -v b="$now" 'BEGIN { g = b - a; print (g > m) ? g : m }')
				last=$run t_last=$now
			fi
			[ "$over" = 1 ] && break
		done
		echo "$max"
	)
	share=$(awk '{ print $1 }' "/proc/$l/schedstat")
	kill $hogs $l 2>/dev/null
	wait $hogs $l 2>/dev/null
	if awk -v g="$gap" 'BEGIN { exit !(g > 0 && g <= 2.0) }'; then
		pass light "nice 19 hog beside 4 nice 0 hogs: longest time off the CPU ${gap} s, ran $((share / 1000000)) ms in 9 s"
	else
		fail light "nice 19 hog beside 4 nice 0 hogs: longest time off the CPU ${gap} s (want <= 2.0), ran $((share / 1000000)) ms in 9 s"
	fi
}

# starvation: the shared stress-ng mix for STRESS_SECS; no stall, no warning, still attached.
check_stress() {
	stress-ng --cpu 4 --fork 2 --pipe 2 --switch 2 --futex 2 --timeout "${STRESS_SECS}s" >/tmp/stress.log 2>&1
	st=$?
	state=$(cat /sys/kernel/sched_ext/state)
	warn=$(dmesg | grep -iE 'stall|WARNING|BUG|Oops|sched_ext: .*(error|disabled)' | head -n 3)
	if [ $st = 0 ] && [ "$state" = enabled ] && kill -0 "$pid" 2>/dev/null && [ -z "$warn" ]; then
		pass starvation "stress-ng ${STRESS_SECS}s"
	else
		fail starvation "stress-ng status $st, state $state, dmesg: $warn"
		tail -n 5 /tmp/stress.log
	fi
}

# stat_of LOADER NAME: the running scheduler's counter NAME (total since attach), read from its
# stats socket by LOADER --monitor --json.
stat_of() {
	"$1" --monitor 0.5 --json 2>/dev/null | head -n 1 |
		sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"
}

# check_rcu_readers LOADER: run after check_stress. Tasks preempted inside an RCU read-side
# section were seen and sent back to their CPU (scx_rcu_reader_preempted): a few a second under
# the stress mix; 0 would mean the kernel's flag for them is never read as set.
check_rcu_readers() {
	rr=$(stat_of "$1" rcu_readers)
	if [ "${rr:-0}" -gt 0 ]; then
		pass rcu-readers "rcu_readers=$rr"
	else
		fail rcu-readers "no task preempted in an RCU read-side section was seen (rcu_readers=${rr:-none})"
	fi
}
