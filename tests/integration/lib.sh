# SPDX-License-Identifier: BSD-3-Clause
# Shared by the integration test scripts: result lines and the verdict.
#
# Each check prints "ok N - what" or "not ok N - what" (with the reason on
# the next lines); finish prints "P passed, F failed" and returns non-zero
# when anything failed.  A script that cannot run here exits 77, which
# meson reports as skipped.

PASSED=0
FAILED=0

pass() {
	PASSED=$((PASSED + 1))
	echo "ok $((PASSED + FAILED)) - $1"
}

# fail WHAT [DETAIL...]
fail() {
	FAILED=$((FAILED + 1))
	echo "not ok $((PASSED + FAILED)) - $1"
	shift
	for line in "$@"; do
		printf '#   %s\n' "$line"
	done
}

# check WHAT COMMAND...: pass when COMMAND succeeds.
check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$what"
	else
		fail "$what" "command: $*" "$out"
	fi
}

# expect WHAT WANT GOT: pass when the strings are equal.
expect() {
	if [[ $2 == "$3" ]]; then
		pass "$1"
	else
		fail "$1" "expected: $2" "got:      $3"
	fi
}

skip_all() {
	echo "SKIP: $1"
	exit 77
}

finish() {
	echo "$PASSED passed, $FAILED failed"
	[[ $FAILED -eq 0 ]]
}

# Root, /dev/net/tun, network namespaces and free hugepages, or skip.
require_tap_host() {
	[[ $(id -u) -eq 0 ]] || skip_all "needs root (net_tap, namespaces)"
	[[ -c /dev/net/tun ]] || skip_all "needs /dev/net/tun"
	command -v ip >/dev/null || skip_all "needs iproute2"
	local free
	free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
	[[ ${free:-0} -gt 0 ]] || skip_all "needs free hugepages (see remsockd --help, FILES)"
}
