#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# 1,000 concurrent connections each way (RS_MANY_CONNS to change it),
# each sending 16 KiB and reading its echo to the end, then closing:
#   1. the stack opens them to a Linux echo server (tcp-many): all must be
#      established at once before any sends;
#   2. Linux opens them to the stack's echo server.
# Afterwards no socket, connection or mbuf may be left in the stack.
# Each phase starts ~11,000 segments at once (1,000 initial windows),
# more than the testbed's queues hold: Linux retransmits, and the stack's
# drops are checked against Linux's own counters (st_clean_tcp).
#
#   tcp_many.sh tap|virtio RS_STACKTEST RS_BRIDGE
set -uo pipefail
. "$(dirname "$0")/stack_lib.sh" "$1" "$2" "$3" many
N=${RS_MANY_CONNS:-1000}
BYTES=16384

# 1. stack -> Linux
st_nstat "$TB_DIR/n0"
st_peer "$TB_DIR/echo.log" --timeout 120 tcp-listen-echo 7020 "$N" ||
	fail "the Linux echo server starts"
st_stack "$TB_DIR/many.log" --timeout 100 tcp-many "$TB_PEER_IP:7020" \
	"$N" $BYTES || fail "tcp-many starts"
st_stack_wait 110
S=$TB_DIR/many.log
expect "stack -> Linux: all $N connections were established at once" \
	"$N" "$(st_val "$S" peak_established)"
expect "stack -> Linux: $N echoed correctly, none failed (exit 0)" \
	"$N 0 0" "$(st_val "$S" ok) $(st_val "$S" failed) $ST_RC"
st_peer_wait 20
expect "Linux echo server saw $N connections end" "$N 0" \
	"$(st_val "$TB_DIR/echo.log" conns) $ST_PEER_RC"
echo "# $ST_MODE mode, stack -> Linux: $N connections in $(st_val "$S" seconds) s"
st_nstat "$TB_DIR/n1"
st_clean_tcp "$S" "stack -> Linux" "$TB_DIR/n0" "$TB_DIR/n1"

# 2. Linux -> stack
st_echo_from_linux "$N" $BYTES 7021
st_nstat "$TB_DIR/n2"
st_clean_tcp "$S" "Linux -> stack" "$TB_DIR/n1" "$TB_DIR/n2"
finish
