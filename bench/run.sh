#!/usr/bin/env bash
# The project's shared benchmark: every scheduler against the kernel's default scheduler (EEVDF)
# on 1, 2 and 4 vCPUs, in one guest boot per vCPU count (EEVDF measured in the same boot), rounds
# interleaved across schedulers; results only as ratios to EEVDF (emulated time is slow: only
# ratios measured side by side mean anything). See bench/README.md.
#
#   bench/run.sh [BUILD_DIR] [options]
#
#   -s, --sched PATH[:ARGS]   a scheduler binary and its arguments (repeatable; default:
#                             BUILD_DIR/scx_simple, BUILD_DIR/scx_simple:-f, BUILD_DIR/scx_rusty)
#   -o, --ops NAME            root/ops name the previous -s must show (default: its file name
#                             without "scx_", e.g. scx_rusty -> rusty)
#   --vcpus LIST              vCPU counts, one boot each (default 1,2,4)
#   --boots N                 boots per vCPU count (default 1): boots differ by more than one
#                             boot's rounds show, and report.py pools them (see README)
#   --rounds N                rounds per scheduler (default 3; medians)
#   --secs N                  seconds of each timed workload (default 5)
#   -k, --kernel SPEC         guest kernel (scx_vmtest's SPEC; default "default")
#   --out DIR                 results directory (default BUILD_DIR/bench-results)
#   --workload NAME           standard (default: every workload) or layers (scx_layered's
#                             issue: cyclictest as "latcyclic" beside 4 hogs in cgroup /batch
#                             and 2 in the root cgroup; default scheduler BUILD_DIR/scx_layered
#                             with bench/layers.json, default vCPUs 4, flat topology)
#   --icount SHIFT            guest time follows the instruction count (scx_vmtest --icount):
#                             2^SHIFT ns per instruction, a vCPU waits ~1 ms at most for its
#                             turn on the emulator (default: the host's clock; see README)
#   --idle-poll               idle vCPUs poll instead of halting (guest idle=poll)
#   --smoke                   plumbing check: 1 round of 2 s, 1 vCPU unless --vcpus is given
#
# Writes DIR/raw-<n>cpu.log (the guest's output; raw-<n>cpu-boot<b>.log for boots after the
# first), DIR/results.json, DIR/results.md and, when python3 has matplotlib, DIR/results.png.
# Exits 1 when a round was dropped (the scheduler under test was not the one attached while
# measured) or a boot failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=host-lib.sh
. "$here/host-lib.sh"
cmdline="bench/run.sh $*"
# The revision measured: taken now, before anything in the tree can change during the run.
rev=$(git -C "$here/.." describe --always --dirty 2>/dev/null || echo unknown)
build=build
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
	build=$1
	shift
fi
vcpus=1,2,4 boots=1 rounds=3 secs=5 kernel=default out="" smoke=no vcpus_set=no workload=standard
scheds=() ops=() emulation=() clock=host idle=halt
usage() { sed -n '/^#   bench/,/^# Writes/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	-s | --sched) scheds+=("$2") ops+=("") && shift 2 ;;
	-o | --ops)
		[ ${#scheds[@]} -gt 0 ] || { echo "--ops must follow a -s" >&2; exit 2; }
		ops[${#ops[@]} - 1]=$2
		shift 2
		;;
	--vcpus) vcpus=$2 vcpus_set=yes && shift 2 ;;
	--rounds) rounds=$2 && shift 2 ;;
	--boots) boots=$2 && shift 2 ;;
	--secs) secs=$2 && shift 2 ;;
	-k | --kernel) kernel=$2 && shift 2 ;;
	--out) out=$2 && shift 2 ;;
	--workload) workload=$2 && shift 2 ;;
	--icount) emulation+=(--icount "$2") clock=icount:$2 && shift 2 ;;
	--idle-poll) emulation+=(--idle-poll) idle=poll && shift ;;
	--smoke) smoke=yes && shift ;;
	-h | --help) usage ;;
	*) echo "unknown argument: $1" >&2; usage ;;
	esac
done
case $boots in
'' | *[!0-9]* | 0) echo "--boots wants a positive number, not '$boots'" >&2; exit 2 ;;
esac
case $workload in
standard) ;;
layers) [ $vcpus_set = yes ] || vcpus=4 vcpus_set=yes ;;
*) echo "unknown workload '$workload' (standard or layers)" >&2; exit 2 ;;
esac
if [ $smoke = yes ]; then
	rounds=1 secs=2
	[ $vcpus_set = yes ] || vcpus=1
fi
[ -n "$out" ] || out=$build/bench-results
if [ ${#scheds[@]} -eq 0 ] && [ "$workload" = layers ]; then
	scheds=("$build/scx_layered:/etc/bench-layers.json")
	ops=("")
elif [ ${#scheds[@]} -eq 0 ]; then
	scheds=("$build/scx_simple" "$build/scx_simple:-f" "$build/scx_rusty")
	ops=("" "" "")
fi
need_tools "$build"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The spec file the guest reads: LABEL<tab>OPS<tab>COMMAND, and the files to copy in.
files=(-f "$build/bench/frames:/usr/bin/frames" -f "$build/bench/cyclichist:/usr/bin/cyclichist"
	-f /usr/bin/cyclictest -f "$here/guest.sh:/usr/bin/bench-guest.sh"
	-f "$here/guest-lib.sh:/usr/bin/bench-lib.sh"
	-f "$work/specs:/etc/bench-specs")
# The layers workload's task is cyclictest under the name its layer matches, and its config.
[ "$workload" = standard ] ||
	files+=(-f /usr/bin/cyclictest:/usr/bin/latcyclic -f "$here/layers.json:/etc/bench-layers.json")
: >"$work/specs"
declare -A seen=()
for i in "${!scheds[@]}"; do
	split_spec "${scheds[$i]}"
	base=$(basename "$path")
	guest=/opt/sched/$i/$base
	files+=(-f "$path:$guest")
	label=$(printf '%s' "$base${args:+ $args}" | tr -s ' \t/' '___')
	[ -z "${seen[$label]:-}" ] || label=${label}_$i
	seen[$label]=1
	want=${ops[$i]:-${base#scx_}}
	printf '%s\t%s\t%s\n' "$label" "$want" "$guest${args:+ $args}" >>"$work/specs"
done

# One topology per vCPU count: 4 or more (even) get 2 sockets and 2 NUMA nodes, so a scheduler
# with per-LLC domains (scx_rusty) has two of them; fewer get one socket. The layers workload is
# always one socket, as in tests/vm/layered.
topology() {
	if [ "$workload" = standard ] && [ "$1" -ge 4 ] && [ $(($1 % 2)) -eq 0 ]; then
		echo "sockets=2,cores=$(($1 / 2)),threads=1,nodes=2"
	else
		echo "cpus=$1"
	fi
}

nsched=$((${#scheds[@]} + 1))
# Per scheduler-round: 4 timed workloads of $secs, hackbench, attach/detach; generous for TCG.
timeout=$((300 + rounds * nsched * (5 * secs + 120)))
status=0
start=$(date +%s)
raws=()
IFS=, read -r -a vlist <<<"$vcpus"
for n in "${vlist[@]}"; do
for b in $(seq "$boots"); do
	topo=$(topology "$n")
	raw=$out/raw-${n}cpu.log
	[ "$b" = 1 ] || raw=$out/raw-${n}cpu-boot$b.log
	echo "== $n vCPU(s) ($topo), boot $b of $boots: EEVDF + ${#scheds[@]} scheduler(s), $rounds round(s) of ${secs} s workloads" >&2
	t0=$(date +%s)
	{
		echo "BENCH-HOST vcpus=$n topology=$topo clock=$clock idle=$idle loadavg_start=$(cut -d' ' -f1 /proc/loadavg)"
		rc=0
		"$build/scx_vmtest" run -k "$kernel" -t "$topo" "${emulation[@]}" --timeout "$timeout" "${files[@]}" \
			-- "ROUNDS=$rounds SECS=$secs WORKLOAD=$workload sh /usr/bin/bench-guest.sh /etc/bench-specs" 2>&1 || rc=$?
		echo "BENCH-HOST exit=$rc wall_s=$(($(date +%s) - t0)) loadavg_end=$(cut -d' ' -f1 /proc/loadavg)"
	} | tee "$raw" | grep --line-buffered '^BENCH-\(INVALID\|NOTE\|META\)' >&2 || true
	grep -q '^BENCH-HOST exit=0 ' "$raw" || { echo "the $n-vCPU boot failed: see $raw" >&2; status=1; }
	raws+=("$raw")
done
done
elapsed=$(($(date +%s) - start))

python3 "$here/report.py" --command "$cmdline" --git "$rev" --elapsed "$elapsed" --rounds "$rounds" --secs "$secs" \
	--kernel-spec "$kernel" --specs "$work/specs" --json "$out/results.json" --md "$out/results.md" "${raws[@]}" || status=1
if python3 -c 'import matplotlib' 2>/dev/null; then
	python3 "$here/chart.py" "$out/results.json" "$out/results.png"
else
	echo "no chart: python3 lacks matplotlib (pip install matplotlib), then: bench/chart.py $out/results.json $out/results.png" >&2
fi
cat "$out/results.md"
echo "total wall time: $((elapsed / 60)) min $((elapsed % 60)) s; results in $out" >&2
exit $status
