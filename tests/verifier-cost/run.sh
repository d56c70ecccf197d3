#!/usr/bin/env bash
# Verifier cost of every scheduler's BPF object on every kernel series, against the committed
# baseline (baseline.tsv next to this script). One guest boot per series loads all objects with
# `scx_veristat load` (nothing is attached); the host then compares with `scx_veristat compare`.
# An object that fails to load on any series fails the test: this is also the proof that
# tests/bpf/compat_all.bpf.c, which calls every compat.bpf.h wrapper, loads everywhere.
#
#   run.sh [--update] SCX_VMTEST SCX_VERISTAT OBJECT...
#
# OBJECT is a .bpf.o path or a glob of them (quoted, expanded here), so schedulers built by Cargo
# are all found with one pattern: BpfBuilder copies each to
# <cargo-target>/release/bpf-objects/<crate>.bpf.o. The series are SCX_VERISTAT_SERIES
# (default "6.19 7.0 7.1 7.2 7.3"). --update rewrites baseline.tsv from this run's measurements.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../meson-scripts/prereq.sh"
update=()
if [ "${1:-}" = --update ]; then
	update=(--update)
	shift
fi
if [ $# -lt 3 ]; then
	echo "usage: $0 [--update] SCX_VMTEST SCX_VERISTAT OBJECT..." >&2
	exit 2
fi
vmtest=$1 veristat=$2
shift 2

objs=()
for pat in "$@"; do
	# shellcheck disable=SC2206 # the pattern is meant to be expanded here
	matches=($pat)
	for o in "${matches[@]}"; do
		if [ ! -f "$o" ]; then
			echo "$0: no BPF object at $o: build first (meson compile -C build)" >&2
			exit 2
		fi
		objs+=("$o")
	done
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
files=(-f "$veristat")
guest=()
for o in "${objs[@]}"; do
	files+=(-f "$o:/root/obj/$(basename "$o")")
	guest+=("/root/obj/$(basename "$o")")
done

status=0
for series in ${SCX_VERISTAT_SERIES:-6.19 7.0 7.1 7.2 7.3}; do
	start=$(date +%s)
	rc=0
	"$vmtest" run -k "$series" --timeout 240 "${files[@]}" -- \
		"scx_veristat load --series $series ${guest[*]}" >"$tmp/$series.tsv" || rc=$?
	if [ "$rc" -eq 77 ]; then
		cat "$tmp/$series.tsv"
		skip_or_fail "scx_vmtest could not boot series $series (a host tool or the kernel is missing, see above)"
	fi
	echo "series $series: $(($(date +%s) - start)) s, scx_veristat load exit $rc"
	# The guest's messages (prepare_ops warnings, verifier logs), rows left out.
	grep -v "$(printf '\t')" "$tmp/$series.tsv" | sed "s/^/  [$series] /" || true
	# 1 = some object did not load (its row says so, compare reports it); 3 = kfunc warnings
	# for an object that loaded (a wrong guard analysis); anything else means the guest or the
	# tool did not get that far.
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
		cat "$tmp/$series.tsv"
		echo "FAIL: series $series: scx_veristat load or the guest failed (exit $rc; 3 means" \
			"kfunc warnings for an object that loaded, see above)"
		status=1
	fi
done
"$veristat" compare --baseline "$here/baseline.tsv" "${update[@]}" "$tmp"/*.tsv || status=1
exit $status
