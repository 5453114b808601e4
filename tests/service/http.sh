#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# remsockd's App Engine API-host endpoint ([rpc] http_port) end to end in
# tap or virtio mode: a web server and dnsmasq in the test namespace, and
# svc_http.py there -- a client that speaks only HTTP POST /rpc_http with
# App Engine's own .proto files -- running the seed's socket and DNS
# examples, the error mapping, malformed HTTP and bodies, pipelining,
# many keep-alive requests and many connections.  Then GET /metrics, the
# operator's Prometheus endpoint: refused without the operator's secret,
# clean for promtool, and scraped by a real Prometheus.  Then remsockd
# must stop with nothing left behind.
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
tls_client_ca = @TB_DIR@/ca.crt
[service]
operator = ops
[apps]
demo = demo-secret-not-for-production
small = small-secret-for-the-tests
ops = ops-secret-for-the-metrics
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

# DPDK's telemetry socket, under a prefix of this test's own.
TB_TELEMETRY=rs-http-$MODE-$$
svc_pre_start() { svc_tls_certs demo small ops; }
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

# ---- GET /metrics -----------------------------------------------------
M=http://$TB_PROXY_IP:$API_PORT/metrics
OPS=ops:ops-secret-for-the-metrics
status() { tb_ns curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
expect "metrics without credentials: 401" 401 "$(status "$M")"
expect "metrics with a tenant's secret: 403" 403 \
	"$(status -u demo:demo-secret-not-for-production "$M")"
expect "metrics with a wrong secret: 401" 401 "$(status -u ops:nope "$M")"
expect "POST to /metrics: 405" 405 "$(status -u "$OPS" -d x "$M")"
expect "metrics with the operator's secret (Basic): 200, text 0.0.4" \
	"200 text/plain; version=0.0.4; charset=utf-8" \
	"$(tb_ns curl -s --max-time 10 -u "$OPS" -o "$TB_DIR/metrics.txt" \
		-w '%{http_code} %{content_type}' "$M")"
check "promtool check metrics finds nothing to fix" \
	bash -c 'promtool check metrics <"$1"' _ "$TB_DIR/metrics.txt"
expect "every family has a type (none untyped)" 0 \
	"$(grep -c '^# TYPE .* untyped$' "$TB_DIR/metrics.txt")"
expect "the HTTP requests so far are in remsock_http_requests_total" 1 \
	"$(awk '$1 == "remsock_http_requests_total" {print ($2 >= 3000)}' \
		"$TB_DIR/metrics.txt")"
expect "every app's quotas are there, with app and quota labels" "1 1" \
	"$(grep -c '^remsock_quota_limit{app="ops",quota="sockets"} ' \
		"$TB_DIR/metrics.txt") $(grep -c \
		'^remsock_quota_limit{app="small",quota="sockets"} 2$' \
		"$TB_DIR/metrics.txt")"
expect "calls by method and outcome: Resolve answered, a Connect refused" \
	"1 1" "$(awk '$1 ~ /^remsock_rpc_calls_by_method_total\{method="Resolve",outcome="ok"\}$/ {print ($2 > 0)}' \
		"$TB_DIR/metrics.txt") $(awk '$1 ~ /^remsock_rpc_calls_by_method_total\{method="Connect",outcome="app_error"\}$/ {print ($2 > 0)}' \
		"$TB_DIR/metrics.txt")"
expect "call durations: a histogram of Receive whose +Inf bucket is its count" \
	1 "$(awk '$1 ~ /^remsock_rpc_call_duration_seconds_bucket\{method="Receive",le="\+Inf"\}$/ {inf = $2}
		$1 ~ /^remsock_rpc_call_duration_seconds_count\{method="Receive"\}$/ {n = $2}
		END {print (n > 0 && inf == n)}' "$TB_DIR/metrics.txt")"
expect "TCP connections by state: the scrape's own is ESTABLISHED" 1 \
	"$(awk '$1 == "remsock_tcp_connections{state=\"ESTABLISHED\"}" {print ($2 >= 1)}' \
		"$TB_DIR/metrics.txt")"
expect "per app: the demo app's calls and RPC bytes both ways" "1 1 1" \
	"$(awk '$1 == "remsock_app_calls_total{app=\"demo\",outcome=\"ok\"}" {c = ($2 >= 10)}
		$1 == "remsock_app_rpc_received_bytes_total{app=\"demo\"}" {i = ($2 > 0)}
		$1 == "remsock_app_rpc_sent_bytes_total{app=\"demo\"}" {o = ($2 > 1048576)}
		END {print c + 0, i + 0, o + 0}' "$TB_DIR/metrics.txt")"
expect "metrics over HTTPS with a Bearer APP:SECRET and its certificate: 200" \
	200 "$(status --cacert "$TB_DIR/ca.crt" -H "Authorization: Bearer $OPS" \
		--cert "$TB_DIR/ops-app.crt" --key "$TB_DIR/ops-app.key" \
		"https://$TB_PROXY_IP:8443/metrics")"
expect "metrics over HTTPS with the operator's secret but demo's certificate: 401" \
	401 "$(status --cacert "$TB_DIR/ca.crt" -H "Authorization: Bearer $OPS" \
		--cert "$TB_DIR/demo-app.crt" --key "$TB_DIR/demo-app.key" \
		"https://$TB_PROXY_IP:8443/metrics")"

# A real Prometheus in the namespace scrapes it with basic_auth.
printf '%s' "${OPS#ops:}" >"$TB_DIR/ops.secret"
cat >"$TB_DIR/prometheus.yml" <<YML
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: remsockd
    static_configs: [{targets: ['$TB_PROXY_IP:$API_PORT']}]
    basic_auth: {username: ops, password_file: '$TB_DIR/ops.secret'}
YML
tb_ns_bg "$TB_DIR/prometheus.log" prometheus \
	--config.file="$TB_DIR/prometheus.yml" \
	--storage.tsdb.path="$TB_DIR/prometheus" \
	--web.listen-address="$TB_PEER_IP:9090"
PROM_PID=$TB_BG_PID
# The value of a PromQL query, once Prometheus has one.
prom_value() {
	tb_ns curl -s --max-time 5 "http://$TB_PEER_IP:9090/api/v1/query" \
		--data-urlencode "query=$1" 2>/dev/null |
		/usr/bin/python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")' 2>/dev/null
}
scraped() { [[ $(prom_value 'up{job="remsockd"}') == 1 ]]; }
if tb_until 60 scraped; then
	pass "Prometheus scrapes remsockd (up == 1)"
else
	fail "Prometheus scrapes remsockd (up == 1)" \
		"$(tail -5 "$TB_DIR/prometheus.log")"
fi
expect "Prometheus has remsock_http_requests_total" 1 \
	"$(prom_value 'remsock_http_requests_total >= bool 3000')"
kill "$PROM_PID" 2>/dev/null
wait "$PROM_PID" 2>/dev/null

# DPDK's telemetry: dpdk-telemetry.py runs remsockd's commands.
printf '%s\n' /remsock/stats /remsock/apps /remsock/apps,small \
	/remsock/workers /remsock/workers,0 /remsock/sockets |
	/usr/bin/python3 /usr/bin/dpdk-telemetry.py -f "$TB_TELEMETRY" \
		>"$TB_DIR/telemetry.out" 2>&1
expect "dpdk-telemetry.py: stats, apps, an app's quotas, workers, sockets" \
	"True True True True True True" \
	"$(/usr/bin/python3 - "$TB_DIR/telemetry.out" "${TB_WORKERS:-1}" <<'PY'
import json, sys
r = [list(json.loads(ln).values())[0] for ln in open(sys.argv[1])
     if ln.startswith('{')]
workers = int(sys.argv[2])
print(len(r) == 6 and r[0].get('rpc_http_requests', 0) >= 3000 and
      'rx_pkts' in r[0],
      len(r) == 6 and {'demo', 'small', 'ops'} <= set(r[1]),
      len(r) == 6 and r[2].get('quota_sockets_limit') == 2,
      len(r) == 6 and r[3].get('count') == workers and 'lcore_0' in r[3],
      len(r) == 6 and r[4].get('rx_pkts', 0) > 0,
      len(r) == 6 and 'sockets_open' in r[5])
PY
)"


# The operator's log: stamped lines by component; levels at run time.
LOG_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z remsockd: '
expect "logged at the start: remsockd's pid, address and workers" 1 \
	"$(grep -cE "${LOG_RE}service: started: pid $TB_PID, $TB_PROXY_IP on port .*, ${TB_WORKERS:-1} workers?, " \
		"$SVC_LOG")"
DEBUG_RE="${LOG_RE}auth: app ops authenticated an HTTP request"
status -u "$OPS" "$M" >/dev/null
expect "auth's debug lines are off by default" 0 "$(grep -cE "$DEBUG_RE" "$SVC_LOG")"
echo /remsock/log,auth,debug |
	/usr/bin/python3 /usr/bin/dpdk-telemetry.py -f "$TB_TELEMETRY" \
		>"$TB_DIR/log-level.out" 2>&1
status -u "$OPS" "$M" >/dev/null
if tb_until 10 grep -qE "$DEBUG_RE" "$SVC_LOG"; then
	pass "/remsock/log,auth,debug turns them on at run time"
else
	fail "/remsock/log,auth,debug turns them on at run time" \
		"$(cat "$TB_DIR/log-level.out")"
fi
# A burst of datagrams to a port nobody holds: a drop reason crossing
# 100 a second is logged (once a second, not per packet).
tb_ns /usr/bin/python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(2000):
    s.sendto(b"x", (sys.argv[1], 9))' "$TB_PROXY_IP"
DROP_RE="${LOG_RE}port: drop\.udp_no_port: [0-9]+ packets in the last second"
tb_until 10 grep -qE "$DROP_RE" "$SVC_LOG"
expect "a burst of drops is logged by reason, a line a second at most" 1 \
	"$(n=$(grep -cE "$DROP_RE" "$SVC_LOG"); echo $((n >= 1 && n <= 3)))"

svc_stop
expect "HTTP requests were counted (3000 or more)" 1 \
	"$(($(tb_counter "$SVC_LOG" rpc.http_requests) >= 3000))"
expect "two connections closed for idleness" 2 \
	"$(tb_counter "$SVC_LOG" rpc.http_idle_closed)"
grep -E '^  rpc\.' "$SVC_LOG" | sed 's/^/# remsockd:/'
finish
