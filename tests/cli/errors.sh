#!/usr/bin/env bash
# The schedulers' and tools' command lines on a machine that cannot run them (this host: no
# sched_ext) and with bad input: each case must end with the documented status and a message
# that names the problem, never a panic.
#
#   errors.sh SCX_SIMPLE SCX_RUSTY SCX_TOPOLOGY
#
# The cases run whether this script runs as root or not: "not root" runs as an unprivileged user
# (as root through setpriv to nobody, otherwise as ourselves); "no sched_ext" needs a uid 0 on a
# kernel without sched_ext (as root directly, otherwise as root of a new user namespace, which
# passes the loaders' euid check but grants nothing). A case whose prerequisite this machine
# lacks (a host that has sched_ext, no setpriv, no user namespaces) makes the test a SKIP, or a
# failure under CI=true (meson-scripts/prereq.sh).
set -uo pipefail
. "$(dirname "$0")/../../meson-scripts/prereq.sh"
simple=$1 rusty=$2 topology=$3
passed=0 failed=0 missing=""

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

# lacking WHAT: remember a prerequisite this machine lacks (once).
lacking() {
	case "$missing" in *"$1"*) ;; *) missing="$missing; $1" ;; esac
}

for s in "$simple" "$rusty"; do
	expect 0 "usage|options" "$s" --help
	expect 0 "[0-9]+\.[0-9]+\.[0-9]+ \(" "$s" --version
	expect 2 "slice" "$s" --slice-us 0
	expect 2 "unexpected|unrecognized|invalid|found argument" "$s" --no-such-option
	# Not root: the loader must refuse before touching anything.
	if [ "$(id -u)" != 0 ]; then
		expect 2 "must run as root" "$s"
	elif command -v setpriv >/dev/null; then
		expect 2 "must run as root" setpriv --reuid=nobody --regid=nogroup --clear-groups "$s"
	else
		lacking "setpriv (util-linux) to drop root for the not-root case"
	fi
	# Root on a kernel without sched_ext.
	if [ -d /sys/kernel/sched_ext ]; then
		lacking "a kernel without sched_ext for the no-sched_ext case (this one has it)"
	elif [ "$(id -u)" = 0 ]; then
		expect 2 "no sched_ext.*CONFIG_SCHED_CLASS_EXT" "$s"
	elif unshare --user --map-root-user true 2>/dev/null; then
		expect 2 "no sched_ext.*CONFIG_SCHED_CLASS_EXT" unshare --user --map-root-user "$s"
	else
		lacking "root or unprivileged user namespaces for the no-sched_ext case"
	fi
done
expect 2 "at most 4" "$rusty" --track-comm a --track-comm b --track-comm c --track-comm d --track-comm e
expect 2 "15" "$rusty" --track-comm this_name_is_too_long
expect 2 "32768" "$rusty" --exit-dump-len 1000000
expect 1 "/nonexistent" "$topology" --sysfs-root /nonexistent
expect 0 "cpus" "$topology" --json

echo "$passed passed, $failed failed"
[ "$failed" = 0 ] || exit 1
[ -z "$missing" ] || skip_or_fail "cases not run, missing:${missing#;}"
exit 0
