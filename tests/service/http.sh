#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# remsockd's App Engine API-host endpoint ([rpc] http_port) end to end in
# tap or virtio mode: a web server and dnsmasq in the test namespace, and
# svc_http.py there -- a client that speaks only HTTP POST /rpc_http with
# App Engine's own .proto files -- running the seed's socket and DNS
# examples, the error mapping, malformed HTTP and bodies, pipelining,
# many keep-alive requests and many connections.  Then remsockd must stop
# with nothing left behind.
#
#   http.sh tap|virtio REMSOCKD RS_BRIDGE SOURCE_ROOT
set -uo pipefail
MODE=$1
REMSOCKD=$2
TB_BRIDGE=$3
SRC=$4
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/svc_lib.sh"

AE=/usr/share/gocode/src/google.golang.org/appengine/internal
API_PORT=8088
WEB_PORT=8080
# auth_fail_per_min = 0: the fuzz below mangles the demo app's ticket by
# the dozen (the rate itself is svc_attacks.py's).
TB_INI_EXTRA="[rpc]
http_port = $API_PORT
http_idle_s = 5
auth_fail_per_min = 0
https_port = 8443
tls_cert = @TB_DIR@/tls.crt
tls_key = @TB_DIR@/tls.key
[apps]
demo = demo-secret-not-for-production
small = small-secret-for-the-tests
[quotas]
small = sockets=2
[tcp]
time_wait_ms = 500
close_grace_ms = 10000
[dns]
servers = $TB_PEER_IP
timeout_ms = 5000
tries = 2
[hosts]
static = Static.Test 198.18.0.7 198.18.0.8"

svc_pre_start() { svc_tls_certs; }
svc_up "$MODE" http "$REMSOCKD"
expect "remsockd announces the HTTP endpoint" 1 \
	"$(grep -c "http      $TB_PROXY_IP:$API_PORT" "$SVC_LOG")"

mkdir -p "$TB_DIR/www"
head -c 1048576 /dev/urandom >"$TB_DIR/www/blob"
SHA=$(sha256sum "$TB_DIR/www/blob" | cut -d' ' -f1)
tb_ns_bg "$TB_DIR/web.log" python3 -u -m http.server --bind "$TB_PEER_IP" \
	--directory "$TB_DIR/www" "$WEB_PORT"
tb__wait_for "$TB_DIR/web.log" '^Serving HTTP' 60 "$TB_BG_PID" ||
	fail "the web server starts"
tb_ns_bg "$TB_DIR/dns.log" dnsmasq --keep-in-foreground --no-resolv \
	--no-hosts --bind-interfaces --listen-address="$TB_PEER_IP" \
	--port=53 --user=root --pid-file= --log-queries --log-facility=- \
	--address=/svc.test/"$TB_PEER_IP" --address=/invalid/
tb__wait_for "$TB_DIR/dns.log" 'started' 60 "$TB_BG_PID" ||
	fail "dnsmasq starts"

svc_client "$TB_DIR/client.log" "$HERE/svc_http.py" "$AE" \
	"$TB_PROXY_IP" "$API_PORT" "$TB_PEER_IP" "$WEB_PORT" "$SHA" "$TB_DIR"

svc_stop
expect "HTTP requests were counted (3000 or more)" 1 \
	"$(($(tb_counter "$SVC_LOG" rpc.http_requests) >= 3000))"
expect "two connections closed for idleness" 2 \
	"$(tb_counter "$SVC_LOG" rpc.http_idle_closed)"
grep -E '^  rpc\.' "$SVC_LOG" | sed 's/^/# remsockd:/'
finish
