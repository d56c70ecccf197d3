#!/usr/bin/env bash
# A second scheduler must refuse to attach while another one is enabled, say which one, exit 2,
# and leave the running scheduler untouched.
#
#   run.sh SCX_VMTEST KERNEL FIRST SECOND...
set -euo pipefail
vmtest=$1 kernel=$2 first=$3
shift 3
files=(-f "$first:/opt/first/$(basename "$first")")
second=()
for s in "$@"; do
	files+=(-f "$s:/opt/second/$(basename "$s")")
	second+=("/opt/second/$(basename "$s")")
done
exec "$vmtest" run -k "$kernel" "${files[@]}" -- "
fail=0
/vmtest/scx_vmtest guest-exec -- /opt/first/$(basename "$first") >/tmp/first.log 2>&1 &
pid=\$!
i=0
while [ \"\$(cat /sys/kernel/sched_ext/state)\" != enabled ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
ops=\$(cat /sys/kernel/sched_ext/root/ops)
echo \"first scheduler: \$(cat /sys/kernel/sched_ext/state) (\$ops)\"
for s in ${second[*]}; do
	out=\$(\$s 2>&1)
	status=\$?
	echo \"\$s -> status \$status: \$out\"
	if [ \$status != 2 ] || ! echo \"\$out\" | grep -q \"another sched_ext scheduler is enabled (.\$ops.)\"; then
		echo \"BUSY FAIL \$s\"
		fail=1
	fi
	if [ \"\$(cat /sys/kernel/sched_ext/state)\" != enabled ] || [ \"\$(cat /sys/kernel/sched_ext/root/ops)\" != \"\$ops\" ]; then
		echo \"BUSY FAIL \$s disturbed the running scheduler\"
		fail=1
	fi
done
kill -INT \$pid
wait \$pid || fail=1
[ \$fail = 0 ] && echo 'BUSY PASS'
exit \$fail
"
