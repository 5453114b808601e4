#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# remsockd's limits end to end (tap mode): a short [service]
# auth_timeout_ms and idle_timeout_s, an [acl] that opens one port of the
# benchmark range (the built-in rule denies the rest), a pending call
# quota of 2 and a buffered bytes quota of two sockets' rings; svc_limits.py in the namespace checks each, then remsockd
# must stop with nothing left.
#
#   limits.sh REMSOCKD RS_BRIDGE SOURCE_ROOT
set -uo pipefail
REMSOCKD=$1
TB_BRIDGE=$2
SRC=$3
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../integration/lib.sh"
. "$HERE/../testbed/testbed.sh"

OPEN_PORT=8081
TB_INI_EXTRA="[tcp]
time_wait_ms = 500
close_grace_ms = 3000
[service]
idle_timeout_s = 1
auth_timeout_ms = 300
[acl]
hole = allow $TB_PEER_IP/32 $OPEN_PORT
[quotas]
pending_calls = 2
buffered_bytes = 1100000"

if ! tb_up tap limits; then
	fail "the tap testbed comes up"
	finish
	exit 1
fi
tb_start "$TB_DIR/remsockd.log" "$REMSOCKD" -c "$TB_CONF" ||
	{ fail "remsockd starts"; finish; exit 1; }
pass "remsockd starts"

tb_ns /usr/bin/python3 "$HERE/svc_limits.py" "$SRC/proto" "$TB_PROXY_IP" \
	5757 "$TB_PEER_IP" "$OPEN_PORT" >"$TB_DIR/client.log" 2>&1
CLIENT_RC=$?
while read -r _ name; do
	case $name in
	*" ok") pass "${name% ok}" ;;
	*" FAIL: "*) fail "${name%% FAIL: *}" "${name#* FAIL: }" ;;
	esac
done < <(grep '^check ' "$TB_DIR/client.log")
expect "the client ran to its end" "0 1" \
	"$CLIENT_RC $(grep -c '^done failures=' "$TB_DIR/client.log")"

tb_stop
expect "remsockd exits 0 at SIGTERM (nothing leaked)" 0 "$TB_RC"
expect "no RPC connection, socket, parked call or entry left" \
	"conns_open=0 socks_open=0 waits=0 msgs_in_use=0" \
	"$(awk '$1 == "service" && $2 == "leak:" {print $3, $4, $5, $6}' \
		"$TB_DIR/remsockd.log")"
expect "the reaped socket was counted, and its descriptor given back" "1 0" \
	"$(tb_counter "$TB_DIR/remsockd.log" rpc.reaped) $(tb_counter \
		"$TB_DIR/remsockd.log" rpc.descriptors_at_stop)"
expect "the silent connection was counted" 1 \
	"$(tb_counter "$TB_DIR/remsockd.log" rpc.auth_timeouts)"
finish
