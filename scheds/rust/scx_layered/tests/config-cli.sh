#!/usr/bin/env bash
# scx_layered's config handling through the real binary (no BPF, no root): --example passes
# --check, and each kind of bad config is one line on stderr naming the problem, exit status 2,
# nothing attached. Prints "ok"/"FAIL" per case; exits with the number of failures.
#
#   config-cli.sh SCX_LAYERED
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
catch='{"name":"rest","matches":[[]],"kind":{"Open":{}}}'

# expect NAME STATUS PATTERN ARGS...: exit status and a stderr line matching PATTERN.
expect() {
	local name=$1 want=$2 pat=$3
	shift 3
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	local st=$? lines
	lines=$(grep -c . "$tmp/err")
	if [ $st = "$want" ] && { [ -z "$pat" ] || grep -qE -- "$pat" "$tmp/err"; } && { [ "$want" = 0 ] || [ "$lines" = 1 ]; }; then
		echo "ok   $name"
	else
		echo "FAIL $name: status $st (want $want), stderr:"
		sed 's/^/     /' "$tmp/err"
		failures=$((failures + 1))
	fi
}

"$bin" --example >"$tmp/example.json" || { echo "FAIL --example"; exit 1; }
"$bin" --check "$tmp/example.json" >"$tmp/check.out" 2>"$tmp/check.err"
if [ $? = 0 ] && grep -q 'config OK: 5 layer' "$tmp/check.out" && grep -q '^layer 0 "batch": Confined' "$tmp/check.out"; then
	echo "ok   --example passes --check"
else
	echo "FAIL --example does not pass --check:"
	cat "$tmp/check.out" "$tmp/check.err"
	failures=$((failures + 1))
fi

printf '[\n  {"name": "a",,}\n]\n' >"$tmp/syntax.json"
expect syntax 2 'syntax.json: invalid JSON at line 2 column' --check "$tmp/syntax.json"
expect missing-file 2 '/nonexistent.json: cannot read it' --check f:/nonexistent.json
expect unknown-matcher 2 'layer "x" \(#0\): matches\[0\]\[0\]: unknown matcher "Comm" \(valid matchers: CgroupPrefix' \
	--check "[{\"name\":\"x\",\"matches\":[[{\"Comm\":\"a\"}]],\"kind\":{\"Open\":{}}},$catch]"
expect unknown-kind 2 'layer "x" \(#0\): kind: unknown kind "Shared" \(valid kinds: Confined, Grouped, Open\)' \
	--check "[{\"name\":\"x\",\"matches\":[[]],\"kind\":{\"Shared\":{}}}]"
expect min-above-max 2 'layer "x" \(#0\): kind.Confined.cpus_range: \[2, 1\]: the minimum is above the maximum' \
	--check "[{\"name\":\"x\",\"matches\":[[{\"CommPrefix\":\"a\"}]],\"kind\":{\"Confined\":{\"cpus_range\":[2,1],\"util_range\":[0.5,0.8]}}},$catch]"
expect util-outside 2 'layer "x" \(#0\): kind.Grouped.util_range: .*between 0 and 1' \
	--check "[{\"name\":\"x\",\"matches\":[[{\"CommPrefix\":\"a\"}]],\"kind\":{\"Grouped\":{\"cpus_range\":[1,2],\"util_range\":[0.5,1.2]}}},$catch]"
expect empty-matches 2 'layer "x" \(#0\): matches: empty' \
	--check "[{\"name\":\"x\",\"matches\":[],\"kind\":{\"Open\":{}}},$catch]"
x='{"name":"x","matches":[[{"CommPrefix":"a"}]],"kind":{"Open":{}}}'
expect duplicate 2 'layer "x" \(#1\): name: duplicate of layer #0' --check "[$x,$x,$catch]"
expect no-catch-all 2 'layer "x" \(#0\): matches: the last layer must match every task' \
	--check '[{"name":"x","matches":[[{"CommPrefix":"a"}]],"kind":{"Open":{}}}]'
expect concatenated 0 '' --check "[{\"name\":\"x\",\"matches\":[[{\"CommPrefix\":\"a\"}]],\"kind\":{\"Open\":{}}}]" "[$catch]"
# Without --check the same errors stop it before anything is loaded (no root needed to see it).
expect run-bad-config 2 'the last layer must match every task' '[{"name":"x","matches":[[{"CommPrefix":"a"}]],"kind":{"Open":{}}}]'
exit $failures
