#!/usr/bin/env bash
# scx_rustland's safety net (SIGSTOP of the user-space half), stress mix and SIGKILL checks in
# one guest boot (2 CPUs unless TOPOLOGY says otherwise).
#
#   run.sh SCX_VMTEST KERNEL SCX_RUSTLAND STRESS_SECS [TOPOLOGY [ICOUNT_SHIFT [CHECKS]]]
#
# CHECKS picks guest.sh's groups of checks (RL_CHECKS there); ICOUNT_SHIFT "-" keeps the host's
# clock.
set -euo pipefail
vmtest=$1 kernel=$2 rl=$3 secs=$4 topo=${5:-cpus=2} icount=${6:--} checks=${7:-}
here=$(cd "$(dirname "$0")" && pwd)
clock=()
[ "$icount" = - ] || clock=(--icount "$icount")
exec "$vmtest" run -k "$kernel" -t "$topo" "${clock[@]}" --timeout $((150 + secs)) \
	-f "$rl" -f "$here/guest.sh:/usr/bin/rustland-guest.sh" \
	-f "$here/../lib/checks.sh:/usr/bin/scx-checks.sh" \
	-- "STRESS_SECS=$secs ${checks:+RL_CHECKS='$checks' }sh /usr/bin/rustland-guest.sh"
