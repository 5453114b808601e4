#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Two workers on one port: flow steering (net/steer.c) against Linux.  The
# test program runs on worker 0; the port spreads what it receives over
# both queues by a hash of its own (tap: the kernel's; virtio: rs_bridge
# --queues 2 folds addresses and ports), so worker 1 receives packets of
# worker 0's flows and must hand them over.
#   1. the stack opens N connections to a Linux echo server: every one
#      takes an ephemeral port whose flow hashes to worker 0 (checked
#      against rss_owner.py, a separate implementation of the hash), and
#      all echo;
#   2. Linux opens N connections to the stack's echo server (a port that
#      worker 0 claims): all echo;
#   3. UDP echo, datagrams up to 4000 bytes: IPv4 fragments both ways,
#      reassembled on whichever worker their hash picks and delivered on
#      worker 0.
# Each run ends clean (st_clean), and the crossings add up: everything
# one worker gave the other arrived (steered_out = steered_in), none was
# lost to a full ring, and some did cross.
#
#   workers.sh tap|virtio RS_STACKTEST RS_BRIDGE
set -uo pipefail
TB_WORKERS=2
TB_MBUFS=8191 # two workers: twice the queues to fill
. "$(dirname "$0")/stack_lib.sh" "$1" "$2" "$3" workers
N=${RS_WORKERS_CONNS:-200}
BYTES=16384
HERE=$(dirname "$0")

# steered LOG WHAT: the crossings add up, and some happened.
steered() {
	local out in full
	out=$(tb_counter "$1" event.steered_out)
	in=$(tb_counter "$1" event.steered_in)
	full=$(tb_counter "$1" drop.steer_full)
	echo "# $2: steered_out=${out:-?} steered_in=${in:-?}" \
		"steer_full=${full:-0} arp_shared=$(tb_counter "$1" event.arp_shared)"
	expect "$2: every packet given to the other worker arrived" \
		"${out:-x}" "${in:-y}"
	expect "$2: packets crossed between the workers" 1 "$(st_ge "${in:-0}" 1)"
}

# 1. stack -> Linux
st_nstat "$TB_DIR/n0"
st_peer "$TB_DIR/echo.log" --timeout 120 tcp-listen-echo 7020 "$N" \
	--log-peers || fail "the Linux echo server starts"
st_stack "$TB_DIR/many.log" --timeout 100 tcp-many "$TB_PEER_IP:7020" \
	"$N" $BYTES || fail "tcp-many starts"
st_stack_wait 110
S=$TB_DIR/many.log
expect "stack -> Linux: $N echoed correctly, none failed (exit 0)" \
	"$N 0 0" "$(st_val "$S" ok) $(st_val "$S" failed) $ST_RC"
st_peer_wait 20
expect "Linux echo server saw $N connections end" "$N 0" \
	"$(st_val "$TB_DIR/echo.log" conns) $ST_PEER_RC"
# shellcheck disable=SC2046 # the ports: words on purpose
owners=$(/usr/bin/python3 "$HERE/rss_owner.py" 2 "$TB_PROXY_IP" "$TB_PEER_IP" \
	7020 $(awk '$1 == "peer_ports" {$1 = ""; print}' "$TB_DIR/echo.log") |
	sort | uniq -c | awk '{print $2 ":" $1}' | tr '\n' ' ')
expect "stack -> Linux: every ephemeral port hashes to worker 0" \
	"0:$N " "$owners"
st_nstat "$TB_DIR/n1"
st_clean_tcp "$S" "stack -> Linux" "$TB_DIR/n0" "$TB_DIR/n1"
steered "$S" "stack -> Linux"

# 2. Linux -> stack
st_echo_from_linux "$N" $BYTES 7021
st_nstat "$TB_DIR/n2"
st_clean_tcp "$S" "Linux -> stack" "$TB_DIR/n1" "$TB_DIR/n2"
steered "$S" "Linux -> stack"

# 3. UDP with fragments
COUNT=500
st_stack "$TB_DIR/udp.log" --timeout 120 udp-echo 7000 ||
	fail "rs_stacktest udp-echo starts"
st_peer_run "$TB_DIR/udp_peer.log" --timeout 90 udp-echo-client \
	"$TB_PROXY_IP" 7000 $COUNT 42 --max-size 4000
P=$TB_DIR/udp_peer.log
expect "UDP: every datagram came back, none lost or changed (exit 0)" \
	"$((COUNT + 3)) 0 0 0" \
	"$(st_val "$P" received) $(st_val "$P" lost) $(st_val "$P" corrupt) $ST_PEER_RC"
st_stack_stop
S=$TB_DIR/udp.log
expect "UDP: the stack reassembled datagrams" 1 \
	"$(st_ge "$(tb_counter "$S" event.ip_reassembled)" 1)"
st_clean "$S" "UDP"
steered "$S" "UDP"
finish
