#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# UDP echo: Linux sends 2,000 datagrams of sizes from 0 to 1472 bytes (a
# window of 32 in flight) to rs_stacktest's udp-echo; every echo must be
# the datagram sent, byte for byte -- one datagram for one, so boundaries
# are kept -- and none may be lost.
#
#   udp_echo.sh tap|virtio RS_STACKTEST RS_BRIDGE
set -uo pipefail
. "$(dirname "$0")/stack_lib.sh" "$1" "$2" "$3" udp
PORT=7000
COUNT=2000

st_stack "$TB_DIR/stack.log" --timeout 120 udp-echo $PORT ||
	{ fail "rs_stacktest udp-echo starts"; finish; exit 1; }
st_peer_run "$TB_DIR/peer.log" --timeout 90 udp-echo-client \
	"$TB_PROXY_IP" $PORT $COUNT 42
P=$TB_DIR/peer.log
expect "Linux: every datagram came back" "$((COUNT + 3))" "$(st_val "$P" received)"
expect "Linux: none lost" 0 "$(st_val "$P" lost)"
expect "Linux: every echo equals its datagram" 0 "$(st_val "$P" corrupt)"
expect "Linux: the client exits 0" 0 "$ST_PEER_RC"
st_stack_stop
S=$TB_DIR/stack.log
expect "rs_stacktest exits 0 on SIGTERM" 0 "$ST_RC"
expect "the stack echoed $((COUNT + 3)) datagrams" "$((COUNT + 3))" \
	"$(st_val "$S" datagrams)"
expect "no send failed" 0 "$(st_val "$S" send_errors)"
st_clean "$S" "udp-echo"
finish
