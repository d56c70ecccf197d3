#!/usr/bin/env bash
# Runs scx_pelt's host-BPF tests (BPF vs Rust bit for bit, the instruction-count bounds, the map
# helpers against the host's vmlinux.h). They load BPF programs into the running kernel, so
# they are #[ignore]d for a plain `cargo test`; this script checks their prerequisites (root,
# bpftool) and runs them with `--ignored`. A missing prerequisite is a SKIP, or a failure under
# CI=true (prereq.sh).
#
#   pelt-bpf-test.sh CARGO-TEST-ARGS...
set -euo pipefail
. "$(dirname "$0")/prereq.sh"
[ "$(id -u)" = 0 ] || skip_or_fail "root: these tests load BPF programs (CAP_BPF + CAP_SYS_ADMIN)"
command -v bpftool >/dev/null || skip_or_fail "bpftool (>= 7.5): the glue test dumps the host's vmlinux.h"
[ -e /sys/kernel/btf/vmlinux ] || skip_or_fail "kernel BTF (/sys/kernel/btf/vmlinux)"
exec "$(dirname "$0")/cargo-test.sh" "$@" -p scx_pelt --test bpf_equivalence --test bpf_glue -- --ignored
