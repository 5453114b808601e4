#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# 10,000 concurrent connections (RS_SCALE_CONNS), with the default rings
# (grown on demand), from the stack to a
# Linux echo server: all established at once, then each sends 4 KiB,
# reads its echo to the end and closes.  The heap the connections cost
# while idle is reported per connection (jemalloc's count, before any
# data).  Afterwards no socket, connection or mbuf may be left.
#
#   tcp_scale.sh tap|virtio RS_STACKTEST RS_BRIDGE
set -uo pipefail
N=${RS_SCALE_CONNS:-10000}
ST_TCP_EXTRA="max_conns = $((N + 256))
backlog = 4096
close_grace_ms = 10000"
ST_INI_EXTRA="[sockets]
max = $((N + 256))"
TB_MBUFS=16383
. "$(dirname "$0")/stack_lib.sh" "$1" "$2" "$3" scale
BYTES=4096

st_nstat "$TB_DIR/n0"
st_peer "$TB_DIR/echo.log" --timeout 240 tcp-listen-echo 7040 "$N" ||
	fail "the Linux echo server starts"
st_stack "$TB_DIR/many.log" --timeout 200 --ring 0 tcp-many "$TB_PEER_IP:7040" \
	"$N" $BYTES || fail "tcp-many starts"
st_stack_wait 210
S=$TB_DIR/many.log
expect "all $N connections were established at once" "$N" \
	"$(st_val "$S" peak_established)"
expect "$N echoed correctly, none failed (exit 0)" "$N 0 0" \
	"$(st_val "$S" ok) $(st_val "$S" failed) $ST_RC"
st_peer_wait 30
expect "the Linux echo server saw $N connections end" "$N 0" \
	"$(st_val "$TB_DIR/echo.log" conns) $ST_PEER_RC"
H=$(st_val "$S" heap_per_conn)
echo "# $ST_MODE mode: $N connections in $(st_val "$S" seconds) s;" \
	"heap per idle connection: ${H:-?} bytes"
expect "the heap per idle connection is measured and bounded (< 64 KiB)" 1 \
	"$((${H:-0} > 0 && ${H:-0} < 65536))"
st_nstat "$TB_DIR/n1"
st_clean_tcp "$S" "$N connections" "$TB_DIR/n0" "$TB_DIR/n1"
finish
