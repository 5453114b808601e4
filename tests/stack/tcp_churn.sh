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
# not eviction, is what keeps ports free.  A port comes round again after
# 16,384 others; a machine that churns faster than 16,384 per
# tw_reuse_ms (250 ms here) finds every port's TIME-WAIT too young now
# and then, and tcp-churn then tries again a millisecond later, as a
# client would (no_port counts those waits): the outcome does not depend
# on the machine's speed.  Without reuse the run could not end: 2 MSL is
# 60 s.
# Checked: every cycle succeeded, tcp.tw_reused > 0, Linux saw every
# connection, and at the end nothing is left (TIME-WAIT is ended at stop,
# tw_flushed).
#
# Nothing is lost on this wire, yet Linux retransmits now and then: a
# tail loss probe of its FIN.  Its probe timeout with two segments out
# (the echo and the FIN) is 2 SRTT + 2 ms, about 4 ms here, and on a
# shared 2-core host a stalled process (the stack, rs_bridge, the echo
# server) now and then holds our ACK of the FIN longer.  The probe FIN
# then reaches our TIME-WAIT and is ACKed again (a tcp_out_of_window
# drop); Linux, CLOSED by our first ACK, answers that ACK with a RST,
# which TIME-WAIT ignores (tcp_rst_ignored, RFC 1337).  Longer stalls
# (a second) bring RTOs and SYN-ACK retransmissions too.  How many
# depends on the host's load: 0 alone on a quiet host, up to 2.7% of
# the cycles with both modes at once on a busy one, more with CPU hogs
# beside it.  So Linux's retransmissions are bounded only loosely (under
# half the cycles: a stack that never ACKed a FIN in time, or reused a
# 4-tuple Linux still holds, would cost every cycle one), each RST must
# answer one, and the stack's drops must be those answers; what a stall
# cannot cause -- challenge ACKs, PAWS rejects, listen queue overflows,
# aborts -- must be zero.
#
#   tcp_churn.sh tap|virtio RS_STACKTEST RS_BRIDGE
#   RS_CHURN_CONNS, RS_CHURN_CONCURRENCY, RS_CHURN_REUSE_MS: the run
#   RS_CHURN_PCAP=FILE: tcpdump in the namespace into FILE (debugging)
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

# churn_drops LOG REASON...: the sum of the stack's drop counters named.
churn_drops() {
	local log=$1 sum=0 r d
	shift
	for r in "$@"; do
		d=$(tb_counter "$log" "drop.tcp_$r")
		sum=$((sum + ${d:-0}))
	done
	echo "$sum"
}

# churn_linux_clean LOG N0 N1: Linux's counters and the stack's drops,
# as the header says.
churn_linux_clean() {
	local rtx rsts d zero="" k
	rtx=$(st_delta "$2" "$3" TcpRetransSegs)
	rsts=$(st_delta "$2" "$3" TcpOutRsts)
	echo "# Linux: $rtx retransmissions" \
		"($(st_delta "$2" "$3" TcpExtTCPLossProbes) loss probes," \
		"$(st_delta "$2" "$3" TcpExtTCPTimeouts) RTOs," \
		"$(st_delta "$2" "$3" TcpExtTCPSynRetrans) SYN-ACKs), $rsts RSTs;" \
		"the stack: $(churn_drops "$1" out_of_window) out of window," \
		"$(churn_drops "$1" rst_ignored) RSTs ignored"
	for k in TcpExtTCPChallengeACK TcpExtPAWSEstab TcpExtListenOverflows \
		TcpExtListenDrops TcpExtTCPAbortOnData; do
		d=$(st_delta "$2" "$3" $k)
		[[ $d == 0 ]] || zero+="$k=$d "
	done
	expect "Linux: no challenge ACK, PAWS reject, listen overflow or abort" \
		"" "$zero"
	expect "Linux: retransmissions under half the cycles" 1 \
		"$(st_ge $((N / 2)) "$rtx")"
	expect "Linux: no more RSTs than retransmissions" 1 \
		"$(st_ge "$rtx" "$rsts")"
	expect "stack: no more segments dropped than Linux resent" 1 \
		"$(st_ge "$rtx" "$(churn_drops "$1" out_of_window no_socket \
			syn_challenged)")"
	expect "stack: no more RSTs dropped than Linux sent" 1 \
		"$(st_ge "$rsts" "$(churn_drops "$1" rst_ignored no_socket_rst)")"
}

st_nstat "$TB_DIR/n0"
if [[ -n ${RS_CHURN_PCAP:-} ]]; then
	tb_ns_bg "$TB_DIR/tcpdump.log" tcpdump -i any -s 128 -B 65536 \
		-w "$RS_CHURN_PCAP" tcp
	sleep 1
fi
st_peer "$TB_DIR/echo.log" --timeout 200 tcp-listen-echo 7050 "$N" ||
	fail "the Linux echo server starts"
st_stack "$TB_DIR/churn.log" --timeout 150 tcp-churn "$TB_PEER_IP:7050" \
	"$N" $BYTES "$K" || fail "tcp-churn starts"
st_stack_wait 160
S=$TB_DIR/churn.log
expect "$N open/exchange/close cycles, none failed (exit 0)" "$N 0 0" \
	"$(st_val "$S" ok) $(st_val "$S" failed) $ST_RC"
R=$(tb_counter "$S" event.tcp.tw_reused)
E=$(tb_counter "$S" event.tcp.tw_evicted)
expect "TIME-WAIT 4-tuples were reused (tw_reused > 0)" 1 "$(st_ge "${R:-0}" 1)"
st_peer_wait 30
expect "the Linux echo server saw $N connections end" "$N 0" \
	"$(st_val "$TB_DIR/echo.log" conns) $ST_PEER_RC"
echo "# $ST_MODE mode: $N cycles in $(st_val "$S" seconds) s" \
	"($(st_val "$S" cycles_per_s)/s, $K at a time, peak" \
	"$(st_val "$S" peak_open)); tw_reused=${R:-?} tw_evicted=${E:-?}" \
	"no_port=$(st_val "$S" no_port)" \
	"tw_flushed=$(tb_counter "$S" event.tcp.tw_flushed)"
st_nstat "$TB_DIR/n1"
# Beside the probes' drops: a probe FIN of the last connections may find
# its TIME-WAIT flushed at stop (tcp_no_socket, tcp_no_socket_rst), and
# a SYN-ACK resent after a long stall an established connection
# (tcp_syn_challenged).
st_clean "$S" "$N cycles" tcp_out_of_window tcp_rst_ignored tcp_no_socket \
	tcp_no_socket_rst tcp_syn_challenged
churn_linux_clean "$S" "$TB_DIR/n0" "$TB_DIR/n1"
finish
