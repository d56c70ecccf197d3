#!/usr/bin/env bash
# scx_rusty's stats socket read by --monitor (table and JSON) and scxstats (JSON and OpenMetrics)
# in a real sched_ext guest, and abused by stats-torture while the scheduler keeps running.
#
#   run.sh SCX_VMTEST KERNEL SCX_RUSTY SCXSTATS STATS_TORTURE
set -euo pipefail
vmtest=$1 kernel=$2 rusty=$3 scxstats=$4 torture=$5
here=$(cd "$(dirname "$0")" && pwd)
exec "$vmtest" run -k "$kernel" -t sockets=2,cores=2,threads=1,nodes=2 \
	-f "$rusty" -f "$scxstats" -f "$torture" -f "$here/guest.sh:/usr/bin/stats-guest.sh" \
	-- "sh /usr/bin/stats-guest.sh"
