#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Bulk transfer, 256 MiB each way (RS_BULK_BYTES to change it), each end
# hashing what it sent or received: the SHA-256 digests must match.  Each
# direction has RS_BULK_SECONDS (90) to finish.
#   1. Linux -> stack: Linux sends to tcp-discard;
#   2. stack -> Linux: tcp-source sends to a Linux reader;
#   3. a client stack reading: tcp-sink-client connects to Linux, which
#      sends an eighth of the size and closes.
# The rates are printed (Mbit/s).
#
#   tcp_bulk.sh tap|virtio RS_STACKTEST RS_BRIDGE
set -uo pipefail
. "$(dirname "$0")/stack_lib.sh" "$1" "$2" "$3" bulk
BYTES=${RS_BULK_BYTES:-268435456}
LIMIT=${RS_BULK_SECONDS:-90}

# 1. Linux -> stack
st_stack "$TB_DIR/discard.log" --timeout $((LIMIT + 10)) --count 1 \
	tcp-discard 7010 || { fail "tcp-discard starts"; finish; exit 1; }
st_peer_run "$TB_DIR/send.log" --timeout "$LIMIT" tcp-send "$TB_PROXY_IP" \
	7010 "$BYTES" 1
st_stack_wait 30
S=$TB_DIR/discard.log P=$TB_DIR/send.log
expect "Linux -> stack: Linux sent $BYTES bytes within $LIMIT s" \
	"0 $BYTES" "$ST_PEER_RC $(st_val "$P" bytes)"
expect "Linux -> stack: the stack received $BYTES bytes" "$BYTES" \
	"$(st_val "$S" bytes)"
expect "Linux -> stack: SHA-256 matches" "$(st_val "$P" sha256)" \
	"$(st_val "$S" sha256)"
expect "tcp-discard exits 0" 0 "$ST_RC"
echo "# $ST_MODE mode, Linux -> stack: $(st_val "$S" mbit_s) Mbit/s" \
	"($(st_val "$S" seconds) s, measured by the stack)"
# virtio: the bridge merges Linux's segments as a host would (LRO).
LRO=$(tb_counter "$S" event.tcp_lro_in)
CHAIN=$(tb_counter "$S" event.tcp_chain_in)
if [[ $ST_MODE == virtio ]]; then
	expect "Linux -> stack: merged segments arrived (LRO)" 1 \
		"$(( ${LRO:-0} > 0 ))"
	# ... chained, and taken from where they lay (no linearising copy).
	expect "Linux -> stack: chained segments went to TCP in place" 1 \
		"$(( ${CHAIN:-0} > 0 ))"
fi
st_clean "$S" "Linux -> stack"

# 2. stack -> Linux
st_peer "$TB_DIR/recv.log" --timeout $((LIMIT + 20)) tcp-listen-discard \
	7011 1 || fail "the Linux reader starts"
st_stack "$TB_DIR/source.log" --timeout "$LIMIT" tcp-source \
	"$TB_PEER_IP:7011" "$BYTES" 2 || fail "tcp-source starts"
st_stack_wait $((LIMIT + 10))
st_peer_wait 30
S=$TB_DIR/source.log P=$TB_DIR/recv.log
expect "stack -> Linux: tcp-source sent $BYTES bytes (exit 0)" \
	"0 $BYTES" "$ST_RC $(st_val "$S" bytes)"
expect "stack -> Linux: Linux received $BYTES bytes" "$BYTES" \
	"$(st_val "$P" bytes)"
expect "stack -> Linux: SHA-256 matches" "$(st_val "$S" sha256)" \
	"$(st_val "$P" sha256)"
echo "# $ST_MODE mode, stack -> Linux: $(st_val "$S" mbit_s) Mbit/s" \
	"($(st_val "$S" seconds) s, measured by the stack)"
# virtio_user offers TSO (the bridge cuts the segments); net_tap's is
# not taken (net/port.c says why).
TSO=$(tb_counter "$S" event.tcp.tso_segs_out)
if [[ $ST_MODE == virtio ]]; then
	expect "stack -> Linux: segments went out with TSO" 1 \
		"$(( ${TSO:-0} > 0 ))"
else
	expect "stack -> Linux: no TSO on net_tap" 0 "${TSO:-0}"
fi
st_clean "$S" "stack -> Linux"

# 3. Linux -> a stack that connected.
SMALL=$((BYTES / 8))
st_peer "$TB_DIR/serve.log" --timeout $((LIMIT + 20)) tcp-listen-send 7012 \
	"$SMALL" 3 || fail "the Linux sender starts"
st_stack "$TB_DIR/sink.log" --timeout "$LIMIT" tcp-sink-client \
	"$TB_PEER_IP:7012" || fail "tcp-sink-client starts"
st_stack_wait $((LIMIT + 10))
st_peer_wait 30
S=$TB_DIR/sink.log P=$TB_DIR/serve.log
expect "Linux -> client stack: $SMALL bytes read to EOF (exit 0)" \
	"0 $SMALL" "$ST_RC $(st_val "$S" bytes)"
expect "Linux -> client stack: SHA-256 matches" "$(st_val "$P" sha256)" \
	"$(st_val "$S" sha256)"
st_clean "$S" "Linux -> client stack"
finish
