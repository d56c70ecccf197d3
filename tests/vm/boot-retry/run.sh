#!/usr/bin/env bash
# scx_vmtest boots a guest again when the first boot does not reach the script in time. A boot
# limit of 1 s is shorter than any real boot, so the first boot always "hangs": the run must
# still succeed, print the script's output once, and warn on stderr that it booted again.
#
#   run.sh SCX_VMTEST KERNEL
set -uo pipefail
vmtest=$1 kernel=$2
err=$(mktemp)
trap 'rm -f "$err"' EXIT
out=$(SCX_VMTEST_BOOT_LIMIT=1 "$vmtest" run -k "$kernel" --timeout 120 -- 'echo boot-retry-ok' 2>"$err")
st=$?
fail=0
[ "$st" = 0 ] || { echo "FAIL: exit status $st, expected 0"; fail=1; }
[ "$out" = boot-retry-ok ] || { echo "FAIL: the script's output was '$out', expected 'boot-retry-ok' once"; fail=1; }
grep -q 'did not reach its script within 1 s' "$err" || { echo "FAIL: no warning about the second boot on stderr"; fail=1; }
# A bad limit is an error that names the variable, before anything boots.
SCX_VMTEST_BOOT_LIMIT=soon "$vmtest" run -k "$kernel" --timeout 120 -- true 2>"$err"
st=$?
[ "$st" = 126 ] && grep -q 'SCX_VMTEST_BOOT_LIMIT="soon"' "$err" ||
	{ echo "FAIL: a bad SCX_VMTEST_BOOT_LIMIT gave status $st: $(cat "$err")"; fail=1; }
[ $fail = 0 ] && echo "PASS: the hung first boot was retried; a bad limit is a clear error"
cat "$err" >&2
exit $fail
