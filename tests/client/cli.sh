#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The remsock command end to end: remsockd on the testbed (tap or virtio
# mode), Linux peers in the test namespace (python3 -m http.server,
# cli_peers.py: a chunked HTTP server, TCP and UDP echo), and remsock run
# there against the proxy.  fetch (Content-Length, chunked, read to EOF,
# a [hosts] name, a 404, a short body, a stalled body, a refused port, a
# connect that times out, https), resolve ([hosts], numeric, unknown), nc
# (TCP echo of 1 MiB, -w on a silent peer, UDP echo, refused TCP and UDP,
# ACL), stats
# (counters that move with a fetch, the app's quota), the proxy
# unreachable or refusing the app, usage errors, and the manuals.  Then
# remsockd must stop with nothing left behind.
#
#   cli.sh tap|virtio REMSOCKD RS_BRIDGE REMSOCK
set -uo pipefail
MODE=$1
REMSOCKD=$2
TB_BRIDGE=$3
CLI=$4
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../service/svc_lib.sh"

SECRET=demo-secret-not-for-production
TB_INI_EXTRA="[tcp]
time_wait_ms = 500
close_grace_ms = 10000
[service]
operator = demo
[apps]
demo = $SECRET
other = other-secret-for-the-tests
[quotas]
demo = sockets=64
[hosts]
static = Static.Test 198.18.0.7 198.18.0.8
web = web.test $TB_PEER_IP"

# rcli IN ARG...: remsock in the namespace with the demo app's
# environment, stdin from IN; OUT and ERR its output, RC its status.
rcli() {
	local in=$1
	shift
	OUT=$TB_DIR/out ERR=$TB_DIR/err
	tb_ns env REMSOCK_ADDR="$TB_PROXY_IP" REMSOCK_APP=demo \
		REMSOCK_SECRET="$SECRET" timeout 120 "$CLI" "$@" <"$in" \
		>"$OUT" 2>"$ERR"
	RC=$?
}

# rc_err: "STATUS STDERR" of the last rcli.
rc_err() {
	echo "$RC $(cat "$ERR")"
}

sha() {
	sha256sum "$1" | cut -d' ' -f1
}

# counter NAME: its value from remsock stats.
counter() {
	rcli /dev/null stats "$1"
	awk -v n="$1" '$1 == n {print $2}' "$OUT"
}

# ---- no proxy needed ---------------------------------------------------------

for c in "" fetch resolve nc stats; do
	# shellcheck disable=SC2086 # no word for the main manual
	out=$("$CLI" $c --help 2>&1)
	rc=$?
	got=$rc
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT \
		EXAMPLES; do
		grep -q "^$s\$" <<<"$out" || got+=" no-$s"
	done
	expect "remsock ${c:+$c }--help: a manual, exit 0" 0 "$got"
done
out=$("$CLI" --version 2>&1)
expect "remsock --version" "0 1" "$? $(grep -c '^remsock [0-9]' <<<"$out")"

usage() {
	local what=$1 want=$2
	shift 2
	env -u REMSOCK_ADDR "$CLI" "$@" >/dev/null 2>"$TB_DIR/uerr"
	expect "usage error: $what (exit 2)" "2 $want" \
		"$? $(head -1 "$TB_DIR/uerr")"
}

svc_up "$MODE" cli "$REMSOCKD"

usage "no command" "remsock: no COMMAND (fetch, resolve, nc, stats, run)"
usage "unknown command" \
	"remsock: unknown command 'get' (fetch, resolve, nc, stats, run)" get
usage "unknown option" "remsock fetch: unknown option '-x'" fetch -x u
usage "fetch without URL" "remsock fetch: URL is missing" fetch
usage "https refused" "remsock fetch: https://x/: https is not supported \
(remsock has no TLS): use http://" fetch https://x/
usage "a bad port in a URL" "remsock fetch: http://h:0/: bad port" \
	fetch http://h:0/
usage "nc without PORT" "remsock nc: HOST and PORT are needed" nc h
usage "nc with a bad port" "remsock nc: '99999' is not a port (1-65535)" \
	nc h 99999
usage "no proxy given" "remsock resolve: no proxy: give --addr \
HOST[:PORT] or set REMSOCK_ADDR" resolve x

# ---- the peers -------------------------------------------------------------

mkdir -p "$TB_DIR/www"
head -c 4194304 /dev/urandom >"$TB_DIR/www/blob"
head -c 300000 /dev/urandom >"$TB_DIR/chunked.bin"
head -c 200000 /dev/urandom >"$TB_DIR/eof.bin"
head -c 1048576 /dev/urandom >"$TB_DIR/echo.bin"
printf 'one\ntwo two\nthree\n' >"$TB_DIR/lines"
tb_ns_bg "$TB_DIR/http.log" python3 -u -m http.server --bind "$TB_PEER_IP" \
	--directory "$TB_DIR/www" 8080
tb__wait_for "$TB_DIR/http.log" '^Serving HTTP' 60 "$TB_BG_PID" ||
	fail "the web server starts"
tb_ns_bg "$TB_DIR/peers.log" python3 -u "$HERE/cli_peers.py" "$TB_PEER_IP" \
	"$TB_DIR"
tb__wait_for "$TB_DIR/peers.log" '^ready' 60 "$TB_BG_PID" ||
	fail "the chunked HTTP server and the echo servers start"

# ---- fetch -----------------------------------------------------------------

CALLS0=$(counter rpc.calls)
RX0=$(counter rx_bytes)
rcli /dev/null fetch "http://$TB_PEER_IP:8080/blob"
expect "fetch: 4 MiB with Content-Length, SHA-256 equal, exit 0" \
	"0 $(sha "$TB_DIR/www/blob")" "$RC $(sha "$OUT")"
CALLS1=$(counter rpc.calls)
RX1=$(counter rx_bytes)
expect "stats: rpc.calls grew by the fetch's calls (more than 5)" 1 \
	"$((CALLS1 - CALLS0 > 5))"
expect "stats: rx_bytes grew by the fetched 4 MiB at least" 1 \
	"$((RX1 - RX0 >= 4194304))"

expect "the web server saw one HTTP/1.1 GET of /blob, from the proxy" 1 \
	"$(grep -c "^$TB_PROXY_IP .*\"GET /blob HTTP/1.1\" 200" "$TB_DIR/http.log")"
rcli /dev/null fetch "http://web.test:8081/host"
expect "fetch: a [hosts] name, resolved by the proxy; its Host header" \
	"0 web.test:8081" "$RC $(cat "$OUT")"
rcli /dev/null fetch -t 1 "http://$TB_PEER_IP:8081/stall"
expect "fetch -t: a server that stalls, exit 1 after the body so far" \
	"1 remsock fetch: http://$TB_PEER_IP:8081/stall: in the body: timed out 0123456789" \
	"$(rc_err) $(cat "$OUT")"
rcli /dev/null fetch "http://$TB_PEER_IP:8081/chunked"
expect "fetch: chunked transfer coding, SHA-256 equal, exit 0" \
	"0 $(sha "$TB_DIR/chunked.bin")" "$RC $(sha "$OUT")"
rcli /dev/null fetch "http://$TB_PEER_IP:8081/eof"
expect "fetch: body to the end of the connection, SHA-256 equal" \
	"0 $(sha "$TB_DIR/eof.bin")" "$RC $(sha "$OUT")"
rcli /dev/null fetch -i "http://$TB_PEER_IP:8081/eof"
expect "fetch -i: the status line first" "0 HTTP/1.0 200 OK" \
	"$RC $(head -1 "$OUT" | tr -d '\r')"
rcli /dev/null fetch "http://$TB_PEER_IP:8080/nothing"
expect "fetch: a 404 is reported, exit 1, no body" \
	"1 remsock fetch: http://$TB_PEER_IP:8080/nothing: HTTP 404 File not found 0" \
	"$(rc_err) $(wc -c <"$OUT")"
rcli /dev/null fetch -o "$TB_DIR/got.blob" "http://$TB_PEER_IP:8080/blob"
expect "fetch -o FILE: the body in FILE, nothing on stdout or stderr" \
	"0 $(sha "$TB_DIR/www/blob") 0 0" \
	"$RC $(sha "$TB_DIR/got.blob") $(wc -c <"$OUT") $(wc -c <"$ERR")"
rcli /dev/null fetch -o "$TB_DIR/got.blob" "http://$TB_PEER_IP:8080/nothing"
expect "fetch -o FILE of a 404: exit 1, and no FILE left" "1 gone" \
	"$RC $([[ -e $TB_DIR/got.blob ]] || echo gone)"
# On a terminal (script(1) gives one), a progress line on stderr.
tb_ns env REMSOCK_ADDR="$TB_PROXY_IP" REMSOCK_APP=demo \
	REMSOCK_SECRET="$SECRET" timeout 120 script -qec \
	"$CLI fetch -o $TB_DIR/got.blob http://$TB_PEER_IP:8080/blob" \
	/dev/null >"$TB_DIR/tty.out" 2>&1
expect "fetch -o on a terminal: a progress line ending at 4.0 MiB of 4.0 MiB (100%)" \
	"0 $(sha "$TB_DIR/www/blob") 1" \
	"$? $(sha "$TB_DIR/got.blob") $(tr '\r' '\n' <"$TB_DIR/tty.out" |
		grep -v '^ *$' | tail -1 |
		grep -c '^  4.0 MiB of 4.0 MiB (100%), [0-9.]* MiB/s')"
rcli /dev/null fetch "http://$TB_PEER_IP:8081/short"
expect "fetch: a body shorter than Content-Length, exit 1" \
	"1 remsock fetch: http://$TB_PEER_IP:8081/short: the server closed the connection after 10 of 1000 body bytes" \
	"$(rc_err)"
rcli /dev/null fetch "http://$TB_PEER_IP:9/"
expect "fetch: a refused port, exit 1" \
	"1 remsock fetch: connect to $TB_PEER_IP:9: Connection refused" \
	"$(rc_err)"
T0=$SECONDS
rcli /dev/null fetch -t 1 "http://198.18.0.99/"
expect "fetch -t: a connect to an address no one has ends in time, exit 1" \
	"1 remsock fetch: connect to 198.18.0.99:80: Connection timed out 1" \
	"$(rc_err) $((SECONDS - T0 < 30))"
rcli /dev/null fetch "http://nosuch.test/"
expect "fetch: a name that does not resolve, exit 1" \
	"1 remsock fetch: resolve nosuch.test: Name or service not known (proxy: 'nosuch.test' is not in [hosts], and no [dns] servers are set)" \
	"$(rc_err)"

# ---- resolve ---------------------------------------------------------------

rcli /dev/null resolve static.test
expect "resolve: a [hosts] name, every address" "0 198.18.0.7 198.18.0.8" \
	"$RC $(tr '\n' ' ' <"$OUT" | sed 's/ $//')"
rcli /dev/null resolve "$TB_PEER_IP"
expect "resolve: a numeric address" "0 $TB_PEER_IP" "$RC $(cat "$OUT")"
rcli /dev/null resolve nosuch.test
expect "resolve: an unknown name, the EAI message and the proxy's reason" \
	"1 remsock resolve: nosuch.test: Name or service not known (proxy: 'nosuch.test' is not in [hosts], and no [dns] servers are set)" \
	"$(rc_err)"

# ---- nc --------------------------------------------------------------------

rcli "$TB_DIR/echo.bin" nc "$TB_PEER_IP" 7007
expect "nc: 1 MiB through a TCP echo, byte for byte, exit 0" \
	"0 $(sha "$TB_DIR/echo.bin")" "$RC $(sha "$OUT")"
# stdin never ends (a FIFO this shell holds open for writing): only -w
# can end nc (30 s bounds a slow machine, not the idle time).
mkfifo "$TB_DIR/never"
exec 7<>"$TB_DIR/never"
T0=$SECONDS
rcli "$TB_DIR/never" nc -w 1 "$TB_PEER_IP" 7009
exec 7>&-
expect "nc -w: a peer that stays silent, exit 0 once idle for 1 s" "0  1" \
	"$(rc_err) $((SECONDS - T0 < 30))"
rcli "$TB_DIR/lines" nc -u -w 3 "$TB_PEER_IP" 7008
expect "nc -u: each line a datagram, echoed" \
	"0 $(sha "$TB_DIR/lines")" "$RC $(sha "$OUT")"
rcli /dev/null nc "$TB_PEER_IP" 9
expect "nc: a refused port, exit 1" \
	"1 remsock nc: connect to $TB_PEER_IP:9: Connection refused" \
	"$(rc_err)"
head -1 "$TB_DIR/lines" >"$TB_DIR/line"
rcli "$TB_DIR/line" nc -u -w 3 "$TB_PEER_IP" 9
expect "nc -u: a datagram to a closed port (ICMP port unreachable), exit 1" \
	"1 remsock nc: receive: Connection refused" "$(rc_err)"
rcli /dev/null nc 127.0.0.1 80
expect "nc: a destination the proxy's ACL denies, exit 1" \
	"1 remsock nc: connect to 127.0.0.1:80: Permission denied (127.0.0.1:80 denied by built-in loopback: deny 127.0.0.0/8)" \
	"$(rc_err)"

# ---- stats and the proxy ---------------------------------------------------

rcli /dev/null stats quota.sockets.
expect "stats: the app's socket quota, all given back" \
	"0 quota.sockets.used 0|quota.sockets.limit 64|quota.sockets.refused 0" \
	"$RC $(awk '{print $1, $2}' "$OUT" | paste -sd'|')"
expect "stats: no proxied socket left open" 0 "$(counter rpc.socks_open)"
rcli /dev/null stats
expect "stats: every counter fits the reply (nothing left out)" "0 " \
	"$RC $(cat "$ERR")"
expect "stats: the data plane's and the service's counters are there" \
	"event.tcp_segs_sent rpc.calls rpc.conns_accepted rx_pkts tx_pkts" \
	"$(awk '{print $1}' "$OUT" | grep -xE 'rpc\.calls|rpc\.conns_accepted|rx_pkts|tx_pkts|event\.tcp_segs_sent' | sort | paste -sd' ')"
echo "# remsock stats: $(wc -l <"$OUT") counters, e.g.:"
grep -E '^(rpc\.calls|rx_bytes|quota\.sockets\.limit) ' "$OUT" | sed 's/^/#   /'
# An app that is not [service] operator sees its own quotas, no more.
tb_ns env REMSOCK_ADDR="$TB_PROXY_IP" REMSOCK_APP=other \
	REMSOCK_SECRET=other-secret-for-the-tests timeout 120 "$CLI" stats \
	>"$TB_DIR/other.out" 2>&1
expect "stats as another app: its quotas only (21 rows), exit 0" "0 21 21" \
	"$? $(wc -l <"$TB_DIR/other.out") $(grep -c '^quota\.' "$TB_DIR/other.out")"
rcli /dev/null stats -a other quota.sockets.used
expect "stats -a other: the operator sees another app's view" \
	"0 quota.sockets.used 0" "$RC $(awk '{print $1, $2}' "$OUT")"
tb_ns env REMSOCK_ADDR="$TB_PROXY_IP" REMSOCK_APP=other \
	REMSOCK_SECRET=other-secret-for-the-tests timeout 120 "$CLI" stats \
	-a demo >"$TB_DIR/other.out" 2>&1
expect "stats -a demo as another app: refused, saying why (exit 1)" "1 1" \
	"$? $(grep -c "only \[service\] operator sees another app's counters" \
		"$TB_DIR/other.out")"
rcli /dev/null stats -p
check "stats -p: Prometheus text that promtool finds nothing to fix in" \
	bash -c 'promtool check metrics <"$1"' _ "$OUT"
expect "stats -p: by the metric names of GET /metrics" "0 1 1" \
	"$RC $(grep -c '^remsock_rpc_calls_total [0-9]' "$OUT") $(grep -c \
		'^remsock_quota_limit{app="demo",quota="sockets"} 64$' "$OUT")"
rcli /dev/null stats -w 1 -n 2 rpc.calls
expect "stats -w 1 -n 2: two reads, each after its time; the second has rpc.calls' growth and rate" \
	"0 2 1" "$RC $(grep -c '^# 20[0-9-]*T[0-9:]*Z$' "$OUT") $(sed -n 4p "$OUT" |
		grep -cE '^rpc\.calls +[0-9]+ \+[1-9][0-9]* [0-9.]+/s$')"
usage "stats -n without -w" "remsock stats: -n COUNT goes with -w SECS" \
	stats -n 2
rcli /dev/null stats no.such.counter
expect "stats: a prefix no counter has, exit 1" \
	"1 remsock stats: no counter starts with 'no.such.counter'" \
	"$(rc_err)"

rcli /dev/null --addr "$TB_PEER_IP:1" resolve x
expect "a proxy address where nothing listens, exit 1" \
	"1 remsock resolve: nothing listens at $TB_PEER_IP:1: is remsockd running, with [rpc] listen_port 1?" \
	"$(rc_err)"
rcli /dev/null --addr "$TB_PEER_IP:0" resolve x
expect "a proxy address with port 0 (exit 2)" \
	"2 remsock resolve: proxy address '$TB_PEER_IP:0': port '0' is not a number from 1 to 65535" \
	"$RC $(head -1 "$ERR")"
rcli /dev/null --addr 198.18.0.99 --connect-timeout 1500 resolve x
expect "a proxy address where no one answers, exit 1" \
	"1 remsock resolve: no answer from 198.18.0.99" \
	"$RC $(cut -d: -f1-2 "$ERR")"
rcli /dev/null --secret wrong stats
expect "a wrong secret, exit 1" \
	"1 remsock stats: the proxy at $TB_PROXY_IP:5757 refused app 'demo': unknown app or wrong secret (REMSOCK_APP, REMSOCK_SECRET)" \
	"$(rc_err)"

svc_stop
finish
