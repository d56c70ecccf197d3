#!/bin/sh
# In the guest (started by bench/run.sh; POSIX sh, busybox): measure every workload under the
# kernel's default scheduler (EEVDF) and under each scheduler of the spec file, interleaved
# round by round so that drifts of the emulator hit all alike.
#
#   ROUNDS=3 SECS=5 [WORKLOAD=standard|layers] sh guest.sh SPECFILE
#
# WORKLOAD=standard (default) measures every workload below; WORKLOAD=layers measures only the
# load of scx_layered's issue: 4 hogs in cgroup /batch, 2 in the root cgroup, and cyclictest
# running as "latcyclic" (the name the config's preempting layer matches), its wake-ups traced
# (wake_trace_* in guest-lib.sh) for the wake-up latency without the timer interrupt's lateness.
#
# SPECFILE: one scheduler a line, "LABEL<tab>OPS<tab>COMMAND LINE", OPS being the name
# /sys/kernel/sched_ext/root/ops must show while it is attached.
#
# Output (stdout), one fact a line:
#   BENCH-META key=value ...              kernel, vCPUs, rounds, seconds, calibration
#   BENCH LABEL ROUND METRIC VALUE        one measurement (units in the metric's name)
#   BENCH-INVALID LABEL ROUND WHY         this round of LABEL measured something else: run.sh
#                                         drops all of LABEL's values of that round
#   BENCH-NOTE text                       anything worth reading (a loader's log tail, ...)
#   BENCH-TIME LABEL ROUND SECS           guest seconds the round of LABEL took
#   BENCH-STEP LABEL ROUND STEP SECS      guest seconds of one step (where the time goes)
#
# A round counts only if it measured what it says. Before and after each measurement:
# - EEVDF: /sys/kernel/sched_ext/state reads "disabled";
# - a scheduler: state reads "enabled", root/ops reads its OPS, its loader is alive, the
#   kernel's enable_seq (when it has one) has not moved since the attach, and this shell's
#   /proc/$$/sched says it runs in the ext class (ext.enabled, when the kernel prints it:
#   a scheduler started with --partial would leave it 0).
# Before a scheduler starts, the previous one must be gone (state "disabled").
set -u
rounds=${ROUNDS:-3}
secs=${SECS:-5}
hackbench_args=${HACKBENCH_ARGS:--g 2 -f 10 -l 100}
workload=${WORKLOAD:-standard}
specs=$1
# shellcheck source=guest-lib.sh
. /usr/bin/bench-lib.sh
ncpu=$(nproc)
nhogs=$((ncpu * 2))
# (the layers workload has 6: 4 in /batch, 2 in the root cgroup)
[ "$workload" != layers ] || nhogs=6

# The checks read with the shell's own `read` into variables, as get_state does (bench-lib.sh).
get_ops() { op=""; read -r op <"$SCX/root/ops" 2>/dev/null; }
get_seq() { sq=""; read -r sq <"$SCX/enable_seq" 2>/dev/null; }
# ext.enabled of this shell ("" when the kernel does not print it).
get_ext() {
	ext=""
	while read -r k _ v; do
		[ "$k" != ext.enabled ] || { ext=$v; break; }
	done <"/proc/$$/sched"
}
uptime_s() { u=0; read -r u _ </proc/uptime; echo "${u%%.*}"; }
# step NAME: print the guest seconds since the previous step (where the time goes).
step() {
	read -r u _ </proc/uptime
	c=${u#*.}
	u=$((${u%%.*} * 100 + ${c#0}))
	echo "BENCH-STEP $label $round $1 $(( (u - step_t) / 100 )).$(( (u - step_t) % 100 / 10 ))"
	step_t=$u
}
step_t=0
# check WHEN: is the scheduler of this round ($label, $want_ops, $pid, $seq0) in charge?
# Appends to $why when not.
check() {
	get_state
	get_ops
	get_ext
	if [ "$label" = eevdf ]; then
		[ "$st" = disabled ] || why="$why${why:+; }$1: state $st ops $op"
		[ "$ext" != 1 ] || why="$why${why:+; }$1: shell on ext"
		return
	fi
	get_seq
	[ "$st" = enabled ] || why="$why${why:+; }$1: state $st"
	[ "$op" = "$want_ops" ] || why="$why${why:+; }$1: ops '$op' not '$want_ops'"
	kill -0 "$pid" 2>/dev/null || why="$why${why:+; }$1: loader gone"
	[ "$sq" = "$seq0" ] || why="$why${why:+; }$1: enable_seq moved"
	[ "$ext" != 0 ] || why="$why${why:+; }$1: shell not on ext"
}

# hogs_start STOPFILE: 2 busy loops per vCPU (frames hog) that stop by themselves the moment
# STOPFILE appears, i.e. when the measurement ends: cyclictest creates its histogram file only
# after it stopped measuring, frames run -s creates it after its last frame. Nothing of the
# measurement's own wind-down then runs on hogged vCPUs (under emulation that cost seconds).
hogs_start() {
	hogs_reset "$1"
	hogs_spawn "$nhogs" >/tmp/hogs.0.out
	sleep 0.5
}
hogs_stop() {
	: >>"$hogfile"
	# shellcheck disable=SC2086 # a list of pids
	wait $hogpids
	for f in /tmp/hogs.*.out; do
		read -r hogs_said <"$f"
		case $hogs_said in
		*stopped=file) ;;
		*) echo "BENCH-NOTE $label round $round: hogs: ${hogs_said:-no report}" ;;
		esac
	done
	rm -f /tmp/hogs.*.out
}

emit() { echo "BENCH $label $round $1 $2"; }

# cyclictest as bench-lib.sh runs it, its histogram in /tmp/hist.PREFIX.
cyclic() { # cyclic PREFIX [BINARY]
	cyclictest_run "${2:-cyclictest}" "$secs" "/tmp/hist.$1"
}
cyclic_result() { # cyclic_result PREFIX: read the histogram (after the hogs are gone)
	r=$(cyclichist "/tmp/hist.$1" 2>/dev/null)
	for kv in $r; do
		case $kv in
		avg_us=*) emit "$1_avg_us" "${kv#*=}" ;;
		p99_us=*) emit "$1_p99_us" "${kv#*=}" ;;
		p99_over=1) echo "BENCH-NOTE $label round $round: $1 p99 beyond the 100 ms histogram (lower bound)" ;;
		esac
	done
	[ -n "$r" ] || echo "BENCH-NOTE $label round $round: $1: no cyclictest histogram"
}

# measure_all: every workload, each between two checks; stops at the first failed check (the
# round is dropped anyway, and an ejected scheduler should not cost the whole run's time).
measure_all() {
	step start
	check "before idle latency"
	[ -z "$why" ] || return
	cyclic lat_idle
	check "after idle latency"
	[ -z "$why" ] || return
	cyclic_result lat_idle
	step lat_idle

	hogs_start /tmp/hist.lat_hog
	check "before latency under hogs"
	[ -z "$why" ] && cyclic lat_hog
	check "after latency under hogs"
	hogs_stop
	[ -z "$why" ] || return
	cyclic_result lat_hog
	step lat_hog

	# shellcheck disable=SC2086 # the arguments are a list on purpose
	t=$(hackbench $hackbench_args 2>/dev/null | sed -n 's/^Time: *\([0-9.]*\).*/\1/p')
	check "after hackbench"
	[ -z "$why" ] || return
	[ -n "$t" ] && emit hackbench_s "$t"
	step hackbench

	stress-ng --cpu "$ncpu" --pipe "$ncpu" --timeout "${secs}s" --metrics-brief --temp-path /tmp \
		>/tmp/stress.log 2>&1
	check "after stress-ng"
	[ -z "$why" ] || return
	v=$(awk 'NF == 10 && $4 == "cpu" { print $9 }' /tmp/stress.log)
	[ -n "$v" ] && emit stress_cpu_ops_s "$v"
	v=$(awk 'NF == 10 && $4 == "pipe" { print $9 }' /tmp/stress.log)
	[ -n "$v" ] && emit stress_pipe_ops_s "$v"
	step stress-ng

	hogs_start /tmp/frames.done
	check "before frames"
	r=""
	[ -z "$why" ] && r=$(frames run -l "$loops" -p 16667 -w 4000 -d "$secs" -s /tmp/frames.done)
	check "after frames"
	hogs_stop
	[ -z "$why" ] || return
	nf=0 nl=0
	for kv in $r; do
		case $kv in
		frames=*) nf=${kv#*=} ;;
		late=*) nl=${kv#*=} ;;
		p99_late_us=*) emit frames_p99_late_us "${kv#*=}" ;;
		esac
	done
	[ -n "$r" ] && emit frames_late_pct "$(awk -v l="$nl" -v n="$nf" 'BEGIN { printf "%.2f", n ? 100 * l / n : 100 }')"
	step frames
	return 0
}

# cpu0_jiffies: CPU 0's idle (idle + iowait) and total jiffies from /proc/stat.
cpu0_jiffies() {
	awk '$1 == "cpu0" { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}

# measure_layers: the layers workload. The hogs keep their cgroups across rounds' schedulers; the
# scheduler's config decides what the cgroups mean (bench/layers.json for scx_layered).
measure_layers() {
	step start
	hogs_reset /tmp/hist.lat_layers
	hogs_spawn 4 "$CG/batch" >/tmp/hogs.0.out
	hogs_spawn 2 >/tmp/hogs.1.out
	sleep 1
	check "before latency under the layers load"
	c0=$(cpu0_jiffies)
	wake_trace_start latcyclic
	[ -z "$why" ] && cyclic lat_layers latcyclic
	wake_trace_stop
	c1=$(cpu0_jiffies)
	check "after latency under the layers load"
	hogs_stop
	[ -z "$why" ] || return
	cyclic_result lat_layers
	# The wake-up latency proper, without the timer interrupt's lateness (bench-lib.sh).
	r=$(wake_trace_result)
	for kv in $r; do
		case $kv in
		samples=*) ;;
		*) emit "lat_layers_${kv%%=*}" "${kv#*=}" ;;
		esac
	done
	[ -n "$r" ] || echo "BENCH-NOTE $label round $round: no traced wake-ups of latcyclic"
	# Not a figure of merit: how much CPU 0, where cyclictest's measuring thread runs, sat idle
	# (the rounds' wake-up-to-run averages follow it, their cyclictest averages do not:
	# bench/README.md, "Timer lateness is the emulator's").
	emit lat_layers_cpu0_idle_pct "$(echo "$c0 $c1" |
		awk '{ t = $4 - $2; printf "%.1f", (t > 0 ? 100 * ($3 - $1) / t : 0) }')"
	step lat_layers
	return 0
}

finish_round() {
	[ -z "$why" ] || echo "BENCH-INVALID $label $round $why"
}

get_state
[ "$st" = disabled ] || { echo "BENCH-NOTE sched_ext state is $st at the start"; exit 1; }
get_ext
get_seq
echo "BENCH-META kernel=$(uname -r) vcpus=$ncpu workload=$workload rounds=$rounds secs=$secs hogs=$nhogs hackbench='$hackbench_args' ext_enabled_visible=$([ -n "$ext" ] && echo yes || echo no) enable_seq_visible=$([ -n "$sq" ] && echo yes || echo no)"

# The frame task's work: 4 ms of the calibrated busy loop per 16.7 ms period. Calibrated once
# per boot under EEVDF with nothing else runnable on its CPU, while every other vCPU runs a
# pinned spinner (frames calibrate -b), so that the emulator, which runs one vCPU at a time, is
# as busy as under the hogs (with idle vCPUs the loop runs 2-4 times faster than when all are
# busy, and 4 ms of idle-emulator work would not fit in a period on 4 busy vCPUs under any
# scheduler). The same loop count serves every scheduler of the boot. The idle-emulator figure
# is recorded too.
CG=/sys/fs/cgroup
if [ "$workload" = layers ]; then
	grep -q " $CG cgroup2" /proc/mounts || mount -t cgroup2 none $CG
	mkdir -p $CG/batch
	command -v latcyclic >/dev/null || { echo "BENCH-NOTE no latcyclic (cyclictest under that name)"; exit 1; }
	measure_all() { measure_layers; }
else
	loops=$(frames calibrate -b | sed -n 's/^loops_per_ms=//p')
	loops_idle=$(frames calibrate | sed -n 's/^loops_per_ms=//p')
	echo "BENCH-META loops_per_ms=$loops loops_per_ms_idle_emulator=$loops_idle"
	[ -n "$loops" ] && [ "$loops" -gt 0 ] || { echo "BENCH-NOTE frames calibration failed"; exit 1; }
fi

tab=$(printf '\t')
round=1
while [ $round -le "$rounds" ]; do
	label=eevdf why="" pid="" want_ops="" seq0=""
	t0=$(uptime_s)
	measure_all
	finish_round
	echo "BENCH-TIME $label $round $(($(uptime_s) - t0))"
	while IFS="$tab" read -r label want_ops cmd <&3; do
		[ -n "$label" ] || continue
		why=""
		t0=$(uptime_s)
		step begin
		wait_state disabled 15
		if [ "$st" != disabled ]; then
			get_ops
			echo "BENCH-INVALID $label $round not started: state $st ops $op before its start"
			continue
		fi
		get_seq
		seq_before=$sq
		# shellcheck disable=SC2086 # $cmd is a command line on purpose.
		/vmtest/scx_vmtest guest-exec -- $cmd </dev/null >"/tmp/$label.log" 2>&1 &
		pid=$!
		# Attached: state enabled with this scheduler's ops and, when the kernel has one,
		# enable_seq past its value before the start (the kernel bumps it just after the state
		# reads enabled: reading it too early made the first check see it move). At most 30 s,
		# while the loader lives.
		i=0
		get_state
		get_ops
		get_seq
		while { [ "$st" != enabled ] || [ "$op" != "$want_ops" ] ||
			{ [ -n "$sq" ] && [ "$sq" = "$seq_before" ]; }; } && [ $i -lt 300 ] &&
			kill -0 $pid 2>/dev/null; do
			sleep 0.1
			i=$((i + 1))
			get_state
			get_ops
			get_seq
		done
		seq0=$sq
		step attach
		check "at attach"
		if [ -z "$why" ]; then
			measure_all
		fi
		finish_round
		kill -INT $pid 2>/dev/null
		wait $pid
		rc=$?
		if [ -n "$why" ] || [ $rc -ne 0 ]; then
			echo "BENCH-NOTE $label round $round: loader exit $rc; its log ends with:"
			tail -n 5 "/tmp/$label.log" | sed 's/^/BENCH-NOTE   /'
		fi
		step detach
		echo "BENCH-TIME $label $round $(($(uptime_s) - t0))"
	done 3<"$specs"
	round=$((round + 1))
done
wait_state disabled 15
echo "BENCH-END"
