#!/usr/bin/env bash
# The proof that a scheduler author outside this repository can build on the published crates:
# package scx_topology, scx_pelt and scx_utils (`cargo package`), put the packages in a vendored
# source directory together with their registry dependencies (no [patch], no path), copy
# templates/scx_minimal out of the workspace, build it offline from that directory alone, and
# attach it in a sched_ext guest. A header, build-script input or source file missing from a
# package makes the build fail.
#
#   template-test.sh CARGO SOURCE_ROOT WORK_DIR OFFLINE CARGO_HOME BPF_CLANG SCX_VMTEST KERNEL
set -euo pipefail
cargo=$1 src=$2 work=$3 offline=$4 cargo_home=$5 clang=$6 vmtest=$7 kernel=$8
[ -n "$cargo_home" ] && export CARGO_HOME=$cargo_home
export BPF_CLANG=${BPF_CLANG:-$clang}
net=()
[ "$offline" = true ] && net=(--offline)
mkdir -p "$work"
work=$(cd "$work" && pwd)

echo "== packaging the crates"
rm -rf "$work/pkg-target/package"
"$cargo" package "${net[@]}" --no-verify --allow-dirty --manifest-path "$src/Cargo.toml" \
	--target-dir "$work/pkg-target" -p scx_topology -p scx_pelt -p scx_utils

echo "== vendoring the registry dependencies and adding the packages"
rm -rf "$work/vendor"
"$cargo" vendor "${net[@]}" --manifest-path "$src/Cargo.toml" --versioned-dirs "$work/vendor" >/dev/null
for crate in "$work"/pkg-target/package/*.crate; do
	name=$(basename "$crate" .crate)
	tar xzf "$crate" -C "$work/vendor"
	sum=$(sha256sum "$crate" | cut -d' ' -f1)
	printf '{"files":{},"package":"%s"}\n' "$sum" >"$work/vendor/$name/.cargo-checksum.json"
	echo "   $name"
done

echo "== building templates/scx_minimal outside the workspace, offline, from the vendored sources"
rm -rf "$work/scx_minimal"
cp -r "$src/templates/scx_minimal" "$work/scx_minimal"
rm -rf "$work/scx_minimal/target" "$work/scx_minimal/Cargo.lock"
mkdir -p "$work/scx_minimal/.cargo"
cat >"$work/scx_minimal/.cargo/config.toml" <<CFG
[source.crates-io]
replace-with = "packaged"

[source.packaged]
directory = "$work/vendor"
CFG
# A debug build: it compiles the dependencies much faster than --release, and attaching is
# what this test proves, not speed.
(cd "$work/scx_minimal" && "$cargo" build --offline)
bin=$work/scx_minimal/target/debug/scx_minimal
"$bin" --version

echo "== attaching it in a sched_ext guest"
exec "$vmtest" sched -k "$kernel" -t sockets=1,cores=2,threads=1 -s "$bin:--stats 1"
