#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# libremsock-preload end to end: remsockd on the virtio testbed, and
# unmodified programs run with LD_PRELOAD=libremsock-preload.so in the
# test namespace, their peers being Linux's own sockets there:
#
#   curl       50 MiB from python3 -m http.server, SHA-256 equal, and the
#              server saw the proxy (198.18.0.2) as the client
#   wget, node the same 50 MiB (where installed)
#   reconnects curl's 50 MiB and a 16 MiB echo both ways while the shim
#              breaks its transport after every 4 MiB of frames each way
#              (REMSOCK_TEST_DROP_BYTES)
#   python3    urllib by a name only the proxy's [hosts] knows; socket
#              module TCP echo (1 MiB, half-close), 64 connections at
#              once, UDP echo, a subprocess beside a UDP socket
#              (preload_client.py against preload_peer.py)
#   AF_INET6   curl to an IPv4-mapped literal ([::ffff:198.18.0.1]), and
#              python's AF_INET6 TCP and UDP, through the proxy; a native
#              IPv6 destination and a raw socket refused, never made
#              around it
#   redis-cli  SET and GET against redis-server (hiredis connects again
#              after POLLOUT)
#   bash       exec 3<>/dev/tcp/... and 4<>: bash dup2()s onto low
#              numbers, where the shim's own descriptors must not be
#   dig        a query to dnsmasq (bind9's libuv sends through syscall())
#   remsock run  curl under it, and with --isolate (a network namespace
#              with no way out; the shim reaches the proxy through its
#              relay); a program that drops the shim there reaches
#              nothing
#   SIGKILL    a program holding a connection is killed: the proxy closes
#              its socket once its session's grace is over
#   iperf3     -c, TCP and UDP, against iperf3 -s in the namespace
#   shim_test  epoll, non-blocking connect and partial writes, a listener
#              through the proxy, a Unix-domain socket untouched, fork
#
# Then remsockd must stop with nothing left: every socket the programs
# made was closed through the proxy.
#
#   preload.sh REMSOCKD RS_BRIDGE PRELOAD_SO SHIM_TEST REMSOCK_CLI
set -uo pipefail
REMSOCKD=$1
TB_BRIDGE=$2
PRELOAD=$(realpath "$3")
SHIM_TEST=$(realpath "$4")
REMSOCK_CLI=$(realpath "$5")
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../service/svc_lib.sh"

SECRET=demo-secret-not-for-production
TB_INI_EXTRA="[tcp]
time_wait_ms = 500
close_grace_ms = 10000
[service]
session_grace_s = 2
operator = demo
[apps]
demo = $SECRET
[hosts]
peer = peer.remsock.test $TB_PEER_IP"

svc_up virtio preload "$REMSOCKD"

SHIM=(env LD_PRELOAD="$PRELOAD" REMSOCK_ADDR="$TB_PROXY_IP:5757"
	REMSOCK_APP=demo REMSOCK_SECRET="$SECRET")
WWW=$TB_DIR/www
mkdir -p "$WWW"
head -c $((50 << 20)) /dev/urandom >"$WWW/big.bin"
head -c 300000 /dev/urandom >"$WWW/small.bin"
BIG_SHA=$(sha256sum <"$WWW/big.bin" | cut -d' ' -f1)
SMALL_SHA=$(sha256sum <"$WWW/small.bin" | cut -d' ' -f1)

# wait_port PORT: until something listens on PORT in the namespace (60 s).
wait_port() {
	local i
	for ((i = 0; i < 600; i++)); do
		tb_ns ss -Hltn "sport = :$1" | grep -q LISTEN && return 0
		sleep 0.1
	done
	return 1
}

HTTP_LOG=$TB_DIR/http.log
tb_ns_bg "$HTTP_LOG" python3 -m http.server -b "$TB_PEER_IP" -d "$WWW" 8080
PEER_LOG=$TB_DIR/peer.log
tb_ns_bg "$PEER_LOG" python3 "$HERE/preload_peer.py" "$TB_PEER_IP" 7001 7002
IPERF_LOG=$TB_DIR/iperf_server.log
tb_ns_bg "$IPERF_LOG" iperf3 -s -B "$TB_PEER_IP" -p 5201 --forceflush
REDIS_LOG=$TB_DIR/redis.log
tb_ns_bg "$REDIS_LOG" redis-server --bind "$TB_PEER_IP" --port 6390 \
	--save '' --appendonly no --protected-mode no --loglevel verbose
DNS_LOG=$TB_DIR/dns.log
tb_ns_bg "$DNS_LOG" dnsmasq --keep-in-foreground --no-resolv --no-hosts \
	--bind-interfaces --listen-address="$TB_PEER_IP" --port=5353 \
	--user=root --pid-file= --log-queries --log-facility=- \
	--address=/dig.remsock.test/198.18.0.7
wait_port 8080 && wait_port 7001 && wait_port 5201 && wait_port 6390 &&
	tb__wait_for "$DNS_LOG" 'started' 60 "$TB_BG_PID" ||
	fail "the Linux servers listen in the namespace"

# ---- curl ----------------------------------------------------------------
OUT=$TB_DIR/big.out
tb_ns timeout 120 "${SHIM[@]}" curl -sS -o "$OUT" -w '%{speed_download}' \
	"http://$TB_PEER_IP:8080/big.bin" >"$TB_DIR/curl.speed" 2>"$TB_DIR/curl.err"
RC=$?
echo "# curl: $(awk '{printf "%.1f MB/s", $1 / 1e6}' "$TB_DIR/curl.speed")"
[[ -s $TB_DIR/curl.err ]] && sed 's/^/# curl: /' "$TB_DIR/curl.err" | head -5
expect "curl under the shim fetches 50 MiB (exit status)" 0 "$RC"
expect "curl's 50 MiB have the file's SHA-256" "$BIG_SHA" \
	"$(sha256sum <"$OUT" 2>/dev/null | cut -d' ' -f1)"
expect "the web server saw curl come from the proxy" 1 \
	"$(grep -c "^$TB_PROXY_IP .*GET /big.bin" "$HTTP_LOG")"
rm -f "$OUT"

# ---- AF_INET6: curl to an IPv4-mapped literal goes through the proxy ------
expect "curl to [::ffff:$TB_PEER_IP] (an AF_INET6 socket) under the shim" \
	"$SMALL_SHA" "$(tb_ns timeout 60 "${SHIM[@]}" curl -sS -g \
		"http://[::ffff:$TB_PEER_IP]:8080/small.bin" | sha256sum |
		cut -d' ' -f1)"
expect "the web server saw that AF_INET6 curl come from the proxy" 1 \
	"$(grep -c "^$TB_PROXY_IP .*GET /small.bin" "$HTTP_LOG")"

# ---- redis-cli (hiredis: after POLLOUT it calls connect() again) ---------
expect "redis-cli under the shim: SET, then GET gives it back" "OK|remsock" \
	"$(tb_ns timeout 60 "${SHIM[@]}" redis-cli -h "$TB_PEER_IP" -p 6390 \
		set shim remsock 2>&1)|$(tb_ns timeout 60 "${SHIM[@]}" \
		redis-cli -h "$TB_PEER_IP" -p 6390 get shim 2>&1)"
expect "redis-server saw redis-cli come from the proxy" 1 \
	"$( (grep -q "Accepted $TB_PROXY_IP:" "$REDIS_LOG" &&
		! grep "Accepted " "$REDIS_LOG" | grep -vq "$TB_PROXY_IP:") &&
		echo 1 || echo 0)"

# ---- bash's /dev/tcp: it dup2()s onto 3, 4...; the shim's own stay whole -
BASH_TCP='exec 3<>/dev/tcp/'$TB_PEER_IP'/7001 4<>/dev/tcp/'$TB_PEER_IP'/7001
printf "three\n" >&3; printf "four\n" >&4
read -r a <&3; read -r b <&4; exec 3>&- 4>&-; echo "$a $b"'
expect "bash exec 3<>/dev/tcp and 4<>/dev/tcp under the shim: both echo" \
	"three four" "$(tb_ns timeout 60 "${SHIM[@]}" bash -c "$BASH_TCP" 2>&1)"

# ---- dig (bind9's libuv sends with syscall(SYS_sendmmsg)) -----------------
expect "dig under the shim: an A record from dnsmasq, through the proxy" \
	198.18.0.7 "$(tb_ns timeout 60 "${SHIM[@]}" dig +short +tries=2 +time=5 \
		-p 5353 @"$TB_PEER_IP" dig.remsock.test A 2>&1)"
expect "dnsmasq saw dig's query come from the proxy" 1 \
	"$(grep -c "query\[A\] dig.remsock.test from $TB_PROXY_IP" "$DNS_LOG")"

# ---- remsock run [--isolate] ---------------------------------------------
RUN_ENV=(env REMSOCK_ADDR="$TB_PROXY_IP:5757" REMSOCK_APP=demo
	REMSOCK_SECRET="$SECRET")
seen() { grep -c "^$1 .*GET /small.bin" "$HTTP_LOG"; }
N0=$(seen "$TB_PROXY_IP")
expect "remsock run -- curl: through the proxy (the shim found beside the build)" \
	"$SMALL_SHA" "$(tb_ns timeout 60 "${RUN_ENV[@]}" "$REMSOCK_CLI" run -- \
		curl -sS "http://$TB_PEER_IP:8080/small.bin" | sha256sum |
		cut -d' ' -f1)"
expect "remsock run --isolate -- curl: through the proxy, by its relay" \
	"$SMALL_SHA" "$(tb_ns timeout 60 "${RUN_ENV[@]}" "$REMSOCK_CLI" run \
		--isolate --preload "$PRELOAD" -- curl -sS \
		"http://$TB_PEER_IP:8080/small.bin" | sha256sum | cut -d' ' -f1)"
expect "remsock run --isolate inside another: through the first one's relay" \
	"$SMALL_SHA" "$(tb_ns timeout 60 "${RUN_ENV[@]}" "$REMSOCK_CLI" run \
		--isolate -- "$REMSOCK_CLI" run --isolate -- curl -sS \
		"http://$TB_PEER_IP:8080/small.bin" | sha256sum | cut -d' ' -f1)"
expect "the web server saw all three come from the proxy" $((N0 + 3)) \
	"$(seen "$TB_PROXY_IP")"
N1=$(seen "$TB_PEER_IP")
tb_ns timeout 60 "${RUN_ENV[@]}" "$REMSOCK_CLI" run --isolate -- \
	env -u LD_PRELOAD curl -sS --max-time 20 \
	"http://$TB_PEER_IP:8080/small.bin" >/dev/null 2>"$TB_DIR/bypass.err"
RC=$?
sed 's/^/# bypass: /' "$TB_DIR/bypass.err" | head -3
expect "remsock run --isolate: a program without the shim reaches nothing (curl fails, the server saw nothing)" \
	"fails $N1" "$( ((RC != 0)) && echo fails || echo "exit 0") $(seen "$TB_PEER_IP")"
# The remsock command in a shimmed program (libremsock.so beside the
# shim): its own transport reaches the proxy itself, not through it.
expect "the remsock command under the shim (remsock run -- remsock fetch)" \
	"$SMALL_SHA" "$(tb_ns timeout 60 "${RUN_ENV[@]}" "$REMSOCK_CLI" run -- \
		"$REMSOCK_CLI" fetch "http://$TB_PEER_IP:8080/small.bin" |
		sha256sum | cut -d' ' -f1)"
# A destination the ACL denies: the program sees EACCES; REMSOCK_DEBUG
# says why, with the proxy's reason.
tb_ns timeout 60 env REMSOCK_DEBUG=1 "${SHIM[@]}" curl -sS --max-time 20 \
	"http://$TB_PROXY_IP:8080/" >/dev/null 2>"$TB_DIR/denied.err"
sed 's/^/# denied: /' "$TB_DIR/denied.err" | head -3
expect "REMSOCK_DEBUG: a denied connect says so, with the proxy's reason" 1 \
	"$(grep -cE '^remsock-preload: connect failed: Permission denied: .{8,}' \
		"$TB_DIR/denied.err")"
expect "remsock run without a program: usage error (2)" 2 \
	"$("${RUN_ENV[@]}" "$REMSOCK_CLI" run >/dev/null 2>&1; echo $?)"
expect "remsock run of a program that is not there: 127" 127 \
	"$("${RUN_ENV[@]}" "$REMSOCK_CLI" run -- /nonexistent/prog >/dev/null 2>&1; echo $?)"

# ---- wget and node, where installed (not in setup.sh's list) -------------
if command -v wget >/dev/null; then
	expect "wget under the shim: 50 MiB by a name only the proxy knows" "$BIG_SHA" \
		"$(tb_ns timeout 120 "${SHIM[@]}" wget -q -O - \
			http://peer.remsock.test:8080/big.bin | sha256sum | cut -d' ' -f1)"
fi
if command -v node >/dev/null; then
	NODE_GET='
const http = require("http"), crypto = require("crypto");
http.get(process.argv[1], r => {
  const h = crypto.createHash("sha256");
  r.on("data", d => h.update(d));
  r.on("end", () => console.log(h.digest("hex")));
}).on("error", e => console.log("error", e.message));'
	expect "node (libuv, epoll) under the shim: 50 MiB" "$BIG_SHA" \
		"$(tb_ns timeout 120 "${SHIM[@]}" node -e "$NODE_GET" \
			http://peer.remsock.test:8080/big.bin 2>&1)"
fi

# ---- through reconnects: the transport breaks by count --------------------
# libremsock breaks it after every 4 MiB of frames in each direction
# (REMSOCK_TEST_DROP_BYTES), so the number of breaks does not depend on the
# machine's speed: curl's 50 MiB (about 12 breaks) and a 16 MiB echo both
# ways (about 8) must come through whole, each byte once.
DROP=(env REMSOCK_TEST_DROP_BYTES=$((4 << 20)) REMSOCK_DEBUG=1)
tb_ns timeout 120 "${DROP[@]}" "${SHIM[@]}" curl -sS -o "$OUT" \
	"http://$TB_PEER_IP:8080/big.bin" 2>"$TB_DIR/curl_drop.err"
expect "curl: 50 MiB while the transport breaks every 4 MiB (exit status)" 0 $?
expect "curl through reconnects: the file's SHA-256" "$BIG_SHA" \
	"$(sha256sum <"$OUT" 2>/dev/null | cut -d' ' -f1)"
rm -f "$OUT"
# reconnects ERR_FILE: how many times the shim re-established its transport
reconnects() {
	sed -n 's/.*transport re-established \([0-9]*\) times.*/\1/p' "$1" | tail -1
}
N=$(reconnects "$TB_DIR/curl_drop.err")
echo "# curl through reconnects: ${N:-no} reconnects"
expect "curl through reconnects: the transport was broken (8 times or more)" \
	yes "$( ((${N:-0} >= 8)) && echo yes || echo "no (${N:-none})")"
GOT=$(tb_ns timeout 120 "${DROP[@]}" "${SHIM[@]}" python3 \
	"$HERE/preload_client.py" echo "$TB_PEER_IP" 7001 $((16 << 20)) \
	2>"$TB_DIR/echo_drop.err")
expect "python: 16 MiB echoed both ways through reconnects" \
	"echo True $((16 << 20))" "$GOT"
N=$(reconnects "$TB_DIR/echo_drop.err")
echo "# python echo through reconnects: ${N:-no} reconnects"
expect "python echo through reconnects: the transport was broken (3 times or more)" \
	yes "$( ((${N:-0} >= 3)) && echo yes || echo "no (${N:-none})")"

# ---- python3 -------------------------------------------------------------
LOG=$TB_DIR/python.log
tb_ns timeout 120 "${SHIM[@]}" python3 "$HERE/preload_client.py" \
	peer.remsock.test 8080 "$SMALL_SHA" "$TB_PEER_IP" 7001 7002 \
	"$TB_PROXY_IP" >"$LOG" 2>&1
RC=$?
while read -r _ name; do
	case $name in
	*" ok") pass "${name% ok}" ;;
	*" FAIL: "*) fail "${name%% FAIL: *}" "${name#* FAIL: }" ;;
	esac
done < <(grep '^check ' "$LOG")
expect "the python client ran to its end" "0 1" \
	"$RC $(grep -c '^done failures=' "$LOG")"
[[ $RC -eq 0 ]] || sed 's/^/# python: /' "$LOG" | tail -20
expect "the echo servers saw only the proxy" "tcp $TB_PROXY_IP|udp $TB_PROXY_IP" \
	"$(grep -E '^(tcp|udp) ' "$PEER_LOG" | sort -u | paste -sd'|')"

# ---- a program killed: its session ends, its sockets close ----------------
# libremsock names a session when it authenticates; once none of the
# session's connections has been open for [service] session_grace_s (2 s
# here), remsockd closes its sockets (rpc.session_closed), instead of
# holding them for idle_timeout_s.
established() { tb_ns ss -Htn state established "( sport = :7001 )" | wc -l; }
stat_of() {
	tb_ns "${RUN_ENV[@]}" "$REMSOCK_CLI" stats "$1" 2>/dev/null |
		awk -v n="$1" '$1 == n {print $2}'
}
KILL_FLAG=$TB_DIR/killed.up
HOLD_PY='
import signal, socket, sys
s = socket.create_connection((sys.argv[1], 7001))
s.sendall(b"x" * 1000)
got = b""
while len(got) < 1000:
    got += s.recv(1000)
open(sys.argv[2], "w").write("up")
signal.pause()  # holds the connection until the SIGKILL
'
C0=$(stat_of rpc.session_closed)
B0=$(established)
tb_ns_bg "$TB_DIR/hold.log" "${SHIM[@]}" python3 -c "$HOLD_PY" "$TB_PEER_IP" \
	"$KILL_FLAG"
HOLD_PID=$TB_BG_PID
tb_until 60 test -s "$KILL_FLAG"
expect "a program under the shim holds a connection to the echo server" \
	$((B0 + 1)) "$(established)"
kill -KILL "$HOLD_PID"
back_to_b0() { test "$(established)" -eq "$B0"; }
tb_until 60 back_to_b0
expect "killed (SIGKILL), its connection is closed by the proxy after the session's grace" \
	"$B0" "$(established)"
expect "counted: rpc.session_closed grew by 1" $((${C0:-0} + 1)) \
	"$(stat_of rpc.session_closed)"

# ---- iperf3 --------------------------------------------------------------
# iperf_run NAME ARGS...: a bounded iperf3 -c under the shim, JSON out.
iperf_run() {
	local what=$1 json=$TB_DIR/iperf_$1.json
	shift
	tb_ns timeout 120 "${SHIM[@]}" iperf3 -c "$TB_PEER_IP" -p 5201 -J "$@" \
		>"$json" 2>"$TB_DIR/iperf_$what.err"
	expect "iperf3 -c $what under the shim (exit status)" 0 $?
	[[ $what == tcp ]] &&
		expect "iperf3 $what: the proxy is the local host" "$TB_PROXY_IP" \
			"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["start"]["connected"][0]["local_host"])' "$json" 2>&1)"
	python3 - "$json" "$what" <<-'PY'
		import json, sys
		j = json.load(open(sys.argv[1]))
		e = j["end"]
		s = e["sum_sent"] if "sum_sent" in e else e["sum"]
		print("# iperf3 %s: %.0f bytes, %.1f Mbit/s" % (sys.argv[2], s["bytes"], s["bits_per_second"] / 1e6))
	PY
	[[ -s $TB_DIR/iperf_$what.err ]] && sed 's/^/# iperf3: /' "$TB_DIR/iperf_$what.err" | head -5
}
iperf_run tcp -n 32M
iperf_run udp -u -b 20M -n 2M -l 1400
# Control connections, and the data streams (TCP and UDP): all from the
# proxy.
ACC=$(grep -c 'Accepted connection from' "$IPERF_LOG")
expect "the iperf3 server saw the proxy as its client (control)" "2 2" \
	"$ACC $(grep -c "Accepted connection from $TB_PROXY_IP," "$IPERF_LOG")"
expect "the iperf3 server saw the proxy as its client (TCP and UDP data)" 2 \
	"$(grep -c "connected to $TB_PROXY_IP port" "$IPERF_LOG")"

# ---- shim_test -----------------------------------------------------------
LOG=$TB_DIR/shim_test.log
tb_ns timeout 120 "${SHIM[@]}" "$SHIM_TEST" "$TB_PEER_IP" "$TB_PROXY_IP" \
	>"$LOG" 2>&1
RC=$?
while read -r _ name; do
	case $name in
	*" ok") pass "${name% ok}" ;;
	*" FAIL: "*) fail "${name%% FAIL: *}" "${name#* FAIL: }" ;;
	esac
done < <(grep '^check ' "$LOG")
expect "shim_test ran to its end" "0 1" "$RC $(grep -c '^done failures=' "$LOG")"
[[ $RC -eq 0 ]] || sed 's/^/# shim_test: /' "$LOG" | grep -v '^# shim_test: check' | tail -20

svc_stop
finish
