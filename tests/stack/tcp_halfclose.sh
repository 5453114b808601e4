#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Half-close both ways: one side sends 1 MiB and shuts down its sending
# side; the other reads to that FIN and only then answers "BYTES SHA256"
# and closes.  The answer must arrive whole at the side that shut down.
#   1. the stack shuts down first (tcp-halfclose-client, Linux answers);
#   2. Linux shuts down first (the stack's tcp-halfclose-server answers).
#
#   tcp_halfclose.sh tap|virtio RS_STACKTEST RS_BRIDGE
set -uo pipefail
. "$(dirname "$0")/stack_lib.sh" "$1" "$2" "$3" half
BYTES=1048576

# 1. The stack half-closes.
st_peer "$TB_DIR/p1.log" --timeout 60 tcp-listen-halfclose 7040 ||
	fail "the Linux listener starts"
st_stack "$TB_DIR/s1.log" --timeout 60 tcp-halfclose-client \
	"$TB_PEER_IP:7040" $BYTES 5 || fail "tcp-halfclose-client starts"
st_stack_wait 70
st_peer_wait 10
expect "Linux read $BYTES bytes to the stack's FIN" "$BYTES 0" \
	"$(st_val "$TB_DIR/p1.log" bytes) $ST_PEER_RC"
expect "the stack, half-closed, got Linux's answer (exit 0)" "yes 0" \
	"$(st_val "$TB_DIR/s1.log" reply_ok) $ST_RC"
st_clean "$TB_DIR/s1.log" "the stack half-closes"

# 2. Linux half-closes.
st_stack "$TB_DIR/s2.log" --timeout 60 --count 1 tcp-halfclose-server 7041 ||
	fail "tcp-halfclose-server starts"
st_peer_run "$TB_DIR/p2.log" --timeout 30 tcp-halfclose "$TB_PROXY_IP" 7041 \
	$BYTES 6
st_stack_wait 30
expect "the stack read $BYTES bytes to Linux's FIN and answered" \
	"$BYTES yes 0" \
	"$(st_val "$TB_DIR/s2.log" bytes) $(st_val "$TB_DIR/s2.log" reply_sent) $ST_RC"
expect "Linux, half-closed, got the stack's answer" "yes 0" \
	"$(st_val "$TB_DIR/p2.log" reply_ok) $ST_PEER_RC"
st_clean "$TB_DIR/s2.log" "Linux half-closes"
finish
