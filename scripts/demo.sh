#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# remsock demo: an HTTP request through the proxy, end to end, in tap mode.
#
#   scripts/demo.sh            (as root, after the build; RS_BUILD=build)
#   scripts/demo.sh --keep     the same, then leaves remsockd, the
#                              namespace and its web server running, to
#                              try the client library, the command and
#                              the shim against (README, "Three ways in")
#   scripts/demo.sh --stop     stops what --keep left running
#
# 1. starts remsockd on its embedded default configuration: DPDK's net_tap
#    port creates the kernel interface rs-tap0, the proxy is 198.18.0.2/24;
# 2. creates the network namespace rs-demo and moves rs-tap0 into it, as
#    the Linux peer 198.18.0.1/24;
# 3. pings the proxy three times from the namespace;
# 4. starts a web server (python3 -m http.server) in the namespace and,
#    from there, has scripts/demo_get.py fetch a page through remsockd's
#    remote socket API: Authenticate, CreateSocket, Connect, Send (the
#    GET), Receive until EOF, Close -- the proxy's own TCP/IP stack makes
#    the connection to the web server;
# 5. stops remsockd with SIGTERM and shows its counters;
# 6. removes the namespace -- also when a step fails or on Ctrl-C.
#
# Exit status: 0 when the pings were answered and the page came back
# (HTTP 200), 1 otherwise.
set -euo pipefail

KEEP=0 STOP=0
case "${1:-}" in
"") ;;
--keep) KEEP=1 ;;
--stop) STOP=1 ;;
-h|--help) sed -n '3,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
*) echo "demo.sh: unknown argument '$1' (--keep, --stop, --help)" >&2; exit 2 ;;
esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${RS_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
REMSOCKD=$BUILD/remsockd/remsockd

NS=rs-demo
IFACE=rs-tap0               # iface= of the embedded default configuration
PROXY_IP=198.18.0.2
PEER_IP=198.18.0.1
PEER_MAC=02:00:c6:12:00:01  # the namespace side's own MAC (see step 3)
START_TIMEOUT=30            # seconds for remsockd to report "ready"
STOP_TIMEOUT=10             # seconds for remsockd to exit after SIGTERM

HTTP_PORT=8080
STATE=/run/remsock/demo.state  # what --keep left running, for --stop

# --stop: the processes --keep started (by their PIDs, if they are still
# remsockd and the web server), the namespace, the files.
if [[ $STOP -eq 1 ]]; then
	[[ -f $STATE ]] || { echo "demo.sh --stop: nothing kept running ($STATE is missing)"; exit 0; }
	# shellcheck disable=SC1090 # written by --keep below
	. "$STATE"
	for p in "$KEPT_PID" "$KEPT_HTTP_PID"; do
		if [[ -n $p ]] && grep -qa 'remsockd\|http.server' "/proc/$p/cmdline" 2>/dev/null; then
			kill -TERM "$p"
			for _ in $(seq $((STOP_TIMEOUT * 10))); do
				kill -0 "$p" 2>/dev/null || break
				sleep 0.1
			done
			kill -KILL "$p" 2>/dev/null || true
			echo "stopped pid $p"
		fi
	done
	if ip netns del "$NS" 2>/dev/null; then echo "removed namespace $NS"; fi
	rm -rf "$KEPT_LOG" "$KEPT_WWW" "$STATE"
	exit 0
fi

LOG=$(mktemp /tmp/remsock-demo.XXXXXX)
WWW=$(mktemp -d /tmp/remsock-demo-www.XXXXXX)
PID=
HTTP_PID=

step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
		echo "cleanup: stopping remsockd (pid $PID)"
		kill -TERM "$PID" 2>/dev/null || true
		for _ in $(seq $((STOP_TIMEOUT * 10))); do
			kill -0 "$PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	if [[ -n $HTTP_PID ]]; then
		kill -TERM "$HTTP_PID" 2>/dev/null || true
		wait "$HTTP_PID" 2>/dev/null || true
	fi
	if [[ -n $LOG ]] && ip netns list | grep -qw "^$NS"; then
		echo "cleanup: removing namespace $NS"
		ip netns del "$NS" || true
	fi
	rm -rf "$LOG" "$WWW"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Wait up to $1 seconds for remsockd's log to show $2; fail if it exits.
wait_log() {
	for _ in $(seq $(($1 * 10))); do
		grep -q "$2" "$LOG" && return 0
		kill -0 "$PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

step "Checking the machine"
[[ $(id -u) -eq 0 ]] || fail "run as root: net_tap and network namespaces need it"
[[ -x $REMSOCKD ]] || fail "no $REMSOCKD: build first (meson setup $BUILD && ninja -C $BUILD), or set RS_BUILD"
! ip link show "$IFACE" >/dev/null 2>&1 || fail "interface $IFACE already exists: is another remsockd (or demo) running?"
! ip netns list | grep -qw "^$NS" || fail "namespace $NS already exists: is another demo running? (scripts/demo.sh --stop)"
echo "remsockd: $REMSOCKD"
echo "hugepages: $(awk '/HugePages_Free/ {f=$2} /HugePages_Total/ {t=$2} END {print f " free of " t}' /proc/meminfo)"

step "1. Starting remsockd on the embedded default configuration (net_tap port $IFACE, proxy $PROXY_IP/24)"
"$REMSOCKD" --stats-interval 5 >"$LOG" 2>&1 &
PID=$!
if ! wait_log "$START_TIMEOUT" 'remsockd: ready'; then
	cat "$LOG"
	fail "remsockd did not come up (its output is above)"
fi
sed 's/^/    | /' "$LOG"
PROXY_MAC=$(awk '$1 == "mac" {print $2; exit}' "$LOG")

step "2. Creating namespace $NS and moving $IFACE into it (the port keeps running)"
ip netns add "$NS"
ip link set "$IFACE" netns "$NS"
echo "$IFACE is now in $NS: $(ip -n "$NS" -br link show "$IFACE")"

step "3. Configuring the Linux peer in $NS: $PEER_IP/24, MAC $PEER_MAC"
# net_tap created the kernel side with the port's own MAC ($PROXY_MAC):
# give the peer its own, or each would take the other's frames for its own.
ip -n "$NS" link set "$IFACE" address "$PEER_MAC"
ip -n "$NS" addr add "$PEER_IP/24" dev "$IFACE"
ip -n "$NS" link set lo up
ip -n "$NS" link set "$IFACE" up
ip -n "$NS" -br addr show "$IFACE"

step "4. Pinging the proxy ($PROXY_IP) from $NS, 3 times"
PING_OK=0
ip netns exec "$NS" ping -c 3 -i 0.5 -W 2 -w 10 "$PROXY_IP" && PING_OK=1
echo
echo "ARP entry for the proxy in $NS (the proxy answered ARP; proxy MAC $PROXY_MAC):"
ip -n "$NS" neigh show "$PROXY_IP" | sed 's/^/    /'

step "5. A web server in $NS ($PEER_IP:$HTTP_PORT), and an HTTP GET to it through remsockd"
printf 'Hello from the Linux peer in %s, fetched through remsock.\n' "$NS" >"$WWW/index.html"
ip netns exec "$NS" python3 -u -m http.server --bind "$PEER_IP" \
	--directory "$WWW" "$HTTP_PORT" >"$WWW/http.log" 2>&1 &
HTTP_PID=$!
for _ in $(seq 600); do
	grep -q '^Serving HTTP' "$WWW/http.log" && break
	sleep 0.1
done
GET_OK=0
ip netns exec "$NS" /usr/bin/python3 "$ROOT/scripts/demo_get.py" "$ROOT/proto" \
	"$PROXY_IP" 5757 demo demo-secret-not-for-production \
	"$PEER_IP" "$HTTP_PORT" /index.html && GET_OK=1
echo
echo "The web server's log (the request came from the proxy's address):"
grep 'GET' "$WWW/http.log" | sed 's/^/    /'

if [[ $KEEP -eq 1 ]]; then
	[[ $PING_OK -eq 1 && $GET_OK -eq 1 ]] || fail "the demo did not work: nothing kept running"
	mkdir -p "$(dirname "$STATE")"
	printf 'KEPT_PID=%s\nKEPT_HTTP_PID=%s\nKEPT_LOG=%s\nKEPT_WWW=%s\n' \
		"$PID" "$HTTP_PID" "$LOG" "$WWW" >"$STATE"
	echo
	echo "==> Kept running: remsockd (pid $PID, log $LOG),"
	echo "    namespace $NS with the Linux peer $PEER_IP and a web server on :$HTTP_PORT."
	echo "    The proxy is $PROXY_IP:5757; clients run inside $NS, e.g.:"
	echo
	echo "    ip netns exec $NS env REMSOCK_ADDR=$PROXY_IP REMSOCK_APP=demo \\"
	echo "        REMSOCK_SECRET=demo-secret-not-for-production \\"
	echo "        $BUILD/client/cli/remsock fetch http://$PEER_IP:$HTTP_PORT/"
	echo
	echo "    Stop it all with: scripts/demo.sh --stop"
	PID= HTTP_PID= LOG= WWW= # the exit trap leaves them be
	exit 0
fi
kill -TERM "$HTTP_PID" 2>/dev/null || true
wait "$HTTP_PID" 2>/dev/null || true
HTTP_PID=

step "6. Stopping remsockd (SIGTERM to pid $PID); its final counters:"
LINES=$(wc -l <"$LOG")
kill -TERM "$PID"
RC=0
for _ in $(seq $((STOP_TIMEOUT * 10))); do
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$PID" 2>/dev/null && fail "remsockd did not exit within $STOP_TIMEOUT s of SIGTERM"
wait "$PID" || RC=$?
PID=
tail -n +"$((LINES + 1))" "$LOG" | sed 's/^/    | /'
echo "remsockd exit status: $RC"

step "7. Removing namespace $NS"
ip netns del "$NS"
echo "done: $(ip netns list | grep -cw "^$NS" || true) namespace(s) named $NS left"

echo
[[ $RC -eq 0 ]] || fail "remsockd exited with status $RC"
[[ $PING_OK -eq 1 ]] || fail "ping got no (or not all) replies from the proxy"
[[ $GET_OK -eq 1 ]] || fail "the HTTP GET through the proxy did not come back with 200"
echo "SUCCESS: the proxy at $PROXY_IP answered ARP and pings, and served an HTTP GET"
echo "to $PEER_IP:$HTTP_PORT through its remote socket API and its own TCP/IP stack."
