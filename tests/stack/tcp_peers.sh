#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Peers that misbehave:
#   1. a Linux reader that stops reading for RS_ZWIN_SECONDS (20) with a
#      small receive buffer: the stack meets a zero window, probes it
#      (persist timer), and when the reader comes back the whole stream
#      arrives intact (SHA-256);
#   2. a peer that disappears (its interface goes down) in the middle of
#      a transfer: the retransmission limit ([tcp] retries = 4) ends the
#      connection with ETIMEDOUT;
#   3. an idle connection whose peer disappears: keepalive (keepidle 2 s,
#      3 probes 1 s apart) ends it with ETIMEDOUT.
#
#   tcp_peers.sh tap|virtio RS_STACKTEST RS_BRIDGE
set -uo pipefail
ST_TCP_EXTRA="close_grace_ms = 10000
retries = 4
rto_max_ms = 1000
keepidle_s = 2
keepintvl_s = 1
keepcnt = 3"
. "$(dirname "$0")/stack_lib.sh" "$1" "$2" "$3" peers
ZWIN=${RS_ZWIN_SECONDS:-20}

# 1. zero window
st_peer "$TB_DIR/zw.log" --timeout $((ZWIN + 60)) tcp-listen-discard 7020 1 \
	--pause "$ZWIN" --pause-after 1048576 --rcvbuf 65536 ||
	fail "the pausing Linux reader starts"
st_stack "$TB_DIR/zwsrc.log" --timeout $((ZWIN + 60)) tcp-source \
	"$TB_PEER_IP:7020" 8388608 5 || fail "tcp-source starts"
st_stack_wait $((ZWIN + 70))
st_peer_wait 30
S=$TB_DIR/zwsrc.log P=$TB_DIR/zw.log
expect "a reader paused $ZWIN s still gets all 8 MiB (exit 0)" \
	"0 8388608 8388608" "$ST_RC $(st_val "$S" bytes) $(st_val "$P" bytes)"
expect "zero window: SHA-256 matches" "$(st_val "$S" sha256)" \
	"$(st_val "$P" sha256)"
Z=$(tb_counter "$S" event.tcp.zwp_sent)
expect "the stack probed the zero window ($Z probes)" 1 "$((${Z:-0} >= 3))"
st_clean "$S" "zero window"

# 2. the peer goes away in the middle of a transfer
st_peer "$TB_DIR/gone.log" --timeout 60 tcp-listen-discard 7021 1 ||
	fail "the Linux reader starts"
st_stack "$TB_DIR/gonesrc.log" --timeout 60 --expect-error ETIMEDOUT \
	tcp-expect-reset "$TB_PEER_IP:7021" || fail "the sender starts"
tb_until 30 st_established "sport = :7021" ||
	fail "the transfer to the vanishing peer is established"
ip -n "$TB_NS" link set "$TB_IFACE" down
st_stack_wait 60
expect "a vanished peer: the retransmission limit ends it (ETIMEDOUT)" \
	"0 ETIMEDOUT" "$ST_RC $(st_val "$TB_DIR/gonesrc.log" error)"
echo "# stack: RTOs $(tb_counter "$TB_DIR/gonesrc.log" event.tcp.rto_fired)"
ip -n "$TB_NS" link set "$TB_IFACE" up
st_peer_wait 5

# 3. an idle connection loses its peer: keepalive finds out
st_peer "$TB_DIR/ka.log" --timeout 60 tcp-listen-discard 7022 1 ||
	fail "the Linux listener starts"
st_stack "$TB_DIR/ka_stack.log" --timeout 60 --expect-error ETIMEDOUT \
	tcp-keepalive "$TB_PEER_IP:7022" || fail "tcp-keepalive starts"
# One keepalive answered first: Linux's socket counts the probe that comes
# after keepidle_s of silence.
tb_until 30 st_established "sport = :7022" ||
	fail "the idle connection is established"
KA0=$(st_segs_in "sport = :7022")
tb_until 60 eval '(($(st_segs_in "sport = :7022") > KA0))' ||
	fail "a keepalive probe reaches Linux before it goes away"
ip -n "$TB_NS" link set "$TB_IFACE" down
T0=$(date +%s)
st_stack_wait 60
expect "an idle connection's vanished peer: keepalive ends it (ETIMEDOUT)" \
	"0 ETIMEDOUT" "$ST_RC $(st_val "$TB_DIR/ka_stack.log" error)"
K=$(tb_counter "$TB_DIR/ka_stack.log" event.tcp.keepalive_sent)
expect "keepalive probes were sent ($K)" 1 "$((${K:-0} >= 3))"
echo "# keepalive noticed after $(($(date +%s) - T0)) s"
ip -n "$TB_NS" link set "$TB_IFACE" up
st_peer_wait 5
finish
