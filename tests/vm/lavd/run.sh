#!/usr/bin/env bash
# scx_lavd's compaction, fairness and no-starvation checks in one 4-CPU guest boot.
#
#   run.sh SCX_VMTEST KERNEL SCX_LAVD STRESS_SECS
set -euo pipefail
vmtest=$1 kernel=$2 lavd=$3 secs=$4
here=$(cd "$(dirname "$0")" && pwd)
exec "$vmtest" run -k "$kernel" -t cpus=4 --timeout $((240 + secs)) \
	-f "$lavd" -f "$here/guest.sh:/usr/bin/lavd-guest.sh" \
	-f "$here/../lib/checks.sh:/usr/bin/scx-checks.sh" \
	-- "STRESS_SECS=$secs sh /usr/bin/lavd-guest.sh"
