#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# ICMP errors reaching TCP connections (net/icmp.c ->
# rs_tcp_icmp_input()), tap mode.  The namespace's Linux is the stack's
# router to two networks of this test's own:
#   - 198.19.5.0/24 is an "unreachable" route: Linux answers the stack's
#     SYNs with ICMP host unreachable, a soft error; the connect times out
#     (two SYN retries) and reports EHOSTUNREACH, not ETIMEDOUT;
#   - 198.19.6.0/24 is behind a veth whose router side has MTU 1000 (a
#     second namespace, listening with MTU 1500, so its SYN-ACK offers
#     MSS 1460): the stack's full-size segments draw "fragmentation
#     needed", its MSS drops to 960, and 1 MiB arrives intact.
#
#   icmp_errors.sh RS_STACKTEST RS_BRIDGE
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../stack/stack_lib.sh" tap "$1" "$2" icmp
NS2=rs-icmp2-$$
VA=rsva$$
VB=rsvb$$
PORT=7100

ns2_down() {
	local pid
	for pid in $(ip netns pids "$NS2" 2>/dev/null); do
		kill -KILL "$pid" 2>/dev/null
	done
	ip netns del "$NS2" 2>/dev/null
}
trap 'rc=$?; ns2_down; (exit $rc); tb__on_exit' EXIT

# The stack routes both networks via Linux; SYN retries short.
sed -i 's/^\[tcp\]$/[tcp]\nsyn_retries = 2/' "$TB_CONF"
printf '[routes]\nunreach = 198.19.5.0/24 via %s\nsmall = 198.19.6.0/24 via %s\n' \
	"$TB_PEER_IP" "$TB_PEER_IP" >>"$TB_CONF"

tb_ns sysctl -qw net.ipv4.ip_forward=1
tb_ns ip route add unreachable 198.19.5.0/24
ip netns add "$NS2" &&
	ip link add "$VA" type veth peer name "$VB" &&
	ip link set "$VA" netns "$TB_NS" && ip link set "$VB" netns "$NS2" &&
	tb_ns ip addr add 198.19.6.254/24 dev "$VA" &&
	tb_ns ip link set "$VA" mtu 1000 up &&
	ip -n "$NS2" addr add 198.19.6.1/24 dev "$VB" &&
	ip -n "$NS2" link set "$VB" up && ip -n "$NS2" link set lo up &&
	ip -n "$NS2" route add default via 198.19.6.254 ||
	{ fail "the second namespace comes up"; finish; exit 1; }

# 1. Host unreachable: a soft error, reported when the connect gives up.
st_stack "$TB_DIR/unreach.log" --timeout 60 --expect-error EHOSTUNREACH \
	tcp-connect 198.19.5.1:$PORT || fail "rs_stacktest tcp-connect starts"
st_stack_wait 60
L=$TB_DIR/unreach.log
expect "connect through an unreachable route: EHOSTUNREACH" EHOSTUNREACH \
	"$(st_val "$L" error)"
expect "rs_stacktest exits 0 having seen it" 0 "$ST_RC"
expect "the ICMP errors reached the connection" 1 \
	"$(st_ge "$(tb_counter "$L" event.icmp_err_delivered)" 1)"
expect "the TCP core took them as soft errors" 1 \
	"$(st_ge "$(tb_counter "$L" event.tcp.icmp_soft)" 1)"
st_clean "$L" "host unreachable"

# 2. Fragmentation needed: the stack follows the path MTU.
ip netns exec "$NS2" python3 "$ST_PEER_PY" --timeout 60 \
	tcp-listen-discard $PORT 1 >"$TB_DIR/p2.log" 2>&1 &
P2=$!
tb__wait_for "$TB_DIR/p2.log" '^listening' 60 "$P2" ||
	fail "the listener behind the small link starts"
st_stack "$TB_DIR/pmtu.log" --timeout 60 \
	tcp-source 198.19.6.1:$PORT 1M 7 || fail "rs_stacktest tcp-source starts"
st_stack_wait 60
wait "$P2"
L=$TB_DIR/pmtu.log
st__show "$TB_DIR/p2.log" "Linux"
expect "1 MiB through the small link (tcp-source exits 0)" 0 "$ST_RC"
expect "the listener behind it received 1 MiB" 1048576 \
	"$(st_val "$TB_DIR/p2.log" bytes)"
expect "the path MTU was lowered" 1 \
	"$(st_ge "$(tb_counter "$L" event.tcp.pmtu_lowered)" 1)"
# Each full-size segment in flight draws its own message; after the
# first, they ask for nothing new (tcp_icmp_ignored).
st_clean "$L" "fragmentation needed" tcp_icmp_ignored
finish
