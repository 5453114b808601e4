#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The testbed itself, in one mode: remsockd comes up on the testbed's
# config, Linux in the namespace resolves it and pings it (small and
# full-MTU, DF), and at SIGTERM every packet is explained, no mbuf is
# left out of the pool, and nothing but IPv6/multicast noise was dropped.
# In virtio mode the bridge must also stop cleanly, having dropped
# nothing and leaked nothing.
#
#   ping.sh tap|virtio REMSOCKD RS_BRIDGE
set -uo pipefail
MODE=$1
REMSOCKD=$2
TB_BRIDGE=$3
HERE=$(dirname "$0")
. "$HERE/../integration/lib.sh"
. "$HERE/../testbed/testbed.sh"

tb_up "$MODE" ping || { fail "the $MODE testbed comes up"; finish; exit 1; }
check "the testbed's config passes remsockd --check-config" \
	"$REMSOCKD" -c "$TB_CONF" --test-secrets --check-config
LOG=$TB_DIR/remsockd.log
if ! tb_start "$LOG" "$REMSOCKD" -c "$TB_CONF" --test-secrets; then
	fail "remsockd starts in $MODE mode"
	finish
	exit 1
fi
pass "remsockd starts in $MODE mode, Linux peer in $TB_NS"

check "5 pings from the namespace are answered" \
	tb_ns ping -c 5 -i 0.2 -W 2 -w 20 "$TB_PROXY_IP"
check "ARP in the namespace resolved the proxy to $TB_PROXY_MAC" \
	bash -c "ip -n $TB_NS neigh show $TB_PROXY_IP | grep -q 'lladdr $TB_PROXY_MAC'"
check "a full-MTU ping (1472 bytes, DF) is answered" \
	tb_ns ping -c 2 -i 0.2 -s 1472 -M do -W 2 -w 10 "$TB_PROXY_IP"
check "a flood of 500 pings loses none" \
	tb_ns ping -f -c 500 -W 2 -w 30 "$TB_PROXY_IP"

tb_stop
expect "remsockd exits 0 on SIGTERM" 0 "$TB_RC"
expect "no packet is unexplained" 0 "$(tb_counter "$LOG" unexplained)"
expect "no mbuf is in use after close" 0 \
	"$(tb_counter "$LOG" mbufs_in_use_after_close)"
expect "507 echo requests were answered" 507 \
	"$(tb_counter "$LOG" event.icmp_echo_replied)"
unexpected=$(awk '$1 ~ /^drop\./ && $1 != "drop.eth_multicast" && $1 != "drop.eth_ipv6"' "$LOG")
expect "no drops other than multicast/IPv6 noise" "" "$unexpected"
expect "nothing was refused by the TX queue" 0 "$(tb_counter "$LOG" tx_dropped)"

if [[ $MODE == virtio ]]; then
	tb_bridge_stop
	BLOG=$TB_DIR/bridge.log
	expect "rs_bridge exits 0 on SIGTERM" 0 "$TB_BRIDGE_RC"
	expect "rs_bridge dropped nothing towards tap" 0 \
		"$(tb_counter "$BLOG" vhost_to_tap.dropped)"
	expect "rs_bridge dropped nothing towards vhost" 0 \
		"$(tb_counter "$BLOG" tap_to_vhost.dropped)"
	expect "rs_bridge leaked no mbuf" 0 \
		"$(tb_counter "$BLOG" mbufs_in_use_after_close)"
fi
finish
