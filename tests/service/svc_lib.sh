# SPDX-License-Identifier: BSD-3-Clause
# What the service test scripts share, on top of tests/integration/lib.sh
# (ok/not ok lines) and tests/testbed/testbed.sh (the test network).
#
#   svc_up MODE NAME REMSOCKD   testbed up in MODE (TB_INI_EXTRA set
#                               first), remsockd started on its config
#   svc_client LOG SCRIPT ARG...
#                               a client script in the namespace (with
#                               /usr/bin/python3: python3-protobuf); its
#                               'check NAME ok|FAIL: why' lines become
#                               results, its '# ' lines are shown, and it
#                               must run to its 'done' line and exit 0
#   svc_stop                    SIGTERM remsockd: it must exit 0 and
#                               report nothing left (connections, sockets,
#                               parked calls, entries, mbufs); SVC_LOG is
#                               its log
SVC_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$SVC_HERE/../integration/lib.sh"
. "$SVC_HERE/../testbed/testbed.sh"

# For [rpc] tls_port: in TB_DIR, a CA of the test's own (ca.crt), a
# certificate it signs for the proxy's address (tls.crt, tls.key), client
# certificates it signs for the apps named (default: demo other; CN = the
# app: APP-app.crt/.key, for [rpc] tls_client_ca), one more for demo that
# it revokes (revoked-app.crt/.key) and the CRL that says so (crl.pem,
# for [rpc] tls_client_crl), and a second CA that signs nothing the proxy
# has (other.crt); @TB_DIR@ in TB_CONF becomes TB_DIR.  Call it from
# svc_pre_start.
svc_tls_certs() {
	local d=$TB_DIR ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
	local apps=("$@")
	((${#apps[@]})) || apps=(demo other)
	openssl req -x509 "${ec[@]}" -keyout "$d/ca.key" -out "$d/ca.crt" \
		-subj /CN=remsock-test-ca -days 2 2>/dev/null &&
	openssl req -x509 "${ec[@]}" -keyout "$d/other.key" -out "$d/other.crt" \
		-subj /CN=another-ca -days 2 2>/dev/null &&
	openssl req "${ec[@]}" -keyout "$d/tls.key" -out "$d/tls.csr" \
		-subj /CN=remsockd 2>/dev/null &&
	printf 'subjectAltName=IP:%s\n' "$TB_PROXY_IP" >"$d/san.ext" &&
	openssl x509 -req -in "$d/tls.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
		-CAcreateserial -out "$d/tls.crt" -days 2 -extfile "$d/san.ext" \
		2>/dev/null &&
	for app in "${apps[@]}" revoked; do
		openssl req "${ec[@]}" -keyout "$d/$app-app.key" \
			-out "$d/$app-app.csr" \
			-subj "/CN=${app/#revoked/demo}" 2>/dev/null &&
		openssl x509 -req -in "$d/$app-app.csr" -CA "$d/ca.crt" \
			-CAkey "$d/ca.key" -CAcreateserial -out "$d/$app-app.crt" \
			-days 2 2>/dev/null || return 1
	done &&
	: >"$d/index.txt" &&
	printf '[ca]\ndefault_ca = d\n[d]\ndatabase = %s\ndefault_md = sha256\ndefault_crl_days = 2\n' \
		"$d/index.txt" >"$d/ca.cnf" &&
	openssl ca -config "$d/ca.cnf" -keyfile "$d/ca.key" -cert "$d/ca.crt" \
		-revoke "$d/revoked-app.crt" 2>/dev/null &&
	openssl ca -config "$d/ca.cnf" -keyfile "$d/ca.key" -cert "$d/ca.crt" \
		-gencrl -out "$d/crl.pem" 2>/dev/null &&
	sed -i "s#@TB_DIR@#$d#g" "$TB_CONF"
}

# svc_reload: SIGHUP, and the line remsockd logs about it (remsock.control),
# its time stamp checked and taken off: "remsockd: reload...".
RELOAD_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z remsockd: control: reload'
svc_reload() {
	local n
	n=$(grep -cE "$RELOAD_RE" "$SVC_LOG")
	kill -HUP "$TB_PID"
	for _ in $(seq 300); do
		[[ $(grep -cE "$RELOAD_RE" "$SVC_LOG") -gt $n ]] && break
		sleep 0.1
	done
	grep -E "$RELOAD_RE" "$SVC_LOG" | tail -1 |
		sed 's/^[^ ]*Z remsockd: control: /remsockd: /'
}

# A script may define svc_pre_start: run once TB_DIR and TB_CONF exist,
# before remsockd starts (files the configuration names, made there).
svc_up() {
	if ! tb_up "$1" "$2"; then
		fail "the $1 testbed comes up"
		finish
		exit 1
	fi
	if [[ $(type -t svc_pre_start) == function ]]; then
		svc_pre_start || { fail "the files remsockd needs are made"; finish; exit 1; }
	fi
	SVC_LOG=$TB_DIR/remsockd.log
	tb_start "$SVC_LOG" "$3" -c "$TB_CONF" --test-secrets ||
		{ fail "remsockd starts"; finish; exit 1; }
	pass "remsockd starts in $1 mode"
}

svc_client() {
	local log=$1 rc name
	shift
	tb_ns /usr/bin/python3 "$@" >"$log" 2>&1
	rc=$?
	while read -r _ name; do
		case $name in
		*" ok") pass "${name% ok}" ;;
		*" FAIL: "*) fail "${name%% FAIL: *}" "${name#* FAIL: }" ;;
		esac
	done < <(grep '^check ' "$log")
	grep '^# ' "$log"
	expect "the client ran to its end" "0 1" \
		"$rc $(grep -c '^done failures=' "$log")"
	[[ $rc -eq 0 ]] || sed 's/^/# client: /' "$log" | tail -20
}

svc_stop() {
	tb_stop
	expect "remsockd exits 0 at SIGTERM (nothing leaked)" 0 "$TB_RC"
	expect "no RPC connection, socket, parked call or entry left" \
		"conns_open=0 socks_open=0 waits=0 msgs_in_use=0" \
		"$(awk '$1 == "service" && $2 == "leak:" {print $3, $4, $5, $6}' \
			"$SVC_LOG")"
	expect "no mbuf left, no packet unexplained" "0 0" \
		"$(tb_counter "$SVC_LOG" mbufs_in_use_after_close) $(tb_counter \
			"$SVC_LOG" unexplained)"
	if ((${TB_WORKERS:-1} > 1)); then
		echo "# remsockd, $TB_WORKERS workers: calls forwarded" \
			"$(tb_counter "$SVC_LOG" rpc.fwd_out) (taken" \
			"$(tb_counter "$SVC_LOG" rpc.fwd_in)), packets steered" \
			"$(tb_counter "$SVC_LOG" event.steered_out)"
		expect "every call forwarded between workers was taken" \
			"$(tb_counter "$SVC_LOG" rpc.fwd_out)" \
			"$(tb_counter "$SVC_LOG" rpc.fwd_in)"
	fi
}
