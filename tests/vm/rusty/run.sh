#!/usr/bin/env bash
# scx_rusty's balance, affinity, fairness and no-starvation checks in one guest boot
# (sockets=2,cores=2,threads=1,nodes=2: two LLC domains of two CPUs, one per node).
#
#   run.sh SCX_VMTEST KERNEL SCX_RUSTY STRESS_SECS
set -euo pipefail
vmtest=$1 kernel=$2 rusty=$3 secs=$4
here=$(cd "$(dirname "$0")" && pwd)
exec "$vmtest" run -k "$kernel" -t sockets=2,cores=2,threads=1,nodes=2 --timeout $((240 + secs)) \
	-f "$rusty" -f "$here/guest.sh:/usr/bin/rusty-guest.sh" \
	-f "$here/../lib/checks.sh:/usr/bin/scx-checks.sh" \
	-- "STRESS_SECS=$secs sh /usr/bin/rusty-guest.sh"
