#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# A SYN flood at the listen port while an established connection moves
# 1 GiB from Linux to the stack: the transfer completes intact, the
# flood is bounded (SYN-RECEIVED entries capped, the rest dropped and
# counted), and the half-open entries expire ([tcp] syn_retries = 2)
# before the stack stops.  10,000 SYNs at 5,000 a second from made-up
# neighbours of the test subnet (synflood.py; a flood SYN may repeat an
# earlier one's ports: challenged, RFC 5961).
#
#   tcp_synflood.sh tap|virtio RS_STACKTEST RS_BRIDGE
set -uo pipefail
# SYN cookies off: this checks the bound on what a flood can hold (the
# cookies' path: tests/tcp/scripts/syncookies.pkt and the service port's
# flood in tests/service/attacks.sh).
ST_TCP_EXTRA="syn_retries = 2
syncookies = off
close_grace_ms = 15000"
. "$(dirname "$0")/stack_lib.sh" "$1" "$2" "$3" flood
BYTES=1073741824

# 1 GiB takes about 7 s here, so the flood falls inside it; the limits
# (150 s) only bound a hang.
st_stack "$TB_DIR/discard.log" --timeout 170 --count 1 tcp-discard 7030 ||
	{ fail "tcp-discard starts"; finish; exit 1; }
st_peer "$TB_DIR/send.log" --timeout 150 tcp-send "$TB_PROXY_IP" 7030 \
	"$BYTES" 9
# The transfer is established (Linux's side says so) before the flood.
tb_until 30 st_established "dport = :7030" ||
	fail "the transfer's connection is established before the flood"
tb_ns /usr/bin/python3 "$(dirname "$0")/synflood.py" "$TB_IFACE" \
	"$TB_PROXY_IP" "$TB_PROXY_MAC" 7030 10000 5000 >"$TB_DIR/flood.log" 2>&1
expect "the flood was sent (10000 SYNs)" 10000 "$(st_val "$TB_DIR/flood.log" sent)"
st_peer_wait 160
st_stack_wait 170
S=$TB_DIR/discard.log P=$TB_DIR/send.log
expect "the established transfer survives the flood ($BYTES bytes, exit 0)" \
	"0 0 $BYTES" "$ST_PEER_RC $ST_RC $(st_val "$S" bytes)"
expect "flood: SHA-256 matches" "$(st_val "$P" sha256)" "$(st_val "$S" sha256)"
D=$(tb_counter "$S" drop.tcp_syn_queue_full)
expect "SYNs over the SYN-RECEIVED cap were dropped and counted ($D)" 1 \
	"$((${D:-0} > 0))"
st_clean "$S" "SYN flood" tcp_syn_queue_full tcp_pool_full tcp_no_socket \
	tcp_out_of_window tcp_no_socket_rst tcp_syn_challenged
finish
