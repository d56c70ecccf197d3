#!/bin/sh
# In the guest: scx_rusty runs under load and serves its stats; check every reader and abuse the
# socket, then check that it still runs. Prints "STATS <check> PASS|FAIL" lines; exits with the
# number of failures.
TAG=STATS
# shellcheck source=../lib/checks.sh
. /usr/bin/scx-checks.sh
check() { # check NAME CMD...: CMD must succeed
	name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

/vmtest/scx_vmtest guest-exec -- /usr/bin/scx_rusty --stats 1 >/tmp/rusty.log 2>&1 &
pid=$!
wait_state enabled
ops=$(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)
[ "$ops" = rusty ] || fail attach "state=$(sched_state) ops=$ops"
stress-ng --cpu 2 --timeout 60 >/dev/null 2>&1 &
load=$!
sleep 2.5

# The socket: root's own, in a 0700 directory.
mode=$(stat -c %a /run/scx/scx_rusty)
[ "$mode" = 700 ] && [ -S /run/scx/scx_rusty/stats ] && pass socket || fail socket "mode=$mode"

# --monitor: a table with the fields' descriptions, counters as rates from the second report on.
timeout 4 /usr/bin/scx_rusty --monitor 1 >/tmp/mon.txt 2>&1
grep -q 'dispatch_local' /tmp/mon.txt && grep -q 'Dispatches that took a task' /tmp/mon.txt &&
	grep -q '/s ' /tmp/mon.txt && pass monitor-table || { fail monitor-table; cat /tmp/mon.txt; }

# --monitor --json: one JSON object a line, with the counters.
timeout 3 /usr/bin/scx_rusty --monitor 1 --json >/tmp/mon.json 2>&1
n=$(grep -c '^{"scheduler":"scx_rusty","stats":{.*"queued":[0-9]' /tmp/mon.json)
[ "$n" -ge 2 ] && pass monitor-json || { fail monitor-json "lines=$n"; cat /tmp/mon.json; }

# scxstats --json: info and stats of the running scheduler.
scxstats --json >/tmp/s.json 2>&1
grep -q '"scheduler":"scx_rusty"' /tmp/s.json && grep -q '"attached":true' /tmp/s.json &&
	grep -q '"dom_load_pct":\[' /tmp/s.json && pass scxstats-json || { fail scxstats-json; cat /tmp/s.json; }

# scxstats --openmetrics: TYPE and HELP per family, counters with _total, closing # EOF.
scxstats --openmetrics >/tmp/s.om 2>&1
grep -q '^# TYPE scx_rusty_queued counter$' /tmp/s.om &&
	grep -q '^# HELP scx_rusty_queued Tasks queued' /tmp/s.om &&
	grep -Eq '^scx_rusty_queued_total [0-9]+$' /tmp/s.om &&
	grep -Eq '^scx_rusty_dom_load_pct\{index="0"\} [0-9.]+$' /tmp/s.om &&
	[ "$(tail -n 1 /tmp/s.om)" = "# EOF" ] && pass scxstats-openmetrics || { fail scxstats-openmetrics; cat /tmp/s.om; }

# Garbage, oversized lines, silent and half-written clients and 64 concurrent clients.
check torture stats-torture /run/scx/scx_rusty/stats

# Through all of it the scheduler kept running and printing its own stats.
[ "$(sched_state)" = enabled ] && kill -0 $pid && pass still-attached || fail still-attached
before=$(grep -c '^scx_rusty stats' /tmp/rusty.log)
sleep 2
after=$(grep -c '^scx_rusty stats' /tmp/rusty.log)
[ "$after" -gt "$before" ] && pass still-printing || fail still-printing "$before -> $after"

kill $load 2>/dev/null
kill -INT $pid
wait $pid
status=$?
[ $status = 0 ] && pass exit-0 || fail exit-0 "status=$status"
[ ! -e /run/scx/scx_rusty/stats ] && pass socket-removed || fail socket-removed

# With nothing running, both readers say so and exit 1.
/usr/bin/scx_rusty --monitor 1 >/tmp/none.txt 2>&1
s1=$?
scxstats >>/tmp/none.txt 2>&1
s2=$?
[ $s1 = 1 ] && [ $s2 = 1 ] && grep -q 'scx_rusty is not running' /tmp/none.txt &&
	grep -q 'no scheduler of this project is running' /tmp/none.txt && pass none-running ||
	{ fail none-running "status $s1 $s2"; cat /tmp/none.txt; }

# Every other scheduler of the run: its own stats through the same server, read by --monitor
# (table and JSON) and scxstats (JSON and OpenMetrics), with stress-ng running.
while read -r name args; do
	[ -n "$name" ] || continue
	# shellcheck disable=SC2086
	/vmtest/scx_vmtest guest-exec -- "/usr/bin/$name" $args >"/tmp/$name.log" 2>&1 &
	spid=$!
	wait_state enabled || { fail "$name-attach"; tail -n 20 "/tmp/$name.log"; }
	stress-ng --cpu 2 --pipe 1 --timeout 20 >/dev/null 2>&1 &
	sload=$!
	sleep 2.5
	[ -S "/run/scx/$name/stats" ] && pass "$name-socket" || fail "$name-socket"
	# The table names each field with its description; counters become rates from the second
	# report on.
	timeout 4 "/usr/bin/$name" --monitor 1 >/tmp/mon.txt 2>&1
	[ "$(grep -c '/s ' /tmp/mon.txt)" -ge 1 ] && pass "$name-monitor-table" ||
		{ fail "$name-monitor-table"; cat /tmp/mon.txt; }
	timeout 3 "/usr/bin/$name" --monitor 1 --json >/tmp/mon.json 2>&1
	n=$(grep -c "^{\"scheduler\":\"$name\",\"stats\":{" /tmp/mon.json)
	[ "$n" -ge 2 ] && pass "$name-monitor-json" || { fail "$name-monitor-json" "lines=$n"; cat /tmp/mon.json; }
	scxstats --json >/tmp/s.json 2>&1
	grep -q "\"scheduler\":\"$name\"" /tmp/s.json && grep -q '"attached":true' /tmp/s.json &&
		pass "$name-scxstats-json" || { fail "$name-scxstats-json"; cat /tmp/s.json; }
	scxstats --openmetrics >/tmp/s.om 2>&1
	grep -q "^# TYPE ${name}_[a-z0-9_]* counter$" /tmp/s.om && grep -Eq "^${name}_[a-z0-9_]*_total [0-9]+$" /tmp/s.om &&
		[ "$(tail -n 1 /tmp/s.om)" = "# EOF" ] && pass "$name-scxstats-openmetrics" ||
		{ fail "$name-scxstats-openmetrics"; cat /tmp/s.om; }
	kill "$sload" 2>/dev/null
	wait "$sload" 2>/dev/null
	kill -INT "$spid"
	wait "$spid"
	st=$?
	[ $st = 0 ] && [ ! -e "/run/scx/$name/stats" ] && pass "$name-exit-0" ||
		{ fail "$name-exit-0" "status=$st"; tail -n 20 "/tmp/$name.log"; }
done </etc/stats-scheds

echo "---- scx_rusty's log (head) ----"
head -n 30 /tmp/rusty.log
exit $failures
