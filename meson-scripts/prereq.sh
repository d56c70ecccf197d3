# Sourced by the test scripts meson runs: the project's convention for missing prerequisites.
#
# skip_or_fail MESSAGE: a prerequisite of this test is missing. Reported to meson as SKIP
# (exit 77); under CI=true a skip is a failure (exit 1), so CI never passes on a test that did
# not run. MESSAGE names the missing prerequisite.
skip_or_fail() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL (CI=true, so a skip is a failure): $*" >&2
		exit 1
	fi
	echo "SKIP: $*" >&2
	exit 77
}
