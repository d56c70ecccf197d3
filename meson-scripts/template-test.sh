#!/usr/bin/env bash
# The proof that a scheduler author outside this repository can build on the published crates:
# package scx_topology, scx_pelt, scx_utils and scx_rustland_core (`cargo package`), put the
# packages in a vendored source directory together with their registry dependencies (no
# [patch], no path), copy templates/scx_minimal and templates/scx_rlfifo out of the workspace,
# build them offline from that directory alone, and attach both in one sched_ext guest. A
# header, BPF source, build-script input or source file missing from a package makes the build
# fail.
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
	--target-dir "$work/pkg-target" -p scx_topology -p scx_pelt -p scx_utils -p scx_rustland_core

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

# build_template NAME: copy templates/NAME out of the workspace and build it offline from the
# vendored sources; prints nothing but cargo's output and leaves the binary in
# $work/target/debug. Both templates share that target directory (CARGO_TARGET_DIR, as an
# author with several schedulers might): the second build reuses the registry dependencies the
# first compiled (libbpf-sys, libbpf-rs, clap, ...), which halves the test's time, while each
# template's own crates and the packaged ones are still built from the vendored sources.
build_template() {
	local name=$1
	echo "== building templates/$name outside the workspace, offline, from the vendored sources"
	rm -rf "${work:?}/$name"
	cp -r "$src/templates/$name" "$work/$name"
	rm -rf "$work/$name/target" "$work/$name/Cargo.lock"
	mkdir -p "$work/$name/.cargo"
	cat >"$work/$name/.cargo/config.toml" <<CFG
[source.crates-io]
replace-with = "packaged"

[source.packaged]
directory = "$work/vendor"
CFG
	# A debug build: it compiles the dependencies much faster than --release, and attaching
	# is what this test proves, not speed.
	(cd "$work/$name" && CARGO_TARGET_DIR="$work/target" "$cargo" build --offline)
	"$work/target/debug/$name" --version
}

# (nothing from an earlier run: the first build compiles everything)
rm -rf "$work/target"
build_template scx_minimal
build_template scx_rlfifo

echo "== attaching them in a sched_ext guest"
exec "$vmtest" sched -k "$kernel" -t sockets=1,cores=2,threads=1 \
	-s "$work/target/debug/scx_minimal:--stats 1" \
	-s "$work/target/debug/scx_rlfifo:--stats 1"
