#!/usr/bin/env bash
# The stats socket in a real sched_ext guest: scx_rusty's read by --monitor (table and JSON) and
# scxstats (JSON and OpenMetrics) and abused by stats-torture while the scheduler keeps running;
# then every other scheduler given, one after the other, served to --monitor and scxstats.
#
#   run.sh SCX_VMTEST KERNEL SCX_RUSTY SCXSTATS STATS_TORTURE [PATH[:ARGS] [-f HOST[:GUEST]]...]...
#
# Each PATH[:ARGS] is a further scheduler binary and its arguments; a `-f` after it puts a file
# it needs (e.g. a config) into the guest.
set -euo pipefail
vmtest=$1 kernel=$2 rusty=$3 scxstats=$4 torture=$5
shift 5
here=$(cd "$(dirname "$0")" && pwd)
files=()
list=$(mktemp)
trap 'rm -f "$list"' EXIT
while [ $# -gt 0 ]; do
	if [ "$1" = -f ]; then
		files+=(-f "$2")
		shift 2
		continue
	fi
	bin=${1%%:*} args=
	[ "$bin" = "$1" ] || args=${1#*:}
	files+=(-f "$bin")
	printf '%s %s\n' "$(basename "$bin")" "$args" >>"$list"
	shift
done
"$vmtest" run -k "$kernel" -t sockets=2,cores=2,threads=1,nodes=2 --timeout $((300 + 60 * $(wc -l <"$list"))) \
	-f "$rusty" -f "$scxstats" -f "$torture" -f "$here/guest.sh:/usr/bin/stats-guest.sh" \
	-f "$here/../lib/checks.sh:/usr/bin/scx-checks.sh" \
	-f "$list:/etc/stats-scheds" "${files[@]}" \
	-- "sh /usr/bin/stats-guest.sh"
