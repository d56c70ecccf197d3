#!/usr/bin/env bash
# The schedulers' and tools' command lines on a machine that cannot run them (this host: no
# sched_ext) and with bad input: each case must end with the documented status and a message
# that names the problem, never a panic.
#
#   errors.sh SCX_SIMPLE SCX_RUSTY SCX_TOPOLOGY
set -uo pipefail
simple=$1 rusty=$2 topology=$3
passed=0 failed=0

# expect STATUS PATTERN CMD...: run CMD, check its exit status and that its output matches PATTERN.
expect() {
	local want=$1 pattern=$2
	shift 2
	local out status
	out=$("$@" 2>&1)
	status=$?
	if [ "$status" = "$want" ] && grep -qiE -- "$pattern" <<<"$out" && ! grep -q "panicked" <<<"$out"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL: $* -> status $status (want $want), output:"
		sed 's/^/    /' <<<"$out" | head -20
		echo "    (wanted a match for: $pattern)"
	fi
}

for s in "$simple" "$rusty"; do
	expect 0 "usage|options" "$s" --help
	expect 0 "[0-9]+\.[0-9]+\.[0-9]+ \(" "$s" --version
	expect 2 "slice" "$s" --slice-us 0
	expect 2 "unexpected|unrecognized|invalid|found argument" "$s" --no-such-option
	if [ ! -d /sys/kernel/sched_ext ] && [ "$(id -u)" = 0 ]; then
		expect 2 "no sched_ext.*CONFIG_SCHED_CLASS_EXT" "$s"
	fi
	if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
		expect 2 "must run as root" setpriv --reuid=65534 --regid=65534 --clear-groups "$s"
	fi
done
expect 2 "at most 4" "$rusty" --track-comm a --track-comm b --track-comm c --track-comm d --track-comm e
expect 2 "15" "$rusty" --track-comm this_name_is_too_long
expect 2 "32768" "$rusty" --exit-dump-len 1000000
expect 1 "/nonexistent" "$topology" --sysfs-root /nonexistent
expect 0 "cpus" "$topology" --json

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
