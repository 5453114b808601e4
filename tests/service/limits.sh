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
. "$HERE/svc_lib.sh"

OPEN_PORT=8081
TB_INI_EXTRA="[tcp]
time_wait_ms = 500
close_grace_ms = 10000
[service]
idle_timeout_s = 3
auth_timeout_ms = 2000
operator = demo
[acl]
hole = allow $TB_PEER_IP/32 $OPEN_PORT
[quotas]
pending_calls = 2
buffered_bytes = 1100000"

svc_up tap limits "$REMSOCKD"
svc_client "$TB_DIR/client.log" "$HERE/svc_limits.py" "$SRC/proto" \
	"$TB_PROXY_IP" 5757 "$TB_PEER_IP" "$OPEN_PORT"
svc_stop
expect "the reaped sockets were counted, and their descriptors given back" "2 0" \
	"$(tb_counter "$SVC_LOG" rpc.reaped) $(tb_counter \
		"$SVC_LOG" rpc.descriptors_at_stop)"
expect "the silent connection was counted" 1 \
	"$(tb_counter "$SVC_LOG" rpc.auth_timeouts)"
finish
