#!/usr/bin/env bash
# Builds the Cargo workspace for Meson and copies the named binaries into OUTDIR.
#
#   cargo-build.sh CARGO SOURCE_ROOT TARGET_DIR OUTDIR OFFLINE CARGO_HOME BPF_CLANG BIN...
#
# Always run (Meson cannot see Cargo's inputs); Cargo decides what is stale.
set -euo pipefail
cargo=$1 src=$2 target=$3 out=$4 offline=$5 cargo_home=$6 clang=$7
shift 7
[ -n "$cargo_home" ] && export CARGO_HOME=$cargo_home
export BPF_CLANG=${BPF_CLANG:-$clang}
# scx_topology's command sits behind its `cli` feature (library users do not build clap).
flags=(--release --workspace --bins --features scx_topology/cli --target-dir "$target"
	--manifest-path "$src/Cargo.toml")
[ "$offline" = true ] && flags+=(--offline)
"$cargo" build "${flags[@]}"
for bin in "$@"; do
	cp -p "$target/release/$bin" "$out/$bin.tmp"
	mv -f "$out/$bin.tmp" "$out/$bin"
done
