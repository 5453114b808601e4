#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# TCP connections in both directions, accepted and refused:
#   1. Linux connects to the stack's echo server: one echo round, clean
#      close; then to a closed port: ECONNREFUSED (the stack resets);
#   2. the stack connects to a Linux listener; then to a closed Linux
#      port: ECONNREFUSED.
#
#   tcp_connect.sh tap|virtio RS_STACKTEST RS_BRIDGE
set -uo pipefail
. "$(dirname "$0")/stack_lib.sh" "$1" "$2" "$3" conn

# 1. Linux -> stack
st_stack "$TB_DIR/echo.log" --timeout 60 tcp-echo 7001 ||
	{ fail "rs_stacktest tcp-echo starts"; finish; exit 1; }
st_peer_run "$TB_DIR/p1.log" --timeout 30 tcp-connect "$TB_PROXY_IP" 7001 0
expect "Linux connects to the stack and gets its echo" "0 ok" \
	"$(st_val "$TB_DIR/p1.log" error) $(st_val "$TB_DIR/p1.log" echo)"
st_peer_run "$TB_DIR/p2.log" --timeout 30 tcp-connect "$TB_PROXY_IP" 7002 ECONNREFUSED
expect "Linux connecting to a closed port of the stack: ECONNREFUSED" \
	ECONNREFUSED "$(st_val "$TB_DIR/p2.log" error)"
st_stack_stop
expect "tcp-echo exits 0" 0 "$ST_RC"
expect "tcp-echo served 1 connection, none failed" "1 0" \
	"$(st_val "$TB_DIR/echo.log" conns) $(st_val "$TB_DIR/echo.log" failed)"
st_clean "$TB_DIR/echo.log" "Linux -> stack" tcp_no_socket

# 2. stack -> Linux
st_peer "$TB_DIR/p3.log" --timeout 60 tcp-listen-accept 7003 ||
	fail "the Linux listener starts"
st_stack "$TB_DIR/conn.log" --timeout 60 tcp-connect "$TB_PEER_IP:7003" ||
	fail "rs_stacktest tcp-connect starts"
st_stack_wait 60
expect "the stack connects to Linux (exit 0)" 0 "$ST_RC"
expect "the stack's connect succeeded" 0 "$(st_val "$TB_DIR/conn.log" error)"
st_peer_wait 10
expect "Linux accepted it and saw a clean end" "1 0" \
	"$(st_val "$TB_DIR/p3.log" accepted) $ST_PEER_RC"
st_clean "$TB_DIR/conn.log" "stack -> Linux"

st_stack "$TB_DIR/refused.log" --timeout 60 --expect-error ECONNREFUSED \
	tcp-connect "$TB_PEER_IP:7004" || fail "rs_stacktest tcp-connect starts"
st_stack_wait 60
expect "the stack connecting to a closed Linux port: ECONNREFUSED" \
	ECONNREFUSED "$(st_val "$TB_DIR/refused.log" error)"
expect "rs_stacktest exits 0 having seen it" 0 "$ST_RC"
st_clean "$TB_DIR/refused.log" "stack -> closed port"
finish
