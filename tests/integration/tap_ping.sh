#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Tap mode end to end, as scripts/demo.sh shows it: remsockd's net_tap
# interface is moved into a namespace of this test's own, where Linux
# resolves the proxy with ARP and pings it; then SIGTERM must stop remsockd
# with exit status 0, counters that explain every packet, no mbuf leaked,
# and nothing left behind.  Names carry the PID, so runs may overlap.
#
#   tap_ping.sh REMSOCKD
set -uo pipefail
REMSOCKD=$1
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../testbed/testbed.sh" # tb__wait_for
require_tap_host

NS=rs-it$$
IFACE=rs-t$$
PROXY_IP=198.18.0.2
PEER_MAC=02:00:c6:12:00:01
TMP=$(mktemp -d /tmp/rs-tap.XXXXXX)
LOG=$TMP/remsockd.log
PID=
NOTIFY_PID=

stop_remsockd() {
	kill -TERM "$PID" 2>/dev/null
	for _ in $(seq 150); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$PID" 2>/dev/null
	RC=0
	wait "$PID" || RC=$?
	PID=
}

cleanup() {
	local rc=$?
	[[ -n $PID ]] && stop_remsockd
	[[ -n $NOTIFY_PID ]] && kill "$NOTIFY_PID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	if [[ $rc -ne 0 && -f $LOG ]]; then
		echo "# remsockd output:"
		sed 's/^/#   /' "$LOG"
	fi
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT

# Value of a "  name value" line of the final counters.
counter() {
	awk -v k="$1" '$1 == k {print $2; exit}' "$LOG"
}

"$REMSOCKD" --print-default-config | sed "s/iface=rs-tap0/iface=$IFACE/" >"$TMP/tap.ini"
check "the embedded default, renamed to $IFACE, passes --check-config" \
	"$REMSOCKD" -c "$TMP/tap.ini" --test-secrets --check-config

# systemd's side of Type=notify: a datagram socket that logs what comes.
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    print(s.recv(4096).decode().replace("\n", " "), flush=True)
' "$TMP/notify.sock" >"$TMP/notify.log" 2>&1 &
NOTIFY_PID=$!
tb__wait_for "$TMP/notify.log" '^listening' 10
NOTIFY_SOCKET=$TMP/notify.sock "$REMSOCKD" -c "$TMP/tap.ini" --test-secrets \
	--stats-interval 1 >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 300); do
	grep -q '^remsockd: ready' "$LOG" && break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
done
if ! grep -q '^remsockd: ready' "$LOG"; then
	fail "remsockd starts within 30 s"
	finish
	exit 1
fi
pass "remsockd starts within 30 s"
tb__wait_for "$TMP/notify.log" 'READY=1' 10
check "it tells \$NOTIFY_SOCKET READY=1 (systemd Type=notify)" \
	grep -q '^READY=1 STATUS=serving$' "$TMP/notify.log"
check "the port's link is up" grep -q '^  link      up' "$LOG"
expect "a quiet start: the banner is the first line (DPDK's notes kept back)" \
	"remsockd" "$(head -1 "$LOG" | cut -d' ' -f1)"

# A second remsockd on the same interface would split its traffic with
# the first: it must refuse, name the first, and leave it alone.
rc=0
timeout 60 "$REMSOCKD" -c "$TMP/tap.ini" --test-secrets >"$TMP/second.out" \
	2>"$TMP/second.err" || rc=$?
expect "a second remsockd on $IFACE exits 1" 1 "$rc"
check "... saying which remsockd holds the port (pid $PID)" \
	grep -qF "is in use by another remsockd (pid $PID;" "$TMP/second.err"
check "... before it touches the port" \
	bash -c "! grep -q 'EAL\\|ready' $TMP/second.out $TMP/second.err"
check "the first one still runs" kill -0 "$PID"
MAC=$(awk '$1 == "mac" {print $2; exit}' "$LOG")

ip netns add "$NS" &&
	ip link set "$IFACE" netns "$NS" &&
	ip -n "$NS" link set "$IFACE" address "$PEER_MAC" &&
	ip -n "$NS" addr add 198.18.0.1/24 dev "$IFACE" &&
	ip -n "$NS" link set "$IFACE" up
check "the tap interface is moved into namespace $NS and configured" \
	ip -n "$NS" link show "$IFACE" up

check "3 pings from the namespace are answered" \
	ip netns exec "$NS" ping -c 3 -i 0.2 -W 2 -w 15 "$PROXY_IP"
check "ARP in the namespace resolved the proxy to its MAC ($MAC)" \
	bash -c "ip -n $NS neigh show $PROXY_IP | grep -q 'lladdr $MAC'"
check "a full-MTU ping (1472 bytes of data, DF) is answered" \
	ip netns exec "$NS" ping -c 1 -s 1472 -M do -W 2 -w 10 "$PROXY_IP"
check "a ping with IP options (record route) is answered" \
	ip netns exec "$NS" ping -c 1 -R -W 2 -w 10 "$PROXY_IP"
tb__wait_for "$LOG" '^[0-9T:.-]*Z stats: rx ' 60
check "a periodic stats line is printed (--stats-interval 1), after its time" \
	grep -q '^20[0-9-]*T[0-9:.]*Z stats: rx .* unexplained ' "$LOG"

stop_remsockd
expect "remsockd exits 0 on SIGTERM" 0 "$RC"
tb__wait_for "$TMP/notify.log" '^STOPPING=1 ' 10 # logged in its own time
check "... having told \$NOTIFY_SOCKET STOPPING=1" \
	grep -q '^STOPPING=1 ' "$TMP/notify.log"
check "its port lock went with it" \
	test ! -e "/run/remsock/port-iface=$IFACE.lock"
expect "no packet is unexplained (rx = handled + drops)" 0 "$(counter unexplained)"
expect "no mbuf is in use after the port is closed" 0 "$(counter mbufs_in_use_after_close)"
expect "5 echo requests were answered" 5 "$(counter event.icmp_echo_replied)"
replied=$(counter event.arp_replied)
if [[ ${replied:-0} -ge 1 ]]; then
	pass "ARP requests were answered ($replied)"
else
	fail "ARP requests were answered" "event.arp_replied = ${replied:-missing}"
fi
# Linux on the peer side sends IPv6 and multicast; nothing else is dropped.
unexpected=$(awk '$1 ~ /^drop\./ && $1 != "drop.eth_multicast" && $1 != "drop.eth_ipv6"' "$LOG")
expect "no drops other than multicast/IPv6 noise" "" "$unexpected"

ip netns del "$NS"
check "the namespace is gone" bash -c "! ip netns list | grep -qw '^$NS'"
check "the tap interface went with remsockd" bash -c "! ip link show $IFACE 2>/dev/null"

finish
