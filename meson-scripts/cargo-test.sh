#!/usr/bin/env bash
# Runs `cargo test` for Meson in the same target dir as the build, so nothing compiles twice.
#
#   cargo-test.sh CARGO SOURCE_ROOT TARGET_DIR OFFLINE CARGO_HOME BPF_CLANG [CARGO TEST ARGS...]
#
# Without extra arguments: the whole workspace.
set -euo pipefail
cargo=$1 src=$2 target=$3 offline=$4 cargo_home=$5 clang=$6
shift 6
[ -n "$cargo_home" ] && export CARGO_HOME=$cargo_home
export BPF_CLANG=${BPF_CLANG:-$clang}
flags=(--release --target-dir "$target" --manifest-path "$src/Cargo.toml")
[ "$offline" = true ] && flags+=(--offline)
[ $# -eq 0 ] && set -- --workspace
exec "$cargo" test "${flags[@]}" "$@"
