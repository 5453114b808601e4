#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Resets in the middle of a transfer:
#   1. Linux resets a connection the stack is sending on and reading
#      from: the stack must report ECONNRESET;
#   2. Linux resets a connection it was sending on to the stack's
#      tcp-discard: ECONNRESET there too;
#   3. the stack aborts a connection it is sending on: Linux must see
#      ECONNRESET.
# The segments still in flight when a connection is reset meet no
# connection on the other side; the stack counts those as tcp_no_socket
# (answered with RST) or tcp_no_socket_rst.
#
#   tcp_reset.sh tap|virtio RS_STACKTEST RS_BRIDGE
set -uo pipefail
. "$(dirname "$0")/stack_lib.sh" "$1" "$2" "$3" rst
LATE="tcp_no_socket tcp_no_socket_rst"

# 1. Linux resets; the stack sends and reads.
st_peer "$TB_DIR/p1.log" --timeout 60 tcp-listen-reset 7030 1048576 ||
	fail "the Linux listener starts"
st_stack "$TB_DIR/s1.log" --timeout 60 --expect-error ECONNRESET \
	tcp-expect-reset "$TB_PEER_IP:7030" || fail "tcp-expect-reset starts"
st_stack_wait 70
expect "Linux reset the connection after 1 MiB" 1 \
	"$(st_ge "$(st_val "$TB_DIR/p1.log" reset_after)" 1048576)"
expect "the sending stack sees ECONNRESET (exit 0)" "ECONNRESET 0" \
	"$(st_val "$TB_DIR/s1.log" error) $ST_RC"
st_peer_wait 10
# shellcheck disable=SC2086
st_clean "$TB_DIR/s1.log" "stack sending, Linux resets" $LATE

# 2. Linux resets while sending to the stack.
st_stack "$TB_DIR/s2.log" --timeout 60 --count 1 --expect-error ECONNRESET \
	tcp-discard 7031 || fail "tcp-discard starts"
st_peer_run "$TB_DIR/p2.log" --timeout 30 tcp-send-reset "$TB_PROXY_IP" \
	7031 1048576 3
st_stack_wait 30
expect "the receiving stack sees ECONNRESET (exit 0)" "ECONNRESET 0" \
	"$(st_val "$TB_DIR/s2.log" error) $ST_RC"
# shellcheck disable=SC2086
st_clean "$TB_DIR/s2.log" "stack receiving, Linux resets" $LATE

# 3. The stack aborts while sending.
st_peer "$TB_DIR/p3.log" --timeout 60 tcp-listen-expect-reset 7032 ||
	fail "the Linux listener starts"
st_stack "$TB_DIR/s3.log" --timeout 60 tcp-abort "$TB_PEER_IP:7032" \
	4194304 || fail "tcp-abort starts"
st_stack_wait 60
st_peer_wait 20
expect "the stack aborted after queueing 4 MiB (exit 0)" "4194304 0" \
	"$(st_val "$TB_DIR/s3.log" aborted_after) $ST_RC"
expect "Linux sees ECONNRESET" "ECONNRESET 0" \
	"$(st_val "$TB_DIR/p3.log" error) $ST_PEER_RC"
# shellcheck disable=SC2086
st_clean "$TB_DIR/s3.log" "the stack aborts" $LATE
finish
