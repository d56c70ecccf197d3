#!/usr/bin/env bash
# Builds a static libbpf for the C schedulers' loaders: OUTDIR/libbpf.a and headers in
# OUTDIR/libbpf-root/include/bpf/.
#
#   build-libbpf.sh OUTDIR CARGO SOURCE_ROOT OFFLINE [CARGO_HOME]
#
# bookworm's libbpf is too old for bpftool 7.5 skeletons and newer Debian builds need a newer
# glibc, so the C side uses the same libbpf release the Rust side builds: the source that the
# libbpf-sys crate carries, fetched by Cargo for the workspace.
set -euo pipefail
out=$(realpath -m "$1")
cargo=$2
src_root=$3
offline=${4:-false}
[ -n "${5:-}" ] && export CARGO_HOME=$5

flags=()
[ "$offline" = true ] && flags+=(--offline)
manifest=$("$cargo" metadata "${flags[@]}" --format-version 1 --manifest-path "$src_root/Cargo.toml" |
	python3 -c 'import json,sys
pkgs = json.load(sys.stdin)["packages"]
print(next(p["manifest_path"] for p in pkgs if p["name"] == "libbpf-sys"))')
libbpf_src="$(dirname "$manifest")/libbpf/src"
[ -f "$libbpf_src/Makefile" ] || { echo "build-libbpf: no libbpf source at $libbpf_src" >&2; exit 1; }

root="$out/libbpf-root"
stamp="$root/.built-from"
if [ -f "$out/libbpf.a" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$libbpf_src" ]; then
	touch "$out/libbpf.a"
	exit 0
fi
rm -rf "$root" && mkdir -p "$root/obj"
make -s -C "$libbpf_src" BUILD_STATIC_ONLY=1 OBJDIR="$root/obj" DESTDIR="$root" \
	PREFIX=/ LIBDIR=/lib INCLUDEDIR=/include UAPIDIR=/include -j"$(nproc)" \
	install install_uapi_headers >/dev/null
cp "$root/lib/libbpf.a" "$out/libbpf.a"
echo "$libbpf_src" >"$stamp"
