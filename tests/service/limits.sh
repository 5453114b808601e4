#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# remsockd's limits end to end (tap mode): a short [service]
# auth_timeout_ms and idle_timeout_s, an [acl] that opens one port of the
# benchmark range (the built-in rule denies the rest), a pending call
# quota of 2 and a buffered bytes quota of two sockets' rings; svc_limits.py in the namespace checks each, then remsockd
# must stop with nothing left, a waiting call answered.
#
#   limits.sh REMSOCKD RS_BRIDGE SOURCE_ROOT
set -uo pipefail
REMSOCKD=$1
TB_BRIDGE=$2
SRC=$3
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/svc_lib.sh"

OPEN_PORT=8081
TB_INI_EXTRA="[tcp]
time_wait_ms = 500
close_grace_ms = 10000
[service]
idle_timeout_s = 3
auth_timeout_ms = 2000
operator = demo
[acl]
hole = allow $TB_PEER_IP/32 $OPEN_PORT
[dns]
servers = 198.18.0.9
timeout_ms = 300
tries = 1
[apps]
demo = demo-secret-not-for-production
carol = carol-secret-one-for-tests
[quotas]
pending_calls = 2
buffered_bytes = 1100000"

svc_up tap limits "$REMSOCKD"
svc_client "$TB_DIR/client.log" "$HERE/svc_limits.py" "$SRC/proto" \
	"$TB_PROXY_IP" 5757 "$TB_PEER_IP" "$OPEN_PORT"

# ---- SIGHUP: [acl], [hosts], [apps] and [quotas] again, connections kept ----
probe() {
	tb_ns /usr/bin/python3 "$HERE/svc_acl_probe.py" "$SRC/proto" \
		"$TB_PROXY_IP" 5757 "$TB_PEER_IP" "$1" 2>&1
}
expect "before the reload, $TB_PEER_IP:8082 is denied (the built-in rule)" \
	denied "$(probe 8082)"
sed -i "s/^hole = allow .*/&\nhole2 = allow $TB_PEER_IP\/32 8082/" "$TB_CONF"
expect "SIGHUP reads [acl] again" \
	"remsockd: reload: $TB_CONF: [acl] 2 rules, [hosts] 1 name, [apps] 2 (0 added, 0 changed, 0 removed), [dns] 1 server in force" \
	"$(svc_reload)"
expect "... and $TB_PEER_IP:8082 is allowed at once" allowed "$(probe 8082)"
sed -i "s/^time_wait_ms = 500/time_wait_ms = 600/" "$TB_CONF"
expect "a reload that changes [tcp] is refused, saying why" \
	"remsockd: reload refused: [tcp] changed, which only a restart applies (a reload takes [acl], [hosts], [apps], [quotas] and [dns]); the running configuration stays" \
	"$(svc_reload)"
expect "... and the [acl] in force stays" allowed "$(probe 8082)"
sed -i "s/^time_wait_ms = 600/time_wait_ms = 500/; s/^hole2 = .*/hole2 = allow nonsense/" \
	"$TB_CONF"
expect "a reload of a file that does not parse names the line" 1 \
	"$(svc_reload | grep -c "remsockd: reload: $TB_CONF:.*hole2.*the running configuration stays")"
expect "... and the [acl] in force stays" allowed "$(probe 8082)"
sed -i "s/^hole2 = .*/hole2 = allow $TB_PEER_IP\/32 8082/" "$TB_CONF"

# [apps] and [quotas]: carol's secret and quota change, dave comes, then
# goes; a connection carol made before goes on throughout.
app() {
	tb_ns /usr/bin/python3 "$HERE/svc_app_probe.py" "$SRC/proto" \
		"$TB_PROXY_IP" 5757 "$@" 2>&1
}
C1=carol-secret-one-for-tests C2=carol-secret-two-for-tests
D=dave-secret-for-the-tests
expect "before: carol holds 2 sockets (buffered_bytes), dave is unknown" \
	"sockets 2 refused" "$(app carol $C1 sockets) $(app dave $D auth)"
tb_ns_bg "$TB_DIR/hold.log" /usr/bin/python3 "$HERE/svc_app_probe.py" \
	"$SRC/proto" "$TB_PROXY_IP" 5757 carol $C1 hold "$TB_DIR/go"
tb__wait_for "$TB_DIR/hold.log" '^ready' 60 || fail "carol's connection is made"
sed -i "s/^carol = .*/carol = $C2\ndave = $D/; s/^buffered_bytes = .*/&\ncarol = sockets=3 buffered_bytes=4194304/" \
	"$TB_CONF"
expect "SIGHUP puts a new [apps] and [quotas] in force" \
	"remsockd: reload: $TB_CONF: [acl] 2 rules, [hosts] 1 name, [apps] 3 (1 added, 1 changed, 0 removed), [dns] 1 server in force" \
	"$(svc_reload)"
expect "carol's old secret is refused, the new one taken; dave is known" \
	"refused ok ok" \
	"$(app carol $C1 auth) $(app carol $C2 auth) $(app dave $D auth)"
expect "carol's new quotas hold (3 sockets, 4 MiB of rings)" "sockets 3" \
	"$(app carol $C2 sockets)"
sed -i "/^dave = /d" "$TB_CONF"
expect "an app taken out of [apps] is counted removed" \
	"remsockd: reload: $TB_CONF: [acl] 2 rules, [hosts] 1 name, [apps] 2 (0 added, 0 changed, 1 removed), [dns] 1 server in force" \
	"$(svc_reload)"
expect "... and can no longer authenticate" refused "$(app dave $D auth)"

# [dns]: from a server that is not there to dnsmasq in the namespace.
tb_ns_bg "$TB_DIR/dns.log" dnsmasq --keep-in-foreground --no-resolv \
	--no-hosts --bind-interfaces --listen-address="$TB_PEER_IP" \
	--port=53 --user=root --pid-file= --log-facility=- \
	--address=/svc.test/"$TB_PEER_IP"
tb__wait_for "$TB_DIR/dns.log" 'started' 60 || fail "dnsmasq starts"
expect "before: Resolve asks 198.18.0.9, which does not answer" 1 \
	"$(app demo demo-secret-not-for-production resolve web.svc.test |
		grep -c '^error .*no answer')"
sed -i "s/^servers = 198.18.0.9/servers = $TB_PEER_IP/" "$TB_CONF"
expect "SIGHUP puts a new [dns] in force" 1 \
	"$(svc_reload | grep -c '\[dns\] 1 server (changed) in force$')"
expect "... and Resolve asks dnsmasq at once" "$TB_PEER_IP" \
	"$(app demo demo-secret-not-for-production resolve web.svc.test)"
touch "$TB_DIR/go"
tb__wait_for "$TB_DIR/hold.log" '^still-served\|^error' 60
expect "the connection carol made before the reloads is still served" \
	still-served "$(tail -1 "$TB_DIR/hold.log")"
check "remsockd still serves (the earlier connections' sockets are its own)" \
	kill -0 "$TB_PID"

# SIGTERM answers a waiting call, rather than leave it to its deadline.
tb_ns_bg "$TB_DIR/park.log" /usr/bin/python3 "$HERE/svc_app_probe.py" \
	"$SRC/proto" "$TB_PROXY_IP" 5757 demo demo-secret-not-for-production park
tb__wait_for "$TB_DIR/park.log" '^parked' 60 || fail "a Receive waits at the proxy"
svc_stop
tb__wait_for "$TB_DIR/park.log" '^cancelled\|^error\|^lost\|^received\|^no end' 60
expect "at SIGTERM the waiting Receive is answered CANCELLED, saying why" 1 \
	"$(grep -c '^cancelled remsockd is stopping' "$TB_DIR/park.log")"
expect "... and counted (rpc.stop_answered)" 1 \
	"$(tb_counter "$SVC_LOG" rpc.stop_answered)"
# (The one descriptor left at the stop: the waiting Receive's socket.)
expect "the reaped sockets were counted, and their descriptors given back" "2 1" \
	"$(tb_counter "$SVC_LOG" rpc.reaped) $(tb_counter \
		"$SVC_LOG" rpc.descriptors_at_stop)"
# The operator's log: stamped, by component, rate-limited where a tenant
# can cause lines at will.
LOG_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z remsockd: '
expect "logged: the ACL's denial, naming the app and the rule" 1 \
	"$(($(grep -cE "${LOG_RE}acl: app demo: $TB_PEER_IP:8082 denied by built-in" \
		"$SVC_LOG") >= 1))"
expect "logged: a refused authentication (carol's old secret)" 1 \
	"$(($(grep -cE "${LOG_RE}auth: wrong secret or unknown app for app carol from $TB_PEER_IP" \
		"$SVC_LOG") >= 1))"
expect "logged: a quota refusal (pending_calls)" 1 \
	"$(($(grep -cE "${LOG_RE}quota: app demo: pending_calls quota \(2\) refused" \
		"$SVC_LOG") >= 1))"
expect "the silent connection was counted" 1 \
	"$(tb_counter "$SVC_LOG" rpc.auth_timeouts)"
finish
