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
. "$HERE/svc_lib.sh"

HTTP_PORT=8080
TB_INI_EXTRA="[tcp]
time_wait_ms = 500
close_grace_ms = 10000
[apps]
demo = demo-secret-not-for-production
other = other-secret-for-the-tests
small = small-secret-for-the-tests
[quotas]
small = sockets=2
[dns]
servers = $TB_PEER_IP
timeout_ms = 5000
tries = 2
[hosts]
static = Static.Test 198.18.0.7 198.18.0.8
[rpc]
tls_port = 5758
tls_cert = @TB_DIR@/tls.crt
tls_key = @TB_DIR@/tls.key
tls_client_ca = @TB_DIR@/ca.crt
tls_client_crl = @TB_DIR@/crl.pem"

svc_pre_start() { svc_tls_certs; }

svc_up "$MODE" svc "$REMSOCKD"

# The web server's one file: 1 MiB of random bytes.
mkdir -p "$TB_DIR/www"
head -c 1048576 /dev/urandom >"$TB_DIR/www/blob"
SHA=$(sha256sum "$TB_DIR/www/blob" | cut -d' ' -f1)

# After remsockd: in tap mode the namespace has its address only now.
tb_ns_bg "$TB_DIR/http.log" python3 -u -m http.server --bind "$TB_PEER_IP" \
	--directory "$TB_DIR/www" "$HTTP_PORT"
tb__wait_for "$TB_DIR/http.log" '^Serving HTTP' 60 "$TB_BG_PID" ||
	fail "the web server starts"
# A DNS server there: names under svc.test are 198.18.0.1, under invalid
# nothing (NXDOMAIN); it logs each query with its source.
tb_ns_bg "$TB_DIR/dns.log" dnsmasq --keep-in-foreground --no-resolv \
	--no-hosts --bind-interfaces --listen-address="$TB_PEER_IP" \
	--port=53 --user=root --pid-file= --log-queries --log-facility=- \
	--address=/svc.test/"$TB_PEER_IP" --address=/invalid/ \
	--host-record=real.alias.test,"$TB_PEER_IP" \
	--cname=www.alias.test,real.alias.test \
	--host-record=noaddr.test,2001:db8::1 --local=/noaddr.test/ \
	--host-record=dual.test,"$TB_PEER_IP",2001:db8::2 --local=/dual.test/
tb__wait_for "$TB_DIR/dns.log" 'started' 60 "$TB_BG_PID" ||
	fail "dnsmasq starts"

svc_client "$TB_DIR/client.log" "$HERE/svc_basic.py" "$SRC/proto" \
	"$TB_PROXY_IP" 5757 "$TB_PEER_IP" "$HTTP_PORT" "$SHA" "$TB_DIR"
DNS_Q=$(grep -c "query\[A\] [a-z0-9.]*svc.test from $TB_PROXY_IP" \
	"$TB_DIR/dns.log")
expect "the DNS queries came from the proxy's own UDP stack (22 or more)" \
	1 "$((DNS_Q >= 22))"

# SIGHUP reads the TLS files again: once the CA's CRL revokes demo's
# certificate too, the next handshake with it is refused.
tls_probe() {
	tb_ns /usr/bin/python3 "$HERE/svc_app_probe.py" "$SRC/proto" \
		"$TB_PROXY_IP" 5758 demo demo-secret-not-for-production \
		tls-auth "$TB_DIR" demo-app 2>&1 | cut -d: -f1
}
expect "TLS: demo's certificate is accepted before its revocation" ok \
	"$(tls_probe)"
openssl ca -config "$TB_DIR/ca.cnf" -keyfile "$TB_DIR/ca.key" \
	-cert "$TB_DIR/ca.crt" -revoke "$TB_DIR/demo-app.crt" 2>/dev/null &&
	openssl ca -config "$TB_DIR/ca.cnf" -keyfile "$TB_DIR/ca.key" \
		-cert "$TB_DIR/ca.crt" -gencrl -out "$TB_DIR/crl.pem" \
		2>/dev/null || fail "the CA revokes demo's certificate"
expect "SIGHUP reads the TLS files again" 1 \
	"$(svc_reload | grep -c 'the TLS files read again in force$')"
expect "TLS: demo's revoked certificate is refused after the reload" \
	refused "$(tls_probe)"

svc_stop
expect "the parked Receive of the dropped connection was cancelled" 1 \
	"$(($(tb_counter "$SVC_LOG" rpc.cancelled) >= 1))"
expect "two failed Authenticates counted (a wrong secret, another app's certificate)" \
	2 "$(tb_counter "$SVC_LOG" rpc.auth_failed)"
expect "the TLS port counted the failed handshakes (TLS 1.2, plain frames)" \
	1 "$(($(tb_counter "$SVC_LOG" rpc.tls_failed) >= 2))"
grep -E '^  rpc\.' "$SVC_LOG" | sed 's/^/# remsockd:/'
finish
