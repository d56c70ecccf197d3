#!/usr/bin/env bash
# scx_layered's confinement, exec/cgroup re-matching, growth and latency report, in one 4-CPU
# guest boot.
#
#   run.sh SCX_VMTEST KERNEL SCX_LAYERED [CYCLICHIST]
#
# CYCLICHIST (bench/cyclichist) turns the latency histograms into avg/p99 figures; without it
# the guest prints cyclictest's own summary lines. Latency is reported, never asserted.
set -euo pipefail
vmtest=$1 kernel=$2 layered=$3 hist=${4:-}
extra=()
[ -n "$hist" ] && [ -x "$hist" ] && extra=(-f "$hist:/usr/bin/cyclichist")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../../meson-scripts/prereq.sh"
for f in /usr/bin/cyclictest /usr/bin/yes; do
	[ -x "$f" ] || skip_or_fail "$f missing (apt-get install rt-tests coreutils)"
done
exec "$vmtest" run -k "$kernel" -t cpus=4 --timeout 300 \
	-f "$layered" -f "$here/guest.sh:/usr/bin/layered-guest.sh" \
	-f "$here/../lib/checks.sh:/usr/bin/scx-checks.sh" \
	-f /usr/bin/cyclictest:/usr/bin/latcyclic -f /usr/bin/yes:/usr/bin/batchyes "${extra[@]}" \
	-- "sh /usr/bin/layered-guest.sh"
