#!/usr/bin/env bash
# The README's first command: install what is missing, build everything, show a short demo.
#
#   scripts/setup.sh [--no-demo]
#
# On a kernel with sched_ext (and as root) the demo runs each scheduler on this machine for a few
# seconds; elsewhere it boots a Debian sched_ext kernel in the test VM and runs them there.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
demo=true
[ "${1:-}" = "--no-demo" ] && demo=false

bash scripts/install-deps.sh

if ! command -v cargo >/dev/null; then
	echo "setup: no Rust toolchain: install Rust 1.82 or newer with rustup (https://rustup.rs), then run this again" >&2
	exit 1
fi

if [ -d build ]; then
	meson setup --reconfigure build >/dev/null
else
	meson setup build
fi
meson compile -C build

$demo || exit 0
echo
echo "=== demo: scx_simple and scx_rusty take over a sched_ext kernel and hand it back ==="
if [ -d /sys/kernel/sched_ext ] && [ "$(id -u)" = 0 ]; then
	sh scripts/demo-guest.sh build
else
	build/scx_vmtest run -t sockets=2,cores=2,threads=1,nodes=2 \
		-f build/scx_simple -f build/scx_rusty -f scripts/demo-guest.sh:/usr/bin/demo-guest.sh \
		-- 'sh /usr/bin/demo-guest.sh /usr/bin'
fi
