#!/usr/bin/env bash
# CPU hotplug makes the kernel ask every scheduler without cpu_online/cpu_offline callbacks to
# restart; each loader must attach again on its own, with the new topology, and still exit 0 on
# Ctrl-C. SCX_STALL runs the race case (a CPU goes offline between topology and attach).
#
#   run.sh SCX_VMTEST KERNEL SCX_STALL SCHEDULER...
set -euo pipefail
vmtest=$1 kernel=$2 stall=$3
shift 3
files=(-f "$stall:/opt/sched/scx_stall") guest=()
for s in "$@"; do
	files+=(-f "$s:/opt/sched/$(basename "$s")")
	guest+=("/opt/sched/$(basename "$s")")
done
here=$(cd "$(dirname "$0")" && pwd)
exec "$vmtest" run -k "$kernel" -t cpus=2 "${files[@]}" -f "$here/guest.sh:/usr/bin/hotplug-guest.sh" \
	-f "$here/../lib/checks.sh:/usr/bin/scx-checks.sh" \
	-- "sh /usr/bin/hotplug-guest.sh ${guest[*]}"
