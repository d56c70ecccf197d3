#!/usr/bin/env bash
# Runs scx_utils' prepare_ops() and typed-enum tests against the BTF of the Debian kernels the VM tests use
# (6.19, 7.1 and 7.3, fetched and cached by scx_vmtest). The tests are #[ignore]d for a plain
# `cargo test` (they need these files); this script fetches them and runs the tests with
# `--ignored`. A kernel that cannot be fetched (no network, nothing cached) is a missing
# prerequisite: SKIP, or a failure under CI=true (prereq.sh).
#
# LIBBPF_A (a static libbpf) links the small C loader that checks scx/loader.h against Rust.
#
#   compat-btf-test.sh SCX_VMTEST LIBBPF_INCLUDE LIBBPF_A CARGO-TEST-ARGS...
set -euo pipefail
. "$(dirname "$0")/prereq.sh"
vmtest=$1 libbpf_inc=$2 libbpf_a=$3
shift 3
vmlinux() {
	"$vmtest" kernel --kernel "$1" --vmlinux || skip_or_fail "the $1 kernel's vmlinux (scx_vmtest kernel --kernel $1 --vmlinux failed)"
}
SCX_VMTEST_VMLINUX_6_19=$(vmlinux 6.19)
SCX_VMTEST_VMLINUX_7_1=$(vmlinux 7.1)
SCX_VMTEST_VMLINUX_7_3=$(vmlinux 7.3)
export SCX_VMTEST_VMLINUX_6_19 SCX_VMTEST_VMLINUX_7_1 SCX_VMTEST_VMLINUX_7_3 SCX_LIBBPF_INCLUDE=$libbpf_inc \
	SCX_LIBBPF_A=$libbpf_a
exec "$(dirname "$0")/cargo-test.sh" "$@" -p scx_utils --lib -- --ignored --nocapture ops::tests kernel_enums::tests
