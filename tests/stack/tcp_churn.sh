#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Connection churn: 50,000 connections (RS_CHURN_CONNS) from the stack
# to a Linux echo server, RS_CHURN_CONCURRENCY (64) at a time, each
# sending 100 bytes, reading the echo and closing first, so that the
# stack keeps TIME-WAIT: 2 MSL of 60 s, timestamps on and the 16,384
# ports 49152..65535, as in production.  More connections than ports
# inside 2 MSL: the run passes only if TIME-WAIT 4-tuples are reused.
# The pool holds every port's TIME-WAIT (max_conns 17408), so reuse,
# not eviction, is what keeps ports free.  tw_reuse_ms is 250 rather
# than the default 1000: a port comes round again after 16,384 others,
# and this testbed churns about that many per second, which is the most
# a 1 s minimum allows towards one destination.
# Checked: every cycle succeeded, no connect found no port
# (EADDRNOTAVAIL), tcp.tw_reused > 0, Linux saw every connection, and
# at the end nothing is left (TIME-WAIT is ended at stop, tw_flushed).
#
#   tcp_churn.sh tap|virtio RS_STACKTEST RS_BRIDGE
set -uo pipefail
N=${RS_CHURN_CONNS:-50000}
K=${RS_CHURN_CONCURRENCY:-64}
BYTES=100
ST_TIME_WAIT_MS=60000
ST_TCP_EXTRA="max_conns = 17408
tw_reuse_ms = ${RS_CHURN_REUSE_MS:-250}
timestamps = on
close_grace_ms = 5000"
. "$(dirname "$0")/stack_lib.sh" "$1" "$2" "$3" churn

st_nstat "$TB_DIR/n0"
st_peer "$TB_DIR/echo.log" --timeout 200 tcp-listen-echo 7050 "$N" ||
	fail "the Linux echo server starts"
st_stack "$TB_DIR/churn.log" --timeout 150 tcp-churn "$TB_PEER_IP:7050" \
	"$N" $BYTES "$K" || fail "tcp-churn starts"
st_stack_wait 160
S=$TB_DIR/churn.log
expect "$N open/exchange/close cycles, none failed (exit 0)" "$N 0 0" \
	"$(st_val "$S" ok) $(st_val "$S" failed) $ST_RC"
expect "no connect ran out of ports (EADDRNOTAVAIL)" 0 \
	"$(st_val "$S" no_port)"
R=$(tb_counter "$S" event.tcp.tw_reused)
E=$(tb_counter "$S" event.tcp.tw_evicted)
expect "TIME-WAIT 4-tuples were reused (tw_reused > 0)" 1 "$(st_ge "${R:-0}" 1)"
st_peer_wait 30
expect "the Linux echo server saw $N connections end" "$N 0" \
	"$(st_val "$TB_DIR/echo.log" conns) $ST_PEER_RC"
echo "# $ST_MODE mode: $N cycles in $(st_val "$S" seconds) s" \
	"($(st_val "$S" cycles_per_s)/s, $K at a time, peak" \
	"$(st_val "$S" peak_open)); tw_reused=${R:-?} tw_evicted=${E:-?}" \
	"tw_flushed=$(tb_counter "$S" event.tcp.tw_flushed)"
st_nstat "$TB_DIR/n1"
st_clean_tcp "$S" "$N cycles" "$TB_DIR/n0" "$TB_DIR/n1"
finish
