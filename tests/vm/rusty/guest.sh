#!/bin/sh
# In a 4-CPU, 2-node guest (one LLC domain per node, 2 CPUs each), with scx_rusty attached:
#   balance     4 CPU hogs forked from a parent on CPU 0 end up 2 per domain within 3 balance
#               intervals, every CPU >= 85 % busy; 2 hogs pinned to domain 0 stay there
#   moved       a hog whose affinity moves from domain 0 to domain 1 under load keeps running
#   fairness    nice 0 and nice 5 hogs sharing CPU 3 get CPU time 3.0 +- 10 % (1024 : 335)
#   light       a nice 19 hog sharing CPU 3 with 4 nice 0 hogs is never off it for over 2 s
#   starvation  a fork/pipe/switch/futex/cpu stress-ng mix for STRESS_SECS: no stall, no
#               warning, still attached
#   rcu-readers tasks preempted inside an RCU read-side section were sent back to their CPU
# (fairness, light, starvation and rcu-readers are in ../lib/checks.sh.)
# Prints "RUSTY <check> PASS|FAIL <detail>" lines and exits with the number of failures.
STRESS_SECS=${STRESS_SECS:-30}
RUSTY=${RUSTY:-/usr/bin/scx_rusty}
TAG=RUSTY
# shellcheck source=../lib/checks.sh
. /usr/bin/scx-checks.sh

# domain_of CPU: 0 for CPUs 0-1, 1 for CPUs 2-3.
domain_of() { echo $(($1 / 2)); }

dmesg -c >/dev/null
/vmtest/scx_vmtest guest-exec -- "$RUSTY" --stats 2 >/tmp/rusty.log 2>&1 &
pid=$!
wait_state enabled
[ "$(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)" = rusty ] || fail attach

# --- balance: four hogs forked on CPU 0, free to run anywhere.
taskset -p 1 $$ >/dev/null
hogs=
for n in 1 2 3 4; do
	(taskset -p f $$ >/dev/null 2>&1 || taskset -p f "$(sh -c 'echo $PPID')" >/dev/null; hog) &
	hogs="$hogs $!"
done
for h in $hogs; do taskset -p f "$h" >/dev/null; done
taskset -p f $$ >/dev/null
sleep 6 # three balance intervals of 2 s
busy=$(cpu_busy 3)
# Ten samples of how many hogs run in domain 0; tasks move now and then (a short-lived task
# takes a CPU, its hog waits and another domain's idle CPU steals it), so judge the typical
# placement: at least 7 of 10 samples with two hogs per domain.
even=0 seen=
for s in 1 2 3 4 5 6 7 8 9 10; do
	n0=0
	for h in $hogs; do
		[ "$(domain_of "$(on_cpu "$h")")" = 0 ] && n0=$((n0 + 1))
	done
	[ $n0 = 2 ] && even=$((even + 1))
	seen="$seen$n0"
	sleep 0.3
done
low=$(echo "$busy" | tr ' ' '\n' | awk '$1 != "" && $1 < 85 { print }' | tr '\n' ' ')
if [ $even -ge 7 ] && [ -z "$low" ]; then
	pass balance "2/2 in $even of 10 samples (hogs in domain 0 per sample: $seen), busy % (cpu0 first): $busy"
else
	fail balance "2/2 in only $even of 10 samples (hogs in domain 0 per sample: $seen), busy % (cpu0 first): $busy"
fi
kill $hogs 2>/dev/null
wait $hogs 2>/dev/null

# --- pinned: two hogs allowed only in domain 0 (CPUs 0-1) next to two free ones.
start_hogs 2
pinned=$hogs
for h in $pinned; do taskset -p 3 "$h" >/dev/null; done
start_hogs 2
free=$hogs
sleep 6
strays=
for s in 1 2 3 4 5 6 7 8 9 10; do
	for h in $pinned; do
		[ "$(domain_of "$(on_cpu "$h")")" = 0 ] || strays="$strays $h@$(on_cpu "$h")"
	done
	sleep 0.2
done
[ -z "$strays" ] && pass pinned || fail pinned "ran outside domain 0:$strays"
kill $pinned $free 2>/dev/null
wait $pinned $free 2>/dev/null

# --- moved: a hog on CPU 0 (domain 0) whose affinity then moves to domain 1 while eight free
# hogs keep every CPU busy still gets CPU time (before the fix it waited in domain 0's queue,
# which none of its CPUs serves: 0 ticks in 8 s).
hog &
m=$!
taskset -p 1 $m >/dev/null
sleep 1
start_hogs 8
free=$hogs
sleep 1
taskset -p c $m >/dev/null
sleep 1
m0=$(ticks $m)
sleep 4
m1=$(ticks $m)
# About 2 CPUs shared by 5 hogs: ~160 ticks in 4 s; 20 is far from starving, far from fair.
if [ $((m1 - m0)) -ge 20 ]; then
	pass moved "$((m1 - m0)) ticks in 4 s after its affinity moved to domain 1"
else
	fail moved "$((m1 - m0)) ticks in 4 s after its affinity moved to domain 1 (want >= 20)"
fi
kill $m $free 2>/dev/null
wait $m $free 2>/dev/null

# --- fairness: nice 0 and nice 5 sharing CPU 3.
check_fairness
check_light

# --- starvation: the stress-ng mix.
check_stress
check_rcu_readers "$RUSTY"

kill -INT $pid
wait $pid
status=$?
[ $status = 0 ] && pass detach || fail detach "status $status"
echo "---- scx_rusty's last stats ----"
tail -n 30 /tmp/rusty.log
exit $failures
