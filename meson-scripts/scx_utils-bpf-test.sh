#!/usr/bin/env bash
# meson test scx_utils-bpf: scx_utils' BPF headers run in the host kernel (tests/preempt_bpf.rs,
# BPF_PROG_TEST_RUN). Needs root and kernel BTF; without them the test is skipped, or fails
# under CI=true (prereq.sh).
#   scx_utils-bpf-test.sh LIBBPF_INCLUDE CARGO SRC TARGET OFFLINE CARGO_HOME CLANG
set -euo pipefail
. "$(dirname "$0")/prereq.sh"
libbpf_inc=$1
shift
[ "$(id -u)" = 0 ] || skip_or_fail "root: these tests load BPF programs (CAP_BPF + CAP_SYS_ADMIN)"
[ -e /sys/kernel/btf/vmlinux ] || skip_or_fail "kernel BTF (/sys/kernel/btf/vmlinux)"
export SCX_LIBBPF_INCLUDE=$libbpf_inc
exec "$(dirname "$0")/cargo-test.sh" "$@" -p scx_utils --test preempt_bpf -- --ignored
