#!/usr/bin/env bash
# CPU hotplug makes the kernel ask every scheduler without cpu_online/cpu_offline callbacks to
# restart; each loader must attach again on its own and still exit 0 on Ctrl-C.
#
#   run.sh SCX_VMTEST KERNEL SCHEDULER...
set -euo pipefail
vmtest=$1 kernel=$2
shift 2
files=() guest=()
for s in "$@"; do
	files+=(-f "$s:/opt/sched/$(basename "$s")")
	guest+=("/opt/sched/$(basename "$s")")
done
here=$(cd "$(dirname "$0")" && pwd)
exec "$vmtest" run -k "$kernel" -t cpus=2 "${files[@]}" -f "$here/guest.sh:/usr/bin/hotplug-guest.sh" \
	-- "sh /usr/bin/hotplug-guest.sh ${guest[*]}"
