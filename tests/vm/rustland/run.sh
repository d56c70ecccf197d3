#!/usr/bin/env bash
# scx_rustland's safety net (SIGSTOP of the user-space half), stress mix and SIGKILL checks in
# one 2-CPU guest boot.
#
#   run.sh SCX_VMTEST KERNEL SCX_RUSTLAND STRESS_SECS
set -euo pipefail
vmtest=$1 kernel=$2 rl=$3 secs=$4
here=$(cd "$(dirname "$0")" && pwd)
exec "$vmtest" run -k "$kernel" -t cpus=2 --timeout $((150 + secs)) \
	-f "$rl" -f "$here/guest.sh:/usr/bin/rustland-guest.sh" \
	-f "$here/../lib/checks.sh:/usr/bin/scx-checks.sh" \
	-- "STRESS_SECS=$secs sh /usr/bin/rustland-guest.sh"
