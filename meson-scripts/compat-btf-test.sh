#!/usr/bin/env bash
# Runs scx_utils' prepare_ops() tests against the BTF of the Debian kernels the VM tests use
# (6.19, 7.1 and 7.3, fetched and cached by scx_vmtest), then the same cargo test as cargo-test.sh.
#
# LIBBPF_A (a static libbpf) links the small C loader that checks scx/loader.h against Rust.
#
#   compat-btf-test.sh SCX_VMTEST LIBBPF_INCLUDE LIBBPF_A CARGO-TEST-ARGS...
set -euo pipefail
vmtest=$1 libbpf_inc=$2 libbpf_a=$3
shift 3
SCX_VMTEST_VMLINUX_6_19=$("$vmtest" kernel --kernel 6.19 --vmlinux)
SCX_VMTEST_VMLINUX_7_1=$("$vmtest" kernel --kernel 7.1 --vmlinux)
SCX_VMTEST_VMLINUX_7_3=$("$vmtest" kernel --kernel 7.3 --vmlinux)
export SCX_VMTEST_VMLINUX_6_19 SCX_VMTEST_VMLINUX_7_1 SCX_VMTEST_VMLINUX_7_3 SCX_LIBBPF_INCLUDE=$libbpf_inc \
	SCX_LIBBPF_A=$libbpf_a
exec "$(dirname "$0")/cargo-test.sh" "$@" -p scx_utils --lib ops::tests -- --nocapture
