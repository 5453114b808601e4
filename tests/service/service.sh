#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# remsockd's remote socket service end to end: remsockd on the testbed
# (tap or virtio mode), a real web server (python3 -m http.server) in the
# test namespace, and svc_basic.py there as the RPC client and as the
# Linux peer of the proxied sockets.  Then remsockd is stopped and must
# have left nothing behind: RPC connections, sockets, parked calls,
# service entries, mbufs.
#
#   service.sh tap|virtio REMSOCKD RS_BRIDGE SOURCE_ROOT
set -uo pipefail
MODE=$1
REMSOCKD=$2
TB_BRIDGE=$3
SRC=$4
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../integration/lib.sh"
. "$HERE/../testbed/testbed.sh"

HTTP_PORT=8080
TB_INI_EXTRA="[tcp]
time_wait_ms = 500
close_grace_ms = 3000
[apps]
demo = demo-secret-not-for-production
other = other-secret-for-the-tests
small = small-secret-for-the-tests
[quotas]
small = sockets=2
[dns]
servers = $TB_PEER_IP
timeout_ms = 1000
tries = 2
[hosts]
static = Static.Test 198.18.0.7 198.18.0.8"

if ! tb_up "$MODE" svc; then
	fail "the $MODE testbed comes up"
	finish
	exit 1
fi

# The web server's one file: 1 MiB of random bytes.
mkdir -p "$TB_DIR/www"
head -c 1048576 /dev/urandom >"$TB_DIR/www/blob"
SHA=$(sha256sum "$TB_DIR/www/blob" | cut -d' ' -f1)

tb_start "$TB_DIR/remsockd.log" "$REMSOCKD" -c "$TB_CONF" ||
	{ fail "remsockd starts"; finish; exit 1; }
pass "remsockd starts in $MODE mode"
# After tb_start: in tap mode the namespace has its address only now.
tb_ns_bg "$TB_DIR/http.log" python3 -u -m http.server --bind "$TB_PEER_IP" \
	--directory "$TB_DIR/www" "$HTTP_PORT"
tb__wait_for "$TB_DIR/http.log" '^Serving HTTP' 10 "$TB_BG_PID" ||
	fail "the web server starts"
# A DNS server there: names under svc.test are 198.18.0.1, under invalid
# nothing (NXDOMAIN); it logs each query with its source.
tb_ns_bg "$TB_DIR/dns.log" dnsmasq --keep-in-foreground --no-resolv \
	--no-hosts --bind-interfaces --listen-address="$TB_PEER_IP" \
	--port=53 --user=root --pid-file= --log-queries --log-facility=- \
	--address=/svc.test/"$TB_PEER_IP" --address=/invalid/
tb__wait_for "$TB_DIR/dns.log" 'started' 10 "$TB_BG_PID" ||
	fail "dnsmasq starts"

tb_ns /usr/bin/python3 "$HERE/svc_basic.py" "$SRC/proto" "$TB_PROXY_IP" 5757 \
	"$TB_PEER_IP" "$HTTP_PORT" "$SHA" >"$TB_DIR/client.log" 2>&1
CLIENT_RC=$?
while read -r _ name; do
	case $name in
	*" ok") pass "${name% ok}" ;;
	*" FAIL: "*) fail "${name%% FAIL: *}" "${name#* FAIL: }" ;;
	esac
done < <(grep '^check ' "$TB_DIR/client.log")
grep '^# ' "$TB_DIR/client.log"
expect "the client ran to its end" "0 1" \
	"$CLIENT_RC $(grep -c '^done failures=' "$TB_DIR/client.log")"
[[ $CLIENT_RC -eq 0 ]] || sed 's/^/# client: /' "$TB_DIR/client.log" | tail -20

DNS_Q=$(grep -c "query\[A\] [a-z0-9.]*svc.test from $TB_PROXY_IP" \
	"$TB_DIR/dns.log")
expect "the DNS queries came from the proxy's own UDP stack (22 or more)" \
	1 "$((DNS_Q >= 22))"

tb_stop
expect "remsockd exits 0 at SIGTERM (nothing leaked)" 0 "$TB_RC"
expect "no RPC connection, socket, parked call or entry left" \
	"conns_open=0 socks_open=0 waits=0 msgs_in_use=0" \
	"$(awk '$1 == "service" && $2 == "leak:" {print $3, $4, $5, $6}' \
		"$TB_DIR/remsockd.log")"
expect "no mbuf left" 0 "$(tb_counter "$TB_DIR/remsockd.log" \
	mbufs_in_use_after_close)"
expect "no packet unexplained" 0 "$(tb_counter "$TB_DIR/remsockd.log" \
	unexplained)"
expect "the parked Receive of the dropped connection was cancelled" 1 \
	"$(($(tb_counter "$TB_DIR/remsockd.log" rpc.cancelled) >= 1))"
expect "one failed Authenticate counted" 1 \
	"$(tb_counter "$TB_DIR/remsockd.log" rpc.auth_failed)"
grep -E '^  rpc\.' "$TB_DIR/remsockd.log" | sed 's/^/# remsockd:/'
finish
