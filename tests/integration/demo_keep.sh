#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The README's way in: scripts/demo.sh --keep leaves remsockd, the peer
# namespace and its web server running; the command and the shim work
# against them from the namespace, as the README shows; --stop takes it
# all down.  The demo's names are fixed (rs-tap0, rs-demo): skipped when
# a demo already runs.
#
#   demo_keep.sh SOURCE-ROOT BUILD-ROOT
set -uo pipefail
SRC=$1
BUILD=$2
. "$(dirname "$0")/lib.sh"
require_tap_host
if ip link show rs-tap0 >/dev/null 2>&1 || ip netns list | grep -qw '^rs-demo'; then
	skip_all "a demo runs already (rs-tap0 or rs-demo exists)"
fi

TMP=$(mktemp -d /tmp/rs-keep.XXXXXX)
cleanup() {
	local rc=$?
	RS_BUILD=$BUILD "$SRC/scripts/demo.sh" --stop >/dev/null 2>&1
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT

RS_BUILD=$BUILD timeout 180 "$SRC/scripts/demo.sh" --keep >"$TMP/keep.log" 2>&1
expect "demo.sh --keep succeeds" 0 "$?"
check "... and says how to stop it" grep -q 'scripts/demo.sh --stop' "$TMP/keep.log"
PID=$(sed -n 's/^KEPT_PID=//p' /run/remsock/demo.state)
check "remsockd runs on (pid $PID)" kill -0 "$PID"

ENV=(env REMSOCK_ADDR=198.18.0.2 REMSOCK_APP=demo
	REMSOCK_SECRET=demo-secret-not-for-production)
out=$(ip netns exec rs-demo "${ENV[@]}" "$BUILD/client/cli/remsock" fetch \
	http://198.18.0.1:8080/ 2>&1)
expect "the README's remsock fetch, from the namespace" \
	"Hello from the Linux peer in rs-demo, fetched through remsock." "$out"
out=$(ip netns exec rs-demo "${ENV[@]}" \
	LD_PRELOAD="$BUILD/client/preload/libremsock-preload.so" \
	curl -s http://198.18.0.1:8080/ 2>&1)
expect "the README's curl under the shim" \
	"Hello from the Linux peer in rs-demo, fetched through remsock." "$out"

"$SRC/scripts/demo.sh" --stop >"$TMP/stop.log" 2>&1
expect "demo.sh --stop succeeds" 0 "$?"
check "remsockd is gone" bash -c "! kill -0 $PID 2>/dev/null"
check "the namespace is gone" bash -c "! ip netns list | grep -qw '^rs-demo'"
check "and the state file" test ! -e /run/remsock/demo.state
finish
