#!/usr/bin/env bash
# Checks that scx_utils and scx_rustland_core package for the registry (together with scx_topology
# and scx_pelt, which they and schedulers depend on) and that their .crates carry the BPF headers
# and sources a scheduler needs. That the packages build and work from a registry alone is
# template-test.sh's proof.
#
#   check-package.sh CARGO SOURCE_ROOT TARGET_DIR OFFLINE CARGO_HOME
set -euo pipefail
cargo=$1 src=$2 target=$3 offline=$4 cargo_home=$5
[ -n "$cargo_home" ] && export CARGO_HOME=$cargo_home
flags=(--allow-dirty --no-verify --target-dir "$target" --manifest-path "$src/Cargo.toml")
[ "$offline" = true ] && flags+=(--offline)
"$cargo" package -p scx_topology -p scx_pelt -p scx_utils -p scx_rustland_core "${flags[@]}"
crate=$(ls -t "$target"/package/scx_utils-*.crate | head -1)
contents=$(tar tzf "$crate")
missing=0
for h in bpf/include/scx/common.bpf.h bpf/include/scx/compat.bpf.h bpf/include/scx/counters.bpf.h bpf/include/scx/wakefreq.bpf.h bpf/include/scx/waker.bpf.h bpf/include/scx/vtime.bpf.h bpf/include/scx/preempt.bpf.h bpf/include/scx/masks.bpf.h bpf/include/scx/llc_topo.bpf.h bpf/include/scx/user_exit_info.h \
	bpf/include/scx/user_exit_info.bpf.h bpf/include/scx/loader.h bpf/arch/x86/vmlinux.h; do
	if grep -qx "scx_utils-[^/]*/$h" <<<"$contents"; then
		echo "ok: $h"
	else
		echo "MISSING from $crate: $h"
		missing=1
	fi
done
crate=$(ls -t "$target"/package/scx_rustland_core-*.crate | head -1)
contents=$(tar tzf "$crate")
for f in bpf/scx_rustland/main.bpf.c bpf/scx_rustland/intf.h src/builder.rs; do
	if grep -qx "scx_rustland_core-[^/]*/$f" <<<"$contents"; then
		echo "ok: scx_rustland_core $f"
	else
		echo "MISSING from $crate: $f"
		missing=1
	fi
done
exit $missing
