# Host-side pieces shared by bench/run.sh (the benchmark) and bench/trace.sh (its traced
# diagnostic), sourced by both: the tools a guest run needs and the form of a scheduler spec.

# need_tools BUILD_DIR: exit 2 naming the first missing tool.
need_tools() {
	for f in "$1/scx_vmtest" "$1/bench/frames" "$1/bench/cyclichist" /usr/bin/cyclictest; do
		[ -x "$f" ] || { echo "missing $f (meson compile -C $1; cyclictest: apt-get install rt-tests)" >&2; exit 2; }
	done
}

# split_spec PATH[:ARGS]: sets $path and $args; exit 2 when PATH is not an executable.
split_spec() {
	path=${1%%:*}
	args=""
	[ "$path" = "$1" ] || args=${1#*:}
	[ -x "$path" ] || { echo "no scheduler binary $path" >&2; exit 2; }
}
