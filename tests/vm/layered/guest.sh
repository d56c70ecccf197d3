#!/bin/sh
# In a 4-CPU guest, scx_layered's proofs (issue 9):
#   confine     config batch (Confined [1,1], cgroup /batch) / interactive (Open, preempt, comm
#               "lat") / rest: 4 hogs in /batch together use 1 CPU +- 10 % and only ever one
#               CPU; the 2 root hogs get >= 1 CPU together (they share the 3 other CPUs with
#               the lat task and this script) and are never seen on the batch CPU
#   exec        a root hog that execs into a name the batch layer matches runs only on the
#               batch CPU afterwards
#   cgroup      a root hog moved into /batch runs only on the batch CPU afterwards
#   latency     (reported, not asserted) cyclictest renamed "latcyclic" under the same load,
#               first with EEVDF, then with scx_layered: LAT lines with avg and p99 in us
#   growth      a Confined [1,3] layer, util [0.5,0.8]: with 3 hogs it grows to 3 CPUs, with
#               none it shrinks back to 1 (the scheduler's allocation log is printed)
#   confined-catchall  a config whose catch-all layer is Confined (everything, the loader and
#               the kernel's threads among it, may use only that layer's CPUs) attaches and
#               stays attached for 5 s under 2 hogs (it used to stall until the watchdog
#               ejected it: the first allocation came after the attach)
#   detach      each run ends with exit 0, no BPF error or stall in dmesg
# Prints "LAYERED <check> PASS|FAIL <detail>" lines and exits with the number of failures.
LAYERED=${LAYERED:-/usr/bin/scx_layered}
PATH=$PATH:/usr/local/bin
TAG=LAYERED
# shellcheck source=../lib/checks.sh
. /usr/bin/scx-checks.sh
CG=/sys/fs/cgroup
grep -q " $CG cgroup2" /proc/mounts || mount -t cgroup2 none $CG

sum_ticks() {
	t=0
	for p in "$@"; do t=$((t + $(ticks "$p"))); done
	echo $t
}
# cpus_seen SECS PID...: the distinct CPUs the tasks were seen on, sampled every 0.1 s.
cpus_seen() {
	n=$(($1 * 10))
	shift
	: >/tmp/seen
	while [ $n -gt 0 ]; do
		for p in "$@"; do on_cpu "$p" >>/tmp/seen; done
		sleep 0.1
		n=$((n - 1))
	done
	sort -u /tmp/seen | grep . | tr '\n' ' '
}
# spawn_in CGROUP: a shell hog in that cgroup; prints its pid.
spawn_in() {
	# (stdout closed: a command substitution waits for it)
	sh -c "echo \$\$ > $1/cgroup.procs; while :; do :; done" >/dev/null 2>&1 &
	echo $!
}
# lat_run LABEL: cyclictest as "latcyclic" for 5 s (one SCHED_OTHER thread, 5 ms periods);
# prints "LAT <label> samples=N avg_us=N p99_us=N ..." (bench's cyclichist).
lat_run() {
	rm -f /tmp/hist
	latcyclic -q -m -t 1 -i 5000 -D 5 -h 100000 --histfile=/tmp/hist >/tmp/cyc.out 2>&1
	if command -v cyclichist >/dev/null; then
		echo "LAT $1 $(cyclichist /tmp/hist)"
	else
		echo "LAT $1 $(grep -E 'Avg|Max' /tmp/hist | tr '\n' ' ')"
	fi
}
start_sched() {
	dmesg -c >/dev/null
	/vmtest/scx_vmtest guest-exec -- "$LAYERED" "$@" >>/tmp/layered.log 2>&1 &
	sched=$!
	wait_state enabled && [ "$(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)" = layered ]
}
stop_sched() {
	kill -INT $sched
	wait $sched
	st=$?
	warn=$(dmesg | grep -iE 'stall|WARNING|BUG|Oops|sched_ext: .*(error|disabled)' | grep -v 'disabled (SCX_EXIT_UNREG\|unregistered from user space' | head -n 3)
	if [ $st = 0 ] && wait_state disabled && [ -z "$warn" ]; then
		pass "detach-$1"
	else
		fail "detach-$1" "status $st, dmesg: $warn"
	fi
}

cat >/tmp/web.json <<'EOF'
[
  { "name": "batch", "matches": [[{ "CgroupPrefix": "/batch" }], [{ "CommPrefix": "batchy" }]],
    "kind": { "Confined": { "cpus_range": [1, 1], "util_range": [0.5, 0.8] } } },
  { "name": "interactive", "matches": [[{ "CommPrefix": "lat" }]],
    "kind": { "Open": { "preempt": true, "slice_us": 2000 } } },
  { "name": "rest", "matches": [[]], "kind": { "Open": {} } }
]
EOF
cat >/tmp/grow.json <<'EOF'
[
  { "name": "grow", "matches": [[{ "CgroupPrefix": "/grow" }]],
    "kind": { "Confined": { "cpus_range": [1, 3], "util_range": [0.5, 0.8] } } },
  { "name": "rest", "matches": [[]], "kind": { "Open": {} } }
]
EOF
cat >/tmp/confined.json <<'EOF'
[
  { "name": "batch", "matches": [[{ "CgroupPrefix": "/batch" }]],
    "kind": { "Confined": { "cpus_range": [1, 1], "util_range": [0.5, 0.8] } } },
  { "name": "rest", "matches": [[]],
    "kind": { "Confined": { "cpus_range": [2, 2], "util_range": [0.5, 0.8] } } }
]
EOF
"$LAYERED" --check /tmp/web.json >/dev/null || fail check "the test config is rejected"

mkdir -p $CG/batch $CG/grow
batch=
for n in 1 2 3 4; do batch="$batch $(spawn_in $CG/batch)"; done
root="$(spawn_in $CG) $(spawn_in $CG)"
sleep 1
lat_run eevdf

if ! start_sched /tmp/web.json --stats 2; then
	fail attach "$(tail -n 5 /tmp/layered.log)"
	exit $failures
fi
pass attach
sleep 2
lat_run layered

# --- confine: the batch hogs use 1 CPU together, on one CPU only; the root hogs the rest.
up() { awk '{ print $1 }' /proc/uptime; }
t0=$(up)
b0=$(sum_ticks $batch)
r0=$(sum_ticks $root)
seen=$(cpus_seen 4 $batch)
b1=$(sum_ticks $batch)
r1=$(sum_ticks $root)
t1=$(up)
batch_cpu=$(echo $seen | awk '{ print $1 }')
nseen=$(echo $seen | wc -w)
# CPU time over guest time (USER_HZ = 100 ticks a second).
awk -v b=$((b1 - b0)) -v r=$((r1 - r0)) -v t0="$t0" -v t1="$t1" -v n="$nseen" -v seen="$seen" 'BEGIN {
	secs = t1 - t0; bc = b / 100 / secs; rc = r / 100 / secs
	printf "batch hogs %.2f CPUs, root hogs %.2f CPUs over %.1f s, batch hogs seen on CPUs [%s]\n", bc, rc, secs, seen
	exit !(bc >= 0.9 && bc <= 1.1 && n == 1 && rc >= 1.0)
}' >/tmp/confine.out
if [ $? = 0 ]; then pass confine "$(cat /tmp/confine.out)"; else fail confine "$(cat /tmp/confine.out)"; fi
rseen=$(cpus_seen 2 $root)
case " $rseen " in
*" $batch_cpu "*) fail root-share "root hogs seen on the batch CPU $batch_cpu: $rseen" ;;
*) pass root-share "root hogs on CPUs $rseen, batch CPU $batch_cpu" ;;
esac

# --- exec: a root hog execs into "batchy" (a copy of yes) and must stay on the batch CPU.
sh -c 'end=$(($(date +%s) + 2)); while [ $(date +%s) -lt $end ]; do :; done; exec batchyes' >/dev/null 2>&1 &
ex=$!
comm_is() { [ "$(cat "/proc/$1/comm")" = "$2" ]; }
wait_for 10 comm_is $ex batchyes
sleep 1
eseen=$(cpus_seen 2 $ex)
comm=$(cat /proc/$ex/comm)
if [ "$comm" = batchyes ] && [ "$eseen" = "$batch_cpu " ]; then
	pass exec "comm $comm on CPUs $eseen"
else
	fail exec "comm $comm on CPUs $eseen, batch CPU $batch_cpu"
fi

# --- cgroup: a root hog moved into /batch.
mv=$(spawn_in $CG)
sleep 1
before=$(cpus_seen 1 $mv)
echo $mv >$CG/batch/cgroup.procs
sleep 1
mseen=$(cpus_seen 2 $mv)
if [ "$mseen" = "$batch_cpu " ]; then
	pass cgroup "before the move CPUs $before, after $mseen"
else
	fail cgroup "before the move CPUs $before, after $mseen, batch CPU $batch_cpu"
fi
kill $batch $root $ex $mv 2>/dev/null
wait $batch $root $ex $mv 2>/dev/null
stop_sched web

# --- confined-catchall: everything Confined, the catch-all included.
if start_sched /tmp/confined.json; then
	cc="$(spawn_in $CG) $(spawn_in $CG)"
	sleep 5
	st=$(sched_state)
	kill $cc 2>/dev/null
	wait $cc 2>/dev/null
	if [ "$st" = enabled ]; then
		pass confined-catchall "attached, still enabled after 5 s under 2 hogs"
	else
		fail confined-catchall "state $st after 5 s: $(tail -n 3 /tmp/layered.log)"
	fi
	stop_sched confined
else
	fail confined-catchall "no attach: $(tail -n 5 /tmp/layered.log)"
fi

# --- growth: a Confined [1,3] layer grows with 3 hogs and shrinks when they stop.
if ! start_sched /tmp/grow.json --interval-ms 100; then
	fail attach-grow "$(tail -n 5 /tmp/layered.log)"
	exit $failures
fi
sleep 1
grow=
for n in 1 2 3; do grow="$grow $(spawn_in $CG/grow)"; done
sleep 5
gseen=$(cpus_seen 2 $grow)
kill $grow 2>/dev/null
wait $grow 2>/dev/null
sleep 5
stop_sched grow
echo "---- allocation log ----"
grep 'alloc' /tmp/layered.log
# The last two allocation lines of the grow layer: up to 3, then back to 1.
ups=$(grep 'layer grow cpus' /tmp/layered.log | grep -c -- '-> 3 ')
downs=$(grep 'layer grow cpus' /tmp/layered.log | tail -n 1 | grep -c -- '-> 1 ')
if [ "$ups" -ge 1 ] && [ "$downs" = 1 ] && [ "$(echo $gseen | wc -w)" -le 3 ]; then
	pass growth "grew to 3 CPUs (hogs seen on $gseen), shrank back to 1"
else
	fail growth "reached 3: $ups, back to 1: $downs, hogs seen on $gseen"
fi
echo "---- scx_layered's log ----"
tail -n 40 /tmp/layered.log
exit $failures
