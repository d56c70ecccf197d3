# Helpers shared by the scheduler scenarios (sourced by the script scx_vmtest generates).
#
# Inputs (exported by the host): VMTEST_KERNEL, LOAD_SECS, HACKBENCH_ARGS, INTRUDERS; set by the
# generated script before each check: RESP_LIMIT_MS.
# Every scenario function prints the scheduler's log and one RESULT line.

SCX=/sys/kernel/sched_ext

# Time since boot in centiseconds (/proc/uptime always has two decimals).
now_cs() {
	read -r up _ </proc/uptime
	echo $((${up%.*} * 100 + 1${up#*.} - 100))
}

# set_now: the same into NOW, without the fork of a command substitution.
set_now() {
	read -r up _ </proc/uptime
	NOW=$((${up%.*} * 100 + 1${up#*.} - 100))
}

scx_state() {
	cat "$SCX/state" 2>/dev/null || echo missing
}

scx_ops() {
	ops=$(cat "$SCX/root/ops" 2>/dev/null)
	echo "${ops:--}"
}

# alive PID: the process exists and is not a zombie. Shell built-ins only: the responsiveness
# probe calls it between its sleeps, and a fork there would be timed with them.
alive() {
	[ -e "/proc/$1/status" ] || return 1
	while read -r _key _val _; do
		if [ "$_key" = State: ]; then
			[ "$_val" != Z ]
			return
		fi
	done <"/proc/$1/status" 2>/dev/null
	return 1
}

# wait_state STATE SECS [PID]: poll until sched_ext reaches STATE (0) or SECS pass (1).
# With PID, also give up early (2) when that process is gone.
wait_state() {
	_limit=$(($(now_cs) + $2 * 100))
	while [ "$(scx_state)" != "$1" ]; do
		[ "$(now_cs)" -ge "$_limit" ] && return 1
		if [ -n "$3" ] && ! alive "$3"; then
			# One last look: the state may have flipped just before the exit.
			[ "$(scx_state)" = "$1" ] && return 0
			return 2
		fi
		sleep 0.1
	done
	return 0
}

# wait_gone PID SECS: poll until PID has exited (0) or SECS pass (1).
wait_gone() {
	_limit=$(($(now_cs) + $2 * 100))
	while alive "$1"; do
		[ "$(now_cs)" -ge "$_limit" ] && return 1
		sleep 0.1
	done
	return 0
}

# Mark the kernel log so that dmesg_since can cut out what one check produced.
dmesg_mark() {
	DMESG_TAG="scx_vmtest: check $1 begins"
	echo "$DMESG_TAG" >/dev/kmsg
}

dmesg_since() {
	dmesg | awk -v tag="$DMESG_TAG" 'index($0, tag) { buf = ""; next } { buf = buf $0 "\n" } END { printf "%s", buf }'
}

# has_oops FILE / has_bpf_error FILE: print yes or no.
has_oops() {
	if grep -qE 'Oops|BUG:|WARNING:|Call Trace' "$1"; then echo yes; else echo no; fi
}
has_bpf_error() {
	if grep -qE 'sched_ext: .*(error|errored|stall)' "$1"; then echo yes; else echo no; fi
}

# start_sched IDX PATH ARGS: start the scheduler in the background; sets SCHED_PID, SCHED_LOG.
start_sched() {
	SCHED_LOG=/tmp/sched.$1.log
	# shellcheck disable=SC2086 # ARGS is a space-separated argument string on purpose.
	# guest-exec restores SIGINT, which the shell ignores for background commands.
	/vmtest/scx_vmtest guest-exec -- "$2" $3 >"$SCHED_LOG" 2>&1 &
	SCHED_PID=$!
}

# attach: wait for the scheduler to be enabled; sets ATTACHED and OPS.
attach() {
	ATTACHED=no
	OPS=-
	if wait_state enabled 30 "$SCHED_PID"; then
		ATTACHED=yes
		OPS=$(scx_ops)
	fi
}

# stop_sched: end the scheduler (SIGINT, then SIGKILL after 15 s); sets EXIT.
stop_sched() {
	kill -INT "$SCHED_PID" 2>/dev/null
	if ! wait_gone "$SCHED_PID" 15; then
		echo "scx_vmtest: scheduler ignored SIGINT for 15 s, sending SIGKILL"
		kill -KILL "$SCHED_PID" 2>/dev/null
		wait_gone "$SCHED_PID" 10
	fi
	wait "$SCHED_PID"
	EXIT=$?
}

# witness_start: the responsiveness probe's witness, a SCHED_FIFO thread that logs the
# stretches in which not even it could run, i.e. the guest as a whole stalled
# (src/witness.rs), to /tmp/witness.log; sets WITNESS_PID.
witness_start() {
	rm -f /tmp/witness.log
	/vmtest/scx_vmtest guest-witness /tmp/witness.log 2>/tmp/witness.err &
	WITNESS_PID=$!
}
# witness_stop: stop it; true when it failed (its error is in /tmp/witness.err).
witness_stop() {
	kill "$WITNESS_PID" 2>/dev/null
	wait "$WITNESS_PID" 2>/dev/null
	[ -s /tmp/witness.err ]
}
# witness_judge QUICK_MAX SLOW_FILE: print "SCHED_CS STALL_CS", the longest sleep with the
# witness's stalls taken off and its longest stall (scx_vmtest guest-judge).
witness_judge() {
	/vmtest/scx_vmtest guest-judge --quick-max "$1" --slow "$2" --witness /tmp/witness.log
}

# load_start: start hackbench and the stress-ng mix in the background; sets HB_PID, SN_PID.
load_start() {
	LOAD_T0=$(now_cs)
	witness_start
	# shellcheck disable=SC2086
	hackbench $HACKBENCH_ARGS >/tmp/hackbench.log 2>&1 &
	HB_PID=$!
	# The shared stress-ng mix: CPU hogs, fork/exit churn, pipe ping-pong, context-switch
	# storms and futex wake-ups, i.e. every path a scheduler has (enqueue, wake-up, init/exit).
	stress-ng --cpu $(($(nproc) * 2)) --fork 2 --pipe 2 --switch 2 --futex 2 \
		--timeout "${LOAD_SECS}s" --temp-path /tmp \
		>/tmp/stress-ng.log 2>&1 &
	SN_PID=$!
}

# load_finish: wait for the load (at most LOAD_SECS + 120 s) while probing that a shell
# still gets the CPU: a loop of 0.1 s sleeps records the longest one, which must not exceed
# RESP_LIMIT_MS. The sleep is the shell's own `read -t 0.1` on a FIFO opened read-write (it
# never gets data, so the read times out), timed with no fork in between: what it measures
# beyond 0.1 s is the scheduler's wake-up latency for a sleeping shell, not the cost of fork and
# exec under emulation (a forking `sleep 0.1` loop had worst iterations of 2.5-5.8 s for EEVDF
# and the schedulers alike). Sleeps over 0.25 s are kept as spans; after the load, the stretches
# in which the witness (load_start) could not run either are taken off them: a guest-wide stall
# (qemu descheduled by the host) is no scheduler's doing. RESP_MAX_CS is the longest sleep as
# timed (10 at best), RESP_SCHED_CS the same with the stalls taken off (the verdict's figure),
# STALL_CS the witness's longest stall. The loop's worst whole iteration (its liveness checks
# fork) is ITER_MAX_CS, for information.
# Sets LOAD (ok/fail/timeout), RESPONSIVE, HB_RC, SN_RC, HB_CS, LOAD_CS, RESP_MAX_CS,
# RESP_SCHED_CS, STALL_CS, ITER_MAX_CS.
load_finish() {
	_limit=$((LOAD_T0 + (LOAD_SECS + 120) * 100))
	RESP_MAX_CS=0
	_quick_max=0
	_slow=
	ITER_MAX_CS=0
	PROBES=0
	HB_CS=-
	_last=$(now_cs)
	LOAD=ok
	[ -p /tmp/resp.fifo ] || mkfifo /tmp/resp.fifo
	while alive "$HB_PID" || alive "$SN_PID"; do
		set_now
		_t0=$NOW
		read -t 0.1 _ <>/tmp/resp.fifo
		set_now
		_t=$NOW
		[ $((_t - _t0)) -gt "$RESP_MAX_CS" ] && RESP_MAX_CS=$((_t - _t0))
		if [ $((_t - _t0)) -gt 25 ]; then
			_slow="$_slow$_t0 $_t
"
		elif [ $((_t - _t0)) -gt "$_quick_max" ]; then
			_quick_max=$((_t - _t0))
		fi
		[ $((_t - _last)) -gt "$ITER_MAX_CS" ] && ITER_MAX_CS=$((_t - _last))
		_last=$_t
		PROBES=$((PROBES + 1))
		if [ "$HB_CS" = - ] && ! alive "$HB_PID"; then HB_CS=$((_t - LOAD_T0)); fi
		if [ "$_t" -ge "$_limit" ]; then
			LOAD=timeout
			kill -KILL "$HB_PID" "$SN_PID" 2>/dev/null
			killall -KILL hackbench stress-ng 2>/dev/null
			break
		fi
	done
	wait "$HB_PID"
	HB_RC=$?
	wait "$SN_PID"
	SN_RC=$?
	LOAD_CS=$(($(now_cs) - LOAD_T0))
	[ "$LOAD" = ok ] && { [ "$HB_RC" -ne 0 ] || [ "$SN_RC" -ne 0 ]; } && LOAD=fail
	witness_stop && echo "scx_vmtest: the witness failed: $(cat /tmp/witness.err)"
	printf '%s' "$_slow" >/tmp/resp.slow
	# (the judge failing: nothing is taken off)
	_j=$(witness_judge "$_quick_max" /tmp/resp.slow) || _j="$RESP_MAX_CS 0"
	RESP_SCHED_CS=${_j% *}
	STALL_CS=${_j#* }
	if [ "$RESP_SCHED_CS" -lt "$RESP_MAX_CS" ]; then
		echo "scx_vmtest: the longest sleep, $RESP_MAX_CS cs, overlapped a guest-wide stall" \
			"(the SCHED_FIFO witness could not run for up to $STALL_CS cs);" \
			"the scheduler's share: $RESP_SCHED_CS cs"
	fi
	if [ $((RESP_SCHED_CS * 10)) -le "$RESP_LIMIT_MS" ]; then RESPONSIVE=yes; else RESPONSIVE=no; fi
	if [ "$LOAD" != ok ]; then
		echo "scx_vmtest: load $LOAD: hackbench exit $HB_RC, stress-ng exit $SN_RC"
		tail -n 20 /tmp/hackbench.log /tmp/stress-ng.log
	fi
}

# scan_dmesg IDX: keep the kernel messages of check IDX in /tmp/dmesg.IDX; sets OOPS, BPF_ERROR.
scan_dmesg() {
	dmesg_since >/tmp/dmesg.$1
	OOPS=$(has_oops /tmp/dmesg.$1)
	BPF_ERROR=$(has_bpf_error /tmp/dmesg.$1)
}

# conclude IDX NAME: print the scheduler's log (and the kernel messages when a check failed)
# and set VERDICT from $why.
conclude() {
	print_log "$2"
	[ -n "$why" ] && print_dmesg /tmp/dmesg.$1
	VERDICT=PASS
	[ -n "$why" ] && VERDICT=FAIL
}

# print_log NAME: the scheduler's output, framed.
print_log() {
	echo "---- log of $1 (exit $EXIT) ----"
	cat "$SCHED_LOG"
	echo "---- end of log of $1 ----"
}

# print_dmesg FILE: the kernel messages of one check, when they matter.
print_dmesg() {
	echo "---- kernel messages during this check ----"
	# (RCU's own stall report names the CPUs or tasks holding up the grace period, which
	# sched_ext's one-line "RCU CPU stall" exit reason does not)
	grep -E 'sched_ext|Oops|BUG:|WARNING:|Call Trace|RIP:|rcu: |rcu_preempt' "$1" | head -n 80
	echo "---- end of kernel messages ----"
}

# wait_idle: before a check, the previous scheduler must be gone.
wait_idle() {
	[ -d "$SCX" ] || {
		echo "scx_vmtest: $SCX is missing: this kernel has no sched_ext"
		return 1
	}
	wait_state disabled 15
}

# stall_report LOG NAME PID: read a loader's exit report after a watchdog stall. Sets KIND=yes
# when the report names the kernel's exit kind,
#   NAME: scheduler <words> (kind SCX_EXIT_ERROR_STALL = 1026, exit code 0x...)
# and VICTIM=yes when its "NAME: message:" line (the kernel's "<comm>[<pid>] failed to run for
# <s>s") names comm stallme and PID. Both are "no" otherwise: a word "stall" elsewhere counts
# for nothing.
stall_report() {
	KIND=no VICTIM=no
	grep -qE "$2: scheduler .*\(kind SCX_EXIT_ERROR_STALL = 1026, exit code 0x[0-9a-f]+\)" "$1" && KIND=yes
	[ -n "$3" ] && grep -E "$2: message: " "$1" | grep -F stallme |
		grep -qE "(^|[^0-9])$3([^0-9]|\$)" && VICTIM=yes
	return 0
}
